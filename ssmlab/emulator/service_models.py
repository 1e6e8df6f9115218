"""botocore's service models, reduced to the few facts the emulator reads off them.

Which botocore service a request's SigV4 signing name means, which wire protocol it speaks,
which REST operation a method and path are, what its error documents say it is called.
Loaded once per service (the full models of ec2 and friends weigh tens of MB; moto holds
its own copy), and only inside the emulator process: botocore is imported on first use.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from ssmlab.emulator.protocol import AwsRequest

# SigV4 signing names that differ from botocore's service names, or that several botocore
# services share (most common first; the request's X-Amz-Target / Version / path decides
# between them). A signing name not listed is taken as the service name.
SIGNING_NAMES: dict[str, tuple[str, ...]] = {
    "monitoring": ("cloudwatch",),
    "elasticloadbalancing": ("elbv2", "elb"),
    "elasticfilesystem": ("efs",),
    "elasticmapreduce": ("emr",),
    "states": ("stepfunctions",),
    "tagging": ("resourcegroupstaggingapi",),
    "cloudcontrolapi": ("cloudcontrol",),
    "aps": ("amp",),
    "geo": ("location",),
    "mobiletargeting": ("pinpoint",),
    "servicequotas": ("service-quotas",),
    "awsssoportal": ("sso",),
    "sso": ("sso-admin",),
    "sso-oauth": ("sso-oidc",),
    "iotdata": ("iot-data",),
    "execute-api": ("apigatewaymanagementapi",),
    "apigateway": ("apigateway", "apigatewayv2"),
    "ses": ("ses", "sesv2"),
    "dynamodb": ("dynamodb", "dynamodbstreams"),
    "s3": ("s3", "s3control"),
    "rds": ("rds", "neptune", "docdb"),
    "es": ("opensearch", "es"),
    "cassandra": ("keyspaces",),
}

# botocore.utils.PRIORITY_ORDERED_SUPPORTED_PROTOCOLS: how a client picks among a service's
# `protocols` (cloudwatch lists cbor, json and query; botocore sends json).
PROTOCOL_PRIORITY = ("json", "rest-json", "rest-xml", "smithy-rpc-v2-cbor", "query", "ec2")


class RestOp(NamedTuple):
    method: str
    path: re.Pattern[str]
    query: tuple[tuple[str, str | None], ...]  # query keys (and literal values) it requires
    headers: tuple[str, ...]  # header names it requires (S3 CopyObject: x-amz-copy-source)
    specificity: tuple[int, int]
    name: str


@dataclass(frozen=True)
class ServiceInfo:
    name: str
    service_id: str
    protocol: str
    protocols: tuple[str, ...]
    target_prefix: str | None
    api_version: str | None
    json_version: str
    xml_namespace: str | None
    operations: frozenset[str]
    rest_ops: tuple[RestOp, ...] = field(repr=False)

    def rest_action(self, method: str, path: str, query: dict[str, str],
                    headers: dict[str, str]) -> str | None:
        """The most specific REST operation whose method, path template, required query
        keys and required headers the request has (S3 PUT /b/k: PutObject, CopyObject,
        UploadPart or UploadPartCopy)."""
        best: RestOp | None = None
        for op in self.rest_ops:
            if op.method != method or not op.path.fullmatch(path):
                continue
            if any(key not in query or (value is not None and query[key] != value) for key, value in op.query):
                continue
            if any(name not in headers for name in op.headers):
                continue
            if best is None or op.specificity > best.specificity:
                best = op
        return best.name if best else None


@functools.lru_cache(maxsize=None)
def service_info(name: str) -> ServiceInfo | None:
    """Facts about one botocore service (None if botocore does not know it)."""
    from botocore.exceptions import DataNotFoundError
    from botocore.loaders import create_loader

    try:
        # A loader of our own, dropped after use: its cache would keep the whole model.
        model = create_loader().load_service_model(name, "service-2")
    except DataNotFoundError:  # UnknownServiceError is a subclass
        return None
    meta = model["metadata"]
    protocols = tuple(meta.get("protocols") or (meta["protocol"],))
    protocol = next((p for p in PROTOCOL_PRIORITY if p in protocols), protocols[0])
    rest_ops = ()
    if protocol in ("rest-json", "rest-xml"):
        rest_ops = tuple(_rest_op(op_name, op, model["shapes"]) for op_name, op in model["operations"].items()
                         if "http" in op)
    return ServiceInfo(
        name=name,
        service_id=meta.get("serviceId", name),
        protocol=protocol,
        protocols=protocols,
        target_prefix=meta.get("targetPrefix"),
        api_version=meta.get("apiVersion"),
        json_version=meta.get("jsonVersion", "1.1"),
        xml_namespace=meta.get("xmlNamespace"),
        operations=frozenset(model["operations"]),
        rest_ops=rest_ops,
    )


def _rest_op(name: str, operation: dict[str, Any], shapes: dict[str, Any]) -> RestOp:
    http = operation["http"]
    template, _, literal_query = http["requestUri"].partition("?")
    trailing_slash = len(template) > 1 and template.endswith("/")
    template = template[:-1] if trailing_slash else template  # botocore sends it without
    pattern, literal = [], 0
    for piece in re.split(r"(\{[^}]+\})", template):
        if piece.startswith("{"):
            pattern.append(".+" if piece.endswith("+}") else "[^/]+")
        else:
            pattern.append(re.escape(piece))
            literal += len(piece)
    regex = "".join(pattern) + ("/?" if trailing_slash else "")
    query = [(k, v if "=" in pair else None)
             for pair in literal_query.split("&") if pair
             for k, _, v in [pair.partition("=")]]
    headers = []
    shape = shapes.get(operation.get("input", {}).get("shape", ""), {})
    for member in shape.get("required", ()):
        ref = shape["members"][member]
        if ref.get("location") == "querystring":
            query.append((ref.get("locationName", member), None))
        elif ref.get("location") == "header":
            headers.append(ref.get("locationName", member).lower())
    return RestOp(http.get("method", "POST"), re.compile(regex), tuple(query), tuple(headers),
                   (len(query) + len(headers), literal), name)


def resolve_service(signing_name: str, wire: str | None, target: str | None, version: str | None,
                    method: str, path: str, query: dict[str, str],
                    headers: dict[str, str]) -> ServiceInfo | None:
    """The botocore service behind a signing name; where several share it, the one whose
    model agrees with the request (X-Amz-Target prefix, query Version, REST path)."""
    candidates = [info for name in SIGNING_NAMES.get(signing_name, (signing_name,))
                  if (info := service_info(name)) is not None]
    for info in candidates:
        if wire == "json" and target and info.target_prefix == target.rsplit(".", 1)[0]:
            return info
        if wire == "query" and version and info.api_version == version:
            return info
        if wire is None and info.rest_ops and info.rest_action(method, path, query, headers):
            return info
    return candidates[0] if candidates else None


def service_label(request: AwsRequest) -> str:
    """How AWS names the service in messages: its serviceId ("SSM", "EC2", "IAM")."""
    info = service_info(request.service)
    return info.service_id if info else request.service
