"""Every fix works as written: for each breakage the doctor knows, `ssmlab doctor --fix` runs the finding's AWS
CLI commands (the AWS CLI from PyPI, against the emulator, exactly the argv the doctor prints) and the finding is
gone. One lab per group, broken and repaired in turn, so later breakages also meet what earlier fixes made."""

from __future__ import annotations

import json

import pytest

from ssmlab import repair
from ssmlab.build import BuildOptions, build
from ssmlab.checkup import checkup
from ssmlab.emulator import control
from ssmlab.emulator.agent import AGENT_START_DELAY, PING_INTERVAL
from ssmlab.lab import Lab
from ssmlab.steps import breakage

pytestmark = pytest.mark.emulator
REGION = "ap-northeast-1"
CORE_ARN = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
HTTPS = [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "10.0.0.0/16"}]}]


def _endpoint_id(lab: Lab, service: str) -> str:
    found = lab.client("ec2").describe_vpc_endpoints(Filters=[
        {"Name": "vpc-id", "Values": [_vpc(lab)]}, {"Name": "service-name", "Values": [f"com.amazonaws.{REGION}.{service}"]},
        {"Name": "vpc-endpoint-state", "Values": ["available", "pending"]}])["VpcEndpoints"]
    return found[0]["VpcEndpointId"]


def _vpc(lab: Lab) -> str:
    return lab.client("ec2").describe_vpcs(Filters=[lab.tag_filter])["Vpcs"][0]["VpcId"]


def _group(lab: Lab, role: str) -> str:
    return lab.client("ec2").describe_security_groups(Filters=[
        lab.tag_filter, {"Name": "group-name", "Values": [f"{lab.name}-{role}"]}])["SecurityGroups"][0]["GroupId"]


def _key(lab: Lab) -> str:
    """The session key's id (DisableKey and ScheduleKeyDeletion take no alias)."""
    return lab.client("kms").describe_key(KeyId=f"alias/ssmlab-{lab.name}-sessions")["KeyMetadata"]["KeyId"]


def _disassociate(lab: Lab, iid: str) -> None:
    ec2 = lab.client("ec2")
    association = ec2.describe_iam_instance_profile_associations(
        Filters=[{"Name": "instance-id", "Values": [iid]}])["IamInstanceProfileAssociations"][0]["AssociationId"]
    ec2.disassociate_iam_instance_profile(AssociationId=association)


def _nacl_denies_replies(lab: Lab, iid: str) -> str:
    """A second instance in a subnet of its own (the NACL is evaluated only between subnets), whose network ACL
    denies the endpoints' replies by a rule below the default allow — the fix must out-rank it, not add rule 100.
    Neither carries the lab's tag: they are the learner's own, beside the lab (the build keeps to its own subnets)."""
    ec2 = lab.client("ec2")
    first = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
    subnet = ec2.create_subnet(VpcId=first["VpcId"], CidrBlock="10.0.200.0/24",
                               AvailabilityZone=first["Placement"]["AvailabilityZone"],
                               TagSpecifications=[{"ResourceType": "subnet", "Tags": [{"Key": "Name", "Value": "far"}]}])["Subnet"]
    second = ec2.run_instances(
        ImageId=first["ImageId"], InstanceType=first["InstanceType"], MinCount=1, MaxCount=1,
        SubnetId=subnet["SubnetId"], SecurityGroupIds=[g["GroupId"] for g in first["SecurityGroups"]],
        IamInstanceProfile={"Arn": first["IamInstanceProfile"]["Arn"]},
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "far"}]}],
    )["Instances"][0]["InstanceId"]
    acl = ec2.describe_network_acls(Filters=[{"Name": "association.subnet-id", "Values": [subnet["SubnetId"]]}])
    ec2.create_network_acl_entry(NetworkAclId=acl["NetworkAcls"][0]["NetworkAclId"], RuleNumber=90, Protocol="6",
                                 RuleAction="deny", Egress=False, CidrBlock="10.0.0.0/16",
                                 PortRange={"From": 1024, "To": 65535})
    return second


