"""EC2 client tokens: a retried create answers with what it made the first time.

AWS (Amazon EC2 Developer Guide, "Ensuring idempotency in Amazon EC2 API requests",
https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-idempotency.html): a client
token is a unique, case-sensitive string of up to 64 ASCII characters. A retry of a
request that completed, with the same token and the same parameters, succeeds without
doing anything more and returns the original result, which "might contain updated
information, such as the current creation status" (RunInstances: "the only information
that might vary in the response is the state of the instance"). The same token with other
parameters (other than the Region or Availability Zone) fails with
IdempotentParameterMismatch. Tokens are per Region.

moto 5.2.5 ignores the token: when an answer is lost after the emulator acted, botocore's
retry (which carries the same token: it fills ClientToken once per call, idempotencyToken
trait) made a second instance, route table or endpoint. Here every EC2 action whose input
has a ClientToken member in botocore's model is wrapped: per (account, region, action,
token) the first successful answer is kept with a fingerprint of the other parameters;
a repeat replays it, with the current state patched in, and never reaches moto.

Installed around `app.aws_app` before the fault injector wraps it, so a faulted request
never reaches the token store; the call log and the generation counter, outside both,
see a replay as any other mutating request. Each (account, region, action, token) is
served by one thread at a time, so two racing identical requests create one resource.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import re
import threading
import uuid
import xml.etree.ElementTree as ET
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

from ssmlab.emulator.rendering import error_response
from ssmlab.emulator.wsgi import REQUEST_KEY, Response, WSGIApp, drain, send

log = logging.getLogger("ssmlab.emulator")

TOKEN = "ClientToken"
DEFAULT_MAX_LENGTH = 64  # the AWS page above: "up to 64 ASCII characters"
# Parameters whose change is no mismatch (the AWS page: "other than the Region or
# Availability Zone"): the Region is in the key; these are the zone's names on the wire.
IGNORED = ("AvailabilityZone", "AvailabilityZoneId")
# The emulator's choice: AWS keeps a RunInstances token "at least 24 hours after the
# termination of the instance"; the emulator keeps each region's latest tokens for its
# lifetime (or until moto's reset replaces the backends), at most this many.
CAPACITY = 4096
REQUEST_ID_HEADERS = ("x-amzn-requestid", "x-amz-request-id")  # each answer has its own, a replay too
MISMATCH = "Arguments on this idempotent request are inconsistent with arguments used in previous request(s)."

_STORE_ATTR = "_ssmlab_client_tokens"
_STORE_LOCK = threading.Lock()


@dataclass(frozen=True)
class Answer:
    """A first successful answer, as sent, and the parameters it answered."""

    fingerprint: str
    status: str
    headers: tuple[tuple[str, str], ...]
    body: bytes


def install(app: Any) -> None:
    """Serve EC2 requests that carry a client token through the token store."""
    app.aws_app = wrap(app.aws_app)


def wrap(inner: WSGIApp) -> WSGIApp:
    locks = _KeyedLocks()

    def idempotent(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = environ.get(REQUEST_KEY)
        token = _token_of(request)
        if token is None:
            return inner(environ, start_response)
        refused = _refusal(request, token)
        if refused is not None:
            return send(start_response, refused)
        store = _store(request)
        if store is None:  # no such region in moto: it answers the error
            return inner(environ, start_response)
        fingerprint = _fingerprint(request.params)
        with locks.hold((request.account_id, request.region, request.action, token)):
            with _STORE_LOCK:
                known = store.get((request.action, token))
            if known is not None:
                if known.fingerprint != fingerprint:
                    log.info("%s ClientToken %s reused with other parameters", request.action, token)
                    return send(start_response, error_response(request, 400, "IdempotentParameterMismatch", MISMATCH))
                log.info("%s ClientToken %s seen before: the first answer, nothing done", request.action, token)
                headers = [(k, str(uuid.uuid4()) if k.lower() in REQUEST_ID_HEADERS else v) for k, v in known.headers]
                return send(start_response, (known.status, headers, _replay(request, known.body)))
            status, headers, body = _call(inner, environ)
            if status.startswith("2"):
                with _STORE_LOCK:  # other tokens of the region are stored by other threads
                    store[(request.action, token)] = Answer(fingerprint, status, tuple(headers), body)
                    while len(store) > CAPACITY:
                        store.popitem(last=False)
        return send(start_response, (status, headers, body))

    return idempotent


# --- which requests, and which tokens ---------------------------------------------------------

@functools.lru_cache(maxsize=1)
def token_actions() -> dict[str, int]:
    """EC2 actions whose input has a ClientToken member (botocore's model, as moto loaded it)
    -> the longest token each accepts: the member's `max`, else a "Maximum N ASCII
    characters" in its documentation (CopyImage, CreateLaunchTemplate say 128), else 64."""
    from moto.core.utils import get_service_model

    model = get_service_model("ec2")
    actions: dict[str, int] = {}
    for name in model.operation_names:
        shape = model.operation_model(name).input_shape
        member = shape.members.get(TOKEN) if shape is not None else None
        if member is None:
            continue
        stated = re.search(r"Maximum (\d+) ASCII characters", member.documentation or "")
        actions[name] = int(member.metadata.get("max") or (stated and stated.group(1)) or DEFAULT_MAX_LENGTH)
    return actions


def _token_of(request: Any) -> str | None:
    """The request's client token, if it is an EC2 call that takes one and no dry run
    (a dry run does nothing; the emulator neither checks nor keeps its token)."""
    if request is None or request.service != "ec2" or not request.params.get(TOKEN):
        return None
    if request.action not in token_actions() or str(request.params.get("DryRun", "")).lower() == "true":
        return None
    return request.params[TOKEN]


def _refusal(request: Any, token: str) -> Response | None:
    """A token AWS would not take. The code is the emulator's choice: AWS documents the
    limit (ASCII, 64 characters unless the action says more) but not the error for it;
    InvalidParameterValue is EC2's code for a parameter value outside its constraints."""
    limit = token_actions()[request.action]
    if len(token) <= limit and token.isascii():
        return None
    return error_response(request, 400, "InvalidParameterValue",
                          f"Value ({token}) for parameter clientToken is invalid. "
                          f"It must be at most {limit} ASCII characters.")


def _fingerprint(params: dict[str, str]) -> str:
    """The parameters that must match: all but the token, the action and API version (the
    key and the wire), and the Availability Zone (the AWS page)."""
    kept = sorted((k, v) for k, v in params.items()
                  if k not in (TOKEN, "Action", "Version") and k.rsplit(".", 1)[-1] not in IGNORED)
    return hashlib.sha256(json.dumps(kept).encode()).hexdigest()


# --- the store ----------------------------------------------------------------------------------

def _store(request: Any) -> OrderedDict[tuple[str, str], Answer] | None:
    """The region's tokens, kept on moto's EC2 backend object: moto's reset, which replaces
    the backends, forgets them with the resources they name."""
    backend = _backend(request)
    if backend is None:
        return None
    with _STORE_LOCK:
        store = backend.__dict__.get(_STORE_ATTR)
        if store is None:
            store = backend.__dict__[_STORE_ATTR] = OrderedDict()
        return store


def _backend(request: Any) -> Any:
    from moto.ec2.models import ec2_backends

    try:
        return ec2_backends[request.account_id][request.region]
    except KeyError:
        return None


class _KeyedLocks:
    """One lock per key, alive while some thread holds or waits for it."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[Any, list[Any]] = {}  # key -> [lock, holders and waiters]

    @contextmanager
    def hold(self, key: Any) -> Iterator[None]:
        with self._guard:
            entry = self._locks.setdefault(key, [threading.Lock(), 0])
            entry[1] += 1
        entry[0].acquire()
        try:
            yield
        finally:
            with self._guard:
                entry[0].release()
                entry[1] -= 1
                if entry[1] == 0:
                    del self._locks[key]


# --- answering ------------------------------------------------------------------------------------

def _call(inner: WSGIApp, environ: dict[str, Any]) -> Response:
    """Serve the request with `inner` and read its whole answer (EC2 answers are small)."""
    started: dict[str, Any] = {}
    chunks: list[bytes] = []

    def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], Any]:
        started["status"], started["headers"] = status, list(headers)
        return chunks.append

    chunks.append(drain(inner(environ, capture)))
    return started["status"], started["headers"], b"".join(chunks)


def _replay(request: Any, body: bytes) -> bytes:
    """The first answer with a new request id and, where AWS says it may vary, the state
    as it is now; the answer as it was if it cannot be read (it is still the right one)."""
    patch = _PATCHES.get(request.action)
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return body
    namespace = root.tag[1:].split("}", 1)[0] if root.tag.startswith("{") else ""
    ET.register_namespace("", namespace)  # write it back as the default namespace, as AWS does
    find = _Finder(namespace)
    for element in find.all(root, "requestId"):
        element.text = str(uuid.uuid4())
    if patch is not None:
        patch(request, root, find)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


class _Finder:
    """ElementTree look-ups in EC2's namespace, by the wire's element names."""

    def __init__(self, namespace: str) -> None:
        self.prefix = f"{{{namespace}}}" if namespace else ""

    def path(self, path: str) -> str:
        return "/".join(self.prefix + step for step in path.split("/"))

    def all(self, root: ET.Element, path: str) -> Iterator[ET.Element]:
        return root.iterfind(".//" + self.path(path))

    def text(self, element: ET.Element, path: str) -> str | None:
        return element.findtext(self.path(path))

    def set(self, element: ET.Element, path: str, value: Any) -> None:
        found = element.find(self.path(path))
        if found is not None:
            found.text = str(value)


def _instance_states(request: Any, root: ET.Element, find: _Finder) -> None:
    """RunInstances: each instance's instanceState as moto holds it now."""
    instances = {i.id: i for i in list(_backend(request).all_instances())}
    for item in find.all(root, "instancesSet/item"):
        instance = instances.get(find.text(item, "instanceId") or "")
        if instance is not None:
            find.set(item, "instanceState/code", instance.state_code)
            find.set(item, "instanceState/name", instance.state)


def _endpoint_state(request: Any, root: ET.Element, find: _Finder) -> None:
    """CreateVpcEndpoint: the endpoint's State as moto holds it now (moto keeps a deleted
    endpoint, state "deleted")."""
    for endpoint_element in find.all(root, "vpcEndpoint"):
        endpoint = _backend(request).vpc_end_points.get(find.text(endpoint_element, "vpcEndpointId") or "")
        if endpoint is not None:
            find.set(endpoint_element, "state", endpoint.state)


def _connect_endpoint_state(request: Any, root: ET.Element, find: _Finder) -> None:
    """CreateInstanceConnectEndpoint: the State a describe would show now."""
    from ssmlab.emulator import eice_models

    for element in find.all(root, "instanceConnectEndpoint"):
        state = eice_models.current_state(request.account_id, request.region,
                                          find.text(element, "instanceConnectEndpointId") or "")
        if state is not None:
            find.set(element, "state", state)


_PATCHES: dict[str, Callable[[Any, ET.Element, _Finder], None]] = {
    "RunInstances": _instance_states,
    "CreateVpcEndpoint": _endpoint_state,
    "CreateInstanceConnectEndpoint": _connect_endpoint_state,
}
