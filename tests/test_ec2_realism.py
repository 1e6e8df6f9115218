"""The emulator's EC2 behaves like AWS where the kit relies on it, over HTTP against the
emulator process: interface endpoints (their network interfaces, DNS names, and AWS's
validation of private DNS and service names) and the dependency rules of deletions.

Every refusal is checked for AWS's error code and text, and for leaving things as they
were. A full lab is then torn down in the right order with plain boto3 calls (it works),
and in the wrong order (each step fails with DependencyViolation, nothing changes).
"""

from __future__ import annotations

import ipaddress
import re

import boto3
import pytest
from botocore.exceptions import ClientError

from ssmlab.build import build
from ssmlab.lab import TAG_KEY, Lab
from ssmlab.steps.instance import AL2023_PARAMETER

pytestmark = pytest.mark.emulator
REGION = "ap-northeast-1"
SSM = f"com.amazonaws.{REGION}.ssm"
SSMMESSAGES = f"com.amazonaws.{REGION}.ssmmessages"


def client(emulator, service: str):
    return boto3.client(service, region_name=REGION, endpoint_url=emulator.endpoint_url,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


@pytest.fixture
def ec2(emulator):
    return client(emulator, "ec2")


def refused(call, **kwargs) -> tuple[str, str]:
    """The (code, message) of the ClientError the call raises; AWS sends these as HTTP 400."""
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    error = caught.value.response["Error"]
    return error["Code"], error["Message"]


def network(ec2, *, azs: int = 1, hostnames: bool = True, support: bool = True) -> tuple[str, list[str], str]:
    """A VPC 10.20.0.0/16 with one /24 subnet per AZ and a security group: (vpc, subnets, group)."""
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    if hostnames:
        ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    if not support:
        ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsSupport={"Value": False})
    zones = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]][:azs]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.20.{i}.0/24", AvailabilityZone=zone)["Subnet"]["SubnetId"]
               for i, zone in enumerate(zones)]
    group = ec2.create_security_group(GroupName="endpoints", Description="endpoints", VpcId=vpc)["GroupId"]
    return vpc, subnets, group


def interface_endpoint(ec2, vpc: str, subnets: list[str], groups: list[str], service: str = SSM, **extra) -> dict:
    return ec2.create_vpc_endpoint(VpcEndpointType="Interface", VpcId=vpc, ServiceName=service,
                                   SubnetIds=subnets, SecurityGroupIds=groups, **extra)["VpcEndpoint"]


def endpoint(ec2, endpoint_id: str) -> dict:
    return ec2.describe_vpc_endpoints(VpcEndpointIds=[endpoint_id])["VpcEndpoints"][0]


def live_endpoints(ec2, vpc: str) -> list[dict]:
    found = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["VpcEndpoints"]
    return [e for e in found if e["State"].lower() not in ("deleted", "deleting")]


