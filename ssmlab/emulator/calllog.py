"""The emulator's call log: every AWS API request it serves, who made it and how it ended.

Recorded by `SsmlabApp` at its outermost level, so calls answered by ssmlab's handlers,
by moto, by the fault injector (`faults`) and the NotImplemented answers are all there.
Two kinds of request are left out: the emulator talking to itself (the simulated agents
mark their read-backs with `wsgi.INTERNAL_HEADER`), and anything that is not a
SigV4-signed AWS call (`/ssmlab/...`, moto's `/moto-api/`, unsigned requests).

The benchmarks (API calls per build) and the learner's least-privilege IAM policy are
derived from it, so `service` is botocore's service name and `action` the AWS action name
exactly as in the API reference ("CreateVpcEndpoint"). Memory is bounded: the oldest
entries are dropped past `CAPACITY`, and the JSON says how many were.

Routes: `GET /ssmlab/calls[?lab=&service=&action=&since=&fault=]` ->
`{"calls": [...], "count": N, "dropped": M, "capacity": C}`; `DELETE /ssmlab/calls[?lab=]`
-> `{"cleared": N}`.
"""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.parse
from collections import deque
from datetime import datetime, timezone
from typing import Any, Callable, Iterable

from ssmlab.emulator.wsgi import (
    FAULT_KEY,
    LAB_ENVIRON,
    REQUEST_KEY,
    Resumed,
    Route,
    WSGIApp,
    drain,
    is_internal,
    send_json,
)
from ssmlab.lab import TAG_KEY

CAPACITY = 100_000
"""Entries kept (about 300 bytes each: ~30 MB at most); older ones are dropped and counted."""

FILTERS = ("lab", "service", "action", "since", "fault")


