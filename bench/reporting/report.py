"""The report: results folders loaded (bench.reporting.data), runs aggregated over seeds, every pair
judged (bench.reporting.pairs), sweeps compared on validation (bench.reporting.sweeps). The renderers
and plots read a built `Report`; `bench.reporting.write` builds one and hands it to a format.

Nothing here chooses on the test split: a sweep's best trial is the best on validation, and the
target of time-to-target is a validation accuracy. Test accuracy is read to report and to compare.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from bench.config import CostSettings, ReportSettings, VerdictSettings
from bench.costs.axes import axis_names
from bench.errors import BenchError
from bench.reporting.bill_notes import cost_notes
from bench.reporting.data import (
    Loaded,
    add_time_to_target,
    aggregate,
    column_or_nan,
    default_target,
    load,
)
from bench.reporting.decision_paths import decision_paths
from bench.reporting.pairs import judge
from bench.reporting.sweeps import budget_curves, sweep_table
from bench.reporting.volumes import VolumeView, by_volume
from bench.stats.intervals import StatsError


@dataclass
class Report:
    loaded: Loaded
    entries: pd.DataFrame  # one row per compared model, then the reference rows (see `aggregate`)
    pairs: pd.DataFrame  # one verdict per pair of our entries (bench.stats.pair_table.VERDICT_COLUMNS, group)
    front: pd.DataFrame  # model, group, accuracy, cost, on_front, dominated_by
    cost: str
    target: float | None  # the validation accuracy of time to target
    sweep: pd.DataFrame  # sweep-trial rows, compared on validation (see `sweep_table`)
    budget: pd.DataFrame  # expected best validation accuracy against trials' cost (see `budget_curves`)
    failures: pd.DataFrame
    notes: list[str] = field(default_factory=list)  # what the reader must know to read the verdicts
    verdicts: VerdictSettings = field(default_factory=VerdictSettings)  # what the verdicts read
    decisions: list[str] = field(default_factory=list)  # each pair's path under --until-decided
    costing: CostSettings = field(default_factory=CostSettings)  # prices, volume... the costs read
    volume: VolumeView | None = None  # with --volume: total cost against volume (bench.reporting.volumes)


def build(folders: Sequence[Path], settings: ReportSettings | None = None) -> Report:
    """The report of `folders` (default: the newest under reports/) as `settings` ask."""
    settings = settings or ReportSettings()
    verdicts, cost, target = settings.verdicts.validate(), settings.cost, settings.target
    costing = settings.costing.validate()
    if cost not in axis_names():
        raise BenchError(f"--cost must be one of {', '.join(axis_names())}, not {cost!r}.")
    if cost == "total" and costing.volume is None:
        raise BenchError("--cost total needs --volume N, the predictions over the model's life (e.g. 10M).")
    if target is not None and not 0 < target <= 1:
        raise BenchError(f"--target is a validation accuracy in (0, 1], not {target}.")
    loaded = load(folders, costing)
    target = target if target is not None else default_target(loaded)
    add_time_to_target(loaded, target)
    entries = aggregate(loaded.results)
    view = None

    def front_at(volume: float) -> tuple[str, ...]:  # the front on the total at another volume
        _, found, _ = judge(loaded, entries, "total", verdicts, dataclasses.replace(costing, volume=volume))
        return tuple(found.loc[found["on_front"], "model"]) if not found.empty else ()

    try:
        pairs, front, notes = judge(loaded, entries, cost, verdicts, costing)
        if costing.volume is not None and not pairs.empty:
            ours = [str(e) for e in entries.loc[entries["reference"] == "", "entry"]]
            repeats, noise = loaded.cost_repeats, verdicts.cost_noise
            pairs, view = by_volume(loaded.results, repeats, ours, pairs, noise, costing, front_at)
    except StatsError as exc:
        raise BenchError(f"cannot compare these runs: {exc}") from None
    notes += cost_notes(loaded.results, cost, costing)
    res = loaded.results
    sweep = sweep_table(loaded, res[res["sweep"]])
    bad = ~res["status"].isin(["ok", "pruned"])  # a pruned sweep trial was stopped on purpose
    failures = res.loc[bad, ["entry", "source", "run_id", "status"]].assign(
        error=column_or_nan(res, "error")[bad].fillna("")
    )
    if front.empty and len(entries[entries["reference"] == ""]) > 1:
        notes.append(f"No front: fewer than two runs measured {cost} with predictions to compare.")
    return Report(
        loaded,
        entries,
        pairs,
        front,
        cost,
        target,
        sweep,
        budget_curves(sweep),
        failures,
        notes,
        verdicts,
        decision_paths(loaded.decisions),
        costing,
        view,
    )
