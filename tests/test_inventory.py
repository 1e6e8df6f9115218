"""inventory.snapshot reads a lab, a VPC or one instance's VPC back, in a bounded number of calls."""

from __future__ import annotations

from collections import Counter

import boto3
import pytest

from ssmlab import inventory
from ssmlab.model import Route, SgRule
from ssmlab.build import build
from ssmlab.lab import Lab

pytestmark = pytest.mark.emulator
REGION = "ap-northeast-1"


@pytest.fixture(scope="module")
def built(emulator):
    lab = Lab("e2e-inventory", REGION, "emulator")
    return lab, build(lab)


def count_calls(lab: Lab, services=("ec2", "iam")) -> Counter:
    """Count the API calls the lab's clients make from now on (botocore's event hooks)."""
    calls: Counter = Counter()
    for service in services:
        lab.client(service).meta.events.register(
            "before-call", lambda model, **_: calls.update([model.name]), unique_id=f"count-{id(calls)}-{service}"
        )
    return calls


def test_snapshot_reads_back_every_fact_of_the_lab(built):
    lab, result = built
    state = inventory.snapshot(lab)
    assert state.lab == lab.name and state.region == REGION
    (vpc,) = state.vpcs
    assert (vpc.vpc_id, vpc.cidr, vpc.dns_support, vpc.dns_hostnames) == (
        result.results["network"].vpc_id, "10.0.0.0/16", True, True,
    )
    subnet_id = result.results["network"].subnet_ids[0]
    assert state.route_table_for(subnet_id).route_table_id == result.results["network"].route_table_id
    assert state.route_table_for(subnet_id).routes == (Route("10.0.0.0/16", "local"),)
    assert state.network_acl_for(subnet_id) is not None  # the VPC's default NACL
    endpoint_sg = state.security_group(result.results["security-groups"].endpoint_sg_id)
    assert endpoint_sg.ingress == (
        SgRule("tcp", 443, 443, cidr="10.0.0.0/16", description="HTTPS from the lab VPC"),
    )
    assert sorted(e.service for e in state.endpoints) == ["ssm", "ssmmessages"]
    assert all(e.private_dns and e.state == "available" for e in state.endpoints)
    (instance,) = state.instances
    assert instance.imds.http_tokens == "required" and instance.public_ip is None
    assert instance.root_volume is not None and instance.root_volume.encrypted
    profile = state.profile(instance.profile_arn)
    assert profile.name == "e2e-inventory-ssm-instance-profile"
    role = state.role(profile.role_names[0])
    assert role.trust_policy["Statement"][0]["Principal"] == {"Service": "ec2.amazonaws.com"}
    (core,) = role.managed_policies
    actions = {a for s in core.document["Statement"] for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])}
    assert {"ssm:UpdateInstanceInformation", "ssmmessages:CreateControlChannel", "ec2messages:GetMessages"} <= actions


def test_snapshot_of_an_instance_the_kit_did_not_build(emulator, built):
    lab, _ = built
    ec2 = boto3.client(
        "ec2", region_name=REGION, endpoint_url=emulator.endpoint_url,
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )
    vpc_id = ec2.create_vpc(CidrBlock="172.20.0.0/16")["Vpc"]["VpcId"]
    subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock="172.20.1.0/24")["Subnet"]["SubnetId"]
    image = boto3.client(
        "ssm", region_name=REGION, endpoint_url=emulator.endpoint_url,
        aws_access_key_id="testing", aws_secret_access_key="testing",
    ).get_parameter(Name="/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64")["Parameter"]["Value"]
    instance_id = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, SubnetId=subnet_id)["Instances"][0]["InstanceId"]

    state = inventory.snapshot(lab, instance_id=instance_id)
    assert state.lab is None
    assert [v.vpc_id for v in state.vpcs] == [vpc_id]
    assert state.instance(instance_id).profile_arn is None
    assert state.roles == () and state.instance_profiles == ()
    assert state.vpcs[0].dns_hostnames is False  # a new VPC has DNS hostnames off

    missing = inventory.snapshot(lab, instance_id="i-0123456789abcdef0")
    assert missing.instances == () and missing.vpcs == ()


def test_calls_per_vpc_do_not_grow_with_the_number_of_resources(emulator, built):
    lab, result = built
    inventory.snapshot(lab)  # warm the managed-policy cache
    calls = count_calls(lab)
    inventory.snapshot(lab)
    small = sum(calls.values())

    ec2 = lab.client("ec2")
    vpc_id = result.results["network"].vpc_id
    image = result.results["instance"].image_id
    for n in range(4):
        subnet = ec2.create_subnet(
            VpcId=vpc_id, CidrBlock=f"10.0.{10 + n}.0/24", TagSpecifications=lab.tag_specifications("subnet", f"extra-{n}")
        )["Subnet"]["SubnetId"]
        group = ec2.create_security_group(
            GroupName=f"extra-{n}", Description="extra", VpcId=vpc_id,
            TagSpecifications=lab.tag_specifications("security-group", f"extra-{n}"),
        )["GroupId"]
        ec2.run_instances(
            ImageId=image, MinCount=2, MaxCount=2, SubnetId=subnet, SecurityGroupIds=[group],
            IamInstanceProfile={"Arn": result.results["iam"].profile_arn},
            TagSpecifications=lab.tag_specifications("instance", f"extra-{n}"),
        )
    calls.clear()
    state = inventory.snapshot(lab)
    assert len(state.instances) == 9 and len(state.subnets) == 5
    assert sum(calls.values()) == small, calls


def test_snapshot_reads_back_each_breakage_the_doctor_diagnoses(emulator):
    """What the doctor's codes rest on, as the reader sees it after each change a learner can make
    (the codes themselves are proven on hand-built states in test_doctor.py)."""
    lab = Lab("e2e-inventory-broken", REGION, "emulator")
    r = build(lab).results
    ec2, iam = lab.client("ec2"), lab.client("iam")
    instance_id, vpc_id = r["instance"].instance_id, r["network"].vpc_id
    ec2.delete_vpc_endpoints(VpcEndpointIds=[r["endpoints"].get("ssm").endpoint_id])
    ec2.modify_vpc_endpoint(VpcEndpointId=r["endpoints"].get("ssmmessages").endpoint_id, PrivateDnsEnabled=False)
    ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": False})
    ec2.revoke_security_group_egress(GroupId=r["security-groups"].instance_sg_id, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "10.0.0.0/16"}]}])
    iam.detach_role_policy(RoleName=r["iam"].role_name, PolicyArn="arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore")
    ec2.modify_instance_metadata_options(InstanceId=instance_id, HttpEndpoint="disabled")
    ec2.stop_instances(InstanceIds=[instance_id])

    state = inventory.snapshot(lab, instance_id=instance_id)
    (vpc,) = state.vpcs
    assert vpc.dns_hostnames is False and vpc.dns_support is True
    assert {e.service: e.private_dns for e in state.endpoints if e.state != "deleted"} == {"ssmmessages": False}
    assert state.security_group(r["security-groups"].instance_sg_id).egress == ()
    (instance,) = state.instances
    assert instance.state == "stopped" and instance.imds.http_endpoint == "disabled"
    assert state.role(r["iam"].role_name).managed_policies == ()
