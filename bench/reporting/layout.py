"""The report laid out as titled grids of text cells, the same for every renderer.

`sections` turns a built report (bench/reporting/data.py) into its parts in order ("Is it worth it?",
runs, pairs, front, sweep, budget, failures), each a header row and rows of text cells; a section with
no headers is a list of sentences. The markdown, terminal and HTML renderers draw these and add
nothing of their own (the terminal fits them to its width: footnotes, columns left out).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

from bench.costs.axes import group_axis
from bench.costs.bill import volume_words
from bench.formatting import fmt
from bench.reporting import max_len
from bench.reporting.data import PAPER_DEVICE, TARGET_METRICS, Metric, metrics
from bench.reporting.report import Report
from bench.stats import comparisons
from bench.stats.fieller import BOUNDED
from bench.stats.majority import HINT
from bench.stats.wording import amount, percent, points

Grid = tuple[list[str], list[list[str]]]
Section = tuple[str, str, Grid]  # title, note, grid (no headers: a list of sentences)


def interval(low: Any, high: Any, kind: str) -> str:
    return f"[{fmt(low, kind)}, {fmt(high, kind)}]"


def cell(row: pd.Series, m: Metric, with_ci: bool = True) -> str:
    """mean ± std [95% t interval] of one metric of one entry; one seed has neither. '≈' marks the
    paper's approximate accuracies, read off its figures."""
    mean = row.get(f"{m.key}_mean")
    text = fmt(mean, m.kind)
    if row["reference"]:
        approximate = row["reference"] == "paper" and m.key == "test_accuracy" and text != "–"
        return ("≈" if approximate else "") + text
    std, lo, hi = (row.get(f"{m.key}_{s}") for s in ("std", "ci_low", "ci_high"))
    if text != "–" and std is not None and math.isfinite(std) and not (m.kind == "int" and std == 0):
        text += f" ± {fmt(std, m.kind)}"
        if with_ci and lo is not None and math.isfinite(lo):
            text += f" {interval(lo, hi, m.kind)}"
    return text


def present(entries: pd.DataFrame, metrics: Sequence[Metric]) -> list[Metric]:
    ours = entries[entries["reference"] == ""] if not entries.empty else entries
    return [m for m in metrics if f"{m.key}_mean" in ours and ours[f"{m.key}_mean"].notna().any()]


def runs_cell(row: pd.Series) -> str:
    if row["reference"] == "majority":
        return "reference: always the training split's most frequent class"
    if row["reference"] == "paper":
        return f"reference: the paper ({row['task']})" + ("" if row["comparable"] else ", not comparable")
    runs = f"{int(row['n_ok'])} ok" + (f", {int(row['n_failed'])} failed" if row["n_failed"] else "")
    reached = row.get("targets_reached")
    return runs + (f", {int(reached)} reached the target" if reached else "")


def runs_grid(rep: Report, with_ci: bool) -> Grid:
    shown = present(rep.entries, metrics() + (TARGET_METRICS if rep.target is not None else []))
    warn = bool(rep.entries.get("warning", pd.Series(dtype=str)).fillna("").astype(bool).any())
    headers = ["model", "runs", "device", "task", *(m.header for m in shown), *(["warning"] if warn else [])]
    rows = []
    for _, row in rep.entries.iterrows():
        if row["reference"] == "paper" and not row["comparable"]:
            task = f"{row['task']} (not comparable)"
        else:
            task = str(row.get("task") or "–")
        cells = [str(row["entry"]), runs_cell(row), text(row.get("device")), task]
        cells += [cell(row, m, with_ci) for m in shown]
        rows.append(cells + ([text(row.get("warning"))] if warn else []))
    return headers, rows


def text(value: Any) -> str:
    """A text cell: '–' for a missing or empty value."""
    return (
        "–"
        if value is None or (isinstance(value, float) and math.isnan(value)) or value == ""
        else str(value)
    )


def signed_points(value: float) -> str:
    return "–" if not math.isfinite(value) else f"{100 * value:+.1f}"


