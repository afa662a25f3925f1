"""A model's cost over its life against the number of predictions it serves (`--volume`): each
model's total (training + N x one prediction, bench.costs.bill), the volume at which each pair's
totals cross, with Fieller's interval (bench.stats.crossover), and the volumes at which the front
changes, found by judging the pairs again at each volume by the report's own rule (`front_at`).

Reads the report's pieces only; the figure is bench.reporting.volume_plot.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bench.config import CostSettings
from bench.costs.axes import group_axis
from bench.costs.bill import volume_words
from bench.reporting.replicates import cost_parts
from bench.stats.crossover import crossover
from bench.stats.fieller import BOUNDED, RAYS

CROSSOVER_COLUMNS = [
    "crossover_volume",
    "crossover_low",
    "crossover_high",
    "crossover_kind",
    "cheaper_beyond",
]
# The front is judged at log-spaced volumes, 3 a decade (9 at least, 25 at most; each is a judging
# of every pair), then each change is narrowed down by halving its bracket in log volume: 6 halvings
# put it within about 1.2% of where it is.
PER_DECADE, MIN_POINTS, MAX_POINTS = 3, 9, 25
BISECTIONS = 6
MIN_VOLUME = 1.0

FrontAt = Callable[[float], tuple[str, ...]]  # the models on the front at a volume


@dataclass(frozen=True)
class FrontChange:
    """The front just below and just above a volume."""

    volume: float
    before: tuple[str, ...]
    after: tuple[str, ...]

    def words(self) -> str:
        joined = [m for m in self.after if m not in self.before]
        left = [m for m in self.before if m not in self.after]
        parts = [f"{', '.join(joined)} {'joins' if len(joined) == 1 else 'join'}"] if joined else []
        parts += [f"{', '.join(left)} {'leaves' if len(left) == 1 else 'leave'}"] if left else []
        return f"at about {volume_words(self.volume)} predictions ({', '.join(parts)})"


@dataclass
class VolumeView:
    """What `bench report --volume N` draws: each model's total against volume, and the front's changes."""

    volume: float  # the report's --volume
    unit: str  # of the totals: $ where priced, else device-s
    lines: pd.DataFrame  # entry, train (mean training cost), serve (mean cost of one prediction)
    grid: np.ndarray = field(default_factory=lambda: np.zeros(0))  # volumes the front was judged at
    fronts: list[tuple[str, ...]] = field(default_factory=list)  # the front at each grid volume
    changes: list[FrontChange] = field(default_factory=list)
    sentences: list[str] = field(default_factory=list)  # each pair's crossing, then the front's changes


def pair_crossovers(
    pairs: pd.DataFrame, parts: Mapping[str, np.ndarray], noise: float, confidence: float
) -> pd.DataFrame:
    """CROSSOVER_COLUMNS for each pair row (model_a, model_b) whose models both have cost parts:
    where their totals meet, its interval clipped to positive volumes (NaN bounds: unbounded), the
    interval's kind, and which model is cheaper beyond it."""
    rows = []
    for a, b in zip(pairs["model_a"], pairs["model_b"]):
        if a not in parts or b not in parts:
            rows.append(
                dict.fromkeys(CROSSOVER_COLUMNS, math.nan) | {"crossover_kind": "", "cheaper_beyond": ""}
            )
            continue
        found = crossover(parts[a], parts[b], noise, confidence)
        low, high = found.interval.low, found.interval.high
        beyond = "" if found.b_cheaper_beyond is None else (b if found.b_cheaper_beyond else a)
        rows.append(
            {
                "crossover_volume": found.volume,
                "crossover_low": max(low, 0.0) if found.interval.kind == BOUNDED else low,
                "crossover_high": high,
                "crossover_kind": found.interval.kind,
                "cheaper_beyond": beyond if math.isfinite(found.volume) else "",
            }
        )
    return pd.DataFrame(rows, index=pairs.index, columns=CROSSOVER_COLUMNS)


