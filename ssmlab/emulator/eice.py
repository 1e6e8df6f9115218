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

The endpoints live on moto's EC2 backend object of their account and region, so moto's
reset (which replaces the backends) forgets them together with their interfaces.
Responses are serialised by moto's own EC2 serializer from botocore's model, so they have
exactly the shape botocore parses.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import json
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ssmlab.emulator import enis
from ssmlab.emulator.protocol import AwsError

ACTIONS = ("CreateInstanceConnectEndpoint", "DescribeInstanceConnectEndpoints", "DeleteInstanceConnectEndpoint")

INTERFACE_TYPE = "ec2_instance_connect_endpoint"  # as DescribeNetworkInterfaces shows it on AWS
ENI_TAG = "InstanceConnectEndpointId"  # the tag AWS's service-linked role must set (Ec2InstanceConnectEndpoint policy)
RESOURCE_TYPE = "instance-connect-endpoint"  # TagSpecifications.ResourceType
MAX_PER_VPC = 1  # EC2 User Guide, "Quotas for EC2 Instance Connect Endpoint": 1 per VPC, 1 per subnet, not adjustable
MAX_RESULTS = 50  # botocore model: DescribeInstanceConnectEndpoints MaxResults 1..50
FILTERS = ("instance-connect-endpoint-id", "state", "subnet-id", "vpc-id", "tag-key", "tag-value")  # + tag:<key>
LIVE = ("create-in-progress", "create-complete", "delete-in-progress")  # what counts against the quota

_LOCK = threading.RLock()
_STATE_ATTR = "_ssmlab_instance_connect_endpoints"


