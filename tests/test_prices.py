"""The price book: the offline snapshot, and the Price List parser behind `PriceBook.live`, on real
sample items (tests/data/price_list/, copied from ../shared/prices/) and on the emulator's Pricing API."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from ssmlab.inventory import pricing
from ssmlab.lab import Lab
from ssmlab.prices import KINDS, PriceBook, UnknownRegion, kind_of, parse_price_list

SAMPLES = Path(__file__).parent / "data" / "price_list"
OFFLINE = PriceBook.offline()


def sample(name: str) -> dict:
    return json.loads((SAMPLES / name).read_text())


def response_items() -> list[str]:
    return [entry for name in ("example_vpcendpoint_get_products_response.json",
                               "example_natgw_get_products_response.json")
            for entry in sample(name)["PriceList"]]


# -- the snapshot ------------------------------------------------------------------------------


def test_offline_book_has_verified_figures_only():
    assert OFFLINE.source == "snapshot" and OFFLINE.read_on
    for region, prices in OFFLINE.regions.items():
        assert all(p.verified for p in prices.prices.values()), region
        assert set(prices.prices) | set(prices.missing) == set(KINDS), region
    assert "endpoint_hour" in OFFLINE.region("us-east-2").missing
    assert OFFLINE.region("ap-northeast-1")["endpoint_hour"].rate == 0.014


def test_every_offline_figure_says_where_it_comes_from_and_when():
    for prices in OFFLINE.regions.values():
        for price in prices.prices.values():
            assert price.sources and all(s in OFFLINE.source_notes for s in price.sources)
            assert price.as_of and price.as_of[:2] == "20"


def test_unknown_region_names_the_known_ones():
    with pytest.raises(UnknownRegion, match=r"no prices for region 'ap-east-1'.*eu-west-1.*--live"):
        OFFLINE.region("ap-east-1")


# -- the parser ------------------------------------------------------------------------------


@pytest.mark.parametrize("usagetype, kind", [
    ("APS1-VpcEndpoint-Hours", "endpoint_hour"),
    ("USE1-VpcEndpoint-Bytes", "endpoint_gb"),
    ("NatGateway-Hours", "nat_hour"),  # us-east-1's AmazonEC2 usage types carry no prefix
    ("EU-NatGateway-Bytes", "nat_gb"),
    ("APN1-PublicIPv4:InUseAddress", "ipv4_hour"),
    ("USE1-VpcEndpoint-Service-Hours", None),
    ("APS1-VpcEndpoint-GWLBE-Hours", None),
    ("USE1-RegionalNatGateway-Hours", None),
    ("RegionalNatGateway-Hours", None),
    ("USE1-PublicIPv4:IdleAddress", None),
])
def test_usage_types_match_by_exact_suffix(usagetype, kind):
    assert kind_of(usagetype) == kind


def test_the_real_sample_responses_parse_to_the_snapshot_figures():
    book = parse_price_list(response_items(), read_on="2026-11-29")
    assert book.source == "pricing-api" and book.read_on == "2026-11-29"
    live, offline = book.region("ap-southeast-1"), OFFLINE.region("ap-southeast-1")
    assert live.location == "Asia Pacific (Singapore)"
    for kind in ("endpoint_hour", "endpoint_gb", "nat_hour", "nat_gb"):
        assert live[kind].tiers == offline[kind].tiers, kind
        assert live[kind].usagetype == offline[kind].usagetype
    assert [t.end for t in live["endpoint_gb"].tiers] == [1_048_576, 5_242_880, None]
    assert live["endpoint_hour"].as_of == "2026-07-24" and live["nat_hour"].as_of == "2026-08-10"
    assert "ipv4_hour" in live.missing  # the samples hold no IPv4 item: absent, not guessed


def test_decoded_items_parse_like_the_raw_strings():
    decoded = [sample(n) for n in ("example_vpcendpoint_item.json", "example_vpcendpoint_bytes_item.json",
                                   "example_natgw_item.json", "example_natgw_bytes_item.json")]
    assert parse_price_list(decoded, read_on="x").regions == parse_price_list(response_items(), read_on="x").regions


def test_items_of_other_products_or_units_are_skipped():
    hourly = sample("example_vpcendpoint_item.json")
    service_hours = copy.deepcopy(hourly)
    service_hours["product"]["attributes"]["usagetype"] = "APS1-VpcEndpoint-Service-Hours"
    for term in service_hours["terms"]["OnDemand"].values():
        for dimension in term["priceDimensions"].values():
            dimension["pricePerUnit"]["USD"] = "9.9"
    wrong_unit = copy.deepcopy(hourly)
    for term in wrong_unit["terms"]["OnDemand"].values():
        for dimension in term["priceDimensions"].values():
            dimension["unit"] = "GB"
    book = parse_price_list([service_hours, wrong_unit, hourly], read_on="x")
    assert book.region("ap-southeast-1")["endpoint_hour"].rate == 0.013


def test_the_newest_publication_wins():
    older = sample("example_vpcendpoint_item.json")
    newer = copy.deepcopy(older)
    newer["publicationDate"] = "2026-10-01T00:00:00Z"
    for term in newer["terms"]["OnDemand"].values():
        for dimension in term["priceDimensions"].values():
            dimension["pricePerUnit"]["USD"] = "0.0140000000"
    for order in ([older, newer], [newer, older]):
        assert parse_price_list(order, read_on="x").region("ap-southeast-1")["endpoint_hour"].rate == 0.014


# -- live, against the emulator's Pricing API ------------------------------------------------------


@pytest.mark.emulator
def test_live_book_from_the_emulator_agrees_with_the_snapshot(emulator):
    book = pricing.live(Lab("prices-live", "eu-west-1", "emulator"))
    assert book.source == "pricing-api"
    assert set(book.regions) == set(OFFLINE.regions)
    for region, offline in OFFLINE.regions.items():
        live = book.region(region)
        assert set(live.prices) == set(offline.prices), region
        for kind, price in offline.prices.items():
            assert live[kind].tiers == price.tiers and live[kind].usagetype == price.usagetype, (region, kind)


@pytest.mark.emulator
def test_live_book_for_one_region(emulator):
    book = pricing.live(Lab("prices-live", "eu-west-1", "emulator"), region="ap-northeast-1")
    assert list(book.regions) == ["ap-northeast-1"]
    assert book.region("ap-northeast-1")["nat_hour"].rate == 0.062
    with pytest.raises(UnknownRegion, match="'ap-east-1'"):
        pricing.live(Lab("prices-live", "eu-west-1", "emulator"), region="ap-east-1")
