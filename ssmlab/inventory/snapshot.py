"""`snapshot(...)`: a lab, a VPC or one instance's VPC read into a LabState, by VPC and paginated, so the number
of EC2 calls per VPC does not grow with the number of subnets, groups, endpoints or instances in it."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable

from ssmlab.aws import describe_all, explained, get_or_none, together
from ssmlab.inventory import kms
from ssmlab.inventory.convert import (
    _endpoint,
    _eni,
    _instance,
    _nacl,
    _route_table,
    _security_group,
    _subnet,
    _vpc,
)
from ssmlab.inventory.iam import _profile_names, _read_iam, _with_iam
from ssmlab.inventory.node import session_preferences
from ssmlab.lab import Lab
from ssmlab.model import (
    LIVE_INSTANCE_STATES,
    Image,
    KmsKey,
    LabState,
    PrefixList,
)


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
    reads the lab's KMS key and the one they name (`kms.lab_key`, `kms.with_named`)."""

    if not lab_name:
        return None, ()
    inputs, own = together(lambda: session_preferences(lab), lambda: kms.lab_key(lab))
    return inputs, kms.with_named(lab, (own,) if own else (), (inputs or {}).get("kmsKeyId"))


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