def crossing_sentence(a: str, b: str, row: Mapping[str, object], unit: str, lines: pd.DataFrame) -> str:
    """One pair's crossing in words."""
    volume = float(row["crossover_volume"])  # type: ignore[arg-type]
    if not math.isfinite(volume):
        train, serve = dict(zip(lines["entry"], lines["train"])), dict(zip(lines["entry"], lines["serve"]))
        cheaper = a if serve[a] <= serve[b] and train[a] <= train[b] else b
        return (
            f"{cheaper} costs less than {a if cheaper == b else b} at every volume: their totals never cross."
        )
    other = a if row["cheaper_beyond"] == b else b
    low, high = float(row["crossover_low"]), float(row["crossover_high"])  # type: ignore[arg-type]
    if row["crossover_kind"] == BOUNDED:
        band = f"95% CI {volume_words(low) if low > 0 else '0'}–{volume_words(high)}"
    elif row["crossover_kind"] == RAYS:
        band = f"95% CI below {volume_words(max(low, 0))} or above {volume_words(high)}: unbounded"
    else:
        band = "no 95% interval: the serving costs are too close to tell"
    return (
        f"{row['cheaper_beyond']} costs less in total than {other} beyond {volume_words(volume)} "
        f"predictions ({band}), and {other} below."
    )


def grid_of(volume: float, crossings: list[float]) -> np.ndarray:
    """Log-spaced volumes around the report's volume and the `crossings` (where totals cross, and
    where a model's serving comes to cost what its training did): two decades either side."""
    known = [v for v in [volume, *crossings] if math.isfinite(v) and v > 0]
    low, high = max(min(known) / 100, MIN_VOLUME), max(known) * 100
    points = int(np.clip(math.ceil(PER_DECADE * math.log10(high / low)) + 1, MIN_POINTS, MAX_POINTS))
    return np.geomspace(low, high, points)


def front_changes(grid: np.ndarray, front_at: FrontAt) -> tuple[list[tuple[str, ...]], list[FrontChange]]:
    """The front at each grid volume, and each change between two grid volumes narrowed down by
    bisection in log volume (to the geometric middle of the last bracket)."""
    fronts = [front_at(float(v)) for v in grid]
    changes = []
    for i in range(1, len(grid)):
        if fronts[i] == fronts[i - 1]:
            continue
        low, high = float(grid[i - 1]), float(grid[i])
        for _ in range(BISECTIONS):
            middle = math.sqrt(low * high)
            low, high = (middle, high) if front_at(middle) == fronts[i - 1] else (low, middle)
        changes.append(FrontChange(math.sqrt(low * high), fronts[i - 1], fronts[i]))
    return fronts, changes


def volume_view(
    volume: float,
    unit: str,
    parts: Mapping[str, np.ndarray],
    pairs: pd.DataFrame,
    front_at: FrontAt,
) -> VolumeView:
    """The view of `pairs` (with CROSSOVER_COLUMNS) whose models have cost `parts`, judged by `front_at`."""
    lines = pd.DataFrame(
        [
            {"entry": e, "train": float(p[:, 0].mean()), "serve": float(p[:, 1].mean())}
            for e, p in parts.items()
        ],
        columns=["entry", "train", "serve"],
    )
    view = VolumeView(volume, unit, lines)
    if len(lines) < 2:
        return view
    crossings = [float(v) for v in pairs.get("crossover_volume", pd.Series(dtype=float)).dropna()]
    knees = [t / s for t, s in zip(lines["train"], lines["serve"]) if s > 0 and t > 0]  # serving = training
    view.grid = grid_of(volume, crossings + knees)
    view.fronts, view.changes = front_changes(view.grid, front_at)
    for _, row in pairs.iterrows():
        if row["model_a"] in parts and row["model_b"] in parts:
            found = {str(k): v for k, v in row.items()}
            view.sentences.append(crossing_sentence(row["model_a"], row["model_b"], found, unit, lines))
    if view.changes:
        view.sentences.append("The front changes " + " and ".join(c.words() for c in view.changes) + ".")
    else:
        span = f"{volume_words(view.grid[0])} to {volume_words(view.grid[-1])}"
        view.sentences.append(f"The front is the same from {span} predictions.")
    return view


def by_volume(
    results: pd.DataFrame,
    repeats: pd.DataFrame,
    entries: Sequence[str],
    pairs: pd.DataFrame,
    noise: float,
    costing: CostSettings,
    front_at: FrontAt,
    confidence: float = 0.95,
) -> tuple[pd.DataFrame, VolumeView]:
    """With a volume: `pairs` with the volume where their totals cross (CROSSOVER_COLUMNS), and the
    view of every entry's total against volume, the front at each volume judged by `front_at` (the
    report's `judge`). `results` and `repeats` are the report's rows and cost repeats; `noise` the
    run-to-run noise assumed for a model with one run."""
    assert costing.volume is not None
    parts = {e: p for e in entries if (p := cost_parts(results, e, costing, repeats)) is not None}
    pairs = pd.concat([pairs, pair_crossovers(pairs, parts, noise, confidence)], axis=1)
    unit = group_axis("total", costing).unit
    return pairs, volume_view(costing.volume, unit, parts, pairs, front_at)
