"""Each cell's time in `ssmlab run`, and which cell ran out of it — through nbclient's own hooks.

nbclient asks `timeout_func(cell)` for each cell's timeout. When a cell runs over, it interrupts
the kernel (`interrupt_on_timeout`) and, instead of waiting for the kernel's reply, hands
`error_on_timeout` back as the cell's execute reply, which reaches the `on_cell_error` hook.
What the kernel makes of the interrupt — a KeyboardInterrupt, or anything the interrupted code
raised instead (a diagram whose `dot` got the same signal) — is only the cell's output; so the
timeout is recognised by that reply, never guessed from the text papermill reports.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

TIMEOUT_ENAME = "SsmlabCellTimeout"  # the error name of nbclient's stand-in reply for an interrupted cell


@dataclass(frozen=True)
class Timeout:
    cell_index: int  # in the notebook as executed (papermill's injected parameters cell included)
    source: str
    reason: str  # "the cell ran longer than --cell-timeout 1 s"


class CellClock:
    """A notebook's time: `per_cell` seconds for each cell, `per_notebook` for them all (the cell's
    timeout is never longer than what is left of the notebook's). `cell_limit` and `notebook_limit`
    name the two in the reason, e.g. "--cell-timeout 1 s"."""

    def __init__(self, per_cell: float, per_notebook: float, cell_limit: str, notebook_limit: str):
        self.per_cell = per_cell
        self.deadline = time.monotonic() + per_notebook
        self.limits = (f"the cell ran longer than {cell_limit}", f"the notebook ran longer than {notebook_limit}")
        self._limit = self.limits[0]
        self.timed_out: Timeout | None = None

    def timeout(self, cell: Any) -> float:
        """nbclient's `timeout_func`: called as each cell starts, so it also notes which limit applies."""
        left = self.deadline - time.monotonic()
        self._limit = self.limits[left < self.per_cell]
        return max(min(self.per_cell, left), 0.001)  # 0 or less would mean "no timeout" to nbclient

    def on_cell_error(self, cell: Any, cell_index: int, execute_reply: dict, **_: Any) -> None:
        """nbclient's `on_cell_error` hook: the stand-in reply is how a cell that ran out of time shows."""
        if execute_reply.get("content", {}).get("ename") == TIMEOUT_ENAME:
            self.timed_out = Timeout(cell_index, cell.get("source", ""), self._limit)

    def client_options(self) -> dict[str, Any]:
        """The nbclient options (passed through papermill) that put this clock in charge."""
        return {
            "timeout_func": self.timeout,
            "interrupt_on_timeout": True,
            "error_on_timeout": {"ename": TIMEOUT_ENAME, "evalue": "the cell ran out of time", "traceback": []},
            "on_cell_error": self.on_cell_error,
        }
