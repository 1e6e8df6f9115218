"""The AWS Price List Query API (client `pricing`), answered from ssmlab's price snapshot.

moto has no Pricing (FACTS.md). The emulator answers GetProducts, DescribeServices and
GetAttributeValues for what the kit prices: ServiceCode AmazonVPC (interface endpoints,
productFamily VpcEndpoint; the in-use public IPv4 address, group VPCPublicIPv4Address)
and AmazonEC2 (productFamily "NAT Gateway"), from `ssmlab/data/prices.json`, rebuilt in
the Price List's own JSON shape (`../shared/prices/example_*.json`): every PriceList
entry a JSON string with product / serviceCode / terms / version / publicationDate.

Only the snapshot's verified figures are served (its "prices", never its "unverified"),
so the live path and the offline path of the cost model agree on what is known.

Like AWS, it answers only in the API's own regions: us-east-1, eu-central-1 and
ap-south-1 (AWS Billing User Guide, "Using the AWS Price List Query API": three
endpoints; botocore's endpoints.json agrees). A client in another region is refused with
an error that says so (on AWS the connection itself fails: there is no such host).

The pure part (`load_snapshot`, `products`, `query`) needs no moto and no emulator; the
cost model's tests may build Price List items with it.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Iterable

from ssmlab.emulator.protocol import AwsError
from ssmlab.prices import load_snapshot  # noqa: F401  (the emulator serves the same snapshot the price book reads)

SERVICE_REGIONS = ("us-east-1", "eu-central-1", "ap-south-1")
ACTIONS = ("GetProducts", "DescribeServices", "GetAttributeValues")
FILTER_TYPES = ("TERM_MATCH", "EQUALS", "CONTAINS", "ANY_OF", "NONE_OF")  # botocore 1.44's FilterType enum
FORMAT_VERSION = "aws_v1"
MAX_RESULTS = {"GetProducts": 100, "DescribeServices": 100, "GetAttributeValues": 10000}  # botocore model ranges
DEFAULT_MAX_RESULTS = 100
SKU_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # for placeholder SKUs: 16 upper-case characters like AWS's


class PricingError(AwsError):
    """A Price List API error: HTTP status, error code (botocore's shape name), message."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(status, code, message)


def invalid(detail: str) -> PricingError:
    # "Input Parameters are invalid." is how AWS starts this error's message (e.g. "Input Parameters
    # are invalid. serviceCode cannot be null or empty", quoted in aws/aws-sdk-js#3329).
    return PricingError("InvalidParameterException", f"Input Parameters are invalid. {detail}")


# --- the snapshot as Price List products -------------------------------------------------


@dataclass(frozen=True)
class Product:
    """One Price List item: `item` is AWS's structure, `fields` what filters can match."""

    service_code: str
    sku: str
    item: dict[str, Any]
    fields: dict[str, str]

    def to_json(self) -> str:
        return json.dumps(self.item, separators=(",", ":"))


@functools.lru_cache(maxsize=1)
def _shipped_products() -> tuple[Product, ...]:
    return tuple(products(load_snapshot()))


def products(snapshot: dict[str, Any], *, include_unverified: bool = False) -> list[Product]:
    """Every Price List item the snapshot can stand for, in a stable order (service, region, kind)."""
    listing = snapshot["price_list"]
    kinds = snapshot["kinds"]
    found: list[Product] = []
    for region, info in snapshot["regions"].items():
        figures = dict(info.get("prices", {}))
        if include_unverified:
            figures.update(info.get("unverified", {}))
        for kind_name, price in figures.items():
            kind = kinds[kind_name]
            found.append(_product(kind, region, info, price, listing))
    found.sort(key=lambda p: (p.service_code, p.fields["regioncode"], p.fields["usagetype"]))
    return found


def _product(kind: dict[str, Any], region: str, info: dict[str, Any], price: dict[str, Any],
             listing: dict[str, Any]) -> Product:
    service_code = kind["service_code"]
    service = listing["services"][service_code]
    sku = price.get("sku") or placeholder_sku(service_code, price["usagetype"])
    extra = dict(kind.get("attributes", {}))
    attributes: dict[str, str] = {"regionCode": region}
    if "endpointType" in extra:
        attributes["endpointType"] = extra.pop("endpointType")
    attributes["servicecode"] = service_code
    if "groupDescription" in extra:
        attributes["groupDescription"] = extra.pop("groupDescription")
    attributes.update({
        "usagetype": price["usagetype"],
        "locationType": listing["location_type"],
        "location": info["location"],
        "servicename": service["servicename"],
    })
    attributes.update(extra)  # operation, group
    term = listing["offer_term_code"]
    dimensions = {}
    for index, tier in enumerate(price["tiers"]):
        rate_code = f"{sku}.{term}.{kind['rate_codes'][index]}"
        usd = Decimal(str(tier["usd"]))
        dimensions[rate_code] = {
            "unit": kind["unit"],
            "endRange": "Inf" if tier["end"] is None else str(tier["end"]),
            "description": kind["descriptions"][index].replace("${usd}", f"${_short(usd)}"),
            "appliesTo": [],
            "rateCode": rate_code,
            "beginRange": str(tier["begin"]),
            "pricePerUnit": {"USD": f"{usd:.10f}"},
        }
    product: dict[str, Any] = {}
    if kind.get("product_family"):
        product["productFamily"] = kind["product_family"]
    product["attributes"] = attributes
    product["sku"] = sku
    item = {
        "product": product,
        "serviceCode": service_code,
        "terms": {"OnDemand": {f"{sku}.{term}": {
            "priceDimensions": dimensions,
            "sku": sku,
            "effectiveDate": service["effective_date"],
            "offerTermCode": term,
            "termAttributes": {},
        }}},
        "version": service["version"],
        "publicationDate": service["publication_date"],
    }
    fields = {name.lower(): value for name, value in attributes.items()}
    fields["servicecode"] = service_code
    fields["sku"] = sku
    if kind.get("product_family"):
        fields["productfamily"] = kind["product_family"]
    return Product(service_code, sku, item, fields)


def _short(usd: Decimal) -> str:
    """0.0130000000 -> "0.013", as AWS writes prices in descriptions."""
    text = format(usd.normalize(), "f")
    return text if "." in text else text + ".0"


def placeholder_sku(service_code: str, usagetype: str) -> str:
    """A stable stand-in for a SKU the snapshot does not know (AWS's are 16 upper-case characters)."""
    digest = hashlib.sha256(f"ssmlab:{service_code}:{usagetype}".encode()).digest()
    return "".join(SKU_ALPHABET[b % len(SKU_ALPHABET)] for b in digest[:16])


def attribute_names(items: Iterable[Product], service_code: str) -> list[str]:
    names: set[str] = set()
    for product in items:
        if product.service_code == service_code:
            names.update(product.item["product"]["attributes"])
            if "productFamily" in product.item["product"]:
                names.add("productFamily")
    return sorted(names)


# --- filters ---------------------------------------------------------------------------


def check_filters(filters: Any) -> list[tuple[str, str, str]]:
    """[(type, field, value)] from the request, or InvalidParameterException."""
    if filters in (None, ""):
        return []
    if not isinstance(filters, list):
        raise invalid("Filters must be a list of {Type, Field, Value}")
    checked = []
    for item in filters:
        if not isinstance(item, dict):
            raise invalid("each filter must be an object with Type, Field and Value")
        kind, name, value = item.get("Type"), item.get("Field"), item.get("Value")
        if kind not in FILTER_TYPES:
            raise invalid(f"Filter type {kind!r} is not valid; valid types are {', '.join(FILTER_TYPES)}")
        if not isinstance(name, str) or not name:
            raise invalid("Filter field cannot be null or empty")
        if not isinstance(value, str) or not value:
            raise invalid(f"Filter value for field {name} cannot be null or empty")
        checked.append((kind, name, value))
    return checked


def matches(product: Product, filters: list[tuple[str, str, str]]) -> bool:
    """Every filter holds. Field names are compared case-insensitively (ServiceCode, servicecode);
    values exactly. ANY_OF / NONE_OF take a comma-separated list. A product without the field
    matches no filter on it."""
    for kind, name, value in filters:
        actual = product.fields.get(name.lower())
        if actual is None:
            return False
        if kind in ("TERM_MATCH", "EQUALS"):
            ok = actual == value
        elif kind == "CONTAINS":
            ok = value in actual
        else:
            options = {v.strip() for v in value.split(",")}
            ok = (actual in options) if kind == "ANY_OF" else (actual not in options)
        if not ok:
            return False
    return True


# --- the actions -------------------------------------------------------------------------


def query(action: str, params: dict[str, Any], items: Iterable[Product] | None = None) -> dict[str, Any]:
    """Answer `action` (GetProducts, DescribeServices, GetAttributeValues) with `params` as botocore
    sends them, from `items` (default: the shipped snapshot's verified figures)."""
    catalogue = list(_shipped_products() if items is None else items)
    services = sorted({p.service_code for p in catalogue})
    version = params.get("FormatVersion")
    if version not in (None, "", FORMAT_VERSION) and action != "GetAttributeValues":
        raise invalid(f"FormatVersion {version!r} is not supported; the only format version is {FORMAT_VERSION}")
    limit = _limit(action, params.get("MaxResults"))
    code = params.get("ServiceCode")

    if action == "DescribeServices":
        if code:
            _known(code, services)
            listed = [code]
        else:
            listed = services
        rows = [{"ServiceCode": c, "AttributeNames": attribute_names(catalogue, c)} for c in listed]
        page, token = _page(rows, params.get("NextToken"), limit, [action, code or ""])
        return {"Services": page, "FormatVersion": FORMAT_VERSION, **token}

    if not code:
        raise invalid("serviceCode cannot be null or empty")
    _known(code, services)

    if action == "GetAttributeValues":
        name = params.get("AttributeName")
        if not name:
            raise invalid("attributeName cannot be null or empty")
        known = attribute_names(catalogue, code)
        field = name.lower()
        if field not in {n.lower() for n in known}:
            raise PricingError(
                "NotFoundException",
                f"Attribute {name} is not found for service {code} (ssmlab emulator: its Price List holds only the "
                f"kit's prices; {code} attributes: {', '.join(known)})")
        values = sorted({p.fields[field] for p in catalogue if p.service_code == code and field in p.fields})
        page, token = _page([{"Value": v} for v in values], params.get("NextToken"), limit, [action, code, field])
        return {"AttributeValues": page, **token}

    if action == "GetProducts":
        filters = check_filters(params.get("Filters"))
        chosen = [p.to_json() for p in catalogue if p.service_code == code and matches(p, filters)]
        page, token = _page(chosen, params.get("NextToken"), limit, [action, code, filters])
        return {"FormatVersion": FORMAT_VERSION, "PriceList": page, **token}

    raise PricingError("InvalidAction", f"ssmlab emulator does not answer Pricing {action}")


def _known(code: str, services: list[str]) -> None:
    if code not in services:
        # AWS's exact answer to an unknown service code is unconfirmed; NotFoundException is the
        # model's "The requested resource can't be found".
        raise PricingError(
            "NotFoundException",
            f"Service code {code} is not found (ssmlab emulator: its Price List serves {', '.join(services)} "
            "from the kit's price snapshot)")


def _limit(action: str, value: Any) -> int:
    if value in (None, ""):
        return min(DEFAULT_MAX_RESULTS, MAX_RESULTS[action])
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if not 1 <= number <= MAX_RESULTS[action]:
        raise invalid(f"MaxResults must be between 1 and {MAX_RESULTS[action]}, got {value}")
    return number


def _page(rows: list[Any], token: Any, limit: int, query_key: Any) -> tuple[list[Any], dict[str, str]]:
    key = hashlib.sha256(json.dumps(query_key, sort_keys=True).encode()).hexdigest()[:16]
    start = 0
    if token:
        try:
            data = json.loads(base64.b64decode(str(token).encode(), validate=True))
            start = int(data["o"])
            if data["q"] != key or not 0 <= start <= len(rows):
                raise ValueError
        except (ValueError, KeyError, TypeError):
            raise PricingError("InvalidNextTokenException",
                               "The pagination token is invalid. Try again without a pagination token.") from None
    end = start + limit
    more = {}
    if end < len(rows):
        more["NextToken"] = base64.b64encode(json.dumps({"o": end, "q": key}).encode()).decode()
    return rows[start:end], more


# --- the emulator's handlers ---------------------------------------------------------------


def install(app: Any) -> None:
    """Answer the Pricing actions on `app` (moto has none)."""
    from ssmlab.emulator.rendering import json_response

    def handler(action: str):
        def handle(request: Any) -> Any:  # a PricingError is rendered by the app as the protocol's error
            if request.region not in SERVICE_REGIONS:
                raise PricingError(
                    "UnsupportedRegion",
                    f"ssmlab emulator: the AWS Price List Query API has no endpoint in {request.region}; AWS "
                    f"serves it only from {', '.join(SERVICE_REGIONS)} (on AWS this call cannot connect to "
                    f"api.pricing.{request.region}.amazonaws.com). Create the pricing client with "
                    "region_name='us-east-1': it answers for every region.")
            return json_response(query(action, request.params))

        handle.__qualname__ = f"pricing.{action}"
        return handle

    for action in ACTIONS:
        app.router.register("pricing", action, handler(action))
