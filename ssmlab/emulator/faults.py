"""Fault injection: a seeded share of AWS requests answered with throttling or a 503.

Real AWS throttles (and now and then fails) calls; a build that only ever met a perfect
API has not shown it survives that. Off by default. Configured at start
(`ssmlab emulator start --fault-rate 0.1 --fault-seed 7 --fault-kind both --fault-actions
CreateVpc,RunInstances`, or $SSMLAB_FAULTS holding the JSON below) and at run time through
`GET / PUT / DELETE /ssmlab/faults`:

    {"rate": 0.1, "seed": 7, "kinds": ["throttle", "unavailable"], "actions": null, "injected": 0}

`actions` (null: all) names AWS actions, "CreateVpc" or "ec2:CreateVpc". One
`random.Random(seed)` decides, one draw per eligible request (and one more to pick the
kind when there are two), so a given sequence of requests meets the same faults every
time; concurrent clients interleave their requests, and with them the draws. A faulted
request is answered before ssmlab's handlers and moto see it: nothing is created. Only
signed AWS requests are eligible; `/ssmlab/` routes and the emulator's own requests
(marked internal) never are.

Each answer is the one AWS sends for the protocol, and one botocore retries (standard and
adaptive modes: botocore/retries/standard.py, ThrottledRetryableChecker and
TransientRetryableChecker; legacy mode: botocore/data/_retry.json).
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import threading
import urllib.request
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterable

from ssmlab import settings
from ssmlab.emulator.wsgi import (
    FAULT_KEY,
    REQUEST_KEY,
    Route,
    WSGIApp,
    is_internal,
    read_json,
    send,
    send_json,
)
from ssmlab.errors import BadInput, LabError

KINDS = ("throttle", "unavailable")
KIND_CHOICES = ("throttle", "unavailable", "both")
ROUTE = "/ssmlab/faults"

log = logging.getLogger("ssmlab.emulator")

# (HTTP status, code, message) per wire protocol.
THROTTLE: dict[str, tuple[int, str, str]] = {
    # EC2 API reference, "Error codes": RequestLimitExceeded, 503.
    "ec2": (503, "RequestLimitExceeded", "Request limit exceeded."),
    # iam, sts, ...: standard.py _THROTTLED_ERROR_CODES; _retry.json "throttling" (400).
    "query": (400, "Throttling", "Rate exceeded"),
    # ssm, logs, ...: _THROTTLED_ERROR_CODES; _retry.json "throttling_exception" (400).
    "json": (400, "ThrottlingException", "Rate exceeded"),
    "smithy-rpc-v2-cbor": (400, "ThrottlingException", "Rate exceeded"),
    # s3: SlowDown is in _THROTTLED_ERROR_CODES, and 503 in _TRANSIENT_STATUS_CODES.
    "rest-xml": (503, "SlowDown", "Please reduce your request rate."),
    # 429: ThrottlingStatusCodeChecker; the code is in _THROTTLED_ERROR_CODES too.
    "rest-json": (429, "TooManyRequestsException", "Rate exceeded"),
}
# 503 is in _TRANSIENT_STATUS_CODES (standard, adaptive) and _retry.json "service_unavailable".
UNAVAILABLE = (503, "ServiceUnavailable",
               "The request has failed due to a temporary failure of the server.")
UNAVAILABLE_EC2 = (503, "Unavailable", "The server is overloaded and can't handle the request.")


@dataclass(frozen=True)
class FaultConfig:
    """What to inject: `rate` in [0, 1] of eligible requests fail with one of `kinds`."""

    rate: float = 0.0
    seed: int | None = None
    kinds: tuple[str, ...] = ("throttle",)
    actions: tuple[str, ...] | None = None

    @property
    def on(self) -> bool:
        return self.rate > 0

    @classmethod
    def from_json(cls, data: Any) -> FaultConfig:
        """Validate a PUT body / $SSMLAB_FAULTS; ValueError names the bad value and the form."""
        if not isinstance(data, dict):
            raise ValueError(f"expected a JSON object such as {EXAMPLE}, got {data!r}")
        unknown = set(data) - {"rate", "seed", "kinds", "kind", "actions", "injected"}
        if unknown:
            raise ValueError(f"unknown field(s) {', '.join(sorted(unknown))}: expected rate, seed, kinds, actions")
        rate = data.get("rate", 0.0)
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
            raise ValueError(f"invalid rate {rate!r}: expected a number from 0 to 1, such as 0.1")
        seed = data.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError(f"invalid seed {seed!r}: expected an integer or null")
        kinds = parse_kinds(data.get("kinds", data.get("kind", "throttle")))
        actions = data.get("actions")
        if isinstance(actions, str):
            actions = [a for a in actions.split(",") if a.strip()]
        if actions is not None:
            if not isinstance(actions, list) or not all(isinstance(a, str) and a.strip() for a in actions):
                raise ValueError(f"invalid actions {actions!r}: expected a list of AWS action names "
                                 "such as [\"CreateVpc\", \"ec2:RunInstances\"], or null for all")
            actions = tuple(a.strip() for a in actions)
        return cls(float(rate), seed, kinds, actions)

    def to_json(self) -> dict[str, Any]:
        return {"rate": self.rate, "seed": self.seed, "kinds": list(self.kinds),
                "actions": list(self.actions) if self.actions is not None else None}

    def to_argv(self) -> list[str]:
        """The same settings as `serve` options, for the child process."""
        argv = ["--fault-rate", f"{self.rate:g}",
                "--fault-kind", "both" if len(self.kinds) > 1 else self.kinds[0]]
        if self.seed is not None:
            argv += ["--fault-seed", str(self.seed)]
        if self.actions is not None:
            argv += ["--fault-actions", ",".join(self.actions)]
        return argv

    def describe(self) -> str:
        """One line for the learner: what is injected."""
        if not self.on:
            return "no fault injection"
        where = ", ".join(self.actions) if self.actions is not None else "every AWS action"
        seed = f", seed {self.seed}" if self.seed is not None else ""
        return f"injecting {' or '.join(self.kinds)} errors into {self.rate:.0%} of requests ({where}{seed})"

    def matches(self, service: str, action: str | None) -> bool:
        if self.actions is None:
            return True
        return action is not None and (action in self.actions or f"{service}:{action}" in self.actions)


EXAMPLE = '{"rate": 0.1, "seed": 7, "kinds": ["throttle"], "actions": null}'


def parse_kinds(value: Any) -> tuple[str, ...]:
    if value == "both":
        return KINDS
    if isinstance(value, str):
        value = [value]
    if (not isinstance(value, list) or not value or not all(v in KINDS for v in value)):
        raise ValueError(f"invalid kinds {value!r}: expected [\"throttle\"], [\"unavailable\"] or both")
    return tuple(k for k in KINDS if k in value)


def coerce(value: FaultConfig | dict[str, Any]) -> FaultConfig:
    """A FaultConfig from itself or its JSON; BadInput when the JSON is wrong."""
    if isinstance(value, FaultConfig):
        return value
    try:
        return FaultConfig.from_json(value)
    except ValueError as exc:
        raise BadInput(f"invalid faults: {exc}") from None


def from_environ() -> FaultConfig | None:
    """$SSMLAB_FAULTS (the JSON of /ssmlab/faults), or None when unset."""
    text = settings.current().faults
    if not text:
        return None
    try:
        return FaultConfig.from_json(json.loads(text))
    except ValueError as exc:  # json.JSONDecodeError is one
        raise ValueError(f"invalid ${settings.FAULTS_VAR} {text!r}: {exc}") from None


# -- the answer ------------------------------------------------------------------------------

def fault_response(request: Any, kind: str) -> tuple[str, list[tuple[str, str]], bytes]:
    """The error AWS sends for `kind` in the request's protocol."""
    from ssmlab.emulator.rendering import error_response

    if kind == "throttle":
        status, code, message = THROTTLE.get(request.protocol, THROTTLE["json"])
    else:
        status, code, message = UNAVAILABLE_EC2 if request.protocol == "ec2" else UNAVAILABLE
    return error_response(request, status, code, message)