def interfaces(ec2, vpc: str) -> list[dict]:
    return ec2.describe_network_interfaces(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["NetworkInterfaces"]


def launch(emulator, ec2, subnet: str, groups: list[str]) -> str:
    image = client(emulator, "ssm").get_parameter(Name=AL2023_PARAMETER)["Parameter"]["Value"]
    return ec2.run_instances(ImageId=image, InstanceType="t3.micro", MinCount=1, MaxCount=1,
                             SubnetId=subnet, SecurityGroupIds=groups)["Instances"][0]["InstanceId"]


def terminate(ec2, instance_id: str) -> None:
    ec2.terminate_instances(InstanceIds=[instance_id])
    ec2.get_waiter("instance_terminated").wait(InstanceIds=[instance_id], WaiterConfig={"Delay": 1, "MaxAttempts": 30})


def cidr_of(ec2, subnet: str) -> ipaddress.IPv4Network:
    return ipaddress.ip_network(ec2.describe_subnets(SubnetIds=[subnet])["Subnets"][0]["CidrBlock"])


# -- interface endpoints: their network interfaces ----------------------------------------


def test_each_subnet_gets_an_interface_with_an_address_of_it_and_the_endpoint_groups(emulator, ec2):
    vpc, subnets, group = network(ec2, azs=2)
    instance = launch(emulator, ec2, subnets[0], [group])
    instance_ip = ec2.describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0]["PrivateIpAddress"]
    created = interface_endpoint(ec2, vpc, subnets, [group])

    assert len(created["NetworkInterfaceIds"]) == 2
    found = ec2.describe_network_interfaces(NetworkInterfaceIds=created["NetworkInterfaceIds"])["NetworkInterfaces"]
    assert sorted(n["SubnetId"] for n in found) == sorted(subnets)
    for eni in found:
        assert ipaddress.ip_address(eni["PrivateIpAddress"]) in cidr_of(ec2, eni["SubnetId"])
        assert eni["PrivateIpAddress"] != instance_ip
        assert [g["GroupId"] for g in eni["Groups"]] == [group]
        assert eni["InterfaceType"] == "vpc_endpoint"
        assert eni["RequesterManaged"] is True
        assert eni["Status"] == "in-use"
        assert eni["Description"] == f"VPC Endpoint Interface {created['VpcEndpointId']}"
        assert eni["VpcId"] == vpc
    # The EC2 User Guide's way of finding them ("Requester-managed network interfaces").
    managed = ec2.describe_network_interfaces(Filters=[{"Name": "vpc-id", "Values": [vpc]},
                                                       {"Name": "requester-managed", "Values": ["true"]}])
    assert sorted(n["NetworkInterfaceId"] for n in managed["NetworkInterfaces"]) == sorted(created["NetworkInterfaceIds"])
    # Nothing else in the VPC but the instance's own interface: moto's stand-ins with random
    # addresses outside the subnet are gone.
    others = [n for n in interfaces(ec2, vpc) if n["NetworkInterfaceId"] not in created["NetworkInterfaceIds"]]
    assert [n.get("Attachment", {}).get("InstanceId") for n in others] == [instance]
    # The instance launched afterwards does not get an endpoint's address either.
    later = launch(emulator, ec2, subnets[1], [group])
    later_ip = ec2.describe_instances(InstanceIds=[later])["Reservations"][0]["Instances"][0]["PrivateIpAddress"]
    assert later_ip not in {n["PrivateIpAddress"] for n in found}


def test_without_security_groups_the_interfaces_get_the_vpc_default_group(ec2):
    vpc, subnets, _ = network(ec2)
    default = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]},
                                                    {"Name": "group-name", "Values": ["default"]}])["SecurityGroups"][0]
    created = ec2.create_vpc_endpoint(VpcEndpointType="Interface", VpcId=vpc, ServiceName=SSM,
                                      SubnetIds=subnets)["VpcEndpoint"]
    assert [g["GroupId"] for g in created["Groups"]] == [default["GroupId"]]
    eni = ec2.describe_network_interfaces(NetworkInterfaceIds=created["NetworkInterfaceIds"])["NetworkInterfaces"][0]
    assert [g["GroupId"] for g in eni["Groups"]] == [default["GroupId"]]


