"""The whole build, over HTTP against the emulator process, as `ssmlab build` and as a library.

What is checked is read back with plain boto3 describe calls, independently of ssmlab's
own inventory, so a mistake in the reader cannot hide a mistake in the steps.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time

import boto3
import pytest

from ssmlab.build import STEPS, BuildOptions, build, interface_endpoints, steps_to_run
from ssmlab.emulator import control
from ssmlab.lab import TAG_KEY, Lab

pytestmark = pytest.mark.emulator
REGION = "ap-northeast-1"
# Session Manager preferences are one document per account and region: the labs that set up
# session logging live in a region of their own, so the other labs' sessions are unaffected.
LOGGING_REGION = "eu-west-1"


def client(emulator, service: str, region: str = REGION):
    return boto3.client(
        service,
        region_name=region,
        endpoint_url=emulator.endpoint_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def tagged(emulator, lab: str, region: str = REGION) -> dict[str, list[str]]:
    """Every resource kind the build creates, with the ids that carry the lab's tag."""
    ec2 = client(emulator, "ec2", region)
    by_tag = [{"Name": f"tag:{TAG_KEY}", "Values": [lab]}]
    iam = client(emulator, "iam")
    roles = [r["RoleName"] for r in iam.list_roles(PathPrefix="/ssmlab/")["Roles"] if r["RoleName"].startswith(f"{lab}-")]
    profiles = [
        p["InstanceProfileName"]
        for p in iam.list_instance_profiles(PathPrefix="/ssmlab/")["InstanceProfiles"]
        if p["InstanceProfileName"].startswith(f"{lab}-")
    ]
    return {
        "vpcs": [v["VpcId"] for v in ec2.describe_vpcs(Filters=by_tag)["Vpcs"]],
        "subnets": [s["SubnetId"] for s in ec2.describe_subnets(Filters=by_tag)["Subnets"]],
        "route_tables": [t["RouteTableId"] for t in ec2.describe_route_tables(Filters=by_tag)["RouteTables"]],
        "security_groups": [g["GroupId"] for g in ec2.describe_security_groups(Filters=by_tag)["SecurityGroups"]],
        "endpoints": [
            e["VpcEndpointId"]
            for e in ec2.describe_vpc_endpoints(Filters=by_tag)["VpcEndpoints"]
            if e["State"].lower() not in ("deleted", "deleting")
        ],
        "instances": [
            i["InstanceId"]
            for r in ec2.describe_instances(
                Filters=by_tag + [{"Name": "instance-state-name", "Values": ["pending", "running", "stopped"]}]
            )["Reservations"]
            for i in r["Instances"]
        ],
        "roles": roles,
        "instance_profiles": profiles,
    }


def all_vpcs_and_roles(emulator, region: str = REGION) -> tuple[int, int]:
    vpcs = len(client(emulator, "ec2", region).describe_vpcs()["Vpcs"])
    roles = len(client(emulator, "iam").list_roles()["Roles"])
    return vpcs, roles


@pytest.fixture(scope="module")
def core(emulator):
    """A lab built through the library with the default options (no session logging)."""
    lab = Lab("e2e-core", REGION, "emulator")
    result = build(lab)
    return lab, result


# -- the build as a learner runs it -----------------------------------------------------


