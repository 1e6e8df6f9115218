"""Plain-text rendering for the terminal: progress lines and the status table."""

from __future__ import annotations

import shutil
import textwrap

MARKS = {"complete": "ok", "partial": "!!", "missing": "--"}


def step_line(number: int, total: int, report) -> str:
    """One progress line per build step: what it is, what was created or found, how long it took."""
    what = f"created {len(report.created)}" if report.created else "already there"
    return f"[{number}/{total}] {report.step:<16} {what:<14} {report.seconds:5.1f}s  {report.summary}"


def status_table(steps) -> str:
    width = max(60, min(shutil.get_terminal_size((120, 20)).columns, 160))
    indent = 2 + 2 + 2 + 16 + 2 + 9 + 2
    lines = [f"  {'':2}  {'step':<16}  {'status':<9}  detail", f"  {'':2}  {'-' * 16}  {'-' * 9}  {'-' * 20}"]
    for s in steps:
        detail = [line for part in s.detail.split("; ") for line in textwrap.wrap(part, max(20, width - indent))] or [""]
        lines.append(f"  {MARKS.get(s.status, '  ')}  {s.step:<16}  {s.status:<9}  {detail[0]}")
        lines.extend(" " * indent + more for more in detail[1:])
    return "\n".join(lines)


def print_status_table(steps) -> None:
    print(status_table(steps))


SEVERITY_MARKS = {"error": "ERROR", "warning": "WARN ", "info": "info "}


def diagnosis_text(diagnosis) -> str:
    """The doctor's report: each required service's path hop by hop, then the findings with their fixes."""
    managed = {True: "yes", False: "NO", None: "unknown"}[diagnosis.managed]
    lines = [f"doctor: {diagnosis.instance_id or '(no instance)'} in {diagnosis.region} — managed node: {managed}"]
    for service, path in diagnosis.paths.items():
        if path is None:
            continue
        verdict = "reachable" if path.reachable else "BLOCKED"
        lines.append(f"\n  {service}: {verdict} — {path.resolution.detail}")
        for hop in path.hops:
            lines.append(f"    {'ok' if hop.passed else 'XX'}  {hop.name:<20} {hop.detail}")
    lines.append("")
    if not diagnosis.findings:
        lines.append("  no findings: everything the API shows is in order")
    for finding in diagnosis.findings:
        lines.append(f"  {SEVERITY_MARKS[finding.severity]} {finding.code}  {finding.resource or ''}".rstrip())
        lines.extend(f"         {line}" for line in textwrap.wrap(finding.message, 100))
        lines.append(f"         fix: {finding.fix}")  # one line, so the command copies whole
    lines.append(f"\n  IAM checked with {diagnosis.iam_method}.")
    lines.append("  Not visible to the doctor: " + "; ".join(diagnosis.blind_spots) + ".")
    return "\n".join(lines)


# -- cleanup ---------------------------------------------------------------------------

def plan_text(deletions) -> str:
    """The teardown plan, one numbered line per deletion: step, what, the call, why."""
    if not deletions:
        return "nothing to delete: no resource carries this lab's tag"
    width = len(str(len(deletions)))
    return "\n".join(
        f"{n:>{width}}. {d.step:<26} {d.kind} {d.resource_id}  [{d.call}]  {d.why}" for n, d in enumerate(deletions, 1)
    )


def outcome_line(number: int, total: int, outcome) -> str:
    d = outcome.deletion
    status = {"deleted": "deleted", "already gone": "already gone", "failed": "FAILED"}[outcome.status]
    tail = f"  {outcome.detail}" if outcome.detail else ""
    return f"[{number}/{total}] {status:<12} {d.kind} {d.resource_id}{tail}"


def audit_text(left) -> str:
    if not left:
        return "audit: nothing carries this lab's tag any more"
    return "\n".join([f"audit: {len(left)} resource(s) left:"] + [f"  {x.kind} {x.resource_id}" for x in left])


def labs_text(found, now, older_than) -> str:
    """The labs found in the region, oldest first, and whether they will be removed."""
    if not found:
        return "no lab found in this region"
    lines = []
    for lab in found:
        age = lab.age(now)
        shown = "age unknown" if age is None else f"age {_duration(age)}"
        verdict = "remove" if lab.older_than(older_than, now) else "keep"
        lines.append(f"  {verdict:<6} {lab.name:<24} {shown}")
    return "\n".join(lines)


def _duration(delta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d{seconds % 86400 // 3600}h"
