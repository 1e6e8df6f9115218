"""Interface VPC endpoints as AWS makes them: their interfaces, DNS names and validation.

What moto 5.2.5 gets wrong (FACTS.md, moto) and a learner would be taught falsely:
- an interface endpoint's network interfaces get a random address outside their subnet
  and the VPC's default security group, and are listed as ordinary unattached interfaces;
  subnets added or removed later get no interface / keep theirs;
- DnsEntries is one made-up name;
- private DNS is accepted when the VPC's DNS attributes are off, twice for the same
  service in one VPC, and ModifyVpcEndpoint ignores PrivateDnsEnabled;
- any service name is accepted.

How: the validation runs before moto (`guards.before`, AWS's error codes); the
interfaces and DNS names are fixed on moto's own endpoint objects, in wrappers around the
EC2 backend's create / modify / delete methods. Wrapping the backend, rather than fixing
things after moto's HTTP answer, matters for CreateVpcEndpoint: moto serializes its
answer from the live endpoint object as soon as the backend method returns, so the
answer itself already shows the real interfaces and names, as do later describes.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from typing import Any

from ssmlab.emulator import enis, guards
from ssmlab.emulator.hooks import after

GONE = ("deleted", "deleting", "failed", "rejected", "expired")
"""Endpoint states (EC2 API reference, VpcEndpoint, State) in which it no longer counts as a
dependency or holds a private DNS name; moto itself only ever shows available and deleted."""

# How DescribeNetworkInterfaces shows an endpoint's interfaces: EC2 User Guide,
# "Requester-managed network interfaces", whose example output has exactly these
# Description, InterfaceType and RequesterId (the AWS account that makes them).
INTERFACE_TYPE = "vpc_endpoint"
DESCRIPTION = "VPC Endpoint Interface {endpoint_id}"
REQUESTER_ID = "727180483921"

# The hosted zone of the regional and zonal vpce names is one per region, owned by AWS.
# The AWS CLI's create-vpc-endpoint example shows us-east-1's; other regions get a stable
# stand-in of the same form (their real ids are not documented here).
_VPCE_ZONES = {"us-east-1": "Z7HUB22UULQXV"}


def install(app: Any) -> None:
    _wrap_backend()
    after(app, "ec2", "ModifyVpcEndpoint", _private_dns_changed)  # inside the guard below: under its lock
    guards.before(app, "ec2", "ModifyVpcEndpoint", check_modify)
    guards.before(app, "ec2", "CreateVpcEndpoint", check_create)


# --- validation, before moto -------------------------------------------------------------

def check_create(request: Any) -> None:
    """CreateVpcEndpoint: the service exists; for an interface endpoint, one subnet per AZ,
    known security groups, and private DNS (on unless asked off) allowed in the VPC."""
    from ssmlab.emulator.protocol import AwsError

    backend = _backend(request)
    vpc = backend.vpcs.get(request.params.get("VpcId"))
    if vpc is None:
        return  # moto answers InvalidVpcID.NotFound
    name = request.params.get("ServiceName", "")
    service = service_details(backend, request.region, name)
    if service is None:
        raise AwsError(400, "InvalidServiceName", f"The Vpc Endpoint Service '{name}' does not exist")
    # EC2 API reference, CreateVpcEndpoint: VpcEndpointType "Default: Gateway".
    if (request.params.get("VpcEndpointType") or "Gateway").lower() != "interface":
        return
    _subnets_exist(backend, request.query_list("SubnetId"))
    _one_subnet_per_az(backend, request.query_list("SubnetId"), [])
    _groups_exist(backend, request.query_list("SecurityGroupId"))
    # PrivateDnsEnabled for an interface endpoint to an AWS service: "Default: true" (EC2
    # API reference, CreateVpcEndpoint, in the editions that state a default; moto agrees).
    if _flag(request.params.get("PrivateDnsEnabled"), default=True):
        check_private_dns(backend, vpc, service, except_endpoint=None)


def check_modify(request: Any) -> None:
    """ModifyVpcEndpoint on an interface endpoint: the same rules for what it adds."""
    backend = _backend(request)
    endpoint = backend.vpc_end_points.get(request.params.get("VpcEndpointId"))
    if endpoint is None or not is_interface(endpoint) or endpoint.state in GONE:
        return  # moto answers for an unknown id
    adding = request.query_list("AddSubnetId")
    _subnets_exist(backend, adding)
    removed = set(request.query_list("RemoveSubnetId"))
    staying = [s for s in endpoint.subnet_ids or [] if s not in removed]
    _one_subnet_per_az(backend, adding, staying)
    _groups_exist(backend, request.query_list("AddSecurityGroupId"))
    if _flag(request.params.get("PrivateDnsEnabled"), default=False):
        service = service_details(backend, request.region, endpoint.service_name) or {}
        check_private_dns(backend, backend.vpcs[endpoint.vpc_id], service, except_endpoint=endpoint.id)


def check_private_dns(backend: Any, vpc: Any, service: dict, except_endpoint: str | None) -> None:
    """Private DNS needs both VPC DNS attributes, and the service's name free in the VPC."""
    from ssmlab.emulator.protocol import AwsError

    if not (_flag(vpc.enable_dns_support) and _flag(vpc.enable_dns_hostnames)):
        # Text as AWS answers it, quoted in public deployment logs ("api error
        # InvalidParameter: Enabling private DNS requires both enableDnsSupport and
        # enableDnsHostnames VPC attributes set to true for vpc-…"); the rule itself is in
        # the EC2 API reference, CreateVpcEndpoint, PrivateDnsEnabled.
        raise AwsError(400, "InvalidParameter",
                       "Enabling private DNS requires both enableDnsSupport and enableDnsHostnames "
                       f"VPC attributes set to true for {vpc.id}")
    name = service.get("PrivateDnsName")
    if not name:
        return
    for other in list(backend.vpc_end_points.values()):
        if (other.id != except_endpoint and other.vpc_id == vpc.id and is_interface(other)
                and other.state not in GONE and other.private_dns_enabled
                and private_dns_name(backend, other) == name):
            # AWS's text, quoted from a CloudFormation failure in a public repository
            # ("... (Service: AmazonEC2; Status Code: 400; Error Code: InvalidParameter)").
            raise AwsError(400, "InvalidParameter",
                           "private-dns-enabled cannot be set because there is already a conflicting "
                           f"DNS domain for {name} in the VPC {vpc.id}")


