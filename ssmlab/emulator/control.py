"""The client side of the emulator's own routes (/ssmlab/...): the agents' log and the clock.

Used by the library (progress while waiting), the tests and the notebooks (fast-forward
through the agent's half-hour credential sleep). Only meaningful on target emulator.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from typing import Any

from ssmlab.errors import LabError

TIMEOUT = 30.0


def _call(lab: Any, method: str, path: str, body: dict | None = None) -> dict:
    if not lab.is_emulator:
        raise LabError(f"{path} exists only on the embedded emulator; this lab's target is {lab.target}")
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        lab.endpoint_url.rstrip("/") + path, data=data, method=method, headers={"Content-Type": "application/json"}
    )
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
