"""The SSM Agent's start-up and hibernation schedule: when an agent that could not reach
Systems Manager at start tries again. Pure.

From aws/amazon-ssm-agent (FACTS.md): at start the agent sends one empty health ping
(`agent/agent.go`); if it fails, the agent hibernates (`agent/hibernation/hibernation.go`):
it waits initialPingRate = 300 s, then pings at once and every 600 s; each step lasts
backOffRate = 3 intervals, after which the interval doubles (multiplier 2) up to
maxBackOffInterval = 3600 s, where it stays. The pinging job runs at once when scheduled
(vendor/github.com/carlescere/scheduler: a recurrent job's first run has no wait). So,
counted from the failed start ping, the pings come at 5, 15, 25 min (every 10 min), 35, 55,
75 min (every 20), 95, 135, 175 min (every 40), then 215 min and hourly. The first ping that
works starts the agent; a reboot or an agent restart starts the schedule over.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterator

INITIAL_PING_RATE = 5 * 60  # initialPingRate
MAX_INTERVAL = 60 * 60  # maxBackOffInterval
MULTIPLIER = 2  # multiplier
BACKOFF_RATE = 3  # backOffRate: each interval is kept for three of itself
HEALTH_FREQUENCY = 5 * 60  # an agent that runs pings every 5 minutes (agent/health/healthcheck.go)


@dataclass(frozen=True)
class Step:
    """One back-off period: from `start` (seconds after the failed start ping), a ping every `interval`."""

    start: float
    interval: float
    length: float | None  # None: the last step, for good

    @property
    def log_line(self) -> str:
        """What hibernate.log says when the step begins."""
        return f"Backing off health check to every {self.interval:.0f} seconds for {self.interval * BACKOFF_RATE:.0f} seconds."


def steps() -> Iterator[Step]:
    """The back-off periods, in order; the last one lasts for ever."""
    start, interval = float(INITIAL_PING_RATE), float(INITIAL_PING_RATE)
    while True:
        interval = min(interval * MULTIPLIER, MAX_INTERVAL)
        if interval == MAX_INTERVAL:
            yield Step(start, interval, None)
            return
        yield Step(start, interval, interval * BACKOFF_RATE)
        start += interval * BACKOFF_RATE


def pings(limit: float) -> Iterator[float]:
    """The hibernation pings, in seconds after the failed start ping, up to `limit`."""
    for step in steps():
        at = step.start
        while at <= limit and (step.length is None or at < step.start + step.length):
            yield at
            at += step.interval
        if at > limit:
            return


def next_ping(elapsed: float) -> float:
    """Seconds after the failed start ping at which the first hibernation ping after `elapsed` comes."""
    for at in pings(elapsed + MAX_INTERVAL + 1):
        if at > elapsed:
            return at
    raise AssertionError("the hourly step always has a next ping")  # pragma: no cover


def step_at(elapsed: float) -> Step:
    """The back-off period `elapsed` seconds after the failed start ping falls in (the first one before 5 min)."""
    current = None
    for step in steps():
        if current is not None and step.start > elapsed:
            return current
        current = step
    assert current is not None
    return current


SCHEDULE_TEXT = ("5 minutes after it starts, then every 10 minutes for half an hour, every 20 for an hour, "
                 "every 40 for two hours, then hourly")


def minutes(seconds: float) -> str:
    """'about 17 minutes', 'about an hour', 'under a minute'."""
    if seconds < 60:
        return "under a minute"
    rounded = round(seconds / 60)
    return f"about {rounded} minute{'s' if rounded != 1 else ''}"


def next_attempt(launched: datetime | None, now: datetime | None) -> str:
    """When a hibernating agent's next ping comes, estimated from the instance's launch time: the agent
    starts with the operating system, so the schedule counts from about then (a reboot since, which
    EC2 does not report, would have started it over: sooner)."""
    if launched is None or now is None:
        return f"it pings again {SCHEDULE_TEXT}"
    elapsed = seconds_between(launched, now)
    wait = next_ping(elapsed) - elapsed
    return (f"it pings again {SCHEDULE_TEXT}; launched {ago(elapsed)}, its next attempt is in "
            f"{minutes(wait)} (sooner if it was rebooted since)")


def utc(moment: datetime) -> datetime:
    """Naive times are UTC (moto's, and a Date header with -0000)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def seconds_between(earlier: datetime, later: datetime) -> float:
    """Seconds from `earlier` to `later` (naive or aware), never negative (clocks of two services can differ)."""
    return max(0.0, (utc(later) - utc(earlier)).total_seconds())


def ago(seconds: float) -> str:
    """'under a minute ago', '38 minutes ago', '3.5 hours ago'."""
    if seconds < 60:
        return "under a minute ago"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} minutes ago"
    return f"{seconds / 3600:.1f} hours ago"
