"""The emulator's lifecycle seen from a client: start, stop, status, and where to connect.

The emulator runs as a detached child process so it survives the notebook kernel or CLI
call that started it and is shared by all of them. Callers find it through the state
file (see `state`), and every wait here is bounded: an emulator that does not answer
is reported as an error with its log, never as a hang.
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from .. import settings
from ..errors import BadInput, EmulatorUnreachable, LabError
from . import state
from .health import probe, wait_healthy
from .server import MOTO_ENV
from .state import EmulatorStatus

LOG_ROTATE_BYTES = 5 * 1024 * 1024
_POLL = 0.05


def status() -> EmulatorStatus:
    """Running means: the state file's pid is a live emulator AND it answers its health check.

    A live process that does not answer is reported with `running=False` but with its
    pid and URL, so the caller can say which process to stop.
    """
    data = state.read_state()
    if data is None or not _is_ours(data):
        return _not_running()
    url = data.get("endpoint_url")
    result = probe(str(url), timeout=1.0)
    healthy = result.ok and result.info.get("pid") == data["pid"]
    return EmulatorStatus(healthy, url, data["pid"], data.get("log_path"))


def start(*, port: int | None = None, time_scale: float | None = None, timeout: float = 20.0,
          faults: Any = None) -> EmulatorStatus:
    """Return the running emulator, starting one in the background if there is none.

    Reuses a healthy emulator (so notebooks can call this freely); removes a state file
    whose process is gone; serialises concurrent starts with a lock so two callers never
    spawn two servers. Raises LabError, with the end of the log, if the child dies or
    is not healthy within `timeout` seconds. `faults` (a faults.FaultConfig, or its JSON
    as a dict) is passed to a new emulator, or replaces the running one's fault settings.
    """
    if faults is not None:
        from .faults import coerce

        faults = coerce(faults)
    if port is not None and not 0 <= port <= 65535:
        raise BadInput(f"--port {port} is not a TCP port; give 1-65535, or omit it for a free port")
    if time_scale is not None and not time_scale > 0:
        raise BadInput(f"invalid time scale {time_scale!r}: expected a positive number (simulated seconds per wall second)")
    with _locked(timeout + 5.0):
        current = _verified(wait=3.0)
        if current.running:
            running_port = int(str(current.endpoint_url).rsplit(":", 1)[1])
            if port and port != running_port:
                raise BadInput(f"--port {port}: the emulator is already running at {current.endpoint_url} "
                               f"(pid {current.pid}); run `ssmlab emulator stop` first to change its port")
            running_scale = (state.read_state() or {}).get("time_scale")
            if time_scale is not None and running_scale is not None and float(running_scale) != float(time_scale):
                raise BadInput(f"--time-scale {time_scale:g}: the emulator is already running with time scale "
                               f"{float(running_scale):g}; run `ssmlab emulator stop` first to change it")
            if faults is not None:
                from .faults import apply

                apply(str(current.endpoint_url), faults)
            return current
        return _spawn(port or 0, time_scale, timeout, faults)


def stop(timeout: float = 10.0) -> EmulatorStatus:
    """Stop the emulator (SIGTERM, then SIGKILL after `timeout`); a no-op when none runs."""
    with _locked(timeout + 25.0):
        data = state.read_state()
        if data is None:
            return _not_running()
        pid = data["pid"]
        if _is_ours(data):
            _signal(pid, signal.SIGTERM)
            if not _wait_gone(pid, timeout):
                _signal(pid, signal.SIGKILL)
                if not _wait_gone(pid, 5.0):
                    raise LabError(f"the emulator (pid {pid}) survived SIGKILL; stop it by hand")
        state.remove_state(pid=pid)
        return _not_running()


def endpoint_url(*, autostart: bool = True) -> str:
    """The URL ssmlab's clients use for target `emulator`.

    `$SSMLAB_EMULATOR_URL` wins and is never started, only checked (about 2 s at most).
    Otherwise the state file's emulator is used, or one is started when `autostart`.
    Raises EmulatorUnreachable (a one-line message saying what to do) instead of hanging.
    """
    explicit = settings.current().emulator_url
    if explicit:
        url = explicit.rstrip("/")
        result = wait_healthy(url, budget=2.0, attempts=2, per_try=1.0)
        if not result.ok:
            raise EmulatorUnreachable(
                f"the emulator at {url} ({settings.EMULATOR_URL_VAR}) {result.reason}; "
                f"start it with `ssmlab emulator start` or unset {settings.EMULATOR_URL_VAR}")
        return url
    current = _verified(wait=3.0)
    if current.running:
        return str(current.endpoint_url)
    if not autostart:
        raise EmulatorUnreachable("the emulator is not running; start it with `ssmlab emulator start`")
    return str(start().endpoint_url)


def client_environ(*, autostart: bool = True) -> dict[str, str]:
    """Environment for a kernel or subprocess so plain boto3 and the AWS CLI use the emulator.

    The region is left out on purpose: it belongs to the lab, not to the emulator.
    """
    from ssmlab.lab import emulator_credentials

    url = endpoint_url(autostart=autostart)
    # Behind a corporate proxy, loopback traffic must not be sent to the proxy.
    no_proxy = [h for h in os.environ.get("NO_PROXY", os.environ.get("no_proxy", "")).split(",") if h]
    no_proxy += [h for h in ("127.0.0.1", "localhost") if h not in no_proxy]
    return {
        "AWS_ENDPOINT_URL": url,
        **{key.upper(): value for key, value in emulator_credentials().items()},
        settings.TARGET_VAR: "emulator",
        settings.EMULATOR_URL_VAR: url,
        "NO_PROXY": ",".join(no_proxy),
        "no_proxy": ",".join(no_proxy),
    }


def _not_running() -> EmulatorStatus:
    log = state.log_path()
    return EmulatorStatus(False, None, None, str(log) if log.exists() else None)


def _verified(*, wait: float) -> EmulatorStatus:
    """The state file's emulator if healthy; stale files are removed; a mute one is an error.

    `wait` is how long a live but silent process gets to answer before we give up on it.
    """
    data = state.read_state()
    if data is None:
        return _not_running()
    pid, url = data["pid"], str(data.get("endpoint_url"))
    if not _is_ours(data):
        state.remove_state(pid=pid)  # stale: the process is gone (or the pid was recycled)
        return _not_running()
    result = wait_healthy(url, budget=wait, per_try=1.0)
    if result.ok and result.info.get("pid") == pid:
        return EmulatorStatus(True, url, pid, data.get("log_path"))
    reason = result.reason if not result.ok else f"answers as another process (pid {result.info.get('pid')})"
    log = data.get("log_path") or "its terminal"
    raise EmulatorUnreachable(
        f"the emulator process {pid} is alive but {url} {reason}; see {log}, "
        "then run `ssmlab emulator stop` and `ssmlab emulator start`")


def _is_ours(data: dict) -> bool:
    """Is the state file's pid a live emulator (not a dead or recycled pid)?

    Its command line says so for `ssmlab emulator serve` and the child `start()` spawns;
    a `serve()` called from some other script proves it by answering with its pid.
    """
    pid = data["pid"]
    if state.is_emulator_process(pid):
        return True
    if not state.pid_alive(pid):
        return False
    answer = probe(str(data.get("endpoint_url")), timeout=1.0)
    return answer.ok and answer.info.get("pid") == pid


def _spawn(port: int, time_scale: float | None, timeout: float, faults: Any = None) -> EmulatorStatus:
    """Start `python -m ssmlab.emulator serve` detached and wait until it is healthy."""
    state.remove_state()
    log = state.log_path()
    _rotate(log)
    package_root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, **MOTO_ENV, "PYTHONUNBUFFERED": "1", settings.STATE_DIR_VAR: str(state.state_dir())}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    env.pop(settings.EMULATOR_URL_VAR, None)
    cmd = [sys.executable, "-m", "ssmlab.emulator", "serve", "--port", str(port), "--log-file", str(log)]
    if time_scale is not None:
        cmd += ["--time-scale", f"{time_scale:g}"]
    if faults is not None:
        cmd += faults.to_argv()
    began = time.monotonic()
    with open(log, "ab") as out:
        out.write(f"--- {datetime.now(timezone.utc).isoformat(timespec='seconds')} "
                  f"start requested by pid {os.getpid()}: {' '.join(cmd)}\n".encode())
        out.flush()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                env=env, cwd=str(state.state_dir()), start_new_session=True)
    deadline = began + timeout
    while True:
        code = proc.poll()
        if code is not None:
            tail = state.log_tail()
            if code == 2 and tail:  # the child refused its arguments (e.g. port in use)
                raise BadInput(tail.splitlines()[-1].removeprefix("ssmlab emulator: "))
            raise LabError(f"the emulator exited with code {code} while starting; end of {log}:\n{tail}")
        data = state.read_state()
        if data is not None and data["pid"] == proc.pid:
            result = probe(str(data.get("endpoint_url")), timeout=1.0)
            if result.ok and result.info.get("pid") == proc.pid:
                # Reap the child whenever it exits, so it never lingers as a zombie here.
                threading.Thread(target=proc.wait, name="emulator-reaper", daemon=True).start()
                return EmulatorStatus(True, data["endpoint_url"], proc.pid, data.get("log_path"))
        if time.monotonic() > deadline:
            proc.terminate()
            try:
                proc.wait(3.0)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            state.remove_state(pid=proc.pid)
            raise LabError(f"the emulator did not become healthy within {timeout:g} s; "
                           f"end of {log}:\n{state.log_tail()}")
        time.sleep(_POLL)


@contextmanager
def _locked(timeout: float) -> Iterator[None]:
    """Hold the state directory's lock (fcntl.flock), waiting at most `timeout` seconds."""
    state.ensure_state_dir()
    path = state.lock_path()
    with open(path, "a+") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise LabError(f"another ssmlab process has held {path} for over {timeout:g} s; "
                                   "try again when it has finished") from None
                time.sleep(_POLL)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while state.pid_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(_POLL)
    return True


def _rotate(log: Path) -> None:
    """Keep one previous log: the file is appended to across restarts and must not grow forever."""
    try:
        if log.stat().st_size > LOG_ROTATE_BYTES:
            os.replace(log, log.with_name(log.name + ".1"))
    except FileNotFoundError:
        pass
