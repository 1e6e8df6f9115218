"""Removing a lab from the command line: the library's teardown with a line per deletion.

`ssmlab cleanup` runs it; so does `ssmlab run` when its cleanup notebook could not remove the lab.
The teardown itself (plan, execute, audit) is `ssmlab.teardown`; this is only how it is shown.
"""

from __future__ import annotations

import sys


def execute(lab, deletions, quiet: bool = False):
    """`teardown.execute` with one line per deletion on stdout and, on a terminal, a progress bar on stderr."""
    from tqdm import tqdm

    from ssmlab import teardown
    from ssmlab.render import outcome_line

    done = []
    with tqdm(total=len(deletions), file=sys.stderr, disable=quiet or not sys.stderr.isatty(), leave=False,
              unit="deletion") as bar:
        def say(line: str) -> None:
            if not quiet:
                bar.write(line, file=sys.stdout)

        def progress(outcome) -> None:
            done.append(outcome)
            say(outcome_line(len(done), len(deletions), outcome))
            bar.update(1)

        return teardown.execute(lab, deletions, progress=progress, explain=lambda line: say(f"  {line}"))
