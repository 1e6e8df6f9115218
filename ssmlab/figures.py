"""matplotlib figures that show inline in Jupyter and need no display anywhere else.

A bare `matplotlib.figure.Figure` shows in a notebook only as its text repr: the inline
renderer is registered when pyplot loads its (inline) backend. So inside a Jupyter kernel
the figure is made through pyplot and closed at once (the cell shows it once, when returned
or displayed); outside, it is a bare Figure (no backend, nothing global touched).
"""

from __future__ import annotations

import sys
from typing import Any


def new_figure(**kwargs: Any) -> Any:
    if "ipykernel" in sys.modules:
        import matplotlib.pyplot as plt

        figure = plt.figure(**kwargs)
        plt.close(figure)
        return figure
    from matplotlib.figure import Figure

    return Figure(**kwargs)
