"""Answers of ssmlab's own handlers, serialized by moto's serializer from botocore's model.

moto 5.2 renders every answer from the operation's output shape (moto/core/serialize.py),
reading members off dicts or moto's model objects. A handler that answers instead of moto
(`app.router`) renders through the same code, so its answers have exactly the shape,
element names and timestamps moto's own answers have, and botocore parses them alike.
"""

from __future__ import annotations

import uuid
from http import HTTPStatus
from typing import Any, Callable

Response = tuple[str, list[tuple[str, str]], bytes]


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
    status = int(rendered["status_code"])
    return f"{status} {HTTPStatus(status).phrase}", headers, body