def _subnets_exist(backend: Any, subnet_ids: list[str]) -> None:
    """Checked first: moto creates the interfaces of the subnets before an unknown one and
    leaves them behind (create), or stores the unknown id (modify). Text as moto's own."""
    from ssmlab.emulator.protocol import AwsError

    for subnet_id in subnet_ids:
        if _subnet(backend, subnet_id) is None:
            raise AwsError(400, "InvalidSubnetID.NotFound", f"The subnet ID '{subnet_id}' does not exist")


def _one_subnet_per_az(backend: Any, adding: list[str], staying: list[str]) -> None:
    """An endpoint has at most one subnet per AZ: AWS answers DuplicateSubnetsInSameZone,
    "Found another VPC endpoint subnet in the availability zone of <subnet>" (quoted in
    public controllers that work around it)."""
    from ssmlab.emulator.protocol import AwsError

    zones: dict[str, str] = {}
    for subnet_id in [*staying, *adding]:
        subnet = _subnet(backend, subnet_id)
        if subnet is None:
            continue  # refused by _subnets_exist (adding) / already gone (staying)
        seen = zones.setdefault(subnet.availability_zone, subnet_id)
        if seen != subnet_id:
            raise AwsError(400, "DuplicateSubnetsInSameZone",
                           f"Found another VPC endpoint subnet in the availability zone of {seen}")


def _groups_exist(backend: Any, group_ids: list[str]) -> None:
    """moto would store an unknown group id and fail later while describing the endpoint;
    the code and text are EC2's for an unknown group (as moto words it elsewhere)."""
    from ssmlab.emulator.protocol import AwsError

    for group_id in group_ids:
        if backend.get_security_group_from_id(group_id) is None:
            raise AwsError(400, "InvalidGroup.NotFound", f"The security group '{group_id}' does not exist")


# --- the endpoint's interfaces and DNS names, on moto's objects ------------------------------

