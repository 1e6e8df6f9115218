"""The command line's own contract: fast help, one-line usage errors with exit code 2."""

import subprocess
import sys

import pytest

from conftest import SSMLAB

HEAVY = ("boto3", "moto", "matplotlib", "diagrams", "papermill", "flask")


def test_help_is_fast_and_imports_nothing_heavy():
    code = (
        "import sys, ssmlab.cli\n"
        "try:\n    ssmlab.cli.main(['--help'])\nexcept SystemExit:\n    pass\n"
        f"print('heavy:' + ','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip().splitlines()[-1] == "heavy:"  # its time is `make bench`'s (< 1 s)


def test_every_command_is_listed_in_help():
    result = subprocess.run([SSMLAB, "--help"], capture_output=True, text=True, check=True)
    for command in ("emulator", "build", "status"):
        assert command in result.stdout


def test_usage_errors_are_one_line_with_exit_code_2():
    for args in ([], ["build"], ["status", "--lab"], ["frobnicate"], ["build", "--lab", "x", "--azs", "two"],
                 ["doctor", "--lab", "x", "--yes"]):  # --yes answers --fix's question, so alone it is a mistake
        result = subprocess.run([SSMLAB, *args], capture_output=True, text=True)
        assert result.returncode == 2, args
        assert len(result.stderr.strip().splitlines()) == 1, (args, result.stderr)
        assert result.stderr.startswith("ssmlab"), result.stderr


@pytest.mark.emulator
@pytest.mark.parametrize("args", [
    ["build", "--lab", ""],
    ["status", "--lab", ""],
    ["doctor", "--lab", ""],  # once diagnosed a lab called "doctor"
    ["cost", "--lab", ""],  # once priced without the lab
    ["cleanup", "--lab", "", "--all-labs", "--older-than", "1m"],  # once removed every lab older than a minute
    ["run", "--lab", "", "--only", "00"],  # once ran under a name of its own
])
def test_an_empty_lab_name_is_bad_input_in_every_command(emulator, args, tmp_path):
    from datetime import datetime, timezone

    from ssmlab.emulator import control
    from ssmlab.lab import Lab

    since = datetime.now(timezone.utc)
    result = emulator.cli(*args, "--output-dir", str(tmp_path / "out")) if args[0] == "run" else emulator.cli(*args)
    assert result.returncode == 2, (args, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "invalid lab name ''" in lines[0] and "1-24 lowercase letters" in lines[0], lines
    calls = control.calls(Lab("probe"), all_labs=True, since=since)["calls"]
    assert calls == [], calls  # nothing asked of the emulator, let alone created
    assert not (tmp_path / "out").exists()