def break_even_cell(r: pd.Series) -> str:
    """B's extra cost per point of accuracy and its 95% Fieller interval, or why there is none."""
    value = r.get("break_even")
    if value is None or not float(value) > 0:  # none where B costs no more, or gains nothing
        return "–"
    unit = str(r.get("cost_unit") or "")
    cell = amount(float(value), unit)
    if r.get("break_even_kind") == BOUNDED:
        low, high = (amount(float(r[k]), unit) for k in ("break_even_low", "break_even_high"))
        return f"{cell} [{low}, {high}]"
    return f"{cell} [unbounded]"


def pairs_grid(rep: Report) -> Grid:
    headers = [
        "A (cheaper)",
        "B (costlier)",
        "seeds",
        "test items",
        "interval",
        "cost B / A [CI]",
        "accuracy B − A, points [CI]",
        "p",
        "p (adjusted)",
        "detectable, points",
        "cost per point [95% CI]",
        "verdict",
    ]
    rows = []
    for _, r in rep.pairs.iterrows():
        ratio = f"{r['cost_ratio']:.3g}"
        if math.isfinite(r["cost_ci_low"]):
            ratio += f" [{r['cost_ci_low']:.3g}, {r['cost_ci_high']:.3g}]"
        low, high = signed_points(r["acc_diff_ci_low"]), signed_points(r["acc_diff_ci_high"])
        accuracy = f"{signed_points(r['acc_diff'])} [{low}, {high}]"
        p_values = [fmt(r["p_value"], "p"), fmt(r["p_adjusted"], "p")]
        seeds = f"{int(r['seeds_a'])} + {int(r['seeds_b'])}"
        cells = [r["model_a"], r["model_b"], seeds, str(int(r["n_items"])), percent(float(r["pair_alpha"]))]
        mde = f"{100 * r['mde']:.1f}" if math.isfinite(r["mde"]) else "–"
        rows.append([*cells, ratio, accuracy, *p_values, mde, break_even_cell(r), r["verdict"]])
    return headers, rows


def front_grid(rep: Report) -> Grid:
    several = rep.front["group"].nunique() > 1
    headers = ["model", "accuracy %", "cost", "on front", "dominated by"] + (
        ["judged among"] if several else []
    )
    rows = []
    for _, r in rep.front.iterrows():
        axis = group_axis(r["group"], rep.costing)
        kind = "int" if axis.exact else "g" if axis.unit == "$" or r["cost"] < 1 else "f"
        cost = f"{fmt(r['cost'], kind)} {axis.unit}".strip()
        row = [
            r["model"],
            fmt(r["accuracy"], "pct"),
            cost,
            "yes" if r["on_front"] else "no",
            r["dominated_by"] or "–",
        ]
        rows.append(row + ([axis.header] if several else []))
    return headers, rows


def sweep_grid(rep: Report) -> Grid:
    cols = [
        ("study", "study", ""),
        ("trial", "trial", "int"),
        ("model", "model", ""),
        ("settings", "settings", ""),
        ("truncated_test_share", "cut test %", "pct"),
        ("val_accuracy", "val acc %", "pct"),
        ("p_vs_best", "p vs best (val)", "p"),
        ("p_vs_best_adjusted", "p (Holm)", "p"),
    ]
    rows = []
    for _, r in rep.sweep.iterrows():
        cells = [fmt(r.get(k), kind) if kind else str(r.get(k, "–")) for k, _, kind in cols]
        test = "–"
        if r["is_best"] and pd.notna(r.get("test_accuracy")):
            test = f"{fmt(r['test_accuracy'], 'pct')} {interval(r['test_ci_low'], r['test_ci_high'], 'pct')}"
        rows.append(cells + [test, str(r["status"])])
    return [h for _, h, _ in cols] + ["test acc % (best only) [95% CI]", "status"], rows


def budget_grid(rep: Report) -> Grid:
    headers = ["study", "model", "trials", "expected best val acc %", "95% band", "train time s"]
    rows = [
        [str(r["study"]), str(r["model"]), str(int(r["n"])), fmt(r["expected_max"], "pct"),
         interval(r["band_low"], r["band_high"], "pct"), fmt(r["cumulative_cost"], "s")]
        for _, r in rep.budget.iterrows()
    ]  # fmt: skip
    return headers, rows


