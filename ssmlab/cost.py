"""What Session Manager's endpoints cost, against EC2 Instance Connect Endpoint and a NAT gateway.

Pure: every figure here is a function of a `PriceBook` (offline snapshot or Pricing API, see
`ssmlab.prices`) and a `Scenario`; the lab's own cost so far is a function of a LabState and the
time now. The rules (../shared/FACTS.md, "Prices" and "EC2 Instance Connect Endpoint"):
- an interface endpoint bills per endpoint per AZ-hour, a partial hour as a full one, plus per
  GB processed, tiered over all interface endpoints of the account in the region;
- a NAT gateway bills per hour and per GB, and its public IPv4 address per hour;
- EC2 Instance Connect Endpoint has no charge (cross-AZ data transfer aside);
- the S3 gateway endpoint session logging uses is free.
The headline row is what `ssmlab build` creates: ssm and ssmmessages. ec2messages only serves agents
older than 3.3.40.0 and is retired by AWS on 2026-09-30 (FACTS.md: agent release notes 3.3.40.0; an
AWS notice quoted in ministryofjustice/modernisation-platform#13918, a single source).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, replace
from typing import Any

from ssmlab.errors import BadInput
from ssmlab.prices import HOURS_PER_MONTH, KINDS, PriceBook, RegionPrices

MAX_AZS = 6  # the most Availability Zones a region has (us-east-1)
MAX_PARTICIPANTS = 10_000

CORE = ("ssm", "ssmmessages")  # what the build creates (tests tie it to ssmlab.steps.endpoints.services_for())
WITH_EC2MESSAGES = CORE + ("ec2messages",)  # agents older than 3.3.40.0; the endpoint is retired 2026-09-30
WITH_LOGGING = CORE + ("logs",)  # session logs to CloudWatch Logs; S3 goes through the free gateway endpoint
WITH_LOGGING_AND_KMS = WITH_LOGGING + ("kms",)  # sessions encrypted with a KMS key as well

COMPONENTS = ("endpoint hours", "endpoint data", "NAT hours", "NAT data", "public IPv4")

TRADEOFFS = {
    "ssm": "no inbound rule, no SSH key, no internet path; IAM decides who connects; sessions can be logged "
    "(SSM Agent 3.3.40.0 and later: it stops using ec2messages once ssmmessages connects)",
    "ssm-ec2messages": "only for SSM Agents older than 3.3.40.0, which need ec2messages for Run Command; AWS "
    "retires that endpoint on 2026-09-30 (guides written before 2026 show these three)",
    "ssm-logging": "session transcripts to CloudWatch Logs (the logs endpoint) and S3 (a gateway endpoint, free)",
    "ssm-logging-kms": "the same, with sessions encrypted by a KMS key (the kms endpoint); encryption without "
    "logging is the two endpoints plus kms; the key's own monthly fee (AWS KMS pricing) is not counted here",
    "ssm-shared": "one set of endpoints serves every participant: in one VPC, or from other VPCs over Transit "
    "Gateway or peering with Route 53 private hosted zones (their cost is not counted here)",
    "eice": "no charge (cross-AZ data transfer aside), but SSH/RDP only (the instance SG must allow 22/3389 from "
    "it), one per VPC, 20 concurrent connections, each at most one hour, no session transcripts",
    "nat": "the agent reaches the public endpoints, and so does everything else on the instance: the subnet is "
    "no longer private, and the NAT gateway needs a public subnet with an internet gateway",
}


@dataclass(frozen=True)
class Scenario:
    """What is being priced: a lab's shape, for how long, with how much data, for how many people."""

    region: str
    azs: int = 1
    hours: float = HOURS_PER_MONTH
    gb: float = 1.0  # GB per participant processed by the endpoints (or the NAT gateway) over `hours`
    participants: int = 1  # each with their own lab (VPC), unless they share one set of endpoints
    nat_gateways: int = 1  # per VPC; AWS recommends one per AZ for resilience

    def __post_init__(self) -> None:
        _whole("Availability Zones", "--azs", self.azs, 1, MAX_AZS)
        _whole("participants", "--participants", self.participants, 1, MAX_PARTICIPANTS)
        _whole("NAT gateways", "--nat-gateways", self.nat_gateways, 1, MAX_AZS)
        if not _finite(self.hours) or self.hours <= 0:
            raise BadInput(f"invalid hours {self.hours!r}: expected a positive number of hours, e.g. 730 for a month (--hours)")
        if not _finite(self.gb) or self.gb < 0:
            raise BadInput(f"invalid data volume {self.gb!r}: expected GB per participant, 0 or more (--gb)")

    @property
    def billed_hours(self) -> int:
        """A partial hour is billed as a full one."""
        return math.ceil(self.hours)

    @property
    def period(self) -> str:
        return "per month" if self.hours == HOURS_PER_MONTH else f"for {self.hours:g} h"


