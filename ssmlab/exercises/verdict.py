"""What a check says about a learner's answer: what is right, what is still missing, what is right but wider
than it needs to be. Pure data, rendered by `ssmlab.exercises.exercise`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Verdict:
    right: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()  # solved, but worth a second look (wider than needed)

    @property
    def solved(self) -> bool:
        return not self.missing

    def to_json(self) -> dict:
        return {"solved": self.solved, "right": list(self.right), "missing": list(self.missing), "notes": list(self.notes)}


def verdict(checks: list[tuple[bool, str, str]], notes: tuple[str, ...] | list[str] = ()) -> Verdict:
    """From (holds, said when it holds, said when it does not) triples, in the order a learner reads them."""
    return Verdict(tuple(yes for ok, yes, _ in checks if ok), tuple(no for ok, _, no in checks if not ok), tuple(notes))


def unanswered(what: str) -> Verdict:
    return Verdict(missing=(f"no answer yet: {what}",))
