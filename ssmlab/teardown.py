"""Teardown: remove every resource of a lab, and only those, in AWS's dependency order.

- `plan(resources)` is pure: from an `inventory.LabResources` it returns the ordered
  deletions, each a frozen `Deletion` naming the boto3 call and its arguments as data, and
  why it comes where it does. Only what carries `ssmlab:lab=<name>` is planned (IAM: the
  lab-prefixed names *and* the tag); a VPC's default security group, network ACL and main
  route table go with the VPC itself.
- `execute(lab, plan)` runs it: bounded retries on DependencyViolation and throttling (each
  explained in one line), waiters for what AWS removes asynchronously (instances,
  endpoints and their network interfaces), and what is already gone is skipped, so an
  interrupted cleanup is simply run again.
- `audit(lab)` lists whatever still carries the lab's tag in the region.

`cleanup` runs them in order under the lab's lock; `labs` finds every lab in a region.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

from ssmlab import kmskey, obstacles
from ssmlab.aws import error_code
from ssmlab.errors import LabError
from ssmlab.model import GONE_ENDPOINT_STATES, LabResources, SgRule, has_lab_tag
from ssmlab.lab import Lab

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

NOT_FOUND = {
    "InvalidInstanceID.NotFound", "InvalidVpcEndpointId.NotFound", "InvalidInstanceConnectEndpointId.NotFound",
    "InvalidGroup.NotFound", "InvalidGroupId.NotFound", "InvalidSubnetID.NotFound", "InvalidRouteTableID.NotFound",
    "InvalidNetworkAclID.NotFound", "InvalidVpcID.NotFound", "InvalidNetworkInterfaceID.NotFound",
    "InvalidPermission.NotFound", "NoSuchEntity", "NoSuchBucket", "ResourceNotFoundException", "InvalidDocument",
    "ParameterNotFound", "DoesNotExistException", "NoSuchKey",
    "NotFoundException", "KMSInvalidStateException",  # KMS: no such key or alias; a key already pending deletion
}
RETRYABLE = {
    "DependencyViolation": "something still depends on it",
    "Throttling": "AWS is throttling the calls",
    "ThrottlingException": "AWS is throttling the calls",
    "RequestLimitExceeded": "AWS is throttling the calls",
    "TooManyRequestsException": "AWS is throttling the calls",
    "SlowDown": "S3 asks to slow down",
    "DeleteConflict": "IAM still sees something attached",
    "IncorrectState": "the resource is still changing state",
}


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
class Outcome:
    deletion: Deletion
    status: str  # "deleted" | "already gone" | "failed"
    detail: str = ""
    attempts: int = 1


@dataclass(frozen=True)
class Leftover:
    kind: str
    resource_id: str


# --------------------------------------------------------------------------------------
# plan (pure)
# --------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------
# execute
# --------------------------------------------------------------------------------------


def execute(
    lab: Lab,
    deletions: list[Deletion],
    progress: Callable[[Outcome], None] | None = None,
    explain: Callable[[str], None] | None = None,
    attempts: int | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Outcome]:
    """Run the deletions in order; what is already gone is skipped, a failure is reported and the rest goes on."""
    from botocore.exceptions import BotoCoreError, ClientError

    attempts = attempts or (6 if lab.is_emulator else 10)
    base_delay = 0.5 if lab.is_emulator else 5.0
    outcomes: list[Outcome] = []
    for deletion in deletions:
        outcome = None
        for attempt in range(1, attempts + 1):
            try:
                _call(lab, deletion)
                _wait(lab, deletion, sleep)
                outcome = Outcome(deletion, "deleted", attempts=attempt)
            except ClientError as error:
                code = error_code(error)
                if code in NOT_FOUND:
                    outcome = Outcome(deletion, "already gone", attempts=attempt)
                elif code == "DependencyViolation" and deletion.blocked_by:  # waiting would not help: say why
                    outcome = Outcome(deletion, "failed", f"{code}: held by {', '.join(deletion.blocked_by)}, which is "
                                      "not the lab's (see the note before the plan)", attempts=attempt)
                elif code in RETRYABLE and attempt < attempts:
                    delay = min(base_delay * 2 ** (attempt - 1), 30.0)
                    if explain:
                        explain(f"retry {attempt}/{attempts - 1} of {deletion.kind} {deletion.resource_id} in {delay:g}s: "
                                f"{code} ({RETRYABLE[code]})")
                    sleep(delay)
                    continue
                else:
                    message = error.response.get("Error", {}).get("Message", "")
                    outcome = Outcome(deletion, "failed", f"{code}: {message}", attempts=attempt)
            except (BotoCoreError, TimeoutError, LabError) as error:  # LabError: a waiter gave up
                outcome = Outcome(deletion, "failed", str(error), attempts=attempt)
            break
        assert outcome is not None
        outcomes.append(outcome)
        if progress:
            progress(outcome)
    return outcomes


def _call(lab: Lab, deletion: Deletion) -> None:
    client = lab.client(deletion.service)
    if deletion.operation == "update_document":  # restoring preferences: make the restored version the default
        from ssmlab.steps.session_logging import set_content

        set_content(client, deletion.params["Name"], deletion.params["Content"])
        return
    answer = getattr(client, deletion.operation)(**deletion.params)
    if deletion.operation == "delete_vpc_endpoints":  # failures come back in the answer, not as an error
        for failure in answer.get("Unsuccessful", []):
            from botocore.exceptions import ClientError

            raise ClientError({"Error": failure.get("Error", {})}, "DeleteVpcEndpoints")


def _wait(lab: Lab, deletion: Deletion, sleep: Callable[[float], None]) -> None:
    if deletion.wait is None:
        return
    if deletion.wait == "instance_terminated":
        from ssmlab.aws import wait

        wait(lab, "ec2", "instance_terminated", InstanceIds=deletion.params["InstanceIds"])
        return
    ec2 = lab.client("ec2")
    config = lab.waiter_config
    for _ in range(config["MaxAttempts"]):
        if deletion.wait == "vpc_endpoint_gone" and _vpc_endpoint_gone(
            ec2, deletion.params["VpcEndpointIds"][0], deletion.releases
        ):
            return
        if deletion.wait == "eice_gone" and _eice_gone(ec2, deletion.params["InstanceConnectEndpointId"]):
            return
        sleep(config["Delay"])
    raise TimeoutError(f"{deletion.resource_id} was still being deleted after {config['Delay'] * config['MaxAttempts']}s")


def _vpc_endpoint_gone(ec2: Any, endpoint_id: str, interface_ids: tuple[str, ...]) -> bool:
    """Gone when AWS no longer lists it (or lists it deleted) and its network interfaces are released."""
    from ssmlab.aws import get_or_none

    found = get_or_none(ec2.describe_vpc_endpoints, missing=("InvalidVpcEndpointId.NotFound",), VpcEndpointIds=[endpoint_id])
    if any(str(e.get("State", "")).lower() != "deleted" for e in (found or {}).get("VpcEndpoints", [])):
        return False
    if not interface_ids:
        return True
    left = ec2.describe_network_interfaces(Filters=[{"Name": "network-interface-id", "Values": list(interface_ids)}])
    return not left.get("NetworkInterfaces")


def _eice_gone(ec2: Any, endpoint_id: str) -> bool:
    from ssmlab.aws import get_or_none

    found = get_or_none(
        ec2.describe_instance_connect_endpoints, missing=("InvalidInstanceConnectEndpointId.NotFound",),
        InstanceConnectEndpointIds=[endpoint_id],
    )
    return all(e.get("State") == "delete-complete" for e in (found or {}).get("InstanceConnectEndpoints", []))


# --------------------------------------------------------------------------------------
# audit
# --------------------------------------------------------------------------------------


def audit(lab: Lab) -> list[Leftover]:
    """Whatever still carries the lab's tag in the region, plus IAM names with the lab's prefix under /ssmlab/."""
    from ssmlab import inventory
    from ssmlab.steps import iam
    from ssmlab.steps.iam import IAM_PATH

    resources = inventory.lab_resources(lab)
    left = leftovers(resources)
    roles, profiles = inventory.lab_iam_names(lab, IAM_PATH)
    # The kit's own names for this lab, even without the tag (another lab's 'demo-x-...' is not ours).
    seen = {x.resource_id for x in left}
    left += [Leftover("role (untagged)", n) for n in roles if n == iam.role_name(lab) and n not in seen]
    left += [Leftover("instance profile (untagged)", n) for n in profiles if n == iam.profile_name(lab) and n not in seen]
    return left


def leftovers(resources: LabResources) -> list[Leftover]:
    """Pure: every resource in `resources` that the teardown is meant to remove."""
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