class FaultInjector:
    """Decides, per request, whether to fail it; thread-safe, deterministic for a seed."""

    def __init__(self, config: FaultConfig | None = None) -> None:
        self._lock = threading.Lock()
        self.configure(config or FaultConfig())

    def configure(self, config: FaultConfig) -> FaultConfig:
        """Replace the settings; the RNG restarts from the seed (one is chosen if none is
        given, and reported, so a run can be repeated) and the count from zero."""
        if config.on and config.seed is None:
            config = replace(config, seed=random.SystemRandom().randrange(2**31))
        with self._lock:
            self.config = config
            self._rng = random.Random(config.seed)
            self.injected = 0
        return config

    def decide(self, request: Any, environ: dict[str, Any]) -> str | None:
        """The kind of fault to answer `request` with, or None to serve it."""
        if request is None or is_internal(environ):
            return None
        with self._lock:
            config = self.config
            if not config.on or not config.matches(request.service, request.action):
                return None
            if self._rng.random() >= config.rate:
                return None
            kind = config.kinds[0] if len(config.kinds) == 1 else self._rng.choice(config.kinds)
            self.injected += 1
        return kind

    def to_json(self) -> dict[str, Any]:
        with self._lock:
            return {**self.config.to_json(), "injected": self.injected}

    def wrap(self, inner: WSGIApp) -> WSGIApp:
        """`inner`, except for the requests chosen to fail: those are answered here."""

        def faulty(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            request = environ.get(REQUEST_KEY)
            kind = self.decide(request, environ)
            if kind is None:
                return inner(environ, start_response)
            environ[FAULT_KEY] = kind
            log.info("injected %s fault: %s %s", kind, request.service, request.action)
            return send(start_response, fault_response(request, kind))

        return faulty

    # -- /ssmlab/faults ------------------------------------------------------------------------

    def routes(self) -> dict[tuple[str, str], Route]:
        return {("GET", ROUTE): self._get, ("PUT", ROUTE): self._put, ("DELETE", ROUTE): self._delete}

    def _get(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        return send_json(start_response, self.to_json())

    def _put(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        try:
            config = FaultConfig.from_json(read_json(environ))
        except ValueError as exc:
            return send_json(start_response, {"ok": False, "error": str(exc)}, "400 Bad Request")
        self.configure(config)
        log.info("faults set to %s", self.to_json())
        return send_json(start_response, self.to_json())

    def _delete(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        self.configure(FaultConfig())
        return send_json(start_response, self.to_json())


def install(app: Any, config: FaultConfig | None = None) -> FaultInjector:
    """Put the injector in front of everything that answers AWS requests on `app`
    (`app.aws_app`), and add /ssmlab/faults. Install it after the other extensions, so
    a faulted request reaches none of them."""
    injector = FaultInjector(config)
    app.aws_app = injector.wrap(app.aws_app)
    app.routes.update(injector.routes())
    if injector.config.on:
        log.info("fault injection on: %s", injector.to_json())
    return injector


# -- clients and the command line ------------------------------------------------------------

def apply(endpoint_url: str, config: FaultConfig, timeout: float = 10.0) -> dict[str, Any]:
    """PUT `config` to a running emulator; returns what it now reports."""
    request = urllib.request.Request(endpoint_url.rstrip("/") + ROUTE, method="PUT",
                                     data=json.dumps(config.to_json()).encode(),
                                     headers={"Content-Type": "application/json"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxy
    try:
        with opener.open(request, timeout=timeout) as response:
            return json.loads(response.read())
    except OSError as exc:
        raise LabError(f"the emulator at {endpoint_url} did not take the fault settings: {exc}") from exc


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """--fault-rate/--fault-seed/--fault-kind/--fault-actions on a start or serve command."""
    group = parser.add_argument_group("fault injection (off by default)")
    group.add_argument("--fault-rate", type=_rate, default=None, metavar="R",
                       help="share of AWS requests answered with an injected error, 0 to 1 (e.g. 0.1)")
    group.add_argument("--fault-seed", type=int, default=None, metavar="N",
                       help="seed of the generator that picks them (default: a random one, reported)")
    group.add_argument("--fault-kind", choices=KIND_CHOICES, default=None,
                       help="throttling errors, 503 unavailable, or both (default throttle)")
    group.add_argument("--fault-actions", type=_actions, default=None, metavar="A,B",
                       help="only these actions, e.g. CreateVpc,RunInstances or ec2:CreateVpc (default all)")


def from_args(args: argparse.Namespace, parser: argparse.ArgumentParser | None = None) -> FaultConfig | None:
    """The FaultConfig the options ask for, or None when no --fault-* option was given."""
    given = {name: getattr(args, f"fault_{name}", None) for name in ("rate", "seed", "kind", "actions")}
    if all(value is None for value in given.values()):
        return None
    if given["rate"] is None:
        message = "--fault-seed, --fault-kind and --fault-actions need --fault-rate (e.g. --fault-rate 0.1)"
        if parser is not None:
            parser.error(message)
        raise ValueError(message)
    return FaultConfig(given["rate"], given["seed"], parse_kinds(given["kind"] or "throttle"), given["actions"])


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"invalid fault rate {text!r}: expected a number from 0 to 1, such as 0.1")
    return value


def _actions(text: str) -> tuple[str, ...]:
    actions = tuple(a.strip() for a in text.split(",") if a.strip())
    if not actions:
        raise argparse.ArgumentTypeError(f"invalid fault actions {text!r}: expected names such as CreateVpc,RunInstances")
    return actions
