"""The AWS wire protocols, as far as the emulator needs them to answer actions itself.

`parse_request` turns a WSGI environ into an `AwsRequest` (which service, action, region,
account, protocol, decoded parameters) without consuming the body, so a request the
emulator does not answer still reaches moto intact. `json_response` and `error_response`
render answers the way AWS does for each protocol, so botocore parses them into the same
results and `ClientError`s that real AWS would give. `ActionRouter` maps (service, action)
to the handlers that replace or complete moto.

Service models come from botocore, loaded once per service and reduced to the few facts
used here (the full models of ec2 and friends weigh tens of MB; moto holds its own copy).
This module is imported only inside the emulator process (and by tests); `import
ssmlab.emulator` must not import it.
"""

from __future__ import annotations

import difflib
import functools
import io
import json
import os
import re
import sys
import uuid
from base64 import b64encode
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from http import HTTPStatus
from typing import Any, Callable, NamedTuple
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

Response = tuple[str, list[tuple[str, str]], bytes]
"""What a handler returns: WSGI status line, header list, body."""

Handler = Callable[["AwsRequest"], Response]

# moto.core.DEFAULT_ACCOUNT_ID (asserted equal in the tests): moto answers in this account
# for any access key it did not issue itself.
DEFAULT_ACCOUNT_ID = "123456789012"

_CREDENTIAL = re.compile(r"Credential=([^/\s,]+)/(\d{8})/([^/\s,]+)/([^/\s,]+)(?:/([^/\s,]+))?")

