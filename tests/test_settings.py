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


def test_a_participant_on_jupyterhub_gets_a_lab_named_after_them(monkeypatch):
    """In a class each kernel runs with JUPYTERHUB_USER: notebooks whose lab_name is left empty act on a lab of
    that participant's own; SSMLAB_LAB, when set, wins; without either the lab is demo."""
    from ssmlab import notebook

    for name in ("SSMLAB_LAB", "JUPYTERHUB_USER"):
        monkeypatch.delenv(name, raising=False)
    assert notebook.start("", "eu-west-1", "emulator").name == "demo"
    monkeypatch.setenv("JUPYTERHUB_USER", "Alice.Smith")
    assert notebook.start("", "eu-west-1", "emulator").name == settings.lab_name_for_user("Alice.Smith")
    assert notebook.start("bob", "eu-west-1", "emulator").name == "bob"  # a name given is used as given
    monkeypatch.setenv("SSMLAB_LAB", "workshop-7")
    assert notebook.start("", "eu-west-1", "emulator").name == "workshop-7"


def test_user_names_become_valid_distinct_lab_names():
    names = ["alice", "Alice.Smith", "alice_smith", "alice-smith", "123", "ü", "a" * 40, "x.y@example.com"]
    made = [settings.lab_name_for_user(n) for n in names]
    assert made[0] == "alice" and made[3] == "alice-smith"  # valid names stay as they are
    assert all(Lab(m, "eu-west-1", "emulator").name == m for m in made)  # all valid
    assert len(set(made)) == len(made)  # and distinct: two participants never share a lab
    assert made[1].startswith("alice-smith-") and made[4].startswith("u-123-") and len(made[6]) == 24
    assert settings.lab_name_for_user("") is None
