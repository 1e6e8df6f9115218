"""The facilitator's dashboard, served by the emulator: every lab of the class on one page that keeps itself current.

Routes: `GET /ssmlab/class` (the page, `ssmlab/data/dashboard.html`) and `GET /ssmlab/class/status` (its JSON:
`classroom.to_json`, the same document as `ssmlab class status --json`; `?region=R` for another region). As a
JupyterHub service the emulator is reached under `$JUPYTERHUB_SERVICE_PREFIX` (the hub's proxy keeps the prefix),
so the same routes are answered there too, with the hub's OAuth callback and the bare prefix (the hub's
Services menu links to it). Who may see them: `dashboard_access`.

The status is read where the labs are, in the emulator, by the same code as `ssmlab class status`
(`classreport.read`, over HTTP to this same server, which serves in threads); one read serves every open
dashboard: a read is reused for at least MIN_AGE seconds (twice as long as it took, when that is longer, so a
large class's reads never take more than a third of the emulator's time), and for up to MAX_AGE seconds while no
request has changed anything. The reads are marked internal, so they are nobody's calls in the call log (which
would otherwise fill with them in a class hour and drop the participants' own calls) and no fault is injected
into them. Nothing is read while no dashboard is open.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import re
import threading
import time
import urllib.parse
from dataclasses import dataclass
from importlib import resources
from typing import Any, Callable

from ssmlab import settings
from ssmlab.errors import BadInput
from ssmlab.lab import Lab, validate_region

from .dashboard_access import NO_STORE, Access
from .hub_oauth import HubOAuth
from .wsgi import mark_internal, send, send_json

log = logging.getLogger("ssmlab.emulator")

MIN_AGE = 2.0
MAX_AGE = 15.0  # the simulated agents change ping status without any request: seen within this many seconds


def install(app: Any, roster: Any = None, environ: dict[str, str] | None = None) -> None:
    """Register the dashboard's routes on `app`. `roster`: the class (a `classkeys.Roster`), or None when the
    emulator runs no class; `environ`: where JupyterHub's service variables are read (default: os.environ)."""
    hub = HubOAuth.from_environ(os.environ if environ is None else environ)
    key = hmac.new(roster.secret.encode(), b"dashboard-session", hashlib.sha256).digest() if roster else None
    access = Access(roster.dashboard_token if roster else None, hub, key)
    board = Dashboard(access, ClassStatus(reader(app), lambda: app.generation), getattr(roster, "region", None))
    for base in {"/ssmlab/", *([hub.prefix] if hub else [])}:
        app.routes[("GET", base + "class")] = board.page
        app.routes[("GET", base + "class/status")] = board.status
    if hub:
        app.routes[("GET", hub.callback_path)] = access.callback
        app.routes[("GET", hub.prefix)] = lambda environ, start: send(
            start, ("302 Found", [("Location", hub.prefix + "class"), *NO_STORE], b""))


class _Facilitator(Lab):
    """The dashboard's reader: its requests are the emulator reading itself (marked internal)."""

    def client(self, service: str, region: str | None = None, *, retries: bool = True) -> Any:
        made = super().client(service, region, retries=retries)
        made.meta.events.register("before-sign", mark_internal, unique_id="ssmlab-internal")
        return made


def reader(app: Any) -> Callable[[str], dict[str, Any]]:
    """Every lab of a region, as `ssmlab class status --json` shows it; the call log is read in this process."""

    def read(region: str) -> dict[str, Any]:
        from ssmlab import classreport, classroom

        rows, now = classreport.read(_Facilitator("class", region, "emulator"), calls=app.call_log.calls)
        return classroom.to_json(rows, region, now)

    return read


class ReadFailed(Exception):
    """The last read of the class failed; retried once it is MIN_AGE seconds old."""


@dataclass(frozen=True)
class _Read:
    ended: float  # time.monotonic() when the read ended
    took: float
    generation: int  # the app's count of changing requests when the read began
    payload: dict[str, Any] | None
    error: str | None


