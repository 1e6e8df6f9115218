"""matplotlib figures that show inline in Jupyter and need no display anywhere else.

A bare `matplotlib.figure.Figure` shows in a notebook only as its text repr: the inline
renderer is registered when pyplot loads its (inline) backend. So inside a Jupyter kernel
the figure is made through pyplot and closed at once (the cell shows it once, when returned
or displayed); outside, it is a bare Figure (no backend, nothing global touched).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

# Where `save` wrote a figure, kept on the figure: `notebook.show_figure` shows that file rather than
# drawing the figure a second time (about 0.1 s for a polling timeline, measured).
SAVED_AS = "ssmlab_saved_as"
INLINE_DPI = 100  # matplotlib's figure.dpi, at which Jupyter's inline backend draws a figure


def new_figure(**kwargs: Any) -> Any:
    if "ipykernel" in sys.modules:
        import matplotlib.pyplot as plt

        figure = plt.figure(**kwargs)
        plt.close(figure)
        return figure
    from matplotlib.figure import Figure

    return Figure(**kwargs)


def save(figure: Any, filename: str | os.PathLike, dpi: int) -> Path:
    """Write `figure` to `filename` (a PNG when it has no extension) and remember the file on the figure."""
    path = Path(filename)
    if not path.suffix:
        path = path.with_name(path.name + ".png")
    figure.savefig(path, dpi=dpi)
    setattr(figure, SAVED_AS, path)
    return path


def saved_png(figure: Any) -> Path | None:
    """The PNG `save` wrote for this figure, if it is still there."""
    path = getattr(figure, SAVED_AS, None)
    return path if path is not None and path.suffix.lower() == ".png" and path.exists() else None
