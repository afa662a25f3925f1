"""The report laid out as titled grids of text cells, the same for every renderer.

`sections` turns a built report (bench/report_data.py) into its parts in order (runs, cost-normalized
figures, paired significance, Pareto front, sweep, failures), each a header row and cell rows of text;
the markdown, terminal and HTML renderers draw these grids and add nothing of their own.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from bench.formatting import fmt
from bench.report_data import COST_METRICS, METRICS, PAPER_DEVICE, Metric, Report, axis_label


def cell(row: pd.Series, m: Metric, with_ci: bool = True) -> str:
    """mean ± std [CI] of one metric of one entry; '≈' marks the paper's approximate accuracies."""
    mean = row.get(f"{m.key}_mean")
    text = fmt(mean, m.kind)
    if text == "–" or row["reference"]:
        return ("≈" if row["reference"] and m.key == "test_accuracy" else "") + text
    std, lo, hi = (row.get(f"{m.key}_{s}") for s in ("std", "ci_low", "ci_high"))
    if std is not None and math.isfinite(std) and not (m.kind == "int" and std == 0):
        text += f" ± {fmt(std, m.kind)}"
        if with_ci and lo != hi:
            text += f" [{fmt(lo, m.kind)}, {fmt(hi, m.kind)}]"
    return text


def best(entries: pd.DataFrame, m: Metric) -> set[str]:
    """Entries holding the best mean of a metric among our runs (references never count)."""
    means = entries.loc[~entries["reference"]].set_index("entry")[f"{m.key}_mean"].dropna()
    if means.empty or len(means) < 2:
        return set()
    target = means.max() if m.higher_is_better else means.min()
    return set(means.index[means == target])


def present(entries: pd.DataFrame, metrics: Sequence[Metric]) -> list[Metric]:
    ours = entries[~entries["reference"]] if not entries.empty else entries
    return [m for m in metrics if f"{m.key}_mean" in ours and ours[f"{m.key}_mean"].notna().any()]


def runs_cell(row: pd.Series) -> str:
    if row["reference"]:
        return "reference"
    return f"{row['n_ok']} ok" + (f", {row['n_failed']} failed" if row["n_failed"] else "")


def grid(
    rep: Report, metrics: Sequence[Metric], mark: str, with_ci: bool
) -> tuple[list[str], list[list[str]]]:
    """Headers and cells of the entries table; `mark` wraps the best cell ('**{}**' or rich markup)."""
    shown = present(rep.entries, metrics)
    headers = ["model", "runs", "device"] + [m.header for m in shown]
    winners = {m.key: best(rep.entries, m) for m in shown}
    rows = []
    for _, row in rep.entries.iterrows():
        cells = [str(row["entry"]), runs_cell(row), str(row["device"])]
        for m in shown:
            text = cell(row, m, with_ci)
            cells.append(mark.format(text) if row["entry"] in winners[m.key] else text)
        rows.append(cells)
    return headers, rows


def pairwise_grid(rep: Report) -> tuple[list[str], list[list[str]]]:
    headers = ["model A", "model B", "items", "acc A %", "acc B %", "only A right", "only B right", "p"]
    rows = []
    for _, r in rep.pairwise.iterrows():
        if not math.isfinite(r["p_value"]):
            rows.append([r["model_a"], r["model_b"], "–", "–", "–", "–", "–", f"– ({r['note']})"])
            continue
        p = f"{r['p_value']:.3g}" + (" (significant)" if r["significant"] else "")
        rows.append(
            [r["model_a"], r["model_b"], str(int(r["n_items"])), fmt(r["acc_a"], "pct"),
             fmt(r["acc_b"], "pct"), str(int(r["b"])), str(int(r["c"])), p]
        )  # fmt: skip
    return headers, rows


