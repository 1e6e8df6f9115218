"""The only reader: `snapshot(...)` reads a lab, a VPC or one instance's VPC into a LabState.

Everything downstream (status, doctor, diagrams, cost, teardown plan) is a pure function
of the LabState, so it is made of frozen dataclasses with no clients inside. Reads are
filtered by VPC and paginated, so the number of EC2 calls per VPC does not grow with the
number of subnets, groups, endpoints or instances in it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, Callable
from urllib.parse import unquote

from ssmlab.aws import describe_all, explained, get_or_none, together
from ssmlab.kmskey import KmsKey
from ssmlab.lab import TAG_KEY, Lab

Tags = tuple[tuple[str, str], ...]
LAUNCHED_STATES = ["pending", "running", "stopping", "stopped"]  # an instance that is the lab's to keep or start
LIVE_INSTANCE_STATES = LAUNCHED_STATES + ["shutting-down"]  # terminated ones are gone
GONE_ENDPOINT_STATES = ("deleted", "deleting", "failed", "rejected", "expired")


def _tags(resource: dict[str, Any]) -> Tags:
    return tuple(sorted((t["Key"], t["Value"]) for t in resource.get("Tags") or []))


def _doc(document: Any) -> dict:
    """IAM documents arrive as dicts from boto3, or as (URL-encoded) JSON strings from some tools."""
    if isinstance(document, str):
        return json.loads(unquote(document))
    return document or {}


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
class Imds:
    http_endpoint: str  # "enabled" | "disabled"
    http_tokens: str  # "required" (IMDSv2 only) | "optional"
    hop_limit: int = 1


@dataclass(frozen=True)
class Volume:
    volume_id: str
    device: str
    encrypted: bool


@dataclass(frozen=True)
class Instance:
    instance_id: str
    state: str
    vpc_id: str | None
    subnet_id: str | None
    private_ip: str | None
    public_ip: str | None
    image_id: str
    instance_type: str
    group_ids: tuple[str, ...]
    profile_arn: str | None
    imds: Imds
    root_device: str | None
    volumes: tuple[Volume, ...]
    launch_time: datetime | None = None
    tags: Tags = ()

    @property
    def root_volume(self) -> Volume | None:
        return next((v for v in self.volumes if v.device == self.root_device), None)


@dataclass(frozen=True)
class Image:
    image_id: str
    name: str
    owner: str = ""


@dataclass(frozen=True)
class Policy:
    """A managed (arn set) or inline (arn None) policy with its document."""

    name: str
    document: dict = field(hash=False)
    arn: str | None = None


@dataclass(frozen=True)
class Role:
    name: str
    arn: str
    trust_policy: dict = field(hash=False)
    managed_policies: tuple[Policy, ...] = ()
    inline_policies: tuple[Policy, ...] = ()
    tags: Tags = ()


@dataclass(frozen=True)
class InstanceProfile:
    name: str
    arn: str
    role_names: tuple[str, ...]
    tags: Tags = ()


@dataclass(frozen=True)
class LabState:
    """Everything read back about one lab (or one VPC), at one moment."""

    region: str
    lab: str | None = None
    vpcs: tuple[Vpc, ...] = ()
    subnets: tuple[Subnet, ...] = ()
    route_tables: tuple[RouteTable, ...] = ()
    network_acls: tuple[NetworkAcl, ...] = ()
    security_groups: tuple[SecurityGroup, ...] = ()
    endpoints: tuple[VpcEndpoint, ...] = ()
    network_interfaces: tuple[NetworkInterface, ...] = ()
    prefix_lists: tuple[PrefixList, ...] = ()
    images: tuple[Image, ...] = ()
    instances: tuple[Instance, ...] = ()
    instance_profiles: tuple[InstanceProfile, ...] = ()
    roles: tuple[Role, ...] = ()
    session_preferences: dict | None = None  # the region's preferences' inputs (read for a lab's snapshot only)
    kms_keys: tuple[KmsKey, ...] = ()  # the lab's session key and the one the preferences name (`kmskey`; likewise)
    taken_at: datetime | None = None

    def instance(self, instance_id: str) -> Instance | None:
        return next((i for i in self.instances if i.instance_id == instance_id), None)

    def security_group(self, group_id: str) -> SecurityGroup | None:
        return next((g for g in self.security_groups if g.group_id == group_id), None)

    def subnet(self, subnet_id: str) -> Subnet | None:
        return next((s for s in self.subnets if s.subnet_id == subnet_id), None)

    def vpc(self, vpc_id: str | None) -> Vpc | None:
        return next((v for v in self.vpcs if v.vpc_id == vpc_id), None)

    def profile(self, arn: str | None) -> InstanceProfile | None:
        return next((p for p in self.instance_profiles if p.arn == arn), None)

    def role(self, name: str) -> Role | None:
        return next((r for r in self.roles if r.name == name), None)

    def image(self, image_id: str | None) -> Image | None:
        return next((i for i in self.images if i.image_id == image_id), None)

    def prefix_list(self, prefix_list_id: str | None) -> PrefixList | None:
        return next((p for p in self.prefix_lists if p.prefix_list_id == prefix_list_id), None)

    def endpoints_for(self, service: str) -> tuple[VpcEndpoint, ...]:
        return tuple(e for e in self.endpoints if e.service == service)

    def route_table_for(self, subnet_id: str) -> RouteTable | None:
        """The subnet's explicit route table, else the VPC's main one (as AWS routes it)."""
        explicit = next((t for t in self.route_tables if subnet_id in t.subnet_ids), None)
        if explicit:
            return explicit
        subnet = self.subnet(subnet_id)
        return next((t for t in self.route_tables if t.main and subnet and t.vpc_id == subnet.vpc_id), None)

    def network_acl_for(self, subnet_id: str) -> NetworkAcl | None:
        return next((n for n in self.network_acls if subnet_id in n.subnet_ids), None)


# --------------------------------------------------------------------------------------
# Reading (the edge)
# --------------------------------------------------------------------------------------


def snapshot(lab: Lab, *, vpc_id: str | None = None, instance_id: str | None = None) -> LabState:
    """Read the lab (by its tag), or one VPC, or the VPC of one instance, in a few filtered calls.

    Reads that do not depend on each other are made at the same time (`aws.together`): the network's
    describes, the IAM documents of the profiles known up front, and the session preferences."""
    lab_name: str | None = None if (vpc_id or instance_id) else lab.name
    for service in ("iam", "ssm") if lab_name else ("iam",):
        lab.client(service)  # made here, once: the reads below share the clients across threads
    ec2 = lab.client("ec2")
    looked_up: list[dict] = []
    if instance_id:
        with explained(f"looking up the instance {instance_id}"):
            found = get_or_none(ec2.describe_instances, missing=("InvalidInstanceID.NotFound",), InstanceIds=[instance_id])
        looked_up = [i for r in (found or {}).get("Reservations", []) for i in r["Instances"]]
        vpc_id = next((i.get("VpcId") for i in looked_up if i.get("VpcId")), None)
        if vpc_id is None:  # no such instance, or a terminated one that left its VPC
            return LabState(
                region=lab.region,
                instances=tuple(_instance(i, {}) for i in looked_up),
                taken_at=_now(ec2),
            )
    known = _profile_names(lab, looked_up, instance_id)  # read while the network is

    def vpcs_read() -> list[dict]:
        with explained("reading the VPCs"):
            if vpc_id:
                return describe_all(ec2, "describe_vpcs", "Vpcs", VpcIds=[vpc_id])
            return describe_all(ec2, "describe_vpcs", "Vpcs", Filters=[lab.tag_filter])

    if vpc_id:  # the VPC is known: it is read with the rest
        vpcs: list[dict] = []
        vpc_ids = [vpc_id]
    else:
        vpcs, iam, preferences = together(vpcs_read, lambda: _read_iam(lab, known, bool(lab_name)),
                                          lambda: _preferences(lab, lab_name))
        if not vpcs:
            return _without_vpc(lab, lab_name, iam, preferences, instance_id)
        vpc_ids = [v["VpcId"] for v in vpcs]

    by_vpc = [{"Name": "vpc-id", "Values": vpc_ids}]

    def network(operation: str, key: str, **extra: Any) -> Callable[[], list[dict]]:
        def read() -> list[dict]:
            with explained("reading the network"):
                return describe_all(ec2, operation, key, **{"Filters": by_vpc, **extra})
        return read

    def dns_read(v: str) -> Callable[[], tuple[bool, bool]]:
        def read() -> tuple[bool, bool]:
            with explained("reading the network"):
                return _dns_attributes(ec2, v)
        return read

    reads: list[Callable[[], Any]] = [
        network("describe_subnets", "Subnets"),
        network("describe_route_tables", "RouteTables"),
        network("describe_network_acls", "NetworkAcls"),
        network("describe_security_groups", "SecurityGroups"),
        network("describe_vpc_endpoints", "VpcEndpoints"),
        network("describe_network_interfaces", "NetworkInterfaces"),
        network("describe_instances", "Reservations",
                Filters=by_vpc + [{"Name": "instance-state-name", "Values": LIVE_INSTANCE_STATES}]),
        *[dns_read(v) for v in vpc_ids],
    ]
    if vpc_id:
        reads += [vpcs_read, lambda: _read_iam(lab, known, bool(lab_name)), lambda: _preferences(lab, lab_name)]
    answers = together(*reads)
    subnets, tables, acls, groups, endpoints, enis, reservations = answers[:7]
    dns = dict(zip(vpc_ids, answers[7 : 7 + len(vpc_ids)]))
    if vpc_id:
        vpcs, iam, preferences = answers[7 + len(vpc_ids):]
        if not vpcs:
            return _without_vpc(lab, lab_name, iam, preferences, instance_id)
    instances = [i for r in reservations for i in r["Instances"]]
    if instance_id and instance_id not in {i["InstanceId"] for i in instances}:
        instances += [i for i in looked_up if i["InstanceId"] == instance_id]  # terminated: still diagnosable

    def prefix_lists_read() -> tuple[PrefixList, ...]:
        with explained("reading the prefix lists used by the security groups and routes"):
            return _prefix_lists(ec2, groups, tables)

    names = _profile_names(lab, instances, instance_id)
    more = [n for n in names if n not in known]  # profiles the instances use beyond those read already
    prefix_lists, volumes, images, iam_more = together(
        prefix_lists_read, lambda: _volumes(ec2, instances), lambda: _images(ec2, instances),
        lambda: _read_iam(lab, more, own_role=False) if more else ({}, {}))
    iam = ({**iam[0], **iam_more[0]}, {**iam[1], **iam_more[1]})

    state = LabState(
        region=lab.region,
        lab=lab_name,
        vpcs=tuple(_vpc(v, dns[v["VpcId"]]) for v in vpcs),
        subnets=tuple(_subnet(s) for s in subnets),
        route_tables=tuple(_route_table(t) for t in tables),
        network_acls=tuple(_nacl(n) for n in acls),
        security_groups=tuple(_security_group(g) for g in groups),
        endpoints=tuple(_endpoint(e) for e in endpoints),
        network_interfaces=tuple(_eni(n) for n in enis),
        prefix_lists=prefix_lists,
        instances=tuple(_instance(i, volumes) for i in instances),
        images=images,
        taken_at=_now(ec2),
        session_preferences=preferences[0],
        kms_keys=preferences[1],
    )
    return _with_iam(lab, state, iam, names)


def _now(client: Any) -> datetime:
    """When the snapshot was taken, by the service's clock (lab.service_time), else this machine's."""
    from ssmlab.lab import service_time

    return service_time(client) or datetime.now(timezone.utc)


def _without_vpc(lab: Lab, lab_name: str | None, iam: tuple[dict, dict], preferences: tuple,
                 instance_id: str | None) -> LabState:
    """No VPC (yet, or any more): the lab's IAM and preferences only."""
    state = LabState(region=lab.region, lab=lab_name, taken_at=_now(lab.client("ec2")),
                     session_preferences=preferences[0], kms_keys=preferences[1])
    return _with_iam(lab, state, iam, _profile_names(lab, [], instance_id))


