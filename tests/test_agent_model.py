"""The simulated agent's timing, with hand-made assessments (no emulator, no network)."""

import pytest

from builders import FakeAssessment, FakeCheck
from ssmlab.emulator.agent import AGENT_START_DELAY, CHANNEL_RETRY, CREDENTIAL_REFRESHER_SLEEP, PING_INTERVAL, Agent
from ssmlab.emulator.clock import SimClock


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


def main_log(a):
    return a.files.to_json()["/var/log/amazon/ssm/amazon-ssm-agent.log"]


def hibernate_log(a):
    return a.files.to_json()["/var/log/amazon/ssm/hibernate.log"]


def test_an_agent_that_cannot_reach_ssm_at_start_hibernates_on_the_real_schedule():
    a = agent()
    blocked = FakeAssessment(registration=FakeCheck(False, "ssm unreachable", "ENDPOINT_MISSING"))
    times = run(a, blocked, until=AGENT_START_DELAY + 4 * 3600)
    minutes = [round((t - AGENT_START_DELAY) / 60) for t in times]
    # agent/hibernation/hibernation.go: 5 min, then every 10 for 30, every 20 for 60, every 40 for 120, then hourly
    assert minutes == [0, 5, 15, 25, 35, 55, 75, 95, 135, 175, 215]
    assert a.phase == "hibernating" and a.ping_status is None
    assert any("INFO [ssm-agent-worker] Entering SSM Agent hibernate - RequestError: send request failed" in line
               for line in main_log(a))
    lines = [line.split(" ", 2)[2] for line in hibernate_log(a)]
    assert lines[0] == ("INFO Agent is in hibernate mode. Reducing logging. "
                        "Logging will be reduced to one log per backoff period")
    assert [line for line in lines if line.startswith("INFO Backing")] == [
        "INFO Backing off health check to every 600 seconds for 1800 seconds.",
        "INFO Backing off health check to every 1200 seconds for 3600 seconds.",
        "INFO Backing off health check to every 2400 seconds for 7200 seconds.",
        "INFO Backing off health check to every 3600 seconds for 10800 seconds.",
    ]
    # one failure logged per back-off period, not one per ping
    assert sum(line.startswith("ERROR Health ping failed with error - RequestError") for line in lines) == 4


def test_the_first_hibernation_ping_that_works_starts_the_agent_and_a_reboot_starts_over():
    a = agent()
    blocked = FakeAssessment(registration=FakeCheck(False, "ssm unreachable", "ENDPOINT_MISSING"))
    run(a, blocked, until=AGENT_START_DELAY + 20 * 60)  # pings at 0, 5 and 15 minutes failed
    assert a.next_at == AGENT_START_DELAY + 25 * 60
    run(a, FakeAssessment(), until=a.next_at)
    assert a.ping_status == "Online" and a.registered_at == AGENT_START_DELAY + 25 * 60 and a.phase == "online"
    b = agent()
    run(b, blocked, until=AGENT_START_DELAY + 20 * 60)
    b.restart(AGENT_START_DELAY + 21 * 60, "the instance was rebooted")
    run(b, FakeAssessment(), until=b.next_at)
    assert b.registered_at == AGENT_START_DELAY + 21 * 60 + AGENT_START_DELAY  # at once, not at 25 minutes


def test_an_open_control_channel_survives_a_security_group_change_until_the_agent_reconnects():
    a = agent()
    run(a, FakeAssessment(), until=AGENT_START_DELAY)
    refused = FakeAssessment(registration=FakeCheck(False, "blocked", "ENDPOINT_SG_BLOCKS_HTTPS"),
                             control_channel=FakeCheck(False, "blocked", "ENDPOINT_SG_BLOCKS_HTTPS"))
    run(a, refused, until=AGENT_START_DELAY + PING_INTERVAL)
    assert a.ping_status == "ConnectionLost" and a.control_channel == "ssmmessages" and a.holds_channel(refused)
    a.restart(AGENT_START_DELAY + PING_INTERVAL + 1, "the instance was rebooted")
    run(a, refused, until=a.next_at)
    assert a.control_channel is None and not a.holds_channel(refused)


def test_a_deleted_endpoint_cuts_the_open_channel():
    a = agent()
    run(a, FakeAssessment(), until=AGENT_START_DELAY)
    gone = FakeAssessment(control_channel=FakeCheck(False, "ssmmessages has no endpoint", "ENDPOINT_MISSING"))
    assert not a.holds_channel(gone)
    run(a, gone, until=AGENT_START_DELAY + PING_INTERVAL)
    assert a.ping_status == "Online" and a.control_channel is None and a.phase == "no-channel"
    assert any("failed to reconnect to the control channel" in line for line in main_log(a))


def test_no_credentials_puts_the_refresher_to_sleep_and_a_restart_wakes_it():
    a = agent()
    missing = FakeAssessment(credentials=FakeCheck(False, "no instance profile", "NO_INSTANCE_PROFILE"))
    run(a, missing, until=AGENT_START_DELAY)
    assert a.phase == "no-credentials" and a.next_at == AGENT_START_DELAY + CREDENTIAL_REFRESHER_SLEEP
    assert main_log(a)[-1].endswith("INFO [amazon-ssm-agent] [CredentialRefresher] Sleeping for 30m0s before "
                                    "retrying retrieve credentials")
    a.restart(100.0, "rebooted")
    assert a.next_at == 100.0 + AGENT_START_DELAY
    run(a, FakeAssessment(), until=a.next_at)
    assert a.ping_status == "Online"


def test_ping_failure_is_connection_lost_and_recovery_is_online():
    a = agent()
    run(a, FakeAssessment(), until=AGENT_START_DELAY)
    run(a, FakeAssessment(registration=FakeCheck(False, "blocked")), until=AGENT_START_DELAY + PING_INTERVAL)
    assert a.ping_status == "ConnectionLost" and a.next_at == AGENT_START_DELAY + 2 * PING_INTERVAL
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
