"""Can this instance reach service X on tcp/443? A pure walk of the path, hop by hop.

The SSM Agent opens HTTPS connections out to ssm, ssmmessages and ec2messages (FACTS.md).
From a private subnet that works through interface VPC endpoints with private DNS; from a
public or NAT subnet through the service's public addresses. Each hop says, in one
sentence with the real ids, why traffic passes or where it stops, and a failed hop
carries the doctor code of its root cause.

Approximations, deliberate and stated:
- Public destinations: the service's public addresses are not modelled, so a security
  group or NACL rule counts for them only when it covers 0.0.0.0/0 (or the S3 prefix list
  for S3 through a gateway endpoint). A NAT gateway or other default-route target is
  trusted to forward; its own subnet is not walked.
- Endpoint addresses: the real private IP of an endpoint's network interface is used when
  it lies inside its subnet; otherwise (moto gives a random IP outside the subnet, FACTS.md)
  the interface stands for "somewhere in its subnet", and a rule counts only if its CIDR
  contains the whole subnet CIDR.
- The client side is Linux: replies come back to ports 32768-60999.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from ssmlab import nacl, sgrules
from ssmlab.model import Instance, LabState, NetworkAcl, VpcEndpoint

HTTPS = 443
# Linux's default net.ipv4.ip_local_port_range is "32768 60999" (kernel docs, ip-sysctl);
# the Amazon VPC User Guide, "Ephemeral ports", gives 32768-61000 for Linux kernels.
LINUX_EPHEMERAL_PORTS = (32768, 60999)
ANYWHERE = ipaddress.IPv4Network("0.0.0.0/0")

HOP_NAMES = ("instance", "dns", "route", "instance-sg-egress", "nacl-out", "nacl-return", "endpoint-nacl-in",
             "endpoint-nacl-return", "endpoint-sg-ingress", "endpoint-state")
VPC_DNS_SUPPORT_DISABLED = "VPC_DNS_SUPPORT_DISABLED"
VPC_DNS_HOSTNAMES_DISABLED = "VPC_DNS_HOSTNAMES_DISABLED"
ENDPOINT_MISSING = "ENDPOINT_MISSING"
ENDPOINT_PRIVATE_DNS_DISABLED = "ENDPOINT_PRIVATE_DNS_DISABLED"
ENDPOINT_NOT_AVAILABLE = "ENDPOINT_NOT_AVAILABLE"
ENDPOINT_SG_BLOCKS_HTTPS = "ENDPOINT_SG_BLOCKS_HTTPS"
INSTANCE_SG_BLOCKS_HTTPS = "INSTANCE_SG_BLOCKS_HTTPS"
NACL_BLOCKS_HTTPS = "NACL_BLOCKS_HTTPS"
INSTANCE_NOT_FOUND = "INSTANCE_NOT_FOUND"
INSTANCE_NOT_RUNNING = "INSTANCE_NOT_RUNNING"

# An endpoint being deleted no longer answers for the service name; any other state that
# is not "available" still resolves and is reported by the endpoint-state hop.
_GONE = ("deleting", "deleted")


@dataclass(frozen=True)
class Hop:
    name: str  # one of HOP_NAMES
    passed: bool
    detail: str  # one sentence a learner understands, with the real ids
    resource: str | None = None  # the id concerned (sg-, acl-, vpce-, rtb-, vpc-, i-)
    code: str | None = None  # when failed: the doctor code
    rule: int | None = None  # a NACL hop that failed: the rule that denied (32767: the final * rule)


@dataclass(frozen=True)
class Resolution:
    service: str
    hostname: str
    via: str  # "endpoint" | "public" | "none" (DNS unavailable)
    endpoint_id: str | None
    addresses: tuple[str, ...]
    detail: str


@dataclass(frozen=True)
class PathResult:
    instance_id: str
    service: str
    resolution: Resolution
    hops: tuple[Hop, ...]

    @property
    def reachable(self) -> bool:
        return bool(self.hops) and all(h.passed for h in self.hops)

    @property
    def first_failure(self) -> Hop | None:
        return next((h for h in self.hops if not h.passed), None)


@dataclass(frozen=True)
class _Interface:
    """One endpoint network interface, or its subnet standing in for it."""

    subnet_id: str | None
    network: ipaddress.IPv4Network  # the /32 of a usable IP, else the subnet CIDR
    eni_id: str | None
    ip: str | None  # only when usable
    az: str | None

    @property
    def label(self) -> str:
        if self.ip:
            return f"{self.ip} ({self.eni_id} in {self.subnet_id})"
        return f"an address in {self.subnet_id} ({self.network})"


def service_name(service: str, region: str) -> str:
    """An endpoint's service name: com.amazonaws.<region>.<service> (cn.com.amazonaws... in the China regions)."""
    prefix = "cn.com.amazonaws" if region.startswith("cn-") else "com.amazonaws"
    return f"{prefix}.{region}.{service}"


