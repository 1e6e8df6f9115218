"""A bounded health probe: ask `GET /ssmlab/health` and never wait longer than told.

A notebook that hangs on a silent port teaches nothing, so every network wait on the
emulator goes through here with an explicit deadline. Proxies are bypassed: the
emulator is on loopback, and a workshop's HTTP(S)_PROXY must not swallow the request.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

HEALTH_PATH = "/ssmlab/health"


@dataclass(frozen=True)
class Probe:
    """The outcome of one probe: `info` when healthy, otherwise a short `reason`."""

    info: dict[str, Any] | None
    reason: str

    @property
    def ok(self) -> bool:
        return self.info is not None


def probe(url: str, *, timeout: float = 1.0) -> Probe:
    """One attempt; `timeout` bounds the connect and each read."""
    import http.client
    import socket
    import urllib.error
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url.rstrip("/") + HEALTH_PATH, timeout=timeout) as response:
            body = response.read(65536)
    except urllib.error.HTTPError as exc:
        return Probe(None, f"answers HTTP {exc.code} to {HEALTH_PATH} instead of ssmlab's health check")
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError, socket.timeout) as exc:
        reason = getattr(exc, "reason", exc)
        return Probe(None, f"does not answer ({reason})")
    try:
        info = json.loads(body)
    except ValueError:
        return Probe(None, f"answers, but not with ssmlab's health JSON on {HEALTH_PATH}")
    if not isinstance(info, dict) or info.get("ok") is not True:
        return Probe(None, f"answers, but not with ssmlab's health JSON on {HEALTH_PATH}")
    return Probe(info, "healthy")


def wait_healthy(url: str, *, budget: float, attempts: int | None = None,
                 per_try: float = 1.0, pause: float = 0.1) -> Probe:
    """Probe until healthy, the time budget is spent, or `attempts` are used up."""
    deadline = time.monotonic() + budget
    tries = 0
    while True:
        remaining = deadline - time.monotonic()
        result = probe(url, timeout=max(0.05, min(per_try, remaining)))
        tries += 1
        if result.ok:
            return result
        if (attempts is not None and tries >= attempts) or time.monotonic() + pause >= deadline:
            return result
        time.sleep(pause)
