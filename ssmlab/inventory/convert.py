"""API answers (boto3 dicts) into the model's frozen dataclasses: one function per resource, no calls."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from ssmlab.model import (
    Imds,
    Instance,
    NaclEntry,
    NetworkAcl,
    NetworkInterface,
    Route,
    RouteTable,
    SecurityGroup,
    SgRule,
    Subnet,
    Tags,
    Volume,
    Vpc,
    VpcEndpoint,
)


def _tags(resource: dict[str, Any]) -> Tags:
    return tuple(sorted((t["Key"], t["Value"]) for t in resource.get("Tags") or []))


def _doc(document: Any) -> dict:
    """IAM documents arrive as dicts from boto3, or as (URL-encoded) JSON strings from some tools."""
    if isinstance(document, str):
        return json.loads(unquote(document))
    return document or {}


def _vpc(v: dict, dns: tuple[bool, bool]) -> Vpc:
    return Vpc(v["VpcId"], v["CidrBlock"], dns[0], dns[1], bool(v.get("IsDefault")), _tags(v))


def _subnet(s: dict) -> Subnet:
    return Subnet(s["SubnetId"], s["VpcId"], s["CidrBlock"], s["AvailabilityZone"], bool(s.get("MapPublicIpOnLaunch")), _tags(s))


def _route_target(route: dict) -> str:
    for key in ("GatewayId", "NatGatewayId", "TransitGatewayId", "VpcPeeringConnectionId", "NetworkInterfaceId", "InstanceId"):
        if route.get(key):
            return route[key]
    return "unknown"


def _route_table(t: dict) -> RouteTable:
    associations = t.get("Associations", [])
    return RouteTable(
        route_table_id=t["RouteTableId"],
        vpc_id=t["VpcId"],
        main=any(a.get("Main") for a in associations),
        subnet_ids=tuple(a["SubnetId"] for a in associations if a.get("SubnetId")),
        routes=tuple(
            Route(
                r.get("DestinationCidrBlock") or r.get("DestinationPrefixListId") or r.get("DestinationIpv6CidrBlock", ""),
                _route_target(r),
                r.get("State", "active"),
            )
            for r in t.get("Routes", [])
        ),
        tags=_tags(t),
    )


def _nacl(n: dict) -> NetworkAcl:
    return NetworkAcl(
        nacl_id=n["NetworkAclId"],
        vpc_id=n["VpcId"],
        is_default=bool(n.get("IsDefault")),
        subnet_ids=tuple(a["SubnetId"] for a in n.get("Associations", []) if a.get("SubnetId")),
        entries=tuple(
            NaclEntry(
                rule_number=int(e["RuleNumber"]),
                egress=bool(e["Egress"]),
                protocol=str(e["Protocol"]),
                action=e["RuleAction"],
                cidr=e.get("CidrBlock") or e.get("Ipv6CidrBlock", ""),
                port_from=e.get("PortRange", {}).get("From"),
                port_to=e.get("PortRange", {}).get("To"),
            )
            for e in n.get("Entries", [])
        ),
        tags=_tags(n),
    )


def _rules(permissions: list[dict]) -> tuple[SgRule, ...]:
    """Flatten AWS's grouped IpPermissions into one SgRule per source or destination."""
    rules: list[SgRule] = []
    for p in permissions:
        base = dict(protocol=str(p.get("IpProtocol")), port_from=p.get("FromPort"), port_to=p.get("ToPort"))
        for r in p.get("IpRanges", []):
            rules.append(SgRule(**base, cidr=r.get("CidrIp"), description=r.get("Description")))
        for r in p.get("Ipv6Ranges", []):
            rules.append(SgRule(**base, ipv6_cidr=r.get("CidrIpv6"), description=r.get("Description")))
        for r in p.get("PrefixListIds", []):
            rules.append(SgRule(**base, prefix_list_id=r.get("PrefixListId"), description=r.get("Description")))
        for r in p.get("UserIdGroupPairs", []):
            rules.append(SgRule(**base, source_group_id=r.get("GroupId"), description=r.get("Description")))
    return tuple(rules)