def test_modify_adds_and_removes_interfaces_and_moves_their_groups(ec2):
    vpc, (first, second), group = network(ec2, azs=2)
    other = ec2.create_security_group(GroupName="other", Description="other", VpcId=vpc)["GroupId"]
    created = interface_endpoint(ec2, vpc, [first], [group])
    (first_eni,) = created["NetworkInterfaceIds"]

    ec2.modify_vpc_endpoint(VpcEndpointId=created["VpcEndpointId"], AddSubnetIds=[second])
    now = endpoint(ec2, created["VpcEndpointId"])
    assert len(now["NetworkInterfaceIds"]) == 2 and first_eni in now["NetworkInterfaceIds"]
    by_subnet = {n["SubnetId"]: n for n in interfaces(ec2, vpc)}
    assert ipaddress.ip_address(by_subnet[second]["PrivateIpAddress"]) in cidr_of(ec2, second)

    ec2.modify_vpc_endpoint(VpcEndpointId=created["VpcEndpointId"], RemoveSubnetIds=[first],
                            AddSecurityGroupIds=[other], RemoveSecurityGroupIds=[group])
    now = endpoint(ec2, created["VpcEndpointId"])
    assert first_eni not in now["NetworkInterfaceIds"] and len(now["NetworkInterfaceIds"]) == 1
    assert refused(ec2.describe_network_interfaces, NetworkInterfaceIds=[first_eni])[0] == "InvalidNetworkInterfaceID.NotFound"
    (eni,) = ec2.describe_network_interfaces(NetworkInterfaceIds=now["NetworkInterfaceIds"])["NetworkInterfaces"]
    assert eni["SubnetId"] == second
    assert [g["GroupId"] for g in eni["Groups"]] == [other]
    assert [g["GroupId"] for g in now["Groups"]] == [other]
    # An unknown subnet is refused and changes nothing.
    assert refused(ec2.modify_vpc_endpoint, VpcEndpointId=created["VpcEndpointId"],
                   AddSubnetIds=["subnet-0123456789abcdef0"])[0] == "InvalidSubnetID.NotFound"
    assert endpoint(ec2, created["VpcEndpointId"]) == now


