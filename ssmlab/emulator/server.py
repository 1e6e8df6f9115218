"""Run the emulator in the foreground: bind, announce, serve, and clean up on a signal.

This is what the detached child started by `start()` runs, and what
`ssmlab emulator serve` runs in a terminal. The state file is written only once the
socket is listening, with the real port, so a reader who finds it can connect at once.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
from datetime import datetime, timezone
from typing import Any

from .. import settings
from ..errors import BadInput
from . import state
from .health import probe

log = logging.getLogger("ssmlab.emulator")

# moto reads these when it is imported / builds a backend, so they are set before the
# first moto import. See FACTS.md, "moto": the SSM managed policy and AMI validation.
MOTO_ENV = {
    "MOTO_IAM_LOAD_MANAGED_POLICIES": "true",
    "MOTO_ENABLE_AMI_VALIDATION": "true",
}

DEFAULT_HOST = "127.0.0.1"
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def url_for(host: str, port: int) -> str:
    """The URL a local client uses; a wildcard bind is reached through loopback."""
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def serve(host: str = DEFAULT_HOST, port: int = 0, *, log_path: str | None = None,
          time_scale: float | None = None, faults: Any = None, roster: Any = None,
          data_channel_port: int = 0) -> None:
    """Serve until SIGTERM / SIGINT / SIGHUP, then shut down and remove the state file.

    `port=0` lets the OS pick a free port (never moto's 5000 by default). `log_path` is
    only recorded in the state file: it says where this process's output goes.
    `time_scale` is how many simulated seconds the SSM Agents live per wall second
    (default $SSMLAB_TIME_SCALE, else clock.DEFAULT_TIME_SCALE). `faults`: a
    faults.FaultConfig to inject from the first request (default $SSMLAB_FAULTS, else off).
    `roster`: a classkeys.Roster to run a class with (default $SSMLAB_CLASS_SECRET, else no class: any key works).
    `data_channel_port`: where sessions' data channels are served (default a free port; fixed for a firewall or a
    Kubernetes Service to let it through).
    """
    from .. import classkeys

    roster = roster or classkeys.from_environ()
    _refuse_if_running()
    os.environ.update(MOTO_ENV)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if "moto" in sys.modules:
        log.warning("moto was imported before serve(): MOTO_ENABLE_AMI_VALIDATION may not apply")

    listener = _bind(host, port)
    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from werkzeug.serving import make_server

    from .app import make_app

    app = make_app()
    from .clock import DEFAULT_TIME_SCALE, SimClock
    from .dashboard import install as install_dashboard
    from .extensions import install_all

    given = settings.current().time_scale
    try:
        scale = float(time_scale or given or DEFAULT_TIME_SCALE)
    except ValueError:
        raise BadInput(f"invalid {settings.TIME_SCALE_VAR} {given!r}: expected a positive number") from None
    if not scale > 0:
        raise BadInput(f"invalid time scale {scale!r}: expected a positive number")
    clock = SimClock(scale)
    fleet = install_all(app, clock)
    if roster is not None:  # the emulator's own clients (agents, dashboard) sign as the facilitator
        os.environ[settings.ACCESS_KEY_VAR], os.environ[settings.SECRET_KEY_VAR] = (
            roster.facilitator.access_key_id, roster.facilitator.secret_access_key)
    install_dashboard(app, roster)  # the facilitator's page, /ssmlab/class
    from .datachannel import DataChannelServer

    try:  # StartSession's StreamUrl; on the emulator's own address, so a class's participants reach it too
        channels = DataChannelServer(app.session_manager, app.responders, host, data_channel_port).start()
    except OSError as exc:
        raise BadInput(f"--data-channel-port {data_channel_port} cannot be used ({exc.strerror}); choose another "
                       "port, or omit it for a free one") from None
    app.session_manager.stream_base = channels.base_url
    app.session_manager.reachable = channels.reachable
    from . import faults as fault_injection

    try:  # last, so a faulted request reaches no extension
        fault_injection.install(app, faults if faults is not None else fault_injection.from_environ())
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    if roster is not None:  # outermost: a request signed by nobody in the class reaches nothing
        from . import classmode

        classmode.install(app, roster)
    server = make_server(host, 0, app, threaded=True, request_handler=_quiet_handler(MotoRequestHandler, clock),
                         fd=listener.fileno())
    listener.close()  # werkzeug works on its own duplicate of the descriptor
    real_port = server.socket.getsockname()[1]
    os.environ["MOTO_PORT"] = str(real_port)  # moto builds some URLs (SQS, Lambda) from it
    url = url_for(host, real_port)
    os.environ[settings.EMULATOR_URL_VAR] = url  # the simulated agents read this emulator back through it

    stop = threading.Event()
    for signum in STOP_SIGNALS:
        signal.signal(signum, lambda *_: stop.set())
    # Signals go to any thread that does not block them; block them in the HTTP threads
    # (they inherit this mask) so the main thread's wait below is interrupted at once.
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                                  name="emulator-http", daemon=True)
        thread.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
    pid = os.getpid()
    state.write_state({
        "pid": pid,
        "host": host,
        "port": real_port,
        "endpoint_url": url,
        "log_path": log_path,
        "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "moto_version": app.moto_version,
        "time_scale": scale,
        "data_channel_port": channels.port,
        "class": roster is not None,
    })
    fleet.start()
    threading.Thread(target=_warm_up, name="emulator-warm-up", daemon=True).start()
    log.info("ssmlab emulator serving at %s (pid %d, moto %s)", url, pid, app.moto_version)
    try:
        while not stop.wait(1.0) and thread.is_alive():
            pass
    finally:
        log.info("ssmlab emulator stopping (pid %d)", pid)
        fleet.shutdown()
        channels.stop()
        server.shutdown()
        server.server_close()
        state.remove_state(pid=pid)


def _quiet_handler(base: type, clock: Any) -> type:
    """moto's request handler without werkzeug's line per request in the emulator's log (a logging
    call and a formatted line per request; the call log, GET /ssmlab/calls, records every AWS call),
    and with every answer's Date header on the simulated clock (simtime.py says why)."""
    from .simtime import http_date

    return type("QuietMotoRequestHandler", (base,), {
        "log_request": lambda self, code="-", size="-": None,
        "date_time_string": lambda self, timestamp=None: http_date(clock if timestamp is None else timestamp),
    })


