"""Time passing in a notebook: on the emulator its simulated clock moves on; on target aws real time
has to pass, so `fast_forward` waits it out, and a notebook run on a real account is honest about the
minutes it needs. The notebooks call `fast_forward` and `wait_until_managed` as `notebook.*`.

The waiting is a loop over an injected clock and sleep (tests run it without sleeping), and the
agent's next expected ping is a pure function of its last one: a running agent pings Systems
Manager every 5 minutes (aws/amazon-ssm-agent, `agent/health/healthcheck.go`,
updateHealthFrequencyMins = 5; ../shared/FACTS.md), and DescribeInstanceInformation says when
it last did (LastPingDateTime).
"""

from __future__ import annotations

import datetime as dt
import math
import time
from typing import TYPE_CHECKING, Any, Callable

from ssmlab import hibernation

if TYPE_CHECKING:
    from ssmlab.lab import Lab

PING_INTERVAL = dt.timedelta(seconds=hibernation.HEALTH_FREQUENCY)


def next_ping(last_ping: dt.datetime | None) -> dt.datetime | None:
    """When a running agent pings next: its last ping + 5 minutes (None when it never pinged)."""
    return None if last_ping is None else hibernation.utc(last_ping) + PING_INTERVAL


def _clock_time(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).strftime("%H:%M:%S UTC")


def _span(seconds: float) -> str:
    seconds = abs(seconds)
    return f"{seconds / 60:.0f} min" if seconds >= 120 else f"{seconds:.0f} s"


def ping_text(instance_id: str, known: bool, last_ping: dt.datetime | None, now: dt.datetime,
              ends: dt.datetime) -> str:
    """What to expect of the agent during a wait that runs from `now` to `ends`."""
    if not known:
        return (f"{instance_id} is not a managed node yet, so there is no ping to time from: the agent registers "
                "with its first ping once it has credentials and a path to ssm; if its start ping failed, it "
                f"hibernates and pings again {hibernation.SCHEDULE_TEXT} (`ssmlab doctor` estimates when)")
    expected = next_ping(last_ping)
    if expected is None:
        return f"Systems Manager knows {instance_id} but gives no last ping time"
    last = f"its last ping was at {_clock_time(last_ping)} and it pings every 5 minutes"
    if expected < now:
        return (f"{instance_id}: the next ping was due at {_clock_time(expected)}, {_span((now - expected).total_seconds())} "
                f"ago ({last}): the agent is not pinging — hibernating, cut off or stopped; `ssmlab doctor` says why")
    when = "before this wait ends" if expected <= ends else "after this wait ends"
    return f"{instance_id}: next ping expected about {_clock_time(expected)}, {when} ({last})"


def wait(seconds: float, description: str, *, clock: Callable[[], float] = time.monotonic,
         sleep: Callable[[float], None] = time.sleep, bar: Callable[..., Any] | None = None,
         step: float = 1.0) -> float:
    """Sleep `seconds` of real time in steps of at most `step`, with a progress bar (`progress.bar`: a widget in
    JupyterLab); returns the seconds waited. Interrupting the kernel stops it."""
    if bar is None:
        from ssmlab.progress import bar
    total = max(0, math.ceil(seconds))
    started = clock()
    with bar(total=total, desc=description, unit="s") as progress:
        while (elapsed := clock() - started) < seconds:
            sleep(min(step, seconds - elapsed))
            progress.update(min(total, math.floor(clock() - started)) - progress.n)
        progress.update(total - progress.n)
    return clock() - started


def pass_time(lab: Lab, seconds: float, why: str, instance_id: str | None = None) -> None:
    """On a real account: say how long and why, when `instance_id`'s agent should ping next (from
    DescribeInstanceInformation's LastPingDateTime), then wait it out."""
    now = dt.datetime.now(dt.timezone.utc)
    ends = now + dt.timedelta(seconds=seconds)
    print(f"on real AWS this takes {_span(seconds)} of real time, until about {_clock_time(ends)} "
          f"(interrupt the kernel to stop waiting): {why}")
    if instance_id:
        from ssmlab.managed import node_information

        info = node_information(lab, instance_id)
        print(ping_text(instance_id, info is not None, (info or {}).get("LastPingDateTime"), now, ends))
    wait(seconds, why[:40])


def fast_forward(lab: Lab, seconds: float, why: str, instance_id: str | None = None) -> None:
    """On the emulator, move simulated time on by `seconds`. On AWS real time has to pass: wait it out
    with a progress bar, after saying when the agent of `instance_id` (if given) should ping next, from
    its LastPingDateTime (DescribeInstanceInformation). Where a cell needs a condition rather than
    time (the node Online), it waits on that instead: `wait_until_managed`."""
    if lab.is_emulator:
        from ssmlab.emulator import control

        control.advance_clock(lab, seconds)
        print(f"emulator clock moved on {_span(seconds)}: {why}")
        return
    pass_time(lab, seconds, why, instance_id)


def wait_until_managed(lab: Lab, instance_id: str, skip_ahead: float = 30.0) -> Any:
    """Wait on the condition itself, the node Online (with a progress bar), on either target; returns the
    `managed.ManagedNode`. On the emulator, a node not Online yet first gets the simulated clock moved on by
    `skip_ahead` seconds (the agent starts about 20 s after the instance runs), so its start-up costs no
    wall time; on AWS nothing is skipped and nothing is waited for beyond the condition."""
    from ssmlab import managed

    if lab.is_emulator and (managed.node_information(lab, instance_id) or {}).get("PingStatus") != "Online":
        fast_forward(lab, skip_ahead, "in case the instance has only just started")
    return managed.wait_until_managed(lab, instance_id)
