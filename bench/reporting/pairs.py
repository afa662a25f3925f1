"""Every pair of a report's entries judged, and the front: what the runs are evidence of (each entry's
correctness on the test items and its cost replicates) handed to the one verdict function
(bench.stats.verdicts.judge_all). A folder decided by `--until-decided` reports its plan's verdicts:
decisions.csv's last look of each pair, not a fresh test at the report's level.

Reads the loaded results files only; the decide loop reads the same evidence from here.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from bench.config import CostSettings, VerdictSettings
from bench.costs.axes import axis_group, device_type, group_axis
from bench.errors import BenchError
from bench.reporting.data import Loaded, correctness, labels_agree
from bench.reporting.replicates import cost_replicates
from bench.stats.cost import Replicates
from bench.stats.pair_table import VERDICT_COLUMNS, pair_table
from bench.stats.verdicts import judge_all, verdict_front


@dataclass(frozen=True)
class Evidence:
    """What judging one group of entries reads: each entry's (runs x test items) correctness, 0/1 by
    example id, and its cost replicates; `group` is the axis group all of them are measured on."""

    group: str
    names: list[str]
    right: dict[str, pd.DataFrame]
    costs: dict[str, Replicates]

    def aligned(self, loaded: Loaded, a: str, b: str) -> tuple[np.ndarray, np.ndarray]:
        """a's and b's correctness on the test items both predicted with the same labels."""
        shared = self.right[a].columns.intersection(self.right[b].columns)
        if not len(shared) or not labels_agree(loaded, a, b):
            raise BenchError(
                f"{a} and {b} share no test items with the same labels; compare runs on one split."
            )
        return self.right[a][shared].to_numpy(), self.right[b][shared].to_numpy()


def evidence(
    loaded: Loaded, entries: pd.DataFrame, cost: str, costing: CostSettings | None = None
) -> tuple[list[Evidence], list[str]]:
    """Our entries' evidence on axis `cost`, grouped by what the axis reads on their device (memory is
    GPU memory on a GPU and host RSS on a CPU, energy likewise: never one axis), and notes for the
    reader; `costing` holds the prices and volume the derived axes read."""
    notes: list[str] = []
    ours = entries[entries["reference"] == ""].set_index("entry")
    names = [str(e) for e in ours.index if ours.loc[e, "n_ok"] > 0]
    right = correctness(loaded, names)
    res, repeats = loaded.results, loaded.cost_repeats
    costs = {}
    for name in names:
        reps = cost_replicates(res, name, cost, repeats, costing) if name in right else None
        if reps is not None:
            costs[name] = reps
    skipped = ", ".join(n for n in names if n not in costs)
    if skipped:
        notes.append(f"Left out of the verdicts (no predictions or no {cost} measured): {skipped}.")
    groups: dict[str, list[str]] = {}
    for name in costs:
        kind = device_type(str(ours.loc[name, "device"]).split(", ")[0])
        groups.setdefault(axis_group(cost, kind), []).append(name)
    if len(groups) > 1:
        notes.append(
            f"{cost.capitalize()} is measured apart on a GPU and on a CPU ("
            + " and ".join(group_axis(g, costing).header for g in groups)
            + "), never one axis: GPU and CPU runs are judged apart, with a front each, and each "
            "family's pairs share its alpha on their own."
        )
    found = [
        Evidence(group, members, {n: right[n] for n in members}, {n: costs[n] for n in members})
        for group, members in groups.items()
    ]
    return found, notes


def decided(table: pd.DataFrame, loaded: Loaded, ours: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """The pair rows with each pair that `--until-decided` judged replaced by its last look's row (its
    verdict, interval and level, as the plan spent alpha), where the look judged the same cost; and how
    many were replaced."""
    looks = loaded.decisions
    if looks.empty or table.empty or "look" not in looks:
        return table, 0
    where = ours.set_index("entry")[["source", "model"]]
    rows, replaced = [], 0
    for row in table.to_dict("records"):
        (source_a, model_a), (source_b, model_b) = where.loc[row["model_a"]], where.loc[row["model_b"]]
        same = (looks["source"] == source_a) & (looks["cost"] == row["cost"])
        pair = [{a, b} == {model_a, model_b} for a, b in zip(looks["model_a"], looks["model_b"])]
        mine = looks[same & np.array(pair, dtype=bool)]
        if source_a != source_b or mine.empty:
            rows.append(row)
            continue
        last = mine.sort_values("look").iloc[-1]
        entry = {model_a: row["model_a"], model_b: row["model_b"]}
        plan: dict[Hashable, Any] = {c: last[c] for c in VERDICT_COLUMNS if c in last.index}
        plan["model_a"], plan["model_b"] = entry[str(last["model_a"])], entry[str(last["model_b"])]
        rows.append({**row, **plan})
        replaced += 1
    return pd.DataFrame(rows, columns=table.columns).astype({"cost_significant": object}), replaced


def judge(
    loaded: Loaded,
    entries: pd.DataFrame,
    cost: str,
    verdicts: VerdictSettings | None = None,
    costing: CostSettings | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Every pair of our entries judged on accuracy and `cost`, and the front; notes for the reader.

    Each group's pairs are judged together (`judge_all`: every interval at alpha / pairs); the pair
    rows are bench.stats.pair_table's, with the group; the front follows the same verdicts."""
    settings = verdicts or VerdictSettings()
    found, notes = evidence(loaded, entries, cost, costing)
    ours = entries[entries["reference"] == ""]
    summary = ours.set_index("entry")
    tables, fronts, plan = [], [], 0
    for ev in found:
        axis = group_axis(ev.group, costing)
        pairs = {(a, b): ev.aligned(loaded, a, b) for i, a in enumerate(ev.names) for b in ev.names[i + 1 :]}
        judged = judge_all(ev.names, pairs, ev.costs, settings, exact=axis.exact)
        table, replaced = decided(pair_table(judged, axis.noun, axis.unit, settings.alpha), loaded, ours)
        plan += replaced
        tables.append(table.assign(group=ev.group))
        front = verdict_front(ev.names, table).assign(group=ev.group)
        front["accuracy"] = [summary.loc[m, "test_accuracy_mean"] for m in front["model"]]
        front["cost"] = [ev.costs[m].mean for m in front["model"]]
        fronts.append(front)
    if plan:
        notes.append(
            f"{plan} pair(s) were decided by `--until-decided`: their rows give the plan's verdict and "
            "interval at its last look (decisions.csv), not a fresh test at the report's level."
        )
    pairs_frame = (
        pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=[*VERDICT_COLUMNS, "group"])
    )
    return pairs_frame, (pd.concat(fronts, ignore_index=True) if fronts else pd.DataFrame()), notes