def hostname(service: str, region: str) -> str:
    """The regional service name the agent calls (AWS General Reference, "Service endpoints")."""
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"{service}.{region}.{suffix}"


def _dns_attributes(state: LabState, vpc_id: str | None) -> tuple[bool, bool, str]:
    vpc = state.vpc(vpc_id)
    if vpc is None:  # not in the snapshot: assume what a new VPC has (FACTS.md)
        return True, False, f"{vpc_id} (not in the snapshot; assuming a new VPC's DNS support on, hostnames off)"
    return vpc.dns_support, vpc.dns_hostnames, vpc.vpc_id


def interface_endpoint(state: LabState, vpc_id: str | None, service: str) -> VpcEndpoint | None:
    """The service's interface endpoint in the VPC, preferring one with private DNS, then an available one."""
    found = [
        e for e in state.endpoints_for(service)
        if e.vpc_id == vpc_id and e.endpoint_type.lower() == "interface" and e.state not in _GONE
    ]
    found.sort(key=lambda e: (not e.private_dns, e.state != "available"))
    return found[0] if found else None


def _interfaces(state: LabState, endpoint: VpcEndpoint) -> list[_Interface]:
    """Where the endpoint answers: its ENIs, else each of its subnets (see the module docstring)."""
    found: list[_Interface] = []
    for eni in (n for n in state.network_interfaces if n.eni_id in endpoint.network_interface_ids):
        subnet = state.subnet(eni.subnet_id)
        subnet_net = nacl.network(subnet.cidr) if subnet else None
        ip = nacl.network(f"{eni.private_ip}/32") if eni.private_ip else None
        az = subnet.az if subnet else None
        if ip is not None and (subnet_net is None or ip.subnet_of(subnet_net)):
            found.append(_Interface(eni.subnet_id, ip, eni.eni_id, eni.private_ip, az))
        elif subnet_net is not None:
            found.append(_Interface(eni.subnet_id, subnet_net, eni.eni_id, None, az))
    covered = {i.subnet_id for i in found}
    for subnet in (state.subnet(s) for s in endpoint.subnet_ids if s not in covered):
        if subnet is not None and (net := nacl.network(subnet.cidr)) is not None:
            found.append(_Interface(subnet.subnet_id, net, None, None, subnet.az))
    return found


def _choose(interfaces: list[_Interface], state: LabState, instance: Instance) -> _Interface | None:
    """The interface in the instance's subnet, else in its AZ, else any."""
    subnet = state.subnet(instance.subnet_id or "")
    az = subnet.az if subnet else None
    ranked = sorted(interfaces, key=lambda i: (i.subnet_id != instance.subnet_id, az is None or i.az != az))
    return ranked[0] if ranked else None


def resolve(state: LabState, instance: Instance, service: str) -> Resolution:
    """What the instance's DNS answers for the service's name, following the VPC DNS rules.

    The Amazon-provided DNS server answers only with enableDnsSupport on; an endpoint's
    private DNS name takes over the service name only with enableDnsHostnames on too
    (EC2 API reference, CreateVpcEndpoint, PrivateDnsEnabled; FACTS.md).
    """
    name = hostname(service, state.region)
    support, hostnames, vpc_label = _dns_attributes(state, instance.vpc_id)
    if not support:
        return Resolution(
            service, name, "none", None, (),
            f"enableDnsSupport is off on {vpc_label}: the Amazon-provided DNS server does not answer, so {name} does not resolve",
        )
    endpoint = interface_endpoint(state, instance.vpc_id, service)
    if endpoint and endpoint.private_dns and hostnames:
        interfaces = _interfaces(state, endpoint)
        addresses = tuple(i.ip for i in interfaces if i.ip)
        where = ", ".join(i.label for i in interfaces) or "no network interface at all"
        return Resolution(
            service, name, "endpoint", endpoint.endpoint_id, addresses,
            f"{name} resolves through the private DNS of {endpoint.endpoint_id} to {where}",
        )
    gateway = _gateway(state, instance, service)
    if gateway is not None:
        return Resolution(
            service, name, "public", gateway.endpoint_id, (),
            f"{name} resolves to {service}'s public addresses (prefix list {gateway.prefix_list_id}), which "
            f"{gateway.table_id} sends to the gateway endpoint {gateway.endpoint_id}",
        )
    if endpoint is None:
        why = f"there is no interface endpoint for {service} in {instance.vpc_id}"
    elif endpoint.private_dns:
        why = f"{endpoint.endpoint_id} has private DNS on, but enableDnsHostnames is off on {vpc_label}"
    else:
        why = f"{endpoint.endpoint_id} has private DNS off"
    return Resolution(service, name, "public", None, (), f"{name} resolves to the service's public addresses: {why}")


