"""EC2 Instance Connect Endpoint, which moto 5.2.5 does not implement (FACTS.md).

CreateInstanceConnectEndpoint, DescribeInstanceConnectEndpoints and
DeleteInstanceConnectEndpoint, answered the way AWS answers them (EC2 API Reference;
EC2 User Guide, "Connect to your instances using EC2 Instance Connect Endpoint" and its
quotas page), on top of moto's own EC2 state:

- The endpoint owns a REAL network interface in moto's state, in its subnet, with a free
  address of the subnet (the shared `enis` helper, as interface endpoints get theirs),
  with the endpoint's security groups (the VPC's default group when none is given), the
  interface type `ec2_instance_connect_endpoint`, requester-managed, and the tag
  `InstanceConnectEndpointId=eice-...` that AWS's service-linked role puts on it (managed
  policy Ec2InstanceConnectEndpoint). So every rule about network interfaces (a subnet,
  a security group or a VPC still in use cannot be deleted) applies to it unchanged.
- One endpoint per VPC (and so per subnet): the quotas page says 1, not adjustable.
- States. AWS takes minutes; the emulator takes one look. Create answers
  `create-in-progress`; the next DescribeInstanceConnectEndpoints in that account and
  region finds it `create-complete`. Delete answers `delete-in-progress` and the interface
  stays (so deleting its subnet or security group right away fails, as on AWS); the next
  describe finds it `delete-complete` with its interface gone. A deleted endpoint stays
  visible as `delete-complete` (it no longer counts against the quota); deleting it
  again, or describing it by id, still works; only a never-created id is NotFound.

This module is the wire side: the actions' parameters, validated as EC2 validates them,
and their answers, serialised by moto's own EC2 serializer from botocore's model, so they
have exactly the shape botocore parses. The endpoints themselves, on moto's EC2 backend
beside their interfaces, are `eice_models`'.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from ssmlab.emulator.eice_models import (
    FILTERS,
    RESOURCE_TYPE,
    Ec2Error,
    add_endpoint,
    backend,
    delete_endpoint,
    describe_endpoints,
)

ACTIONS = ("CreateInstanceConnectEndpoint", "DescribeInstanceConnectEndpoints", "DeleteInstanceConnectEndpoint")

MAX_RESULTS = 50  # botocore model: DescribeInstanceConnectEndpoints MaxResults 1..50


# --- the handlers -------------------------------------------------------------------


def install(app: Any) -> None:
    """Answer the three actions on `app` instead of moto (which has none of them)."""

    def handler(action: str):
        def handle(request: Any) -> Any:
            return _respond(action, _ACTIONS[action](request), request)  # an Ec2Error is rendered by the app

        handle.__qualname__ = f"eice.{action}"
        return handle

    for action in ACTIONS:
        app.router.register("ec2", action, handler(action))


def create(request: Any) -> dict[str, Any]:
    params = request.params
    _dry_run(params)
    ec2 = backend(request.account_id, request.region)
    subnet_id = params.get("SubnetId") or ""
    if not subnet_id:
        raise Ec2Error("MissingParameter", "The request must contain the parameter SubnetId")
    subnet = _subnet(ec2, subnet_id)
    group_ids = [g for g in request.query_list("SecurityGroupId") if g]
    groups = _groups(ec2, group_ids, subnet) if group_ids else [_default_group(ec2, subnet.vpc_id)]
    address_type = params.get("IpAddressType") or "ipv4"
    preserve = _bool(params.get("PreserveClientIp"), default=False)
    if address_type != "ipv4":
        if not subnet.ipv6_cidr_block_associations:
            raise Ec2Error("InvalidParameterValue",
                           f"Subnet {subnet.id} has no IPv6 CIDR block, so it does not support IpAddressType "
                           f"{address_type}; use ipv4")
        if preserve:
            raise Ec2Error("InvalidParameterCombination", "PreserveClientIp is only supported with IpAddressType ipv4")
    tags = _tag_specifications(request)
    # A repeated ClientToken never gets here: `idempotency` answers it, as for every EC2 action.
    token = params.get("ClientToken") or ""

    endpoint = add_endpoint(ec2, request, subnet, groups, preserve, address_type, tags)
    result = {"InstanceConnectEndpoint": endpoint.to_api()}
    if token:
        result["ClientToken"] = token
    return result


def describe(request: Any) -> dict[str, Any]:
    params = request.params
    _dry_run(params)
    ec2 = backend(request.account_id, request.region)
    ids = [i for i in request.query_list("InstanceConnectEndpointId") if i]
    filters = _filters(request)
    max_results = _max_results(params.get("MaxResults"))
    for endpoint_id in ids:
        _check_id(endpoint_id)
    found = [e.to_api() for e in describe_endpoints(ec2, ids, filters)]
    start = _decode_token(params.get("NextToken"), ids, filters)
    end = start + max_results if max_results else len(found)
    result: dict[str, Any] = {"InstanceConnectEndpoints": found[start:end]}
    if end < len(found):
        result["NextToken"] = _encode_token(end, ids, filters)
    return result


def delete(request: Any) -> dict[str, Any]:
    params = request.params
    _dry_run(params)
    ec2 = backend(request.account_id, request.region)
    endpoint_id = params.get("InstanceConnectEndpointId") or ""
    if not endpoint_id:
        raise Ec2Error("MissingParameter", "The request must contain the parameter InstanceConnectEndpointId")
    _check_id(endpoint_id)
    return {"InstanceConnectEndpoint": delete_endpoint(ec2, endpoint_id).to_api()}


_ACTIONS = {
    "CreateInstanceConnectEndpoint": create,
    "DescribeInstanceConnectEndpoints": describe,
    "DeleteInstanceConnectEndpoint": delete,
}


def _respond(action: str, result: dict[str, Any], request: Any) -> Any:
    """Render `result` as EC2's XML with moto's serializer for botocore's output shape."""
    from ssmlab.emulator.rendering import render

    return render("ec2", action, result)