def _preferences(lab: Lab, lab_name: str | None) -> tuple[dict | None, tuple[KmsKey, ...]]:
    """A lab's snapshot also says whose the region's Session Manager preferences are (status checks them), and
    reads the lab's KMS key and the one they name (`kmskey.lab_key`, `kmskey.with_named`)."""
    from ssmlab import kmskey

    if not lab_name:
        return None, ()
    inputs, own = together(lambda: session_preferences(lab), lambda: kmskey.lab_key(lab))
    return inputs, kmskey.with_named(lab, (own,) if own else (), (inputs or {}).get("kmsKeyId"))


def _images(ec2: Any, instances: list[dict]) -> tuple[Image, ...]:
    """The instances' AMIs (names tell whether the SSM Agent comes preinstalled), in one call."""
    ids = sorted({i["ImageId"] for i in instances if i.get("ImageId")})
    if not ids:
        return ()
    found = get_or_none(ec2.describe_images, missing=("InvalidAMIID.NotFound", "InvalidAMIID.Unavailable"), ImageIds=ids)
    return tuple(Image(i["ImageId"], i.get("Name", ""), i.get("OwnerId", "")) for i in (found or {}).get("Images", []))


def _dns_attributes(ec2: Any, vpc_id: str) -> tuple[bool, bool]:
    support = ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute="enableDnsSupport")["EnableDnsSupport"]["Value"]
    hostnames = ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute="enableDnsHostnames")["EnableDnsHostnames"]["Value"]
    return bool(support), bool(hostnames)


