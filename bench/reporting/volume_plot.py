"""The picture of `bench report --volume N`: every model's total cost (training, plus N predictions)
against the volume N, on log scales; each line thick where its model is on the front (judged again at
each volume by the verdicts' rule) and faint where another dominates it; the report's volume and the
volumes where the front changes marked."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # no display on servers and in CI; must precede pyplot

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from bench.costs.bill import volume_words  # noqa: E402
from bench.reporting.curves import COLORS  # noqa: E402
from bench.reporting.volumes import VolumeView  # noqa: E402

POINTS = 240  # along the volume axis


def volume_plot(view: VolumeView) -> Figure:
    """Total cost against volume for every model of `view` (see the module's note)."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    grid = view.grid
    x = np.geomspace(grid[0], grid[-1], POINTS)
    # The front at each drawn volume: after the last change below it, or the first judged one.
    edges = np.array([c.volume for c in view.changes])
    segments = [view.fronts[0] if view.fronts else (), *(c.after for c in view.changes)]
    at = np.searchsorted(edges, x, side="right")
    lines = zip(view.lines["entry"], view.lines["train"].astype(float), view.lines["serve"].astype(float))
    for i, (entry, train, serve) in enumerate(lines):
        color = COLORS[i % len(COLORS)]
        total = train + x * serve
        ax.plot(x, total, color=color, linewidth=1, alpha=0.35)
        on = np.array([entry in segments[j] for j in at])
        ax.plot(x, np.where(on, total, np.nan), color=color, linewidth=2.5, label=str(entry))
    ax.axvline(view.volume, color="black", linestyle="--", linewidth=1)
    ax.annotate(
        f"--volume {volume_words(view.volume)}", (view.volume, 1.0), xycoords=("data", "axes fraction"),
        xytext=(3, -12), textcoords="offset points", fontsize=7,
    )  # fmt: skip
    for k, change in enumerate(view.changes):
        ax.axvline(change.volume, color="grey", linestyle=":", linewidth=1.2)
        ax.annotate(
            f"front changes at {volume_words(change.volume)}", (change.volume, 0.0),
            xycoords=("data", "axes fraction"), xytext=(3, 4 + 10 * k), textcoords="offset points",
            fontsize=7, color="dimgrey",
        )  # fmt: skip
    ax.set_xscale("log")
    if (view.lines["train"] > 0).all():
        ax.set_yscale("log")
    ax.set_xlabel("predictions served over the model's life (volume)")
    ax.set_ylabel(f"total cost ({view.unit})")
    ax.grid(alpha=0.3, which="both")
    ax.set_title(
        "Total cost against volume (thick: on the front; dotted: where the front changes)", fontsize=10
    )
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return fig
