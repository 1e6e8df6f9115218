"""Today's prices from the AWS Price List Query API, parsed into the same `PriceBook` as the offline snapshot."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from ssmlab.aws import explained
from ssmlab.errors import LabError
from ssmlab.prices import PRICING_REGION, QUERIES, PriceBook, UnknownRegion, parse_price_list


def live(session: Any, *, region: str | None = None, today: dt.date | None = None) -> PriceBook:
    """Today's figures from the AWS Price List Query API.

    `session` is a boto3 Session, an ssmlab Lab (its target decides: the emulator's Pricing API
    or AWS) or a `pricing` client. `region` narrows the queries to one region.
    """
    client = _pricing_client(session)
    items: list[dict] = []
    for service, filters in QUERIES:
        terms = [{"Type": "TERM_MATCH", "Field": f, "Value": v} for f, v in filters]
        if region:
            terms.append({"Type": "TERM_MATCH", "Field": "regionCode", "Value": region})
        with explained(f"asking the AWS Pricing API for {service} prices"):
            for page in client.get_paginator("get_products").paginate(
                ServiceCode=service, Filters=terms, FormatVersion="aws_v1"
            ):
                items.extend(json.loads(entry) if isinstance(entry, str) else entry for entry in page["PriceList"])
    book = parse_price_list(items, read_on=(today or dt.date.today()).isoformat())
    if region and region not in book.regions:
        raise UnknownRegion(f"the AWS Pricing API has no VPC endpoint, NAT gateway or IPv4 price for region {region!r}")
    return book


def _pricing_client(session: Any) -> Any:
    if hasattr(session, "get_products"):
        return session
    if hasattr(session, "target"):  # a Lab: its clients carry the kit's retries (and, on the emulator, its URL)
        return session.client("pricing", region=PRICING_REGION)
    if hasattr(session, "client"):
        return session.client("pricing", region_name=PRICING_REGION)
    raise LabError(f"cannot ask the Pricing API with {session!r}: expected a boto3 Session, a Lab or a pricing client")
