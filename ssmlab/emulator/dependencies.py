"""Deletions AWS refuses while something still depends on the resource (DependencyViolation).

moto 5.2.5 deletes a security group an instance uses, a subnet an instance sits in, a VPC
with endpoints or security groups (FACTS.md, moto): a teardown written against the
emulator in the wrong order would pass here and fail on AWS. The checks run before moto
(`guards.before`) on moto's state, and answer with AWS's code and text. AWS does not say
*which* dependency; the emulator log does.

Also what AWS does on its own that moto leaves behind, so the right order works:
- a terminated instance's primary network interface is deleted (DeleteOnTermination is
  true for the interfaces RunInstances creates; moto keeps them) and its address freed,
  so it no longer holds its subnet or security groups;
- a deleted subnet's route table and network ACL associations go with it (moto keeps
  them, and then refuses DeleteRouteTable);
- a deleted VPC takes its default network ACL with it (EC2 API reference, DeleteVpc:
  "it deletes the default security group, network ACL, and route table").
"""

from __future__ import annotations

import logging
from typing import Any, Iterator

from ssmlab.emulator import enis, guards
from ssmlab.emulator.hooks import after
from ssmlab.emulator.vpce import GONE

log = logging.getLogger("ssmlab.emulator")

CODE = "DependencyViolation"


def install(app: Any) -> None:
    after(app, "ec2", "TerminateInstances", _instances_terminated)
    after(app, "ec2", "DeleteSubnet", _subnet_deleted)
    after(app, "ec2", "DeleteVpc", _vpc_deleted)
    guards.before(app, "ec2", "DeleteVpc", check_delete_vpc)
    guards.before(app, "ec2", "DeleteSubnet", check_delete_subnet)
    guards.before(app, "ec2", "DeleteSecurityGroup", check_delete_security_group)


# --- the checks --------------------------------------------------------------------------

def check_delete_vpc(request: Any) -> None:
    """EC2 API reference, DeleteVpc: "You must detach or delete all gateways and resources
    that are associated with the VPC before you can delete it ... terminate all instances
    ..., delete all security groups ... (except the default one), delete all route tables
    ... (except the default one)"; AWS re:Post, "troubleshoot-dependency-error-delete-vpc",
    adds network ACLs and VPC endpoints, and quotes the error text used here."""
    backend = _backend(request)
    vpc_id = request.params.get("VpcId", "")
    if vpc_id not in backend.vpcs:
        return  # moto answers InvalidVpcID.NotFound
    _refuse(request, vpc_id, list(vpc_dependencies(backend, vpc_id)),
            f"The vpc '{vpc_id}' has dependencies and cannot be deleted.")


def check_delete_subnet(request: Any) -> None:
    """EC2 API reference, DeleteSubnet: "You must terminate all running instances in the
    subnet before you can delete the subnet"; any network interface in it (an endpoint's
    included) holds it too. The text is AWS's, as quoted in public deployment logs."""
    backend = _backend(request)
    subnet_id = request.params.get("SubnetId", "")
    if not any(subnet_id in zone for zone in backend.subnets.values()):
        return  # moto answers InvalidSubnetID.NotFound
    _refuse(request, subnet_id, list(subnet_dependencies(backend, subnet_id)),
            f"The subnet '{subnet_id}' has dependencies and cannot be deleted.")


def check_delete_security_group(request: Any) -> None:
    """EC2 API reference, DeleteSecurityGroup: "If you attempt to delete a security group
    that is associated with an instance or network interface, is referenced by another
    security group in the same VPC, or has a VPC association, the operation fails with
    DependencyViolation" (text: "resource sg-… has a dependent object", as AWS answers it
    in public logs). A VPC's default group cannot be deleted at all (CannotDelete)."""
    from ssmlab.emulator.protocol import AwsError

    backend = _backend(request)
    group_id, name = request.params.get("GroupId"), request.params.get("GroupName")
    group = backend.get_security_group_from_id(group_id) if group_id else (
        backend.get_security_group_by_name_or_id(name) if name else None)
    if group is None:
        return  # moto answers InvalidGroup.NotFound
    if group.name == "default" and group.vpc_id:
        # AWS's text, as public cleanup scripts match it ('"default" cannot be deleted by a user').
        raise AwsError(400, "CannotDelete",
                       f'the specified group: "{group.id}" name: "default" cannot be deleted by a user')
    _refuse(request, group.id, list(group_dependencies(backend, group.id)), f"resource {group.id} has a dependent object")


def _refuse(request: Any, resource_id: str, blockers: list[str], message: str) -> None:
    """Answer DependencyViolation when anything blocks; the log names what (AWS does not)."""
    from ssmlab.emulator.protocol import AwsError

    if blockers:
        log.info("%s %s refused: it still has %s", request.action, resource_id, ", ".join(blockers))
        raise AwsError(400, CODE, message)