def _root_cause(state: LabState, instance: Instance, service: str) -> str:
    """Why the name did not lead to an endpoint: the code whose fix makes it do so."""
    endpoint = interface_endpoint(state, instance.vpc_id, service)
    if endpoint is None:
        return ENDPOINT_MISSING
    return VPC_DNS_HOSTNAMES_DISABLED if endpoint.private_dns else ENDPOINT_PRIVATE_DNS_DISABLED


def _instance_network(state: LabState, instance: Instance) -> ipaddress.IPv4Network:
    ip = nacl.network(f"{instance.private_ip}/32") if instance.private_ip else None
    if ip is not None:
        return ip
    subnet = state.subnet(instance.subnet_id or "")
    return (nacl.network(subnet.cidr) if subnet else None) or ANYWHERE


def nacl_hop(name: str, acl: NetworkAcl | None, subnet_id: str | None, *, egress: bool, why: str,
             peers: tuple[ipaddress.IPv4Network, ...], ports: tuple[int, int], code: str = NACL_BLOCKS_HTTPS) -> Hop:
    """All `peers` (one address, a subnet, or each CIDR of a prefix list) must pass (hostpath's hops too)."""
    verdicts = [nacl.check(acl, egress=egress, peer=peer, ports=ports) for peer in peers]
    verdict = next((v for v in verdicts if not v.passed), verdicts[-1])
    return Hop(name, verdict.passed, f"{why} {subnet_id}: {verdict.detail}", acl.nacl_id if acl else None,
               *((None, None) if verdict.passed else (code, verdict.rule_number)))


def sg_hop(name: str, verdict: sgrules.SgVerdict, code: str) -> Hop:
    return Hop(name, verdict.passed, verdict.detail, verdict.group_id, None if verdict.passed else code)


def _client_side(state: LabState, instance: Instance, peer: sgrules.Peer) -> list[Hop]:
    """Instance SG egress, then the instance subnet's NACL both ways (request out, reply in)."""
    acl = state.network_acl_for(instance.subnet_id or "")
    return [
        sg_hop("instance-sg-egress", sgrules.check(state, instance.group_ids, "egress", peer), INSTANCE_SG_BLOCKS_HTTPS),
        nacl_hop("nacl-out", acl, instance.subnet_id, egress=True, peers=peer.networks, ports=(HTTPS, HTTPS),
                  why=f"the request to {peer.label}, leaving"),
        nacl_hop("nacl-return", acl, instance.subnet_id, egress=False, peers=peer.networks, ports=LINUX_EPHEMERAL_PORTS,
                  why="the reply to the instance's ephemeral ports, entering"),
    ]


def _state_hop(endpoint: VpcEndpoint) -> Hop:
    if endpoint.state == "available":
        return Hop("endpoint-state", True, f"{endpoint.endpoint_id} is available", endpoint.endpoint_id)
    return Hop("endpoint-state", False, f"{endpoint.endpoint_id} is {endpoint.state or 'in an unknown state'}, not available",
               endpoint.endpoint_id, ENDPOINT_NOT_AVAILABLE)


