"""EC2 Instance Connect Endpoints as the emulator keeps them: on moto's EC2 backend, beside the interfaces they own.

The state side of `eice` (its wire side: parameters in, EC2's XML out), as moto's
models.py beside its responses.py. The endpoints live on moto's EC2 backend object of
their account and region, so moto's reset (which replaces the backends) forgets them
together with their interfaces. AWS takes minutes to create or delete one; the emulator
takes one look: `advance` finishes what was in progress whenever the endpoints are read.
"""

from __future__ import annotations

import fnmatch
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ssmlab.emulator import enis
from ssmlab.emulator.protocol import AwsError

INTERFACE_TYPE = "ec2_instance_connect_endpoint"  # as DescribeNetworkInterfaces shows it on AWS
ENI_TAG = "InstanceConnectEndpointId"  # the tag AWS's service-linked role must set (Ec2InstanceConnectEndpoint policy)
RESOURCE_TYPE = "instance-connect-endpoint"  # TagSpecifications.ResourceType
MAX_PER_VPC = 1  # EC2 User Guide, "Quotas for EC2 Instance Connect Endpoint": 1 per VPC, 1 per subnet, not adjustable
FILTERS = ("instance-connect-endpoint-id", "state", "subnet-id", "vpc-id", "tag-key", "tag-value")  # + tag:<key>
LIVE = ("create-in-progress", "create-complete", "delete-in-progress")  # what counts against the quota

LOCK = threading.RLock()
"""Held around every read and change of the endpoints (the emulator serves requests in threads)."""
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

    def matches(self, filters: dict[str, list[str]]) -> bool:
        """Whether every filter (DescribeInstanceConnectEndpoints' names) has a value matching this self."""
        tags = {t["Key"]: t["Value"] for t in self.tags}
        for name, values in filters.items():
            if name == "instance-connect-endpoint-id":
                candidates = [self.id]
            elif name == "state":
                candidates = [self.state]
            elif name == "subnet-id":
                candidates = [self.subnet_id]
            elif name == "vpc-id":
                candidates = [self.vpc_id]
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


@dataclass
class RegionState:
    endpoints: dict[str, Endpoint] = field(default_factory=dict)  # in creation order


def backend(account_id: str, region: str) -> Any:
    """moto's EC2 backend of an account and region."""
    from moto.ec2.models import ec2_backends

    return ec2_backends[account_id][region]


def state_of(ec2: Any) -> RegionState:
    """The endpoints kept on an EC2 backend (made empty on first use)."""
    state = ec2.__dict__.get(_STATE_ATTR)
    if state is None:
        state = ec2.__dict__[_STATE_ATTR] = RegionState()
    return state


def endpoints(account_id: str, region: str) -> list[dict[str, Any]]:
    """The endpoints of one account and region as the API shows them (for ssmlab's own code)."""
    with LOCK:
        return [e.to_api() for e in state_of(backend(account_id, region)).endpoints.values()]


def current_state(account_id: str, region: str, endpoint_id: str) -> str | None:
    """One endpoint's State as a describe would show it now (None: no such endpoint)."""
    ec2 = backend(account_id, region)
    with LOCK:
        state = state_of(ec2)
        advance(ec2, state)
        endpoint = state.endpoints.get(endpoint_id)
        return endpoint.state if endpoint is not None else None


def add_endpoint(ec2: Any, request: Any, subnet: Any, groups: list[Any], preserve: bool, address_type: str,
                 tags: list[dict[str, str]]) -> Endpoint:
    """A new endpoint in `subnet` with its interface, unless its VPC has one already (the quota)."""
    with LOCK:
        state = state_of(ec2)
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
            interface = enis.create_managed(ec2, subnet, owner=endpoint.id, groups=groups,
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
        return endpoint


def describe_endpoints(ec2: Any, ids: list[str], filters: dict[str, list[str]]) -> list[Endpoint]:
    """The endpoints named (all when none is) that match every filter, as they are now; NotFound for an id
    never created."""
    with LOCK:
        state = state_of(ec2)
        advance(ec2, state)
        for endpoint_id in ids:
            if endpoint_id not in state.endpoints:
                raise not_found(endpoint_id)
        return [e for e in state.endpoints.values() if (not ids or e.id in ids) and e.matches(filters)]


def delete_endpoint(ec2: Any, endpoint_id: str) -> Endpoint:
    """Start deleting an endpoint; one deleted already stays as it is (deleting again still works)."""
    with LOCK:
        endpoint = state_of(ec2).endpoints.get(endpoint_id)
        if endpoint is None:
            raise not_found(endpoint_id)
        if endpoint.state in ("create-in-progress", "create-complete"):
            endpoint.state = "delete-in-progress"
        return endpoint


def not_found(endpoint_id: str) -> Ec2Error:
    return Ec2Error("InvalidInstanceConnectEndpointId.NotFound",
                    f"The EC2 Instance Connect Endpoint '{endpoint_id}' does not exist")


def advance(ec2: Any, state: RegionState) -> None:
    """Finish what was in progress: the emulator's stand-in for AWS's minutes of work."""
    for endpoint in state.endpoints.values():
        if endpoint.state == "create-in-progress":
            endpoint.state = "create-complete"
        elif endpoint.state == "delete-in-progress":
            for interface_id in endpoint.network_interface_ids:
                if interface_id in ec2.enis:
                    enis.delete(ec2, ec2.enis[interface_id])
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
