"""Pure address planning: which CIDRs a lab may use, and how its subnets are carved.

A private lab must stay inside the RFC 1918 ranges, and AWS accepts VPC and subnet
blocks from /16 to /28 (Amazon VPC User Guide, "VPC CIDR blocks").
"""

from __future__ import annotations

import ipaddress

from ssmlab.errors import BadInput

PRIVATE_RANGES = tuple(ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
DEFAULT_VPC_CIDR = "10.0.0.0/16"
MIN_PREFIX, MAX_PREFIX = 16, 28


def _parse(cidr: str, what: str) -> ipaddress.IPv4Network:
    try:
        network = ipaddress.IPv4Network(cidr, strict=True)
    except (ValueError, TypeError):
        raise BadInput(
            f"invalid {what} CIDR {cidr!r}: expected an IPv4 network address with a prefix, such as 10.0.0.0/16"
        ) from None
    if not MIN_PREFIX <= network.prefixlen <= MAX_PREFIX:
        raise BadInput(f"invalid {what} CIDR {cidr!r}: AWS accepts prefixes from /{MIN_PREFIX} to /{MAX_PREFIX}")
    return network


def vpc_cidr(cidr: str) -> ipaddress.IPv4Network:
    """The VPC block, checked to be private (10/8, 172.16/12 or 192.168/16) and /16 to /28."""
    network = _parse(cidr, "VPC")
    if not any(network.subnet_of(r) for r in PRIVATE_RANGES):
        raise BadInput(
            f"invalid VPC CIDR {cidr!r}: expected a private range inside 10.0.0.0/8, 172.16.0.0/12 "
            "or 192.168.0.0/16, /16 to /28"
        )
    return network


def subnet_cidrs(vpc: str, count: int, requested: list[str] | tuple[str, ...] | None = None) -> list[str]:
    """One subnet block per AZ: the ones asked for (checked), or consecutive blocks 8 bits longer."""
    network = vpc_cidr(vpc)
    if requested:
        if len(requested) != count:
            raise BadInput(
                f"invalid subnet CIDRs {','.join(requested)!r}: expected {count} (one per AZ), got {len(requested)}"
            )
        subnets = [_parse(c, "subnet") for c in requested]
        for subnet, text in zip(subnets, requested):
            if not subnet.subnet_of(network):
                raise BadInput(f"invalid subnet CIDR {text!r}: expected a block inside the VPC's {network}")
        for i, a in enumerate(subnets):
            for b in subnets[i + 1 :]:
                if a.overlaps(b):
                    raise BadInput(f"invalid subnet CIDRs {str(a)!r} and {str(b)!r}: subnets of one VPC must not overlap")
        return [str(s) for s in subnets]
    new_prefix = min(network.prefixlen + 8, MAX_PREFIX)
    blocks = network.subnets(new_prefix=new_prefix)
    carved = []
    for _ in range(count):
        try:
            carved.append(str(next(blocks)))
        except StopIteration:
            raise BadInput(f"invalid VPC CIDR {vpc!r}: too small for {count} subnets of /{new_prefix}") from None
    return carved
