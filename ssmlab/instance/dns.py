"""Name resolution on the instance — `nslookup`, `dig`, `getent hosts` — answered by `netpath.resolve`. Pure.

The VPC's resolver is the Amazon DNS server at the VPC's base address plus two, answering only with
enableDnsSupport on (Amazon VPC User Guide, "Amazon DNS server", "DNS attributes for your VPC"). Amazon Linux
2023 and Ubuntu query it through systemd-resolved's local stub 127.0.0.53, which answers SERVFAIL when the VPC
resolver is silent; Amazon Linux 2 asks 10.0.0.2 itself, and the tools time out. An interface endpoint's
private DNS name gives its network interfaces' private IPs (netpath). Output formats are BIND 9.18's
`nslookup`/`dig` and glibc's `getent` (`%-15s %s`).
The simulation's own choices: public addresses are not modelled, so a public answer is a stand-in from
203.0.113.0/24 (RFC 5737, documentation only) with a "# ssmlab:" line saying so; any name outside the VPC's
own (compute.internal) that looks like a domain exists; a record's TTL is 60; dig's query id is derived from
the name.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from ssmlab import nacl, netpath
from ssmlab.instance.host import private_name
from ssmlab.model import Instance, LabState

STUB = "127.0.0.53"
NOTE = "# ssmlab: "


@dataclass(frozen=True)
class Lookup:
    name: str
    status: str  # "NOERROR" | "NXDOMAIN" | "SERVFAIL" (stub, no upstream) | "TIMEOUT" (no stub, no upstream)
    addresses: tuple[str, ...] = ()
    note: str = ""  # a "# ssmlab:" line, when an answer is the simulation's stand-in


def resolver(state: LabState, instance: Instance) -> str:
    """The VPC's Amazon DNS server: its CIDR's base plus two (169.254.169.253 when the VPC is not in the snapshot)."""
    vpc = state.vpc(instance.vpc_id)
    network = nacl.network(vpc.cidr) if vpc else None
    return str(network.network_address + 2) if network is not None else "169.254.169.253"


def server(state: LabState, instance: Instance, stub: bool) -> str:
    return STUB if stub else resolver(state, instance)


def service_of(name: str, region: str) -> str | None:
    """`ssm` for ssm.<region>.amazonaws.com (netpath.hostname), else None."""
    head, _, _ = name.partition(".")
    return head if head and netpath.hostname(head, region) == name else None


def stand_in(name: str) -> str:
    return f"203.0.113.{zlib.crc32(name.encode()) % 254 + 1}"


def lookup(state: LabState, instance: Instance, name: str, stub: bool) -> Lookup:
    """What the resolver answers for `name` (an A query), following the VPC's DNS rules."""
    name = name.rstrip(".")
    vpc = state.vpc(instance.vpc_id)
    if vpc is not None and not vpc.dns_support:
        return Lookup(name, "SERVFAIL" if stub else "TIMEOUT")
    own = {private_name(state, i): i.private_ip for i in state.instances if i.private_ip and i.vpc_id == instance.vpc_id}
    if name.endswith(".internal") or name.startswith("ip-") or "." not in name:
        address = own.get(name)
        return Lookup(name, "NOERROR", (address,)) if address else Lookup(name, "NXDOMAIN")
    service = service_of(name, state.region)
    if service is not None:
        found = netpath.resolve(state, instance, service)
        addresses = (found.addresses or _eni_ips(state, found.endpoint_id)) if found.via == "endpoint" else ()
        if addresses:
            return Lookup(name, "NOERROR", tuple(addresses))
        prefix = state.prefix_list(next((r.destination for t in state.route_tables for r in t.routes
                                          if r.target == found.endpoint_id), None)) if found.endpoint_id else None
        why = f"{found.detail}; its public addresses are not modelled"
        if prefix and prefix.cidrs:
            return Lookup(name, "NOERROR", (_first_host(prefix.cidrs[0]),),
                          f"{NOTE}{why}: an address of {prefix.prefix_list_id} ({prefix.cidrs[0]}) stands in")
        return Lookup(name, "NOERROR", (stand_in(name),), f"{NOTE}{why}: 203.0.113.0/24 (documentation) stands in")
    return Lookup(name, "NOERROR", (stand_in(name),),
                  f"{NOTE}{name} is outside the lab; public addresses are not modelled: 203.0.113.0/24 stands in")


