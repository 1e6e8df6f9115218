"""The Price List Query API (client `pricing`) over HTTP against the emulator process, and the
price snapshot it answers from (ssmlab/data/prices.json).

The snapshot's figures must be those of ../shared/prices/, its verified / unverified split the
one that README's footnote gives; the API must hand them back in the Price List's own shape
(../shared/prices/example_*.json), only from AWS's Price List regions.
"""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from ssmlab.emulator import pricing

SHARED = Path(__file__).resolve().parents[2] / "shared" / "prices"
SNAPSHOT = pricing.load_snapshot()
SINGLE_SOURCE = {"us-east-2", "us-west-1", "eu-west-3", "eu-north-1", "ap-northeast-3", "ap-southeast-2", "sa-east-1"}
KINDS = {"endpoint_hour", "endpoint_gb", "nat_hour", "nat_gb", "ipv4_hour"}

# The key structure of ../shared/prices/example_vpcendpoint_item.json (a real Price List item),
# with the term and rate-code keys (SKU-dependent) written as "*".
ITEM_SHAPE = {
    "product": {"productFamily": None, "attributes": {
        "regionCode": None, "endpointType": None, "servicecode": None, "groupDescription": None, "usagetype": None,
        "locationType": None, "location": None, "servicename": None, "operation": None, "group": None}, "sku": None},
    "serviceCode": None,
    "terms": {"OnDemand": {"*": {
        "priceDimensions": {"*": {"unit": None, "endRange": None, "description": None, "appliesTo": None,
                                  "rateCode": None, "beginRange": None, "pricePerUnit": {"USD": None}}},
        "sku": None, "effectiveDate": None, "offerTermCode": None, "termAttributes": None}}},
    "version": None,
    "publicationDate": None,
}
DYNAMIC = {"OnDemand", "priceDimensions"}  # their keys are codes, not names


def shape(value, parent: str = ""):
    if not isinstance(value, dict) or not value:
        return None
    if parent in DYNAMIC:
        return {"*": shape(next(iter(value.values())))}
    return {k: shape(v, k) for k, v in value.items()}


def figure(region: str, kind: str) -> dict:
    return SNAPSHOT["regions"][region]["prices"][kind]


# -- the snapshot (no emulator) ------------------------------------------------------------


def test_snapshot_covers_the_shared_regions_with_their_figures():
    if not (SHARED / "prices.json").exists():
        pytest.skip("../shared/prices/ is not beside this checkout")
    shared = {row["region"]: row for row in json.loads((SHARED / "prices.json").read_text())}
    assert set(SNAPSHOT["regions"]) == set(shared)
    for region, row in shared.items():
        entry = SNAPSHOT["regions"][region]
        assert entry["prefix"] == row["prefix"]
        known = {**entry["prices"], **entry.get("unverified", {})}
        assert set(known) == KINDS
        assert known["endpoint_hour"]["tiers"] == [{"begin": 0, "end": None, "usd": row["endpoint_usd_per_az_hour"]}]
        assert known["endpoint_hour"]["sku"] == row["endpoint_sku"]
        assert [t["usd"] for t in known["endpoint_gb"]["tiers"]] == [
            row["endpoint_usd_per_gb_first_1pb"], row["endpoint_usd_per_gb_next_4pb"], row["endpoint_usd_per_gb_over_5pb"]]
        assert known["nat_hour"]["tiers"][0]["usd"] == row["nat_usd_per_hour"] and known["nat_hour"]["sku"] == row["nat_sku"]
        assert known["nat_gb"]["tiers"][0]["usd"] == row["nat_usd_per_gb"]
        assert known["ipv4_hour"]["tiers"][0]["usd"] == row["ipv4_inuse_usd_per_hour"]
        for kind, column in (("endpoint_hour", "vpce_hours_usagetype"), ("endpoint_gb", "vpce_bytes_usagetype"),
                             ("nat_hour", "nat_hours_usagetype"), ("nat_gb", "nat_bytes_usagetype"),
                             ("ipv4_hour", "ipv4_usagetype")):
            assert known[kind]["usagetype"] == row[column]


