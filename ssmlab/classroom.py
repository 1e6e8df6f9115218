"""A class at a glance, for its facilitator: one row per participant's lab — how far the build got, whether the
node answers, the doctor's error codes, what the lab bills per hour on AWS, when it last changed. Pure: rows
are made from what `ssmlab.classreport` read (each lab's diagnoses, with the snapshot the doctor judged).

How far a participant got is read from the lab itself, not from their notebooks: the furthest build step that is
complete with every step before it (`status.lab_status`), which is what each notebook's checkpoint verifies.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Iterable

from ssmlab import status
from ssmlab.model import TAG_KEY, LabState

NOTHING_YET = "nothing yet"


@dataclass(frozen=True)
class Participant:
    lab: str
    reached: str  # the furthest build step complete with all before it, else NOTHING_YET
    steps: tuple[status.StepStatus, ...]
    instance_id: str | None
    ping_status: str | None  # Systems Manager's view of the instance: Online, ConnectionLost, None (not registered)
    errors: tuple[str, ...]  # the doctor's error codes
    resources: int  # the lab's tagged resources in the region (VPC, subnets, groups, endpoints, instances)
    usd_per_hour: float  # what the lab's billed resources cost per hour on AWS (`cost.lab_cost`)
    last_activity: dt.datetime | None  # the lab's last call that changed something (the emulator's call log; None on AWS)

    def to_json(self) -> dict[str, Any]:
        return {"lab": self.lab, "reached": self.reached, "steps": {s.step: s.status for s in self.steps},
                "instance_id": self.instance_id, "ping_status": self.ping_status, "errors": list(self.errors),
                "resources": self.resources, "usd_per_hour": round(self.usd_per_hour, 4),
                "last_activity": self.last_activity.isoformat() if self.last_activity else None}


def reached(steps: Iterable[status.StepStatus]) -> str:
    """The furthest step complete with every step before it (optional steps do not count)."""
    furthest = NOTHING_YET
    for step in steps:
        if step.step in status.OPTIONAL:
            continue
        if step.status != status.COMPLETE:
            break
        furthest = step.step
    return furthest


def _resources(state: LabState) -> int:
    mine = [*state.vpcs, *state.subnets, *state.security_groups, *state.endpoints, *state.instances]
    return sum(1 for r in mine if (TAG_KEY, state.lab) in r.tags)


def participant(state: LabState, diagnoses: Iterable[Any], ping_status: str | None, usd_per_hour: float,
                last_activity: dt.datetime | None) -> Participant:
    """One participant's row, from the snapshot the doctor judged and its diagnoses (one per instance)."""
    judged = list(diagnoses)
    steps = tuple(status.lab_status(state))
    errors = tuple(dict.fromkeys(code for d in judged for code in d.codes("error")))
    instance_id = next((d.instance_id for d in judged if d.instance_id), None)
    return Participant(state.lab or "", reached(steps), steps, instance_id, ping_status, errors, _resources(state),
                       usd_per_hour, last_activity)


def to_json(rows: Iterable[Participant], region: str, now: dt.datetime) -> dict[str, Any]:
    rows = list(rows)
    return {"region": region, "now": now.isoformat(), "participants": [r.to_json() for r in rows],
            "usd_per_hour": round(sum(r.usd_per_hour for r in rows), 4)}


def text(rows: Iterable[Participant], region: str) -> str:
    """The table a facilitator reads in a terminal: one line per lab, then the class's hourly cost."""
    rows = list(rows)
    if not rows:
        return f"no lab in {region}"
    width = max(len("lab"), *(len(r.lab) for r in rows))
    lines = [f"{'lab':<{width}}  {'reached':<15}  {'node':<14}  {'$/h':>6}  {'changed':<8}  errors",
             f"{'-' * width}  {'-' * 15}  {'-' * 14}  {'-' * 6}  {'-' * 8}  {'-' * 6}"]
    for r in rows:
        seen = f"{r.last_activity:%H:%M:%S}" if r.last_activity else "-"
        lines.append(f"{r.lab:<{width}}  {r.reached:<15}  {r.ping_status or 'not registered':<14}  "
                     f"{r.usd_per_hour:>6.3f}  {seen:<8}  {', '.join(r.errors) or '-'}")
    lines.append(f"{len(rows)} labs in {region}: ${sum(r.usd_per_hour for r in rows):.3f} per hour on AWS")
    return "\n".join(lines)