def _endpoint_hops(state: LabState, instance: Instance, resolution: Resolution) -> list[Hop]:
    endpoint = next(e for e in state.endpoints if e.endpoint_id == resolution.endpoint_id)
    chosen = _choose(_interfaces(state, endpoint), state, instance)
    if chosen is None:
        return [Hop("dns", False, f"{endpoint.endpoint_id} has no network interface in any subnet, so private DNS has no address to give",
                    endpoint.endpoint_id, ENDPOINT_MISSING)]
    hops = [Hop("dns", True, f"{resolution.detail}; the instance uses {chosen.label}", endpoint.endpoint_id)]
    table = state.route_table_for(instance.subnet_id or "")
    vpc = state.vpc(instance.vpc_id)
    hops.append(Hop(
        "route", True,
        f"{nacl.text(chosen.network)} is inside {instance.vpc_id}" + (f" ({vpc.cidr})" if vpc else "")
        + f": the local route of {table.route_table_id if table else 'its route table'} delivers it",
        table.route_table_id if table else instance.vpc_id,
    ))
    groups = endpoint.group_ids or next(
        (n.group_ids for n in state.network_interfaces if n.eni_id == chosen.eni_id), ()
    )
    target = sgrules.Peer(f"{endpoint.endpoint_id} at {chosen.label}", (chosen.network,), group_ids=groups)
    client = _client_side(state, instance, target)
    hops.append(client[0])
    me = _instance_network(state, instance)
    if chosen.subnet_id == instance.subnet_id:
        # NACLs are evaluated when traffic enters and leaves a subnet, not as it is routed
        # within one (Amazon VPC User Guide, "Network ACL basics").
        acl = state.network_acl_for(instance.subnet_id or "")
        acl_id = acl.nacl_id if acl else None
        for name, what in (("nacl-out", "request"), ("nacl-return", "reply")):
            hops.append(Hop(name, True, f"the {what} stays inside {instance.subnet_id}, so its network ACL "
                                        f"({acl_id or 'whichever'}) is not evaluated", acl_id))
    else:
        far = state.network_acl_for(chosen.subnet_id or "")
        hops += client[1:]
        hops.append(nacl_hop("endpoint-nacl-in", far, chosen.subnet_id, egress=False, peers=(me,), ports=(HTTPS, HTTPS),
                              why=f"the request from {instance.instance_id}, entering the endpoint's subnet"))
        hops.append(nacl_hop("endpoint-nacl-return", far, chosen.subnet_id, egress=True, peers=(me,),
                              ports=LINUX_EPHEMERAL_PORTS, why="the reply, leaving the endpoint's subnet"))
    source = sgrules.Peer(f"{instance.instance_id} ({nacl.text(me)})", (me,), group_ids=instance.group_ids)
    hops.append(sg_hop("endpoint-sg-ingress", sgrules.check(state, groups, "ingress", source), ENDPOINT_SG_BLOCKS_HTTPS))
    hops.append(_state_hop(endpoint))
    return hops


@dataclass(frozen=True)
class _Gateway:
    table_id: str
    prefix_list_id: str
    endpoint_id: str
    endpoint: VpcEndpoint | None
    networks: tuple[ipaddress.IPv4Network, ...]


def _gateway(state: LabState, instance: Instance, service: str) -> _Gateway | None:
    """The route that sends `service`'s prefix list to a gateway endpoint (S3, DynamoDB), if any.

    A gateway endpoint adds a route whose destination is the service's AWS-managed prefix
    list (Amazon VPC User Guide, "Gateway endpoints"). The name still resolves to public
    addresses; the route carries them privately. Without the list's entries in the
    snapshot, its CIDRs are unknown and only rules for 0.0.0.0/0 (or the list) can match.
    """
    table = state.route_table_for(instance.subnet_id or "")
    for route in table.routes if table else ():
        if not (route.destination.startswith("pl-") and route.target.startswith("vpce-") and route.state != "blackhole"):
            continue
        endpoint = next((e for e in state.endpoints if e.endpoint_id == route.target), None)
        listed = state.prefix_list(route.destination)
        if endpoint is not None and endpoint.service != service:
            continue
        if endpoint is None and not (listed and listed.name.rsplit(".", 1)[-1] == service):
            continue
        networks = tuple(n for n in (nacl.network(c) for c in (listed.cidrs if listed else ())) if n) or (ANYWHERE,)
        return _Gateway(table.route_table_id, route.destination, route.target, endpoint, networks)
    return None