# --- request parsing -----------------------------------------------------------------


def _subnet(ec2: Any, subnet_id: str) -> Any:
    if not subnet_id.startswith("subnet-"):
        raise Ec2Error("InvalidSubnetID.Malformed", f"Invalid subnet ID '{subnet_id}' (expecting 'subnet-...')")
    for zone in ec2.subnets.values():
        if subnet_id in zone:
            return zone[subnet_id]
    raise Ec2Error("InvalidSubnetID.NotFound", f"The subnet ID '{subnet_id}' does not exist")


def _groups(ec2: Any, group_ids: list[str], subnet: Any) -> list[Any]:
    groups = []
    for group_id in dict.fromkeys(group_ids):
        group = ec2.get_security_group_from_id(group_id)
        if group is None:
            raise Ec2Error("InvalidGroup.NotFound", f"The security group '{group_id}' does not exist")
        if group.vpc_id != subnet.vpc_id:
            # RunInstances' wording for the same mistake.
            raise Ec2Error("InvalidParameter",
                           f"Security group {group_id} and subnet {subnet.id} belong to different networks.")
        groups.append(group)
    return groups


def _default_group(ec2: Any, vpc_id: str) -> Any:
    group = ec2.get_default_security_group(vpc_id)
    if group is None:
        raise Ec2Error("InvalidGroup.NotFound", f"The VPC '{vpc_id}' has no default security group")
    return group


def _tag_specifications(request: Any) -> list[dict[str, str]]:
    tags: list[dict[str, str]] = []
    for spec in request.query_list("TagSpecification"):
        if not isinstance(spec, dict):
            continue
        kind = spec.get("ResourceType")
        if kind != RESOURCE_TYPE:
            raise Ec2Error("InvalidParameterValue",
                           f"'{kind}' is not a valid taggable resource type for this operation.")
        for tag in spec.get("Tag") or []:
            if isinstance(tag, dict) and tag.get("Key"):
                tags.append({"Key": tag["Key"], "Value": tag.get("Value", "")})
    return tags


def _filters(request: Any) -> dict[str, list[str]]:
    filters: dict[str, list[str]] = {}
    for item in request.query_list("Filter"):
        if not isinstance(item, dict):
            continue
        name = item.get("Name") or ""
        values = item.get("Value") or []
        values = values if isinstance(values, list) else [values]
        if name not in FILTERS and not name.startswith("tag:"):
            raise Ec2Error("InvalidParameterValue", f"The filter '{name}' is invalid")
        filters.setdefault(name, []).extend(str(v) for v in values)
    return filters


def _check_id(endpoint_id: str) -> None:
    if not endpoint_id.startswith("eice-") or len(endpoint_id) <= 5:
        raise Ec2Error("InvalidInstanceConnectEndpointId.Malformed",
                       f"The EC2 Instance Connect Endpoint ID '{endpoint_id}' is malformed; "
                       "expected the form eice-xxxxxxxxxxxxxxxxx")


def _max_results(value: Any) -> int | None:
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = -1
    if not 1 <= number <= MAX_RESULTS:
        raise Ec2Error("InvalidParameterValue",
                       f"Value ( {value} ) for parameter MaxResults is invalid. Expecting a value between 1 and {MAX_RESULTS}.")
    return number


def _dry_run(params: dict[str, Any]) -> None:
    if _bool(params.get("DryRun"), default=False):
        raise Ec2Error("DryRunOperation", "Request would have succeeded, but DryRun flag is set.", status=412)


def _bool(value: Any, *, default: bool) -> bool:
    if value in (None, ""):
        return default
    return str(value).lower() == "true"


def _fingerprint(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _encode_token(offset: int, ids: list[str], filters: dict[str, list[str]]) -> str:
    raw = json.dumps({"o": offset, "q": _fingerprint(ids, filters)[:16]})
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _decode_token(token: Any, ids: list[str], filters: dict[str, list[str]]) -> int:
    if not token:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(str(token).encode()))
        offset = int(data["o"])
        if data["q"] != _fingerprint(ids, filters)[:16] or offset < 0:
            raise ValueError
    except (ValueError, KeyError, TypeError):
        raise Ec2Error("InvalidNextToken", "The specified NextToken is not valid.") from None
    return offset