def test_cli_build_prints_a_line_per_step_then_the_summary_and_a_rebuild_creates_nothing(emulator):
    first = emulator.cli("build", "--lab", "e2e-cli", "--region", LOGGING_REGION, "--session-logging")
    assert first.returncode == 0, first.stderr
    progress = [line for line in first.stdout.splitlines() if re.match(r"\[\d/6\]", line)]
    assert [line.split()[1] for line in progress] == [s for s in STEPS if s != "session-encryption"]
    assert all("created" in line for line in progress)
    assert "on the embedded emulator" in first.stdout
    for step in [s for s in STEPS if s != "session-encryption"]:  # not asked for: not built, not listed
        assert re.search(rf"ok\s+{step}\s+complete", first.stdout), step
    before = tagged(emulator, "e2e-cli", LOGGING_REGION)
    assert {k: len(v) for k, v in before.items()} == {
        "vpcs": 1,
        "subnets": 1,
        "route_tables": 1,
        "security_groups": 2,
        "endpoints": 4,  # ssm, ssmmessages, logs (interface) and s3 (gateway): no ec2messages unless asked for
        "instances": 1,
        "roles": 1,
        "instance_profiles": 1,
    }

    control.clear_calls(Lab("e2e-cli", LOGGING_REGION, "emulator"))
    second = emulator.cli("build", "--lab", "e2e-cli", "--region", LOGGING_REGION, "--session-logging")
    assert second.returncode == 0, second.stderr
    assert "0 resource(s) created (everything was already there)" in second.stdout
    assert second.stdout.count("already there") >= len(STEPS) - 1
    assert tagged(emulator, "e2e-cli", LOGGING_REGION) == before
    # and nothing was written: every setting was read and found as wanted (the bucket's encryption too)
    calls = control.calls(Lab("e2e-cli", LOGGING_REGION, "emulator"))["calls"]
    assert [c["action"] for c in calls if not c["action"].startswith(("Describe", "Get", "List", "Head"))] == []


def test_library_rebuild_creates_nothing(emulator, core):
    lab, first = core
    assert first.created
    before = tagged(emulator, lab.name)
    again = build(lab)
    assert again.created == ()
    assert tagged(emulator, lab.name) == before


# -- what was built ---------------------------------------------------------------------