def sync(backend: Any, endpoint: Any) -> None:
    """Make an interface endpoint's interfaces and DnsEntries what AWS would show: one
    interface per subnet (EC2 API reference, CreateVpcEndpoint, SubnetIds: "the subnets in
    which to create endpoint network interfaces"), carrying the endpoint's security groups
    (or the VPC's default group when none was given: SecurityGroupIds)."""
    if not is_interface(endpoint) or endpoint.state in GONE:
        return
    if not endpoint.security_group_ids:
        default = backend.get_default_security_group(endpoint.vpc_id)
        endpoint.security_group_ids = [default.id] if default is not None else []
    groups = [g for g in map(backend.get_security_group_from_id, endpoint.security_group_ids) if g is not None]
    ours: dict[str, Any] = {}
    for eni_id in endpoint.network_interface_ids or []:
        eni = backend.enis.get(eni_id)
        if eni is None:
            continue
        if getattr(eni, enis.MANAGED_MARK, None) == endpoint.id:
            ours[eni.subnet.id] = eni
        else:
            enis.delete(backend, eni)  # moto's stand-in with a random address
    kept = []
    for subnet_id in endpoint.subnet_ids or []:
        eni = ours.pop(subnet_id, None)
        if eni is None:
            eni = enis.create_managed(
                backend, backend.get_subnet(subnet_id), owner=endpoint.id, interface_type=INTERFACE_TYPE,
                description=DESCRIPTION.format(endpoint_id=endpoint.id), requester_id=REQUESTER_ID, groups=groups,
            )
        eni._group_set = list(groups)
        kept.append(eni.id)
    for eni in ours.values():  # subnets removed from the endpoint
        enis.delete(backend, eni)
    endpoint.network_interface_ids = kept
    endpoint.dns_entries = dns_entries(backend, endpoint)


def release(backend: Any, endpoint: Any) -> None:
    """DeleteVpcEndpoints: "When you delete an interface endpoint, we delete its endpoint
    network interfaces" (EC2 API reference), and their addresses go back to the subnets."""
    for eni_id in endpoint.network_interface_ids or []:
        eni = backend.enis.get(eni_id)
        if eni is not None:
            enis.delete(backend, eni)
    endpoint.network_interface_ids = []


def dns_entries(backend: Any, endpoint: Any) -> list[dict[str, str]]:
    """The regional name, one name per AZ, then the service's own name when private DNS
    is on, each with its hosted zone: the shape of the AWS CLI's create-vpc-endpoint and
    describe-vpc-endpoints examples (vpce-<id>-<suffix>.<service>.<region>.vpce.amazonaws.com,
    vpce-<id>-<suffix>-<az>.…, <service>.<region>.amazonaws.com)."""
    region = backend.region_name
    service = service_details(backend, region, endpoint.service_name) or {}
    base = (service.get("BaseEndpointDnsNames") or [f"{short_name(endpoint.service_name)}.{region}.vpce.amazonaws.com"])[0]
    stem = f"{endpoint.id}-{_token(endpoint.id, 8)}"
    zone = _VPCE_ZONES.get(region) or _zone_id("vpce", region)
    entries = [{"DnsName": f"{stem}.{base}", "HostedZoneId": zone}]
    for subnet_id in endpoint.subnet_ids or []:
        subnet = _subnet(backend, subnet_id)
        if subnet is not None:
            entries.append({"DnsName": f"{stem}-{subnet.availability_zone}.{base}", "HostedZoneId": zone})
    name = service.get("PrivateDnsName")
    if endpoint.private_dns_enabled and name:
        # AWS makes a private hosted zone per endpoint for the service's name.
        entries.append({"DnsName": name, "HostedZoneId": _zone_id("private", endpoint.id)})
    return entries


def private_dns_name(backend: Any, endpoint: Any) -> str | None:
    return (service_details(backend, backend.region_name, endpoint.service_name) or {}).get("PrivateDnsName")


def service_details(backend: Any, region: str, name: str) -> dict | None:
    """The endpoint service called `name`, as DescribeVpcEndpointServices shows it, or None.

    moto's own list loads a dozen other services' backends the first time (about 1.5 s
    and 45 MB): for the plain `com.amazonaws.<region>.<service>` names it covers, the
    details are derived the way moto derives them, and the full list is read only for
    any other name (custom services, the SageMaker notebook names, unknown names)."""
    from moto.ec2.models import vpcs

    prefix = f"com.amazonaws.{region}."
    short = name[len(prefix):] if name.startswith(prefix) else None
    if short in vpcs.AWS_ENDPOINT_SERVICES or short in vpcs.COVERED_ENDPOINT_SERVICES:
        return {
            "ServiceName": name,
            "BaseEndpointDnsNames": [f"{short}.{region}.vpce.amazonaws.com"],
            "PrivateDnsName": f"{short}.{region}.amazonaws.com",
        }
    listed = backend._collect_default_endpoint_services(backend.account_id, region)
    custom = [c.to_dict() for c in getattr(backend, "configurations", {}).values()]
    return next((s for s in [*listed, *custom] if s.get("ServiceName") == name), None)