# SigV4 signing names that differ from botocore's service names, or that several botocore
# services share (most common first; the request's X-Amz-Target / Version / path decides
# between them). A signing name not listed is taken as the service name.
_SIGNING_NAMES: dict[str, tuple[str, ...]] = {
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
_PROTOCOL_PRIORITY = ("json", "rest-json", "rest-xml", "smithy-rpc-v2-cbor", "query", "ec2")


class AwsError(Exception):
    """Raised by a handler to answer with an AWS error document (rendered per protocol)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message


@dataclass
class AwsRequest:
    """One AWS API call as the emulator sees it.

    `params`: the decoded JSON body (json, rest-json); the form and query-string fields
    as str -> str (query, ec2 — see `query_list` / `decode_query` for their structure);
    the query-string fields (rest-xml, smithy-rpc-v2-cbor). `headers` has lower-case names.
    """

    service: str
    action: str | None
    region: str
    account_id: str
    protocol: str
    params: dict[str, Any]
    body: bytes
    headers: dict[str, str]
    method: str = "POST"
    path: str = "/"
    access_key: str = ""

    def query_list(self, prefix: str) -> list[Any]:
        """A query-protocol list: `InstanceId.1`, `InstanceId.2` -> ["i-1", "i-2"];
        `Filter.1.Name` / `Filter.1.Value.1` -> [{"Name": ..., "Value": [...]}];
        IAM's `Tags.member.1.Key` likewise. [] when absent."""
        value = decode_query(self.params).get(prefix)
        if value is None:
            return []
        return value if isinstance(value, list) else [value]


def decode_query(flat: dict[str, str]) -> dict[str, Any]:
    """Nest flat query fields: numbered segments become lists (1-based, in order), a
    `member` segment before a number is dropped (IAM/STS style), other segments nest."""
    root: dict[Any, Any] = {}
    for key, value in flat.items():
        parts = key.split(".")
        segments: list[Any] = []
        for i, part in enumerate(parts):
            if part == "member" and i + 1 < len(parts) and parts[i + 1].isdigit():
                continue
            segments.append(int(part) if part.isdigit() else part)
        node = root
        for segment in segments[:-1]:
            child = node.get(segment)
            if not isinstance(child, dict):
                child = node[segment] = {}
            node = child
        if not isinstance(node.get(segments[-1]), dict):  # a nested form wins over a scalar
            node[segments[-1]] = value
    return _listify(root)


def _listify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    if node and all(isinstance(k, int) for k in node):
        return [_listify(node[k]) for k in sorted(node)]
    return {str(k): _listify(v) for k, v in node.items()}


# --- botocore's service models, reduced ------------------------------------------------

class _RestOp(NamedTuple):
    method: str
    path: re.Pattern[str]
    query: tuple[tuple[str, str | None], ...]  # query keys (and literal values) it requires
    headers: tuple[str, ...]  # header names it requires (S3 CopyObject: x-amz-copy-source)
    specificity: tuple[int, int]
    name: str


@dataclass(frozen=True)
class _ServiceInfo:
    name: str
    service_id: str
    protocol: str
    protocols: tuple[str, ...]
    target_prefix: str | None
    api_version: str | None
    json_version: str
    xml_namespace: str | None
    operations: frozenset[str]
    rest_ops: tuple[_RestOp, ...] = field(repr=False)

    def rest_action(self, method: str, path: str, query: dict[str, str],
                    headers: dict[str, str]) -> str | None:
        """The most specific REST operation whose method, path template, required query
        keys and required headers the request has (S3 PUT /b/k: PutObject, CopyObject,
        UploadPart or UploadPartCopy)."""
        best: _RestOp | None = None
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
def _service_info(name: str) -> _ServiceInfo | None:
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
    protocol = next((p for p in _PROTOCOL_PRIORITY if p in protocols), protocols[0])
    rest_ops = ()
    if protocol in ("rest-json", "rest-xml"):
        rest_ops = tuple(_rest_op(op_name, op, model["shapes"]) for op_name, op in model["operations"].items()
                         if "http" in op)
    return _ServiceInfo(
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


def _rest_op(name: str, operation: dict[str, Any], shapes: dict[str, Any]) -> _RestOp:
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
    return _RestOp(http.get("method", "POST"), re.compile(regex), tuple(query), tuple(headers),
                   (len(query) + len(headers), literal), name)


# --- parsing -------------------------------------------------------------------------

def parse_request(environ: dict[str, Any]) -> AwsRequest | None:
    """Describe a SigV4-signed AWS request; None for anything else (moto-api, IMDS,
    unsigned calls). The body is read once and put back, with CONTENT_LENGTH, so the
    environ can still be handed to moto."""
    headers = _headers(environ)
    query = dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
    match = _CREDENTIAL.search(headers.get("authorization", "")) or _CREDENTIAL.search(
        "Credential=" + query.get("X-Amz-Credential", ""))
    if not match:
        return None
    access_key, _, region, signing_name, terminator = match.groups()
    if terminator is None:  # SigV4a: date/service/aws4_request, region set in a header
        signing_name = region
        region = headers.get("x-amz-region-set", "us-east-1").split(",")[0]
    body = _read_body(environ)
    headers["content-length"] = str(len(body))
    method = environ.get("REQUEST_METHOD", "GET").upper()
    path = environ.get("PATH_INFO", "") or "/"

    target = headers.get("x-amz-target")
    content_type = headers.get("content-type", "")
    form: dict[str, str] = {}
    if content_type.startswith("application/x-www-form-urlencoded"):
        form = {**query, **dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))}
    elif "Action" in query:
        form = dict(query)
    if target:
        wire = "json"
    elif headers.get("smithy-protocol") == "rpc-v2-cbor":
        wire = "smithy-rpc-v2-cbor"
    elif "Action" in form:
        wire = "query"
    else:
        wire = None  # REST: the model says which

    info = _resolve_service(signing_name, wire, target, form.get("Version"), method, path, query, headers)
    # The wire decides among a service's protocols (cloudwatch: json, query or cbor);
    # the model decides the rest: REST flavours, and ec2's form of query.
    protocol = wire or "rest-json"
    if info is not None and (wire is None or wire not in info.protocols):
        protocol = info.protocol

    action: str | None = None
    if protocol == "json" and target:
        action = target.rsplit(".", 1)[-1]
    elif protocol in ("query", "ec2"):
        action = form.get("Action")
    elif protocol == "smithy-rpc-v2-cbor":
        action = path.rstrip("/").rsplit("/operation/", 1)[-1] if "/operation/" in path else None
    elif info is not None:
        action = info.rest_action(method, path, query, headers)

    if protocol in ("json", "rest-json"):
        params = _json_object(body)
    elif protocol in ("query", "ec2"):
        params = form
    else:
        params = query
    return AwsRequest(
        service=info.name if info else signing_name,
        action=action,
        region=region,
        account_id=_account_id(headers, access_key),
        protocol=protocol,
        params=params,
        body=body,
        headers=headers,
        method=method,
        path=path,
        access_key=access_key,
    )