def test_deleting_the_endpoint_deletes_its_interfaces_and_frees_the_subnet(ec2):
    vpc, subnets, group = network(ec2)
    created = interface_endpoint(ec2, vpc, subnets, [group])
    (eni,) = created["NetworkInterfaceIds"]
    ec2.delete_vpc_endpoints(VpcEndpointIds=[created["VpcEndpointId"]])
    assert interfaces(ec2, vpc) == []
    assert refused(ec2.describe_network_interfaces, NetworkInterfaceIds=[eni])[0] == "InvalidNetworkInterfaceID.NotFound"
    ec2.delete_subnet(SubnetId=subnets[0])
    ec2.delete_security_group(GroupId=group)
    ec2.delete_vpc(VpcId=vpc)
    assert ec2.describe_vpcs(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Vpcs"] == []


# -- interface endpoints: DnsEntries -----------------------------------------------------------


def test_dns_entries_are_regional_zonal_and_the_private_name(ec2):
    vpc, subnets, group = network(ec2, azs=2)
    created = interface_endpoint(ec2, vpc, subnets, [group], PrivateDnsEnabled=True)
    endpoint_id = created["VpcEndpointId"]
    zones = [s["AvailabilityZone"] for s in ec2.describe_subnets(SubnetIds=subnets)["Subnets"]]
    names = [e["DnsName"] for e in created["DnsEntries"]]

    # AWS CLI create-vpc-endpoint example: vpce-<id>-<suffix>.<service>.<region>.vpce.amazonaws.com,
    # then one per AZ, then the service's own name (private DNS).
    match = re.fullmatch(rf"{endpoint_id}-([a-z0-9]{{8}})\.ssm\.{REGION}\.vpce\.amazonaws\.com", names[0])
    assert match, names[0]
    stem = f"{endpoint_id}-{match.group(1)}"
    assert sorted(names[1:3]) == sorted(f"{stem}-{zone}.ssm.{REGION}.vpce.amazonaws.com" for zone in zones)
    assert names[3] == f"ssm.{REGION}.amazonaws.com"
    assert len(names) == 4
    assert all(re.fullmatch(r"Z[A-Z0-9]{8,31}", e["HostedZoneId"]) for e in created["DnsEntries"])
    assert created["DnsEntries"] == endpoint(ec2, endpoint_id)["DnsEntries"]  # describe agrees with create

    ec2.modify_vpc_endpoint(VpcEndpointId=endpoint_id, PrivateDnsEnabled=False)
    now = endpoint(ec2, endpoint_id)
    assert now["PrivateDnsEnabled"] is False
    assert [e["DnsName"] for e in now["DnsEntries"]] == names[:3]
    ec2.modify_vpc_endpoint(VpcEndpointId=endpoint_id, PrivateDnsEnabled=True)
    assert [e["DnsName"] for e in endpoint(ec2, endpoint_id)["DnsEntries"]] == names


# -- interface endpoints: AWS's validation -------------------------------------------------------


DNS_ATTRIBUTES = "Enabling private DNS requires both enableDnsSupport and enableDnsHostnames VPC attributes set to true for {vpc}"


@pytest.mark.parametrize("attributes", [{"hostnames": False}, {"support": False}, {"hostnames": False, "support": False}])
@pytest.mark.parametrize("asked", [{"PrivateDnsEnabled": True}, {}], ids=["private-dns-true", "private-dns-default"])
def test_private_dns_is_refused_without_both_vpc_dns_attributes(ec2, attributes, asked):
    vpc, subnets, group = network(ec2, **attributes)
    code, message = refused(ec2.create_vpc_endpoint, VpcEndpointType="Interface", VpcId=vpc, ServiceName=SSM,
                            SubnetIds=subnets, SecurityGroupIds=[group], **asked)
    assert (code, message) == ("InvalidParameter", DNS_ATTRIBUTES.format(vpc=vpc))
    assert live_endpoints(ec2, vpc) == [] and interfaces(ec2, vpc) == []  # nothing was created
    # Without private DNS the endpoint is fine.
    created = interface_endpoint(ec2, vpc, subnets, [group], PrivateDnsEnabled=False)
    assert created["PrivateDnsEnabled"] is False


def test_a_second_endpoint_with_private_dns_for_the_same_service_is_refused(ec2):
    vpc, subnets, group = network(ec2)
    first = interface_endpoint(ec2, vpc, subnets, [group], PrivateDnsEnabled=True)
    code, message = refused(ec2.create_vpc_endpoint, VpcEndpointType="Interface", VpcId=vpc, ServiceName=SSM,
                            SubnetIds=subnets, SecurityGroupIds=[group], PrivateDnsEnabled=True)
    assert code == "InvalidParameter"
    assert message == (f"private-dns-enabled cannot be set because there is already a conflicting DNS domain "
                       f"for ssm.{REGION}.amazonaws.com in the VPC {vpc}")
    assert [e["VpcEndpointId"] for e in live_endpoints(ec2, vpc)] == [first["VpcEndpointId"]]
    # Another service, or the same one without private DNS, is fine ...
    interface_endpoint(ec2, vpc, subnets, [group], service=SSMMESSAGES, PrivateDnsEnabled=True)
    quiet = interface_endpoint(ec2, vpc, subnets, [group], PrivateDnsEnabled=False)
    # ... but turning private DNS on for it later is refused the same way.
    assert refused(ec2.modify_vpc_endpoint, VpcEndpointId=quiet["VpcEndpointId"], PrivateDnsEnabled=True) == (code, message)
    assert endpoint(ec2, quiet["VpcEndpointId"])["PrivateDnsEnabled"] is False
    # Once the first is deleted the name is free again.
    ec2.delete_vpc_endpoints(VpcEndpointIds=[first["VpcEndpointId"]])
    ec2.modify_vpc_endpoint(VpcEndpointId=quiet["VpcEndpointId"], PrivateDnsEnabled=True)
    assert endpoint(ec2, quiet["VpcEndpointId"])["PrivateDnsEnabled"] is True


def test_modify_refuses_private_dns_when_the_vpc_dns_attributes_are_off(ec2):
    vpc, subnets, group = network(ec2)
    created = interface_endpoint(ec2, vpc, subnets, [group], PrivateDnsEnabled=False)
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": False})
    assert refused(ec2.modify_vpc_endpoint, VpcEndpointId=created["VpcEndpointId"], PrivateDnsEnabled=True) == (
        "InvalidParameter", DNS_ATTRIBUTES.format(vpc=vpc))
    assert endpoint(ec2, created["VpcEndpointId"])["PrivateDnsEnabled"] is False
    ec2.modify_vpc_endpoint(VpcEndpointId=created["VpcEndpointId"], PrivateDnsEnabled=False)  # turning it off is fine


def test_an_unknown_service_is_refused_and_gateway_endpoints_still_work(ec2):
    vpc, subnets, group = network(ec2)
    name = f"com.amazonaws.{REGION}.ssmm"
    assert refused(ec2.create_vpc_endpoint, VpcEndpointType="Interface", VpcId=vpc, ServiceName=name,
                   SubnetIds=subnets, SecurityGroupIds=[group]) == (
        "InvalidServiceName", f"The Vpc Endpoint Service '{name}' does not exist")
    assert live_endpoints(ec2, vpc) == []
    table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    for service in ("s3", "dynamodb"):
        gateway = ec2.create_vpc_endpoint(VpcEndpointType="Gateway", VpcId=vpc, RouteTableIds=[table],
                                          ServiceName=f"com.amazonaws.{REGION}.{service}")["VpcEndpoint"]
        assert gateway["State"].lower() == "available" and gateway["NetworkInterfaceIds"] == []
        assert gateway["PrivateDnsEnabled"] is False
    assert interfaces(ec2, vpc) == []


def test_two_subnets_in_one_zone_are_refused(ec2):
    vpc, (first,), group = network(ec2)
    zone = ec2.describe_subnets(SubnetIds=[first])["Subnets"][0]["AvailabilityZone"]
    same_zone = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.9.0/24", AvailabilityZone=zone)["Subnet"]["SubnetId"]
    code, message = refused(ec2.create_vpc_endpoint, VpcEndpointType="Interface", VpcId=vpc, ServiceName=SSM,
                            SubnetIds=[first, same_zone], SecurityGroupIds=[group])
    assert (code, message) == ("DuplicateSubnetsInSameZone", f"Found another VPC endpoint subnet in the availability zone of {first}")
    created = interface_endpoint(ec2, vpc, [first], [group])
    assert refused(ec2.modify_vpc_endpoint, VpcEndpointId=created["VpcEndpointId"], AddSubnetIds=[same_zone])[0] == (
        "DuplicateSubnetsInSameZone")
    # Swapping the subnet within the zone in one call is fine.
    ec2.modify_vpc_endpoint(VpcEndpointId=created["VpcEndpointId"], AddSubnetIds=[same_zone], RemoveSubnetIds=[first])
    assert endpoint(ec2, created["VpcEndpointId"])["SubnetIds"] == [same_zone]


# -- dependencies ----------------------------------------------------------------------------------


def vpc_violation(vpc: str) -> tuple[str, str]:
    return "DependencyViolation", f"The vpc '{vpc}' has dependencies and cannot be deleted."


def subnet_violation(subnet: str) -> tuple[str, str]:
    return "DependencyViolation", f"The subnet '{subnet}' has dependencies and cannot be deleted."


def group_violation(group: str) -> tuple[str, str]:
    return "DependencyViolation", f"resource {group} has a dependent object"


def _with_subnet(ec2, vpc):
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.30.0.0/24")["Subnet"]["SubnetId"]
    return lambda: ec2.delete_subnet(SubnetId=subnet)


def _with_group(ec2, vpc):
    group = ec2.create_security_group(GroupName="blocker", Description="blocker", VpcId=vpc)["GroupId"]
    return lambda: ec2.delete_security_group(GroupId=group)


def _with_gateway_endpoint(ec2, vpc):
    endpoint_id = ec2.create_vpc_endpoint(VpcEndpointType="Gateway", VpcId=vpc,
                                          ServiceName=f"com.amazonaws.{REGION}.s3")["VpcEndpoint"]["VpcEndpointId"]
    return lambda: ec2.delete_vpc_endpoints(VpcEndpointIds=[endpoint_id])


def _with_internet_gateway(ec2, vpc):
    gateway = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=gateway, VpcId=vpc)

    def remove():
        ec2.detach_internet_gateway(InternetGatewayId=gateway, VpcId=vpc)
        ec2.delete_internet_gateway(InternetGatewayId=gateway)
    return remove


