"""One build or cleanup of a lab at a time on this machine.

Two terminals, two notebook tabs or a CI retry that build the same lab at once would both
look the lab up, both find nothing, and both create it: two VPCs, two instances, every
hourly charge twice. So `ssmlab build` (and the notebooks' `ensure`) and every cleanup hold
a file lock keyed by target, region and lab while they read and change the lab. The second
one waits, says for whom, and then finds the first one's resources by their tags. Locks are
`filelock` (fcntl on POSIX): a process that dies releases its lock, so no stale lock file
ever blocks a later run.

Across machines a lock cannot help; there creation is idempotent by itself (`idempotent`).
"""

from __future__ import annotations

import json
import os
import sys
import time
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Callable, Iterator

from ssmlab.errors import LabError

# How long a second build or cleanup waits for the first: a build takes seconds on the
# emulator and up to tens of minutes on AWS (endpoints, an instance, waiters).
WAIT_SECONDS = {"emulator": 600.0, "aws": 3600.0}


def lock_path(lab) -> Path:
    """`<state dir>/locks/<target>-<region>-<lab>.lock`: in the state directory, beside the emulator's state file,
    so each emulator (the learner's, a test's own) has locks of its own and AWS labs share one place per user."""
    from ssmlab.emulator.state import state_dir

    return state_dir() / "locks" / f"{lab.target}-{lab.region}-{lab.name}.lock"


@contextmanager
def lab_lock(lab, what: str, *, say: Callable[[str], None] | None = None,
             timeout: float | None = None) -> Iterator[None]:
    """Hold the lab's lock while `what` (e.g. "build", "cleanup") runs; wait for another holder, saying so once.

    Re-entrant within a thread (a build inside a notebook's ensure), so callers need not know
    whether an outer call already holds it.
    """
    from filelock import FileLock, Timeout

    path = lock_path(lab)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path), is_singleton=True)
    holder = path.with_suffix(".holder")
    say = say or (lambda line: print(line, file=sys.stderr, flush=True))
    limit = WAIT_SECONDS[lab.target] if timeout is None else timeout
    try:
        lock.acquire(timeout=0)
    except Timeout:
        say(f"waiting: {_holder_text(holder)} lab {lab.name} in {lab.region}; this {what} goes on when it ends")
        started = time.monotonic()
        try:
            lock.acquire(timeout=limit)
        except Timeout:
            raise LabError(
                f"{_holder_text(holder)} lab {lab.name} in {lab.region} for more than {limit:.0f} s; "
                f"let it finish (or stop it), then run this {what} again"
            ) from None
        say(f"lab {lab.name} is free again after {time.monotonic() - started:.1f} s; the {what} goes on")
    try:
        if lock.lock_counter == 1:  # the outermost holder says who it is
            holder.write_text(json.dumps({"pid": os.getpid(), "what": what, "since": f"{datetime.now():%H:%M:%S}"}))
        yield
    finally:
        lock.release()


def _holder_text(holder: Path) -> str:
    """'another build (pid 1234, since 10:41:02) holds' from the holder file, or a plain phrase."""
    try:
        found = json.loads(holder.read_text())
        return f"another {found['what']} (pid {found['pid']}, since {found['since']}) holds"
    except (OSError, ValueError, KeyError, TypeError):
        return "another build or cleanup holds"
