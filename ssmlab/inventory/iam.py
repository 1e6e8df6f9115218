"""IAM read for a snapshot (the instance's profile, role and policy documents) and for teardown (the lab's
roles and profiles by their lab-prefixed names)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ssmlab.aws import describe_all, explained, get_or_none
from ssmlab.inventory.convert import _doc, _tags
from ssmlab.inventory.node import _unknown_on_refusal
from ssmlab.lab import Lab
from ssmlab.model import (
    TAG_KEY,
    IamProfile,
    IamRole,
    InstanceProfile,
    LabState,
    Policy,
    Role,
    has_lab_tag,
)

# AWS managed policy versions never change once published, so their documents are cached.
_MANAGED_DOCUMENTS: dict[tuple[str, str, str], dict] = {}

def _profile_names(lab: Lab, instances: list[dict], instance_id: str | None) -> list[str]:
    """The instance profiles a snapshot reads: the instances' (in their order), and the lab's own — for one
    instance, the own profile of the lab it is tagged with, so a fix can name a profile that works."""
    from ssmlab.steps.iam import profile_name

    names: list[str] = []
    for instance in instances:
        arn = (instance.get("IamInstanceProfile") or {}).get("Arn")
        if arn and arn.split("/")[-1] not in names:
            names.append(arn.split("/")[-1])
    tagged = next((t["Value"] for i in instances if i.get("InstanceId") == instance_id for t in i.get("Tags") or []
                   if t["Key"] == TAG_KEY), None)
    own = profile_name(lab) if not instance_id else profile_name(Lab(tagged, lab.region, lab.target)) if tagged else None
    if own and own not in names:
        names.append(own)
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


def role(lab: Lab, name: str) -> Role | None:
    """One role read back with its policies' documents (an exercise's operator role), None when there is none."""
    return _read_role(lab, lab.client("iam"), name)