class ClassStatus:
    """One read of a region's class at a time, reused by every request while it is fresh enough."""

    def __init__(self, read: Callable[[str], dict[str, Any]], generation: Callable[[], int],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._read, self._generation, self._clock = read, generation, clock
        self._kept: dict[str, _Read] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, region: str) -> tuple[dict[str, Any], float]:
        """The class's JSON and its age in seconds; ReadFailed with the reason when the last read failed."""
        kept = self._kept.get(region)
        if kept is None or not self._fresh(kept):
            kept = self._refresh(region, kept)
        if kept.payload is None:
            raise ReadFailed(kept.error)
        return kept.payload, max(0.0, self._clock() - kept.ended)

    def _refresh(self, region: str, kept: _Read | None) -> _Read:
        with self._guard:
            lock = self._locks.setdefault(region, threading.Lock())
        if not lock.acquire(blocking=kept is None):  # another request is reading: show the last read meanwhile
            assert kept is not None
            return kept
        try:
            latest = self._kept.get(region)
            if latest is None or not self._fresh(latest):
                latest = self._kept[region] = self._read_now(region)
            return latest
        finally:
            lock.release()

    def _fresh(self, kept: _Read) -> bool:
        age = self._clock() - kept.ended
        return age < max(MIN_AGE, 2 * kept.took) or (age < MAX_AGE and kept.generation == self._generation())

    def _read_now(self, region: str) -> _Read:
        began, generation = self._clock(), self._generation()
        try:
            payload, error = self._read(region), None
        except Exception as exc:  # the page shows why, keeps the last table, and asks again
            log.warning("the class dashboard could not read %s: %s", region, exc, exc_info=True)
            payload, error = None, f"could not read the labs in {region}: {exc}"
        ended = self._clock()
        return _Read(ended, ended - began, generation, payload, error)


class Dashboard:
    """The page and its JSON, for whoever `access` lets in."""

    def __init__(self, access: Access, status: ClassStatus, region: str | None) -> None:
        self.access, self.class_status, self.region = access, status, region
        self._page, self._policy = _page()

    def page(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        token = _query(environ).get("token")
        if token is not None:
            return self.access.sign_in_with_token(environ, start_response, token)
        if self.access.who(environ) is None:
            return self.access.refuse(environ, start_response, page=True)
        return send(start_response, ("200 OK", [("Content-Type", "text/html; charset=utf-8"), *NO_STORE,
                                                ("Content-Security-Policy", self._policy)], self._page))

    def status(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        if self.access.who(environ) is None:
            return self.access.refuse(environ, start_response, page=False)
        try:
            region = self._region(_query(environ).get("region"))
            payload, age = self.class_status.get(region)
        except BadInput as bad:
            return send_json(start_response, {"ok": False, "error": str(bad)}, "400 Bad Request")
        except ReadFailed as failed:
            return send_json(start_response, {"ok": False, "error": str(failed)}, "503 Service Unavailable")
        # Age (RFC 9111): how old the read is, so the page says "updated N s ago" without trusting either clock.
        return send(start_response, ("200 OK", [("Content-Type", "application/json"), *NO_STORE,
                                                ("Age", str(int(age)))], json.dumps(payload).encode()))

    def _region(self, asked: str | None) -> str:
        return validate_region(asked) if asked else self.region or settings.current().region


def _page() -> tuple[bytes, str]:
    """The page, and a Content-Security-Policy that lets only its own inline script run and fetch this origin."""
    text = resources.files("ssmlab").joinpath("data", "dashboard.html").read_text(encoding="utf-8")
    scripts = re.findall(r"<script>(.*?)</script>", text, flags=re.S)
    hashes = " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" for s in scripts)
    policy = (f"default-src 'none'; script-src {hashes}; style-src 'unsafe-inline'; connect-src 'self'; "
              "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
    return text.encode(), policy


def _query(environ: dict[str, Any]) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
