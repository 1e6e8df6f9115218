"""Removing one lab from start to end, under the lab's lock: read, plan, confirm, execute, audit.

`ssmlab cleanup` and notebook 11 (through `teardown.cleanup`) and `ssmlab run` (when a failed run
falls back to it) all call `remove`, so they cannot drift apart, and a build of the same lab never
runs in the middle of a cleanup (nor a cleanup in the middle of a build): the plan is made from
what exists once the lab is the cleanup's alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ssmlab import inventory, obstacles
from ssmlab.lab import Lab
from ssmlab.locking import lab_lock
from ssmlab.teardown.execute import Outcome, audit, execute
from ssmlab.teardown.plan import Deletion, Leftover, plan


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
        return self.count("deleted")

    def count(self, status: str) -> int:
        """How many deletions ended `status` ("deleted", "already gone", "failed")."""
        return sum(o.status == status for o in self.outcomes or [])

    def to_json(self) -> dict[str, Any]:
        """The lab's entry in `ssmlab cleanup --json`: the plan and notes; once run, the outcomes and what is left."""
        entry: dict[str, Any] = {"lab": self.lab.name, "plan": [d.to_json() for d in self.deletions], "notes": self.notes}
        if self.outcomes is not None:
            entry["outcomes"] = [o.to_json() for o in self.outcomes]
            entry["left"] = [x.to_json() for x in self.left or []]
        return entry


Executor = Callable[[Lab, list[Deletion]], list[Outcome]]


def remove(
    lab: Lab,
    *,
    dry_run: bool = False,
    confirm: Callable[[Removal], bool] | None = None,
    execute: Executor = execute,
    say: Callable[[str], None] | None = None,
) -> Removal:
    """Plan the lab's removal and, unless `dry_run` or `confirm(removal)` says no, run it and audit the region.

    `confirm` sees the plan first (to show it, or to ask a person); `execute` runs the deletions (with the
    caller's progress display, `shown`); `say` reports a wait for another build or cleanup of the lab.
    """
    with lab_lock(lab, "cleanup", say=say):
        resources = inventory.lab_resources(lab)
        removal = Removal(lab, plan(resources), obstacles.notes(resources))
        if dry_run or (confirm is not None and not confirm(removal)):
            return removal
        removal.outcomes = execute(lab, removal.deletions)
        removal.left = audit(lab)
    return removal


def shown(*, terminal: bool = False, quiet: bool = False) -> Executor:
    """`execute` with a line per deletion (and per retry) on stdout under a progress bar (`progress.bar`: a
    notebook's widget, or with `terminal` the CLI's stderr bar); `quiet`: neither (the CLI's --json)."""
    from ssmlab.progress import bar
    from ssmlab.render import outcome_line

    def run(lab: Lab, deletions: list[Deletion]) -> list[Outcome]:
        done: list[Outcome] = []
        with bar(len(deletions), f"cleaning up {lab.name}", unit="deletion", terminal=terminal, quiet=quiet) as shown:
            def say(line: str) -> None:
                if not quiet:
                    shown.write(line)

            def progress(outcome: Outcome) -> None:
                done.append(outcome)
                say(outcome_line(len(done), len(deletions), outcome))
                shown.update(1)

            return execute(lab, deletions, progress=progress, explain=lambda line: say(f"  {line}"))

    return run
