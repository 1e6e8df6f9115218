"""`ssmlab cleanup` as one library call: which labs, whether to ask, what to say as it goes, and a report.

The CLI and notebook 11 both call `cleanup`. Removing a lab takes minutes on AWS, so what a person reads
comes as it happens, through `say` (the target, what is left alone and why, the plan when it matters, a
line per deletion, the audit); the `CleanupReport` returned holds the same facts as data, for `--json`
and the exit code. Whether to ask is policy, decided here: on target aws a plan that deletes something
runs only with `yes`, or when `ask(removal)` (a person at a terminal) says so; else `NotConfirmed`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Callable

from ssmlab.errors import BadInput
from ssmlab.model import FoundLab
from ssmlab.teardown.removal import Removal, remove, shown

if TYPE_CHECKING:
    from ssmlab.lab import Lab

DURATION_RE = re.compile(r"(\d+)([mhd])")
UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def parse_duration(text: str) -> timedelta:
    """`30m`, `3h`, `2d`: the age of the labs `--all-labs --older-than` removes."""
    match = DURATION_RE.fullmatch(text.strip()) if isinstance(text, str) else None
    if not match:
        raise BadInput(f"invalid duration {text!r}: expected a whole number followed by m, h or d (e.g. 30m, 3h, 2d)")
    return timedelta(**{UNITS[match.group(2)]: int(match.group(1))})


@dataclass
class CleanupReport:
    """What a cleanup planned, did and left, lab by lab; `to_json` is `ssmlab cleanup --json`."""

    region: str
    target: str
    dry_run: bool
    removals: list[Removal] = field(default_factory=list)  # one per lab chosen, in the order removed
    found: list[FoundLab] | None = None  # --all-labs: every lab in the region, chosen or kept
    older_than: timedelta | None = None
    now: datetime | None = None  # when the labs' ages were measured
    stopped: bool = False  # the last lab's plan waits for a confirmation that did not come: nothing of it ran

    @property
    def ok(self) -> bool:
        """Nothing any removal ran is left (a dry run leaves everything, and is ok)."""
        return not any(r.left for r in self.removals)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {"region": self.region, "target": self.target, "dry_run": self.dry_run,
                                    "labs": [r.to_json() for r in self.removals]}
        if self.found is not None:
            document["found"] = [{"name": f.name, "created": f.created and f.created.isoformat(),
                                  "remove": f.older_than(self.older_than, self.now)} for f in self.found]
        if not self.stopped:
            document["ok"] = self.ok
        return document


def asks(removal: Removal, *, yes: bool, dry_run: bool) -> bool:
    """Whether a person must confirm this plan: on a real account, something to delete, no `yes`, not a dry run."""
    return not removal.lab.is_emulator and bool(removal.deletions) and not yes and not dry_run


class NotConfirmed(BadInput):
    """A cleanup on a real account stopped before deleting: no `yes`, and nobody at a terminal said yes."""

    def __init__(self, message: str, report: CleanupReport):
        super().__init__(message)
        self.report = report


def cleanup(
    lab: Lab | str | None = None,
    *,
    all_labs: bool = False,
    older_than: str | None = None,
    region: str | None = None,
    target: str | None = None,
    dry_run: bool = False,
    yes: bool = False,
    ask: Callable[[Removal], bool] | None = None,
    say: Callable[[str], None] | None = None,
    show_plan: bool = False,
    terminal: bool = False,
) -> CleanupReport:
    """Remove one lab (`lab`: a name or a `Lab`), or with `all_labs` every lab in the region older than
    `older_than` (`30m`, `3h`, `2d`; a lab of unknown age is kept), each under its lock, then audit.

    `say` hears the text as it happens (None: silent, as `--json` is); `show_plan` prints the plan before a
    run too (a dry run, a question and an empty plan always print it); `terminal`: the CLI's progress bar
    (`progress.bar`), else a notebook's. Bad input raises `BadInput`; an unconfirmed plan `NotConfirmed`.
    """
    from ssmlab.lab import Lab, default_region, default_target

    if bool(lab) == bool(all_labs):
        raise BadInput("cleanup needs exactly one of --lab NAME or --all-labs --older-than DURATION")
    if all_labs and not older_than:
        raise BadInput("--all-labs needs --older-than DURATION (a whole number followed by m, h or d, e.g. 3h)")
    if lab and older_than:
        raise BadInput(f"invalid option --older-than {older_than!r} with --lab: it goes with --all-labs only")
    age = parse_duration(older_than) if all_labs else None
    if isinstance(lab, Lab):
        region, target = lab.region, lab.target
    region, target = region or default_region(), target or default_target()
    chosen = [lab if isinstance(lab, Lab) else Lab(lab, region, target)] if lab else []
    report = CleanupReport(region, target, dry_run)
    if all_labs:
        chosen = _older_labs(report, Lab("all-labs", region, target), age, older_than, say)
    for each in chosen:
        _remove_one(each, report, yes=yes, ask=ask, say=say, show_plan=show_plan, terminal=terminal)
    return report


def _older_labs(report: CleanupReport, finder: Lab, age: timedelta, older_than: str, say) -> list[Lab]:
    """Every lab in the region, said with its age and verdict; the ones old enough to remove."""
    from ssmlab import inventory
    from ssmlab.lab import Lab
    from ssmlab.render import labs_text

    report.now, report.older_than = datetime.now(timezone.utc), age
    report.found = inventory.find_labs(finder)
    if say:
        say(f"{len(report.found)} lab(s) in {report.region} (removing those older than {older_than}):")
        say(labs_text(report.found, report.now, age))
    return [Lab(f.name, report.region, report.target) for f in report.found if f.older_than(age, report.now)]


def _remove_one(lab: Lab, report: CleanupReport, *, yes: bool, ask, say, show_plan: bool, terminal: bool) -> None:
    from ssmlab import banner
    from ssmlab.render import audit_text, notes_text, plan_text, removal_summary

    if say:
        say(banner.line(lab))

    def confirm(removal: Removal) -> bool:
        report.removals.append(removal)
        asking = asks(removal, yes=yes, dry_run=report.dry_run)
        if say:
            if removal.notes:
                say(notes_text(removal.notes))
            if show_plan or report.dry_run or asking or not removal.deletions:
                say(plan_text(removal.deletions))
        if report.dry_run or not asking:
            return not report.dry_run
        if ask is not None and ask(removal):
            return True
        report.stopped = True
        raise NotConfirmed(f"cleanup on REAL AWS deletes the {len(removal.deletions)} resource(s) above: "
                           "add --yes to confirm", report)

    removal = remove(lab, confirm=confirm, execute=shown(terminal=terminal, quiet=say is None))
    if removal.outcomes is not None and say:
        say(removal_summary(removal))
        say(audit_text(removal.left))
