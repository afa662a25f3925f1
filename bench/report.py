"""`bench report`: load results folders, aggregate runs over seeds, compare models, and write the report.

Everything here reads results files only (see bench/results.py); nothing reaches back into training.
The text tables (markdown, CSV, terminal) are rendered in bench/report_tables.py, plots in bench/plots.py
and the self-contained HTML page in bench/html_report.py.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console

from bench import atomic
from bench.errors import BenchError
from bench.results import EPOCHS_FILE, PREDICTIONS_FILE, RESULTS_FILE, read_folder
from bench.stats import StatsError, mcnemar, mean_std_ci, pairwise_significance, significant_pareto

FORMATS = ("table", "csv", "markdown", "html")
EXTENSIONS = {"csv": "csv", "markdown": "md", "html": "html"}


@dataclass(frozen=True)
class Metric:
    key: str  # a per-run column of results.csv, or one derived in `load`
    header: str
    kind: str  # how to print it: pct, int, s (seconds), f (plain float), f3
    higher_is_better: bool


METRICS = [
    Metric("test_accuracy", "accuracy", "pct", True),
    Metric("test_macro_f1", "macro-F1", "pct", True),
    Metric("params_total", "params", "int", False),
    Metric("train_time_s", "train time s", "s", False),
    Metric("epoch_time_s_mean", "s / epoch", "s", False),
    Metric("peak_gpu_mem_mib", "peak GPU MiB", "f", False),
    Metric("peak_rss_mib", "peak RSS MiB", "f", False),
    Metric("energy_j", "energy J", "f", False),
    Metric("train_samples_per_s", "train reviews/s", "f", True),
]
# Cost-normalized figures, one value per run before aggregation (definitions in `load`).
COST_METRICS = [
    Metric("acc_per_train_hour", "accuracy / train hour", "g", True),
    Metric("acc_per_gib", "accuracy / GiB peak", "g", True),
    Metric("acc_time_auc", "accuracy-time AUC", "f3", True),
]
# Aggregated for the cost axis, not shown: the GPU figure where measured, else RSS.
PEAK_MEM = Metric("peak_mem_mib", "peak memory MiB", "f", False)
COST_AXES = {
    "time": ("train_time_s", "total training time (s)"),
    "memory": ("peak_mem_mib", "peak memory (MiB; GPU where measured, else RSS)"),
    "params": ("params_total", "parameters"),
    "energy": ("energy_j", "energy (J)"),
}

PAPER_DEVICE = "RTX 4060 Laptop GPU"
# Huang (2024), section 4: accuracies are read off Figs 5-7 ("about"), the rest quoted from the text.
# The paper gives no per-epoch time for the encoder.
PAPER_ROWS = {
    "encoder": {"test_accuracy": 0.50, "train_time_s": 1842.54, "params_total": 12_419_331},
    "bert": {
        "test_accuracy": 0.63,
        "train_time_s": 8437.04,
        "epoch_time_s_mean": 421.85,
        "params_total": 109_484_547,
    },
    "bert_bilstm": {
        "test_accuracy": 0.65,
        "train_time_s": 5180.92,
        "epoch_time_s_mean": 518.09,
        "params_total": 67_875_331,
    },
}


@dataclass
class Loaded:
    """Results, epochs and predictions of every folder, each row tagged with `source` and `entry`."""

    folders: list[Path]
    results: pd.DataFrame
    epochs: pd.DataFrame
    predictions: pd.DataFrame


@dataclass
class Report:
    loaded: Loaded
    entries: pd.DataFrame  # one row per compared model (and reference rows), see `aggregate`
    pairwise: pd.DataFrame  # McNemar between every two entries
    front: pd.DataFrame  # significance-aware Pareto front on the chosen cost
    cost: str
    sweep: pd.DataFrame  # sweep-trial rows, if any, with p_vs_best (see `sweep_significance`)
    failures: pd.DataFrame


def newest_folder(root: Path = Path("reports")) -> Path:
    found = sorted(root.glob(f"*/{RESULTS_FILE}"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise BenchError(f"no results folder under {root}/; run `bench run` or give a folder.")
    return found[-1].parent


def _col(df: pd.DataFrame, name: str) -> pd.Series:
    return df[name] if name in df.columns else pd.Series(np.nan, index=df.index, dtype=float)


def run_auc(epochs: pd.DataFrame) -> float:
    """Time-averaged test accuracy of one run over its training time.

    The trapezoid of test accuracy over cumulative_train_time_s, from the first epoch's point to the
    last, divided by the total training time (the last point's time). The stretch before the first
    evaluation counts as zero, so a model that is accurate sooner scores higher; at most the final
    accuracy if accuracy only grows. One epoch gives no curve: NaN.
    """
    e = epochs.sort_values("epoch")
    t = e["cumulative_train_time_s"].to_numpy(dtype=float)
    a = e["test_accuracy"].to_numpy(dtype=float)
    if len(t) < 2 or not np.isfinite(t).all() or not np.isfinite(a).all() or t[-1] <= 0:
        return math.nan
    return float(np.sum((a[1:] + a[:-1]) / 2 * np.diff(t)) / t[-1])


def load(folders: Sequence[Path]) -> Loaded:
    """Read and merge folders. A model found in several folders gets one entry per folder."""
    if not folders:
        folders = [newest_folder()]
    frames: dict[str, list[pd.DataFrame]] = {"results": [], "epochs": [], "predictions": []}
    for folder in folders:
        if not folder.is_dir():
            raise BenchError(f"no such results folder: {folder}")
        run = read_folder(folder)
        for key, name in (
            ("results", RESULTS_FILE),
            ("epochs", EPOCHS_FILE),
            ("predictions", PREDICTIONS_FILE),
        ):
            df = run.read(name)
            df.insert(0, "source", folder.name)
            frames[key].append(df)
    res, ep, pred = (
        # Leave out empty frames (a folder without predictions): concat would turn the labels into floats.
        pd.concat([f for f in frames[k] if len(f)] or [pd.DataFrame()], ignore_index=True)
        for k in ("results", "epochs", "predictions")
    )
    if res.empty:
        raise BenchError(f"{folders[0]}/{RESULTS_FILE} holds no runs.")

    trial = _col(res, "trial")
    res["sweep"] = _col(res, "study").notna() | trial.notna()
    per_model_sources = res[~res["sweep"]].groupby("model")["source"].nunique()
    many = set(per_model_sources[per_model_sources > 1].index)
    res["entry"] = [
        f"{m} t{int(t)}" if pd.notna(t) else (f"{m} [{s}]" if m in many else str(m))
        for m, s, t in zip(res["model"], res["source"], trial)
    ]

    # Peak memory: the GPU figure where measured (process, else device-minus-baseline), else host RSS.
    gpu = _col(res, "peak_gpu_mem_process_mib").fillna(_col(res, "peak_gpu_mem_nvml_mib"))
    res["peak_gpu_mem_mib"] = gpu
    res["peak_mem_mib"] = gpu.fillna(_col(res, "peak_rss_mib"))
    acc = _col(res, "test_accuracy")
    res["acc_per_train_hour"] = acc / (_col(res, "train_time_s") / 3600)
    res["acc_per_gib"] = acc / (res["peak_mem_mib"] / 1024)
    auc = {k: run_auc(g) for k, g in ep.groupby(["source", "run_id"])} if not ep.empty else {}
    res["acc_time_auc"] = [auc.get((s, r), math.nan) for s, r in zip(res["source"], res["run_id"])]

    entry_of = res.set_index(["source", "run_id"])["entry"]
    for df in (ep, pred):
        if not df.empty:
            df["entry"] = [entry_of.get((s, r)) for s, r in zip(df["source"], df["run_id"])]
    return Loaded(list(folders), res, ep, pred)


def _summary(values: pd.Series) -> dict[str, float]:
    v = pd.to_numeric(values, errors="coerce").dropna()
    v = v[np.isfinite(v)]
    if v.empty:
        return {"mean": math.nan, "std": math.nan, "ci_low": math.nan, "ci_high": math.nan}
    s = mean_std_ci(v.to_numpy())
    return {"mean": s.mean, "std": s.std, "ci_low": s.ci_low, "ci_high": s.ci_high}


def aggregate(results: pd.DataFrame) -> pd.DataFrame:
    """One row per entry over its ok runs: n, failures, and mean/std/ci_low/ci_high per metric.

    Entries are grouped by model, in the order models first appear; the paper's reference row for a
    model follows our last entry of that model.
    """
    rows: list[dict[str, Any]] = []
    for entry, g in results[~results["sweep"]].groupby("entry", sort=False):
        ok = g[g["status"] == "ok"]
        row: dict[str, Any] = {
            "entry": entry,
            "model": g["model"].iloc[0],
            "source": g["source"].iloc[0],
            "reference": False,
            "device": ", ".join(sorted({str(d) for d in _col(ok, "device").dropna()})),
            "seeds": " ".join(str(int(s)) for s in ok["seed"]),
            "n_ok": len(ok),
            "n_failed": int((g["status"] != "ok").sum()),
        }
        for m in [*METRICS, *COST_METRICS, PEAK_MEM]:
            for stat, value in _summary(_col(ok, m.key)).items():
                row[f"{m.key}_{stat}"] = value
        rows.append(row)
    models = list(dict.fromkeys(r["model"] for r in rows))
    rows.sort(key=lambda r: models.index(r["model"]))  # stable: one model's entries side by side
    out: list[dict[str, Any]] = []
    for i, row in enumerate(rows):
        out.append(row)
        later = [r["model"] for r in rows[i + 1 :]]
        if row["model"] in PAPER_ROWS and row["model"] not in later:
            ref: dict[str, Any] = {
                "entry": f"{row['model']} (paper)",
                "model": row["model"],
                "source": "paper",
                "reference": True,
                "device": PAPER_DEVICE,
                "seeds": "",
                "n_ok": 1,
                "n_failed": 0,
            }
            ref.update({f"{k}_mean": v for k, v in PAPER_ROWS[row["model"]].items()})
            out.append(ref)
    # A folder of sweep trials alone has no entries; the columns still exist for every reader.
    return pd.DataFrame(out, columns=list(out[0]) if out else ["entry", "model", "source", "reference"])


def significance(loaded: Loaded, entries: Sequence[str]) -> pd.DataFrame:
    """McNemar p-values between every two entries on their shared test items (majority vote over seeds).

    A pair that shares no items, or whose labels disagree, gets an empty p-value and a note.
    """
    pred = loaded.predictions
    if pred.empty or "entry" not in pred.columns:
        return pd.DataFrame()
    ok_runs = loaded.results.loc[loaded.results["status"] == "ok", ["source", "run_id"]]
    pred = pred.merge(ok_runs, on=["source", "run_id"])
    pred = pred[pred["entry"].isin(entries)]
    cols = ["example_id", "label", "pred"]
    votes = pred.assign(model=pred["entry"], seed=pred["source"] + "/" + pred["seed"].astype(str))
    present = [e for e in entries if e in set(votes["model"])]
    rows = []
    for i, a in enumerate(present):
        for b in present[i + 1 :]:
            pair = votes.loc[votes["model"].isin([a, b]), ["model", "seed", *cols]]
            try:
                rows.append(pairwise_significance(pair).iloc[0].to_dict() | {"note": ""})
            except StatsError as exc:
                rows.append({"model_a": a, "model_b": b, "p_value": math.nan, "note": str(exc)})
    return pd.DataFrame(rows)


def sweep_significance(loaded: Loaded, sweep: pd.DataFrame) -> pd.Series:
    """McNemar p-value of each finished trial against the most accurate trial of its study, on the
    test items both predicted; NaN for the best trial itself and for trials without predictions."""
    p_values: dict[Any, float] = {}
    pred = loaded.predictions
    if not pred.empty:
        correct = {
            run: pd.Series((g["label"] == g["pred"]).to_numpy(), index=g["example_id"])
            for run, g in pred.groupby(["source", "run_id"])
        }
        ok = sweep[(sweep["status"] == "ok") & sweep["test_accuracy"].notna()]
        for _, trials in ok.groupby(_col(ok, "study").fillna(""), sort=False):
            top = trials.sort_values("test_accuracy", ascending=False, kind="stable").iloc[0]
            best = correct.get((top["source"], top["run_id"]))
            for i, trial in trials.iterrows():
                mine = correct.get((trial["source"], trial["run_id"]))
                if best is None or mine is None or mine is best:
                    continue
                shared = best.index.intersection(mine.index)
                if len(shared):
                    p_values[i] = mcnemar(best[shared], mine[shared]).p_value
    return pd.Series([p_values.get(i, math.nan) for i in sweep.index], index=sweep.index, dtype=float)


def pareto(entries: pd.DataFrame, pairwise: pd.DataFrame, cost: str) -> pd.DataFrame:
    """The significance-aware front of our entries with both mean accuracy and mean cost measured."""
    key = COST_AXES[cost][0]
    ours = entries[~entries["reference"]]
    points = pd.DataFrame(
        {"model": ours["entry"], "accuracy": ours["test_accuracy_mean"], "cost": ours[f"{key}_mean"]}
    ).dropna()
    if points.empty:
        return pd.DataFrame(columns=["model", "accuracy", "cost", "on_front", "dominated_by", "tied_with"])
    pv = pairwise if not pairwise.empty else pd.DataFrame(columns=["model_a", "model_b", "p_value"])
    return significant_pareto(points.reset_index(drop=True), pv.dropna(subset=["p_value"]))


def build(folders: Sequence[Path], cost: str = "time") -> Report:
    if cost not in COST_AXES:
        raise BenchError(f"--cost must be one of {', '.join(COST_AXES)}, not {cost!r}.")
    loaded = load(folders)
    entries = aggregate(loaded.results)
    ours = list(entries.loc[~entries["reference"], "entry"]) if not entries.empty else []
    pairwise = significance(loaded, ours)
    front = pareto(entries, pairwise, cost) if ours else pd.DataFrame()
    res = loaded.results
    sweep = res[res["sweep"]]
    sweep = sweep.assign(p_vs_best=sweep_significance(loaded, sweep))
    bad = ~res["status"].isin(["ok", "pruned"])  # a pruned sweep trial was stopped on purpose
    failures = res.loc[bad, ["entry", "source", "run_id", "status"]].assign(
        error=_col(res, "error")[bad].fillna("")
    )
    return Report(loaded, entries, pairwise, front, cost, sweep, failures)


def default_out(rep: Report, fmt_name: str) -> Path:
    return rep.loaded.folders[0] / f"report.{EXTENSIONS[fmt_name]}"


def make_report(
    folders: Sequence[Path], fmt_name: str = "table", out: Path | None = None, cost: str = "time"
) -> Path | None:
    """The `bench report` command: build, write plots beside the report, render. Returns the file."""
    from bench import plots  # matplotlib is slow to import; the table alone should not wait for it
    from bench.report_tables import to_csv, to_markdown, to_rich  # it imports this module: not at the top

    if fmt_name not in FORMATS:
        raise BenchError(f"--format must be one of {', '.join(FORMATS)}, not {fmt_name!r}.")
    rep = build(folders, cost)
    err = Console(stderr=True)
    if fmt_name == "table":
        plot_dir = out or rep.loaded.folders[0]
        figures = plots.write_all(rep, plot_dir / "plots")
        for table in to_rich(rep):
            Console().print(table)
        err.print(f"wrote {len(figures)} plots to {plot_dir / 'plots'}")
        return None
    target = out or default_out(rep, fmt_name)
    figures = plots.write_all(rep, target.parent / "plots")
    if fmt_name == "csv":
        text = to_csv(rep)
    elif fmt_name == "markdown":
        text = to_markdown(rep)
    else:
        from bench.html_report import to_html

        text = to_html(rep, figures)
    atomic.write_text(target, text)
    err.print(f"wrote {target} and {len(figures)} plots to {target.parent / 'plots'}")
    return target
