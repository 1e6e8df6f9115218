"""The teardown plan (pure): from a lab's `LabResources`, the ordered deletions, each with why it comes where it does.

Only what carries `ssmlab:lab=<name>` is planned (IAM: the lab-prefixed names *and* the tag); a VPC's default
security group, network ACL and main route table go with the VPC itself. Each `Deletion` names its boto3 call
and arguments as data, so a dry run can print it, a test can compare it, and `execute` only has to make it.
`leftovers` is the audit's rule: what of a lab the teardown is meant to leave nothing of.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ssmlab import kmskey, obstacles
from ssmlab.model import GONE_ENDPOINT_STATES, LabResources, SgRule, has_lab_tag

# The order of the steps, as AWS's dependency rules require it.
STEPS = (
    "sessions",
    "instances",
    "session-logging",
    "session-encryption",
    "vpc-endpoints",
    "instance-connect-endpoints",
    "network-interfaces",
    "security-group-rules",
    "security-groups",
    "subnets",
    "route-tables",
    "network-acls",
    "vpc",
    "instance-profiles",
    "role-policies",
    "roles",
)

@dataclass(frozen=True)
class Deletion:
    """One call of the teardown: which step, what it removes, the boto3 call as data, and why now."""

    step: str
    kind: str
    resource_id: str
    service: str
    operation: str
    params: dict = field(hash=False)
    why: str
    wait: str | None = None  # "instance_terminated" | "vpc_endpoint_gone" | "eice_gone"
    releases: tuple[str, ...] = ()  # network interfaces AWS removes with it (waited for)
    blocked_by: tuple[str, ...] = ()  # what is not the lab's yet keeps this from being deleted (obstacles)

    @property
    def call(self) -> str:
        return f"{self.service}.{self.operation}"

    def to_json(self) -> dict[str, Any]:
        return {"step": self.step, "kind": self.kind, "id": self.resource_id, "call": self.call,
                "params": self.params, "why": self.why, "wait": self.wait, "blocked_by": list(self.blocked_by)}


@dataclass(frozen=True)
class Leftover:
    """Something of the lab that the audit still finds after a teardown."""

    kind: str
    resource_id: str

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "id": self.resource_id}


def plan(resources: LabResources) -> list[Deletion]:
    """The ordered deletions for everything in `resources` that carries the lab's tag."""
    lab = resources.lab
    out: list[Deletion] = []

    def add(*args: Any, **kwargs: Any) -> None:
        out.append(Deletion(*args, **kwargs))

    for session_id in resources.sessions:
        add("sessions", "session", session_id, "ssm", "terminate_session", {"SessionId": session_id},
            "an open session keeps its channel to the instance")

    instances = [i for i in resources.instances if has_lab_tag(i.tags, lab) and i.state != "terminated"]
    for instance in instances:
        add("instances", "instance", instance.instance_id, "ec2", "terminate_instances",
            {"InstanceIds": [instance.instance_id]},
            "its network interface holds the subnet and the security groups", wait="instance_terminated")

    bucket = resources.bucket
    if bucket and has_lab_tag(bucket.tags, lab):
        for start in range(0, len(bucket.versions), 1000):
            chunk = bucket.versions[start : start + 1000]
            objects = [{"Key": k, **({"VersionId": v} if v else {})} for k, v in chunk]
            add("session-logging", "bucket objects", f"{bucket.name} ({len(chunk)} version(s))", "s3", "delete_objects",
                {"Bucket": bucket.name, "Delete": {"Objects": objects, "Quiet": True}},
                "a bucket is deleted only once empty, every object version and delete marker included")
        add("session-logging", "bucket", bucket.name, "s3", "delete_bucket", {"Bucket": bucket.name},
            "the session transcripts' bucket (emptied first)")
    if resources.log_group and has_lab_tag(resources.log_group.tags, lab):
        add("session-logging", "log group", resources.log_group.name, "logs", "delete_log_group",
            {"logGroupName": resources.log_group.name}, "the session transcripts' log group")
    for change in obstacles.preferences_outlook(resources).changes:
        add("session-logging", change.kind, change.target, "ssm", change.operation, change.params, change.why)

    for kind, resource_id, operation, params, why in kmskey.removal(resources.kms_keys, lab):
        add("session-encryption", kind, resource_id, "kms", operation, params, why)

    for endpoint in resources.endpoints:
        if has_lab_tag(endpoint.tags, lab) and endpoint.state not in GONE_ENDPOINT_STATES:
            add("vpc-endpoints", f"{endpoint.endpoint_type.lower()} endpoint", f"{endpoint.endpoint_id} ({endpoint.service})",
                "ec2", "delete_vpc_endpoints", {"VpcEndpointIds": [endpoint.endpoint_id]},
                "its network interfaces hold the subnets and the endpoint security group" if endpoint.endpoint_type == "Interface"
                else "its routes sit in the lab's route table", wait="vpc_endpoint_gone",
                releases=endpoint.network_interface_ids)

    for eice in resources.eic_endpoints:
        if has_lab_tag(eice.tags, lab) and eice.state not in ("delete-complete",):
            add("instance-connect-endpoints", "instance connect endpoint", eice.endpoint_id, "ec2",
                "delete_instance_connect_endpoint", {"InstanceConnectEndpointId": eice.endpoint_id},
                "its network interface holds the subnet and its security group", wait="eice_gone",
                releases=eice.network_interface_ids)

    for eni in resources.network_interfaces:
        if has_lab_tag(eni.tags, lab) and not eni.requester_managed and eni.instance_id is None:
            add("network-interfaces", "network interface", eni.eni_id, "ec2", "delete_network_interface",
                {"NetworkInterfaceId": eni.eni_id}, "a detached interface holds its subnet")

    found = obstacles.occupants(resources)

    def blocked(resource_id: str) -> tuple[str, ...]:
        return tuple(o.what for o in obstacles.blocking(found, resource_id))

    groups = [g for g in resources.security_groups if has_lab_tag(g.tags, lab) and g.name != "default"]
    for group in groups:
        for direction, rules in (("ingress", group.ingress), ("egress", group.egress)):
            referencing = [r for r in rules if r.source_group_id]
            if referencing:
                add("security-group-rules", f"{direction} rules", group.group_id, "ec2",
                    f"revoke_security_group_{direction}",
                    {"GroupId": group.group_id, "IpPermissions": [_permission(r) for r in referencing]},
                    "a group referenced by another group's rule cannot be deleted")
    for group in groups:
        add("security-groups", "security group", f"{group.group_id} ({group.name})", "ec2", "delete_security_group",
            {"GroupId": group.group_id}, "once no instance, interface or rule uses it", blocked_by=blocked(group.group_id))

    for subnet in resources.subnets:
        if has_lab_tag(subnet.tags, lab):
            add("subnets", "subnet", subnet.subnet_id, "ec2", "delete_subnet", {"SubnetId": subnet.subnet_id},
                "once no instance or interface sits in it (its route table association goes with it)",
                blocked_by=blocked(subnet.subnet_id))
    for table in resources.route_tables:
        if has_lab_tag(table.tags, lab) and not table.main:
            add("route-tables", "route table", table.route_table_id, "ec2", "delete_route_table",
                {"RouteTableId": table.route_table_id}, "once its subnets are gone (the main one goes with the VPC)",
                blocked_by=tuple(dict.fromkeys(b for subnet in table.subnet_ids for b in blocked(subnet))))
    for acl in resources.network_acls:
        if has_lab_tag(acl.tags, lab) and not acl.is_default:
            add("network-acls", "network ACL", acl.nacl_id, "ec2", "delete_network_acl",
                {"NetworkAclId": acl.nacl_id}, "once its subnets are gone (the default one goes with the VPC)",
                blocked_by=tuple(dict.fromkeys(b for subnet in acl.subnet_ids for b in blocked(subnet))))
    for vpc in resources.vpcs:
        if has_lab_tag(vpc.tags, lab) and not vpc.is_default:
            add("vpc", "VPC", vpc.vpc_id, "ec2", "delete_vpc", {"VpcId": vpc.vpc_id},
                "last of the network: takes its default security group, network ACL and main route table",
                blocked_by=blocked(vpc.vpc_id))
    prefix = f"{lab}-"
    for profile in resources.instance_profiles:
        if not (profile.name.startswith(prefix) and has_lab_tag(profile.tags, lab)):
            continue
        for role in profile.role_names:
            add("instance-profiles", "role in profile", f"{profile.name}/{role}", "iam", "remove_role_from_instance_profile",
                {"InstanceProfileName": profile.name, "RoleName": role},
                "a profile is deleted once empty, and a role while in a profile cannot be")
        add("instance-profiles", "instance profile", profile.name, "iam", "delete_instance_profile",
            {"InstanceProfileName": profile.name}, "no instance uses it any more")
    roles = [r for r in resources.roles if r.name.startswith(prefix) and has_lab_tag(r.tags, lab)]
    for role in roles:
        for arn in role.managed_policy_arns:
            add("role-policies", "attached policy", f"{role.name} {arn.rsplit('/', 1)[-1]}", "iam", "detach_role_policy",
                {"RoleName": role.name, "PolicyArn": arn}, "a role with attached policies cannot be deleted")
        for name in role.inline_policy_names:
            add("role-policies", "inline policy", f"{role.name} {name}", "iam", "delete_role_policy",
                {"RoleName": role.name, "PolicyName": name}, "a role with inline policies cannot be deleted")
    for role in roles:
        add("roles", "role", role.name, "iam", "delete_role", {"RoleName": role.name},
            "last: nothing uses it, and it holds no policy and no profile")
    return out


