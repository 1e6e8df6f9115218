"""Pure security-group evaluation: does any of these groups allow tcp/443 to or from a peer?

Security groups are stateful: a connection allowed out of the instance's groups gets its
replies back without an inbound rule, and a connection allowed into the endpoint's groups
gets its replies out without an outbound rule (Amazon VPC User Guide, "Security group
rules"). Groups only allow; a peer is allowed when every network it stands for is covered
by a rule that names a CIDR containing it, a prefix list containing it (or the very prefix
list the peer is), or a security group the peer carries.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from ssmlab.model import LabState, SecurityGroup, SgRule
from ssmlab.nacl import network

TCP_PROTOCOLS = ("-1", "tcp", "6", "all")


@dataclass(frozen=True)
class Peer:
    """The other side of the connection, as security-group rules can name it."""

    label: str  # words for a learner: "vpce-0abc (10.0.0.12)", "the S3 prefix list pl-61a54008"
    networks: tuple[ipaddress.IPv4Network, ...]
    prefix_list_id: str | None = None  # when the peer *is* a prefix list (S3 through a gateway endpoint)
    group_ids: tuple[str, ...] = ()  # the security groups the peer's network interface carries


@dataclass(frozen=True)
class SgVerdict:
    passed: bool
    detail: str
    group_id: str | None  # the group that allowed, or the first one to fix


def has_peer(rule: SgRule) -> bool:
    return any((rule.cidr, rule.ipv6_cidr, rule.prefix_list_id, rule.source_group_id))


def allows_port(rule: SgRule, port: int) -> bool:
    if str(rule.protocol).lower() not in TCP_PROTOCOLS:
        return False
    if str(rule.protocol) == "-1" or rule.port_from is None or rule.port_to is None:
        return True
    return int(rule.port_from) <= port <= int(rule.port_to)


def describe(rule: SgRule, direction: str) -> str:
    word = "to" if direction == "egress" else "from"
    ports = "all traffic" if str(rule.protocol) == "-1" else f"{rule.protocol} {rule.port_from}" + (
        "" if rule.port_from == rule.port_to else f"-{rule.port_to}"
    )
    peer = rule.cidr or rule.ipv6_cidr or rule.prefix_list_id or rule.source_group_id or "no source at all"
    return f"{ports} {word} {peer}"


def _covers(state: LabState, rule: SgRule, peer: Peer, net: ipaddress.IPv4Network) -> bool:
    if rule.source_group_id and rule.source_group_id in peer.group_ids:
        return True
    if rule.prefix_list_id:
        if rule.prefix_list_id == peer.prefix_list_id:
            return True
        listed = state.prefix_list(rule.prefix_list_id)
        return bool(listed) and any((n := network(c)) is not None and net.subnet_of(n) for c in listed.cidrs)
    rule_net = network(rule.cidr)
    return rule_net is not None and net.subnet_of(rule_net)


def check(state: LabState, group_ids: tuple[str, ...], direction: str, peer: Peer, port: int = 443) -> SgVerdict:
    """Whether the groups' `direction` ("egress" | "ingress") rules allow tcp `port` with `peer`."""
    word = "out to" if direction == "egress" else "in from"
    groups: list[SecurityGroup] = [g for g in (state.security_group(i) for i in group_ids) if g]
    unknown = [i for i in group_ids if not state.security_group(i)]
    candidates = [(g, r) for g in groups for r in getattr(g, direction) if allows_port(r, port)]
    uncovered = [n for n in peer.networks if not any(_covers(state, r, peer, n) for _, r in candidates)]
    if not uncovered and peer.networks:
        group, rule = next((g, r) for g, r in candidates if any(_covers(state, r, peer, n) for n in peer.networks))
        return SgVerdict(True, f"{group.group_id} allows {describe(rule, direction)}, which covers {peer.label}", group.group_id)

    names = ", ".join(group_ids) or "no security group"
    detail = f"no {'outbound' if direction == 'egress' else 'inbound'} rule of {names} allows tcp {port} {word} {peer.label}"
    sourceless = [(g, r) for g, r in candidates if not has_peer(r)]
    if sourceless:
        g = sourceless[0][0]
        detail += (
            f"; {g.group_id} has a tcp {port} rule with no source or destination, which allows nothing "
            "(the widely copied Terraform sample declares the block without cidr_blocks or security_groups)"
        )
    else:
        existing = [describe(r, direction) for g in groups for r in getattr(g, direction)]
        detail += f"; its rules: {'; '.join(existing[:4])}" if existing else "; it has no such rules at all"
    if unknown:
        detail += f" ({', '.join(unknown)} not found in the snapshot)"
    return SgVerdict(False, detail, group_ids[0] if group_ids else None)
