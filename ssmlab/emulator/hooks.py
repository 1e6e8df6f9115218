"""Run ssmlab code right after moto has served an AWS action successfully.

For what moto does almost right: the action is moto's, and the hook adds the part it
misses (remembering a reboot, honouring a flag it ignores) on moto's own state.
"""

from __future__ import annotations

from typing import Any, Callable

from ssmlab.emulator.wsgi import REQUEST_KEY


def after(app: Any, service: str, action: str, hook: Callable[[Any], None]) -> None:
    """Call `hook(request)` after moto answers `service` `action` with a 2xx status."""
    inner = app.moto_app

    def wrapped(environ: dict, start_response: Callable) -> Any:
        request = environ.get(REQUEST_KEY)
        if request is None or (request.service, request.action) != (service, action):
            return inner(environ, start_response)
        status: dict[str, int] = {}

        def capture(line: str, headers: list, exc_info: Any = None) -> Any:
            status["code"] = int(line.split()[0])
            return start_response(line, headers, exc_info) if exc_info else start_response(line, headers)

        result = inner(environ, capture)
        if 200 <= status.get("code", 500) < 300:
            hook(request)
        return result

    app.moto_app = wrapped