def test_network_is_private_with_dns_on(emulator, core):
    lab, result = core
    ec2 = client(emulator, "ec2")
    vpc_id = result.results["network"].vpc_id
    vpc = ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0]
    assert vpc["CidrBlock"] == "10.0.0.0/16"
    assert ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute="enableDnsSupport")["EnableDnsSupport"]["Value"]
    assert ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute="enableDnsHostnames")["EnableDnsHostnames"]["Value"]
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]
    assert [(s["CidrBlock"], s["MapPublicIpOnLaunch"]) for s in subnets] == [("10.0.0.0/24", False)]
    table = ec2.describe_route_tables(RouteTableIds=[result.results["network"].route_table_id])["RouteTables"][0]
    assert [(r.get("DestinationCidrBlock"), r.get("GatewayId")) for r in table["Routes"]] == [("10.0.0.0/16", "local")]
    assert {a["SubnetId"] for a in table["Associations"] if a.get("SubnetId")} == {subnets[0]["SubnetId"]}
    igws = ec2.describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [vpc_id]}])
    assert igws["InternetGateways"] == []
    nats = ec2.describe_nat_gateways(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
    assert nats["NatGateways"] == []


def _permissions(group):
    """(protocol, from, to, cidrs, prefix lists, source groups) per rule, comparable as a set."""
    return {
        (
            p["IpProtocol"],
            p.get("FromPort"),
            p.get("ToPort"),
            tuple(r["CidrIp"] for r in p.get("IpRanges", [])),
            tuple(r["PrefixListId"] for r in p.get("PrefixListIds", [])),
            tuple(r["GroupId"] for r in p.get("UserIdGroupPairs", [])),
        )
        for p in group
    }


def test_security_group_rules_are_exactly_the_lab_rules(emulator, core):
    _, result = core
    groups = result.results["security-groups"]
    ec2 = client(emulator, "ec2")
    endpoint_sg, instance_sg = (
        ec2.describe_security_groups(GroupIds=[g])["SecurityGroups"][0] for g in (groups.endpoint_sg_id, groups.instance_sg_id)
    )
    https_vpc = {("tcp", 443, 443, ("10.0.0.0/16",), (), ())}
    assert _permissions(endpoint_sg["IpPermissions"]) == https_vpc
    assert _permissions(endpoint_sg["IpPermissionsEgress"]) == set()
    assert _permissions(instance_sg["IpPermissions"]) == set()
    assert _permissions(instance_sg["IpPermissionsEgress"]) == https_vpc


def test_endpoints_are_interface_endpoints_with_private_dns_in_the_lab_subnet(emulator, core):
    _, result = core
    ec2 = client(emulator, "ec2")
    ids = [e.endpoint_id for e in result.results["endpoints"].endpoints]
    endpoints = ec2.describe_vpc_endpoints(VpcEndpointIds=ids)["VpcEndpoints"]
    assert sorted(e["ServiceName"] for e in endpoints) == [  # two since ec2messages' retirement (FACTS.md)
        f"com.amazonaws.{REGION}.ssm",
        f"com.amazonaws.{REGION}.ssmmessages",
    ]
    for endpoint in endpoints:
        assert endpoint["VpcEndpointType"] == "Interface"
        assert endpoint["PrivateDnsEnabled"] is True
        assert endpoint["State"].lower() == "available"
        assert endpoint["SubnetIds"] == list(result.results["network"].subnet_ids)
        assert [g["GroupId"] for g in endpoint["Groups"]] == [result.results["security-groups"].endpoint_sg_id]


def test_role_trusts_ec2_has_the_core_policy_and_sits_in_the_profile(emulator, core):
    lab, _ = core
    iam = client(emulator, "iam")
    role = iam.get_role(RoleName=f"{lab.name}-ssm-instance-role")["Role"]
    trust = role["AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    assert trust["Statement"][0]["Principal"] == {"Service": "ec2.amazonaws.com"}
    attached = iam.list_attached_role_policies(RoleName=role["RoleName"])["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == ["arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"]
    profile = iam.get_instance_profile(InstanceProfileName=f"{lab.name}-ssm-instance-profile")["InstanceProfile"]
    assert [r["RoleName"] for r in profile["Roles"]] == [role["RoleName"]]
    assert {"Key": TAG_KEY, "Value": lab.name} in role["Tags"]
    assert {"Key": TAG_KEY, "Value": lab.name} in profile["Tags"]


def test_instance_is_private_imdsv2_encrypted_and_has_the_profile(emulator, core):
    lab, result = core
    ec2 = client(emulator, "ec2")
    instance = ec2.describe_instances(InstanceIds=[result.results["instance"].instance_id])["Reservations"][0][
        "Instances"
    ][0]
    assert instance["State"]["Name"] == "running"
    assert "PublicIpAddress" not in instance
    assert instance["MetadataOptions"]["HttpTokens"] == "required"
    assert instance["MetadataOptions"]["HttpEndpoint"] == "enabled"
    assert instance["IamInstanceProfile"]["Arn"] == result.results["iam"].profile_arn
    assert instance["SubnetId"] == result.results["network"].subnet_ids[0]
    assert [g["GroupId"] for g in instance["SecurityGroups"]] == [result.results["security-groups"].instance_sg_id]
    assert instance["InstanceType"] == "t3.micro"
    parameter = client(emulator, "ssm").get_parameter(
        Name="/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
    )
    assert instance["ImageId"] == parameter["Parameter"]["Value"]
    volume_ids = [m["Ebs"]["VolumeId"] for m in instance["BlockDeviceMappings"]]
    volumes = ec2.describe_volumes(VolumeIds=volume_ids)["Volumes"]
    assert volumes and all(v["Encrypted"] for v in volumes)


def test_everything_in_the_lab_vpc_that_the_kit_made_is_tagged(emulator, core):
    lab, result = core
    ec2 = client(emulator, "ec2")
    vpc = [{"Name": "vpc-id", "Values": [result.results["network"].vpc_id]}]
    resources = (
        ec2.describe_vpcs(VpcIds=[result.results["network"].vpc_id])["Vpcs"]
        + ec2.describe_subnets(Filters=vpc)["Subnets"]
        # AWS makes the main route table and the default group with the VPC; they go with it.
        + [t for t in ec2.describe_route_tables(Filters=vpc)["RouteTables"] if not any(a.get("Main") for a in t["Associations"])]
        + [g for g in ec2.describe_security_groups(Filters=vpc)["SecurityGroups"] if g["GroupName"] != "default"]
        + ec2.describe_vpc_endpoints(Filters=vpc)["VpcEndpoints"]
        + [i for r in ec2.describe_instances(Filters=vpc)["Reservations"] for i in r["Instances"]]
        + ec2.describe_volumes(
            Filters=[{"Name": "attachment.instance-id", "Values": [result.results["instance"].instance_id]}]
        )["Volumes"]
    )
    assert len(resources) >= 9
    for resource in resources:
        tags = {t["Key"]: t["Value"] for t in resource.get("Tags", [])}
        assert tags.get(TAG_KEY) == lab.name, resource
        assert tags.get("Name", "").startswith(f"{lab.name}-"), resource


def test_session_logging_resources(emulator):
    result = emulator.cli("build", "--lab", "e2e-logs", "--region", LOGGING_REGION, "--until", "session-logging")
    assert result.returncode == 0, result.stderr
    s3 = client(emulator, "s3", LOGGING_REGION)
    bucket = f"ssmlab-e2e-logs-123456789012-{LOGGING_REGION}"
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert all(s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"].values())
    groups = client(emulator, "logs", LOGGING_REGION).describe_log_groups(logGroupNamePrefix="/ssmlab/e2e-logs/")["logGroups"]
    assert [g["logGroupName"] for g in groups] == ["/ssmlab/e2e-logs/sessions"]
    document = client(emulator, "ssm", LOGGING_REGION).get_document(Name="SSM-SessionManagerRunShell", DocumentFormat="JSON")
    inputs = json.loads(document["Content"])["inputs"]
    assert (inputs["s3BucketName"], inputs["cloudWatchLogGroupName"]) == (bucket, "/ssmlab/e2e-logs/sessions")
    ec2 = client(emulator, "ec2", LOGGING_REGION)
    endpoints = ec2.describe_vpc_endpoints(Filters=[{"Name": f"tag:{TAG_KEY}", "Values": ["e2e-logs"]}])["VpcEndpoints"]
    kinds = {(e["ServiceName"].rsplit(".", 1)[-1], e["VpcEndpointType"]) for e in endpoints}
    assert {("logs", "Interface"), ("s3", "Gateway")} <= kinds
    policy = client(emulator, "iam").get_role_policy(
        RoleName="e2e-logs-ssm-instance-role", PolicyName="e2e-logs-session-logging"
    )["PolicyDocument"]
    actions = {a for s in policy["Statement"] for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert {"logs:PutLogEvents", "s3:PutObject"} <= actions


# -- --until stops where asked ----------------------------------------------------------

EXPECTED_AFTER = {
    "network": {"vpcs", "subnets", "route_tables"},
    "security-groups": {"vpcs", "subnets", "route_tables", "security_groups"},
    "endpoints": {"vpcs", "subnets", "route_tables", "security_groups", "endpoints"},
    "iam": {"vpcs", "subnets", "route_tables", "security_groups", "endpoints", "roles", "instance_profiles"},
    "instance": {"vpcs", "subnets", "route_tables", "security_groups", "endpoints", "roles", "instance_profiles", "instances"},
}


@pytest.mark.parametrize("step", list(EXPECTED_AFTER))
def test_until_stops_after_the_named_step(emulator, step):
    name = f"e2e-until-{STEPS.index(step)}"
    result = emulator.cli("build", "--lab", name, "--region", REGION, "--until", step)
    assert result.returncode == 0, result.stderr
    assert re.search(rf"ok\s+{step}\s+complete", result.stdout)
    present = {kind for kind, ids in tagged(emulator, name).items() if ids}
    assert present == EXPECTED_AFTER[step]


# -- converging after a learner broke something ------------------------------------------


def test_rebuild_repairs_dns_private_dns_and_a_stopped_instance(emulator):
    lab = Lab("e2e-repair", REGION, "emulator")
    first = build(lab)
    ec2 = client(emulator, "ec2")
    vpc_id = first.results["network"].vpc_id
    ssm_endpoint = first.results["endpoints"].get("ssm").endpoint_id
    instance_id = first.results["instance"].instance_id
    ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": False})
    ec2.modify_vpc_endpoint(VpcEndpointId=ssm_endpoint, PrivateDnsEnabled=False)
    ec2.stop_instances(InstanceIds=[instance_id])

    again = build(lab)
    assert again.created == ()
    assert ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute="enableDnsHostnames")["EnableDnsHostnames"]["Value"]
    assert ec2.describe_vpc_endpoints(VpcEndpointIds=[ssm_endpoint])["VpcEndpoints"][0]["PrivateDnsEnabled"]
    state = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]["State"]["Name"]
    assert state == "running"


def test_two_azs_give_two_subnets_and_endpoints_in_both(emulator):
    result = emulator.cli("build", "--lab", "e2e-azs", "--region", REGION, "--azs", "2", "--until", "endpoints")
    assert result.returncode == 0, result.stderr
    ec2 = client(emulator, "ec2")
    by_tag = [{"Name": f"tag:{TAG_KEY}", "Values": ["e2e-azs"]}]
    subnets = ec2.describe_subnets(Filters=by_tag)["Subnets"]
    assert len({s["AvailabilityZone"] for s in subnets}) == 2
    assert sorted(s["CidrBlock"] for s in subnets) == ["10.0.0.0/24", "10.0.1.0/24"]
    for endpoint in ec2.describe_vpc_endpoints(Filters=by_tag)["VpcEndpoints"]:
        assert sorted(endpoint["SubnetIds"]) == sorted(s["SubnetId"] for s in subnets)


def test_status_json_reports_each_step(emulator, core):
    lab, _ = core
    result = emulator.cli("status", "--lab", lab.name, "--region", REGION, "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["lab"], report["region"], report["target"]) == (lab.name, REGION, "emulator")
    assert {s["step"]: s["status"] for s in report["steps"]} == {
        "network": "complete",
        "security-groups": "complete",
        "endpoints": "complete",
        "iam": "complete",
        "instance": "complete",
        "session-logging": "missing",
    }
    empty = json.loads(emulator.cli("status", "--lab", "never-built", "--region", REGION, "--json").stdout)
    assert {s["status"] for s in empty["steps"]} == {"missing"}


# -- bad input: one line, exit 2, nothing created ---------------------------------------


@pytest.mark.parametrize(
    "args, words",
    [
        (["--lab", "Bad_Name"], "invalid lab name 'Bad_Name'"),
        (["--lab", "e2e-bad", "--region", "mars-north-1"], "invalid region 'mars-north-1'"),
        (["--lab", "e2e-bad", "--cidr", "8.8.0.0/16"], "invalid VPC CIDR '8.8.0.0/16'"),
        (["--lab", "e2e-bad", "--cidr", "10.0.0.0/16", "--subnet-cidr", "10.9.0.0/24"], "invalid subnet CIDR '10.9.0.0/24'"),
        (["--lab", "e2e-bad", "--azs", "9"], "invalid AZ count 9"),
        (["--lab", "e2e-bad", "--azs", "0"], "invalid value '0'"),
        (["--lab", "e2e-bad", "--until", "everything"], "invalid choice: 'everything'"),
        (["--lab", "e2e-bad", "--target", "localstack"], "invalid target 'localstack'"),
        (["--lab", "e2e-bad", "--session-logging", "splunk"], "invalid session-logging destination 'splunk'"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_creates_nothing(emulator, args, words):
    before = all_vpcs_and_roles(emulator)
    result = emulator.cli("build", "--region", REGION, *args) if "--region" not in args else emulator.cli("build", *args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert words in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert all_vpcs_and_roles(emulator) == before


def test_no_credentials_for_target_aws_is_bad_input(emulator, tmp_path):
    env = {
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    result = emulator.cli("build", "--lab", "e2e-aws", "--region", REGION, "--target", "aws", env=env)
    assert result.returncode == 2
    assert "no AWS credentials found for target aws" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_an_emulator_that_does_not_answer_is_a_clear_error_within_seconds(emulator):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)  # accepts connections and never replies
    accepted = []
    stop = threading.Event()

    def accept():
        silent.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(silent.accept()[0])
            except OSError:
                pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{silent.getsockname()[1]}"
    try:
        started = time.monotonic()
        result = emulator.cli("build", "--lab", "e2e-silent", "--region", REGION, env={"SSMLAB_EMULATOR_URL": url})
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        thread.join()
        silent.close()
        for conn in accepted:
            conn.close()
    assert result.returncode == 2, result.stderr
    assert url in result.stderr and "does not answer" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert elapsed < 10


def test_ec2messages_is_built_only_when_asked_for_old_agents():
    steps = steps_to_run("endpoints", BuildOptions())
    assert interface_endpoints(steps, BuildOptions()) == ("ssm", "ssmmessages")
    assert interface_endpoints(steps, BuildOptions(with_ec2messages=True)) == ("ssm", "ssmmessages", "ec2messages")