@dataclass(frozen=True)
class Line:
    component: str  # one of COMPONENTS, or "free"
    detail: str  # how the figure is made, in words a learner can check
    quantity: float
    unit: str
    usd: float


@dataclass(frozen=True)
class Option:
    key: str
    title: str
    lines: tuple[Line, ...]
    tradeoff: str
    participants: int
    endpoints: tuple[str, ...] = ()

    @property
    def total(self) -> float:
        return sum(line.usd for line in self.lines)

    @property
    def per_participant(self) -> float:
        return self.total / self.participants

    def by_component(self) -> dict[str, float]:
        totals = {c: 0.0 for c in COMPONENTS}
        for line in self.lines:
            if line.component in totals:
                totals[line.component] += line.usd
        return totals


@dataclass(frozen=True)
class BreakEven:
    key: str
    value: float | None
    unit: str
    text: str


@dataclass(frozen=True)
class Estimate:
    scenario: Scenario
    location: str
    options: tuple[Option, ...]
    break_even: tuple[BreakEven, ...]
    price_source: str
    read_on: str
    as_of: tuple[str, str] | None
    unverified: tuple[str, ...] = ()  # kinds whose figure has a single source (only on request)

    def option(self, key: str) -> Option:
        return next(o for o in self.options if o.key == key)

    def to_json(self) -> dict[str, Any]:
        s = self.scenario
        return {
            "region": s.region, "location": self.location, "azs": s.azs, "hours": s.hours, "gb": s.gb,
            "participants": s.participants, "nat_gateways": s.nat_gateways, "period": s.period,
            "currency": "USD",
            "options": [{
                "key": o.key, "title": o.title, "endpoints": list(o.endpoints), "usd": round(o.total, 4),
                "usd_per_participant": round(o.per_participant, 4), "tradeoff": o.tradeoff,
                "lines": [{"component": ln.component, "detail": ln.detail, "quantity": ln.quantity, "unit": ln.unit,
                           "usd": round(ln.usd, 4)} for ln in o.lines],
            } for o in self.options],
            "break_even": [{"key": b.key, "value": b.value, "unit": b.unit, "text": b.text} for b in self.break_even],
            "prices": {"source": self.price_source, "read_on": self.read_on,
                       "as_of": list(self.as_of) if self.as_of else None, "unverified": list(self.unverified)},
        }


def estimate(book: PriceBook, scenario: Scenario) -> Estimate:
    """Every option's cost for the scenario, the break-even points, and where the prices come from."""
    prices = book.region(scenario.region)
    for kind in KINDS:  # fail before any figure, naming the one that is missing
        prices[kind]
    n = scenario.participants
    options = [
        endpoints_option("ssm", "Session Manager: ssm, ssmmessages", CORE, prices, scenario, n),
        endpoints_option("ssm-ec2messages", "Session Manager + ec2messages, for agents < 3.3.40.0",
                         WITH_EC2MESSAGES, prices, scenario, n),
        endpoints_option("ssm-logging", "Session Manager with session logging: + logs", WITH_LOGGING,
                         prices, scenario, n),
        endpoints_option("ssm-logging-kms", "Session Manager, logging and KMS encryption: + logs, kms",
                         WITH_LOGGING_AND_KMS, prices, scenario, n),
    ]
    if n > 1:
        options.append(endpoints_option("ssm-shared", f"Session Manager, one set of endpoints shared by {n}", CORE,
                                        prices, scenario, 1))
    options += [eice_option(scenario), nat_option(prices, scenario)]
    unverified = tuple(sorted(k for k, p in prices.prices.items() if not p.verified))
    return Estimate(
        scenario=scenario,
        location=prices.location,
        options=tuple(options),
        break_even=(nat_break_even(prices, scenario), endpoint_count_break_even(prices, scenario)),
        price_source=book.description,
        read_on=book.read_on,
        as_of=book.as_of(scenario.region),
        unverified=unverified,
    )


