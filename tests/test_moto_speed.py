"""The emulator's shortcuts in moto answer exactly as moto's own: the tag lookup from the resource's own tags, and
the serialiser's attribute names worked out once per class, shape and key."""

from __future__ import annotations

import boto3
from moto import mock_aws

from ssmlab.emulator import moto_speed


def test_tags_read_from_the_resources_entry_equal_motos_full_scan():
    from moto.ec2.models import ec2_backends
    from moto.ec2.models.core import TaggedEC2Resource

    moto_speed.install()
    fast = TaggedEC2Resource.get_tags
    full_scan = fast.__wrapped__
    with mock_aws():
        ec2 = boto3.client("ec2", region_name="ap-northeast-1")
        for k in range(4):
            vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16", TagSpecifications=[{"ResourceType": "vpc", "Tags": [
                {"Key": "ssmlab:lab", "Value": f"lab-{k}"}, {"Key": "Name", "Value": "x*?"}]}])["Vpc"]["VpcId"]
            ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")  # untagged
            ec2.create_security_group(GroupName=f"sg-{k}", Description="d", VpcId=vpc, TagSpecifications=[
                {"ResourceType": "security-group", "Tags": [{"Key": "k", "Value": str(k)}]}])
        backend = ec2_backends["123456789012"]["ap-northeast-1"]
        resources = [*backend.vpcs.values(), *(s for by_zone in backend.subnets.values() for s in by_zone.values()),
                     *backend.groups[None].values(), *(g for groups in backend.groups.values() for g in groups.values())]
        assert [fast(r) for r in resources] == [full_scan(r) for r in resources]
        assert sum(len(fast(r)) for r in backend.vpcs.values()) == 8
        tagged = ec2.describe_vpcs(Filters=[{"Name": "tag:ssmlab:lab", "Values": ["lab-2"]}])["Vpcs"]
        assert len(tagged) == 1 and {"Key": "Name", "Value": "x*?"} in tagged[0]["Tags"]


def test_answers_serialised_with_the_names_worked_out_once_equal_motos_own():
    from moto.core.serialize import XFormedAttributePicker

    moto_speed.install()
    fast = XFormedAttributePicker.get_possible_keys
    with mock_aws():
        ec2, iam = boto3.client("ec2", region_name="eu-west-3"), boto3.client("iam", region_name="eu-west-3")
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16", TagSpecifications=[{"ResourceType": "vpc", "Tags": [
            {"Key": "ssmlab:lab", "Value": "a"}]}])["Vpc"]["VpcId"]
        group = ec2.create_security_group(GroupName="g", Description="d", VpcId=vpc)["GroupId"]
        ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[{"IpProtocol": "tcp", "FromPort": 443,
                                             "ToPort": 443, "UserIdGroupPairs": [{"GroupId": group}]}])
        ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")
        iam.create_role(RoleName="r", Path="/ssmlab/", AssumeRolePolicyDocument="{}", Tags=[{"Key": "k", "Value": "v"}])

        def answers():
            found = [ec2.describe_vpcs(), ec2.describe_security_groups(), ec2.describe_subnets(),
                     ec2.describe_vpc_attribute(VpcId=vpc, Attribute="enableDnsSupport"), ec2.describe_route_tables(),
                     iam.get_role(RoleName="r"), iam.list_roles()]
            for answer in found:
                answer.pop("ResponseMetadata", None)
            return found

        twice = (answers(), answers())  # the second from the names worked out by the first
        XFormedAttributePicker.get_possible_keys = fast.__wrapped__
        try:
            assert twice[0] == twice[1] == answers()
        finally:
            XFormedAttributePicker.get_possible_keys = fast
