"""`ssmlab doctor` against the emulator: break one thing at a time in a complete lab.

Also checks the doctor and the simulated agent agree: no error finding exactly when the
node is Online and a session could start — they share netpath, policy and registration.
"""

from __future__ import annotations

import json

import pytest

from ssmlab.build import build
from ssmlab.emulator import control
from ssmlab.emulator.agent import AGENT_START_DELAY, PING_INTERVAL
from ssmlab.lab import Lab

pytestmark = pytest.mark.emulator
REGION = "ap-northeast-1"
CORE_ARN = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"


def https(cidr="10.0.0.0/16"):
    return [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": cidr}]}]


def _disassociate(lab, r):
    ec2 = lab.client("ec2")
    association = ec2.describe_iam_instance_profile_associations(
        Filters=[{"Name": "instance-id", "Values": [r["instance"].instance_id]}]
    )["IamInstanceProfileAssociations"][0]["AssociationId"]
    ec2.disassociate_iam_instance_profile(AssociationId=association)


BREAKAGES = {
    "ssm endpoint deleted": (lambda lab, r: lab.client("ec2").delete_vpc_endpoints(
        VpcEndpointIds=[r["endpoints"].get("ssm").endpoint_id]), "ENDPOINT_MISSING"),
    "private DNS off": (lambda lab, r: lab.client("ec2").modify_vpc_endpoint(
        VpcEndpointId=r["endpoints"].get("ssm").endpoint_id, PrivateDnsEnabled=False), "ENDPOINT_PRIVATE_DNS_DISABLED"),
    "VPC DNS hostnames off": (lambda lab, r: lab.client("ec2").modify_vpc_attribute(
        VpcId=r["network"].vpc_id, EnableDnsHostnames={"Value": False}), "VPC_DNS_HOSTNAMES_DISABLED"),
    "endpoint SG without ingress": (lambda lab, r: lab.client("ec2").revoke_security_group_ingress(
        GroupId=r["security-groups"].endpoint_sg_id, IpPermissions=https()), "ENDPOINT_SG_BLOCKS_HTTPS"),
    "instance SG egress revoked": (lambda lab, r: lab.client("ec2").revoke_security_group_egress(
        GroupId=r["security-groups"].instance_sg_id, IpPermissions=https()), "INSTANCE_SG_BLOCKS_HTTPS"),
    "profile removed": (_disassociate, "NO_INSTANCE_PROFILE"),
    "core policy detached": (lambda lab, r: lab.client("iam").detach_role_policy(
        RoleName=r["iam"].role_name, PolicyArn=CORE_ARN), "ROLE_MISSING_SSM_PERMISSIONS"),
    "IMDS disabled": (lambda lab, r: lab.client("ec2").modify_instance_metadata_options(
        InstanceId=r["instance"].instance_id, HttpEndpoint="disabled"), "IMDS_DISABLED"),
    "instance stopped": (lambda lab, r: lab.client("ec2").stop_instances(
        InstanceIds=[r["instance"].instance_id]), "INSTANCE_NOT_RUNNING"),
    "ssmmessages deleted after registration": (lambda lab, r: lab.client("ec2").delete_vpc_endpoints(
        VpcEndpointIds=[r["endpoints"].get("ssmmessages").endpoint_id]), "ENDPOINT_MISSING"),
}


def doctor(emulator, lab: Lab, *args: str) -> tuple[int, dict]:
    result = emulator.cli("doctor", *args, "--region", REGION, "--json")
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, json.loads(result.stdout)


def errors(report: dict) -> set[str]:
    return {f["code"] for f in report["findings"] if f["severity"] == "error"}


def online_and_connected(lab: Lab, instance_id: str) -> bool:
    ssm = lab.client("ssm")
    nodes = ssm.describe_instance_information(Filters=[{"Key": "InstanceIds", "Values": [instance_id]}])
    online = any(n["PingStatus"] == "Online" for n in nodes["InstanceInformationList"])
    return online and ssm.get_connection_status(Target=instance_id)["Status"] == "connected"


def test_a_complete_lab_is_all_green(emulator):
    lab = Lab("dr-complete", REGION, "emulator")
    results = build(lab).results
    control.advance_clock(lab, AGENT_START_DELAY + 5)
    code, report = doctor(emulator, lab, "--lab", lab.name)
    assert code == 0 and report["ok"] is True and report["managed"] is True
    assert errors(report) == set()
    assert report["instance_id"] == results["instance"].instance_id
    human = emulator.cli("doctor", "--instance-id", results["instance"].instance_id, "--region", REGION)
    assert human.returncode == 0
    for hop in ("dns", "instance-sg-egress", "endpoint-sg-ingress", "endpoint-state"):
        assert f"ok  {hop}" in human.stdout
    assert "IAM checked with" in human.stdout and "Not visible to the doctor" in human.stdout


# End to end over HTTP: one breakage of the network, one of IAM, one that leaves the node managed but
# without sessions. Every other breakage's code is proven on hand-built states (test_doctor.py,
# test_registration.py), and that the reader sees each of them in test_inventory.py.
END_TO_END = ("endpoint SG without ingress", "profile removed", "ssmmessages deleted after registration")


@pytest.mark.parametrize("case", END_TO_END)
def test_one_breakage_one_code_and_the_agent_agrees(emulator, case):
    breakage, expected = BREAKAGES[case]
    lab = Lab(f"dr-{list(BREAKAGES).index(case)}", REGION, "emulator")
    results = build(lab).results
    instance_id = results["instance"].instance_id
    control.advance_clock(lab, AGENT_START_DELAY + 5)
    assert online_and_connected(lab, instance_id)

    breakage(lab, results)
    code, report = doctor(emulator, lab, "--instance-id", instance_id)
    assert code == 1 and errors(report) == {expected}, report["findings"]
    if case == "ssmmessages deleted after registration":
        assert report["managed"] is True  # still a managed node, yet sessions fail
        assert next(f for f in report["findings"] if f["code"] == expected)["resource"] == "ssmmessages"

    control.advance_clock(lab, PING_INTERVAL + 5)  # the agent pings with the breakage in place
    _, after = doctor(emulator, lab, "--instance-id", instance_id)
    assert after["ok"] == online_and_connected(lab, instance_id) is False


def test_a_repaired_lab_is_green_again_for_both(emulator):
    lab = Lab("dr-repair", REGION, "emulator")
    results = build(lab).results
    instance_id = results["instance"].instance_id
    control.advance_clock(lab, AGENT_START_DELAY + 5)
    BREAKAGES["endpoint SG without ingress"][0](lab, results)
    control.advance_clock(lab, PING_INTERVAL + 5)
    assert not online_and_connected(lab, instance_id)
    build(lab)
    control.advance_clock(lab, PING_INTERVAL + 5)
    code, report = doctor(emulator, lab, "--instance-id", instance_id)
    assert code == 0 and report["ok"] and online_and_connected(lab, instance_id)


def test_bad_input_and_unknown_instance(emulator):
    bad = emulator.cli("doctor", "--instance-id", "web-server-1", "--region", REGION)
    assert bad.returncode == 2 and "invalid instance id 'web-server-1'" in bad.stderr
    both = emulator.cli("doctor", "--instance-id", "i-0123456789abcdef0", "--lab", "x")
    assert both.returncode == 2
    code, report = doctor(emulator, Lab("x", REGION, "emulator"), "--instance-id", "i-0123456789abcdef0")
    assert code == 1 and errors(report) == {"INSTANCE_NOT_FOUND"}


def test_the_doctor_makes_as_many_calls_for_ten_instances_as_for_one(emulator):
    from collections import Counter

    from ssmlab.checkup import checkup

    lab = Lab("dr-calls", REGION, "emulator")
    results = build(lab).results
    control.advance_clock(lab, AGENT_START_DELAY + 5)
    calls: Counter = Counter()
    for service in ("ec2", "iam", "ssm"):
        lab.client(service).meta.events.register("before-call", lambda model, **_: calls.update([model.name]))
    checkup(lab)  # warm the managed-policy cache
    calls.clear()
    assert len(checkup(lab)) == 1
    one = sum(calls.values())

    ec2 = lab.client("ec2")
    for _ in range(9):  # one at a time: moto 5.2.5 attaches the profile to the first of a batch only
        ec2.run_instances(
            ImageId=results["instance"].image_id, MinCount=1, MaxCount=1, SubnetId=results["network"].subnet_ids[0],
            SecurityGroupIds=[results["security-groups"].instance_sg_id],
            IamInstanceProfile={"Arn": results["iam"].profile_arn},
            TagSpecifications=lab.tag_specifications("instance", "extra"),
        )
    control.advance_clock(lab, AGENT_START_DELAY + 5)
    calls.clear()
    diagnoses = checkup(lab)
    assert len(diagnoses) == 10 and all(d.ok for d in diagnoses)
    assert sum(calls.values()) == one, calls