class Ec2Error(AwsError):
    """An EC2 error for the caller (400 unless said otherwise)."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(status, code, message)


@dataclass
class Endpoint:
    id: str
    arn: str
    owner_id: str
    region: str
    vpc_id: str
    subnet_id: str
    availability_zone: str
    availability_zone_id: str | None
    security_group_ids: list[str]
    preserve_client_ip: bool
    ip_address_type: str
    dns_name: str
    fips_dns_name: str
    created_at: datetime
    tags: list[dict[str, str]]
    network_interface_ids: list[str] = field(default_factory=list)
    state: str = "create-in-progress"
    state_message: str = ""

    def to_api(self) -> dict[str, Any]:
        """The Ec2InstanceConnectEndpoint structure (botocore member names)."""
        data: dict[str, Any] = {
            "OwnerId": self.owner_id,
            "InstanceConnectEndpointId": self.id,
            "InstanceConnectEndpointArn": self.arn,
            "State": self.state,
            "StateMessage": self.state_message,
            "DnsName": self.dns_name,
            "FipsDnsName": self.fips_dns_name,
            "NetworkInterfaceIds": list(self.network_interface_ids),
            "VpcId": self.vpc_id,
            "AvailabilityZone": self.availability_zone,
            "CreatedAt": self.created_at,
            "SubnetId": self.subnet_id,
            "PreserveClientIp": self.preserve_client_ip,
            "SecurityGroupIds": list(self.security_group_ids),
            "Tags": [dict(t) for t in self.tags],
            "IpAddressType": self.ip_address_type,
        }
        if self.availability_zone_id:
            data["AvailabilityZoneId"] = self.availability_zone_id
        return data


@dataclass
class _RegionState:
    endpoints: dict[str, Endpoint] = field(default_factory=dict)  # in creation order


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
    backend = _backend(request)
    subnet_id = params.get("SubnetId") or ""
    if not subnet_id:
        raise Ec2Error("MissingParameter", "The request must contain the parameter SubnetId")
    subnet = _subnet(backend, subnet_id)
    group_ids = [g for g in request.query_list("SecurityGroupId") if g]
    groups = _groups(backend, group_ids, subnet) if group_ids else [_default_group(backend, subnet.vpc_id)]
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

    with _LOCK:
        state = _state(backend)
        for other in state.endpoints.values():
            if other.vpc_id == subnet.vpc_id and other.state in LIVE:
                # AWS's exact code and wording for this refusal were not found in public sources:
                # ResourceLimitExceeded is EC2's documented code for "an Amazon EC2 resource limit".
                raise Ec2Error(
                    "ResourceLimitExceeded",
                    f"You can create only {MAX_PER_VPC} EC2 Instance Connect Endpoint per VPC, and {subnet.vpc_id} "
                    f"already has {other.id} (state {other.state}). Delete it first, or use it: one endpoint "
                    "reaches every subnet of its VPC. (ssmlab emulator: the quota is AWS's; this error's wording "
                    "is the emulator's.)")
        endpoint = _new_endpoint(request, subnet, groups, preserve, address_type, tags)
        try:
            interface = enis.create_managed(backend, subnet, owner=endpoint.id, groups=groups,
                                            description=f"EC2 Instance Connect Endpoint {endpoint.id}",
                                            interface_type=INTERFACE_TYPE)
        except Exception as exc:  # moto's EC2ClientError, e.g. InsufficientFreeAddressesInSubnet
            code = getattr(exc, "code", None)
            if not isinstance(code, str):
                raise
            raise Ec2Error(code, getattr(exc, "message", str(exc))) from None
        interface.add_tags({ENI_TAG: endpoint.id})
        endpoint.network_interface_ids.append(interface.id)
        state.endpoints[endpoint.id] = endpoint
        result = {"InstanceConnectEndpoint": endpoint.to_api()}
    if token:
        result["ClientToken"] = token
    return result


def describe(request: Any) -> dict[str, Any]:
    params = request.params
    _dry_run(params)
    backend = _backend(request)
    ids = [i for i in request.query_list("InstanceConnectEndpointId") if i]
    filters = _filters(request)
    max_results = _max_results(params.get("MaxResults"))
    with _LOCK:
        state = _state(backend)
        _advance(backend, state)
        for endpoint_id in ids:
            _check_id(endpoint_id)
            if endpoint_id not in state.endpoints:
                raise _not_found(endpoint_id)
        found = [e.to_api() for e in state.endpoints.values()
                 if (not ids or e.id in ids) and _matches(e, filters)]
    start = _decode_token(params.get("NextToken"), ids, filters)
    end = start + max_results if max_results else len(found)
    result: dict[str, Any] = {"InstanceConnectEndpoints": found[start:end]}
    if end < len(found):
        result["NextToken"] = _encode_token(end, ids, filters)
    return result


def delete(request: Any) -> dict[str, Any]:
    params = request.params
    _dry_run(params)
    backend = _backend(request)
    endpoint_id = params.get("InstanceConnectEndpointId") or ""
    if not endpoint_id:
        raise Ec2Error("MissingParameter", "The request must contain the parameter InstanceConnectEndpointId")
    _check_id(endpoint_id)
    with _LOCK:
        endpoint = _state(backend).endpoints.get(endpoint_id)
        if endpoint is None:
            raise _not_found(endpoint_id)
        if endpoint.state in ("create-in-progress", "create-complete"):
            endpoint.state = "delete-in-progress"
        return {"InstanceConnectEndpoint": endpoint.to_api()}


_ACTIONS = {
    "CreateInstanceConnectEndpoint": create,
    "DescribeInstanceConnectEndpoints": describe,
    "DeleteInstanceConnectEndpoint": delete,
}


def _respond(action: str, result: dict[str, Any], request: Any) -> Any:
    """Render `result` as EC2's XML with moto's serializer for botocore's output shape."""
    from ssmlab.emulator.rendering import render

    return render("ec2", action, result)


# --- state ---------------------------------------------------------------------------


def endpoints(account_id: str, region: str) -> list[dict[str, Any]]:
    """The endpoints of one account and region as the API shows them (for ssmlab's own code)."""
    from moto.ec2.models import ec2_backends

    with _LOCK:
        return [e.to_api() for e in _state(ec2_backends[account_id][region]).endpoints.values()]


def current_state(account_id: str, region: str, endpoint_id: str) -> str | None:
    """One endpoint's State as a describe would show it now (None: no such endpoint)."""
    from moto.ec2.models import ec2_backends

    backend = ec2_backends[account_id][region]
    with _LOCK:
        state = _state(backend)
        _advance(backend, state)
        endpoint = state.endpoints.get(endpoint_id)
        return endpoint.state if endpoint is not None else None


def _backend(request: Any) -> Any:
    from moto.ec2.models import ec2_backends

    return ec2_backends[request.account_id][request.region]


def _state(backend: Any) -> _RegionState:
    state = backend.__dict__.get(_STATE_ATTR)
    if state is None:
        state = backend.__dict__[_STATE_ATTR] = _RegionState()
    return state


def _advance(backend: Any, state: _RegionState) -> None:
    """Finish what was in progress: the emulator's stand-in for AWS's minutes of work."""
    for endpoint in state.endpoints.values():
        if endpoint.state == "create-in-progress":
            endpoint.state = "create-complete"
        elif endpoint.state == "delete-in-progress":
            for interface_id in endpoint.network_interface_ids:
                if interface_id in backend.enis:
                    enis.delete(backend, backend.enis[interface_id])
            endpoint.network_interface_ids = []
            endpoint.state = "delete-complete"