def _headers(environ: dict[str, Any]) -> dict[str, str]:
    headers = {key[5:].replace("_", "-").lower(): str(value)
               for key, value in environ.items() if key.startswith("HTTP_")}
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers[key.replace("_", "-").lower()] = str(environ[key])
    return headers


def _read_body(environ: dict[str, Any]) -> bytes:
    """Read the whole body and put it back as a BytesIO with an exact CONTENT_LENGTH.

    Never read without a length from the raw socket (it would block until the client
    closes); a chunked body is already de-chunked and terminated by the server."""
    stream = environ.get("wsgi.input")
    if stream is None:
        body = b""
    elif environ.get("wsgi.input_terminated"):
        body = stream.read()
    else:
        try:
            remaining = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            remaining = 0
        chunks = []
        while remaining > 0:
            chunk = stream.read(remaining)
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        body = b"".join(chunks)
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return body


def _resolve_service(signing_name: str, wire: str | None, target: str | None, version: str | None,
                     method: str, path: str, query: dict[str, str],
                     headers: dict[str, str]) -> _ServiceInfo | None:
    """The botocore service behind a signing name; where several share it, the one whose
    model agrees with the request (X-Amz-Target prefix, query Version, REST path)."""
    candidates = [info for name in _SIGNING_NAMES.get(signing_name, (signing_name,))
                  if (info := _service_info(name)) is not None]
    for info in candidates:
        if wire == "json" and target and info.target_prefix == target.rsplit(".", 1)[0]:
            return info
        if wire == "query" and version and info.api_version == version:
            return info
        if wire is None and info.rest_ops and info.rest_action(method, path, query, headers):
            return info
    return candidates[0] if candidates else None


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body) if body.strip() else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _account_id(headers: dict[str, str], access_key: str) -> str:
    """The account moto would act in, by moto's own rules (core/responses.py
    `get_current_account`): MOTO_ACCOUNT_ID, then the x-moto-account-id header, then the
    account whose IAM issued the access key (e.g. through sts:AssumeRole)."""
    if "MOTO_ACCOUNT_ID" in os.environ:
        return os.environ["MOTO_ACCOUNT_ID"]
    if "x-moto-account-id" in headers:
        return headers["x-moto-account-id"]
    # Until moto's IAM is loaded it has issued no keys: every key is the default account.
    # Checking first keeps this module from importing moto where moto holds no state.
    if "moto.iam.models" in sys.modules:
        from moto.iam.models import get_account_id_from

        return get_account_id_from(access_key)
    return DEFAULT_ACCOUNT_ID


# --- rendering -----------------------------------------------------------------------

def _status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Unknown"


