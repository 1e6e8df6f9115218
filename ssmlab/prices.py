"""The price book: what an hour or a GB of each billed thing costs, per region, and where that
figure comes from.

Two sources give the same `PriceBook`:
- `PriceBook.offline()` reads ssmlab's snapshot (`ssmlab/data/prices.json`, compiled from
  ../shared/prices/), verified figures only unless asked otherwise;
- `inventory.pricing.live(session)` asks the AWS Price List Query API (client `pricing` in
  us-east-1) and parses its items here (`parse_price_list`), so the estimate can use today's figures.

Interface endpoints bill per endpoint per AZ-hour plus per GB processed (tiered over the
account's endpoints in a region); a NAT gateway per hour and per GB, plus its public IPv4
address (../shared/FACTS.md, "Prices").
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Mapping

from ssmlab.errors import BadInput

HOURS_PER_MONTH = 730  # AWS's own monthly figure
PRICING_REGION = "us-east-1"  # the Price List Query API answers in us-east-1 (also eu-central-1, ap-south-1)

# What each kind of price is in the Price List: service, the usage-type suffix and the unit.
KINDS: dict[str, dict[str, str]] = {
    "endpoint_hour": {"service": "AmazonVPC", "suffix": "VpcEndpoint-Hours", "unit": "Hrs",
                      "what": "interface endpoint, per AZ-hour"},
    "endpoint_gb": {"service": "AmazonVPC", "suffix": "VpcEndpoint-Bytes", "unit": "GB",
                    "what": "interface endpoint data processed, per GB"},
    "nat_hour": {"service": "AmazonEC2", "suffix": "NatGateway-Hours", "unit": "Hrs",
                 "what": "NAT gateway, per hour"},
    "nat_gb": {"service": "AmazonEC2", "suffix": "NatGateway-Bytes", "unit": "GB",
               "what": "NAT gateway data processed, per GB"},
    "ipv4_hour": {"service": "AmazonVPC", "suffix": "PublicIPv4:InUseAddress", "unit": "Hrs",
                  "what": "public IPv4 address in use, per hour"},
}

# The Price List queries that find every kind above (ServiceCode, filters); each is paginated.
QUERIES: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("AmazonVPC", (("productFamily", "VpcEndpoint"),)),
    ("AmazonVPC", (("group", "VPCPublicIPv4Address"),)),
    ("AmazonEC2", (("productFamily", "NAT Gateway"),)),
)


class UnknownRegion(BadInput):
    """The price book has no figures for a region."""


class PriceMissing(BadInput):
    """The price book knows the region but lacks one figure an estimate needs."""


@dataclass(frozen=True)
class Tier:
    """One price dimension: `usd` per unit for quantities from `begin` up to `end` (None: no end)."""

    begin: float
    end: float | None
    usd: float


@dataclass(frozen=True)
class Price:
    kind: str
    usagetype: str
    tiers: tuple[Tier, ...]
    sku: str | None = None
    as_of: str | None = None  # publication date of the figure's newest source
    sources: tuple[str, ...] = ()
    verified: bool = True

    @property
    def rate(self) -> float:
        """The first tier's price: what a lab-sized quantity pays."""
        return self.tiers[0].usd

    def charge(self, quantity: float) -> float:
        """USD for `quantity` units, each tier at its own price (e.g. GB beyond 1 PB at the lower rate)."""
        total = 0.0
        for tier in self.tiers:
            top = quantity if tier.end is None else min(quantity, tier.end)
            if top > tier.begin:
                total += (top - tier.begin) * tier.usd
        return total


@dataclass(frozen=True)
class RegionPrices:
    region: str
    location: str
    prices: Mapping[str, Price]
    missing: Mapping[str, str] = field(default_factory=dict)  # kind -> why there is no figure

    def __getitem__(self, kind: str) -> Price:
        try:
            return self.prices[kind]
        except KeyError:
            why = self.missing.get(kind, "the price list has no item for it")
            raise PriceMissing(f"no {KINDS[kind]['what']} price for {self.region}: {why}") from None

    def has(self, *kinds: str) -> bool:
        return all(k in self.prices for k in kinds)


