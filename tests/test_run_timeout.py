"""A run that times out or fails still removes the lab: the cleanup notebook runs with at least the
target's default timeouts, the library's teardown stands in when it fails anyway, and the timeout is
one line naming the notebook, the cell and the limit."""

from __future__ import annotations

import json
import re

import pytest

from builders import write_notebook
from ssmlab import build, runner, teardown
from ssmlab.lab import Lab
from ssmlab.teardown.fallback import Fallback, left_line

LAB = Lab("runner-test", "ap-northeast-1", "emulator")  # never contacted by the tests without the emulator


def test_a_cell_out_of_time_is_named_and_the_cleanup_gets_the_default_timeouts(tmp_path):
    folder = tmp_path / "nb"
    folder.mkdir()
    write_notebook(folder, "00_slow", "import time", "time.sleep(30)  # the build step that hangs", "never = 1")
    write_notebook(folder, "10_cleanup", "import time", "time.sleep(1.5)  # longer than --cell-timeout, well within 120 s",
          "from ssmlab import notebook\nnotebook.record('alive', True)")
    results = runner.run(LAB, runner.discover(folder), tmp_path / "out", cell_timeout=0.5)
    assert [(r.name, r.status) for r in results] == [("00_slow", "FAILED"), ("10_cleanup", "ok")]
    failure = results[0].failure
    assert (failure.cell, failure.first_line, failure.error, failure.timed_out) == (
        4, "time.sleep(30)  # the build step that hangs", "the cell ran longer than --cell-timeout 0.5 s", True)
    assert results[0].seconds < 15 and results[1].recorded["alive"] is True
    assert runner.failure_lines(results, LAB) == [
        "00_slow timed out at cell 4 ('time.sleep(30)  # the build step that hangs'): the cell ran longer than "
        f"--cell-timeout 0.5 s (executed notebook: {tmp_path / 'out' / '00_slow.ipynb'})"]


def test_the_cleanup_keeps_longer_timeouts_given_for_a_slow_account():
    assert runner.cleanup_timeouts("emulator", 1, 2) == runner.DEFAULT_TIMEOUTS["emulator"]
    assert runner.cleanup_timeouts("aws", 5000, 100) == (5000, 3600)


def test_after_a_failure_one_line_names_the_command_that_removes_what_is_left():
    lab = Lab("alice", "eu-west-1", "aws")
    command = "ssmlab cleanup --lab alice --region eu-west-1 --target aws"
    assert left_line(lab, None, ran_cleanup=True) is None
    assert left_line(lab, Fallback(deleted=11), ran_cleanup=True) is None
    assert left_line(lab, None, ran_cleanup=False) == (
        f"lab alice is left as the run made it (the cleanup notebook was not part of it): {command} removes it")
    many = Fallback(deleted=7, failed=4, left=("VPC vpc-1", "subnet subnet-2", "security group sg-3", "role alice-r"))
    assert left_line(lab, many, ran_cleanup=True) == (
        f"lab alice: 4 resource(s) left (VPC vpc-1, subnet subnet-2, security group sg-3 and 1 more); {command} removes them")
    assert left_line(lab, Fallback(error="ExpiredToken: log in again"), ran_cleanup=True) == (
        f"lab alice may be left: ssmlab's teardown could not run (ExpiredToken: log in again); {command} removes it")


@pytest.mark.emulator
@pytest.mark.parametrize("broken", ["raise RuntimeError('the cleanup notebook broke')", "import os\nos._exit(1)"],
                         ids=["error", "dead-kernel"])
def test_a_failed_cleanup_notebook_falls_back_to_the_librarys_teardown(emulator, tmp_path, broken):
    lab = Lab("fallback-" + ("dead" if "_exit" in broken else "error"), "ap-northeast-1", "emulator")
    assert len(build.build(lab, until="network").created) == 3
    folder = tmp_path / "nb"
    folder.mkdir()
    write_notebook(folder, "10_cleanup", broken)
    said: list[str] = []
    results = runner.run(lab, runner.discover(folder), tmp_path / "out", say=said.append)
    assert results[0].status == "FAILED" and results[0].removal == Fallback(deleted=3, failed=0, left=())
    assert said == [f"10_cleanup did not remove lab {lab.name}: removing it with ssmlab's own teardown instead, "
                    "as `ssmlab cleanup` does", "audit: nothing carries this lab's tag any more"]
    assert teardown.audit(lab) == []
    assert len(runner.failure_lines(results, lab)) == 1  # the cleanup notebook's failure; nothing left to name


@pytest.mark.emulator
def test_a_run_out_of_time_exits_1_with_one_line_and_leaves_nothing(emulator, tmp_path):
    name = "timeout-run"
    assert emulator.cli("build", "--lab", name, "--until", "network").returncode == 0
    done = emulator.cli("run", "--lab", name, "--only", "01", "--only", "11", "--cell-timeout", "0.05",
                        "--output-dir", str(tmp_path / "build"))
    assert done.returncode == 1, (done.stdout, done.stderr)
    lines = done.stderr.splitlines()
    assert len(lines) == 1, lines
    assert re.fullmatch(r"ssmlab: 01_network timed out at (cell \d+|a cell) \('.+'\): the cell ran longer than "
                        r"--cell-timeout 0\.05 s \(executed notebook: .+01_network\.ipynb\)", lines[0]), lines[0]
    assert "KeyboardInterrupt" not in done.stdout + done.stderr
    assert re.search(r"11_cleanup +ok", done.stdout), done.stdout
    status = json.loads(emulator.cli("status", "--lab", name, "--json").stdout)
    assert {s["status"] for s in status["steps"]} == {"missing"}, status
    assert teardown.audit(Lab(name, "ap-northeast-1", "emulator")) == []
