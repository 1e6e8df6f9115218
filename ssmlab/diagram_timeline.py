"""The simulated SSM Agent's polls over simulated time, one lane per service (matplotlib).

Input is what the emulator answers on `GET /ssmlab/agents` (`ssmlab.emulator.control.agents`):
{"clock": {...}, "agents": [{"instance_id", "registered_at", ...}], "log": [{"time" (ISO),
"instance_id", "step", "outcome", "reason", "code", "service", "address"}]}. The picture
makes the "it connects only after a while" story visible: the start-up delay, the
failures and their codes, the credential refresher's half-hour sleep, the hibernation
periods after a failed start (a ping every 10, 20, 40 minutes, then hourly), the moment the
node became Online, and when a session opened. Labels never overlap: each goes in the first
free row beside its point, or is left out.

matplotlib is imported inside the function; the figure comes from `ssmlab.figures.new_figure`,
so it shows inline in Jupyter and needs no display elsewhere.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from typing import Any, Iterable

LANES = ("agent", "credentials (IMDS)", "ssm", "ssmmessages", "ec2messages")
COLOURS = {"ok": "#1D8102", "fail": "#D13212", "sleep": "#8D6E00", "info": "#687078"}
MARKERS = {"ok": "o", "fail": "X", "sleep": "s", "info": "|"}


def _epoch(value: Any) -> float | None:
    """ISO text, a datetime or epoch seconds -> epoch seconds."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).timestamp()
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


def _lane(entry: dict) -> str:
    step = entry.get("step")
    if step == "credentials":
        return "credentials (IMDS)"
    if step in ("register", "ping"):
        return entry.get("service") or "ssm"
    if step == "control-channel":
        return entry.get("service") or "ssmmessages"
    return "agent"


def _session_times(sessions: Iterable[Any], instance_id: str | None) -> list[float]:
    """Session start times from DescribeSessions items, datetimes, ISO strings or epochs."""
    times = []
    for s in sessions or ():
        if isinstance(s, dict):
            if instance_id and s.get("Target") not in (None, instance_id):
                continue
            s = s.get("StartDate")
        t = _epoch(s)
        if t is not None:
            times.append(t)
    return times