def test_single_source_endpoint_prices_are_kept_apart_not_mixed_in():
    for region, entry in SNAPSHOT["regions"].items():
        assert all(p["verified"] is True for p in entry["prices"].values()), region
        if region in SINGLE_SOURCE:
            assert "endpoint_hour" not in entry["prices"]
            assert entry["unverified"]["endpoint_hour"]["verified"] is False
            assert entry["unverified"]["endpoint_hour"]["sources"] == ["aws-vpc-feed-2025-11-04"]
            assert "endpoint_hour" in entry["missing"]
        else:
            assert "unverified" not in entry and "missing" not in entry
            assert entry["prices"]["endpoint_hour"]["verified"] is True
        for price in [*entry["prices"].values(), *entry.get("unverified", {}).values()]:
            assert price["sources"] and set(price["sources"]) <= set(SNAPSHOT["sources"])
            assert price["as_of"]


def test_the_rebuilt_singapore_items_are_the_real_ones():
    """../shared/prices/ holds four real items for ap-southeast-1: the snapshot rebuilds them byte for byte."""
    if not SHARED.exists():
        pytest.skip("../shared/prices/ is not beside this checkout")
    built = {p.fields["usagetype"]: p.item for p in pricing.products(SNAPSHOT)}
    for name, usagetype in (("example_vpcendpoint_item.json", "APS1-VpcEndpoint-Hours"),
                            ("example_vpcendpoint_bytes_item.json", "APS1-VpcEndpoint-Bytes"),
                            ("example_natgw_item.json", "APS1-NatGateway-Hours"),
                            ("example_natgw_bytes_item.json", "APS1-NatGateway-Bytes")):
        assert json.dumps(built[usagetype]) == json.dumps(json.loads((SHARED / name).read_text())), name


# -- the API, over HTTP -----------------------------------------------------------------------


