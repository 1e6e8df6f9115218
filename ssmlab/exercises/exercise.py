"""One exercise as the learner meets it: what it prepared (`given`), `check()` on the lab's real state, and
`hint(1)`, `hint(2)`. A check never raises: whatever goes wrong while reading the lab is said in one line, as
something still missing, so a learner never meets a traceback from the kit's side of the exercise."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any, Callable

from ssmlab.exercises.verdict import Verdict

NO_ANSWER = object()
_PREPARED: dict[tuple[str, str], "Exercise"] = {}  # (lab, key) -> the exercise prepared in this kernel


@dataclass
class Exercise:
    key: str  # "02-endpoint-ingress": the notebook's number, then what it is about
    lab: str
    title: str
    judge: Callable[[Any], Verdict]  # reads the lab and judges it; given the learner's answer when there is one
    hints: tuple[str, ...]
    given: dict[str, Any] = field(default_factory=dict)
    verdict: Verdict | None = None  # the last check's

    def __post_init__(self) -> None:
        _PREPARED[(self.lab, self.key)] = self

    def __getattr__(self, name: str) -> Any:
        """What the exercise prepared, by name: `exercise.group_id`."""
        given = self.__dict__.get("given", {})
        if name in given:
            return given[name]
        raise AttributeError(f"this exercise has no {name!r}; it gives {', '.join(given) or 'nothing'}")

    def show(self, prepared: str) -> "Exercise":
        """Say what the exercise prepared, and what it gives by name."""
        names = ", ".join(f"exercise.{k} = {v!r}" for k, v in self.given.items())
        text = f"Exercise {self.key}: {self.title}\n{prepared}" + (f"\nGiven: {names}" if names else "")
        _display(f"<p><b>Exercise {html.escape(self.key)}:</b> {html.escape(self.title)}<br>{html.escape(prepared)}"
                 + (f"<br><small>Given: <code>{html.escape(names)}</code></small>" if names else "") + "</p>", text)
        return self

    def check(self, answer: Any = NO_ANSWER) -> None:
        """Judge the lab as it is now (and `answer`, for exercises that ask one); show what is right and what is
        missing; record the verdict for `ssmlab run` and the tests."""
        from ssmlab.notebook import record

        try:
            self.verdict = self.judge(answer) if answer is not NO_ANSWER else self.judge(None)
        except Exception as error:  # the kit's side must not raise at the learner: say it instead
            self.verdict = Verdict(missing=(f"the check could not finish: {_one_line(error)}",))
        _display(_verdict_html(self), _verdict_text(self))
        record(f"exercise {self.key}", self.verdict.to_json())

    def hint(self, number: int = 1) -> None:
        """Hint `number` (1: where to look; 2: nearly the answer)."""
        count = len(self.hints)
        if not isinstance(number, int) or not 1 <= number <= count:
            text = f"this exercise has {count} hints: " + ", ".join(f"exercise.hint({n})" for n in range(1, count + 1))
        else:
            text = f"Hint {number} of {count}: {self.hints[number - 1]}"
        _display(f"<p>💡 {html.escape(text)}</p>", text)

    def __repr__(self) -> str:
        state = "not checked yet" if self.verdict is None else "solved" if self.verdict.solved else "not solved yet"
        return f"<exercise {self.key}: {self.title} ({state})>"


def unsolved(lab: str) -> list[Exercise]:
    """The exercises prepared for `lab` in this kernel whose last check did not pass (or that were never checked)."""
    return [e for (name, _), e in _PREPARED.items() if name == lab and not (e.verdict and e.verdict.solved)]


def _one_line(error: Exception) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[-1] if lines else type(error).__name__


def _verdict_text(exercise: Exercise) -> str:
    verdict = exercise.verdict
    assert verdict is not None
    head = f"Exercise {exercise.key}: " + ("solved" if verdict.solved else "not yet")
    lines = [head] + [f"  ✓ {s}" for s in verdict.right] + [f"  ✗ {s}" for s in verdict.missing]
    lines += [f"  ! {s}" for s in verdict.notes]
    if not verdict.solved:
        lines.append("  Stuck? exercise.hint(1), then exercise.hint(2); change your answer and check again.")
    return "\n".join(lines)


def _verdict_html(exercise: Exercise) -> str:
    verdict = exercise.verdict
    assert verdict is not None
    kind, word = ("success", "solved") if verdict.solved else ("warning", "not yet")
    items = ([f"<li>✓ {html.escape(s)}</li>" for s in verdict.right] + [f"<li>✗ {html.escape(s)}</li>" for s in verdict.missing]
             + [f"<li>! {html.escape(s)}</li>" for s in verdict.notes])
    stuck = "" if verdict.solved else (
        "<p>Stuck? <code>exercise.hint(1)</code>, then <code>exercise.hint(2)</code>; change your answer and check again.</p>")
    return (f'<div class="alert alert-{kind}"><b>Exercise {html.escape(exercise.key)}: {word}</b>'
            f'<ul style="list-style: none; padding-left: 0.5em">{"".join(items)}</ul>{stuck}</div>')


def _display(markup: str, text: str) -> None:
    from ssmlab.notebook import show_html

    show_html(markup, text)
