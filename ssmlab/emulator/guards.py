"""Refuse an AWS action before moto acts on it, with the error AWS would send.

For what moto accepts and AWS refuses (private DNS without the VPC's DNS attributes,
deleting a subnet an instance still sits in, ...): the check reads moto's state, and
raises `AwsError` to answer instead of moto; otherwise moto serves the request.

Check-then-act must not interleave with another guarded request (two endpoints asking
for the same private DNS name at once would both pass), so every guarded action runs,
check and moto's work together, under one lock. They are all rare control-plane
mutations; reads and everything unguarded run in parallel as before.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable

from ssmlab.emulator.wsgi import REQUEST_KEY, drain, send

log = logging.getLogger("ssmlab.emulator")

_LOCK = threading.RLock()


def before(app: Any, service: str, action: str, check: Callable[[Any], None]) -> None:
    """Call `check(request)` before moto serves `service` `action`; an `AwsError` it
    raises becomes the answer (rendered in the request's protocol), and moto never sees
    the request."""
    from ssmlab.emulator.protocol import AwsError
    from ssmlab.emulator.rendering import error_response

    inner = app.moto_app

    def wrapped(environ: dict, start_response: Callable) -> Any:
        request = environ.get(REQUEST_KEY)
        if request is None or (request.service, request.action) != (service, action):
            return inner(environ, start_response)
        with _LOCK:
            try:
                check(request)
            except AwsError as refused:
                log.info("refused %s %s: %s %s", service, action, refused.code, refused.message)
                return send(start_response, error_response(request, refused.status, refused.code, refused.message))
            # Drain moto's answer inside the lock: its work is done by the time it is sent.
            return [drain(inner(environ, start_response))]

    app.moto_app = wrapped
