"""Cost replicates of a report's entries: independent repeated measurements of one cost, and only
those. Seeds are replicates (one results.csv row each); so are cost repeats, short timed runs of
the same configuration each in a fresh process (cost_repeats.csv), which time training steps and
inference. A run's own chunks of step time share its process and are never replicates: they cannot
see run-to-run variation.

A cost repeat is read as a results row: its run's row with every cost column emptied, then what the
repeat measured put in (its seconds per step times the run's steps as the training time; its latency
and serving time). Every axis is then read from it as from a run's row, derived axes included, and an
axis the repeat did not measure (memory, energy) has no value there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.config import CostSettings
from bench.costs.axes import axis_value, on_device
from bench.costs.bill import finite, number, serving_cost, training_cost
from bench.costs.columns import cost_columns
from bench.errors import BenchError
from bench.results import COST_REPEAT_COLUMNS, COST_REPEATS_FILE, read_rows
from bench.stats.cost import Replicates

# What a repeat also times since it times inference; files from before lack them (empty then).
INFERENCE_REPEAT_COLUMNS = ["latency_ms_p50_bs1", "serve_s_per_1k", "serve_batch"]


def load_cost_repeats(folder: Path) -> pd.DataFrame:
    """A folder's cost_repeats.csv (one row per timed repeat, seconds per optimizer step, and the
    repeat's inference timings where it has them), checked against its schema, or an empty frame with
    its columns when the folder has none."""
    file = folder / COST_REPEATS_FILE
    frame = read_rows(file)
    if frame.empty:
        return pd.DataFrame(columns=[c.name for c in COST_REPEAT_COLUMNS])
    step = frame["step_time_s_mean"]
    if not (step > 0).all():
        line = int(np.argmax(~(step > 0).to_numpy()))
        raise BenchError(f"{file}: row {line + 1} has a step_time_s_mean of 0; a timed step takes time.")
    return frame


def repeat_row(run: Mapping[Any, Any], repeat: Mapping[Any, Any]) -> dict[str, Any]:
    """A cost repeat as a results row (see the module's note). A run without optimizer steps (an
    estimator) timed one whole fit as its one step: that fit is its training time."""
    measured = {c.name for c in cost_columns()}
    row = {key: value for key, value in run.items() if key not in measured}
    step, steps = number(repeat, "step_time_s_mean"), number(run, "train_steps")
    if step is not None and steps is not None and steps > 0:
        row["train_time_s"] = step * steps
    elif step is not None and steps is None and number(repeat, "steps") == 1:
        row["train_time_s"] = step
    for key in INFERENCE_REPEAT_COLUMNS:
        row[key] = repeat.get(key)
    return row


Measure = Callable[[Mapping[Any, Any]], Sequence[Any]]


def records(frame: pd.DataFrame) -> list[dict[Any, Any]]:
    """A frame's rows as dicts; far faster than `to_dict("records")` on a results frame's hundred
    columns, which the report reads once per entry and axis (and per volume it judges)."""
    return [dict(zip(frame.columns, row)) for row in frame.to_numpy(dtype=object)]


def _complete(values: Sequence[Any]) -> list[float] | None:
    """The values as floats when every one is a finite cost (zero or more), else None."""
    found = [finite(v) for v in values]
    if any(v is None or v < 0 for v in found):
        return None
    return [float(v) for v in found if v is not None]


def replicate_table(
    results: pd.DataFrame, entry: str, measure: Measure, repeats: pd.DataFrame | None = None
) -> np.ndarray | None:
    """`measure` (one or more costs of a row) over an entry's replicates, one row each: its seeds'
    runs; or its cost repeats (of any of its runs) where two or more measured every cost and they are
    as many as the runs or more; else its one run. None when no run measured them."""
    ok = results[(results["entry"] == entry) & (results["status"] == "ok") & ~results["sweep"]]
    runs = records(ok)
    seeds = [v for r in runs if (v := _complete(measure(r))) is not None]
    if not seeds:
        return None
    if repeats is not None and not repeats.empty:
        by_id = {(r["source"], r["run_id"]): r for r in runs}
        timed = [
            v
            for r in records(repeats)
            if (key := (r["source"], r["run_id"])) in by_id
            and (v := _complete(measure(repeat_row(by_id[key], r)))) is not None
        ]
        if len(timed) >= 2 and len(timed) >= len(seeds):  # the larger set of independent replicates
            return np.array(timed, dtype=float)
    return np.array(seeds, dtype=float)


def cost_replicates(
    results: pd.DataFrame,
    entry: str,
    axis: str,
    repeats: pd.DataFrame | None = None,
    costing: CostSettings | None = None,
) -> Replicates | None:
    """An entry's replicates on a cost axis: its seeds' values, or its cost repeats' where there are as
    many of them or more (each read as a results row, see `repeat_row`: training time, latency,
    serving, and the axes derived from them, such as the total at a volume); else its one value
    (exact costs: the value of all seeds).

    `repeats` holds cost_repeats.csv rows tagged with `source` (see `load_cost_repeats`); `costing`
    the prices and volume the derived axes read."""
    ok = results[(results["entry"] == entry) & (results["status"] == "ok") & ~results["sweep"]]
    if ok.empty:
        return None
    if on_device(axis, ok["device"].iloc[0]).exact:
        values = [axis_value(r, axis, costing) for r in records(ok)]
        exact = [float(v) for v in values if v is not None and pd.notna(v)]
        return Replicates.of(exact) if exact else None
    table = replicate_table(results, entry, lambda r: [axis_value(r, axis, costing)], repeats)
    return None if table is None else Replicates.of(table[:, 0])


def cost_parts(
    results: pd.DataFrame, entry: str, costing: CostSettings, repeats: pd.DataFrame | None = None
) -> np.ndarray | None:
    """An entry's training cost and serving cost per prediction, paired by replicate (n x 2, in the
    unit of the axis total: dollars when priced, else device-seconds), from the same replicates as
    `cost_replicates`; None where either was not measured."""
    return replicate_table(
        results, entry, lambda r: [training_cost(r, costing), serving_cost(r, costing)], repeats
    )
