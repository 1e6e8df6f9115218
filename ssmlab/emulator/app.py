"""ssmlab's WSGI application: its own routes under `/ssmlab/`, moto for everything else.

Wrapping moto (rather than running `moto_server`) gives the kit one place to add what
moto lacks — extra routes, and later intercepting specific AWS actions — inside the
emulator process, without patching moto in the learner's kernel.

moto is imported inside `make_app()`: it reads `MOTO_*` settings at import time, so the
caller (`server.serve`) sets them first.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from typing import Any, Callable, Iterable

PREFIX = "/ssmlab/"

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _json_response(start_response: Callable[..., Any], status: str, payload: dict[str, Any]) -> list[bytes]:
    body = json.dumps(payload).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


class SsmlabApp:
    """Route `/ssmlab/...` to ssmlab's handlers and every other request to moto."""

    def __init__(self, moto_app: WSGIApp, *, moto_version: str) -> None:
        self.moto_app = moto_app
        self.moto_version = moto_version
        self.started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self.routes: dict[tuple[str, str], Callable[[dict[str, Any], Callable[..., Any]], list[bytes]]] = {
            ("GET", "/ssmlab/health"): self.health,
        }

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if not path.startswith(PREFIX):
            return self.moto_app(environ, start_response)
        handler = self.routes.get((environ.get("REQUEST_METHOD", "GET"), path))
        if handler is None:
            return _json_response(start_response, "404 Not Found",
                                  {"ok": False, "error": f"no ssmlab route {environ.get('REQUEST_METHOD')} {path}"})
        return handler(environ, start_response)

    def health(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        """Liveness plus identity: the pid lets a client check it reached *its* emulator."""
        return _json_response(start_response, "200 OK", {
            "ok": True,
            "pid": os.getpid(),
            "moto_version": self.moto_version,
            "started_at": self.started_at,
        })


def make_app() -> SsmlabApp:
    """Build the emulator's WSGI app (imports moto: call after setting MOTO_* variables)."""
    import moto
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    return SsmlabApp(DomainDispatcherApplication(create_backend_app), moto_version=moto.__version__)