def _with_route_table(ec2, vpc):
    table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    return lambda: ec2.delete_route_table(RouteTableId=table)


def _with_network_acl(ec2, vpc):
    acl = ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"]
    return lambda: ec2.delete_network_acl(NetworkAclId=acl)


VPC_DEPENDENCIES = {
    "a subnet": _with_subnet,
    "a security group other than the default": _with_group,
    "a gateway endpoint": _with_gateway_endpoint,
    "an attached internet gateway": _with_internet_gateway,
    "a route table other than the main one": _with_route_table,
    "a network ACL other than the default": _with_network_acl,
}


@pytest.mark.parametrize("dependency", list(VPC_DEPENDENCIES))
def test_a_vpc_with_a_dependency_cannot_be_deleted_until_it_is_gone(ec2, dependency):
    vpc = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    remove = VPC_DEPENDENCIES[dependency](ec2, vpc)
    assert refused(ec2.delete_vpc, VpcId=vpc) == vpc_violation(vpc)
    assert ec2.describe_vpcs(VpcIds=[vpc])["Vpcs"]  # still there
    remove()
    ec2.delete_vpc(VpcId=vpc)  # the default group, route table and network ACL go with it
    vpc_filter = [{"Name": "vpc-id", "Values": [vpc]}]
    assert ec2.describe_vpcs(Filters=vpc_filter)["Vpcs"] == []
    assert ec2.describe_network_acls(Filters=vpc_filter)["NetworkAcls"] == []


