"""Shared fixtures: one emulator process for the session, started and stopped by the CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

SSMLAB = shutil.which("ssmlab", path=str(Path(sys.executable).parent)) or "ssmlab"


@dataclass(frozen=True)
class RunningEmulator:
    endpoint_url: str
    pid: int
    env: dict

    def cli(self, *args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
        """Run `ssmlab ARGS` as a learner would, against this emulator."""
        return subprocess.run(
            [SSMLAB, *args],
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )


@pytest.fixture(scope="session")
def emulator(tmp_path_factory):
    state_dir = tmp_path_factory.mktemp("emulator-state")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SSMLAB_"))}
    env["SSMLAB_STATE_DIR"] = str(state_dir)
    started = subprocess.run([SSMLAB, "emulator", "start"], env=env, capture_output=True, text=True, timeout=60)
    assert started.returncode == 0, started.stderr
    status = json.loads(
        subprocess.run([SSMLAB, "emulator", "status", "--json"], env=env, capture_output=True, text=True).stdout
    )
    assert status["running"], status
    env["SSMLAB_EMULATOR_URL"] = status["endpoint_url"]
    with pytest.MonkeyPatch.context() as patch:
        # The library in this process talks to the same emulator, without starting another.
        for key in [k for k in os.environ if k.startswith(("AWS_", "SSMLAB_"))]:
            patch.delenv(key)
        patch.setenv("SSMLAB_STATE_DIR", str(state_dir))
        patch.setenv("SSMLAB_EMULATOR_URL", status["endpoint_url"])
        yield RunningEmulator(status["endpoint_url"], status["pid"], env)
    subprocess.run([SSMLAB, "emulator", "stop"], env=env, capture_output=True, timeout=60)
