"""Shared fixtures: one emulator process for the session, started and stopped by the CLI."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

import pytest

SSMLAB = shutil.which("ssmlab", path=str(Path(sys.executable).parent)) or "ssmlab"


# Under pytest-xdist (`make test`), the files whose tests take longest are handed out first, so the
# workers end together instead of one finishing a notebook run alone.
SLOWEST_FIRST = ("test_notebooks.py", "test_run_timeout.py", "test_reliability.py", "test_teardown.py",
                 "test_jupyterhub.py", "test_doctor_fixes.py", "test_classmode.py")


def pytest_collection_modifyitems(config, items):
    if getattr(config.option, "numprocesses", None):
        rank = {name: n for n, name in enumerate(SLOWEST_FIRST)}
        items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the rest keep their order


@dataclass(frozen=True)
class RunningEmulator:
    endpoint_url: str
    pid: int
    env: dict

    def cli(self, *args: str, env: dict | None = None, timeout: float = 120,
            process: bool = False) -> subprocess.CompletedProcess:
        """Run `ssmlab ARGS` against this emulator, as a learner would: its exit code, stdout and stderr.

        In this process by default (`ssmlab.cli.main`, stdin empty, output captured, `env` set for the
        call), which talks to the emulator over HTTP exactly as the command does but without paying a
        Python start-up per call; `process=True` runs the installed `ssmlab` command instead (the
        `emulator` and `run` commands always do: they manage processes and kernels of their own)."""
        if process or args[:1] in (("emulator",), ("run",)):
            return subprocess.run([SSMLAB, *args], env={**self.env, **(env or {})}, capture_output=True, text=True,
                                  timeout=timeout, stdin=subprocess.DEVNULL)
        return run_in_process(list(args), env or {})


def run_in_process(args: list[str], env: dict) -> subprocess.CompletedProcess:
    """`ssmlab ARGS` through `ssmlab.cli.main` here: exit code as the command's (an uncaught error is 1
    with its traceback on stderr, as Python prints it), with `env` set only for the call."""
    from ssmlab import cli

    out, err = io.StringIO(), io.StringIO()
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update({key: str(value) for key, value in env.items()})
    stdin, sys.stdin = sys.stdin, io.StringIO("")
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = cli.main(args)
            except SystemExit as stop:  # argparse's usage errors, sys.exit(...)
                code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
                if isinstance(stop.code, str):
                    print(stop.code, file=sys.stderr)
            except Exception:
                traceback.print_exc()
                code = 1
    finally:
        sys.stdin = stdin
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return subprocess.CompletedProcess(["ssmlab", *args], code, out.getvalue(), err.getvalue())


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


@pytest.fixture
def quick_backoff(monkeypatch):
    """botocore's retry backoff (up to 2^attempt s, jittered) cut to a millisecond, for tests that assert that
    retries happen and get through, not how long they wait (timing belongs in `make bench`): about 10 s of CPU
    in the throttling build alone."""
    import botocore.endpoint

    real_sleep = botocore.endpoint.time.sleep
    monkeypatch.setattr(botocore.endpoint, "time",
                        type("Backoff", (), {"sleep": staticmethod(lambda seconds: real_sleep(min(seconds, 0.001)))}))