def _prefix_lists(ec2: Any, groups: list[dict], tables: list[dict]) -> tuple[PrefixList, ...]:
    """The prefix lists that some SG rule or route names: one describe, then one entries read per list.

    The number of calls follows the number of distinct lists referenced (typically 0 or 1,
    the S3 list of a gateway endpoint), never the number of instances.
    """
    ids: list[str] = []
    for g in groups:
        for p in g.get("IpPermissions", []) + g.get("IpPermissionsEgress", []):
            ids.extend(r["PrefixListId"] for r in p.get("PrefixListIds", []) if r.get("PrefixListId"))
    for t in tables:
        ids.extend(r["DestinationPrefixListId"] for r in t.get("Routes", []) if r.get("DestinationPrefixListId"))
    ids = list(dict.fromkeys(ids))
    if not ids:
        return ()
    described = describe_all(ec2, "describe_managed_prefix_lists", "PrefixLists", PrefixListIds=ids)
    return tuple(
        PrefixList(
            prefix_list_id=pl["PrefixListId"],
            name=pl.get("PrefixListName", ""),
            cidrs=tuple(
                e["Cidr"]
                for e in describe_all(ec2, "get_managed_prefix_list_entries", "Entries", PrefixListId=pl["PrefixListId"])
                if e.get("Cidr")
            ),
        )
        for pl in described
    )


