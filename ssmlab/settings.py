"""The environment ssmlab reads, in one place: which variables, their precedence, their defaults.

`current()` is the one accessor. It builds a frozen `Settings` from `os.environ` and keeps
it while the variables it reads stay as they are; when one changes, the next call builds
anew. The environment does change inside a process: the emulator announces its own URL to
its simulated agents, a notebook sets `%env AWS_REGION`, a test calls
`monkeypatch.setenv`. So nothing needs resetting, in tests or elsewhere, and a value is
never stale. Code that writes an environment for a child process writes a dict, with the
variable names below.

Values that can be malformed (the time scale, the faults JSON) are kept as given and
checked where they are used, so a bad one fails the emulator's start, not every command.
No AWS import here: the CLI, the pure modules and the emulator's client side read it.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

REGION_VARS = ("AWS_REGION", "AWS_DEFAULT_REGION")  # botocore's own, in its order
TARGET_VAR = "SSMLAB_TARGET"
EMULATOR_URL_VAR = "SSMLAB_EMULATOR_URL"
STATE_DIR_VAR = "SSMLAB_STATE_DIR"
TIME_SCALE_VAR = "SSMLAB_TIME_SCALE"
FAULTS_VAR = "SSMLAB_FAULTS"
LAB_VAR = "SSMLAB_LAB"
HUB_USER_VAR = "JUPYTERHUB_USER"  # set by JupyterHub in every participant's server, and so in its kernels
ACCESS_KEY_VAR = "SSMLAB_ACCESS_KEY_ID"  # a class's key pair (classkeys): only ever sent to the emulator
SECRET_KEY_VAR = "SSMLAB_SECRET_ACCESS_KEY"
# What else decides a value: the XDG state directory, and the home directory behind `~`.
_READ = (*REGION_VARS, TARGET_VAR, EMULATOR_URL_VAR, STATE_DIR_VAR, "XDG_STATE_HOME", "HOME",
         TIME_SCALE_VAR, FAULTS_VAR, LAB_VAR, HUB_USER_VAR, ACCESS_KEY_VAR, SECRET_KEY_VAR)

DEFAULT_REGION = "ap-northeast-1"
DEFAULT_TARGET = "emulator"
DEFAULT_LAB = "demo"
LAB_NAME_LENGTH = 24  # ssmlab.lab.LAB_NAME_RE: a lowercase letter, then letters, digits, hyphens


@dataclass(frozen=True)
class Settings:
    """What the environment asks of ssmlab (each field's variable in its comment)."""

    region: str  # $AWS_REGION, else $AWS_DEFAULT_REGION, else ap-northeast-1
    target: str  # $SSMLAB_TARGET, else emulator (checked by the Lab)
    emulator_url: str | None  # $SSMLAB_EMULATOR_URL: an emulator to use, never to start
    state_dir: Path  # $SSMLAB_STATE_DIR, else $XDG_STATE_HOME/ssmlab, else ~/.local/state/ssmlab
    time_scale: str | None  # $SSMLAB_TIME_SCALE, as given: simulated seconds per wall second
    faults: str | None  # $SSMLAB_FAULTS, as given: the JSON of /ssmlab/faults
    lab: str  # $SSMLAB_LAB (checked by the Lab), else $JUPYTERHUB_USER made a lab name, else demo
    emulator_keys: tuple[str, str] | None = None  # $SSMLAB_ACCESS_KEY_ID and $SSMLAB_SECRET_ACCESS_KEY: a class's


def from_environ(environ: Mapping[str, str]) -> Settings:
    """The settings an environment gives; an empty variable counts as unset."""
    def given(name: str) -> str | None:
        return (environ.get(name) or "").strip() or None

    region = next((environ[name] for name in REGION_VARS if environ.get(name)), DEFAULT_REGION)
    return Settings(
        region=region,
        target=environ.get(TARGET_VAR) or DEFAULT_TARGET,
        emulator_url=given(EMULATOR_URL_VAR),
        state_dir=_state_dir(environ),
        time_scale=environ.get(TIME_SCALE_VAR) or None,
        faults=given(FAULTS_VAR),
        lab=given(LAB_VAR) or lab_name_for_user(given(HUB_USER_VAR) or "") or DEFAULT_LAB,
        emulator_keys=(key, secret) if (key := given(ACCESS_KEY_VAR)) and (secret := given(SECRET_KEY_VAR)) else None,
    )


def lab_name_for_user(user: str) -> str | None:
    """A participant's lab name from their JupyterHub user name, so that each participant of a class gets a lab
    of their own: a valid name stays as it is; any other is lowercased, each run of other characters made one
    hyphen, a letter put first when there is none, shortened to fit, and suffixed with 4 hex digits of the
    name's SHA-1 (so "Alice.Smith" and "alice_smith" stay apart). None for an empty name."""
    import hashlib
    import re

    if not user:
        return None
    if re.fullmatch(r"[a-z][a-z0-9-]{0,%d}" % (LAB_NAME_LENGTH - 1), user):
        return user
    base = re.sub(r"[^a-z0-9]+", "-", user.lower()).strip("-")
    base = base if base[:1].isalpha() else f"u-{base}".rstrip("-")
    suffix = hashlib.sha1(user.encode()).hexdigest()[:4]
    return f"{base[:LAB_NAME_LENGTH - len(suffix) - 1].rstrip('-')}-{suffix}"


def current() -> Settings:
    """The settings of the environment as it is now (built again only when a variable it reads changed)."""
    return _settings(tuple(os.environ.get(name) for name in _READ))


@functools.lru_cache(maxsize=1)
def _settings(values: tuple[str | None, ...]) -> Settings:
    return from_environ({name: value for name, value in zip(_READ, values) if value is not None})


def _state_dir(environ: Mapping[str, str]) -> Path:
    explicit = environ.get(STATE_DIR_VAR)
    if explicit:
        return Path(explicit).expanduser()
    xdg = environ.get("XDG_STATE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".local" / "state"
    return base / "ssmlab"
