"""The request context IAM would authorise a call with: which resources it touches, and their tags.

For each API call the kit makes, the resources AWS evaluates it against (Service Authorization Reference, the
"Resource types" column of each action), as ARNs with the condition keys a learner policy tests: the tags of an
existing resource (`aws:ResourceTag/…`, and `ssm:resourceTag/…` for the instances Session Manager reaches), the
tags a create asks for (`aws:RequestTag/…`, `aws:TagKeys`). Tags are read from moto's state, in this process.

The simulation's own choices, named: a resource that does not exist is left out (moto then answers NotFound, where
AWS may answer AccessDenied first); an EC2 create is evaluated against the resource it makes and the existing
resources its parameters name, not every resource type AWS lists for it; a security group referenced inside a rule
(IpPermissions) is not authorised, as on AWS.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterator

from ssmlab import learner
from ssmlab.emulator.protocol import AwsRequest, decode_query

EC2_ID = re.compile(r"(vpc|subnet|sg|i|vpce|rtb|eni|acl|eice|vol|ami|igw|nat|pl)-[0-9a-f]{8,17}")
EC2_TYPES = {"vpc": "vpc", "subnet": "subnet", "sg": "security-group", "i": "instance", "vpce": "vpc-endpoint",
             "rtb": "route-table", "eni": "network-interface", "acl": "network-acl", "eice": "instance-connect-endpoint",
             "vol": "volume", "ami": "image", "igw": "internet-gateway", "nat": "natgateway", "pl": "prefix-list"}
# Parameters whose ids are not resources the action acts on: what is described, tagged, or referenced by a rule.
_NOT_ACTED_ON = ("Filter.", "TagSpecification.", "Tag.", "IpPermissions.")


@dataclass(frozen=True)
class Resource:
    arn: str
    context: dict[str, Any] = field(default_factory=dict)
    lab: str | None = None  # the resource's ssmlab:lab tag


def _tag_context(tags: dict[str, str], *prefixes: str) -> dict[str, Any]:
    return {f"{prefix}/{key}": value for key, value in tags.items() for prefix in prefixes}


def resources(request: AwsRequest, action: str) -> list[Resource]:
    """What `action` (its IAM name, one not authorised on "*") of this request acts on: [] when nothing it names
    exists."""
    reader = _READERS.get(request.service)
    return list(reader(request, action)) if reader else []


def ec2_ids(request: AwsRequest, *, acted_on: bool = True) -> list[str]:
    """The EC2 ids a request names: those it acts on, or (acted_on=False) every one, filters included."""
    found = []
    for key, value in request.params.items():
        if acted_on and key.startswith(_NOT_ACTED_ON):
            continue
        if isinstance(value, str) and EC2_ID.fullmatch(value):
            found.append(value)
    return found


def ec2_tags(request: AwsRequest, resource_id: str) -> dict[str, str] | None:
    """The tags of an EC2 resource ({} untagged), None when moto holds no such resource."""
    from moto.ec2.models import ec2_backends

    backend = ec2_backends[request.account_id][request.region]
    tags = backend.tags.get(resource_id)  # a defaultdict: .get never adds an entry
    if tags:
        return dict(tags)
    exists = _EXISTS.get(EC2_TYPES[resource_id.split("-", 1)[0]])
    return {} if exists is None or exists(backend, resource_id) else None


# Whether an untagged id names something (a VPC's main route table, default group and ACL are untagged).
_EXISTS = {
    "vpc": lambda b, i: i in b.vpcs,
    "subnet": lambda b, i: any(i in found for found in b.subnets.values()),
    "security-group": lambda b, i: any(i in found for found in b.groups.values()),
    "instance": lambda b, i: any(r.id == i for reservation in b.reservations.values() for r in reservation.instances),
    "vpc-endpoint": lambda b, i: i in b.vpc_end_points,
    "route-table": lambda b, i: i in b.route_tables,
    "network-interface": lambda b, i: i in b.enis,
    "network-acl": lambda b, i: i in b.network_acls,
    "internet-gateway": lambda b, i: i in b.internet_gateways,
    "natgateway": lambda b, i: i in b.nat_gateways,
}


def _ec2(request: AwsRequest, action: str) -> Iterator[Resource]:
    region, account = request.region, request.account_id
    made = learner.CREATES.get(action)
    if made:
        tags = _requested_ec2_tags(request, made)
        yield Resource(f"arn:aws:ec2:{region}:{account}:{made}/*",
                       {**_tag_context(tags, "aws:RequestTag"), "aws:TagKeys": sorted(tags)})
    for resource_id in dict.fromkeys(ec2_ids(request)):
        kind = EC2_TYPES[resource_id.split("-", 1)[0]]
        if kind == "image":
            yield Resource(f"arn:aws:ec2:{region}::image/{resource_id}")
            continue
        tags = ec2_tags(request, resource_id)
        if tags is None:
            continue
        yield Resource(f"arn:aws:ec2:{region}:{account}:{kind}/{resource_id}",
                       _tag_context(tags, "aws:ResourceTag", "ec2:ResourceTag"), tags.get(learner.TAG_KEY))


def _requested_ec2_tags(request: AwsRequest, resource_type: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    for spec in request.query_list("TagSpecification"):
        if isinstance(spec, dict) and spec.get("ResourceType") == resource_type:
            for tag in spec.get("Tag") or []:
                tags[str(tag.get("Key"))] = str(tag.get("Value", ""))
    return tags


def instance_resource(request: AwsRequest, instance_id: str, *prefixes: str) -> Resource | None:
    tags = ec2_tags(request, instance_id)
    if tags is None:
        return None
    return Resource(f"arn:aws:ec2:{request.region}:{request.account_id}:instance/{instance_id}",
                    _tag_context(tags, *prefixes), tags.get(learner.TAG_KEY))


def _ssm(request: AwsRequest, action: str) -> Iterator[Resource]:
    params, region, account = request.params, request.region, request.account_id
    if action in ("ssm:StartSession", "ssm:SendCommand"):
        targets = [params.get("Target")] if action == "ssm:StartSession" else list(params.get("InstanceIds") or [])
        for target in filter(None, targets):
            found = instance_resource(request, target, "ssm:resourceTag", "aws:ResourceTag")
            if found:
                yield found
        document = params.get("DocumentName") or learner.PREFERENCES_DOCUMENT
        yield Resource(_document_arn(region, account, document))
    elif action in ("ssm:TerminateSession", "ssm:ResumeSession"):
        yield Resource(f"arn:aws:ssm:{region}:{account}:session/{params.get('SessionId', '')}")
    elif "Name" in params and action.endswith(("Document", "DocumentDefaultVersion")):
        yield Resource(_document_arn(region, account, str(params["Name"])))
    elif "Name" in params or "Path" in params:
        name = str(params.get("Name") or params.get("Path"))
        owner = "" if name.startswith("/aws/") else account
        yield Resource(f"arn:aws:ssm:{region}:{owner}:parameter{name if name.startswith('/') else '/' + name}")
    elif params.get("ResourceType") == "Document":
        yield Resource(_document_arn(region, account, str(params.get("ResourceId"))))
    elif params.get("ResourceType") in ("Parameter",):
        yield Resource(f"arn:aws:ssm:{region}:{account}:parameter/{str(params.get('ResourceId')).lstrip('/')}")


def _document_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:ssm:{region}:{'' if name.startswith('AWS-') else account}:document/{name}"


def _iam(request: AwsRequest, action: str) -> Iterator[Resource]:
    from moto.iam.models import iam_backends

    backend = iam_backends[request.account_id]["global"]
    flat = decode_query(request.params)
    if action in ("iam:GetPolicy", "iam:GetPolicyVersion"):
        yield Resource(str(flat.get("PolicyArn", "")))
        return
    if "InstanceProfileName" in flat:
        name = str(flat["InstanceProfileName"])
        path = _path(backend.get_instance_profiles(), name, flat)
        yield Resource(f"arn:aws:iam::{request.account_id}:instance-profile{path}{name}")
    elif "RoleName" in flat:
        name = str(flat["RoleName"])
        yield Resource(f"arn:aws:iam::{request.account_id}:role{_path(backend.get_roles(), name, flat)}{name}")


def _path(found: Any, name: str, flat: dict[str, Any]) -> str:
    existing = next((item for item in found if item.name == name), None)
    return str(getattr(existing, "path", None) or flat.get("Path") or "/")


def passed_roles(request: AwsRequest) -> list[str]:
    """The roles a launch or an association passes to EC2 (by its instance profile), as ARNs."""
    from moto.iam.models import iam_backends

    flat = decode_query(request.params)
    profile = flat.get("IamInstanceProfile") or {}
    name = profile.get("Name") or str(profile.get("Arn", "")).rsplit("/", 1)[-1]
    if not name:
        return []
    found = next((p for p in iam_backends[request.account_id]["global"].get_instance_profiles() if p.name == name), None)
    return [role.arn for role in getattr(found, "roles", [])]


def _logs(request: AwsRequest, action: str) -> Iterator[Resource]:
    name = request.params.get("logGroupName")
    if name:
        yield Resource(f"arn:aws:logs:{request.region}:{request.account_id}:log-group:{name}")


def _s3(request: AwsRequest, action: str) -> Iterator[Resource]:
    bucket, _, key = request.path.lstrip("/").partition("/")
    if not bucket:
        host = request.headers.get("host", "")
        bucket = host.split(".", 1)[0] if host.count(".") > 1 and not host[0].isdigit() else ""
        key = request.path.lstrip("/")
    if bucket:
        yield Resource(f"arn:aws:s3:::{bucket}" + (f"/{key}" if key and action.endswith("Object") else ""))


def _kms(request: AwsRequest, action: str) -> Iterator[Resource]:
    from moto.kms.models import kms_backends

    params, region, account = request.params, request.region, request.account_id
    if action == "kms:CreateKey":
        tags = {str(t.get("TagKey")): str(t.get("TagValue", "")) for t in params.get("Tags") or []}
        yield Resource("*", {**_tag_context(tags, "aws:RequestTag"), "aws:TagKeys": sorted(tags)})
        return
    backend = kms_backends[account][region]
    alias = params.get("AliasName")
    if alias:
        yield Resource(f"arn:aws:kms:{region}:{account}:{alias}")
    key = params.get("KeyId") or params.get("TargetKeyId") or (backend.get_key_id_from_alias(alias) if alias else None)
    try:
        key_id = backend.any_id_to_key_id(str(key)) if key else None
        found = backend.keys.get(key_id) if key_id else None
    except Exception:
        found = None
    if found is not None:
        tags = {t["TagKey"]: t["TagValue"] for t in backend.list_resource_tags(found.id).get("Tags", [])}
        yield Resource(found.arn, _tag_context(tags, "aws:ResourceTag"), tags.get(learner.TAG_KEY))


def _instance_connect(request: AwsRequest, action: str) -> Iterator[Resource]:
    found = instance_resource(request, str(request.params.get("InstanceId", "")), "aws:ResourceTag", "ec2:ResourceTag")
    if found:
        yield found


_READERS = {"ec2": _ec2, "ssm": _ssm, "iam": _iam, "logs": _logs, "s3": _s3, "kms": _kms,
            "ec2-instance-connect": _instance_connect}
