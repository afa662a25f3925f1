"""Training curves: by optimizer step for runs of few epochs, by epoch (the paper's Figs 5-7) for long ones.

A run of one or few epochs has one point per series when drawn by epoch, which says nothing. Such a run
is drawn by optimizer step instead: the mean training loss of each timed chunk (steps.csv, about ten an
epoch) and validation and test at each epoch's end. A run with neither enough epochs nor steps.csv (an
estimator's one fit, an old folder) gets no curves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")  # no display on servers and in CI; must precede pyplot

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

if TYPE_CHECKING:
    from matplotlib.axes import Axes

COLORS: list[str] = plt.rcParams["axes.prop_cycle"].by_key()["color"]
FEW_EPOCHS = 5  # runs of at most this many epochs are drawn by optimizer step


def _band(ax: Axes, df: pd.DataFrame, x: str, column: str, label: str, color: object, style: str) -> None:
    """Mean over seeds at each x, with the min-max range shaded when there are several seeds."""
    if column not in df:
        return
    stats = df.groupby(x)[column].agg(["mean", "min", "max"]).dropna()
    if stats.empty:
        return
    marker = "o" if len(stats) > 1 else "D"
    ax.plot(stats.index, stats["mean"], style, color=color, label=label, marker=marker, markersize=3.5)
    if df["run_id"].nunique() > 1 and len(stats) > 1:
        ax.fill_between(stats.index, stats["min"], stats["max"], color=color, alpha=0.15, linewidth=0)


def by_epoch(epochs: pd.DataFrame, entry: str) -> Figure:
    """Like the paper's Figs 5-7: loss and accuracy by epoch, training, validation and test."""
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(9, 3.4))
    for ax, what in ((loss_ax, "loss"), (acc_ax, "accuracy")):
        _band(ax, epochs, "epoch", f"train_{what}", f"training {what}", COLORS[0], "-")
        _band(ax, epochs, "epoch", f"val_{what}", f"validation {what}", COLORS[2], "-.")
        _band(ax, epochs, "epoch", f"test_{what}", f"test {what}", COLORS[1], "--")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(what)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    seeds = epochs["run_id"].nunique()
    fig.suptitle(f"{entry}: training curves ({seeds} seed{'s' if seeds != 1 else ''}; band: min-max)")
    fig.tight_layout()
    return fig


def _at_epoch_ends(epochs: pd.DataFrame, steps: pd.DataFrame) -> pd.DataFrame:
    """The epoch rows, each placed at the run's optimizer step count at the epoch's end."""
    ends = steps.groupby(["run_id", "epoch"], as_index=False)["step"].max()
    return epochs.merge(ends, on=["run_id", "epoch"], how="inner")


def _share(value: float) -> str:
    return f"{100 * value:.1f}%"


def by_step(epochs: pd.DataFrame, steps: pd.DataFrame, entry: str) -> Figure:
    """Training loss per timed chunk against optimizer steps; validation and test at each epoch's end.

    With two or more epochs a second panel draws accuracy at each epoch's end; with one, the legend
    gives the epoch's accuracies instead of a panel of single points."""
    ends = _at_epoch_ends(epochs, steps)
    n_epochs = int(ends["epoch"].nunique())
    panels = 2 if n_epochs > 1 else 1
    fig, axes = plt.subplots(1, panels, figsize=(9 if panels == 2 else 6.5, 3.4), squeeze=False, sharex=True)
    loss_ax = axes[0][0]
    _band(loss_ax, steps, "step", "train_loss", "training loss (mean of each timed chunk)", COLORS[0], "-")
    for what, name, color, style in (
        ("val", "validation", COLORS[2], "-."),
        ("test", "test", COLORS[1], "--"),
    ):
        if f"{what}_loss" not in ends or ends[f"{what}_loss"].isna().all():
            continue
        label = f"{name} loss at each epoch's end"
        if n_epochs == 1 and f"{what}_accuracy" in ends:
            label = f"{name} at the epoch's end (accuracy {_share(float(ends[f'{what}_accuracy'].mean()))})"
        _band(loss_ax, ends, "step", f"{what}_loss", label, color, style)
    if panels == 2:
        acc_ax = axes[0][1]
        for what, name, color, style in (
            ("train", "training (over the epoch)", COLORS[0], "-"),
            ("val", "validation", COLORS[2], "-."),
            ("test", "test", COLORS[1], "--"),
        ):
            _band(acc_ax, ends, "step", f"{what}_accuracy", f"{name} accuracy", color, style)
        acc_ax.set_ylabel("accuracy at each epoch's end")
    for ax in axes[0]:
        for step in sorted(ends.groupby("epoch")["step"].max())[:-1]:
            ax.axvline(step, color="grey", linestyle=":", linewidth=0.8)  # epoch boundaries
        ax.set_xlabel("optimizer step")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    loss_ax.set_ylabel("loss")
    seeds = steps["run_id"].nunique()
    epochs_text = f"{n_epochs} epoch{'s' if n_epochs != 1 else ''}"
    band = "; band: min-max" if seeds > 1 else ""
    fig.suptitle(f"{entry}: training by step ({epochs_text}, {seeds} seed{'s' if seeds != 1 else ''}{band})")
    fig.tight_layout()
    return fig


def training_curves(epochs: pd.DataFrame, steps: pd.DataFrame, entry: str) -> Figure | None:
    """An entry's curves: by step for few epochs with steps.csv, by epoch for two or more epochs, else
    none (one point per series)."""
    n_epochs = epochs["epoch"].nunique() if len(epochs) else 0
    if len(steps) and n_epochs <= FEW_EPOCHS and not _at_epoch_ends(epochs, steps).empty:
        return by_step(epochs, steps, entry)
    if n_epochs > 1:
        return by_epoch(epochs, entry)
    return None
