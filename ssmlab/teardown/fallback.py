"""The library's teardown standing in for a cleanup notebook that could not remove its lab.

`ssmlab run` calls `fallback` when 11_cleanup failed (a cell out of time, a dead kernel, an error):
the notebook is the lesson, this is the guarantee behind it. The removal itself (read, plan,
execute, audit, under the lab's lock) is `removal.remove`, as `ssmlab cleanup` runs it; `left_line`
says after the run what may be left and which command removes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Fallback:
    """What the library's cleanup did in place of a failed cleanup notebook."""

    deleted: int = 0
    failed: int = 0
    left: tuple[str, ...] = ()  # what the audit still finds, e.g. "VPC vpc-0abc"
    error: str = ""  # the teardown could not even look: AWS refused the reads, the emulator is gone


def fallback(lab, notebook: str, say: Callable[[str], None] | None = None) -> Fallback:
    """`removal.remove`, as `ssmlab cleanup` runs it (under the lab's lock, what it leaves said with why); with
    `say`, one line first, the notes, and the deletions as `ssmlab cleanup` prints them."""
    from botocore.exceptions import BotoCoreError, ClientError

    from ssmlab.errors import SsmlabError
    from ssmlab.render import audit_text, notes_text
    from ssmlab.teardown.removal import remove, shown

    if say:
        say(f"{notebook} did not remove lab {lab.name}: removing it with ssmlab's own teardown instead, "
            "as `ssmlab cleanup` does")

    def show(plan) -> bool:
        if say and plan.notes:
            say(notes_text(plan.notes))
        return True

    try:
        done = remove(lab, confirm=show, execute=shown(terminal=True, quiet=say is None), say=say)
    except (SsmlabError, BotoCoreError, ClientError) as error:
        lines = str(error).strip().splitlines()
        return Fallback(error=lines[-1] if lines else type(error).__name__)
    if say:
        say(audit_text(done.left))
    return Fallback(done.deleted, done.count("failed"),
                    tuple(f"{x.kind} {x.resource_id}" for x in done.left or []))


def cleanup_command(lab) -> str:
    return f"ssmlab cleanup --lab {lab.name} --region {lab.region} --target {lab.target}"


def left_line(lab, removal: Fallback | None, ran_cleanup: bool) -> str | None:
    """After a failed run: the one line that says what may be left of the lab and which command removes it."""
    command = cleanup_command(lab)
    if not ran_cleanup:
        return f"lab {lab.name} is left as the run made it (the cleanup notebook was not part of it): {command} removes it"
    if removal is None:  # the cleanup notebook itself succeeded
        return None
    if removal.error:
        return f"lab {lab.name} may be left: ssmlab's teardown could not run ({removal.error}); {command} removes it"
    if removal.left:
        shown = ", ".join(removal.left[:3]) + (f" and {len(removal.left) - 3} more" if len(removal.left) > 3 else "")
        return f"lab {lab.name}: {len(removal.left)} resource(s) left ({shown}); {command} removes them"
    return None
