"""Can the instance open tcp PORT to a host in its VPC? The agent's dial for a port session to a remote host
(AWS-StartPortForwardingSessionToRemoteHost), judged hop by hop. Pure.

What the agent does (aws/amazon-ssm-agent `agent/session/plugins/port/port.go`): validateParameters looks the
host up (net.LookupHost, through the VPC's resolver) and refuses the session with "Forwarding to IP address H
is forbidden." when an address is one of DefaultDeniedPortForwardingRemoteIPs (`agent/appconfig/constants.go`:
IMDS, the Amazon DNS server, the time server...) or the VPC's DNS address (dnsRoutingAddress: the VPC CIDR's
base + 2); DialCall then dials each address with net.Dial — no timeout of its own — and a lookup that found
nothing leaves it no address: "missing address" (`port_basic.go` prefixes "Unable to connect to specified
port: "). The connection is judged as the rules judge the agent's 443 paths (`netpath`): the instance SG's
egress to the host's IP:port, the two subnets' NACLs both ways when the subnets differ (not within one
subnet), then the host's SG ingress from the instance (by source group or CIDR) — `sgrules`, `nacl`, and
netpath's `Hop`.

The simulation's choices: a name resolves when it is an instance's private IP name (ip-A-B-C-D, alone or with
the region's domain, as `instance.host.private_name` gives it) and the VPC has DNS support on; other names do
not resolve. An address that no running instance of the VPC holds, or outside the VPC, gets no answer (a
timeout). The replies go to the instance's Linux ephemeral ports (netpath.LINUX_EPHEMERAL_PORTS).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from ssmlab import nacl, netpath, sgrules
from ssmlab.instance import host as names
from ssmlab.model import Instance, LabState
from ssmlab.netpath import LINUX_EPHEMERAL_PORTS, Hop

# agent/appconfig/constants.go DefaultDeniedPortForwardingRemoteIPs (its IPv4 ones; the IPv6 ones never match here)
DENIED = ("169.254.169.254", "169.254.169.253", "169.254.169.123", "169.254.169.250", "169.254.169.251")
HOST_NOT_RESOLVED = "HOST_NOT_RESOLVED"
HOST_FORBIDDEN = "HOST_FORBIDDEN"
HOST_NOT_FOUND = "HOST_NOT_FOUND"
INSTANCE_SG_BLOCKS_PORT = "INSTANCE_SG_BLOCKS_PORT"
HOST_SG_BLOCKS_PORT = "HOST_SG_BLOCKS_PORT"
NACL_BLOCKS_PORT = "NACL_BLOCKS_PORT"
_IP_NAME = re.compile(r"^ip-(\d{1,3})-(\d{1,3})-(\d{1,3})-(\d{1,3})$")


@dataclass(frozen=True)
class HostPath:
    instance_id: str
    host: str  # as the session names it
    port: int
    address: str | None  # what the host resolved to
    target: Instance | None  # the instance holding the address, if any
    hops: tuple[Hop, ...]
    refusal: str | None = None  # the agent's words when it refuses before dialling (forbidden, no address)

    @property
    def reachable(self) -> bool:
        return not self.refusal and bool(self.hops) and all(h.passed for h in self.hops)

    @property
    def first_failure(self) -> Hop | None:
        return next((h for h in self.hops if not h.passed), None)

    def report(self) -> str:
        """Hop by hop, as a person reads it: ok or BLOCKED, the hop, why; then the agent's refusal, if any."""
        lines = [f"{'ok' if h.passed else 'BLOCKED':9}{h.name:20}{h.detail}" for h in self.hops]
        if self.refusal:
            lines.append(f"the agent refuses the session: {self.refusal}")
        return "\n".join(lines)


def resolve(state: LabState, me: Instance, host: str) -> str | None:
    """The address the agent on `me` gets for `host`, or None (see the module's docstring)."""
    try:
        return str(ipaddress.IPv4Address(host))
    except ValueError:
        pass
    vpc = state.vpc(me.vpc_id)
    if vpc is not None and not vpc.dns_support:
        return None
    label, _, domain = host.lower().rstrip(".").partition(".")
    if domain and domain != names.private_name(state, me).split(".", 1)[1]:
        return None
    match = _IP_NAME.match(label)
    return ".".join(match.groups()) if match and all(int(p) < 256 for p in match.groups()) else None


