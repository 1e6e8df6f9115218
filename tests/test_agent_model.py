"""The simulated agent's timing, with hand-made assessments (no emulator, no network)."""

from dataclasses import dataclass, field

import pytest

from ssmlab.emulator.agent import (
    AGENT_START_DELAY, CHANNEL_RETRY, CREDENTIAL_REFRESHER_SLEEP, PING_INTERVAL, RETRY_BACKOFF, Agent,
)
from ssmlab.emulator.clock import SimClock


@dataclass
class FakeCheck:
    passed: bool
    detail: str = ""
    code: str | None = None


@dataclass
class FakePath:
    reachable: bool


@dataclass
class FakeAssessment:
    credentials: FakeCheck = field(default_factory=lambda: FakeCheck(True))
    registration: FakeCheck = field(default_factory=lambda: FakeCheck(True))
    control_channel: FakeCheck = field(default_factory=lambda: FakeCheck(True))
    ssm_path: object = None
    channel_paths: dict = field(default_factory=lambda: {"ssmmessages": FakePath(True), "ec2messages": FakePath(True)})


def agent(version="3.3.1957.0"):
    return Agent("i-1", "ap-northeast-1", "123456789012", version, {}, next_at=AGENT_START_DELAY)


def run(a, assessment, until):
    """Step the agent at each due time up to `until`; returns the attempt times."""
    times = []
    while a.next_at <= until:
        times.append(a.next_at)
        a.step(a.next_at, lambda: assessment)
    return times


def test_registers_at_start_then_pings_every_five_minutes():
    a = agent()
    times = run(a, FakeAssessment(), until=AGENT_START_DELAY + 3 * PING_INTERVAL)
    assert times == [AGENT_START_DELAY + n * PING_INTERVAL for n in range(4)]
    assert a.ping_status == "Online" and a.registered_at == AGENT_START_DELAY and a.control_channel == "ssmmessages"


def test_unreachable_service_is_retried_with_a_bounded_backoff():
    a = agent()
    blocked = FakeAssessment(registration=FakeCheck(False, "ssm unreachable", "ENDPOINT_MISSING"))
    times = run(a, blocked, until=AGENT_START_DELAY + 3600)
    gaps = [b - x for x, b in zip(times, times[1:])]
    assert gaps[: len(RETRY_BACKOFF)] == list(RETRY_BACKOFF)
    assert max(gaps) == RETRY_BACKOFF[-1]
    assert a.ping_status is None and a.last_reason.startswith("ssm unreachable")


def test_no_credentials_puts_the_refresher_to_sleep_and_a_restart_wakes_it():
    a = agent()
    missing = FakeAssessment(credentials=FakeCheck(False, "no instance profile", "NO_INSTANCE_PROFILE"))
    run(a, missing, until=AGENT_START_DELAY)
    assert a.phase == "no-credentials" and a.next_at == AGENT_START_DELAY + CREDENTIAL_REFRESHER_SLEEP
    a.restart(100.0, "rebooted")
    assert a.next_at == 100.0 + AGENT_START_DELAY
    run(a, FakeAssessment(), until=a.next_at)
    assert a.ping_status == "Online"


def test_ping_failure_is_connection_lost_and_recovery_is_online():
    a = agent()
    run(a, FakeAssessment(), until=AGENT_START_DELAY)
    run(a, FakeAssessment(registration=FakeCheck(False, "blocked")), until=AGENT_START_DELAY + PING_INTERVAL)
    assert a.ping_status == "ConnectionLost" and a.control_channel is None
    run(a, FakeAssessment(), until=a.next_at)
    assert a.ping_status == "Online"


def test_a_node_without_a_channel_retries_the_channel_every_minute():
    a = agent()
    run(a, FakeAssessment(control_channel=FakeCheck(False, "ssmmessages unreachable")), until=AGENT_START_DELAY)
    assert a.online and a.control_channel is None and a.next_at == AGENT_START_DELAY + CHANNEL_RETRY


def test_an_old_agent_holds_its_channel_on_ec2messages():
    a = agent("3.2.582.0")
    run(a, FakeAssessment(), until=AGENT_START_DELAY)
    assert a.control_channel == "ec2messages"


def test_a_stopped_agent_does_nothing():
    a = agent()
    run(a, FakeAssessment(), until=AGENT_START_DELAY)
    a.stop(50.0, "stopped")
    assert a.ping_status == "ConnectionLost" and a.next_at == float("inf")


def test_the_clock_runs_scaled_and_jumps_forward_only():
    wall = iter([1000.0])
    ticks = iter([0.0, 2.0, 2.0, 2.0])
    clock = SimClock(10, wall=lambda: next(wall), monotonic=lambda: next(ticks))
    assert clock.now() == 1020.0
    assert clock.advance(60) == 1080.0
    with pytest.raises(ValueError):
        clock.advance(-1)
    with pytest.raises(ValueError):
        SimClock(0)
