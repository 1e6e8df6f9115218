"""A class at a glance: `classroom` makes one row per participant's lab from hand-built states (pure), and
`ssmlab class status` / `ssmlab class cleanup` read and remove every lab of a region on the emulator."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace

import pytest

from ssmlab import classroom, status
from ssmlab.build import BuildOptions, build
from ssmlab.doctor import Diagnosis, Finding
from ssmlab.emulator import control
from ssmlab.findings import advice
from ssmlab.emulator.agent import AGENT_START_DELAY
from ssmlab.lab import Lab
from tests.builders import LAB, kit_lab

NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.timezone.utc)


def step(name, state=status.COMPLETE):
    return status.StepStatus(name, state, "")


def test_how_far_a_lab_got_is_the_furthest_step_complete_with_all_before_it():
    core = ["network", "security-groups", "endpoints", "iam", "instance"]
    assert classroom.reached([step(s) for s in core] + [step("session-logging", status.MISSING)]) == "instance"
    assert classroom.reached([step("network"), step("security-groups", status.PARTIAL), step("endpoints")]) == "network"
    assert classroom.reached([step("network", status.MISSING)]) == classroom.NOTHING_YET


def test_a_participants_row_from_the_snapshot_the_doctor_judged():
    state = kit_lab()
    broken = Diagnosis("i-1", state.region, False, (
        Finding("ENDPOINT_SG_BLOCKS_HTTPS", "error", "sg-endpoints", "no inbound 443", advice("allow 443 in")),
        Finding("REBOOT_RECOMMENDED", "info", "i-1", "reboot", advice("reboot")),
    ), state=state)
    row = classroom.participant(state, [broken], "ConnectionLost", 0.028, NOW)
    assert row.lab == LAB and row.instance_id == "i-1" and row.errors == ("ENDPOINT_SG_BLOCKS_HTTPS",)
    assert row.resources == len(state.vpcs) + len(state.subnets) + 2 + len(state.endpoints) + len(state.instances)
    shown = classroom.to_json([row], state.region, NOW)
    assert shown["participants"][0]["ping_status"] == "ConnectionLost" and shown["usd_per_hour"] == 0.028
    assert shown["participants"][0]["last_activity"] == NOW.isoformat()
    table = classroom.text([row, replace(row, lab="bob", ping_status=None, errors=(), last_activity=None)], state.region)
    assert f"{LAB}" in table and "ENDPOINT_SG_BLOCKS_HTTPS" in table and "not registered" in table
    assert table.endswith("2 labs in ap-northeast-1: $0.056 per hour on AWS")
    assert classroom.text([], "eu-west-1") == "no lab in eu-west-1"


@pytest.mark.emulator
def test_class_status_lists_every_lab_and_class_cleanup_removes_them_all(emulator):
    region = "ap-south-1"  # no other emulator test builds here
    alice, bob = Lab("cl-alice", region, "emulator"), Lab("cl-bob", region, "emulator")
    build(alice, BuildOptions())
    build(bob, BuildOptions(), until="network")
    control.advance_clock(alice, AGENT_START_DELAY + 5)
    shown = emulator.cli("class", "status", "--region", region, "--json")
    assert shown.returncode == 0, shown.stderr
    rows = {r["lab"]: r for r in json.loads(shown.stdout)["participants"]}
    assert set(rows) == {"cl-alice", "cl-bob"}
    assert rows["cl-alice"]["reached"] == "instance" and rows["cl-alice"]["ping_status"] == "Online"
    assert rows["cl-alice"]["errors"] == [] and rows["cl-alice"]["usd_per_hour"] > 0
    assert rows["cl-bob"]["reached"] == "network" and rows["cl-bob"]["ping_status"] is None
    assert rows["cl-bob"]["errors"] == ["INSTANCE_NOT_FOUND"] and rows["cl-bob"]["usd_per_hour"] == 0
    assert all(r["last_activity"] for r in rows.values())
    again = json.loads(emulator.cli("class", "status", "--region", region, "--json").stdout)
    assert {r["lab"]: r["last_activity"] for r in again["participants"]} == {
        name: r["last_activity"] for name, r in rows.items()}  # the report's own reads are no one's activity
    text = emulator.cli("class", "status", "--region", region)
    assert "every lab in ap-south-1" in text.stdout and "2 labs in ap-south-1" in text.stdout

    removed = emulator.cli("class", "cleanup", "--region", region, "--yes", "--json")
    assert removed.returncode == 0, removed.stderr
    assert json.loads(removed.stdout)["labs"] == ["cl-alice", "cl-bob"]  # bob's bare network too (it has no age)
    after = json.loads(emulator.cli("class", "status", "--region", region, "--json").stdout)
    assert after["participants"] == []