def sections(rep: Report, with_ci: bool) -> list[Section]:
    """(title, note, grid) for each part of the report that has content, in order."""
    out: list[Section] = []
    if not rep.pairs.empty:
        v = rep.verdicts
        note = (
            f"Each pair, cheaper model first, judged as models: every interval at {v.alpha:g} shared over "
            f"the pairs. Worth it: the costlier model's gain is above the {v.margin:g}-point margin, or it "
            f"is more accurate at a cost within {100 * v.cost_margin:g}%. Not worth it: it is less "
            "accurate, or costlier for a gain below the margin. Equivalent: the gain within the margin "
            "either way and the costs within theirs. Inconclusive: none of these is shown; what the "
            "interval rules out and what would decide it are said."
        )
        out.append(("Is it worth it?", note, ([], [[s] for s in rep.pairs["sentence"]])))
    if rep.decisions:
        note = (
            "Each look's lever (items: more test reviews; seeds: more seeds; cost repeats), the items and "
            "seeds it reached and the level it judged at, up to the verdict."
        )
        out.append(("Until decided", note, ([], [[d] for d in rep.decisions])))
    if rep.notes:
        out.append(("Notes", "", ([], [[n] for n in rep.notes])))
    if not rep.entries.empty:  # empty for a folder of sweep trials alone
        target = (
            f"; time to target: training until validation accuracy first reached {fmt(rep.target, 'pct')}%"
            if rep.target
            else ""
        )
        note = (
            "Mean ± std over seeds [95% Student-t interval of the mean]; one seed has neither. Test "
            "accuracy of the epoch chosen on validation" + target + ". The majority class and the "
            f"paper's numbers (measured on an {PAPER_DEVICE}) are references; the paper's are not "
            "comparable with runs on another task."
        )
        if rep.entries.get("warning", pd.Series(dtype=str)).fillna("").astype(bool).any():
            note += f" Warning: {HINT}."
        out.append(("Runs", note, runs_grid(rep, with_ci)))
    if not rep.pairs.empty:
        v = rep.verdicts
        note = (
            f"Accuracy: {comparisons.described()}; a model with one seed is given a seed-to-seed sd of "
            f"{points(v.seed_noise)}, assumed, not measured. Each pair's intervals are at its level: alpha "
            f"{v.alpha:g} over the pairs, or the plan's share for a pair `--until-decided` judged; p "
            "(adjusted) is below alpha exactly when the interval excludes 0. Detectable: the difference "
            "found with 80% power at the pair's level. Cost: ratio of means, its interval from "
            f"independent replicates (seeds or cost repeats); a side with a single run is judged "
            f"against an assumed {100 * v.cost_noise:g}% run-to-run noise; parameters and FLOPs are exact. "
            "Cost per point: what B pays per point of accuracy it gains, with its 95% Fieller interval."
        )
        out.append(("Pairs", note, pairs_grid(rep)))
    if not rep.front.empty:
        note = (
            "A model is off the front when another dominates it, by the verdicts' rule: the other is "
            "cheaper and this one is not worth it, or the other is worth it at a cost shown equal."
        )
        out.append(("Front", note, front_grid(rep)))
    if rep.volume is not None and rep.volume.sentences:
        view = rep.volume
        note = (
            f"The total cost of each model is its training plus N times one prediction ({view.unit}); this "
            f"report judges N = {volume_words(view.volume)}. A pair's totals are equal at N = (training "
            "B − training A) / (one prediction of A − one of B), with Fieller's 95% interval (unbounded "
            "where the serving costs are too close to tell apart). The front is judged again at each "
            "volume by the verdicts' rule."
        )
        out.append(("Cost at a volume", note, ([], [[sentence] for sentence in view.sentences])))
    if not rep.sweep.empty:
        note = (
            "One row per trial, compared with its study's best on validation (a screen on the split that "
            "chose the best: optimistic). The best trial's test accuracy is read once, for the report."
        )
        out.append(("Sweep", note, sweep_grid(rep)))
    out += max_len.sections(rep)  # a sweep of max_len across models: the paper's question
    if not rep.budget.empty:
        note = "Expected best validation accuracy after n trials (Dodge et al. 2019), with a bootstrap band."
        out.append(("Budget", note, budget_grid(rep)))
    if not rep.failures.empty:
        fails = [
            [r["entry"], r["run_id"], r["status"], r["error"] or "–"] for _, r in rep.failures.iterrows()
        ]
        out.append(("Failures", "", (["model", "run", "status", "error"], fails)))
    return out