# (name, breakage(lab, instance id) -> the instance to diagnose or None for the same, the code it causes)
NETWORK = [
    ("ssm endpoint deleted", lambda lab, iid: lab.client("ec2").delete_vpc_endpoints(
        VpcEndpointIds=[_endpoint_id(lab, "ssm")]), "ENDPOINT_MISSING"),
    ("private DNS off", lambda lab, iid: lab.client("ec2").modify_vpc_endpoint(
        VpcEndpointId=_endpoint_id(lab, "ssmmessages"), PrivateDnsEnabled=False), "ENDPOINT_PRIVATE_DNS_DISABLED"),
    ("VPC DNS hostnames off", lambda lab, iid: lab.client("ec2").modify_vpc_attribute(
        VpcId=_vpc(lab), EnableDnsHostnames={"Value": False}), "VPC_DNS_HOSTNAMES_DISABLED"),
    ("VPC DNS support off", lambda lab, iid: lab.client("ec2").modify_vpc_attribute(
        VpcId=_vpc(lab), EnableDnsSupport={"Value": False}), "VPC_DNS_SUPPORT_DISABLED"),
    ("endpoint SG without ingress", lambda lab, iid: breakage.remove_endpoint_ingress(lab), "ENDPOINT_SG_BLOCKS_HTTPS"),
    ("instance SG egress revoked", lambda lab, iid: lab.client("ec2").revoke_security_group_egress(
        GroupId=_group(lab, "instance"), IpPermissions=HTTPS), "INSTANCE_SG_BLOCKS_HTTPS"),
    ("a NACL denies the replies", _nacl_denies_replies, "NACL_BLOCKS_HTTPS"),
]
INSTANCE = [
    ("IMDS disabled", lambda lab, iid: lab.client("ec2").modify_instance_metadata_options(
        InstanceId=iid, HttpEndpoint="disabled"), "IMDS_DISABLED"),
    ("profile removed", _disassociate, "NO_INSTANCE_PROFILE"),
    ("core policy detached", lambda lab, iid: lab.client("iam").detach_role_policy(
        RoleName=lab.iam_name("ssm-instance-role"), PolicyArn=CORE_ARN), "ROLE_MISSING_SSM_PERMISSIONS"),
    ("role trusts another service", lambda lab, iid: lab.client("iam").update_assume_role_policy(
        RoleName=lab.iam_name("ssm-instance-role"), PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})),
     "ROLE_TRUST_MISSING_EC2"),
    ("instance stopped", lambda lab, iid: lab.client("ec2").stop_instances(InstanceIds=[iid]), "INSTANCE_NOT_RUNNING"),
    # the endpoints come back, and the agent, hibernating since it booted without them, needs the reboot that
    # REBOOT_RECOMMENDED (a second round of fixes) gives: the lab ends Online only if both ran
    ("launched before its endpoints", lambda lab, iid: breakage.launch_before_endpoints(lab), "ENDPOINT_MISSING"),
]
SESSION = [
    ("logs endpoint deleted", lambda lab, iid: lab.client("ec2").delete_vpc_endpoints(
        VpcEndpointIds=[_endpoint_id(lab, "logs")]), "SESSION_LOGGING_UNREACHABLE"),
    ("role may not write the transcript", lambda lab, iid: lab.client("iam").delete_role_policy(
        RoleName=lab.iam_name("ssm-instance-role"), PolicyName=lab.iam_name("session-logging")),
     "SESSION_LOGGING_UNREACHABLE"),
    ("kms endpoint deleted", lambda lab, iid: lab.client("ec2").delete_vpc_endpoints(
        VpcEndpointIds=[_endpoint_id(lab, "kms")]), "KMS_ENDPOINT_UNREACHABLE"),
    ("session key disabled", lambda lab, iid: lab.client("kms").disable_key(KeyId=_key(lab)), "KMS_KEY_NOT_USABLE"),
    ("session key scheduled for deletion", lambda lab, iid: lab.client("kms").schedule_key_deletion(
        KeyId=_key(lab), PendingWindowInDays=7), "KMS_KEY_NOT_USABLE"),
]


def _aws_cli_here(lab: Lab, command: tuple[str, ...], env: dict[str, str] | None = None) -> repair.Applied:
    """`repair.run` with the same AWS CLI (its driver: argv parsing, botocore's request) in this process rather
    than a Python start-up per command: about 0.7 s of CPU each, some 30 commands in these tests. The subprocess
    path itself is what `test_doctor_fix_shows_the_nacl_fix...` runs, through `ssmlab doctor --fix`."""
    import contextlib
    import io
    import os

    from awscli.clidriver import create_clidriver

    assert command and command[0] == "aws", command
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        for key in [k for k in os.environ if k.startswith("AWS_") and k != "AWS_DATA_PATH"]:  # awscli's own data
            patch.delenv(key)
        for key, value in (env or repair.environment(lab)).items():
            patch.setenv(key, value)
        code = create_clidriver().main(list(command[1:]))
    return repair.Applied(command, code, out.getvalue().strip())


