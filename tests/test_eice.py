"""EC2 Instance Connect Endpoint, over HTTP against the emulator process, through real boto3
clients (so botocore's own EC2 parser reads every answer).

AWS's fields and states (EC2 API Reference; EC2 User Guide, "Create an EC2 Instance Connect
Endpoint"), one endpoint per VPC (its quotas page), and a real network interface in the
subnet that lives and dies with the endpoint.
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from datetime import datetime

import boto3
import pytest
from botocore.exceptions import ClientError

pytestmark = pytest.mark.emulator
REGION = "eu-north-1"  # no other test builds here: describe-all stays ours


def client(emulator, service: str = "ec2", region: str = REGION):
    return boto3.client(service, region_name=region, endpoint_url=emulator.endpoint_url,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def network(ec2, cidr: str = "10.20.0.0/16", subnets: int = 1) -> tuple[str, list[dict], str]:
    """A fresh VPC with `subnets` /24 subnets and one extra security group."""
    vpc_id = ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
    net = ipaddress.ip_network(cidr)
    made = [ec2.create_subnet(VpcId=vpc_id, CidrBlock=str(block))["Subnet"]
            for block, _ in zip(net.subnets(new_prefix=24), range(subnets))]
    sg = ec2.create_security_group(GroupName=f"eice-{uuid.uuid4().hex[:8]}", Description="EICE", VpcId=vpc_id)["GroupId"]
    return vpc_id, made, sg


def error_code(call, *args, **kwargs) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call(*args, **kwargs)
    error = caught.value.response["Error"]
    return error["Code"], error["Message"]


def describe(ec2, *ids: str, **kwargs) -> list[dict]:
    if ids:
        kwargs["InstanceConnectEndpointIds"] = list(ids)
    return ec2.describe_instance_connect_endpoints(**kwargs)["InstanceConnectEndpoints"]


def interface(ec2, eni_id: str) -> dict:
    return ec2.describe_network_interfaces(NetworkInterfaceIds=[eni_id])["NetworkInterfaces"][0]


# -- lifecycle -------------------------------------------------------------------------


def test_create_answers_aws_fields_in_create_in_progress(emulator):
    ec2 = client(emulator)
    vpc_id, [subnet], sg = network(ec2)
    made = ec2.create_instance_connect_endpoint(
        SubnetId=subnet["SubnetId"], SecurityGroupIds=[sg],
        TagSpecifications=[{"ResourceType": "instance-connect-endpoint",
                            "Tags": [{"Key": "Name", "Value": "lab-eice"}, {"Key": "ssmlab:lab", "Value": "t1"}]}],
    )["InstanceConnectEndpoint"]

    endpoint_id = made["InstanceConnectEndpointId"]
    assert re.fullmatch(r"eice-[0-9a-f]{17}", endpoint_id)
    assert made["InstanceConnectEndpointArn"] == f"arn:aws:ec2:{REGION}:123456789012:instance-connect-endpoint/{endpoint_id}"
    assert made["OwnerId"] == "123456789012"
    assert (made["State"], made["StateMessage"]) == ("create-in-progress", "")
    assert re.fullmatch(rf"{endpoint_id}\.[0-9a-f]{{8}}\.ec2-instance-connect-endpoint\.{REGION}\.amazonaws\.com",
                        made["DnsName"])
    assert made["FipsDnsName"] == made["DnsName"].replace(".ec2-instance-connect-endpoint.",
                                                          ".fips.ec2-instance-connect-endpoint.")
    assert (made["VpcId"], made["SubnetId"]) == (vpc_id, subnet["SubnetId"])
    assert made["AvailabilityZone"] == subnet["AvailabilityZone"]
    assert made["AvailabilityZoneId"] == subnet["AvailabilityZoneId"]
    assert isinstance(made["CreatedAt"], datetime)
    assert made["PreserveClientIp"] is False  # botocore's doc: "Default: false"
    assert made["SecurityGroupIds"] == [sg]
    assert made["IpAddressType"] == "ipv4"
    assert {t["Key"]: t["Value"] for t in made["Tags"]} == {"Name": "lab-eice", "ssmlab:lab": "t1"}
    assert len(made["NetworkInterfaceIds"]) == 1


def test_the_next_describe_finds_it_complete(emulator):
    ec2 = client(emulator)
    _, [subnet], sg = network(ec2, "10.21.0.0/16")
    made = ec2.create_instance_connect_endpoint(SubnetId=subnet["SubnetId"], SecurityGroupIds=[sg])["InstanceConnectEndpoint"]
    [seen] = describe(ec2, made["InstanceConnectEndpointId"])
    assert seen["State"] == "create-complete"
    assert {k: v for k, v in seen.items() if k != "State"} == {k: v for k, v in made.items() if k != "State"}


def test_its_network_interface_is_real_and_goes_with_the_endpoint(emulator):
    ec2 = client(emulator)
    vpc_id, [subnet], sg = network(ec2, "10.22.0.0/16")
    made = ec2.create_instance_connect_endpoint(SubnetId=subnet["SubnetId"], SecurityGroupIds=[sg])["InstanceConnectEndpoint"]
    endpoint_id, [eni_id] = made["InstanceConnectEndpointId"], made["NetworkInterfaceIds"]

    eni = interface(ec2, eni_id)
    assert (eni["SubnetId"], eni["VpcId"]) == (subnet["SubnetId"], vpc_id)
    assert [g["GroupId"] for g in eni["Groups"]] == [sg]
    assert eni["InterfaceType"] == "ec2_instance_connect_endpoint"
    assert eni["RequesterManaged"] is True
    assert ipaddress.ip_address(eni["PrivateIpAddress"]) in ipaddress.ip_network(subnet["CidrBlock"])
    assert {"Key": "InstanceConnectEndpointId", "Value": endpoint_id} in eni["TagSet"]
    in_subnet = ec2.describe_network_interfaces(Filters=[{"Name": "subnet-id", "Values": [subnet["SubnetId"]]}])
    assert eni_id in [i["NetworkInterfaceId"] for i in in_subnet["NetworkInterfaces"]]

    gone = ec2.delete_instance_connect_endpoint(InstanceConnectEndpointId=endpoint_id)["InstanceConnectEndpoint"]
    assert gone["State"] == "delete-in-progress"
    assert interface(ec2, eni_id)["NetworkInterfaceId"] == eni_id  # AWS takes a while: still there

    [seen] = describe(ec2, endpoint_id)
    assert (seen["State"], seen["NetworkInterfaceIds"]) == ("delete-complete", [])
    code, _ = error_code(ec2.describe_network_interfaces, NetworkInterfaceIds=[eni_id])
    assert code == "InvalidNetworkInterfaceID.NotFound"
    assert eni_id not in [i["NetworkInterfaceId"] for i in ec2.describe_network_interfaces(
        Filters=[{"Name": "subnet-id", "Values": [subnet["SubnetId"]]}])["NetworkInterfaces"]]

    # A deleted endpoint no longer counts: the VPC can have a new one.
    again = ec2.create_instance_connect_endpoint(SubnetId=subnet["SubnetId"])["InstanceConnectEndpoint"]
    assert again["InstanceConnectEndpointId"] != endpoint_id


def test_without_security_groups_it_takes_the_vpc_default_group(emulator):
    ec2 = client(emulator)
    vpc_id, [subnet], _ = network(ec2, "10.23.0.0/16")
    default = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc_id]},
                                                    {"Name": "group-name", "Values": ["default"]}])["SecurityGroups"][0]
    made = ec2.create_instance_connect_endpoint(SubnetId=subnet["SubnetId"])["InstanceConnectEndpoint"]
    assert made["SecurityGroupIds"] == [default["GroupId"]]
    assert [g["GroupId"] for g in interface(ec2, made["NetworkInterfaceIds"][0])["Groups"]] == [default["GroupId"]]


# -- quota and idempotency --------------------------------------------------------------


def test_one_endpoint_per_vpc(emulator):
    ec2 = client(emulator)
    vpc_id, [first, second], sg = network(ec2, "10.24.0.0/16", subnets=2)
    made = ec2.create_instance_connect_endpoint(SubnetId=first["SubnetId"], SecurityGroupIds=[sg])["InstanceConnectEndpoint"]
    code, message = error_code(ec2.create_instance_connect_endpoint, SubnetId=second["SubnetId"], SecurityGroupIds=[sg])
    assert code == "ResourceLimitExceeded"
    assert vpc_id in message and made["InstanceConnectEndpointId"] in message and "per VPC" in message
    # still one while the first is being deleted
    ec2.delete_instance_connect_endpoint(InstanceConnectEndpointId=made["InstanceConnectEndpointId"])
    code, _ = error_code(ec2.create_instance_connect_endpoint, SubnetId=second["SubnetId"])
    assert code == "ResourceLimitExceeded"
    # another VPC is another quota
    _, [other], _ = network(ec2, "10.25.0.0/16")
    assert ec2.create_instance_connect_endpoint(SubnetId=other["SubnetId"])["InstanceConnectEndpoint"]["State"] == "create-in-progress"


def test_client_token_makes_create_idempotent(emulator):
    ec2 = client(emulator)
    _, [subnet], sg = network(ec2, "10.26.0.0/16")
    token = uuid.uuid4().hex
    first = ec2.create_instance_connect_endpoint(SubnetId=subnet["SubnetId"], SecurityGroupIds=[sg], ClientToken=token)
    second = ec2.create_instance_connect_endpoint(SubnetId=subnet["SubnetId"], SecurityGroupIds=[sg], ClientToken=token)
    assert first["ClientToken"] == second["ClientToken"] == token
    assert (first["InstanceConnectEndpoint"]["InstanceConnectEndpointId"]
            == second["InstanceConnectEndpoint"]["InstanceConnectEndpointId"])
    code, _ = error_code(ec2.create_instance_connect_endpoint, SubnetId=subnet["SubnetId"], ClientToken=token,
                         PreserveClientIp=True)
    assert code == "IdempotentParameterMismatch"


# -- describe: filters and pages ---------------------------------------------------------


def test_filters_and_pagination(emulator):
    ec2 = client(emulator)
    run = uuid.uuid4().hex[:8]
    made = []
    for n in range(3):
        _, [subnet], _ = network(ec2, f"10.{30 + n}.0.0/16")
        made.append(ec2.create_instance_connect_endpoint(
            SubnetId=subnet["SubnetId"],
            TagSpecifications=[{"ResourceType": "instance-connect-endpoint",
                                "Tags": [{"Key": "run", "Value": run}, {"Key": "team", "Value": f"t{n}"}]}],
        )["InstanceConnectEndpoint"])
    ids = [m["InstanceConnectEndpointId"] for m in made]
    mine = [{"Name": "tag:run", "Values": [run]}]

    assert sorted(e["InstanceConnectEndpointId"] for e in describe(ec2, Filters=mine)) == sorted(ids)
    assert [e["InstanceConnectEndpointId"] for e in describe(
        ec2, Filters=[{"Name": "vpc-id", "Values": [made[1]["VpcId"]]}])] == [ids[1]]
    assert [e["InstanceConnectEndpointId"] for e in describe(
        ec2, Filters=[{"Name": "subnet-id", "Values": [made[2]["SubnetId"]]}])] == [ids[2]]
    assert [e["InstanceConnectEndpointId"] for e in describe(
        ec2, Filters=[{"Name": "instance-connect-endpoint-id", "Values": [ids[0]]}])] == [ids[0]]
    assert [e["InstanceConnectEndpointId"] for e in describe(
        ec2, Filters=mine + [{"Name": "tag:team", "Values": ["t1", "t2"]}])] == ids[1:]
    assert len(describe(ec2, Filters=mine + [{"Name": "tag-key", "Values": ["team"]}])) == 3
    assert len(describe(ec2, Filters=mine + [{"Name": "tag-value", "Values": ["t*"]}])) == 3  # EC2 wildcards
    assert describe(ec2, Filters=mine + [{"Name": "state", "Values": ["create-complete"]}])  # after one describe
    ec2.delete_instance_connect_endpoint(InstanceConnectEndpointId=ids[0])
    assert [e["InstanceConnectEndpointId"] for e in describe(
        ec2, Filters=mine + [{"Name": "state", "Values": ["delete-complete"]}])] == [ids[0]]
    assert describe(ec2, ids[1], ids[2], Filters=[{"Name": "state", "Values": ["delete-in-progress"]}]) == []

    first = ec2.describe_instance_connect_endpoints(Filters=mine, MaxResults=2)
    assert len(first["InstanceConnectEndpoints"]) == 2 and first["NextToken"]
    rest = ec2.describe_instance_connect_endpoints(Filters=mine, MaxResults=2, NextToken=first["NextToken"])
    assert len(rest["InstanceConnectEndpoints"]) == 1 and "NextToken" not in rest
    paged = [e["InstanceConnectEndpointId"]
             for page in ec2.get_paginator("describe_instance_connect_endpoints").paginate(
                 Filters=mine, PaginationConfig={"PageSize": 1})
             for e in page["InstanceConnectEndpoints"]]
    assert sorted(paged) == sorted(ids)

    code, message = error_code(ec2.describe_instance_connect_endpoints, Filters=[{"Name": "colour", "Values": ["x"]}])
    assert (code, message) == ("InvalidParameterValue", "The filter 'colour' is invalid")
    code, _ = error_code(ec2.describe_instance_connect_endpoints, MaxResults=51)
    assert code == "InvalidParameterValue"
    code, _ = error_code(ec2.describe_instance_connect_endpoints, NextToken="not-a-token")
    assert code == "InvalidNextToken"


# -- AWS's errors -------------------------------------------------------------------------


def test_unknown_ids_and_bad_input_get_aws_errors(emulator):
    ec2 = client(emulator)
    vpc_id, [subnet], sg = network(ec2, "10.40.0.0/16")
    _, _, foreign_sg = network(ec2, "10.41.0.0/16")

    code, message = error_code(ec2.create_instance_connect_endpoint, SubnetId="subnet-0123456789abcdef0")
    assert (code, message) == ("InvalidSubnetID.NotFound", "The subnet ID 'subnet-0123456789abcdef0' does not exist")
    code, _ = error_code(ec2.create_instance_connect_endpoint, SubnetId=subnet["SubnetId"],
                         SecurityGroupIds=["sg-0123456789abcdef0"])
    assert code == "InvalidGroup.NotFound"
    code, message = error_code(ec2.create_instance_connect_endpoint, SubnetId=subnet["SubnetId"],
                               SecurityGroupIds=[foreign_sg])
    assert code == "InvalidParameter" and "belong to different networks" in message
    code, _ = error_code(ec2.create_instance_connect_endpoint, SubnetId=subnet["SubnetId"],
                         TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "a", "Value": "b"}]}])
    assert code == "InvalidParameterValue"
    code, _ = error_code(ec2.create_instance_connect_endpoint, SubnetId=subnet["SubnetId"], DryRun=True)
    assert code == "DryRunOperation"
    # none of the refused calls left anything behind
    assert describe(ec2, Filters=[{"Name": "vpc-id", "Values": [vpc_id]}]) == []
    assert ec2.describe_network_interfaces(
        Filters=[{"Name": "subnet-id", "Values": [subnet["SubnetId"]]}])["NetworkInterfaces"] == []

    missing = "eice-0123456789abcdef0"
    for call, kwargs in ((ec2.describe_instance_connect_endpoints, {"InstanceConnectEndpointIds": [missing]}),
                         (ec2.delete_instance_connect_endpoint, {"InstanceConnectEndpointId": missing})):
        code, message = error_code(call, **kwargs)
        assert code == "InvalidInstanceConnectEndpointId.NotFound" and missing in message
    code, _ = error_code(ec2.delete_instance_connect_endpoint, InstanceConnectEndpointId="vpce-0123")
    assert code == "InvalidInstanceConnectEndpointId.Malformed"


def test_its_interface_holds_subnet_and_security_group_until_the_delete_completes(emulator):
    """The dependency rules for network interfaces apply to the endpoint's, as on AWS: delete the
    endpoint, wait for delete-complete, then the subnet and its security group can go."""
    ec2 = client(emulator)
    vpc_id, [subnet], sg = network(ec2, "10.42.0.0/16")
    made = ec2.create_instance_connect_endpoint(SubnetId=subnet["SubnetId"], SecurityGroupIds=[sg])["InstanceConnectEndpoint"]
    for call, kwargs in ((ec2.delete_security_group, {"GroupId": sg}),
                         (ec2.delete_subnet, {"SubnetId": subnet["SubnetId"]}),
                         (ec2.delete_vpc, {"VpcId": vpc_id})):
        assert error_code(call, **kwargs)[0] == "DependencyViolation"
    ec2.delete_instance_connect_endpoint(InstanceConnectEndpointId=made["InstanceConnectEndpointId"])
    assert error_code(ec2.delete_subnet, SubnetId=subnet["SubnetId"])[0] == "DependencyViolation"  # not yet
    assert describe(ec2, made["InstanceConnectEndpointId"])[0]["State"] == "delete-complete"
    ec2.delete_security_group(GroupId=sg)
    ec2.delete_subnet(SubnetId=subnet["SubnetId"])
    ec2.delete_vpc(VpcId=vpc_id)