def _security_group(g: dict) -> SecurityGroup:
    return SecurityGroup(
        group_id=g["GroupId"],
        name=g["GroupName"],
        vpc_id=g.get("VpcId", ""),
        description=g.get("Description", ""),
        ingress=_rules(g.get("IpPermissions", [])),
        egress=_rules(g.get("IpPermissionsEgress", [])),
        tags=_tags(g),
    )


def _endpoint(e: dict) -> VpcEndpoint:
    return VpcEndpoint(
        endpoint_id=e["VpcEndpointId"],
        vpc_id=e["VpcId"],
        service_name=e["ServiceName"],
        endpoint_type=e.get("VpcEndpointType", "Interface"),
        state=str(e.get("State", "")).lower(),
        private_dns=bool(e.get("PrivateDnsEnabled")),
        subnet_ids=tuple(e.get("SubnetIds", [])),
        group_ids=tuple(g["GroupId"] for g in e.get("Groups", [])),
        route_table_ids=tuple(e.get("RouteTableIds", [])),
        network_interface_ids=tuple(e.get("NetworkInterfaceIds", [])),
        dns_names=tuple(d.get("DnsName", "") for d in e.get("DnsEntries", [])),
        created=e.get("CreationTimestamp"),
        tags=_tags(e),
    )


def _eni(n: dict) -> NetworkInterface:
    return NetworkInterface(
        eni_id=n["NetworkInterfaceId"],
        subnet_id=n.get("SubnetId", ""),
        vpc_id=n.get("VpcId", ""),
        private_ip=n.get("PrivateIpAddress", ""),
        group_ids=tuple(g["GroupId"] for g in n.get("Groups", [])),
        interface_type=n.get("InterfaceType", "interface"),
        requester_managed=bool(n.get("RequesterManaged")),
        description=n.get("Description", ""),
        instance_id=(n.get("Attachment") or {}).get("InstanceId"),
        tags=_tags({"Tags": n.get("TagSet") or n.get("Tags") or []}),
    )


def _instance_groups(i: dict) -> tuple[str, ...]:
    """The instance's security groups are its primary network interface's (EC2 User Guide)."""
    primary = next(
        (n for n in i.get("NetworkInterfaces", []) if (n.get("Attachment") or {}).get("DeviceIndex") == 0), None
    )
    groups = (primary or {}).get("Groups") or i.get("SecurityGroups", [])
    return tuple(g["GroupId"] for g in groups)


def _instance(i: dict, volumes: dict[str, dict]) -> Instance:
    options = i.get("MetadataOptions", {})
    return Instance(
        instance_id=i["InstanceId"],
        state=i["State"]["Name"],
        vpc_id=i.get("VpcId"),
        subnet_id=i.get("SubnetId"),
        private_ip=i.get("PrivateIpAddress"),
        public_ip=i.get("PublicIpAddress"),
        image_id=i.get("ImageId", ""),
        instance_type=i.get("InstanceType", ""),
        group_ids=_instance_groups(i),
        profile_arn=(i.get("IamInstanceProfile") or {}).get("Arn"),
        imds=Imds(
            http_endpoint=options.get("HttpEndpoint", "enabled"),
            http_tokens=options.get("HttpTokens", "optional"),
            hop_limit=int(options.get("HttpPutResponseHopLimit", 1)),
        ),
        root_device=i.get("RootDeviceName"),
        volumes=tuple(
            Volume(
                volume_id=m["Ebs"]["VolumeId"],
                device=m["DeviceName"],
                encrypted=bool(volumes.get(m["Ebs"]["VolumeId"], {}).get("Encrypted")),
            )
            for m in i.get("BlockDeviceMappings", [])
            if "Ebs" in m
        ),
        launch_time=i.get("LaunchTime"),
        tags=_tags(i),
    )