def _gateway_hops(state: LabState, instance: Instance, service: str, resolution: Resolution, gateway: _Gateway) -> list[Hop]:
    """S3 through a gateway endpoint; when the instance SG restricts egress it needs a rule to the prefix list (FACTS.md)."""
    peer = sgrules.Peer(f"the {service} prefix list {gateway.prefix_list_id}", gateway.networks,
                        prefix_list_id=gateway.prefix_list_id)
    hops = [
        Hop("dns", True, resolution.detail, gateway.endpoint_id),
        Hop("route", True, f"{gateway.table_id} sends prefix list {gateway.prefix_list_id} to the gateway endpoint "
                           f"{gateway.endpoint_id}", gateway.table_id),
        *_client_side(state, instance, peer),
    ]
    if gateway.endpoint is not None:
        hops.append(_state_hop(gateway.endpoint))
    return hops


def _public_hops(state: LabState, instance: Instance, service: str, resolution: Resolution) -> list[Hop]:
    gateway = _gateway(state, instance, service)
    if gateway is not None:
        return _gateway_hops(state, instance, service, resolution, gateway)
    table = state.route_table_for(instance.subnet_id or "")
    table_id = table.route_table_id if table else None
    default = next((r for r in (table.routes if table else ()) if r.destination == "0.0.0.0/0" and r.state != "blackhole"), None)
    target = default.target if default else ""
    if target.startswith("igw-") and instance.public_ip:
        route = f"{table_id} sends 0.0.0.0/0 to {target} and the instance has the public IP {instance.public_ip}"
    elif target.startswith("igw-"):
        route = f"{table_id} sends 0.0.0.0/0 to {target}, but the instance has no public IP, so the internet gateway cannot carry its traffic"
    elif target.startswith("nat-"):
        route = f"{table_id} sends 0.0.0.0/0 to the NAT gateway {target}"
    elif default:
        route = f"{table_id} sends 0.0.0.0/0 to {target} (what lies beyond it is not checked)"
    else:
        owner = table_id if table else f"{instance.subnet_id} (no route table in the snapshot)"
        route = (
            f"{owner} has no route out of the VPC (no 0.0.0.0/0 to an internet or NAT gateway), so the public address of "
            f"{resolution.hostname} is unreachable"
        )
    if default and (instance.public_ip or not target.startswith("igw-")):
        hops = [Hop("dns", True, resolution.detail), Hop("route", True, route, table_id)]
    else:
        # No way out: the failure is explained by what kept the name from the endpoint.
        # Each failed hop names where the fix goes: the VPC (create the endpoint, or turn
        # DNS hostnames on) or the endpoint (turn its private DNS on).
        code = _root_cause(state, instance, service)
        endpoint = interface_endpoint(state, instance.vpc_id, service)
        fix_at = endpoint.endpoint_id if code == ENDPOINT_PRIVATE_DNS_DISABLED and endpoint else instance.vpc_id
        if code == ENDPOINT_MISSING:
            dns = Hop("dns", True, resolution.detail)
            route += f", and there is no interface endpoint for {service} in {instance.vpc_id} to use instead"
        else:
            dns = Hop("dns", False, resolution.detail, fix_at, code)
        return [dns, Hop("route", False, route, fix_at, code)]  # nothing leaves the subnet: later hops would say nothing
    peer = sgrules.Peer(f"the public address of {resolution.hostname} (0.0.0.0/0)", (ANYWHERE,))
    return hops + _client_side(state, instance, peer)


def path(state: LabState, instance_id: str, service: str) -> PathResult:
    """Every hop from the instance to `service` on tcp/443, and back."""
    instance = state.instance(instance_id)
    name = hostname(service, state.region)
    if instance is None or not instance.subnet_id:
        detail = f"{instance_id} is not in the snapshot" if instance is None else f"{instance_id} is not in a VPC subnet"
        return PathResult(instance_id, service, Resolution(service, name, "none", None, (), detail),
                          (Hop("instance", False, detail, instance_id, INSTANCE_NOT_FOUND),))
    if instance.state != "running":
        detail = f"{instance_id} is {instance.state}, not running: its agent cannot connect to anything"
        return PathResult(instance_id, service, Resolution(service, name, "none", None, (), detail),
                          (Hop("instance", False, detail, instance_id, INSTANCE_NOT_RUNNING),))
    resolution = resolve(state, instance, service)
    if resolution.via == "none":
        hops = [Hop("dns", False, resolution.detail, instance.vpc_id, VPC_DNS_SUPPORT_DISABLED)]
    elif resolution.via == "endpoint":
        hops = _endpoint_hops(state, instance, resolution)
    else:
        hops = _public_hops(state, instance, service, resolution)
    return PathResult(instance_id, service, resolution, tuple(hops))
