"""A finding as data: what is wrong, where, for which services, and the fix as commands one can run. Pure.

The doctor's text, its JSON and the architecture picture all render from these fields, so
rewording a message changes no picture, and `ssmlab doctor --fix` runs exactly the commands
a learner reads. A fix's `commands` are argv lists (`aws ...`), made from the snapshot the
finding came from; `say` is how the fix reads, with {0}, {1}... standing for the commands
(empty: the commands joined by "&&"); `terraform` names the attribute to change in a
Terraform configuration; `why` is the reason in one clause. A fix without commands is
advice: something to wait for, check, or do on the instance.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

ERROR, WARNING, INFO = "error", "warning", "info"
_SLOT = re.compile(r"\{(\d+)\}")


def aws(*argv: str) -> tuple[str, ...]:
    """An AWS CLI command as an argv list."""
    return ("aws", *argv)


@dataclass(frozen=True)
class Fix:
    commands: tuple[tuple[str, ...], ...] = ()
    say: str = ""
    terraform: str | None = None
    why: str | None = None

    @property
    def shown(self) -> tuple[str, ...]:
        """Each command as a shell line, quoted so that it copies and runs whole."""
        return tuple(shlex.join(argv) for argv in self.commands)

    @property
    def text(self) -> str:
        shown = self.shown
        head = _SLOT.sub(lambda m: shown[int(m.group(1))], self.say) if self.say else " && ".join(shown)
        return head + (f" ({self.why})" if self.why else "") + (f" (Terraform: {self.terraform})" if self.terraform else "")

    def __str__(self) -> str:
        return self.text


def advice(text: str, *, why: str | None = None, terraform: str | None = None) -> Fix:
    """A fix with nothing to run: wait, check, or act on the instance."""
    return Fix((), text, terraform, why)


@dataclass(frozen=True)
class Finding:
    code: str
    severity: str
    resource: str | None
    message: str
    fix: Fix
    services: tuple[str, ...] = ()  # the AWS services whose path or permission it concerns

    def to_json(self) -> dict:
        """The doctor's JSON per finding: the fields of before (`fix` as one line) and the fix as data."""
        return {"code": self.code, "severity": self.severity, "resource": self.resource, "message": self.message,
                "fix": self.fix.text, "services": list(self.services),
                "commands": [list(argv) for argv in self.fix.commands], "terraform": self.fix.terraform,
                "why": self.fix.why}


def commands_to_apply(findings, severities: tuple[str, ...] = (ERROR, WARNING)) -> list[tuple[str, ...]]:
    """The commands of these findings' fixes, in the findings' order, each once (two findings may share a reboot)."""
    seen: dict[tuple[str, ...], None] = {}
    for finding in findings:
        if finding.severity in severities:
            for argv in finding.fix.commands:
                seen.setdefault(tuple(argv), None)
    return list(seen)