def _bind(host: str, port: int) -> socket.socket:
    """Bind and listen ourselves: a clear BadInput instead of werkzeug's sys.exit(1)."""
    if not 0 <= port <= 65535:
        raise BadInput(f"--port {port} is not a TCP port; give 1-65535, or omit it for a free port")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise BadInput(f"--host {host!r} cannot be used ({exc}); give an address like 127.0.0.1") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise BadInput(f"cannot listen on {host}:{port} ({exc.strerror}); "
                       "choose another --port, or omit it for a free port") from None
    return sock


def _refuse_if_running() -> None:
    """One emulator per state directory: a second would overwrite the first's state file."""
    current = state.read_state()
    if current is None or current["pid"] == os.getpid():
        return
    if not state.pid_alive(current["pid"]):
        return
    answer = probe(str(current.get("endpoint_url")), timeout=1.0)
    if answer.ok and answer.info.get("pid") == current["pid"]:
        raise BadInput(f"an emulator is already running at {current.get('endpoint_url')} "
                       f"(pid {current['pid']}); stop it with `ssmlab emulator stop` first")


def _warm_up() -> None:
    """Have moto load its EC2 and IAM models now, while the client is still starting, instead
    of during the learner's first call (about 1 s on 2 cores, measured); and make the SSM client
    a simulated session reads the preferences with, which otherwise cost the first StartSession
    about 0.2 s (measured). Marked internal: the call log and fault injection leave these requests out."""
    from ssmlab.emulator.ssm_extension import internal_client
    from ssmlab.lab import default_region

    try:
        for service, call in (("ec2", "describe_vpcs"), ("ec2", "describe_subnets"), ("iam", "list_roles"),
                              ("ssm", "describe_instance_information")):
            getattr(internal_client(service, default_region()), call)()
    except Exception:  # only ever an optimisation
        log.debug("warm-up failed", exc_info=True)
