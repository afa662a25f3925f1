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
from bench.results import COST_REPEAT_COLUMNS, COST_REPEATS_FILE, read_rows
from bench.stats.cost import Replicates


def load_cost_repeats(folder: Path) -> pd.DataFrame:
    """A folder's cost_repeats.csv (one row per timed repeat, seconds per optimizer step), checked
    against its schema, or an empty frame with its columns when the folder has none."""
    file = folder / COST_REPEATS_FILE
    frame = read_rows(file)
    if frame.empty:
        return pd.DataFrame(columns=[c.name for c in COST_REPEAT_COLUMNS])
    step = frame["step_time_s_mean"]
    if not (step > 0).all():
        line = int(np.argmax(~(step > 0).to_numpy()))
        raise BenchError(f"{file}: row {line + 1} has a step_time_s_mean of 0; a timed step takes time.")
    return frame


def cost_replicates(
    results: pd.DataFrame, entry: str, axis: str, repeats: pd.DataFrame | None = None
) -> Replicates | None:
    """An entry's replicates on a cost axis: its seeds' values when it has two or more; else, for
    time, its cost repeats (each repeat's seconds per step times the entry's optimizer steps, a
    training time like the time column); else its one value (exact costs: the value of all seeds).

    `repeats` holds cost_repeats.csv rows tagged with `source` (see `load_cost_repeats`)."""
    ok = results[(results["entry"] == entry) & (results["status"] == "ok") & ~results["sweep"]]
    values = pd.to_numeric(ok[f"axis_{axis}"], errors="coerce").dropna().to_numpy(dtype=float)
    if not len(values):
        return None
    if len(values) >= 2 or on_device(axis, ok["device"].iloc[0]).exact:
        return Replicates.of(values)
    if axis == "time" and repeats is not None and not repeats.empty:
        run = ok.iloc[0]
        mine = repeats[(repeats["source"] == run["source"]) & (repeats["model"] == run["model"])]
        steps = pd.to_numeric(ok["train_steps"], errors="coerce").mean() if "train_steps" in ok else np.nan
        if len(mine) >= 2 and np.isfinite(steps) and steps > 0:
            return Replicates.of(mine["step_time_s_mean"].to_numpy(dtype=float) * steps)
    return Replicates.of(values)