def test_a_subnet_with_an_instance_cannot_be_deleted_until_it_is_terminated(emulator, ec2):
    vpc, (subnet,), group = network(ec2)
    instance = launch(emulator, ec2, subnet, [group])
    assert refused(ec2.delete_subnet, SubnetId=subnet) == subnet_violation(subnet)
    ec2.stop_instances(InstanceIds=[instance])  # a stopped instance still holds it
    assert refused(ec2.delete_subnet, SubnetId=subnet) == subnet_violation(subnet)
    assert ec2.describe_subnets(SubnetIds=[subnet])["Subnets"]
    terminate(ec2, instance)
    assert interfaces(ec2, vpc) == []  # AWS deletes a terminated instance's primary interface
    ec2.delete_subnet(SubnetId=subnet)


def test_a_subnet_with_an_endpoint_interface_or_any_interface_cannot_be_deleted(ec2):
    vpc, (subnet,), group = network(ec2)
    created = interface_endpoint(ec2, vpc, [subnet], [group])
    assert refused(ec2.delete_subnet, SubnetId=subnet) == subnet_violation(subnet)
    ec2.delete_vpc_endpoints(VpcEndpointIds=[created["VpcEndpointId"]])
    eni = ec2.create_network_interface(SubnetId=subnet)["NetworkInterface"]["NetworkInterfaceId"]
    assert refused(ec2.delete_subnet, SubnetId=subnet) == subnet_violation(subnet)
    ec2.delete_network_interface(NetworkInterfaceId=eni)
    ec2.delete_subnet(SubnetId=subnet)


def test_a_group_used_by_an_instance_cannot_be_deleted_until_it_is_terminated(emulator, ec2):
    vpc, (subnet,), group = network(ec2)
    instance = launch(emulator, ec2, subnet, [group])
    assert refused(ec2.delete_security_group, GroupId=group) == group_violation(group)
    terminate(ec2, instance)
    ec2.delete_security_group(GroupId=group)


def test_a_group_used_by_an_endpoint_cannot_be_deleted_until_the_endpoint_is(ec2):
    vpc, subnets, group = network(ec2)
    created = interface_endpoint(ec2, vpc, subnets, [group])
    assert refused(ec2.delete_security_group, GroupId=group) == group_violation(group)
    ec2.delete_vpc_endpoints(VpcEndpointIds=[created["VpcEndpointId"]])
    ec2.delete_security_group(GroupId=group)


def test_a_group_used_by_a_network_interface_cannot_be_deleted(ec2):
    vpc, (subnet,), group = network(ec2)
    eni = ec2.create_network_interface(SubnetId=subnet, Groups=[group])["NetworkInterface"]["NetworkInterfaceId"]
    assert refused(ec2.delete_security_group, GroupId=group) == group_violation(group)
    ec2.delete_network_interface(NetworkInterfaceId=eni)
    ec2.delete_security_group(GroupId=group)


