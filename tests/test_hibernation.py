"""The agent's hibernation schedule (aws/amazon-ssm-agent, agent/hibernation/hibernation.go)."""

from datetime import datetime, timedelta, timezone

from ssmlab import hibernation


def test_the_pings_follow_the_agents_back_off_steps():
    minutes = [p / 60 for p in hibernation.pings(6 * 3600)]
    assert minutes == [5, 15, 25, 35, 55, 75, 95, 135, 175, 215, 275, 335]
    assert [s.log_line for s in hibernation.steps()] == [
        f"Backing off health check to every {n} seconds for {3 * n} seconds." for n in (600, 1200, 2400, 3600)
    ]


def test_the_next_ping_after_any_moment():
    assert hibernation.next_ping(0) == 300
    assert hibernation.next_ping(300) == 900  # a ping due now is not "next"
    assert hibernation.next_ping(38 * 60) == 55 * 60
    assert hibernation.next_ping(10 * 3600) == (215 + 7 * 60) * 60  # hourly for good


def test_the_estimate_is_read_from_the_launch_time_and_the_services_clock():
    now = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)
    text = hibernation.next_attempt(now - timedelta(minutes=3), now)
    assert "launched 3 minutes ago, its next attempt is in about 2 minutes" in text
    assert hibernation.next_attempt(None, now).startswith("it pings again 5 minutes after it starts")
