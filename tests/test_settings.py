"""The environment ssmlab reads: one settings object that follows the environment as it changes."""

import subprocess
import sys

import pytest

from ssmlab import settings
from ssmlab.lab import Lab


def test_settings_follow_the_environment_and_are_built_once_per_environment(monkeypatch):
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    first = settings.current()
    assert settings.current() is first  # nothing changed: the same object, not read again
    monkeypatch.setenv("AWS_REGION", "us-west-2")  # a notebook's %env between two cells
    assert settings.current().region == "us-west-2"
    assert Lab("demo").region == "us-west-2"


def test_a_malformed_emulator_setting_fails_only_where_it_is_used(monkeypatch):
    from ssmlab.emulator import faults

    monkeypatch.setenv("SSMLAB_FAULTS", "rate=0.1")
    monkeypatch.setenv("SSMLAB_TIME_SCALE", "fast")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    assert Lab("demo").region == "eu-west-1"  # a build, a doctor or a cleanup still runs
    with pytest.raises(ValueError, match=r"invalid \$SSMLAB_FAULTS"):
        faults.from_environ()  # the emulator's start refuses it


def test_reading_the_settings_imports_no_aws_library():
    code = ("import ssmlab.settings, sys; s = ssmlab.settings.current(); "
            "heavy = [m for m in ('boto3', 'botocore', 'moto') if m in sys.modules]; assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)
