"""On target aws a notebook's fast-forward is a real wait: its loop, its progress bar and what it says
of the agent's next ping, all without AWS and without sleeping (the clock and the sleep are injected)."""

from __future__ import annotations

import datetime as dt

import pytest

from ssmlab import managed, notebook, realtime
from ssmlab.lab import Lab

NOW = dt.datetime(2026, 11, 29, 12, 0, 0, tzinfo=dt.timezone.utc)


class FakeTime:
    def __init__(self):
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Bar:
    made: list["Bar"] = []

    def __init__(self, total, desc, unit):
        self.total, self.desc, self.n, self.updates = total, desc, 0, []
        Bar.made.append(self)

    def update(self, by):
        self.n += by
        self.updates.append(self.n)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_the_wait_lasts_the_seconds_asked_and_fills_its_bar_second_by_second():
    fake = FakeTime()
    waited = realtime.wait(6 * 60, "the next ping goes through", clock=fake.clock, sleep=fake.sleep, bar=Bar)
    bar = Bar.made[-1]
    assert waited == pytest.approx(360) and sum(fake.sleeps) == pytest.approx(360)
    assert max(fake.sleeps) <= 1.0  # the bar moves every second
    assert bar.total == 360 and bar.n == 360 and bar.updates[:3] == [1, 2, 3] and bar.desc == "the next ping goes through"


def test_a_fractional_wait_is_not_rounded_up_in_time():
    fake = FakeTime()
    realtime.wait(2.5, "x", clock=fake.clock, sleep=fake.sleep, bar=Bar)
    assert sum(fake.sleeps) == pytest.approx(2.5) and Bar.made[-1].n == 3


@pytest.mark.parametrize("last_ping, seconds, said", [
    (NOW - dt.timedelta(minutes=2), 6 * 60, "next ping expected about 12:03:00 UTC, before this wait ends"),
    (NOW - dt.timedelta(seconds=30), 60, "next ping expected about 12:04:30 UTC, after this wait ends"),
    (NOW - dt.timedelta(minutes=12), 60, "the next ping was due at 11:53:00 UTC, 7 min ago"),
])
def test_the_agents_next_ping_is_its_last_plus_five_minutes(last_ping, seconds, said):
    text = realtime.ping_text("i-1", True, last_ping, NOW, NOW + dt.timedelta(seconds=seconds))
    assert said in text and "pings every 5 minutes" in text


def test_an_unknown_node_has_no_ping_to_time_from():
    assert "not a managed node yet" in realtime.ping_text("i-1", False, None, NOW, NOW)


def test_fast_forward_on_aws_waits_in_real_time_and_says_the_next_ping(monkeypatch, capsys):
    lab = Lab("waits", "eu-west-1", "aws")
    last = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=1)
    monkeypatch.setattr(managed, "node_information", lambda lab, instance_id: {"LastPingDateTime": last})
    waits = []
    monkeypatch.setattr(realtime, "wait", lambda seconds, description: waits.append(seconds))
    notebook.fast_forward(lab, 6 * 60, "the agent pings every 5 minutes; this ping times out", "i-0abc")
    out = capsys.readouterr().out
    assert waits == [360]
    assert "on real AWS this takes 6 min of real time" in out and "this ping times out" in out
    expected = (last + dt.timedelta(minutes=5)).strftime("%H:%M:%S UTC")
    assert f"i-0abc: next ping expected about {expected}, before this wait ends" in out


@pytest.mark.parametrize("target, ping_status, skipped", [
    ("emulator", None, [30.0]),  # just launched: the simulated clock skips the agent's start-up
    ("emulator", "Online", []),  # already managed: nothing to skip
    ("aws", None, []),  # a real account: only the condition is waited for, no fixed real-time wait first
])
def test_waiting_until_managed_waits_on_the_condition(monkeypatch, target, ping_status, skipped):
    from ssmlab.emulator import control

    moved = []
    monkeypatch.setattr(control, "advance_clock", lambda lab, seconds: moved.append(seconds))
    monkeypatch.setattr(realtime, "pass_time", lambda *a: pytest.fail("no real-time wait before the condition"))
    monkeypatch.setattr(managed, "node_information", lambda lab, i: {"PingStatus": ping_status} if ping_status else None)
    monkeypatch.setattr(managed, "wait_until_managed", lambda lab, i: f"{i} Online")
    assert notebook.wait_until_managed(Lab("waits", "eu-west-1", target), "i-0abc") == "i-0abc Online"
    assert moved == skipped