def endpoints_option(key: str, title: str, services: tuple[str, ...], prices: RegionPrices, scenario: Scenario,
                     sets: int) -> Option:
    """`sets` sets of interface endpoints (one per VPC) for the scenario's participants."""
    hour, data = prices["endpoint_hour"], prices["endpoint_gb"]
    size = len(services)
    az_hours = size * scenario.azs * scenario.billed_hours * sets
    vpcs = f" x {sets} VPCs" if sets > 1 else ""
    gb = scenario.gb * scenario.participants
    lines = (
        Line("endpoint hours", f"{count(size, 'endpoint')} x {count(scenario.azs, 'AZ')} x {scenario.billed_hours} h{vpcs} at "
             f"${hour.rate:g}/AZ-h", az_hours, "AZ-h", az_hours * hour.rate),
        Line("endpoint data", f"{gb:g} GB at ${data.rate:g}/GB" + (" (tiered)" if len(data.tiers) > 1 and gb > data.tiers[0].end
                                                                  else ""), gb, "GB", data.charge(gb)),
    )
    return Option(key, title, lines, TRADEOFFS[key], scenario.participants, services)


def eice_option(scenario: Scenario) -> Option:
    vpcs = scenario.participants
    line = Line("free", f"{vpcs} endpoint{'s' if vpcs > 1 else ''} (one per VPC), no charge", vpcs, "endpoints", 0.0)
    return Option("eice", "EC2 Instance Connect Endpoint", (line,), TRADEOFFS["eice"], scenario.participants)


def nat_option(prices: RegionPrices, scenario: Scenario) -> Option:
    hour, data, ipv4 = prices["nat_hour"], prices["nat_gb"], prices["ipv4_hour"]
    gateways = scenario.nat_gateways * scenario.participants
    hours = gateways * scenario.billed_hours
    gb = scenario.gb * scenario.participants
    lines = (
        Line("NAT hours", f"{gateways} NAT gateway{'s' if gateways > 1 else ''} x {scenario.billed_hours} h at "
             f"${hour.rate:g}/h", hours, "h", hours * hour.rate),
        Line("NAT data", f"{gb:g} GB at ${data.rate:g}/GB", gb, "GB", data.charge(gb)),
        Line("public IPv4", f"{gateways} Elastic IP{'s' if gateways > 1 else ''} x {scenario.billed_hours} h at "
             f"${ipv4.rate:g}/h", hours, "h", hours * ipv4.rate),
    )
    return Option("nat", "NAT gateway to the public endpoints", lines, TRADEOFFS["nat"], scenario.participants)


# -- break-even points ---------------------------------------------------------------------


HEADLINE = f"the {('one', 'two', 'three', 'four')[len(CORE) - 1]} endpoints ({', '.join(CORE)})"


def nat_break_even(prices: RegionPrices, scenario: Scenario) -> BreakEven:
    """GB per participant above which a NAT gateway costs more than the headline endpoints."""

    def difference(gb: float) -> float:
        s = replace(scenario, gb=gb)
        return nat_option(prices, s).total - endpoints_option("ssm", "", CORE, prices, s, s.participants).total

    period = scenario.period
    if difference(0.0) >= 0:
        return BreakEven("nat_gb", 0.0, "GB", f"a NAT gateway costs more than {HEADLINE} at any data volume "
                         f"({count(scenario.azs, 'AZ')}, {count(scenario.nat_gateways, 'NAT gateway')} per VPC)")
    if prices["nat_gb"].rate <= prices["endpoint_gb"].rate:
        return BreakEven("nat_gb", None, "GB", "a NAT gateway stays cheaper at any data volume")
    low, high = 0.0, 1.0
    while difference(high) < 0:
        high *= 2
    for _ in range(60):
        middle = (low + high) / 2
        low, high = (middle, high) if difference(middle) < 0 else (low, middle)
    return BreakEven("nat_gb", round(high, 2), "GB", f"above {_amount(high)} GB per participant {period}, a NAT gateway "
                     f"costs more than {HEADLINE}")


