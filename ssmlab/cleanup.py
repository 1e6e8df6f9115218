"""Removing a lab from start to end, under the lab's lock: read, plan, confirm, execute, audit.

`ssmlab cleanup`, notebook 10 and `ssmlab run` (when a failed run falls back to it) all call
`remove`, so they cannot drift apart, and a build of the same lab never runs in the middle of
a cleanup (nor a cleanup in the middle of a build): the plan is made from what exists once
the lab is the cleanup's alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ssmlab import inventory, obstacles, teardown
from ssmlab.lab import Lab
from ssmlab.locking import lab_lock
from ssmlab.teardown import Deletion, Leftover, Outcome


@dataclass
class Removal:
    """One lab's cleanup: the plan, what it leaves with why, and (once run) the outcomes and the audit."""

    lab: Lab
    deletions: list[Deletion]
    notes: list[str]
    outcomes: list[Outcome] | None = None  # None: not run (a dry run, or not confirmed)
    left: list[Leftover] | None = None

    @property
    def deleted(self) -> int:
        return sum(o.status == "deleted" for o in self.outcomes or [])


Executor = Callable[[Lab, list[Deletion]], list[Outcome]]


def remove(
    lab: Lab,
    *,
    dry_run: bool = False,
    confirm: Callable[[Removal], bool] | None = None,
    execute: Executor = teardown.execute,
    say: Callable[[str], None] | None = None,
) -> Removal:
    """Plan the lab's removal and, unless `dry_run` or `confirm(removal)` says no, run it and audit the region.

    `confirm` sees the plan first (to show it, or to ask a person); `execute` runs the deletions (with the
    caller's progress display); `say` reports a wait for another build or cleanup of the lab.
    """
    with lab_lock(lab, "cleanup", say=say):
        resources = inventory.lab_resources(lab)
        removal = Removal(lab, teardown.plan(resources), obstacles.notes(resources))
        if dry_run or (confirm is not None and not confirm(removal)):
            return removal
        removal.outcomes = execute(lab, removal.deletions)
        removal.left = teardown.audit(lab)
    return removal