def _volumes(ec2: Any, instances: list[dict]) -> dict[str, dict]:
    ids = [m["Ebs"]["VolumeId"] for i in instances for m in i.get("BlockDeviceMappings", []) if "Ebs" in m]
    if not ids:
        return {}
    found: dict[str, dict] = {}
    for start in range(0, len(ids), 500):  # a filter takes a bounded number of values
        chunk = ids[start : start + 500]
        for volume in describe_all(ec2, "describe_volumes", "Volumes", Filters=[{"Name": "volume-id", "Values": chunk}]):
            found[volume["VolumeId"]] = volume
    return found


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


# --------------------------------------------------------------------------------------
# IAM: the instance profiles in use (and the lab's own), their roles and policy documents
# --------------------------------------------------------------------------------------

# AWS managed policy versions never change once published, so their documents are cached.
_MANAGED_DOCUMENTS: dict[tuple[str, str, str], dict] = {}


def _profile_names(lab: Lab, instances: list[dict], instance_id: str | None) -> list[str]:
    """The instance profiles a snapshot reads: the instances' (in their order), and the lab's own."""
    from ssmlab.steps.iam import profile_name

    names: list[str] = []
    for instance in instances:
        arn = (instance.get("IamInstanceProfile") or {}).get("Arn")
        if arn and arn.split("/")[-1] not in names:
            names.append(arn.split("/")[-1])
    if not instance_id and profile_name(lab) not in names:
        names.append(profile_name(lab))
    return names


def _read_iam(lab: Lab, profile_names: list[str], own_role: bool) -> tuple[dict, dict]:
    """The profiles (by name; None where there is none) and their roles (by name), plus the lab's own
    role when `own_role` (a snapshot of the lab, not of one instance or VPC)."""
    iam = lab.client("iam")
    profiles: dict[str, InstanceProfile | None] = {}
    role_names: list[str] = []
    for name in profile_names:
        raw = _iam_get(iam.get_instance_profile, "InstanceProfile", InstanceProfileName=name)
        profiles[name] = raw and InstanceProfile(
            raw["InstanceProfileName"], raw["Arn"], tuple(r["RoleName"] for r in raw.get("Roles", [])), _tags(raw))
        role_names.extend(r["RoleName"] for r in (raw or {}).get("Roles", []) if r["RoleName"] not in role_names)
    if own_role:
        from ssmlab.steps.iam import role_name

        if role_name(lab) not in role_names:
            role_names.append(role_name(lab))
    return profiles, {n: _read_role(lab, iam, n) for n in role_names}


def _with_iam(lab: Lab, state: LabState, iam: tuple[dict, dict], profile_names: list[str]) -> LabState:
    """The state with the profiles in `profile_names`' order, their roles, then (a lab's snapshot) the lab's own."""
    from ssmlab.steps.iam import role_name

    profiles, roles = iam
    found = [profiles[n] for n in profile_names if profiles.get(n) is not None]
    wanted = [r for p in found for r in p.role_names] + ([role_name(lab)] if state.lab else [])
    return replace(state, instance_profiles=tuple(found),
                   roles=tuple(roles[r] for r in dict.fromkeys(wanted) if roles.get(r) is not None))


def _iam_get(call: Any, key: str, **kwargs: Any) -> dict | None:
    with explained(f"reading {key} {next(iter(kwargs.values()))}"):
        found = get_or_none(call, **kwargs)
    return found[key] if found else None


def _read_role(lab: Lab, iam: Any, name: str) -> Role | None:
    raw = _iam_get(iam.get_role, "Role", RoleName=name)
    if raw is None:
        return None
    with explained(f"reading the policies of the role {name}"):
        attached = describe_all(iam, "list_attached_role_policies", "AttachedPolicies", RoleName=name)
        inline_names = describe_all(iam, "list_role_policies", "PolicyNames", RoleName=name)
        inline = tuple(
            Policy(p, _doc(iam.get_role_policy(RoleName=name, PolicyName=p)["PolicyDocument"])) for p in inline_names
        )
        managed = tuple(_managed_policy(lab, iam, p["PolicyArn"], p["PolicyName"]) for p in attached)
    return Role(
        name=raw["RoleName"],
        arn=raw["Arn"],
        trust_policy=_doc(raw.get("AssumeRolePolicyDocument")),
        managed_policies=managed,
        inline_policies=inline,
        tags=_tags(raw),
    )