def _json_default(value: Any) -> Any:
    """AWS JSON conventions: timestamps as epoch seconds, blobs as base64."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).timestamp()
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=timezone.utc).timestamp()
    if isinstance(value, (bytes, bytearray)):
        return b64encode(value).decode()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def json_response(data: dict[str, Any], status: int = 200, *, json_version: str = "1.1") -> Response:
    """A json-protocol answer (datetimes become epoch seconds, bytes base64, as AWS sends)."""
    body = json.dumps(data, default=_json_default).encode()
    return _status_line(status), [
        ("Content-Type", f"application/x-amz-json-{json_version}"),
        ("Content-Length", str(len(body))),
        ("x-amzn-RequestId", str(uuid.uuid4())),
    ], body


def error_response(request: AwsRequest, status: int, code: str, message: str) -> Response:
    """The error document AWS sends in `request.protocol`, which botocore turns into a
    ClientError with this Code and Message (HEAD requests get no body, as from S3)."""
    request_id = str(uuid.uuid4())
    info = _service_info(request.service)
    headers = [("x-amzn-RequestId", request_id)]
    protocol = request.protocol
    if protocol == "json":
        body = json.dumps({"__type": code, "message": message}).encode()
        json_version = info.json_version if info else "1.1"
        headers += [("Content-Type", f"application/x-amz-json-{json_version}"), ("x-amzn-ErrorType", code)]
    elif protocol == "rest-json":
        body = json.dumps({"message": message}).encode()
        headers += [("Content-Type", "application/json"), ("x-amzn-ErrorType", code)]
    elif protocol == "smithy-rpc-v2-cbor":
        body = _cbor_text_map({"__type": code, "message": message})
        headers += [("Content-Type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor")]
    elif protocol == "ec2":
        body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                f"<Response><Errors><Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
                f"</Error></Errors><RequestID>{request_id}</RequestID></Response>").encode()
        headers += [("Content-Type", "text/xml;charset=UTF-8")]
    elif protocol == "rest-xml":
        body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                f"<Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
                f"<RequestId>{request_id}</RequestId></Error>").encode()
        headers = [("x-amz-request-id", request_id), ("Content-Type", "application/xml")]
    else:  # query
        namespace = f' xmlns="{escape(info.xml_namespace)}"' if info and info.xml_namespace else ""
        kind = "Sender" if status < 500 else "Receiver"
        body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                f"<ErrorResponse{namespace}><Error><Type>{kind}</Type><Code>{escape(code)}</Code>"
                f"<Message>{escape(message)}</Message></Error><RequestId>{request_id}</RequestId>"
                "</ErrorResponse>").encode()
        headers += [("Content-Type", "text/xml")]
    if request.method == "HEAD":
        body = b""
    headers.append(("Content-Length", str(len(body))))
    return _status_line(status), headers, body


def _cbor_text_map(items: dict[str, str]) -> bytes:
    """RFC 8949 encoding of a map of text strings (all an rpc-v2-cbor error needs)."""
    def head(major: int, length: int) -> bytes:
        if length < 24:
            return bytes([major << 5 | length])
        for extra, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
            if length < 1 << (8 * size):
                return bytes([major << 5 | extra]) + length.to_bytes(size, "big")
        raise ValueError("too long")

    out = bytearray(head(5, len(items)))
    for key, value in items.items():
        for text in (key, value):
            data = text.encode()
            out += head(3, len(data)) + data
    return bytes(out)


def service_label(request: AwsRequest) -> str:
    """How AWS names the service in messages: its serviceId ("SSM", "EC2", "IAM")."""
    info = _service_info(request.service)
    return info.service_id if info else request.service


# --- routing -------------------------------------------------------------------------

class ActionRouter:
    """Which AWS actions the emulator answers itself instead of passing them to moto."""

    def __init__(self) -> None:
        self._handlers: dict[tuple[str, str], Handler] = {}

    def register(self, service: str, action: str, handler: Handler) -> None:
        """Answer `service` (botocore's name, e.g. "ssm") `action` (e.g.
        "DescribeInstanceInformation") with `handler`. A misspelt action would silently
        never match, so it is checked against botocore's model; so are duplicates."""
        info = _service_info(service)
        if info is not None and action not in info.operations:
            near = difflib.get_close_matches(action, sorted(info.operations), n=1)
            hint = f"; did you mean {near[0]!r}?" if near else ""
            raise ValueError(f"{service} has no action {action!r} in botocore's model{hint}")
        if (service, action) in self._handlers:
            raise ValueError(f"{service} {action} already has a handler: "
                             f"{getattr(self._handlers[(service, action)], '__qualname__', '?')}")
        self._handlers[(service, action)] = handler

    def handler_for(self, request: AwsRequest) -> Handler | None:
        if request.action is None:
            return None
        return self._handlers.get((request.service, request.action))

    def actions(self) -> list[tuple[str, str]]:
        """Every (service, action) with a handler, sorted."""
        return sorted(self._handlers)