@pytest.mark.parametrize("direction", ["ingress", "egress"])
def test_a_group_referenced_by_another_groups_rule_cannot_be_deleted(ec2, direction):
    vpc, _, group = network(ec2)
    other = ec2.create_security_group(GroupName="referrer", Description="referrer", VpcId=vpc)["GroupId"]
    rule = [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "UserIdGroupPairs": [{"GroupId": group}]}]
    authorize = getattr(ec2, f"authorize_security_group_{direction}")
    authorize(GroupId=other, IpPermissions=rule)
    assert refused(ec2.delete_security_group, GroupId=group) == group_violation(group)
    getattr(ec2, f"revoke_security_group_{direction}")(GroupId=other, IpPermissions=rule)
    ec2.delete_security_group(GroupId=group)


def test_a_group_that_refers_only_to_itself_can_be_deleted(ec2):
    _, _, group = network(ec2)
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[
        {"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": group}]}])
    ec2.delete_security_group(GroupId=group)


def test_the_default_group_cannot_be_deleted(ec2):
    vpc, _, _ = network(ec2)
    default = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]},
                                                    {"Name": "group-name", "Values": ["default"]}])["SecurityGroups"][0]
    assert refused(ec2.delete_security_group, GroupId=default["GroupId"]) == (
        "CannotDelete", f'the specified group: "{default["GroupId"]}" name: "default" cannot be deleted by a user')


# -- a whole lab: teardown in the right order, and in the wrong one -----------------------------------


def _lab_ids(result) -> dict:
    r = result.results
    return {
        "vpc": r["network"].vpc_id,
        "subnets": list(r["network"].subnet_ids),
        "route_table": r["network"].route_table_id,
        "groups": [r["security-groups"].instance_sg_id, r["security-groups"].endpoint_sg_id],
        "instance_sg": r["security-groups"].instance_sg_id,
        "endpoint_sg": r["security-groups"].endpoint_sg_id,
        "endpoints": [e.endpoint_id for e in r["endpoints"].endpoints],
        "instance": r["instance"].instance_id,
        "role": r["iam"].role_name,
        "profile": r["iam"].profile_name,
    }


def _lab_snapshot(ec2, lab: str) -> dict:
    """What of the lab exists, read back independently of ssmlab."""
    by_tag = [{"Name": f"tag:{TAG_KEY}", "Values": [lab]}]
    return {
        "vpcs": sorted(v["VpcId"] for v in ec2.describe_vpcs(Filters=by_tag)["Vpcs"]),
        "subnets": sorted(s["SubnetId"] for s in ec2.describe_subnets(Filters=by_tag)["Subnets"]),
        "route_tables": sorted(t["RouteTableId"] for t in ec2.describe_route_tables(Filters=by_tag)["RouteTables"]),
        "groups": sorted(g["GroupId"] for g in ec2.describe_security_groups(Filters=by_tag)["SecurityGroups"]),
        "endpoints": sorted(e["VpcEndpointId"] for e in ec2.describe_vpc_endpoints(Filters=by_tag)["VpcEndpoints"]
                            if e["State"].lower() not in ("deleted", "deleting")),
        "instances": sorted((i["InstanceId"], i["State"]["Name"]) for r in ec2.describe_instances(Filters=by_tag)["Reservations"]
                            for i in r["Instances"]),
    }


def test_a_built_lab_has_endpoint_interfaces_with_distinct_addresses_of_its_subnet(emulator, ec2):
    lab = Lab("rz-addresses", REGION, "emulator")
    ids = _lab_ids(build(lab))
    subnet = cidr_of(ec2, ids["subnets"][0])
    enis = interfaces(ec2, ids["vpc"])
    endpoint_enis = [n for n in enis if n["InterfaceType"] == "vpc_endpoint"]
    assert len(endpoint_enis) == len(ids["endpoints"]) == 2
    addresses = [n["PrivateIpAddress"] for n in enis]
    assert len(set(addresses)) == len(addresses) == 3  # two endpoints and the instance
    assert all(ipaddress.ip_address(a) in subnet for a in addresses)
    assert all([g["GroupId"] for g in n["Groups"]] == [ids["endpoint_sg"]] for n in endpoint_enis)