def _repair_each(lab: Lab, instance_id: str, cases: list) -> None:
    """Break, repair with the doctor's own commands (`repair.repair`, as `doctor --fix --yes` does), check."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(repair, "run", _aws_cli_here)
        _break_and_repair(lab, instance_id, cases)


def _break_and_repair(lab: Lab, instance_id: str, cases: list) -> None:
    for name, breakage_of, code in cases:
        target = breakage_of(lab, instance_id)
        diagnosed = target if isinstance(target, str) and target.startswith("i-") else instance_id
        outcome = repair.repair(lab, diagnosed, confirm=lambda commands: True)
        found = [f for d in outcome.before for f in d.findings if f.code == code]
        assert found and all(f.fix.commands for f in found), (name, outcome.before[0].findings)
        ran = [" ".join(a.command[:3]) for a in outcome.applied]
        assert outcome.applied and all(a.ok for a in outcome.applied), (name, outcome.applied)
        (after,) = outcome.after
        assert code not in after.codes(), (name, ran, after.findings)
        if not after.ok:  # a started instance's agent reports at its next health check (every 5 minutes)
            control.advance_clock(lab, PING_INTERVAL + 5)
            (after,) = checkup(lab, diagnosed)
        assert after.ok, (name, ran, after.findings)


def _lab(name: str, *options: str) -> tuple[Lab, str]:
    lab = Lab(name, REGION, "emulator")
    options_ = BuildOptions(session_logging=("cloudwatch",) if "logging" in options else (),
                            session_encryption="encryption" in options)
    instance_id = build(lab, options_).results["instance"].instance_id
    control.advance_clock(lab, AGENT_START_DELAY + 5)
    return lab, instance_id


def test_every_network_fix_works_as_written(emulator):
    lab, instance_id = _lab("fx-net")
    _repair_each(lab, instance_id, NETWORK)
    # what the fixes made carries the lab's tag: the next build adopts it (nothing twice), the cleanup removes it
    assert build(lab).created == ()


def test_every_instance_and_iam_fix_works_as_written(emulator):
    lab, instance_id = _lab("fx-iam")
    _repair_each(lab, instance_id, INSTANCE)


def test_every_session_logging_and_kms_fix_works_as_written(emulator):
    lab, instance_id = _lab("fx-ses", "logging", "encryption")
    _repair_each(lab, instance_id, SESSION)


def test_doctor_fix_shows_the_nacl_fix_out_ranking_the_deny_and_applies_it(emulator):
    lab, instance_id = _lab("fx-acl")
    far = _nacl_denies_replies(lab, instance_id)
    before = json.loads(emulator.cli("doctor", "--instance-id", far, "--region", REGION, "--json").stdout)
    (finding,) = [f for f in before["findings"] if f["code"] == "NACL_BLOCKS_HTTPS"]
    (command,) = finding["commands"]  # not rule 100, which the ACL has, and not after the deny
    assert command[:3] == ["aws", "ec2", "create-network-acl-entry"] and "--ingress" in command
    assert command[command.index("--rule-number") + 1] == "89" and "rule 90 denies it" in finding["why"]

    declined = repair.repair(lab, far, confirm=lambda commands: False)  # a person said no: nothing runs
    assert declined.declined and declined.applied == [] and "NACL_BLOCKS_HTTPS" in declined.after[0].codes()

    shown = emulator.cli("doctor", "--instance-id", far, "--region", REGION, "--fix")
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert f"  $ {finding['fix'].split(' (')[0]}" in shown.stdout  # the command shown is the one printed as the fix
    assert "ok (exit 0): aws ec2 create-network-acl-entry" in shown.stdout, shown.stdout[-3000:]
    again = json.loads(emulator.cli("doctor", "--instance-id", far, "--region", REGION, "--json").stdout)
    assert again["ok"] and "NACL_BLOCKS_HTTPS" not in [f["code"] for f in again["findings"]]


def test_doctor_fix_asks_on_a_real_account_only_and_yes_answers_it():
    assert not repair.asks(Lab("x", REGION, "emulator"), yes=False)
    assert repair.asks(Lab("x", REGION, "aws"), yes=False) and not repair.asks(Lab("x", REGION, "aws"), yes=True)
