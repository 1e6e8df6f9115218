"""`teardown.cleanup`'s report and its rule for asking, over hand-built removals (no AWS): what `ssmlab cleanup
--json` prints, the exit code, and when a person must say yes. The command itself runs in test_teardown.py."""

from __future__ import annotations

import ast
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from builders import lab_resources
from ssmlab import obstacles, teardown
from ssmlab.lab import Lab
from ssmlab.model import FoundLab
from ssmlab.teardown import CleanupReport, Leftover, Outcome, Removal

ON_EMULATOR = Lab("alice", "eu-west-1", "emulator")
ON_AWS = Lab("alice", "eu-west-1", "aws")


def planned(lab: Lab = ON_EMULATOR) -> Removal:
    resources = lab_resources()
    return Removal(lab, teardown.plan(resources), obstacles.notes(resources))


def ran(removal: Removal, *left: Leftover) -> Removal:
    removal.outcomes = [Outcome(d, "deleted") for d in removal.deletions]
    removal.left = list(left)
    return removal


def test_a_cleanup_that_leaves_nothing_exits_0_with_every_call_in_the_json():
    removal = ran(planned())
    report = CleanupReport("eu-west-1", "emulator", dry_run=False, removals=[removal])
    document = json.loads(json.dumps(report.to_json()))
    assert report.exit_code == 0 and document["ok"] is True
    assert list(document) == ["region", "target", "dry_run", "labs", "ok"]
    (entry,) = document["labs"]
    assert list(entry) == ["lab", "plan", "notes", "outcomes", "left"]
    assert entry["lab"] == "alice" and entry["left"] == []
    assert [o["call"] for o in entry["outcomes"]] == [d["call"] for d in entry["plan"]]
    assert entry["outcomes"][0] == {"status": "deleted", "kind": "session", "id": "alice-0123",
                                    "call": "ssm.terminate_session", "detail": ""}


def test_anything_left_in_any_lab_makes_it_exit_1_and_names_what():
    clean, dirty = ran(planned()), ran(planned(), Leftover("VPC", "vpc-1"))
    report = CleanupReport("eu-west-1", "emulator", dry_run=False, removals=[clean, dirty])
    assert report.exit_code == 1 and report.to_json()["ok"] is False
    assert report.to_json()["labs"][1]["left"] == [{"kind": "VPC", "id": "vpc-1"}]


def test_a_dry_run_shows_the_plan_and_no_outcomes_and_is_ok():
    report = CleanupReport("eu-west-1", "emulator", dry_run=True, removals=[planned()])
    entry = report.to_json()["labs"][0]
    assert report.exit_code == 0 and "outcomes" not in entry and entry["plan"][-1]["call"] == "iam.delete_role"


def test_a_cleanup_stopped_for_a_yes_reports_the_plan_but_no_verdict():
    report = CleanupReport("eu-west-1", "aws", dry_run=False, removals=[planned(ON_AWS)], stopped=True)
    assert "ok" not in report.to_json() and report.to_json()["labs"][0]["plan"]


def test_all_labs_lists_every_lab_found_with_whether_it_goes():
    now = datetime(2026, 1, 1, 12, tzinfo=timezone.utc)
    found = [FoundLab("old", now - timedelta(hours=5)), FoundLab("bare", None)]
    report = CleanupReport("eu-west-1", "emulator", dry_run=True, found=found, older_than=timedelta(hours=3), now=now)
    assert report.to_json()["found"] == [{"name": "old", "created": "2026-01-01T07:00:00+00:00", "remove": True},
                                         {"name": "bare", "created": None, "remove": False}]
    assert list(report.to_json()) == ["region", "target", "dry_run", "labs", "found", "ok"]


@pytest.mark.parametrize("lab, yes, dry_run, empty, expected", [
    (ON_AWS, False, False, False, True),  # a real account, something to delete: a person says yes
    (ON_AWS, True, False, False, False),  # --yes said it
    (ON_AWS, False, True, False, False),  # a dry run deletes nothing
    (ON_AWS, False, False, True, False),  # nothing to delete
    (ON_EMULATOR, False, False, False, False),  # nothing real is deleted
])
def test_only_a_real_account_with_something_to_delete_asks(lab, yes, dry_run, empty, expected):
    removal = planned(lab)
    if empty:
        removal.deletions = []
    assert teardown.asks(removal, yes=yes, dry_run=dry_run) is expected


def test_the_plan_is_pure_it_imports_no_aws_code():
    source = Path(teardown.plan.__code__.co_filename).read_text()
    imported = {node.module for node in ast.walk(ast.parse(source)) if isinstance(node, ast.ImportFrom)}
    imported |= {a.name for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Import) for a in node.names}
    forbidden = ("boto3", "botocore", "ssmlab.aws", "ssmlab.lab", "ssmlab.inventory", "ssmlab.steps")
    assert not [m for m in imported if m and m.startswith(forbidden)], imported
