"""The network a lab is made of: VPC, subnets, routes, ACLs, security groups, endpoints. Pure data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ssmlab.model.tags import Tags

GONE_ENDPOINT_STATES = ("deleted", "deleting", "failed", "rejected", "expired")
LIVE_EICE_STATES = ("create-in-progress", "create-complete", "delete-in-progress", "create-failed", "delete-failed")


@dataclass(frozen=True)
class Vpc:
    vpc_id: str
    cidr: str
    dns_support: bool
    dns_hostnames: bool
    is_default: bool = False
    tags: Tags = ()


@dataclass(frozen=True)
class Subnet:
    subnet_id: str
    vpc_id: str
    cidr: str
    az: str
    map_public_ip: bool = False
    tags: Tags = ()


@dataclass(frozen=True)
class Route:
    destination: str  # a CIDR or a prefix list id
    target: str  # "local", igw-..., nat-..., vpce-..., ...
    state: str = "active"


@dataclass(frozen=True)
class RouteTable:
    route_table_id: str
    vpc_id: str
    main: bool
    subnet_ids: tuple[str, ...]
    routes: tuple[Route, ...]
    tags: Tags = ()


@dataclass(frozen=True)
class NaclEntry:
    rule_number: int
    egress: bool
    protocol: str  # "-1" (all), "6" (tcp), "17" (udp), ...
    action: str  # "allow" | "deny"
    cidr: str
    port_from: int | None = None
    port_to: int | None = None


@dataclass(frozen=True)
class NetworkAcl:
    nacl_id: str
    vpc_id: str
    is_default: bool
    subnet_ids: tuple[str, ...]
    entries: tuple[NaclEntry, ...]
    tags: Tags = ()


@dataclass(frozen=True)
class SgRule:
    protocol: str  # "-1" for all, else "tcp", "udp", "icmp" or a number
    port_from: int | None
    port_to: int | None
    cidr: str | None = None
    ipv6_cidr: str | None = None
    prefix_list_id: str | None = None
    source_group_id: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class SecurityGroup:
    group_id: str
    name: str
    vpc_id: str
    description: str
    ingress: tuple[SgRule, ...]
    egress: tuple[SgRule, ...]
    tags: Tags = ()


@dataclass(frozen=True)
class PrefixList:
    """A managed prefix list (AWS's, like com.amazonaws.<region>.s3, or the account's own).

    Security-group rules and routes name a list by id; what it covers is only known
    from its entries, which is what netpath needs to match addresses against it.
    """

    prefix_list_id: str
    name: str
    cidrs: tuple[str, ...]


@dataclass(frozen=True)
class NetworkInterface:
    eni_id: str
    subnet_id: str
    vpc_id: str
    private_ip: str
    group_ids: tuple[str, ...]
    interface_type: str
    requester_managed: bool
    description: str = ""
    instance_id: str | None = None  # the instance it is attached to, if any
    tags: Tags = ()


@dataclass(frozen=True)
class VpcEndpoint:
    endpoint_id: str
    vpc_id: str
    service_name: str
    endpoint_type: str  # "Interface" | "Gateway"
    state: str
    private_dns: bool
    subnet_ids: tuple[str, ...]
    group_ids: tuple[str, ...]
    route_table_ids: tuple[str, ...]
    network_interface_ids: tuple[str, ...]
    dns_names: tuple[str, ...]
    created: datetime | None = None
    tags: Tags = ()

    @property
    def service(self) -> str:
        """The short name: ssm, ssmmessages, ec2messages, logs, s3, ..."""
        return self.service_name.rsplit(".", 1)[-1]


@dataclass(frozen=True)
class EicEndpoint:
    """An EC2 Instance Connect Endpoint (one per VPC at most)."""

    endpoint_id: str
    vpc_id: str
    subnet_id: str
    state: str
    network_interface_ids: tuple[str, ...] = ()
    created: datetime | None = None
    tags: Tags = ()
