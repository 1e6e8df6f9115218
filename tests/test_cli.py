"""The command line's own contract: fast help, one-line usage errors with exit code 2."""

import subprocess
import sys
import time

from conftest import SSMLAB

HEAVY = ("boto3", "moto", "matplotlib", "diagrams", "papermill", "flask")


def test_help_is_fast_and_imports_nothing_heavy():
    code = (
        "import sys, ssmlab.cli\n"
        "try:\n    ssmlab.cli.main(['--help'])\nexcept SystemExit:\n    pass\n"
        f"print('heavy:' + ','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip().splitlines()[-1] == "heavy:"
    started = time.monotonic()
    subprocess.run([SSMLAB, "--help"], capture_output=True, check=True)
    assert time.monotonic() - started < 1.0


def test_every_command_is_listed_in_help():
    result = subprocess.run([SSMLAB, "--help"], capture_output=True, text=True, check=True)
    for command in ("emulator", "build", "status"):
        assert command in result.stdout


def test_usage_errors_are_one_line_with_exit_code_2():
    for args in ([], ["build"], ["status", "--lab"], ["frobnicate"], ["build", "--lab", "x", "--azs", "two"]):
        result = subprocess.run([SSMLAB, *args], capture_output=True, text=True)
        assert result.returncode == 2, args
        assert len(result.stderr.strip().splitlines()) == 1, (args, result.stderr)
        assert result.stderr.startswith("ssmlab"), result.stderr
