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
