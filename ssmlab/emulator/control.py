"""The client side of the emulator's own routes (/ssmlab/...): the agents' log and the clock.

Used by the library (progress while waiting), the tests and the notebooks (fast-forward
through the agent's half-hour credential sleep). Only meaningful on target emulator.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from typing import Any

from ssmlab import settings
from ssmlab.errors import LabError

TIMEOUT = 30.0


def _call(lab: Any, method: str, path: str, body: dict | None = None) -> dict:
    if not lab.is_emulator:
        raise LabError(f"{path} exists only on the embedded emulator; this lab's target is {lab.target}")
    data = json.dumps(body).encode() if body is not None else None
    url = lab.endpoint_url.rstrip("/") + path
    headers = {"Content-Type": "application/json"}
    keys = settings.current().emulator_keys
    if keys:  # a class's emulator: its facilitator's routes check who signed (classmode)
        from ssmlab.emulator.sigv4 import sign

        headers = sign(method, url, data or b"", keys[0], keys[1], headers)
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    # Loopback only: never through a proxy.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=TIMEOUT) as response:
            return json.loads(response.read())
    except OSError as error:
        raise LabError(f"the emulator did not answer {method} {path}: {error}") from error


def agents(lab: Any, instance_id: str | None = None) -> dict:
    """The simulated agents' states and their log: {"clock", "agents": [...], "log": [...]}."""
    query = f"?{urllib.parse.urlencode({'instance_id': instance_id})}" if instance_id else ""
    return _call(lab, "GET", f"/ssmlab/agents{query}")


def clock(lab: Any) -> dict:
    return _call(lab, "GET", "/ssmlab/clock")


def advance_clock(lab: Any, seconds: float) -> dict:
    """Fast-forward simulated time; every agent attempt that falls due on the way is run."""
    return _call(lab, "POST", "/ssmlab/clock", {"advance": seconds})


def calls(lab: Any, *, all_labs: bool = False, **filters: Any) -> dict:
    """The emulator's call log, this lab's calls only unless `all_labs`:
    {"calls": [{"time", "service", "action", "region", "status", "error", "lab", "fault",
    "attempt", "ms"}, ...], "count", "dropped", "capacity"}. Filters: service="ec2",
    action="CreateVpc", since=<ISO time or datetime>, fault=True/False."""
    query = {} if all_labs else {"lab": lab.name}
    for key, value in filters.items():
        if value is None:
            continue
        if hasattr(value, "isoformat"):
            value = value.isoformat()
        elif isinstance(value, bool):
            value = str(value).lower()
        query[key] = value
    return _call(lab, "GET", f"/ssmlab/calls?{urllib.parse.urlencode(query)}")


def clear_calls(lab: Any, *, all_labs: bool = False) -> dict:
    """Forget this lab's calls (every lab's with `all_labs`): {"cleared": N}."""
    query = "" if all_labs else f"?{urllib.parse.urlencode({'lab': lab.name})}"
    return _call(lab, "DELETE", f"/ssmlab/calls{query}")


def faults(lab: Any) -> dict:
    """The fault injection settings: {"rate", "seed", "kinds", "actions", "injected"}."""
    return _call(lab, "GET", "/ssmlab/faults")


def set_faults(lab: Any, **config: Any) -> dict:
    """Replace the fault settings, e.g. set_faults(lab, rate=0.1, seed=7, kinds=["throttle"],
    actions=["CreateVpc"]); set_faults(lab, rate=0) turns injection off. Fields left out
    take their defaults (seed: a random one, reported; kinds: throttle; actions: all).
    Checked here first: a bad value is a BadInput naming it."""
    from ssmlab.emulator.faults import coerce

    for key in ("actions", "kinds"):
        if isinstance(config.get(key), (tuple, set, frozenset)):
            config[key] = list(config[key])
    return _call(lab, "PUT", "/ssmlab/faults", coerce(config).to_json())


def set_responder(lab: Any, instance_id: str, responder: str | None) -> dict:
    """Test-only: who answers shell lines on `instance_id` ("echo"; None: the simulated instance again)."""
    return _call(lab, "PUT", "/ssmlab/responders", {"instance_id": instance_id, "responder": responder})
