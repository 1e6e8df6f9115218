"""Pure network ACL evaluation for one direction, one peer and a range of TCP ports.

Network ACLs are stateless and ordered: rules are evaluated from the lowest number up,
the first rule that matches decides, and the final `*` rule (32767) denies what nothing
matched (Amazon VPC User Guide, "Network ACL basics" and "Network ACL rules"). A range
of ports (the client's ephemeral ports for return traffic) is allowed only when every
port of it is allowed: the walk tracks which ports are still undecided, and a deny that
hits any of them blocks the connection that would have used that port.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from ssmlab.model import NaclEntry, NetworkAcl

DEFAULT_DENY_RULE = 32767  # the `*` rule every NACL ends with
TCP_PROTOCOLS = ("-1", "6", "tcp", "all")

Ports = tuple[int, int]


@dataclass(frozen=True)
class Verdict:
    passed: bool
    detail: str
    rule_number: int | None = None  # the deny that blocked, or the last allow that completed the range


def network(cidr: str | None) -> ipaddress.IPv4Network | None:
    """An IPv4 network, or None for IPv6 or unreadable values (IPv6 rules never match IPv4 traffic)."""
    try:
        parsed = ipaddress.ip_network(str(cidr), strict=False)
    except ValueError:
        return None
    return parsed if isinstance(parsed, ipaddress.IPv4Network) else None


def text(net: ipaddress.IPv4Network) -> str:
    """An address as a learner writes it: 10.0.0.5 for a single host, else the CIDR."""
    return str(net.network_address) if net.prefixlen == 32 else str(net)


def ports_text(ports: Ports) -> str:
    return str(ports[0]) if ports[0] == ports[1] else f"{ports[0]}-{ports[1]}"


def _entry_ports(entry: NaclEntry) -> Ports:
    if entry.protocol == "-1" or entry.port_from is None or entry.port_to is None:
        return (0, 65535)
    return (int(entry.port_from), int(entry.port_to))


def _matches(entry: NaclEntry, peer: ipaddress.IPv4Network) -> bool:
    """Whether the rule's protocol is TCP-capable and its CIDR contains the whole peer network."""
    rule_net = network(entry.cidr)
    return str(entry.protocol).lower() in TCP_PROTOCOLS and rule_net is not None and peer.subnet_of(rule_net)


def _subtract(undecided: list[Ports], taken: Ports) -> list[Ports]:
    left: list[Ports] = []
    for lo, hi in undecided:
        if taken[1] < lo or taken[0] > hi:
            left.append((lo, hi))
            continue
        if lo < taken[0]:
            left.append((lo, taken[0] - 1))
        if taken[1] < hi:
            left.append((taken[1] + 1, hi))
    return left


def _overlap(undecided: list[Ports], rule: Ports) -> list[Ports]:
    return [(max(lo, rule[0]), min(hi, rule[1])) for lo, hi in undecided if rule[0] <= hi and lo <= rule[1]]


def check(acl: NetworkAcl | None, *, egress: bool, peer: ipaddress.IPv4Network, ports: Ports) -> Verdict:
    """Does `acl` let TCP to/from `peer` on every port of `ports` cross it in this direction?

    `ports` are destination ports, which is what NACL port ranges match: 443 for the request
    leaving the instance subnet, the client's ephemeral range for the reply coming back.
    A subnet whose NACL is not known is treated as using the default NACL, which allows all.
    """
    way = f"{'outbound to' if egress else 'inbound from'} {text(peer)}"
    what = f"tcp {ports_text(ports)} {way}"
    if acl is None:
        return Verdict(True, f"no network ACL recorded: the default one allows all traffic, including {what}")
    undecided: list[Ports] = [ports]
    allowed_by: list[int] = []
    for entry in sorted((e for e in acl.entries if e.egress == egress), key=lambda e: e.rule_number):
        if not _matches(entry, peer):
            continue
        hit = _overlap(undecided, _entry_ports(entry))
        if not hit:
            continue
        rule = "the final * rule" if entry.rule_number >= DEFAULT_DENY_RULE else f"rule {entry.rule_number}"
        if entry.action.lower() == "deny":
            blocked = ", ".join(ports_text(p) for p in hit)
            return Verdict(False, f"{rule} of {acl.nacl_id} denies tcp {blocked} {way}", entry.rule_number)
        allowed_by.append(entry.rule_number)
        undecided = _subtract(undecided, _entry_ports(entry))
        if not undecided:
            rules = ", ".join(str(n) for n in allowed_by)
            return Verdict(True, f"{acl.nacl_id} allows {what} (rule{'s' if len(allowed_by) > 1 else ''} {rules})", entry.rule_number)
    left = ", ".join(ports_text(p) for p in undecided)
    return Verdict(
        False, f"no rule of {acl.nacl_id} allows tcp {left} {way}, so the final * rule denies it", DEFAULT_DENY_RULE
    )