def _new_endpoint(request: Any, subnet: Any, groups: list[Any], preserve: bool, address_type: str,
                  tags: list[dict[str, str]]) -> Endpoint:
    endpoint_id = "eice-" + secrets.token_hex(9)[:17]
    region = request.region
    label = secrets.token_hex(4)  # AWS's names carry an 8-hex label: eice-....0123abcd.ec2-instance-connect-endpoint...
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return Endpoint(
        id=endpoint_id,
        arn=f"arn:{_partition(region)}:ec2:{region}:{request.account_id}:{RESOURCE_TYPE}/{endpoint_id}",
        owner_id=request.account_id,
        region=region,
        vpc_id=subnet.vpc_id,
        subnet_id=subnet.id,
        availability_zone=subnet.availability_zone,
        availability_zone_id=_zone_id(subnet),
        security_group_ids=[g.id for g in groups],
        preserve_client_ip=preserve,
        ip_address_type=address_type,
        dns_name=f"{endpoint_id}.{label}.ec2-instance-connect-endpoint.{region}.{suffix}",
        fips_dns_name=f"{endpoint_id}.{label}.fips.ec2-instance-connect-endpoint.{region}.{suffix}",
        created_at=datetime.now(timezone.utc).replace(microsecond=0),
        tags=tags,
    )


def _partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def _zone_id(subnet: Any) -> str | None:
    try:
        return subnet.availability_zone_id
    except Exception:  # moto builds it from its zone table; a missing entry is not worth failing for
        return None


# --- request parsing -----------------------------------------------------------------


def _subnet(backend: Any, subnet_id: str) -> Any:
    if not subnet_id.startswith("subnet-"):
        raise Ec2Error("InvalidSubnetID.Malformed", f"Invalid subnet ID '{subnet_id}' (expecting 'subnet-...')")
    for zone in backend.subnets.values():
        if subnet_id in zone:
            return zone[subnet_id]
    raise Ec2Error("InvalidSubnetID.NotFound", f"The subnet ID '{subnet_id}' does not exist")


def _groups(backend: Any, group_ids: list[str], subnet: Any) -> list[Any]:
    groups = []
    for group_id in dict.fromkeys(group_ids):
        group = backend.get_security_group_from_id(group_id)
        if group is None:
            raise Ec2Error("InvalidGroup.NotFound", f"The security group '{group_id}' does not exist")
        if group.vpc_id != subnet.vpc_id:
            # RunInstances' wording for the same mistake.
            raise Ec2Error("InvalidParameter",
                           f"Security group {group_id} and subnet {subnet.id} belong to different networks.")
        groups.append(group)
    return groups


def _default_group(backend: Any, vpc_id: str) -> Any:
    group = backend.get_default_security_group(vpc_id)
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


def _matches(endpoint: Endpoint, filters: dict[str, list[str]]) -> bool:
    tags = {t["Key"]: t["Value"] for t in endpoint.tags}
    for name, values in filters.items():
        if name == "instance-connect-endpoint-id":
            candidates = [endpoint.id]
        elif name == "state":
            candidates = [endpoint.state]
        elif name == "subnet-id":
            candidates = [endpoint.subnet_id]
        elif name == "vpc-id":
            candidates = [endpoint.vpc_id]
        elif name == "tag-key":
            candidates = list(tags)
        elif name == "tag-value":
            candidates = list(tags.values())
        else:  # tag:<key>
            key = name[4:]
            candidates = [tags[key]] if key in tags else []
        # EC2 filter values accept * and ? wildcards.
        if not any(fnmatch.fnmatchcase(c, v) for c in candidates for v in values):
            return False
    return True


def _check_id(endpoint_id: str) -> None:
    if not endpoint_id.startswith("eice-") or len(endpoint_id) <= 5:
        raise Ec2Error("InvalidInstanceConnectEndpointId.Malformed",
                       f"The EC2 Instance Connect Endpoint ID '{endpoint_id}' is malformed; "
                       "expected the form eice-xxxxxxxxxxxxxxxxx")


def _not_found(endpoint_id: str) -> Ec2Error:
    return Ec2Error("InvalidInstanceConnectEndpointId.NotFound",
                    f"The EC2 Instance Connect Endpoint '{endpoint_id}' does not exist")


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
