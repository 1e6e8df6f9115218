"""Who is calling: the principal a class-mode request was signed by, for the layers that need it.

A participant acts as the IAM user named after their lab; the facilitator as the class's administrator; outside
class mode nobody is named and the emulator keeps its one learner (`ssm_models.OWNER_NAME`). Set per request by
`classmode` (each request is served in its own thread, so a context variable holds it).
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass

from ssmlab.emulator.protocol import DEFAULT_ACCOUNT_ID

USER_PATH = "/ssmlab-class/"


@dataclass(frozen=True)
class Principal:
    name: str  # the IAM user name: the participant's lab, or "facilitator"
    lab: str | None  # None: the facilitator, who may act on every lab

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:user{USER_PATH}{self.name}"

    @property
    def user_id(self) -> str:
        """IAM's unique id of a user (AIDA...); stable per name, what `${aws:userid}` stands for."""
        import hashlib

        return "AIDA" + hashlib.sha256(self.name.encode()).hexdigest()[:17].upper()


_CALLER: contextvars.ContextVar[Principal | None] = contextvars.ContextVar("ssmlab_caller", default=None)


def current() -> Principal | None:
    return _CALLER.get()


def acting_as(principal: Principal | None) -> contextvars.Token:
    return _CALLER.set(principal)


def done(token: contextvars.Token) -> None:
    _CALLER.reset(token)
