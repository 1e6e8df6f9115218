"""Step 1, the network: a VPC with DNS on, one private subnet per AZ, a route table with no way out.

Private DNS on an interface endpoint needs both enableDnsSupport and enableDnsHostnames
(EC2 API reference, CreateVpcEndpoint, PrivateDnsEnabled); a new VPC has DnsHostnames off.
There is deliberately no internet gateway and no NAT: the agent reaches Systems Manager
only through the endpoints of step 3.
"""

from __future__ import annotations

from dataclasses import dataclass

from botocore.exceptions import ClientError

from ssmlab import addressing
from ssmlab.aws import describe_all, error_code, explained, only, wait
from ssmlab.errors import BadInput, LabError
from ssmlab.idempotent import create_or_adopt, create_with_token
from ssmlab.lab import Lab


@dataclass(frozen=True)
class Network:
    vpc_id: str
    cidr: str
    subnet_ids: tuple[str, ...]
    subnet_cidrs: tuple[str, ...]
    azs: tuple[str, ...]
    route_table_id: str
    created: tuple[str, ...] = ()


def available_azs(lab: Lab) -> list[str]:
    """The region's AZs that can take a subnet (Local Zones and Wavelength excluded)."""
    with explained("listing the region's availability zones"):
        zones = lab.client("ec2").describe_availability_zones(
            Filters=[{"Name": "state", "Values": ["available"]}, {"Name": "zone-type", "Values": ["availability-zone"]}]
        )["AvailabilityZones"]
    return sorted(z["ZoneName"] for z in zones)


def choose_azs(lab: Lab, count: int) -> list[str]:
    if count < 1:
        raise BadInput(f"invalid AZ count {count}: expected at least 1")
    zones = available_azs(lab)
    if count > len(zones):
        raise BadInput(f"invalid AZ count {count}: {lab.region} has {len(zones)} availability zones ({', '.join(zones)})")
    return zones[:count]


def ensure(
    lab: Lab,
    cidr: str = addressing.DEFAULT_VPC_CIDR,
    azs: int | list[str] = 1,
    subnet_cidrs: list[str] | None = None,
) -> Network:
    """Find or create the lab's VPC, subnets and route table; converge the DNS attributes."""
    zones = azs if isinstance(azs, list) else choose_azs(lab, azs)
    blocks = addressing.subnet_cidrs(cidr, len(zones), subnet_cidrs)
    ec2 = lab.client("ec2")
    created: list[str] = []

    def find_vpc() -> dict | None:
        with explained("looking up the lab's VPC"):
            return only(describe_all(ec2, "describe_vpcs", "Vpcs", Filters=[lab.tag_filter]), "VPC", "VpcId", lab)

    vpc = find_vpc()
    if vpc is None:
        vpc, new = create_or_adopt(
            lab, "ec2", "creating the VPC",
            lambda client: client.create_vpc(CidrBlock=cidr, TagSpecifications=lab.tag_specifications("vpc", "vpc"))["Vpc"],
            find_vpc,
        )
        if new:
            created.append(vpc["VpcId"])
        wait(lab, "ec2", "vpc_available", VpcIds=[vpc["VpcId"]])
    if vpc["CidrBlock"] != cidr:
        raise BadInput(
            f"invalid VPC CIDR {cidr!r}: lab {lab.name!r} already has {vpc['VpcId']} with {vpc['CidrBlock']}; "
            f"pass --cidr {vpc['CidrBlock']} or clean the lab up first"
        )
    vpc_id = vpc["VpcId"]
    _ensure_dns(lab, vpc_id, fresh=vpc_id in created)

    subnets = _ensure_subnets(lab, vpc_id, zones, blocks, created)
    route_table_id = _ensure_route_table(lab, vpc_id, [s["SubnetId"] for s in subnets], created)
    return Network(
        vpc_id=vpc_id,
        cidr=cidr,
        subnet_ids=tuple(s["SubnetId"] for s in subnets),
        subnet_cidrs=tuple(s["CidrBlock"] for s in subnets),
        azs=tuple(s["AvailabilityZone"] for s in subnets),
        route_table_id=route_table_id,
        created=tuple(created),
    )


def _ensure_dns(lab: Lab, vpc_id: str, fresh: bool) -> None:
    """Both DNS attributes on; AWS takes one attribute per ModifyVpcAttribute call."""
    ec2 = lab.client("ec2")
    for attribute, key in (("enableDnsSupport", "EnableDnsSupport"), ("enableDnsHostnames", "EnableDnsHostnames")):
        if not fresh:
            with explained(f"reading the VPC's {attribute}"):
                current = ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute=attribute)[key]["Value"]
            if current:
                continue
        with explained(f"turning on the VPC's {attribute}"):
            ec2.modify_vpc_attribute(VpcId=vpc_id, **{key: {"Value": True}})