def _managed_policy(lab: Lab, iam: Any, arn: str, name: str) -> Policy:
    policy = iam.get_policy(PolicyArn=arn)["Policy"]
    version = policy["DefaultVersionId"]
    key = (lab.endpoint_url or lab.target, arn, version)
    aws_managed = ":iam::aws:policy/" in arn
    if not (aws_managed and key in _MANAGED_DOCUMENTS):
        document = _doc(iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"])
        if not aws_managed:
            return Policy(name, document, arn)
        _MANAGED_DOCUMENTS[key] = document
    return Policy(name, _MANAGED_DOCUMENTS[key], arn)


# --------------------------------------------------------------------------------------
# What Systems Manager itself knows (for the doctor; not part of a snapshot, which the
# emulator's agents also take and which must not depend on Systems Manager's answers)
# --------------------------------------------------------------------------------------

DHMC_SETTING = "/ssm/managed-instance/default-ec2-instance-management-role"
UNKNOWN_ANSWERS = ("NotImplemented", "AccessDenied", "AccessDeniedException", "UnauthorizedOperation",
                   "ServiceSettingNotFound", "InvalidDocument")


@dataclass(frozen=True)
class NodeFacts:
    """DescribeInstanceInformation's view of one instance (ping_status None: not registered)."""

    instance_id: str
    ping_status: str | None
    agent_version: str | None = None
    platform: str = ""
    last_ping: datetime | None = None
    status_check: str | None = None  # EC2's instance status check: "initializing" while the instance boots


def _unknown_on_refusal(call: Any, **kwargs: Any) -> Any:
    """A call whose refusal (no permission, not emulated) means 'unknown', not a failure."""
    from botocore.exceptions import ClientError

    try:
        return call(**kwargs)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in UNKNOWN_ANSWERS:
            return None
        raise


def node_facts(lab: Lab, instance_ids: list[str]) -> dict[str, NodeFacts]:
    """One DescribeInstanceInformation per 50 instances (the filter's limit), and their EC2 status checks
    (one DescribeInstanceStatus per 100) — `initializing` tells an instance that is still booting."""
    ssm, ec2 = lab.client("ssm"), lab.client("ec2")
    checks: dict[str, str] = {}
    for start in range(0, len(instance_ids), 100):
        with explained("reading the instances' status checks"):
            for item in describe_all(ec2, "describe_instance_status", "InstanceStatuses",
                                     InstanceIds=instance_ids[start : start + 100], IncludeAllInstances=True):
                checks[item["InstanceId"]] = (item.get("InstanceStatus") or {}).get("Status")
    facts = {i: NodeFacts(i, None, status_check=checks.get(i)) for i in instance_ids}
    for start in range(0, len(instance_ids), 50):
        chunk = instance_ids[start : start + 50]
        with explained("asking Systems Manager which instances are managed nodes"):
            items = describe_all(
                ssm, "describe_instance_information", "InstanceInformationList",
                Filters=[{"Key": "InstanceIds", "Values": chunk}],
            )
        for item in items:
            facts[item["InstanceId"]] = NodeFacts(
                item["InstanceId"], item.get("PingStatus"), item.get("AgentVersion"),
                f"{item.get('PlatformName', '')} {item.get('PlatformVersion', '')}".strip(), item.get("LastPingDateTime"),
                checks.get(item["InstanceId"]),
            )
    return facts


def connection_status(lab: Lab, instance_id: str) -> str | None:
    """GetConnectionStatus: 'connected' when a session could start now; None when it cannot be asked."""
    with explained(f"asking Session Manager whether {instance_id} is connected"):
        answer = _unknown_on_refusal(lab.client("ssm").get_connection_status, Target=instance_id)
    return answer and answer.get("Status")


def session_preferences(lab: Lab) -> dict | None:
    """The inputs of the SSM-SessionManagerRunShell preferences document, if there is one."""
    with explained("reading the Session Manager preferences"):
        document = _unknown_on_refusal(
            lab.client("ssm").get_document, Name="SSM-SessionManagerRunShell", DocumentFormat="JSON"
        )
    return json.loads(document["Content"]).get("inputs", {}) if document else None


def default_host_management_role(lab: Lab) -> str | None:
    """The Default Host Management Configuration role, when the service setting names one."""
    with explained("reading the Default Host Management Configuration setting"):
        answer = _unknown_on_refusal(lab.client("ssm").get_service_setting, SettingId=DHMC_SETTING)
    value = answer and answer.get("ServiceSetting", {}).get("SettingValue")
    return value if value and value != "$None" else None


def simulate_role(lab: Lab, role_arn: str, actions: tuple[str, ...]) -> tuple[str, ...] | None:
    """The actions iam:SimulatePrincipalPolicy says the role may not do, or None if it cannot be asked."""
    with explained(f"simulating the policies of {role_arn}"):
        answer = _unknown_on_refusal(
            lab.client("iam").simulate_principal_policy, PolicySourceArn=role_arn, ActionNames=list(actions)
        )
    if answer is None:
        return None
    return tuple(r["EvalActionName"] for r in answer["EvaluationResults"] if r["EvalDecision"] != "allowed")


# --------------------------------------------------------------------------------------
# What teardown needs: everything carrying one lab's tag, with what is needed to delete it
# (kept apart from `snapshot`, which the emulator's simulated agents also take)
# --------------------------------------------------------------------------------------

LIVE_EICE_STATES = ("create-in-progress", "create-complete", "delete-in-progress", "create-failed", "delete-failed")


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


@dataclass(frozen=True)
class LogGroup:
    name: str
    tags: Tags = ()


@dataclass(frozen=True)
class Bucket:
    name: str
    tags: Tags = ()
    versions: tuple[tuple[str, str | None], ...] = ()  # (key, version id) of every object version and delete marker


@dataclass(frozen=True)
class PreferencesDocument:
    name: str
    tags: Tags = ()
    content: str = ""


@dataclass(frozen=True)
class Parameter:
    name: str
    value: str
    tags: Tags = ()


@dataclass(frozen=True)
class IamRole:
    name: str
    arn: str
    created: datetime | None = None
    managed_policy_arns: tuple[str, ...] = ()
    inline_policy_names: tuple[str, ...] = ()
    tags: Tags = ()


@dataclass(frozen=True)
class IamProfile:
    name: str
    arn: str
    role_names: tuple[str, ...] = ()
    created: datetime | None = None
    tags: Tags = ()


@dataclass(frozen=True)
class LabResources:
    """Every resource carrying the lab's tag in the region (IAM: by the lab-prefixed names, tag checked).

    `preferences` is the region's preferences document whoever created it (teardown restores
    or deletes it); `empty` counts it only when it carries the lab's tag."""

    lab: str
    region: str
    vpcs: tuple[Vpc, ...] = ()
    subnets: tuple[Subnet, ...] = ()
    route_tables: tuple[RouteTable, ...] = ()
    network_acls: tuple[NetworkAcl, ...] = ()
    security_groups: tuple[SecurityGroup, ...] = ()
    endpoints: tuple[VpcEndpoint, ...] = ()
    eic_endpoints: tuple[EicEndpoint, ...] = ()
    instances: tuple[Instance, ...] = ()
    network_interfaces: tuple[NetworkInterface, ...] = ()
    sessions: tuple[str, ...] = ()  # active Session Manager sessions to the lab's instances
    instance_profiles: tuple[IamProfile, ...] = ()
    roles: tuple[IamRole, ...] = ()
    log_group: LogGroup | None = None
    bucket: Bucket | None = None
    preferences: PreferencesDocument | None = None
    backup_parameter: Parameter | None = None
    saved_preferences: tuple[Parameter, ...] = ()  # every lab's saved copy (preferences.removal reads the chain)
    kms_keys: tuple[KmsKey, ...] = ()  # the lab's session-encryption keys, by tag (pending deletion counts as gone)

    @property
    def empty(self) -> bool:
        return not any(
            (self.vpcs, self.subnets, self.route_tables, self.network_acls, self.security_groups, self.endpoints,
             self.eic_endpoints, self.instances, self.network_interfaces, self.sessions, self.instance_profiles,
             self.roles, self.log_group, self.bucket, self.backup_parameter)
        ) and not any(k.aliases or k.state != "PendingDeletion" for k in self.kms_keys) and not (self.preferences and ("ssmlab:lab", self.lab) in self.preferences.tags)


def lab_resources(lab: Lab) -> LabResources:
    """Read everything teardown may touch: EC2 by the lab's tag, IAM by name (and tag), session logging by name."""
    from ssmlab import kmskey
    from ssmlab.steps import iam as iam_step
    from ssmlab.steps import session_logging

    ec2 = lab.client("ec2")
    by_tag = [lab.tag_filter]
    with explained(f"reading what carries the tag ssmlab:lab={lab.name}"):
        vpcs = describe_all(ec2, "describe_vpcs", "Vpcs", Filters=by_tag)
        subnets = describe_all(ec2, "describe_subnets", "Subnets", Filters=by_tag)
        tables = describe_all(ec2, "describe_route_tables", "RouteTables", Filters=by_tag)
        acls = describe_all(ec2, "describe_network_acls", "NetworkAcls", Filters=by_tag)
        groups = describe_all(ec2, "describe_security_groups", "SecurityGroups", Filters=by_tag)
        endpoints = [
            e for e in describe_all(ec2, "describe_vpc_endpoints", "VpcEndpoints", Filters=by_tag)
            if str(e.get("State", "")).lower() not in GONE_ENDPOINT_STATES
        ]
        reservations = describe_all(
            ec2, "describe_instances", "Reservations",
            Filters=by_tag + [{"Name": "instance-state-name", "Values": LIVE_INSTANCE_STATES}],
        )
        eice_answer = _unknown_on_refusal(ec2.describe_instance_connect_endpoints, Filters=by_tag) or {}
        eices = [e for e in eice_answer.get("InstanceConnectEndpoints", []) if e.get("State") in LIVE_EICE_STATES]
        vpc_ids = [v["VpcId"] for v in vpcs]
        enis = describe_all(
            ec2, "describe_network_interfaces", "NetworkInterfaces", Filters=[{"Name": "vpc-id", "Values": vpc_ids}]
        ) if vpc_ids else []
    instances = [i for r in reservations for i in r["Instances"]]
    roles, profiles = _lab_iam(lab, iam_step.IAM_PATH)
    return LabResources(
        lab=lab.name,
        region=lab.region,
        vpcs=tuple(_vpc(v, (False, False)) for v in vpcs),
        subnets=tuple(_subnet(s) for s in subnets),
        route_tables=tuple(_route_table(t) for t in tables),
        network_acls=tuple(_nacl(n) for n in acls),
        security_groups=tuple(_security_group(g) for g in groups),
        endpoints=tuple(_endpoint(e) for e in endpoints),
        eic_endpoints=tuple(
            EicEndpoint(e["InstanceConnectEndpointId"], e.get("VpcId", ""), e.get("SubnetId", ""), e.get("State", ""),
                        tuple(e.get("NetworkInterfaceIds", [])), e.get("CreatedAt"), _tags(e))
            for e in eices
        ),
        instances=tuple(_instance(i, {}) for i in instances),
        network_interfaces=tuple(_eni(n) for n in enis),
        sessions=_active_sessions(lab, [i["InstanceId"] for i in instances]),
        instance_profiles=profiles,
        roles=roles,
        log_group=_lab_log_group(lab, session_logging.log_group_name(lab)),
        bucket=_lab_bucket(lab, session_logging.bucket_name(lab)),
        preferences=preferences_document(lab),
        backup_parameter=_lab_parameter(lab, session_logging.backup_parameter(lab)),
        saved_preferences=saved_preferences(lab),
        kms_keys=kmskey.lab_keys(lab),
    )


def has_lab_tag(tags: Tags, lab: str) -> bool:
    """Whether these tags mark a resource of `lab` (the only thing teardown and status count)."""
    return (TAG_KEY, lab) in tags


def _active_sessions(lab: Lab, instance_ids: list[str]) -> tuple[str, ...]:
    """The active sessions to these instances, in one paginated DescribeSessions."""
    if not instance_ids:
        return ()
    with explained("listing the active Session Manager sessions"):
        answer = _unknown_on_refusal(
            lambda: describe_all(lab.client("ssm"), "describe_sessions", "Sessions", State="Active")
        )
    targets = set(instance_ids)
    return tuple(s["SessionId"] for s in answer or [] if s.get("Target") in targets)


def lab_iam_names(lab: Lab, path: str) -> tuple[list[str], list[str]]:
    """Role and instance profile names under `path` that start with the lab's prefix (tags not checked)."""
    iam = lab.client("iam")
    prefix = f"{lab.name}-"
    with explained(f"listing the IAM roles and instance profiles under {path}"):
        # The path is checked again here: a role or profile of the learner's own elsewhere is never the kit's,
        # whatever its name, even from an API that ignored PathPrefix.
        roles = [r["RoleName"] for r in describe_all(iam, "list_roles", "Roles", PathPrefix=path)
                 if r["RoleName"].startswith(prefix) and r.get("Path", path).startswith(path)]
        profiles = [p["InstanceProfileName"] for p in describe_all(iam, "list_instance_profiles", "InstanceProfiles", PathPrefix=path)
                    if p["InstanceProfileName"].startswith(prefix) and p.get("Path", path).startswith(path)]
    return roles, profiles


def _lab_iam(lab: Lab, path: str) -> tuple[tuple[IamRole, ...], tuple[IamProfile, ...]]:
    """The lab's roles and profiles: names with the lab's prefix under the kit's path AND the lab's tag."""
    iam = lab.client("iam")
    role_names, profile_names = lab_iam_names(lab, path)
    roles: list[IamRole] = []
    for name in role_names:
        raw = _iam_get(iam.get_role, "Role", RoleName=name)
        tags = _tags(raw or {}) or _tags({"Tags": (_tag_list(iam.list_role_tags, RoleName=name) or {}).get("Tags", [])})
        if raw is None or not has_lab_tag(tags, lab.name):
            continue
        with explained(f"reading the policies of the role {name}"):
            attached = describe_all(iam, "list_attached_role_policies", "AttachedPolicies", RoleName=name)
            inline = describe_all(iam, "list_role_policies", "PolicyNames", RoleName=name)
        roles.append(IamRole(name, raw["Arn"], raw.get("CreateDate"), tuple(p["PolicyArn"] for p in attached), tuple(inline), tags))
    profiles: list[IamProfile] = []
    for name in profile_names:
        raw = _iam_get(iam.get_instance_profile, "InstanceProfile", InstanceProfileName=name)
        if raw is None:
            continue
        tags = _tags(raw) or _tags(
            {"Tags": (_tag_list(iam.list_instance_profile_tags, InstanceProfileName=name) or {}).get("Tags", [])}
        )
        if not has_lab_tag(tags, lab.name):
            continue
        profiles.append(IamProfile(name, raw["Arn"], tuple(r["RoleName"] for r in raw.get("Roles", [])), raw.get("CreateDate"), tags))
    return tuple(roles), tuple(profiles)


def _tag_list(call: Any, **kwargs: Any) -> dict | None:
    """A tag listing that is gone, refused or not emulated means 'no tags we can see': never the lab's."""
    return _unknown_on_refusal(lambda **kw: get_or_none(call, **kw), **kwargs)


def _lab_log_group(lab: Lab, name: str) -> LogGroup | None:
    logs = lab.client("logs")
    with explained(f"looking up the log group {name}"):
        groups = logs.describe_log_groups(logGroupNamePrefix=name).get("logGroups", [])
        if not any(g["logGroupName"] == name for g in groups):
            return None
        tags = logs.list_tags_log_group(logGroupName=name).get("tags", {})
    found = LogGroup(name, tuple(sorted(tags.items())))
    return found if has_lab_tag(found.tags, lab.name) else None


def _lab_bucket(lab: Lab, name: str) -> Bucket | None:
    s3 = lab.client("s3")
    with explained(f"looking up the bucket {name}"):
        if get_or_none(s3.head_bucket, missing=("404", "NoSuchBucket", "NotFound", "403"), Bucket=name) is None:
            return None
        tagging = get_or_none(s3.get_bucket_tagging, missing=("NoSuchTagSet",), Bucket=name) or {}
        tags = _tags({"Tags": tagging.get("TagSet", [])})
        if not has_lab_tag(tags, lab.name):
            return None
        versions: list[tuple[str, str | None]] = []
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=name):
            for item in page.get("Versions", []) + page.get("DeleteMarkers", []):
                versions.append((item["Key"], item.get("VersionId")))
    return Bucket(name, tags, tuple(versions))


