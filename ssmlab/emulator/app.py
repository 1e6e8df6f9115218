"""ssmlab's WSGI application: its own routes under `/ssmlab/`, moto for everything else.

Wrapping moto (rather than running `moto_server`) gives the kit one place to add what
moto lacks inside the emulator process, without patching moto in the learner's kernel:
extra routes under `/ssmlab/`, AWS actions answered by ssmlab's own handlers
(`app.router`), and a readable AWS error for every action moto does not implement.

moto is imported inside `make_app()`: it reads `MOTO_*` settings at import time, so the
caller (`server.serve`) sets them first. `protocol` (botocore) is imported lazily too, so
`import ssmlab.emulator` stays light.
"""

from __future__ import annotations

import logging
import os
import threading
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable, Iterable

from .calllog import CallLog
from .wsgi import (
    LAB_ENVIRON,
    REQUEST_KEY,
    Response,
    Resumed,
    Route,
    WSGIApp,
    close,
    send,
    send_json,
)

if TYPE_CHECKING:
    from .protocol import AwsRequest

PREFIX = "/ssmlab/"

# Not 500: botocore retries 500, 502, 503, 504 (standard and adaptive modes:
# retries/standard.py _TRANSIENT_STATUS_CODES; legacy mode: data/_retry.json, which adds
# 509 and 429), so an unimplemented action would cost every retry and its back-off. 501
# is in none of those lists and "NotImplemented" is no throttling or transient error code,
# so the client fails on the first answer; it is also what S3 itself sends with that code.
NOT_IMPLEMENTED_STATUS = 501

Extension = Callable[["SsmlabApp"], None]

log = logging.getLogger("ssmlab.emulator")


READ_ACTIONS = ("Describe", "Get", "List", "Simulate", "Lookup", "Search", "Head")


def is_read(request: AwsRequest | None) -> bool:
    """A request that only reads (by its action's name); anything unparsed counts as a change."""
    return bool(request is not None and request.action and request.action.startswith(READ_ACTIONS))


def _is_html(headers: list[tuple[str, str]]) -> bool:
    return any(name.lower() == "content-type" and "html" in value.lower() for name, value in headers)