class CallLog:
    """A bounded, thread-safe record of AWS calls (the emulator serves requests in threads)."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self._entries: deque[dict[str, Any]] = deque(maxlen=capacity)
        self._dropped = 0
        self._lock = threading.Lock()

    # -- recording ------------------------------------------------------------------------

    def record(self, environ: dict[str, Any], start_response: Callable[..., Any], inner: WSGIApp) -> Iterable[bytes]:
        """Serve the request with `inner` and log it (the request parsed in environ[REQUEST_KEY]).

        The status comes from `start_response`. An error answer (>= 400) is small: it is
        buffered to read its AWS error code, then sent as it was. Every other answer passes
        through untouched (S3 bodies stream); the entry is written before the body is
        sent, so a client that has its answer finds its call in the log.
        """
        request = environ.get(REQUEST_KEY)
        if request is None or is_internal(environ):
            return inner(environ, start_response)
        began = time.monotonic()
        entry: dict[str, Any] = {
            "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
            "service": request.service,
            "action": request.action,
            "region": request.region,
            "status": None,
            "error": None,
            "lab": lab_of(request, environ),
            "fault": False,
            "attempt": _attempt(request.headers),
            "ms": None,
        }
        seen: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], Any]:
            seen["status"], seen["headers"] = status, headers
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        try:
            result = inner(environ, capture)
            if "status" not in seen:  # a lazy app calls start_response on the first iteration
                result = Resumed(result)
        except BaseException:
            entry.update(status=500, error="InternalFailure", fault=bool(environ.get(FAULT_KEY)))
            self._append(entry, began)
            raise
        status = int(str(seen.get("status", "500")).split()[0])
        entry.update(status=status, fault=bool(environ.get(FAULT_KEY)))
        if status >= 400:
            body = drain(result)
            entry["error"] = error_code(seen.get("headers") or [], body)
            result = [body]
        self._append(entry, began)
        return result

    def _append(self, entry: dict[str, Any], began: float) -> None:
        entry["ms"] = round((time.monotonic() - began) * 1000, 1)
        with self._lock:
            if len(self._entries) == self.capacity:
                self._dropped += 1
            self._entries.append(entry)

    # -- reading --------------------------------------------------------------------------

    def calls(self, *, lab: str | None = None, service: str | None = None, action: str | None = None,
              since: datetime | None = None, fault: bool | None = None) -> list[dict[str, Any]]:
        """The entries matching every filter given, oldest first."""
        with self._lock:
            entries = list(self._entries)
        return [dict(e) for e in entries
                if (lab is None or e["lab"] == lab)
                and (service is None or e["service"] == service)
                and (action is None or e["action"] == action)
                and (fault is None or e["fault"] == fault)
                and (since is None or datetime.fromisoformat(e["time"]) >= since)]

    def clear(self, lab: str | None = None) -> int:
        """Forget every entry (or only `lab`'s); returns how many were removed."""
        with self._lock:
            before = len(self._entries)
            if lab is None:
                self._entries.clear()
                self._dropped = 0
            else:
                kept = [e for e in self._entries if e["lab"] != lab]
                self._entries = deque(kept, maxlen=self.capacity)
            return before - len(self._entries)

    def to_json(self, **filters: Any) -> dict[str, Any]:
        calls = self.calls(**filters)
        with self._lock:
            dropped = self._dropped
        return {"calls": calls, "count": len(calls), "dropped": dropped, "capacity": self.capacity}

    # -- routes ---------------------------------------------------------------------------

    def routes(self) -> dict[tuple[str, str], Route]:
        return {("GET", "/ssmlab/calls"): self._get, ("DELETE", "/ssmlab/calls"): self._delete}

    def _get(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        try:
            filters = parse_filters(environ.get("QUERY_STRING", ""))
        except ValueError as exc:
            return send_json(start_response, {"ok": False, "error": str(exc)}, "400 Bad Request")
        return send_json(start_response, self.to_json(**filters))

    def _delete(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        try:
            filters = parse_filters(environ.get("QUERY_STRING", ""), allowed=("lab",))
        except ValueError as exc:
            return send_json(start_response, {"ok": False, "error": str(exc)}, "400 Bad Request")
        return send_json(start_response, {"cleared": self.clear(filters.get("lab"))})


def parse_filters(query: str, allowed: tuple[str, ...] = FILTERS) -> dict[str, Any]:
    """`lab=demo&since=2025-01-01T00:00:00Z` -> keyword filters for `CallLog.calls`."""
    filters: dict[str, Any] = {}
    for key, value in urllib.parse.parse_qsl(query, keep_blank_values=True):
        if key not in allowed:
            raise ValueError(f"unknown filter {key!r}: expected {', '.join(allowed)}")
        if key == "since":
            try:
                moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                raise ValueError(f"invalid since {value!r}: expected an ISO 8601 time such as "
                                 "2025-01-31T12:00:00+00:00") from None
            filters[key] = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
        elif key == "fault":
            if value.lower() not in ("true", "false", "1", "0"):
                raise ValueError(f"invalid fault {value!r}: expected true or false")
            filters[key] = value.lower() in ("true", "1")
        else:
            filters[key] = value
    return filters


# -- what a request says about itself ------------------------------------------------------

def lab_of(request: Any, environ: dict[str, Any]) -> str | None:
    """The caller's lab: ssmlab's clients send it in X-Ssmlab-Lab; a plain boto3 caller is
    known by the `ssmlab:lab` tag its request puts on what it creates."""
    header = environ.get(LAB_ENVIRON)
    if header:
        return str(header)
    try:
        return _tagged_lab(request)
    except Exception:  # a request we cannot read tags from has no lab
        return None


def _tagged_lab(request: Any) -> str | None:
    params = request.params or {}
    if request.protocol in ("query", "ec2"):
        # TagSpecification.1.Tag.2.Key (ec2), Tags.member.1.Key (iam), Tag.1.Key ...
        for key, value in params.items():
            if key.endswith(".Key") and value == TAG_KEY:
                found = params.get(key[: -len("Key")] + "Value")
                if found:
                    return str(found)
        return None
    if request.protocol in ("json", "rest-json"):
        return _lab_in_json(params)
    tagging = request.headers.get("x-amz-tagging")  # s3 PutObject: ssmlab%3Alab=demo&...
    if tagging:
        found = dict(urllib.parse.parse_qsl(tagging)).get(TAG_KEY)
        if found:
            return found
    if request.body and TAG_KEY.encode() in request.body:  # s3 PutBucketTagging, CreateBucket
        match = re.search(rb"<Key>\s*" + re.escape(TAG_KEY.encode()) + rb"\s*</Key>\s*<Value>([^<]*)</Value>",
                          request.body)
        if match:
            return match.group(1).decode("utf-8", "replace")
    return None


def _lab_in_json(node: Any, depth: int = 0) -> str | None:
    """[{"Key": "ssmlab:lab", "Value": v}] (ssm, most), {"ssmlab:lab": v} (logs' tags map)."""
    if depth > 6:
        return None
    if isinstance(node, dict):
        for key_name, value_name in (("Key", "Value"), ("key", "value"), ("TagKey", "TagValue")):
            if node.get(key_name) == TAG_KEY and isinstance(node.get(value_name), str):
                return node[value_name]
        if isinstance(node.get(TAG_KEY), str):
            return node[TAG_KEY]
        children: Iterable[Any] = node.values()
    elif isinstance(node, list):
        children = node
    else:
        return None
    for child in children:
        if isinstance(child, (dict, list)):
            found = _lab_in_json(child, depth + 1)
            if found:
                return found
    return None


def _attempt(headers: dict[str, str]) -> int | None:
    """botocore's retry attempt (1 = first try) from `amz-sdk-request: attempt=2; max=3`."""
    match = re.search(r"attempt=(\d+)", headers.get("amz-sdk-request", ""))
    return int(match.group(1)) if match else None


_XML_CODE = re.compile(rb"<Code>\s*([^<\s]+)\s*</Code>")


def error_code(headers: list[tuple[str, str]], body: bytes) -> str | None:
    """The AWS error code of an error answer, read as botocore reads it for each protocol."""
    for name, value in headers:
        if name.lower() == "x-amzn-errortype" and value:
            return value.split(":", 1)[0].rsplit("#", 1)[-1] or None
    text = body.strip()
    if text.startswith(b"{"):
        try:
            data = json.loads(text)
        except ValueError:
            data = {}
        code = data.get("__type") or data.get("code") or data.get("Code") if isinstance(data, dict) else None
        return str(code).rsplit("#", 1)[-1] if code else None
    match = _XML_CODE.search(text)
    return match.group(1).decode("utf-8", "replace") if match else None