def api(emulator, region: str = "us-east-1"):
    return boto3.client("pricing", region_name=region, endpoint_url=emulator.endpoint_url,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def term(field: str, value: str, kind: str = "TERM_MATCH") -> dict:
    return {"Type": kind, "Field": field, "Value": value}


def items(client, service: str, *filters: dict) -> list[dict]:
    answer = client.get_products(ServiceCode=service, Filters=list(filters))
    assert answer["FormatVersion"] == "aws_v1"
    assert all(isinstance(entry, str) for entry in answer["PriceList"])  # JSON strings, like AWS's
    return [json.loads(entry) for entry in answer["PriceList"]]


def dimensions(item: dict) -> list[dict]:
    [offer] = item["terms"]["OnDemand"].values()
    return sorted(offer["priceDimensions"].values(), key=lambda d: float(d["beginRange"]))


def usd(item: dict) -> list[float]:
    return [float(d["pricePerUnit"]["USD"]) for d in dimensions(item)]


@pytest.mark.emulator
@pytest.mark.parametrize("region, prefix", [("ap-southeast-1", "APS1"), ("ap-south-1", "APS3")])
def test_endpoint_hours_and_bytes_equal_the_snapshot(emulator, region, prefix):
    client = api(emulator)
    [hours] = items(client, "AmazonVPC", term("regionCode", region), term("usagetype", f"{prefix}-VpcEndpoint-Hours"))
    assert usd(hours) == [figure(region, "endpoint_hour")["tiers"][0]["usd"]]
    assert dimensions(hours)[0]["unit"] == "Hrs"
    assert hours["product"]["sku"] == figure(region, "endpoint_hour")["sku"]
    assert shape(hours) == ITEM_SHAPE  # same keys as the real sample item, at every level
    if (SHARED / "example_vpcendpoint_item.json").exists():
        assert shape(hours) == shape(json.loads((SHARED / "example_vpcendpoint_item.json").read_text()))

    [data] = items(client, "AmazonVPC", term("regionCode", region), term("usagetype", f"{prefix}-VpcEndpoint-Bytes"))
    tiers = dimensions(data)
    assert [(d["beginRange"], d["endRange"], d["unit"]) for d in tiers] == [
        ("0", "1048576", "GB"), ("1048576", "5242880", "GB"), ("5242880", "Inf", "GB")]
    assert usd(data) == [t["usd"] for t in figure(region, "endpoint_gb")["tiers"]] == [0.01, 0.006, 0.004]
    assert shape(data) == ITEM_SHAPE


@pytest.mark.emulator
@pytest.mark.parametrize("region, hours, data", [
    ("us-east-1", "NatGateway-Hours", "NatGateway-Bytes"),  # no prefix in us-east-1 (AmazonEC2 only)
    ("eu-west-1", "EU-NatGateway-Hours", "EU-NatGateway-Bytes"),
])
def test_nat_gateway_hours_and_bytes_equal_the_snapshot(emulator, region, hours, data):
    client = api(emulator)
    found = items(client, "AmazonEC2", term("regionCode", region), term("productFamily", "NAT Gateway"))
    by_type = {i["product"]["attributes"]["usagetype"]: i for i in found}
    assert set(by_type) == {hours, data}
    assert usd(by_type[hours]) == [figure(region, "nat_hour")["tiers"][0]["usd"]]
    assert usd(by_type[data]) == [figure(region, "nat_gb")["tiers"][0]["usd"]]
    assert [dimensions(by_type[u])[0]["unit"] for u in (hours, data)] == ["Hrs", "GB"]
    item = by_type[hours]
    assert item["serviceCode"] == item["product"]["attributes"]["servicecode"] == "AmazonEC2"
    assert item["product"]["productFamily"] == "NAT Gateway" and "productFamily" not in item["product"]["attributes"]
    assert item["publicationDate"] and item["version"]


@pytest.mark.emulator
def test_vpc_usage_types_keep_their_prefix_in_us_east_1(emulator):
    client = api(emulator)
    found = items(client, "AmazonVPC", term("regionCode", "us-east-1"), term("productFamily", "VpcEndpoint"))
    assert sorted(i["product"]["attributes"]["usagetype"] for i in found) == ["USE1-VpcEndpoint-Bytes",
                                                                             "USE1-VpcEndpoint-Hours"]
    [ipv4] = items(client, "AmazonVPC", term("regionCode", "us-east-1"), term("group", "VPCPublicIPv4Address"))
    assert ipv4["product"]["attributes"]["usagetype"] == "USE1-PublicIPv4:InUseAddress" and usd(ipv4) == [0.005]


@pytest.mark.emulator
def test_term_match_and_the_other_filter_types(emulator):
    client = api(emulator)
    by_location = items(client, "AmazonVPC", term("location", "Asia Pacific (Mumbai)"), term("productFamily", "VpcEndpoint"))
    assert {i["product"]["attributes"]["usagetype"] for i in by_location} == {"APS3-VpcEndpoint-Hours",
                                                                             "APS3-VpcEndpoint-Bytes"}
    assert items(client, "AmazonVPC", term("ServiceCode", "AmazonVPC"), term("usagetype", "APS1-VpcEndpoint-Hours"))
    assert items(client, "AmazonVPC", term("servicecode", "AmazonEC2")) == []
    assert items(client, "AmazonVPC", term("usagetype", "apS1-VpcEndpoint-Hours")) == []  # values match exactly
    contains = items(client, "AmazonEC2", term("usagetype", "NatGateway-Hours", "CONTAINS"))
    assert len(contains) == len(SNAPSHOT["regions"])
    any_of = items(client, "AmazonEC2", term("regionCode", "us-east-1,ap-south-1", "ANY_OF"),
                   term("usagetype", "Hours", "CONTAINS"))
    assert {i["product"]["attributes"]["regionCode"] for i in any_of} == {"us-east-1", "ap-south-1"}
    none_of = items(client, "AmazonEC2", term("regionCode", "us-east-1", "NONE_OF"))
    assert len(none_of) == 2 * (len(SNAPSHOT["regions"]) - 1)
    assert items(client, "AmazonEC2", term("regionCode", "us-east-1", "EQUALS"), term("usagetype", "NatGateway-Bytes"))


@pytest.mark.emulator
def test_only_verified_figures_are_served(emulator):
    client = api(emulator)
    assert items(client, "AmazonVPC", term("usagetype", "USE2-VpcEndpoint-Hours")) == []  # single source
    assert items(client, "AmazonVPC", term("usagetype", "USE2-VpcEndpoint-Bytes"))
    assert items(client, "AmazonEC2", term("usagetype", "USE2-NatGateway-Hours"))


@pytest.mark.emulator
def test_pages_with_max_results_and_next_token(emulator):
    client = api(emulator)
    everything = client.get_products(ServiceCode="AmazonEC2")["PriceList"]
    assert len(everything) == 2 * len(SNAPSHOT["regions"])
    pages, token = [], None
    while True:
        answer = client.get_products(ServiceCode="AmazonEC2", MaxResults=5, **({"NextToken": token} if token else {}))
        assert len(answer["PriceList"]) <= 5
        pages.append(answer["PriceList"])
        token = answer.get("NextToken")
        if not token:
            break
    assert len(pages) == -(-len(everything) // 5)
    assert [entry for page in pages for entry in page] == everything
    paginated = [entry for page in client.get_paginator("get_products").paginate(
        ServiceCode="AmazonVPC", PaginationConfig={"PageSize": 7}) for entry in page["PriceList"]]
    assert paginated == client.get_products(ServiceCode="AmazonVPC")["PriceList"]
    with pytest.raises(ClientError) as caught:
        client.get_products(ServiceCode="AmazonEC2", NextToken="bm90LWEtdG9rZW4=")
    assert caught.value.response["Error"]["Code"] == "InvalidNextTokenException"


@pytest.mark.emulator
def test_describe_services_and_attribute_values(emulator):
    client = api(emulator)
    services = client.describe_services()["Services"]
    assert [s["ServiceCode"] for s in services] == ["AmazonEC2", "AmazonVPC"]
    [vpc] = client.describe_services(ServiceCode="AmazonVPC", FormatVersion="aws_v1")["Services"]
    assert {"regionCode", "usagetype", "location", "productFamily", "servicecode", "group"} <= set(vpc["AttributeNames"])

    values = [v["Value"] for v in client.get_attribute_values(ServiceCode="AmazonVPC", AttributeName="regionCode")["AttributeValues"]]
    assert values == sorted(SNAPSHOT["regions"])
    paged = [v["Value"] for page in client.get_paginator("get_attribute_values").paginate(
        ServiceCode="AmazonVPC", AttributeName="regionCode", PaginationConfig={"PageSize": 4}) for v in page["AttributeValues"]]
    assert paged == values
    families = client.get_attribute_values(ServiceCode="AmazonEC2", AttributeName="productFamily")["AttributeValues"]
    assert families == [{"Value": "NAT Gateway"}]


@pytest.mark.emulator
def test_served_only_in_the_price_list_regions(emulator):
    for region in ("us-east-1", "ap-south-1", "eu-central-1"):
        assert api(emulator, region).describe_services(ServiceCode="AmazonVPC")["Services"]
    refused = api(emulator, "eu-west-1")
    for call, kwargs in ((refused.get_products, {"ServiceCode": "AmazonVPC"}),
                         (refused.describe_services, {}),
                         (refused.get_attribute_values, {"ServiceCode": "AmazonVPC", "AttributeName": "regionCode"})):
        with pytest.raises(ClientError) as caught:
            call(**kwargs)
        error = caught.value.response["Error"]
        assert error["Code"] == "UnsupportedRegion"
        assert "eu-west-1" in error["Message"] and "us-east-1" in error["Message"]
        assert caught.value.response["ResponseMetadata"]["RetryAttempts"] == 0


@pytest.mark.emulator
def test_bad_requests_get_aws_errors(emulator):
    client = api(emulator)

    def code(call, **kwargs):
        with pytest.raises(ClientError) as caught:
            call(**kwargs)
        return caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"]

    assert code(client.get_products, ServiceCode="AmazonS3")[0] == "NotFoundException"
    assert code(client.describe_services, ServiceCode="AmazonFoo")[0] == "NotFoundException"
    assert code(client.get_attribute_values, ServiceCode="AmazonVPC", AttributeName="instanceType")[0] == "NotFoundException"
    assert code(client.get_products, ServiceCode="") == (
        "InvalidParameterException", "Input Parameters are invalid. serviceCode cannot be null or empty")
    kind, message = code(client.get_products, ServiceCode="AmazonVPC", Filters=[term("regionCode", "us-east-1", "LIKE")])
    assert kind == "InvalidParameterException" and "LIKE" in message
    assert code(client.get_products, ServiceCode="AmazonVPC", MaxResults=101)[0] == "InvalidParameterException"
    assert code(client.get_products, ServiceCode="AmazonVPC", FormatVersion="aws_v2")[0] == "InvalidParameterException"
