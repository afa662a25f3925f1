"""What the decide loop knows of each model at a look: its runs' correctness on the test items they all
predicted, its training-time replicates, and what another seed, another test item or another cost
repeat costs in seconds. A folder's is read through the report's own reading (bench.reporting), so
the loop judges exactly the evidence `bench report` would; the known-truth simulation builds its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bench.errors import BenchError
from bench.launch.cost_repeats import TIMED_STEPS, WARMUP_STEPS
from bench.reporting.data import aggregate, column_or_nan, load
from bench.reporting.pairs import evidence
from bench.stats.cost import Replicates

REPEAT_START_S = 20.0  # a fresh process's start, imports and data, until a repeat has measured its own
DEFAULT_ITEM_S = 0.01  # seconds per test item where a run measured no evaluation rate


@dataclass(frozen=True)
class ModelRuns:
    """One model's finished runs, as one look sees them."""

    model: str
    run_ids: tuple[str, ...]
    seeds: tuple[int, ...]
    item_ids: tuple[str, ...]  # the test items every run predicted
    correct: np.ndarray  # (runs, items) 0/1, columns in item_ids' order
    costs: Replicates  # the training time's independent replicates (seeds or cost repeats)
    run_s: float  # wall seconds of one more seed: training, evaluation, latency
    item_s: float  # seconds to evaluate one test item with one run
    repeat_s: float  # seconds of one cost repeat in a fresh process
    repeats: int  # cost repeats each run has had, the fewest of its runs

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    def aligned(self, other: ModelRuns) -> tuple[np.ndarray, np.ndarray]:
        """This model's and `other`'s correctness on the items both have, in one order."""
        if self.item_ids == other.item_ids:
            return self.correct, other.correct
        mine = {item: i for i, item in enumerate(self.item_ids)}
        shared = [(mine[item], j) for j, item in enumerate(other.item_ids) if item in mine]
        if not shared:
            raise BenchError(f"{self.model} and {other.model} share no test items; they cannot be paired.")
        rows, cols = np.array(shared).T
        return self.correct[:, rows], other.correct[:, cols]


def wall_seconds(rows: pd.DataFrame) -> float:
    """Mean wall seconds of the rows' runs, from their start and end stamps, and never less than their
    training time (the stamps are to the second: a run of a fraction of one can show 0)."""
    started = pd.to_datetime(column_or_nan(rows, "started_at"), errors="coerce", utc=True)
    finished = pd.to_datetime(column_or_nan(rows, "finished_at"), errors="coerce", utc=True)
    seconds = (finished - started).dt.total_seconds().dropna()
    training = float(rows["train_time_s"].mean())
    return max(float(seconds.mean()), training) if len(seconds) else training


def read_state(folder: Path) -> dict[str, ModelRuns]:
    """Every model with finished runs in `folder` (sweep trials aside), as the report reads them."""
    loaded = load([folder])
    entries = aggregate(loaded.results)
    found, _ = evidence(loaded, entries, "time")
    res = loaded.results
    runs = res[(res["status"] == "ok") & ~res["sweep"]]
    repeats = loaded.cost_repeats
    out: dict[str, ModelRuns] = {}
    for group in found:
        for name in group.names:
            right = group.right[name]
            mine = runs[runs["entry"] == name].set_index("run_id").loc[[r for _, r in right.index]]
            rate = pd.to_numeric(column_or_nan(mine, "eval_samples_per_s"), errors="coerce").dropna()
            step = pd.to_numeric(column_or_nan(mine, "step_time_s_mean"), errors="coerce").dropna()
            step_s = float(step.mean()) if len(step) else 0.0
            counts = pd.Series(0, index=mine.index)
            if not repeats.empty:
                done = repeats[repeats["run_id"].isin(mine.index)].groupby("run_id").size()
                counts = done.reindex(mine.index, fill_value=0)
            out[name] = ModelRuns(
                model=name,
                run_ids=tuple(str(r) for r in mine.index),
                seeds=tuple(int(s) for s in mine["seed"]),
                item_ids=tuple(str(c) for c in right.columns),
                correct=right.to_numpy(dtype=np.int8),
                costs=group.costs[name],
                run_s=wall_seconds(mine),
                item_s=1.0 / float(rate.median()) if len(rate) and rate.median() > 0 else DEFAULT_ITEM_S,
                repeat_s=REPEAT_START_S + (TIMED_STEPS + WARMUP_STEPS) * step_s,
                repeats=int(counts.min()) if len(counts) else 0,
            )
    return out


def next_seed(runs: ModelRuns) -> int:
    return max(runs.seeds) + 1