def test_a_built_lab_tears_down_in_the_right_order(emulator, ec2):
    lab = Lab("rz-teardown", REGION, "emulator")
    ids = _lab_ids(build(lab))
    iam = client(emulator, "iam")

    terminate(ec2, ids["instance"])
    ec2.delete_vpc_endpoints(VpcEndpointIds=ids["endpoints"])
    for group in ids["groups"]:
        ec2.delete_security_group(GroupId=group)
    for subnet in ids["subnets"]:
        ec2.delete_subnet(SubnetId=subnet)
    ec2.delete_route_table(RouteTableId=ids["route_table"])
    ec2.delete_vpc(VpcId=ids["vpc"])
    iam.remove_role_from_instance_profile(InstanceProfileName=ids["profile"], RoleName=ids["role"])
    iam.delete_instance_profile(InstanceProfileName=ids["profile"])
    for policy in iam.list_attached_role_policies(RoleName=ids["role"])["AttachedPolicies"]:
        iam.detach_role_policy(RoleName=ids["role"], PolicyArn=policy["PolicyArn"])
    for name in iam.list_role_policies(RoleName=ids["role"])["PolicyNames"]:
        iam.delete_role_policy(RoleName=ids["role"], PolicyName=name)
    iam.delete_role(RoleName=ids["role"])

    left = _lab_snapshot(ec2, lab.name)
    assert left == {"vpcs": [], "subnets": [], "route_tables": [], "groups": [], "endpoints": [],
                    "instances": [(ids["instance"], "terminated")]}
    assert ec2.describe_network_interfaces(Filters=[{"Name": "vpc-id", "Values": [ids["vpc"]]}])["NetworkInterfaces"] == []
    for call, kwargs in ((iam.get_role, {"RoleName": ids["role"]}),
                         (iam.get_instance_profile, {"InstanceProfileName": ids["profile"]})):
        with pytest.raises(ClientError) as gone:
            call(**kwargs)
        assert gone.value.response["Error"]["Code"] == "NoSuchEntity"


def test_a_built_lab_refuses_the_wrong_order_and_stays_intact(emulator, ec2):
    lab = Lab("rz-wrong-order", REGION, "emulator")
    ids = _lab_ids(build(lab))
    before = _lab_snapshot(ec2, lab.name)

    assert refused(ec2.delete_vpc, VpcId=ids["vpc"]) == vpc_violation(ids["vpc"])
    subnet = ids["subnets"][0]
    assert refused(ec2.delete_subnet, SubnetId=subnet) == subnet_violation(subnet)  # instance still running
    assert refused(ec2.delete_security_group, GroupId=ids["instance_sg"]) == group_violation(ids["instance_sg"])
    assert refused(ec2.delete_security_group, GroupId=ids["endpoint_sg"]) == group_violation(ids["endpoint_sg"])
    assert refused(ec2.delete_route_table, RouteTableId=ids["route_table"])[0] == "DependencyViolation"  # still associated
    assert _lab_snapshot(ec2, lab.name) == before

    # With the instance gone, the endpoints' interfaces still hold the subnet and their group.
    terminate(ec2, ids["instance"])
    assert refused(ec2.delete_subnet, SubnetId=subnet) == subnet_violation(subnet)
    assert refused(ec2.delete_security_group, GroupId=ids["endpoint_sg"]) == group_violation(ids["endpoint_sg"])
    assert refused(ec2.delete_vpc, VpcId=ids["vpc"]) == vpc_violation(ids["vpc"])
    ec2.delete_security_group(GroupId=ids["instance_sg"])  # nothing uses it any more
    after = _lab_snapshot(ec2, lab.name)
    assert after["subnets"] == before["subnets"] and after["endpoints"] == before["endpoints"]
    assert after["vpcs"] == before["vpcs"] and after["groups"] == [ids["endpoint_sg"]]