def preferences_document(lab: Lab) -> PreferencesDocument | None:
    """The region's Session Manager preferences document (whoever set it), with its tags."""
    from ssmlab.preferences import DOCUMENT

    name = DOCUMENT
    ssm = lab.client("ssm")
    with explained(f"reading the Session Manager preferences {name}"):
        document = get_or_none(ssm.get_document, missing=("InvalidDocument",), Name=name, DocumentFormat="JSON")
        if document is None:
            return None
        tags = ssm.list_tags_for_resource(ResourceType="Document", ResourceId=name).get("TagList", [])
    return PreferencesDocument(name, _tags({"Tags": tags}), document.get("Content", ""))


def _lab_parameter(lab: Lab, name: str) -> Parameter | None:
    ssm = lab.client("ssm")
    with explained(f"reading the parameter {name}"):
        found = get_or_none(ssm.get_parameter, missing=("ParameterNotFound",), Name=name)
        if found is None:
            return None
        tags = ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=name).get("TagList", [])
    parameter = Parameter(name, found["Parameter"]["Value"], _tags({"Tags": tags}))
    return parameter if has_lab_tag(parameter.tags, lab.name) else None


def saved_preferences(lab: Lab) -> tuple[Parameter, ...]:
    """Every lab's saved copy of the preferences it replaced (`preferences.SAVED_PATH`), in one paginated call."""
    from ssmlab.preferences import SAVED_PATH

    with explained(f"reading the labs' saved Session Manager preferences under {SAVED_PATH}"):
        found = describe_all(lab.client("ssm"), "get_parameters_by_path", "Parameters", Path=SAVED_PATH, Recursive=True)
    return tuple(sorted((Parameter(p["Name"], p["Value"]) for p in found), key=lambda p: p.name))
