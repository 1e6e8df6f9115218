"""The emulator's simulated clock: wall time sped up by a factor, and jumps on request.

The real agent's timings are minutes (a ping every 5 minutes, a credential refresher that
sleeps for about half an hour); the lab must show them in seconds. Simulated time starts
at the emulator's start (wall clock), runs `scale` times faster, and can be advanced by a
test or a notebook ("fast-forward 30 minutes") without waiting.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone

DEFAULT_TIME_SCALE = 10.0


class SimClock:
    def __init__(self, scale: float = DEFAULT_TIME_SCALE, *, wall=time.time, monotonic=time.monotonic) -> None:
        if not scale > 0:
            raise ValueError(f"time scale must be positive, got {scale!r}")
        self.scale = float(scale)
        self._monotonic = monotonic
        self._start_sim = wall()
        self._start_mono = monotonic()
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        """Simulated time, in epoch seconds."""
        with self._lock:
            return self._start_sim + (self._monotonic() - self._start_mono) * self.scale + self._offset

    def advance(self, seconds: float) -> float:
        """Jump ahead by `seconds` of simulated time (never back); returns the new time."""
        if seconds < 0:
            raise ValueError("the simulated clock only moves forward")
        with self._lock:
            self._offset += seconds
        return self.now()

    def wall_seconds_until(self, when: float) -> float:
        """Real seconds until the simulated time `when` (negative when it has passed)."""
        return (when - self.now()) / self.scale

    def to_json(self) -> dict:
        now = self.now()
        return {"now": iso(now), "epoch": now, "scale": self.scale}


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="seconds")
