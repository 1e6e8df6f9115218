"""What every layer of the emulator's WSGI stack shares: the names it marks requests with, and how it answers.

The app, the call log, the fault injector, the token store and the guards each wrap the
next layer; they agree on the environ keys below (the parsed request, the fault answered)
and on the two ssmlab headers, and answer through the same few helpers, so a header or an
answer's framing is written once.
"""

from __future__ import annotations

import hmac
import json
import secrets
from http import HTTPStatus
from itertools import chain, islice
from typing import Any, Callable, Iterable, Iterator

from ssmlab.lab import LAB_HEADER

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
Route = Callable[[dict[str, Any], Callable[..., Any]], list[bytes]]
"""A handler of one of ssmlab's own routes (`/ssmlab/...`): it answers in full at once."""
Response = tuple[str, list[tuple[str, str]], bytes]
"""An answer built whole: WSGI status line, header list, body."""

INTERNAL_HEADER = "X-Ssmlab-Internal"
"""Marks the emulator's own requests (the simulated agents reading state back), so the call
log and fault injection leave them out: a learner's call counts stay the learner's."""
INTERNAL_TOKEN = secrets.token_hex(16)
"""The mark's value: made by this process, so a client (a class's participant) cannot hide its calls by
sending the header itself."""


def environ_key(header: str) -> str:
    """How WSGI names a request header: X-Ssmlab-Lab -> HTTP_X_SSMLAB_LAB."""
    return "HTTP_" + header.upper().replace("-", "_")


LAB_ENVIRON = environ_key(LAB_HEADER)
INTERNAL_ENVIRON = environ_key(INTERNAL_HEADER)

REQUEST_KEY = "ssmlab.aws_request"
"""Where the app leaves the parsed AwsRequest (or None) in the environ, so every layer
reads it instead of parsing the request a second time."""
FAULT_KEY = "ssmlab.fault"
"""Set in the environ by the fault injector to the kind of fault it answered with."""


def mark_internal(request: Any, **_: Any) -> None:
    """botocore's before-sign handler for the emulator's own clients: their requests carry the mark."""
    request.headers[INTERNAL_HEADER] = INTERNAL_TOKEN


def is_internal(environ: dict[str, Any]) -> bool:
    """A request of the emulator's own (the simulated agents reading state back)."""
    return hmac.compare_digest(str(environ.get(INTERNAL_ENVIRON, "")), INTERNAL_TOKEN)


def status_line(status: int) -> str:
    """200 -> "200 OK"; a code HTTP does not name keeps a line botocore still reads."""
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Unknown"


def send(start_response: Callable[..., Any], response: Response) -> list[bytes]:
    """Answer with a whole response; its Content-Length is the body's (a replayed or
    rewritten body may differ from what the headers said)."""
    status, headers, body = response
    headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
    headers.append(("Content-Length", str(len(body))))
    start_response(status, headers)
    return [body]


def send_json(start_response: Callable[..., Any], payload: Any, status: str = "200 OK") -> list[bytes]:
    """An answer of ssmlab's own routes: plain JSON."""
    return send(start_response, (status, [("Content-Type", "application/json")], json.dumps(payload).encode()))


def read_json(environ: dict[str, Any]) -> Any:
    """The request's JSON body (None when empty); ValueError when it is no JSON."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    data = environ["wsgi.input"].read(length) if length else b""
    return json.loads(data) if data.strip() else None


def close(result: Iterable[bytes]) -> None:
    """Close a WSGI result, as its server would: a result may hold a file or a lock."""
    closer = getattr(result, "close", None)
    if closer is not None:
        closer()


def drain(result: Iterable[bytes]) -> bytes:
    """The whole body of a result, which is then closed."""
    try:
        return b"".join(result)
    finally:
        close(result)


class Resumed:
    """A WSGI result whose first chunk was pulled early; yields it, then the rest.

    WSGI lets an app call start_response on its first iteration: a layer that needs the
    status before answering pulls that chunk, and hands this on in the result's place."""

    def __init__(self, result: Iterable[bytes]) -> None:
        self._result = result
        self._iterator = iter(result)
        self._first = list(islice(self._iterator, 1))

    def __iter__(self) -> Iterator[bytes]:
        return chain(self._first, self._iterator)

    def close(self) -> None:
        close(self._result)