@dataclass(frozen=True)
class PriceBook:
    """Prices per region, with where they come from and when they were read."""

    source: str  # "snapshot" | "pricing-api"
    description: str
    read_on: str  # ISO date the figures were read (compiled, for the snapshot)
    regions: Mapping[str, RegionPrices]
    source_notes: Mapping[str, str] = field(default_factory=dict)  # source id -> what it is
    unverified: bool = False  # single-source figures were let in, on request

    # -- the two ways to fill it ---------------------------------------------------------

    @classmethod
    def offline(cls, path: str | Path | None = None, *, unverified: bool = False) -> "PriceBook":
        """The shipped snapshot: verified figures only, unless `unverified` lets single-source ones in."""
        snapshot = load_snapshot(path)
        regions = {}
        for name, info in snapshot["regions"].items():
            figures = dict(info.get("prices", {}))
            missing = dict(info.get("missing", {}))
            if unverified:
                figures.update(info.get("unverified", {}))
                missing = {k: v for k, v in missing.items() if k not in figures}
            else:
                for kind, entry in info.get("unverified", {}).items():
                    missing[kind] = ("the snapshot's only figure has a single source (" + entry["why"].split(": ", 1)[-1]
                                     + "); `ssmlab cost --live` asks the AWS Pricing API, --unverified uses it anyway")
            prices = {kind: _snapshot_price(kind, p) for kind, p in figures.items()}
            missing = {k: v if "--live" in v else f"{v}; `ssmlab cost --live` asks the AWS Pricing API"
                       for k, v in missing.items()}
            regions[name] = RegionPrices(name, info["location"], prices, missing)
        notes = {key: value["what"] for key, value in snapshot.get("sources", {}).items()}
        return cls(
            source="snapshot",
            description=f"ssmlab's price snapshot (ssmlab/data/prices.json), compiled {snapshot['compiled']}"
            + (", single-source figures included on request" if unverified else ", verified figures only"),
            read_on=snapshot["compiled"],
            regions=regions,
            source_notes=notes,
            unverified=unverified,
        )

    # -- reading it ----------------------------------------------------------------------

    def region(self, name: str) -> RegionPrices:
        try:
            return self.regions[name]
        except KeyError:
            known = ", ".join(sorted(self.regions))
            hint = "; `ssmlab cost --live` asks the AWS Pricing API" if self.source == "snapshot" else ""
            raise UnknownRegion(f"no prices for region {name!r}: the {self._what} has {known}{hint}") from None

    @property
    def _what(self) -> str:
        return "price snapshot" if self.source == "snapshot" else "Pricing API answer"

    def as_of(self, region: str) -> tuple[str, str] | None:
        """The oldest and newest dates of the figures used for `region`."""
        dates = sorted(p.as_of for p in self.region(region).prices.values() if p.as_of)
        return (dates[0], dates[-1]) if dates else None


def load_snapshot(path: str | Path | None = None) -> dict[str, Any]:
    """ssmlab/data/prices.json (or `path`), decoded."""
    if path is not None:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    return json.loads(resources.files("ssmlab").joinpath("data", "prices.json").read_text(encoding="utf-8"))


def _snapshot_price(kind: str, entry: dict[str, Any]) -> Price:
    return Price(
        kind=kind,
        usagetype=entry["usagetype"],
        tiers=tuple(Tier(float(t["begin"]), None if t["end"] is None else float(t["end"]), float(t["usd"]))
                    for t in entry["tiers"]),
        sku=entry.get("sku"),
        as_of=entry.get("as_of"),
        sources=tuple(entry.get("sources", ())),
        verified=bool(entry.get("verified", True)),
    )


# -- the Price List parser (pure) ------------------------------------------------------------


def kind_of(usagetype: str) -> str | None:
    """Which kind a usage type is, by its exact suffix: `APN1-VpcEndpoint-Hours` is one,
    `APN1-VpcEndpoint-Service-Hours` and `RegionalNatGateway-Hours` are not. In us-east-1 the
    NAT usage types carry no prefix (`NatGateway-Hours`)."""
    for kind, spec in KINDS.items():
        suffix = spec["suffix"]
        if usagetype == suffix or usagetype.endswith("-" + suffix):
            return kind
    return None


def parse_price_list(items: Iterable[dict[str, Any] | str], *, read_on: str) -> PriceBook:
    """A PriceBook from Price List items (decoded dicts, or the JSON strings `get_products` returns).

    Items of other usage types, or whose unit is not the kind's, are skipped; when a region has
    two items of one kind, the one published last wins.
    """
    found: dict[str, dict[str, Price]] = {}
    locations: dict[str, str] = {}
    for raw in items:
        item = json.loads(raw) if isinstance(raw, str) else raw
        attributes = item.get("product", {}).get("attributes", {})
        kind = kind_of(attributes.get("usagetype", ""))
        region = attributes.get("regionCode")
        if kind is None or not region:
            continue
        price = _item_price(kind, item)
        if price is None:
            continue
        locations.setdefault(region, attributes.get("location", region))
        current = found.setdefault(region, {}).get(kind)
        if current is None or (price.as_of or "") > (current.as_of or ""):
            found[region][kind] = price
    regions = {
        region: RegionPrices(
            region, locations[region], prices,
            {k: "the Pricing API returned no item for it" for k in KINDS if k not in prices},
        )
        for region, prices in sorted(found.items())
    }
    return PriceBook(
        source="pricing-api",
        description=f"the AWS Pricing API (Price List Query API), read {read_on}",
        read_on=read_on,
        regions=regions,
    )


def _item_price(kind: str, item: dict[str, Any]) -> Price | None:
    unit = KINDS[kind]["unit"].lower()
    tiers = []
    for term in item.get("terms", {}).get("OnDemand", {}).values():
        for dimension in term.get("priceDimensions", {}).values():
            if dimension.get("unit", "").lower() != unit:
                continue
            end = dimension.get("endRange", "Inf")
            tiers.append(Tier(
                float(dimension.get("beginRange", 0)),
                None if end in ("Inf", "", None) else float(end),
                float(dimension["pricePerUnit"]["USD"]),
            ))
    if not tiers:
        return None
    published = item.get("publicationDate", "")
    return Price(
        kind=kind,
        usagetype=item["product"]["attributes"]["usagetype"],
        tiers=tuple(sorted(tiers, key=lambda t: t.begin)),
        sku=item["product"].get("sku"),
        as_of=published[:10] or None,
        sources=("pricing-api",),
    )