def _permission(rule: SgRule) -> dict[str, Any]:
    permission: dict[str, Any] = {"IpProtocol": rule.protocol, "UserIdGroupPairs": [{"GroupId": rule.source_group_id}]}
    if rule.port_from is not None:
        permission["FromPort"] = rule.port_from
    if rule.port_to is not None:
        permission["ToPort"] = rule.port_to
    return permission


def leftovers(resources: LabResources) -> list[Leftover]:
    """Every resource in `resources` that the teardown is meant to remove: what the audit reports as left."""
    r = resources
    left = [Leftover("session", s) for s in r.sessions]
    left += [Leftover("instance", i.instance_id) for i in r.instances if i.state != "terminated"]
    left += [Leftover("vpc endpoint", e.endpoint_id) for e in r.endpoints if e.state not in GONE_ENDPOINT_STATES]
    left += [Leftover("instance connect endpoint", e.endpoint_id) for e in r.eic_endpoints if e.state != "delete-complete"]
    left += [Leftover("network interface", n.eni_id) for n in r.network_interfaces if has_lab_tag(n.tags, r.lab)]
    left += [Leftover("security group", g.group_id) for g in r.security_groups if g.name != "default"]
    left += [Leftover("subnet", s.subnet_id) for s in r.subnets]
    left += [Leftover("route table", t.route_table_id) for t in r.route_tables]
    left += [Leftover("network ACL", n.nacl_id) for n in r.network_acls]
    left += [Leftover("VPC", v.vpc_id) for v in r.vpcs]
    left += [Leftover("instance profile", p.name) for p in r.instance_profiles]
    left += [Leftover("role", x.name) for x in r.roles]
    if r.log_group:
        left.append(Leftover("log group", r.log_group.name))
    if r.bucket:
        left.append(Leftover("bucket", r.bucket.name))
    if r.preferences and has_lab_tag(r.preferences.tags, r.lab):
        left.append(Leftover("preferences document", r.preferences.name))
    if r.backup_parameter:
        left.append(Leftover("parameter", r.backup_parameter.name))
    left += [Leftover(kind, resource_id) for kind, resource_id in kmskey.left(r.kms_keys)]
    return left