def vpc_dns_address(state: LabState, vpc_id: str | None) -> str | None:
    """dnsRoutingAddress: the Amazon DNS server, the VPC CIDR's base plus two."""
    vpc = state.vpc(vpc_id)
    net = nacl.network(vpc.cidr) if vpc else None
    return str(net.network_address + 2) if net else None


def path(state: LabState, instance_id: str, host: str, port: int) -> HostPath:
    """Every hop of the agent's connection from the instance to host:port, and back."""
    me = state.instance(instance_id)
    if me is None or me.state != "running" or not me.private_ip:
        detail = f"{instance_id} is not a running instance in the snapshot"
        return HostPath(instance_id, host, port, None, None, (Hop("instance", False, detail, instance_id, HOST_NOT_FOUND),))
    address = resolve(state, me, host)
    if address is None:
        detail = f"{host} does not resolve from {instance_id} (an IP address, or an instance's private IP name, does)"
        return HostPath(instance_id, host, port, None, None, (Hop("dns", False, detail, me.vpc_id, HOST_NOT_RESOLVED),),
                        "missing address")
    if address in DENIED or address == vpc_dns_address(state, me.vpc_id):
        detail = f"{address} is an address the SSM Agent never forwards to (the instance metadata service, the DNS server...)"
        return HostPath(instance_id, host, port, address, None, (Hop("dns", False, detail, me.vpc_id, HOST_FORBIDDEN),),
                        f"Forwarding to IP address {host} is forbidden.")
    hops = [Hop("dns", True, f"{host} is {address}" if host != address else f"{host}: an address, nothing to look up",
                me.vpc_id)]
    target = next((i for i in state.instances if i.private_ip == address and i.vpc_id == me.vpc_id), None)
    if target is None or target.state != "running":
        what = "no instance" if target is None else f"{target.instance_id}, which is {target.state}"
        hops.append(Hop("host", False, f"{address} in {me.vpc_id} is held by {what}: nothing answers the connection",
                        target.instance_id if target else me.vpc_id, HOST_NOT_FOUND))
        return HostPath(instance_id, host, port, address, target, tuple(hops))
    mine = ipaddress.IPv4Network(f"{me.private_ip}/32")
    theirs = ipaddress.IPv4Network(f"{address}/32")
    peer = sgrules.Peer(f"{target.instance_id} ({address})", (theirs,), group_ids=target.group_ids)
    hops.append(netpath.sg_hop("instance-sg-egress", sgrules.check(state, me.group_ids, "egress", peer, port),
                        INSTANCE_SG_BLOCKS_PORT))
    if target.subnet_id != me.subnet_id:
        mine_acl, their_acl = state.network_acl_for(me.subnet_id or ""), state.network_acl_for(target.subnet_id or "")
        walk = (("nacl-out", mine_acl, me.subnet_id, True, theirs, (port, port), f"the request to {address}, leaving"),
                ("host-nacl-in", their_acl, target.subnet_id, False, mine, (port, port),
                 f"the request from {me.instance_id}, entering"),
                ("host-nacl-return", their_acl, target.subnet_id, True, mine, LINUX_EPHEMERAL_PORTS,
                 "the reply to the instance's ephemeral ports, leaving"),
                ("nacl-return", mine_acl, me.subnet_id, False, theirs, LINUX_EPHEMERAL_PORTS, "the reply, entering"))
        hops += [netpath.nacl_hop(name, acl, subnet, egress=egress, peers=(peer_net,), ports=ports, why=why,
                                  code=NACL_BLOCKS_PORT)
                 for name, acl, subnet, egress, peer_net, ports, why in walk]
    source = sgrules.Peer(f"{me.instance_id} ({me.private_ip})", (mine,), group_ids=me.group_ids)
    hops.append(netpath.sg_hop("host-sg-ingress", sgrules.check(state, target.group_ids, "ingress", source, port),
                        HOST_SG_BLOCKS_PORT))
    return HostPath(instance_id, host, port, address, target, tuple(hops))
