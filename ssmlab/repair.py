"""`ssmlab doctor --fix`: run the findings' fix commands as written, with the AWS CLI, then diagnose again.

The commands are the very argv lists the doctor prints (`Finding.fix.commands`), so what a
learner reads is what runs. They run with the AWS CLI from PyPI (a dependency of ssmlab),
in the lab's region and, on the emulator, with the emulator's endpoint URL and dummy
credentials (`ssmlab emulator env`). Fixing one hop can uncover the next (a path repaired
leaves a hibernating agent to reboot), so it diagnoses again after each round, up to three.
Errors and warnings are fixed; info findings are advice. Nothing runs unless `confirm`
agrees (the CLI asks on target aws, unless --yes).
"""

from __future__ import annotations

import importlib.util
import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Callable

from ssmlab.errors import LabError
from ssmlab.findings import commands_to_apply
from ssmlab.lab import Lab

ROUNDS = 3
TIMEOUT = 120  # seconds for one command: the CLI retries throttling on its own


@dataclass(frozen=True)
class Applied:
    command: tuple[str, ...]
    exit_code: int
    output: str  # what the AWS CLI printed (stdout, then stderr)

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def to_json(self) -> dict:
        return {"command": list(self.command), "exit_code": self.exit_code, "output": self.output}


@dataclass
class Repair:
    before: list  # the diagnoses the fixes were made from
    after: list  # the diagnoses once they ran
    applied: list[Applied] = field(default_factory=list)
    declined: bool = False  # `confirm` said no: nothing ran

    @property
    def failed(self) -> Applied | None:
        return next((a for a in self.applied if not a.ok), None)


def asks(lab: Lab, *, yes: bool) -> bool:
    """Whether a person must confirm the commands first: on a real account, unless `yes` (as cleanup asks)."""
    return not lab.is_emulator and not yes


def aws_cli() -> list[str]:
    """How to start the AWS CLI: the one installed with ssmlab (same interpreter), else `aws` on PATH."""
    if importlib.util.find_spec("awscli") is not None:
        return [sys.executable, "-m", "awscli"]
    found = shutil.which("aws")
    if found is None:
        raise LabError("the AWS CLI is not installed: pip install awscli (ssmlab's own install includes it)")
    return [found]


def environment(lab: Lab) -> dict[str, str]:
    env = dict(os.environ, AWS_DEFAULT_REGION=lab.region, AWS_REGION=lab.region, AWS_PAGER="")
    if lab.target == "emulator":
        from ssmlab.emulator import client_environ

        env.update(client_environ())
    return env


def run(lab: Lab, command: tuple[str, ...], env: dict[str, str] | None = None) -> Applied:
    """One fix command, exactly as shown; only AWS CLI commands run."""
    if not command or command[0] != "aws":
        raise LabError(f"not an AWS CLI command, so not run: {shlex.join(command)}")
    try:
        done = subprocess.run([*aws_cli(), *command[1:]], env=env or environment(lab), capture_output=True,
                              text=True, timeout=TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        return Applied(command, 124, f"no answer within {TIMEOUT} s")
    return Applied(command, done.returncode, (done.stdout + done.stderr).strip())


def repair(lab: Lab, instance_id: str | None, *, confirm: Callable[[list[tuple[str, ...]]], bool],
           on_applied: Callable[[Applied], None] = lambda applied: None, rounds: int = ROUNDS,
           before: list | None = None) -> Repair:
    """Diagnose (unless `before` is given), run the fixes of what is wrong, diagnose again; stop when nothing is
    left to run, a command fails, or `confirm` declines."""
    from ssmlab.checkup import checkup

    before = after = before if before is not None else checkup(lab, instance_id)
    outcome = Repair(before, after)
    last: list[tuple[str, ...]] = []
    env: dict[str, str] | None = None
    for _ in range(rounds):
        commands = commands_to_apply(f for d in after for f in d.findings)
        if not commands or commands == last:  # nothing to run, or the same again: it did not help
            break
        last = commands
        if not confirm(commands):
            outcome.declined = True
            break
        env = env or environment(lab)
        for command in commands:
            applied = run(lab, command, env)
            outcome.applied.append(applied)
            on_applied(applied)
            if not applied.ok:
                break
        after = checkup(lab, instance_id)
        if outcome.failed:
            break
    outcome.after = after
    return outcome