def endpoint_count_break_even(prices: RegionPrices, scenario: Scenario) -> BreakEven:
    """How many interface endpoints cost more than one NAT gateway path at the scenario's data volume."""
    nat = nat_option(prices, scenario).total
    for size in range(1, 101):
        services = tuple(f"endpoint-{i}" for i in range(size))
        if endpoints_option("ssm", "", services, prices, scenario, scenario.participants).total > nat:
            return BreakEven("endpoint_count", float(size), "endpoints",
                             f"from {size} interface endpoints in {count(scenario.azs, 'AZ')}, the endpoints cost "
                             f"more than a NAT gateway (the build creates {len(CORE)}; session logging and KMS "
                             f"encryption make {len(WITH_LOGGING_AND_KMS)})")
    return BreakEven("endpoint_count", None, "endpoints", "even 100 interface endpoints cost less than a NAT gateway")


# -- the lab's own cost so far ---------------------------------------------------------------


@dataclass(frozen=True)
class LabCost:
    region: str
    now: dt.datetime
    lines: tuple[Line, ...]
    hourly: float  # what the lab's billed resources add per hour from now on
    not_counted: str = ("the instance's own hours and volume, the GB the endpoints process and a KMS key's "
                        "monthly fee are billed apart and not counted here")

    @property
    def total(self) -> float:
        return sum(line.usd for line in self.lines)

    def to_json(self) -> dict[str, Any]:
        return {"region": self.region, "now": self.now.isoformat(), "usd": round(self.total, 4),
                "usd_per_hour": round(self.hourly, 4), "not_counted": self.not_counted,
                "lines": [{"component": ln.component, "detail": ln.detail, "quantity": ln.quantity, "unit": ln.unit,
                           "usd": round(ln.usd, 4)} for ln in self.lines]}


def lab_cost(state: Any, book: PriceBook, now: dt.datetime) -> LabCost:
    """What the lab's interface endpoints (and any public IPv4 address) have cost since they were created."""
    from ssmlab.model import GONE_ENDPOINT_STATES, LIVE_INSTANCE_STATES

    prices = book.region(state.region)
    lines: list[Line] = []
    hourly = 0.0
    for endpoint in sorted(state.endpoints, key=lambda e: (e.service, e.endpoint_id)):
        if endpoint.endpoint_type != "Interface" or endpoint.state.lower() in GONE_ENDPOINT_STATES:
            continue
        rate = prices["endpoint_hour"].rate
        azs = max(1, len(endpoint.subnet_ids))
        hours = billed_hours_since(endpoint.created, now)
        lines.append(Line("endpoint hours", f"{endpoint.service} ({endpoint.endpoint_id}): {azs} AZ x {hours} h at "
                          f"${rate:g}/AZ-h", azs * hours, "AZ-h", azs * hours * rate))
        hourly += azs * rate
    for instance in state.instances:
        if instance.public_ip and instance.state in LIVE_INSTANCE_STATES:
            rate = prices["ipv4_hour"].rate
            hours = billed_hours_since(instance.launch_time, now)
            lines.append(Line("public IPv4", f"{instance.public_ip} on {instance.instance_id}: {hours} h at ${rate:g}/h",
                              hours, "h", hours * rate))
            hourly += rate
    return LabCost(state.region, now, tuple(lines), hourly)


def billed_hours_since(created: dt.datetime | None, now: dt.datetime) -> int:
    """Whole hours billed from `created` to `now`: a started hour counts in full (at least one)."""
    if created is None:
        return 1
    if created.tzinfo is None:
        created = created.replace(tzinfo=dt.timezone.utc)
    seconds = (now - created).total_seconds()
    return max(1, math.ceil(seconds / 3600))


def hourly_lab_estimate(book: PriceBook, region: str, *, azs: int = 1, endpoints: int = len(CORE)) -> float:
    """USD per hour for a lab's interface endpoints: what `--target aws` says before it creates any."""
    return endpoints * azs * book.region(region)["endpoint_hour"].rate


def _amount(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 else f"{value:.2f}"


def count(n: int, what: str) -> str:
    """`1 AZ`, `2 AZs`."""
    return f"{n} {what}" + ("" if n == 1 else "s")


# -- input checks ---------------------------------------------------------------------------


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _whole(what: str, flag: str, value: Any, low: int, high: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise BadInput(f"invalid number of {what} {value!r}: expected a whole number from {low} to {high} ({flag})")


__all__ = [
    "BreakEven", "CORE", "Estimate", "LabCost", "Line", "Option", "PriceBook", "Scenario", "WITH_EC2MESSAGES",
    "WITH_LOGGING", "WITH_LOGGING_AND_KMS", "estimate", "hourly_lab_estimate", "lab_cost",
    "billed_hours_since",
]
