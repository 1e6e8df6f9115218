"""An AWS request as the emulator reads it, and the handlers it answers itself.

`parse_request` turns a WSGI environ into an `AwsRequest` (which service, action, region,
account, protocol, decoded parameters) without consuming the body, so a request the
emulator does not answer still reaches moto intact; which service and protocol a request
is comes from botocore's models (`service_models`). `ActionRouter` maps (service, action)
to the handlers that replace or complete moto; a handler raises `AwsError` to answer with
an error, which `rendering` writes in the request's protocol.

This module is imported only inside the emulator process (and by tests); `import
ssmlab.emulator` must not import it.
"""

from __future__ import annotations

import difflib
import io
import json
import os
import re
import sys
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import parse_qsl

from ssmlab.emulator.service_models import resolve_service, service_info
from ssmlab.emulator.wsgi import Response

Handler = Callable[["AwsRequest"], Response]

# moto.core.DEFAULT_ACCOUNT_ID (asserted equal in the tests): moto answers in this account
# for any access key it did not issue itself.
DEFAULT_ACCOUNT_ID = "123456789012"

_CREDENTIAL = re.compile(r"Credential=([^/\s,]+)/(\d{8})/([^/\s,]+)/([^/\s,]+)(?:/([^/\s,]+))?")


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

    info = resolve_service(signing_name, wire, target, form.get("Version"), method, path, query, headers)
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


# --- routing -------------------------------------------------------------------------

class ActionRouter:
    """Which AWS actions the emulator answers itself instead of passing them to moto."""

    def __init__(self) -> None:
        self._handlers: dict[tuple[str, str], Handler] = {}

    def register(self, service: str, action: str, handler: Handler) -> None:
        """Answer `service` (botocore's name, e.g. "ssm") `action` (e.g.
        "DescribeInstanceInformation") with `handler`. A misspelt action would silently
        never match, so it is checked against botocore's model; so are duplicates."""
        info = service_info(service)
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
