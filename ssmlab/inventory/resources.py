"""Everything teardown may touch, by the lab's tag (kept apart from `snapshot`, which the emulator's simulated
agents also take)."""

from __future__ import annotations

from ssmlab.aws import describe_all, explained, get_or_none
from ssmlab.inventory import kms
from ssmlab.inventory.convert import (
    _endpoint,
    _eni,
    _instance,
    _nacl,
    _route_table,
    _security_group,
    _subnet,
    _tags,
    _vpc,
)
from ssmlab.inventory.iam import _lab_iam
from ssmlab.inventory.node import _unknown_on_refusal
from ssmlab.lab import Lab
from ssmlab.model import (
    GONE_ENDPOINT_STATES,
    LIVE_EICE_STATES,
    LIVE_INSTANCE_STATES,
    Bucket,
    EicEndpoint,
    LabResources,
    LogGroup,
    Parameter,
    PreferencesDocument,
    has_lab_tag,
)


def lab_resources(lab: Lab) -> LabResources:
    """Read everything teardown may touch: EC2 by the lab's tag, IAM by name (and tag), session logging by name."""
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
        kms_keys=kms.lab_keys(lab),
    )


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
