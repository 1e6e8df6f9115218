"""Answers of ssmlab's own handlers, in the wire format AWS sends them in.

`error_response` and `json_response` are written by hand: an error document per protocol,
and the plain JSON answer of a json-protocol action; botocore parses them into the same
ClientErrors and results real AWS gives. `render` serializes any other answer with moto's
own serializer from botocore's model: moto 5.2 renders every answer from the operation's
output shape (moto/core/serialize.py), reading members off dicts or moto's model objects,
so a handler that answers instead of moto (`app.router`) has exactly the shape, element
names and timestamps moto's own answers have.
"""

from __future__ import annotations

import json
import uuid
from base64 import b64encode
from datetime import date, datetime, timezone
from typing import TYPE_CHECKING, Any, Callable
from xml.sax.saxutils import escape

from ssmlab.emulator.service_models import service_info
from ssmlab.emulator.wsgi import Response, status_line

if TYPE_CHECKING:
    from ssmlab.emulator.protocol import AwsRequest


def render(service: str, action: str, result: Any,
           transformers: dict[str, Callable[[Any], Any]] | None = None) -> Response:
    """`result` (members by botocore name, or moto objects with snake_case attributes) as
    the answer to `service` `action`; `transformers` as a moto response class's
    RESPONSE_KEY_PATH_TO_TRANSFORMER ("ListRolesResponse.Roles.Role.Tags": never_return)."""
    from moto.core.serialize import SerializationContext, XFormedAttributePicker, get_serializer_class
    from moto.core.utils import get_service_model

    model = get_service_model(service)
    operation = model.operation_model(action)
    serializer = get_serializer_class(service, model.protocol)(
        operation, SerializationContext(str(uuid.uuid4())),
        value_picker=XFormedAttributePicker(response_transformers=transformers or {}))
    rendered = serializer.serialize(result)
    body = rendered["body"].encode() if isinstance(rendered["body"], str) else rendered["body"]
    headers = [(k, v) for k, v in rendered["headers"].items() if k.lower() != "content-length"]
    headers.append(("Content-Length", str(len(body))))
    return status_line(int(rendered["status_code"])), headers, body


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
    return status_line(status), [
        ("Content-Type", f"application/x-amz-json-{json_version}"),
        ("Content-Length", str(len(body))),
        ("x-amzn-RequestId", str(uuid.uuid4())),
    ], body


def error_response(request: AwsRequest, status: int, code: str, message: str) -> Response:
    """The error document AWS sends in `request.protocol`, which botocore turns into a
    ClientError with this Code and Message (HEAD requests get no body, as from S3)."""
    request_id = str(uuid.uuid4())
    info = service_info(request.service)
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
    return status_line(status), headers, body


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