def short_name(service_name: str) -> str:
    return service_name.rsplit(".", 1)[-1]


def is_interface(endpoint: Any) -> bool:
    return (endpoint.vpc_endpoint_type or "").lower() == "interface"


# --- wiring ------------------------------------------------------------------------------

def _wrap_backend() -> None:
    """Wrap the EC2 backend class's endpoint methods once per process."""
    from moto.ec2.models import EC2Backend

    if getattr(EC2Backend.create_vpc_endpoint, "_ssmlab", False):
        return

    def wrap(name: str, make: Any) -> None:
        original = getattr(EC2Backend, name)
        wrapped = functools.wraps(original)(make(original))
        wrapped._ssmlab = True
        setattr(EC2Backend, name, wrapped)

    def create(original: Any) -> Any:
        def create_vpc_endpoint(self: Any, *args: Any, **kwargs: Any) -> Any:
            endpoint = original(self, *args, **kwargs)
            if is_interface(endpoint):
                sync(self, endpoint)
            else:
                endpoint.private_dns_enabled = False  # moto defaults it on for gateways too
            return endpoint
        return create_vpc_endpoint

    def modify(original: Any) -> Any:
        def modify_vpc_endpoint(self: Any, vpc_id: str, *args: Any, **kwargs: Any) -> Any:
            result = original(self, vpc_id, *args, **kwargs)  # moto calls the endpoint id vpc_id
            endpoint = self.vpc_end_points.get(vpc_id)
            if endpoint is not None:
                sync(self, endpoint)
            return result
        return modify_vpc_endpoint

    def delete(original: Any) -> Any:
        def delete_vpc_endpoints(self: Any, vpce_ids: list[str] | None = None) -> Any:
            for endpoint_id in vpce_ids or []:
                endpoint = self.vpc_end_points.get(endpoint_id)
                if endpoint is not None and is_interface(endpoint):
                    release(self, endpoint)
            return original(self, vpce_ids)
        return delete_vpc_endpoints

    wrap("create_vpc_endpoint", create)
    wrap("modify_vpc_endpoint", modify)
    wrap("delete_vpc_endpoints", delete)


def _private_dns_changed(request: Any) -> None:
    """moto's backend never sees ModifyVpcEndpoint's PrivateDnsEnabled: apply it (already
    validated by check_modify) and refresh the DNS names."""
    value = request.params.get("PrivateDnsEnabled")
    if value is None:
        return
    backend = _backend(request)
    endpoint = backend.vpc_end_points.get(request.params.get("VpcEndpointId"))
    if endpoint is not None and is_interface(endpoint):
        endpoint.private_dns_enabled = _flag(value)
        sync(backend, endpoint)


def _backend(request: Any) -> Any:
    from moto.ec2.models import ec2_backends

    return ec2_backends[request.account_id][request.region]


def _subnet(backend: Any, subnet_id: str) -> Any:
    from moto.ec2.exceptions import InvalidSubnetIdError

    try:
        return backend.get_subnet(subnet_id)
    except InvalidSubnetIdError:
        return None


def _flag(value: Any, default: bool | None = False) -> bool:
    """A boolean from moto's state or a query parameter ("true"/"false")."""
    if value is None:
        return bool(default)
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() == "true"


def _token(seed: str, length: int) -> str:
    """Lower-case letters and digits, stable for a seed (like AWS's 8-character suffix)."""
    number = int.from_bytes(hashlib.sha256(seed.encode()).digest(), "big")
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    out = []
    for _ in range(length):
        number, digit = divmod(number, len(alphabet))
        out.append(alphabet[digit])
    return "".join(out)


def _zone_id(kind: str, seed: str) -> str:
    """A Route 53 hosted zone id of AWS's form (Z + upper-case letters and digits)."""
    digest = hashlib.sha256(f"{kind}:{seed}".encode()).digest()
    return "Z" + base64.b32encode(digest).decode().rstrip("=")[:12]