# --- what depends on what -----------------------------------------------------------------

def vpc_dependencies(backend: Any, vpc_id: str) -> Iterator[str]:
    for zone in list(backend.subnets.values()):
        yield from (f"subnet {s.id}" for s in list(zone.values()) if s.vpc_id == vpc_id)
    yield from (f"security group {g.id}" for g in list(backend.groups.get(vpc_id, {}).values()) if g.name != "default")
    yield from (f"endpoint {e.id}" for e in list(backend.vpc_end_points.values())
                if e.vpc_id == vpc_id and e.state not in GONE)
    yield from (f"internet gateway {g.id}" for g in list(backend.internet_gateways.values())
                if g.vpc is not None and g.vpc.id == vpc_id)
    yield from (f"egress-only internet gateway {g.id}" for g in list(backend.egress_only_internet_gateways.values())
                if g.vpc_id == vpc_id)
    yield from (f"network interface {e.id}" for e in live_interfaces(backend) if e.subnet.vpc_id == vpc_id)
    yield from (f"route table {t.id}" for t in list(backend.route_tables.values())
                if t.vpc_id == vpc_id and t.main_association_id is None)
    yield from (f"network ACL {a.id}" for a in list(backend.network_acls.values())
                if a.vpc_id == vpc_id and not a.default)


def subnet_dependencies(backend: Any, subnet_id: str) -> Iterator[str]:
    for instance in live_instances(backend):
        if instance.subnet_id == subnet_id or any(n.subnet.id == subnet_id for n in instance.nics.values()):
            yield f"instance {instance.id}"
    yield from (f"network interface {e.id}" for e in live_interfaces(backend) if e.subnet.id == subnet_id)


def group_dependencies(backend: Any, group_id: str) -> Iterator[str]:
    for instance in live_instances(backend):
        groups = [*instance.security_groups, *(g for n in instance.nics.values() for g in n.group_set)]
        if any(g.id == group_id for g in groups):
            yield f"instance {instance.id}"
    yield from (f"network interface {e.id}" for e in live_interfaces(backend)
                if any(g.id == group_id for g in e.group_set))
    yield from (f"endpoint {e.id}" for e in list(backend.vpc_end_points.values())
                if e.state not in GONE and group_id in (e.security_group_ids or []))
    for zone in list(backend.groups.values()):
        for other in list(zone.values()):
            if other.id != group_id and any(
                rule.source_group.get("GroupId") == group_id for rule in [*other.ingress_rules, *other.egress_rules]
            ):
                yield f"a rule of {other.id}"


def live_instances(backend: Any) -> list[Any]:
    """Instances that still hold their subnet and groups: all but the terminated ones."""
    return [i for i in list(backend.all_instances()) if i.state != "terminated"]


def live_interfaces(backend: Any) -> list[Any]:
    return [e for e in list(backend.enis.values())
            if e.subnet is not None and not (e.instance is not None and e.instance.state == "terminated")]


# --- what AWS cleans up by itself ----------------------------------------------------------

def _instances_terminated(request: Any) -> None:
    """AWS deletes the primary interface of a terminated instance (DeleteOnTermination
    defaults to true for the interfaces RunInstances creates; EC2 User Guide, "Network
    interface attributes") and detaches the others; moto keeps them all attached."""
    backend = _backend(request)
    for instance_id in request.query_list("InstanceId"):
        instance = next((i for i in backend.all_instances() if i.id == instance_id), None)
        if instance is None or instance.state != "terminated":
            continue
        for eni in list(instance.nics.values()):
            if eni.id not in backend.enis:
                continue  # moto deleted it already (DeleteOnTermination asked for explicitly)
            if eni.device_index == 0:
                enis.delete(backend, eni)
            else:
                eni.instance, eni.attachment_id, eni.attach_time, eni.status = None, None, None, "available"


def _subnet_deleted(request: Any) -> None:
    subnet_id = request.params.get("SubnetId", "")
    backend = _backend(request)
    for table in list(backend.route_tables.values()):
        for association_id, target in list(table._associations.items()):
            if target == subnet_id:
                table._associations.pop(association_id, None)
    for acl in list(backend.network_acls.values()):
        for association_id, association in list(acl._associations.items()):
            if association.subnet_id == subnet_id:
                acl._associations.pop(association_id, None)


def _vpc_deleted(request: Any) -> None:
    vpc_id = request.params.get("VpcId", "")
    backend = _backend(request)
    for acl in list(backend.network_acls.values()):
        if acl.vpc_id == vpc_id:
            backend.network_acls.pop(acl.id, None)


def _backend(request: Any) -> Any:
    from moto.ec2.models import ec2_backends

    return ec2_backends[request.account_id][request.region]