def _first_host(cidr: str) -> str:
    network = nacl.network(cidr)
    return str(network.network_address + 1) if network is not None else cidr.split("/")[0]


def _eni_ips(state: LabState, endpoint_id: str | None) -> tuple[str, ...]:
    """The endpoint's interfaces' recorded IPs (netpath keeps only those inside their subnet)."""
    endpoint = next((e for e in state.endpoints if e.endpoint_id == endpoint_id), None)
    ids = endpoint.network_interface_ids if endpoint else ()
    return tuple(n.private_ip for n in state.network_interfaces if n.eni_id in ids and n.private_ip)


def nslookup(found: Lookup, server_ip: str, stub: bool) -> tuple[str, int]:
    head = f"Server:\t\t{server_ip}\nAddress:\t{server_ip}#53\n\n"
    note = found.note + "\n" if found.note else ""
    if found.status == "TIMEOUT":
        return ";; connection timed out; no servers could be reached\n\n", 1
    if found.status == "SERVFAIL":
        return f";; Got SERVFAIL reply from {server_ip}, trying next server\n{head}** server can't find {found.name}: SERVFAIL\n\n", 1
    if found.status == "NXDOMAIN":
        return f"{head}** server can't find {found.name}: NXDOMAIN\n\n", 1
    answers = "".join(f"Name:\t{found.name}\nAddress: {a}\n" for a in found.addresses)
    authority = "" if found.name.endswith(".internal") else "Non-authoritative answer:\n"
    return f"{note}{head}{authority}{answers}\n", 0


def dig(found: Lookup, server_ip: str, short: bool, when: str | None) -> tuple[str, int]:
    if found.status == "TIMEOUT":
        errors = f";; communications error to {server_ip}#53: timed out\n" * 3
        if short:
            return errors + ";; no servers could be reached\n", 9
        return f"{errors}\n; <<>> DiG 9.18.33 <<>> {found.name}\n;; global options: +cmd\n;; no servers could be reached\n", 9
    note = found.note + "\n" if found.note else ""
    if short:
        return note + "".join(f"{a}\n" for a in found.addresses), 0
    query = found.name + "."
    answers = "".join(f"{query}\t\t60\tIN\tA\t{a}\n" for a in found.addresses)
    size = 12 + len(query) + 1 + 4 + 11 + 16 * len(found.addresses)  # header, question, OPT, each A (name pointer)
    lines = [
        "", f"; <<>> DiG 9.18.33 <<>> {found.name}", ";; global options: +cmd", ";; Got answer:",
        f";; ->>HEADER<<- opcode: QUERY, status: {found.status}, id: {zlib.crc32(query.encode()) % 65536}",
        f";; flags: qr rd ra; QUERY: 1, ANSWER: {len(found.addresses)}, AUTHORITY: 0, ADDITIONAL: 1", "",
        ";; OPT PSEUDOSECTION:", "; EDNS: version: 0, flags:; udp: 65494", ";; QUESTION SECTION:", f";{query}\t\t\tIN\tA", "",
    ]
    if answers:
        lines += [";; ANSWER SECTION:", answers.rstrip("\n"), ""]
    lines += [";; Query time: 1 msec", f";; SERVER: {server_ip}#53({server_ip}) (UDP)"]
    if when:
        lines.append(f";; WHEN: {when}")
    lines += [f";; MSG SIZE  rcvd: {size}", ""]
    return note + "\n".join(lines) + "\n", 0


def getent(found: Lookup) -> tuple[str, int]:
    """glibc getent hosts: one line per address; status 2 ("key not found") when nothing resolves."""
    if found.status != "NOERROR" or not found.addresses:
        return "", 2
    note = found.note + "\n" if found.note else ""
    return note + "".join(f"{a:<15} {found.name}\n" for a in found.addresses), 0
