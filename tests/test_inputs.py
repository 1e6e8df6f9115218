"""The instance type is checked with the build's other inputs, before anything exists: it must be
offered in the lab's first AZ (DescribeInstanceTypeOfferings) and run the AMI's architecture."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from ssmlab import build
from ssmlab.emulator import control
from ssmlab.errors import BadInput
from ssmlab.lab import Lab

pytestmark = pytest.mark.emulator

WRITES = ("Create", "Run", "Put", "Attach", "Add", "Modify", "Authorize", "Associate", "Tag")


@pytest.mark.parametrize("instance_type, expected", [
    ("t9.bogus", "invalid instance type 't9.bogus': expected an instance type offered in ap-northeast-1a, e.g. "
                 "t3.micro (see aws ec2 describe-instance-type-offerings --location-type availability-zone "
                 "--filters Name=location,Values=ap-northeast-1a --region ap-northeast-1)"),
    ("t4g.micro", "invalid instance type 't4g.micro': it runs arm64 and the lab's AMI (Amazon Linux 2023) is x86_64; "
                  "expected an x86_64 instance type offered in ap-northeast-1a, e.g. t3.micro"),
])
def test_a_bad_instance_type_is_one_line_exit_2_and_nothing_is_created(emulator, instance_type, expected):
    name = "itype-" + instance_type.split(".")[0]
    since = datetime.now(timezone.utc)
    done = emulator.cli("build", "--lab", name, "--region", "ap-northeast-1", "--instance-type", instance_type)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stderr.splitlines() == [f"ssmlab: error: {expected}"]
    lab = Lab(name, "ap-northeast-1", "emulator")
    actions = [c["action"] for c in control.calls(lab, since=since)["calls"]]
    assert "DescribeInstanceTypeOfferings" in actions and not [a for a in actions if a.startswith(WRITES)], actions
    status = json.loads(emulator.cli("status", "--lab", name, "--region", "ap-northeast-1", "--json").stdout)
    assert {s["status"] for s in status["steps"]} == {"missing"}, status


def test_the_example_is_one_offered_in_that_zone(emulator):
    """us-east-1e offers no t3.micro (nor does moto's copy of the offerings): the check says so for 1e."""
    lab = Lab("itype-east", "us-east-1", "emulator")
    with pytest.raises(BadInput, match=r"invalid instance type 't3.micro': expected an instance type offered in "
                                       r"us-east-1e, e.g. t2.micro \(see"):
        build.check_instance_type(lab, "t3.micro", "us-east-1e")
    build.check_instance_type(lab, "t3.micro", "us-east-1a")


def test_the_type_is_checked_only_when_the_instance_step_runs_and_then_once(emulator):
    lab = Lab("itype-once", "ap-northeast-1", "emulator")
    assert build.validate(lab, build.BuildOptions(instance_type="t9.bogus"), ("network",)) == ["ap-northeast-1a"]
    build._ACCEPTED.clear()
    since = datetime.now(timezone.utc)
    for _ in range(3):  # as each notebook's ensure() does, in one kernel
        build.validate(lab, build.BuildOptions(instance_type="m5.large"))
    actions = [c["action"] for c in control.calls(lab, since=since)["calls"]]
    assert actions.count("DescribeInstanceTypeOfferings") == 1 and actions.count("DescribeInstanceTypes") == 1
