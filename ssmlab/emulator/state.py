"""Where the emulator's bookkeeping lives, and how to tell whether it is still true.

The emulator outlives the process that started it (a notebook kernel, a CLI call), so
every later caller finds it through a small JSON file in a per-user state directory.
That file can lie — the machine rebooted, the process was killed — so everything here
treats it as a claim to verify: the pid must be alive *and* be an ssmlab emulator.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ssmlab import settings

STATE_FILE = "emulator.json"
LOG_FILE = "emulator.log"
LOCK_FILE = "emulator.lock"


@dataclass(frozen=True)
class EmulatorStatus:
    """What a caller needs to know about the emulator: is it up, where, which process."""

    running: bool
    endpoint_url: str | None
    pid: int | None
    log_path: str | None

    def to_json(self) -> dict[str, Any]:
        """The `ssmlab emulator status --json` shape (a stable contract for scripts)."""
        return {
            "running": self.running,
            "endpoint_url": self.endpoint_url,
            "pid": self.pid,
            "log_path": self.log_path,
        }


def state_dir() -> Path:
    """`$SSMLAB_STATE_DIR`, else `$XDG_STATE_HOME/ssmlab`, else `~/.local/state/ssmlab` (settings.py).

    As the environment says now, so tests and notebooks can point it elsewhere.
    """
    return settings.current().state_dir


def state_path() -> Path:
    return state_dir() / STATE_FILE


def log_path() -> Path:
    return state_dir() / LOG_FILE


def lock_path() -> Path:
    return state_dir() / LOCK_FILE


def ensure_state_dir() -> Path:
    directory = state_dir()
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def read_state() -> dict[str, Any] | None:
    """The state file's content, or None when it is missing or unreadable.

    A half-written file cannot occur (writes are atomic), but a hand-edited or truncated
    one is treated as absent rather than as an error: it names no emulator we can use.
    """
    try:
        data = json.loads(state_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("pid"), int):
        return None
    return data


def write_state(data: dict[str, Any]) -> None:
    """Write the state file atomically (tmp file + os.replace): readers never see half."""
    directory = ensure_state_dir()
    fd, tmp = tempfile.mkstemp(prefix=".emulator.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2)
            handle.write("\n")
        os.replace(tmp, state_path())
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def remove_state(pid: int | None = None) -> None:
    """Remove the state file; with `pid`, only if it still names that process.

    The pid guard keeps a dying server from deleting the file a newer server just wrote.
    """
    if pid is not None:
        current = read_state()
        if current is None or current.get("pid") != pid:
            return
    try:
        state_path().unlink()
    except FileNotFoundError:
        pass


def pid_alive(pid: int) -> bool:
    """True when `pid` is a running process (a zombie waiting to be reaped is not)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return _proc_state(pid) not in ("Z", "X")


def is_emulator_process(pid: int) -> bool:
    """True when `pid` runs an ssmlab emulator (guards against a recycled pid).

    After a reboot the state file may name a pid that now belongs to anything; we must
    neither trust it nor signal it. Where the command line cannot be read, assume yes.
    """
    if not pid_alive(pid):
        return False
    cmdline = _cmdline(pid)
    if cmdline is None:
        return True
    return "ssmlab" in cmdline and "emulator" in cmdline


def _proc_state(pid: int) -> str | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # "pid (comm) S ..." — comm may contain spaces or parentheses, so split after the last ")".
    rest = raw.rpartition(")")[2].split()
    return rest[0] if rest else None


def _cmdline(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        pass
    if sys.platform == "linux":
        return None
    import subprocess  # macOS and other systems without /proc

    try:
        out = subprocess.run(
            ["ps", "-p", str(pid), "-o", "command="],
            capture_output=True, text=True, timeout=2, check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def log_tail(lines: int = 20) -> str:
    """The last lines of the emulator log, for error messages when it fails to start."""
    try:
        with open(log_path(), "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 16384))
            text = handle.read().decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