def polling_timeline(agent_log: dict, *, instance_id: str | None = None, filename: str | os.PathLike | None = None,
                     sessions: Iterable[Any] = (), title: str | None = None) -> Any:
    """Draw one instance's agent log; returns the matplotlib Figure (saved to `filename` if given).

    `instance_id` picks the instance when the log has several (default: the first agent's);
    `sessions`: DescribeSessions items (or start times) to mark when a session opened."""
    from ssmlab.figures import new_figure

    entries = list(agent_log.get("log", []))
    agents = list(agent_log.get("agents", []))
    if instance_id is None:
        instance_id = (agents[0]["instance_id"] if agents else entries[0]["instance_id"] if entries else None)
    entries = [e for e in entries if e.get("instance_id") == instance_id]
    agent = next((a for a in agents if a.get("instance_id") == instance_id), {})

    fig = new_figure(figsize=(11, 3.8), layout="constrained")
    ax = fig.add_subplot()
    ax.set_title(title or f"{instance_id or 'no instance'}: the SSM Agent's attempts over simulated time",
                 loc="left", fontsize=12)
    if not entries:
        ax.text(0.5, 0.5, "no agent activity yet (is the instance running?)", ha="center", va="center",
                transform=ax.transAxes, color=COLOURS["info"])
        ax.set_axis_off()
        _save(fig, filename)
        return fig

    start = _epoch(entries[0]["time"])
    now = _epoch((agent_log.get("clock") or {}).get("epoch")) or _epoch(entries[-1]["time"])
    minutes = lambda t: (t - start) / 60.0  # noqa: E731
    lanes = [lane for lane in LANES if lane in {_lane(e) for e in entries} or lane == "ssm"]
    y = {lane: len(lanes) - 1 - i for i, lane in enumerate(lanes)}
    span = max(minutes(now), 1.0) * 1.03 + 0.5
    labels = _Labels(ax, span_minutes=span + max(0.5, minutes(now) * 0.02))

    last_code: dict[str, str | None] = {}
    for index, entry in enumerate(entries):
        t, lane, outcome = _epoch(entry["time"]), _lane(entry), entry.get("outcome", "info")
        if outcome == "sleep":  # the credential refresher, or a hibernation period: a bar until it ends
            end = _sleep_end(entry, entries[index + 1:], now)
            ax.barh(y[lane], minutes(end) - minutes(t), left=minutes(t), height=0.35,
                    color=COLOURS["sleep"], alpha=0.25, edgecolor=COLOURS["sleep"], hatch="//")
            labels.place(minutes(t), y[lane], entry.get("label") or "asleep", COLOURS["sleep"])
            continue
        ax.scatter([minutes(t)], [y[lane]], marker=MARKERS.get(outcome, "o"), s=70 if outcome != "info" else 200,
                   color=COLOURS.get(outcome, COLOURS["info"]), zorder=3, linewidths=1.5)
        code = entry.get("code")
        if outcome == "fail" and code and last_code.get(lane) != code:
            labels.place(minutes(t), y[lane], code, COLOURS["fail"])
        last_code[lane] = code if outcome == "fail" else None
        if entry.get("step") in ("reboot", "stop"):
            labels.place(minutes(t), y[lane], entry["step"], "black")

    online = _epoch(agent.get("registered_at")) or next(
        (_epoch(e["time"]) for e in entries if e.get("step") == "register" and e.get("outcome") == "ok"), None)
    top = len(lanes) - 0.45
    if online is not None:
        ax.axvline(minutes(online), color=COLOURS["ok"], linestyle="--", linewidth=1.2)
        labels.place(minutes(online), top, "Online", COLOURS["ok"], fontsize=10, rows=(0.0,))
    for opened in _session_times(sessions, instance_id):
        ax.axvline(minutes(opened), color="#0073BB", linestyle=":", linewidth=1.5)
        labels.place(minutes(opened), top, "session", "#0073BB", fontsize=10, rows=(0.0, -0.3))

    ax.set_yticks(list(y.values()), list(y.keys()))
    ax.set_ylim(-0.6, len(lanes) - 0.2)
    ax.set_xlim(min(-0.5, minutes(now) * -0.02), span)
    ax.set_xlabel("simulated minutes since the agent started")
    ax.grid(axis="x", alpha=0.3)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], marker=MARKERS[k], linestyle="", color=COLOURS[k], label=label)
               for k, label in (("ok", "succeeded"), ("fail", "failed (doctor code)"), ("info", "start / reboot / stop"))]
    handles.append(Line2D([], [], color=COLOURS["sleep"], linewidth=6, alpha=0.4,
                          label="asleep: credential refresher,\nor hibernating after a failed start"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    _save(fig, filename)
    return fig


# What ends a sleep before its planned end: the agent gets through, restarts or stops.
_WAKES = {("register", "ok"), ("ping", "ok"), ("reboot", "info"), ("stop", "info"), ("boot", "info")}


def _sleep_end(entry: dict, later: list[dict], now: float) -> float:
    """A sleep lasts until its planned end, the next sleep in its lane, or whatever wakes the agent first."""
    t = _epoch(entry["time"])
    end = min(now, _epoch(entry.get("until")) or now)
    for other in later:
        when = _epoch(other["time"])
        if when <= t:
            continue
        if (other.get("step"), other.get("outcome")) in _WAKES or (
                other.get("outcome") == "sleep" and _lane(other) == _lane(entry)):
            return min(end, when)
    return end


class _Labels:
    """Places short texts beside their points, each in the first free row of its lane, so none overlap
    (a text's width is estimated from its length: 0.6 em per character)."""

    AXES_WIDTH_PT = 11 * 72 * 0.72  # the axes' share of the 11-inch figure, the legend beside it

    def __init__(self, ax: Any, *, span_minutes: float) -> None:
        self.ax = ax
        self.minutes_per_pt = span_minutes / self.AXES_WIDTH_PT
        self.taken: list[tuple[float, float, float]] = []  # (y, x from, x to)

    def place(self, x: float, lane_y: float, text: str, colour: str, *, fontsize: float = 8,
              rows: tuple[float, ...] = (0.26, -0.42, 0.44)) -> bool:
        width = (len(text) * 0.6 * fontsize + 6) * self.minutes_per_pt
        for row in rows:
            y = lane_y + row
            if all(abs(y - ty) > 0.15 or x + width < x0 or x > x1 for ty, x0, x1 in self.taken):
                self.taken.append((y, x, x + width))
                self.ax.text(x + 2 * self.minutes_per_pt, y, text, fontsize=fontsize, color=colour, va="center")
                return True
        return False  # no free row: the legend and the other labels say enough


def _save(fig: Any, filename: str | os.PathLike | None) -> None:
    from ssmlab import figures

    if filename is not None:
        figures.save(fig, filename, dpi=150)
