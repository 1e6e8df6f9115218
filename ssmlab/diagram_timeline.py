"""The simulated SSM Agent's polls over simulated time, one lane per service (matplotlib).

Input is what the emulator answers on `GET /ssmlab/agents` (`ssmlab.emulator.control.agents`):
{"clock": {...}, "agents": [{"instance_id", "registered_at", ...}], "log": [{"time" (ISO),
"instance_id", "step", "outcome", "reason", "code", "service", "address"}]}. The picture
makes the "it connects only after a while" story visible: the start-up delay, the
failures and their codes, the credential refresher's half-hour sleep, the moment the node
became Online, and when a session opened.

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

    last_code: dict[str, str | None] = {}
    for index, entry in enumerate(entries):
        t, lane, outcome = _epoch(entry["time"]), _lane(entry), entry.get("outcome", "info")
        if outcome == "sleep":  # the credential refresher: a bar until the next thing the agent does
            later = [_epoch(e["time"]) for e in entries[index + 1:] if _epoch(e["time"]) > t]
            end = later[0] if later else now
            ax.barh(y[lane], minutes(end) - minutes(t), left=minutes(t), height=0.35,
                    color=COLOURS["sleep"], alpha=0.25, edgecolor=COLOURS["sleep"], hatch="//")
            ax.text(minutes(t) + 0.3, y[lane] + 0.28, "credential refresher asleep", fontsize=8, color=COLOURS["sleep"])
            continue
        ax.scatter([minutes(t)], [y[lane]], marker=MARKERS.get(outcome, "o"), s=70 if outcome != "info" else 200,
                   color=COLOURS.get(outcome, COLOURS["info"]), zorder=3, linewidths=1.5)
        code = entry.get("code")
        if outcome == "fail" and code and last_code.get(lane) != code:
            ax.annotate(code, (minutes(t), y[lane]), xytext=(4, 8), textcoords="offset points",
                        fontsize=8, color=COLOURS["fail"], rotation=12)
        last_code[lane] = code if outcome == "fail" else None
        if entry.get("step") == "reboot":
            ax.annotate("reboot", (minutes(t), y[lane]), xytext=(4, 8), textcoords="offset points", fontsize=8)

    online = _epoch(agent.get("registered_at")) or next(
        (_epoch(e["time"]) for e in entries if e.get("step") == "register" and e.get("outcome") == "ok"), None)
    if online is not None:
        ax.axvline(minutes(online), color=COLOURS["ok"], linestyle="--", linewidth=1.2)
        ax.text(minutes(online), len(lanes) - 0.45, " Online", color=COLOURS["ok"], fontsize=10, va="bottom")
    for opened in _session_times(sessions, instance_id):
        ax.axvline(minutes(opened), color="#0073BB", linestyle=":", linewidth=1.5)
        ax.text(minutes(opened), len(lanes) - 0.45, " session", color="#0073BB", fontsize=10, va="bottom")

    ax.set_yticks(list(y.values()), list(y.keys()))
    ax.set_ylim(-0.6, len(lanes) - 0.2)
    ax.set_xlim(min(-0.5, minutes(now) * -0.02), max(minutes(now), 1.0) * 1.03 + 0.5)
    ax.set_xlabel("simulated minutes since the agent started")
    ax.grid(axis="x", alpha=0.3)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], marker=MARKERS[k], linestyle="", color=COLOURS[k], label=label)
               for k, label in (("ok", "succeeded"), ("fail", "failed (doctor code)"), ("info", "start / reboot / stop"))]
    handles.append(Line2D([], [], color=COLOURS["sleep"], linewidth=6, alpha=0.4, label="credential refresher asleep"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    _save(fig, filename)
    return fig


def _save(fig: Any, filename: str | os.PathLike | None) -> None:
    from ssmlab import figures

    if filename is not None:
        figures.save(fig, filename, dpi=150)