def front_grid(rep: Report) -> tuple[list[str], list[list[str]]]:
    headers = ["model", "accuracy %", cost_header(rep), "on front", "tied with", "dominated by"]
    rows = [
        [r["model"], fmt(r["accuracy"], "pct"), fmt(r["cost"], "f"), "yes" if r["on_front"] else "no",
         r["tied_with"] or "–", r["dominated_by"] or "–"]
        for _, r in rep.front.iterrows()
    ]  # fmt: skip
    return headers, rows


def cost_header(rep: Report) -> str:
    devices = sorted({str(d) for d in rep.entries.get("device", pd.Series(dtype=str)).dropna()}) or ["cpu"]
    return axis_label(rep.cost, devices)


def sweep_grid(rep: Report) -> tuple[list[str], list[list[str]]]:
    cols = [
        ("study", "study", ""),
        ("trial", "trial", "int"),
        ("model", "model", ""),
        ("max_len", "max_len", "int"),
        ("lr", "lr", "g"),
        ("truncated_test_share", "truncated test %", "pct"),
        ("test_accuracy", "accuracy %", "pct"),
        ("status", "status", ""),
    ]
    rows = [
        [fmt(r.get(k), kind) if kind else str(r.get(k, "–")) for k, _, kind in cols]
        + [fmt(r["p_vs_best"], "p")]
        for _, r in rep.sweep.iterrows()
    ]
    return [h for _, h, _ in cols] + ["p vs best"], rows


def sections(
    rep: Report, mark: str, with_ci: bool
) -> list[tuple[str, str, tuple[list[str], list[list[str]]]]]:
    """(title, note, table) for each part of the report that has content, in order."""
    out = []
    if not rep.entries.empty:  # empty for a folder of sweep trials alone
        note = (
            "Mean ± std over seeds [95% bootstrap CI of the mean]; best of our runs in bold. "
            f"Reference rows are the paper's numbers, measured on an {PAPER_DEVICE}."
        )
        out.append(("Runs", note, grid(rep, METRICS, mark, with_ci)))
    if present(rep.entries, COST_METRICS):
        note = (
            "Accuracy per training hour; accuracy per GiB of peak memory (GPU where measured, else RSS); "
            "accuracy-time AUC: the trapezoid of test accuracy over cumulative training time from the first "
            "epoch to the last, divided by the total training time (time-averaged accuracy, zero before the "
            "first epoch)."
        )
        out.append(("Cost-normalized", note, grid(rep, COST_METRICS, mark, with_ci)))
    if not rep.pairwise.empty:
        note = (
            "McNemar's test on the shared test items, each model's predictions majority-voted over its "
            "seeds (accuracies here are of that vote); significant at p < 0.05."
        )
        out.append(("Paired significance", note, pairwise_grid(rep)))
    if not rep.front.empty:
        note = (
            f"Cost: {cost_header(rep)}. A model dominates another only when it costs no more and is "
            "significantly more accurate; pairs whose difference is not significant are tied."
        )
        out.append(("Pareto front", note, front_grid(rep)))
    elif not rep.entries["reference"].all():
        note = (
            f"No front: no run measured {cost_header(rep)} (energy comes from NVML on NVIDIA GPUs "
            "only, and --trackers off measures neither memory nor energy). Choose another --cost."
        )
        ours = rep.entries[~rep.entries["reference"]]
        rows = [[r["entry"], fmt(r["test_accuracy_mean"], "pct"), "–"] for _, r in ours.iterrows()]
        out.append(("Pareto front", note, (["model", "accuracy %", cost_header(rep)], rows)))
    if not rep.sweep.empty:
        note = (
            "One row per trial. p vs best: McNemar's test of the trial against its study's most accurate "
            "trial on the shared test items (one seed each: a first screen, not a verdict)."
        )
        out.append(("Sweep", note, sweep_grid(rep)))
    if not rep.failures.empty:
        fails = [
            [r["entry"], r["run_id"], r["status"], r["error"] or "–"] for _, r in rep.failures.iterrows()
        ]
        out.append(("Failures", "", (["model", "run", "status", "error"], fails)))
    return out
