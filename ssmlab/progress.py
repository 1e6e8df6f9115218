"""The kit's one progress bar: a widget in a notebook, a text bar on a terminal's stderr.

Long waits (deletions, a node coming Online, real time passing on AWS) look the same wherever they run.
In a notebook tqdm.auto draws a widget (text where there is no widget) that stays when done, beside the
cell's lines. The CLI's stdout is read by people and scripts alike, so there the bar goes to stderr, only
when stderr is a terminal, and is cleared when done: stdout holds the lines written through `bar.write`.
"""

from __future__ import annotations

import sys
from typing import Any


def bar(total: int, desc: str | None = None, *, unit: str = "it", terminal: bool = False, quiet: bool = False) -> Any:
    """A tqdm bar of `total` steps (a context manager; `write` prints a line above it on stdout).

    `terminal`: the CLI's bar (stderr, a terminal only, cleared); else a notebook's. `quiet`: no bar at all."""
    if terminal:
        from tqdm import tqdm

        return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, leave=False,
                    disable=quiet or not sys.stderr.isatty())
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, leave=True, disable=quiet)
