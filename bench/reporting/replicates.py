"""Cost replicates of a report's entries: independent repeated measurements of one cost, and only
those. Seeds are replicates (one results.csv row each); so are cost repeats, short timed runs of
the same configuration each in a fresh process (cost_repeats.csv). A run's own chunks of step time
share its process and are never replicates: they cannot see run-to-run variation.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bench.costs.axes import on_device
from bench.errors import BenchError
from bench.stats.cost import Replicates

COST_REPEATS_FILE = "cost_repeats.csv"
COST_REPEAT_COLUMNS = [
    "run_id",
    "model",
    "seed",
    "repeat",
    "steps",
    "step_time_s_mean",
    "device",
    "concurrent_runs",
]


def load_cost_repeats(folder: Path) -> pd.DataFrame:
    """A folder's cost_repeats.csv (one row per timed repeat, seconds per optimizer step), or an
    empty frame with its columns when the folder has none."""
    file = folder / COST_REPEATS_FILE
    if not file.is_file() or not file.stat().st_size:
        return pd.DataFrame(columns=COST_REPEAT_COLUMNS)
    frame = pd.read_csv(file)
    missing = [c for c in COST_REPEAT_COLUMNS if c not in frame.columns]
    if missing:
        raise BenchError(f"{file} lacks the columns {', '.join(missing)}; was it written by `bench run`?")
    step = pd.to_numeric(frame["step_time_s_mean"], errors="coerce")
    if not (np.isfinite(step) & (step > 0)).all():
        raise BenchError(f"{file} has a step_time_s_mean that is missing or not positive.")
    return frame.assign(step_time_s_mean=step)


def cost_replicates(
    results: pd.DataFrame, entry: str, axis: str, repeats: pd.DataFrame | None = None
) -> Replicates | None:
    """An entry's replicates on a cost axis: its seeds' values, or, for time, its cost repeats (each
    repeat's seconds per step times the entry's optimizer steps, a training time like the time
    column) where there are as many of them as seeds or more; its one value where it has no more (exact costs:
    the value of all seeds).

    `repeats` holds cost_repeats.csv rows tagged with `source` (see `load_cost_repeats`)."""
    ok = results[(results["entry"] == entry) & (results["status"] == "ok") & ~results["sweep"]]
    values = pd.to_numeric(ok[f"axis_{axis}"], errors="coerce").dropna().to_numpy(dtype=float)
    if not len(values):
        return None
    if on_device(axis, ok["device"].iloc[0]).exact:
        return Replicates.of(values)
    if axis == "time" and repeats is not None and not repeats.empty:
        run = ok.iloc[0]
        mine = repeats[(repeats["source"] == run["source"]) & (repeats["model"] == run["model"])]
        steps = pd.to_numeric(ok["train_steps"], errors="coerce").mean() if "train_steps" in ok else np.nan
        if len(mine) >= 2 and len(mine) >= len(values) and np.isfinite(steps) and steps > 0:
            return Replicates.of(mine["step_time_s_mean"].to_numpy(dtype=float) * steps)
    return Replicates.of(values)
