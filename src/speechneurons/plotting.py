"""Figures shared by every stage: a headless matplotlib and atomic PNG output.

matplotlib.pyplot is imported on first use (``pyplot()``, or the module attribute ``plt``), not
when this module is imported: a job that draws nothing does not pay for it."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from speechneurons.io import atomic_path


@cache  # the backend is set once, as it was when this module imported pyplot
def pyplot():
    """matplotlib.pyplot with the headless backend (set on the first call)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def __getattr__(name: str):
    # ``from speechneurons.plotting import plt`` (the figures modules) imports pyplot then
    if name == "plt":
        return pyplot()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def save_figure(fig, path: str | Path, dpi: int = 120) -> None:
    """Save ``fig`` as a PNG atomically (temporary sibling, then rename) and close it."""
    with atomic_path(path) as tmp:
        # no Software entry (the matplotlib version): the same figure, the same bytes
        fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    pyplot().close(fig)


def save_unavailable(path: str | Path, title: str, why: str) -> None:
    """A figure that says, in place of its plot, why there is nothing to draw (a declared output
    whose data the run could not produce, e.g. a view with too few samples on a small corpus)."""
    fig, ax = pyplot().subplots(figsize=(6.0, 2.2))
    ax.axis("off")
    ax.set_title(title, fontsize=10)
    ax.text(0.5, 0.5, f"nothing to draw: {why}", ha="center", va="center", wrap=True, fontsize=9)
    save_figure(fig, path)