class SsmlabApp:
    """Route `/ssmlab/...` to ssmlab's handlers, AWS actions registered on `router` to
    theirs, and every other request to moto; log every AWS call (`call_log`)."""

    def __init__(self, moto_app: WSGIApp, *, moto_version: str,
                 extensions: Iterable[Extension] = ()) -> None:
        from .protocol import ActionRouter

        self.moto_app = moto_app
        # Every AWS request, logged, then served by aws_app. Extensions wrap aws_app (as
        # they wrap moto_app) to answer before ssmlab's handlers and moto: faults.install.
        self.call_log = CallLog()
        self.aws_app: WSGIApp = self.handle_aws
        self.moto_version = moto_version
        self.started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self.routes: dict[tuple[str, str], Route] = {
            ("GET", "/ssmlab/health"): self.health,
            **self.call_log.routes(),
        }
        self.router: ActionRouter = ActionRouter()
        # Counts the requests that may change state, so that state read back between two
        # changes can be reused (the simulated agents' snapshots, ssm_extension): in all, per
        # lab (the X-Ssmlab-Lab header of ssmlab's clients) and for requests of no known lab.
        self.generation = 0
        self._lab_generations: dict[str, int] = {}
        self._unscoped_generation = 0
        self._generation_lock = threading.Lock()
        # Called after every request that may have changed state (the fleet wakes up).
        self.on_change: list[Callable[[], None]] = []
        # Whether a request may change state that is read back: it moves the generations and calls
        # on_change. Any request but a read, until the extension that reads state back narrows it to
        # what it reads (ssm_extension).
        self.may_change: Callable[[AwsRequest | None], bool] = lambda request: not is_read(request)
        for extension in extensions:
            extension(self)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        # ssmlab's routes: everything under /ssmlab/, and a few exact paths elsewhere (the dashboard under a
        # JupyterHub service prefix, which the hub's proxy keeps); anything else is an AWS request.
        if not path.startswith(PREFIX) and (environ.get("REQUEST_METHOD", "GET"), path) not in self.routes:
            request = self.parse(environ)
            if not self.may_change(request):
                return self.call_log.record(environ, start_response, self.aws_app)
            # A change may be under way: state read before it ends is stale (bumped on both sides).
            lab = environ.get(LAB_ENVIRON)
            self._changed(lab)
            try:
                return self.call_log.record(environ, start_response, self.aws_app)
            finally:
                self._changed(lab)
                for listener in self.on_change:
                    listener()
        handler = self.routes.get((environ.get("REQUEST_METHOD", "GET"), path))
        if handler is None:
            return send_json(start_response, {"ok": False, "error": f"no ssmlab route {environ.get('REQUEST_METHOD')} {path}"},
                             "404 Not Found")
        return handler(environ, start_response)

    def _changed(self, lab: str | None) -> None:
        with self._generation_lock:
            self.generation += 1
            if lab:
                self._lab_generations[lab] = self._lab_generations.get(lab, 0) + 1
            else:
                self._unscoped_generation += 1

    def generation_of(self, lab: str | None) -> tuple[int, ...]:
        """What must stay equal for state read back for `lab` to still hold.

        The simulation's own choice: a request from ssmlab's clients for lab L (its
        X-Ssmlab-Lab header) is taken to change only L's resources, so it leaves the read-backs
        of other labs valid; a request of no known lab (plain boto3, the AWS CLI) may change
        anything, and state of no known lab is invalidated by every change."""
        with self._generation_lock:
            if lab is None:
                return (self.generation,)
            return (self._unscoped_generation, self._lab_generations.get(lab, 0))

    def health(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        """Liveness plus identity: the pid lets a client check it reached *its* emulator."""
        return send_json(start_response, {
            "ok": True,
            "pid": os.getpid(),
            "moto_version": self.moto_version,
            "started_at": self.started_at,
        })

    def parse(self, environ: dict[str, Any]) -> AwsRequest | None:
        """Parse the AWS request once, into environ[REQUEST_KEY] for every layer (None: unsigned)."""
        from .protocol import parse_request

        try:
            request = parse_request(environ)
        except Exception:  # a request we cannot describe is still moto's to answer
            log.exception("could not parse %s %s", environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"))
            request = None
        environ[REQUEST_KEY] = request
        return request

    def handle_aws(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        """An AWS API call: ssmlab's handler if one is registered, else moto."""
        from .protocol import AwsError
        from .rendering import error_response

        request = environ[REQUEST_KEY] if REQUEST_KEY in environ else self.parse(environ)
        handler = self.router.handler_for(request) if request is not None else None
        if handler is None:
            return self.call_moto(environ, start_response, request)
        try:
            response = handler(request)
        except AwsError as exc:
            response = error_response(request, exc.status, exc.code, exc.message)
        except Exception as exc:
            log.exception("ssmlab handler for %s %s failed", request.service, request.action)
            response = self._internal_failure(request, "ssmlab's handler", exc)
        return send(start_response, response)

    def call_moto(self, environ: dict[str, Any], start_response: Callable[..., Any],
                  request: AwsRequest | None) -> Iterable[bytes]:
        """Pass the request to moto, turning its failures into AWS error documents.

        moto signals an unimplemented action by raising NotImplementedError (its Flask
        app runs in debug mode, so exceptions propagate here instead of becoming a
        response); werkzeug would answer that with an HTML 500 page that botocore retries
        and cannot parse. Only a 500 HTML answer is buffered: every other response,
        large S3 bodies included, streams through untouched. Unsigned requests (request
        is None) keep moto's behaviour: there is no protocol to answer in.
        """
        if request is None:
            return self.moto_app(environ, start_response)
        started: list[bool] = []
        replaced: list[str] = []

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], Any]:
            started.append(True)
            if status.startswith("500") and _is_html(headers):
                replaced.append(status)
                return lambda data: None  # the page is replaced, its writes dropped
            return start_response(status, headers, exc_info)

        try:
            result = self.moto_app(environ, capture)
            if not started:  # WSGI allows start_response on the first iteration: pull it
                result = Resumed(result)
        except NotImplementedError as exc:
            return send(start_response, self._not_implemented(request, exc))
        except Exception as exc:
            log.exception("moto failed on %s %s", request.service, request.action)
            return send(start_response, self._internal_failure(request, "moto", exc))
        if not replaced:
            return result
        close(result)
        log.error("moto answered %s %s with an HTML %s page", request.service, request.action, replaced[0])
        return send(start_response, self._internal_failure(request, "moto", None))

    def _not_implemented(self, request: AwsRequest, exc: BaseException) -> Response:
        from .rendering import error_response
        from .service_models import service_label

        action = request.action or _action_from_moto_message(str(exc))
        log.info("not emulated: %s %s (%s)", service_label(request), action, exc)
        return error_response(
            request, NOT_IMPLEMENTED_STATUS, "NotImplemented",
            f"ssmlab emulator: {service_label(request)} {action} is not emulated "
            f"(moto {self.moto_version} does not implement it); "
            "run this step against real AWS with --target aws")

    def _internal_failure(self, request: AwsRequest, who: str, exc: BaseException | None) -> Response:
        """A 500 InternalFailure, as AWS answers its own crashes: botocore retries it."""
        from .rendering import error_response
        from .service_models import service_label

        what = f" ({type(exc).__name__}: {exc})" if exc is not None else ""
        return error_response(
            request, 500, "InternalFailure",
            f"ssmlab emulator: {who} failed on {service_label(request)} {request.action or request.path}"
            f"{what}; the traceback is in the emulator log (see `ssmlab emulator status`)")


def _action_from_moto_message(message: str) -> str:
    """'The describe_foo action has not been implemented' -> 'DescribeFoo' (best effort)."""
    words = message.split()
    if len(words) > 1 and words[0] == "The" and "_" in words[1]:
        return "".join(part.capitalize() for part in words[1].split("_"))
    return "this action"


def make_app(extensions: Iterable[Extension] = ()) -> SsmlabApp:
    """Build the emulator's WSGI app (imports moto: call after setting MOTO_* variables).

    Each extension is called with the app to register what it adds:
    `app.router.register("ssm", "DescribeInstanceInformation", handler)` for AWS actions,
    `app.routes[("GET", "/ssmlab/...")] = wsgi_handler` for ssmlab's own routes.
    """
    import moto
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        create_backend_app,
    )

    return SsmlabApp(DomainDispatcherApplication(create_backend_app), moto_version=moto.__version__,
                     extensions=extensions)