def _ensure_subnets(lab: Lab, vpc_id: str, zones: list[str], blocks: list[str], created: list[str]) -> list[dict]:
    ec2 = lab.client("ec2")
    with explained("looking up the lab's subnets"):
        existing = describe_all(
            ec2, "describe_subnets", "Subnets", Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, lab.tag_filter]
        )
    by_zone = {s["AvailabilityZone"]: s for s in existing}
    subnets = []
    for zone, block in zip(zones, blocks):
        subnet = by_zone.get(zone)
        if subnet is None:
            suffix = zone[len(lab.region) :] or zone
            subnet, new = create_or_adopt(
                lab, "ec2", f"creating the private subnet {block} in {zone}",
                lambda client: client.create_subnet(
                    VpcId=vpc_id,
                    CidrBlock=block,
                    AvailabilityZone=zone,
                    TagSpecifications=lab.tag_specifications("subnet", f"private-{suffix}"),
                )["Subnet"],
                lambda: _lab_subnet(lab, vpc_id, zone),
                exists=("InvalidSubnet.Conflict",),  # a retry whose first attempt created it
            )
            if new:
                created.append(subnet["SubnetId"])
            wait(lab, "ec2", "subnet_available", SubnetIds=[subnet["SubnetId"]])
        subnets.append(subnet)
    return subnets


def _lab_subnet(lab: Lab, vpc_id: str, zone: str) -> dict | None:
    with explained(f"looking up the lab's subnet in {zone}"):
        found = describe_all(lab.client("ec2"), "describe_subnets", "Subnets", Filters=[
            {"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "availability-zone", "Values": [zone]}, lab.tag_filter])
    return only(found, "subnet", "SubnetId", lab)


def _ensure_route_table(lab: Lab, vpc_id: str, subnet_ids: list[str], created: list[str]) -> str:
    """A route table of the lab's own, holding only the VPC's local route, on every lab subnet."""
    ec2 = lab.client("ec2")
    with explained("looking up the lab's route table"):
        table = only(
            describe_all(
                ec2,
                "describe_route_tables",
                "RouteTables",
                Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, lab.tag_filter],
            ),
            "route table",
            "RouteTableId",
            lab,
        )
    if table is None:
        with explained("creating the private route table"):
            answer = create_with_token(
                lab, "private route table",
                {"VpcId": vpc_id, "TagSpecifications": lab.tag_specifications("route-table", "private-rt")},
                ec2.create_route_table, alive=lambda answer: _exists(lab, answer["RouteTable"]["RouteTableId"]),
            )
        table = answer["RouteTable"]
        created.append(table["RouteTableId"])
    associated = {a.get("SubnetId") for a in table.get("Associations", [])}
    for subnet_id in subnet_ids:
        if subnet_id in associated:
            continue
        with explained(f"associating {subnet_id} with the private route table"):
            try:
                ec2.associate_route_table(RouteTableId=table["RouteTableId"], SubnetId=subnet_id)
            except ClientError as error:  # the subnet sits on another table: move it over
                if error_code(error) != "Resource.AlreadyAssociated":
                    raise
                _move_subnet(lab, subnet_id, table["RouteTableId"])
    return table["RouteTableId"]


def _exists(lab: Lab, route_table_id: str) -> bool:
    """A route table has no deleted state: a token that names a deleted one answers with an id that is gone."""
    from ssmlab.aws import get_or_none

    with explained(f"looking up the route table {route_table_id}"):
        found = get_or_none(lab.client("ec2").describe_route_tables, missing=("InvalidRouteTableID.NotFound",),
                            RouteTableIds=[route_table_id])
    return bool(found and found.get("RouteTables"))


def _move_subnet(lab: Lab, subnet_id: str, route_table_id: str) -> None:
    ec2 = lab.client("ec2")
    tables = describe_all(
        ec2, "describe_route_tables", "RouteTables", Filters=[{"Name": "association.subnet-id", "Values": [subnet_id]}]
    )
    for table in tables:
        for association in table.get("Associations", []):
            if association.get("SubnetId") == subnet_id:
                if table["RouteTableId"] == route_table_id:  # a retry of an association that went through
                    return
                ec2.replace_route_table_association(
                    AssociationId=association["RouteTableAssociationId"], RouteTableId=route_table_id
                )
                return
    raise LabError(f"subnet {subnet_id} is associated with another route table that could not be found")
