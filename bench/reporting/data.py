"""The report's data: results folders loaded and merged, runs aggregated over seeds (with the majority
class and the paper's rows as references), each entry's correctness on the test items, time to
target. Reads results files only (see bench/results.py); nothing reaches back into training. The
pairs are judged in bench.reporting.pairs, the report built in bench.reporting.report.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.config import CostSettings
from bench.costs.axes import axis_names, axis_value
from bench.costs.bill import bill_columns
from bench.costs.columns import cost_columns
from bench.errors import BenchError
from bench.readable import FOLDER, MISSING, what_is_there
from bench.reporting.replicates import load_cost_repeats
from bench.results import (
    EPOCHS_FILE,
    PREDICTIONS_FILE,
    RESULTS_FILE,
    STEPS_FILE,
    CostColumn,
    read_decisions,
    read_folder,
)
from bench.stats.budgets import time_to_target
from bench.stats.intervals import mean_std_ci
from bench.stats.majority import short_warning

ALPHA = 0.05
TARGET_SHARE = 0.95  # time to target: by default 95% of the best validation accuracy in the report


@dataclass(frozen=True)
class Metric:
    key: str  # a per-run column of results.csv, or one derived in `load`
    header: str
    kind: str  # how to print it (see bench.formatting.fmt)
    higher_is_better: bool


def cost_metric(column: CostColumn) -> Metric:
    kind = "int" if column.exact else "s" if column.unit == "s" else "f"
    return Metric(column.name, column.label, kind, column.higher_is_better)


# The deployer's bill (bench.costs.bill): only where the cost settings ask for it, never a default.
BILL_METRICS = [
    Metric("train_usd", "train $", "g", False),  # with --price
    Metric("serve_usd_per_1m", "serve $ / 1M", "g", False),  # with --price
    Metric("train_co2e_g", "train g CO2e", "g", False),  # with --carbon-intensity, where energy was measured
]


def metrics() -> list[Metric]:
    """The report's per-run metrics: accuracy, macro-F1, every cost column marked `report`, and the
    bill's columns (present only where priced, or with a carbon intensity)."""
    return [
        Metric("test_accuracy", "accuracy %", "pct", True),
        Metric("test_macro_f1", "macro-F1 %", "pct", True),
        *(cost_metric(c) for c in cost_columns() if c.report),
        *BILL_METRICS,
    ]


# Time (and energy) until validation accuracy first reached the report's target, per run.
TARGET_METRICS = [
    Metric("time_to_target_s", "time to target s", "s", False),
    Metric("energy_to_target_j", "energy to target J", "f", False),
]


def axis_metrics() -> dict[str, Metric]:
    """Each run's value on each cost axis (bench.costs.axes), aggregated but not shown."""
    return {axis: Metric(f"axis_{axis}", axis, "f", False) for axis in axis_names()}


PAPER_DEVICE = "RTX 4060 Laptop GPU"
PAPER_TASK = "3-class Kaggle IMDB"
# Gao (2025), section 3: accuracies are read off Figs 5-7 ("about"), the rest quoted from the text.
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
    predictions: pd.DataFrame  # `split` is test or val (files from before validation: test)
    cost_repeats: pd.DataFrame = field(default_factory=pd.DataFrame)  # cost_repeats.csv, with `source`
    steps: pd.DataFrame = field(default_factory=pd.DataFrame)  # training loss per timed chunk
    decisions: pd.DataFrame = field(default_factory=pd.DataFrame)  # `--until-decided`'s looks


def newest_folder(root: Path = Path("reports")) -> Path:
    found = sorted(root.glob(f"*/{RESULTS_FILE}"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise BenchError(f"no results folder under {root}/; run `bench run` or give a folder.")
    return found[-1].parent


def column_or_nan(df: pd.DataFrame, name: str) -> pd.Series:
    return df[name] if name in df.columns else pd.Series(np.nan, index=df.index, dtype=float)


def task_of(row: Any) -> str:
    """A run's task, as the paper's reference rows name theirs: classes and data set."""
    dataset = str(row.get("dataset", ""))
    scheme, _, rest = dataset.partition(":")
    name = {"imdb": "embedded IMDB", "kaggle": "Kaggle IMDB"}.get(scheme, Path(rest).name or scheme)
    n = row.get("n_classes")
    return f"{int(n)}-class {name}" if n is not None and pd.notna(n) else name


def load(folders: Sequence[Path], costing: CostSettings | None = None) -> Loaded:
    """Read and merge folders. A model found in several folders gets one entry per folder; the worker
    folders of one results folder (worker-*) count as that folder, which reads them merged. Each run's
    value on every cost axis and its bill (bench.costs.bill) are read with `costing`."""
    costing = costing or CostSettings()
    if not folders:
        folders = [newest_folder()]
    folders = list(dict.fromkeys(f.parent if f.name.startswith("worker-") else f for f in folders))
    frames: dict[str, list[pd.DataFrame]] = {
        "results": [], "epochs": [], "predictions": [], "steps": [], "decisions": []
    }  # fmt: skip
    repeats = []
    for folder in folders:
        problem = what_is_there(folder)
        if problem != FOLDER:
            raise BenchError(
                f"no such results folder: {folder}" + (f" ({problem})" if problem != MISSING else "")
            )
        run = read_folder(folder)
        for key, name in (
            ("results", RESULTS_FILE),
            ("epochs", EPOCHS_FILE),
            ("predictions", PREDICTIONS_FILE),
            ("steps", STEPS_FILE),
        ):
            df = run.read(name)
            df.insert(0, "source", folder.name)
            frames[key].append(df)
        frames["decisions"].append(read_decisions(folder).assign(source=folder.name))
        repeats.append(load_cost_repeats(folder).assign(source=folder.name))
    res, ep, pred, steps, decisions = (
        # Leave out empty frames (a folder without predictions): concat would turn the labels into floats.
        pd.concat([f for f in frames[k] if len(f)] or [pd.DataFrame()], ignore_index=True)
        for k in ("results", "epochs", "predictions", "steps", "decisions")
    )
    if res.empty:
        raise BenchError(f"{folders[0]}/{RESULTS_FILE} holds no runs.")
    if not pred.empty:
        pred["split"] = pred["split"].fillna("test") if "split" in pred else "test"

    trial = column_or_nan(res, "trial")
    res["sweep"] = column_or_nan(res, "study").notna() | trial.notna()
    per_model_sources = res[~res["sweep"]].groupby("model")["source"].nunique()
    many = set(per_model_sources[per_model_sources > 1].index)
    study = column_or_nan(res, "study").astype(object).where(column_or_nan(res, "study").notna(), "")
    by_model = {m: g for m, g in res.groupby("model", sort=False)}
    res["entry"] = [
        trial_entry(m, s, st, int(t), by_model[m]) if pd.notna(t) else (f"{m} [{s}]" if m in many else str(m))
        for m, s, st, t in zip(res["model"], res["source"], study, trial)
    ]
    res["task"] = [task_of(r) for r in res.to_dict("records")]
    rows = res.to_dict("records")
    for axis, metric in axis_metrics().items():
        res[metric.key] = pd.to_numeric(pd.Series([axis_value(r, axis, costing) for r in rows], dtype=object))
    bills = [bill_columns(r, costing, axis_value(r, "energy")) for r in rows]
    for key in dict.fromkeys(k for b in bills for k in b):  # none without a price or a carbon intensity
        res[key] = pd.to_numeric(pd.Series([b.get(key) for b in bills], dtype=object))

    entry_of = dict(zip(zip(res["source"], res["run_id"]), res["entry"]))  # a dict: fast per row
    for df in (ep, pred, steps):
        if not df.empty:
            df["entry"] = [entry_of.get((s, r)) for s, r in zip(df["source"], df["run_id"])]
    timed = [r for r in repeats if len(r)]
    repeats_frame = pd.concat(timed, ignore_index=True) if timed else pd.DataFrame()
    return Loaded(list(folders), res, ep, pred, repeats_frame, steps, decisions)


def trial_entry(model: str, source: str, study: str, trial: int, rows: pd.DataFrame) -> str:
    """A sweep trial's entry: `bert t0`, with its study (or folder and study) where the model's
    trials come from several studies, so that two studies' trial 0 stay two entries."""
    trials = rows[column_or_nan(rows, "trial").notna()]
    keys = set(zip(trials["source"], column_or_nan(trials, "study").fillna("")))
    if len(keys) <= 1:
        return f"{model} t{trial}"
    by_study = len({k[1] for k in keys}) == len(keys)
    return f"{model} t{trial} [{study if by_study else f'{source}/{study}'.rstrip('/')}]"


def default_target(loaded: Loaded) -> float | None:
    """TARGET_SHARE of the best validation accuracy any compared run reached at any epoch."""
    ep = loaded.epochs
    if ep.empty or "val_accuracy" not in ep or "entry" not in ep:
        return None
    ours = ep[ep["entry"].isin(set(loaded.results.loc[~loaded.results["sweep"], "entry"]))]
    best = pd.to_numeric(ours["val_accuracy"], errors="coerce").max()
    return TARGET_SHARE * float(best) if pd.notna(best) else None


def add_time_to_target(loaded: Loaded, target: float | None) -> None:
    """Each run's training time and energy until its validation accuracy first reached `target`."""
    res, ep = loaded.results, loaded.epochs
    res["time_to_target_s"] = res["energy_to_target_j"] = math.nan
    if target is None or ep.empty or "val_accuracy" not in ep:
        return
    for (source, run_id), g in ep.groupby(["source", "run_id"]):
        g = g.sort_values("epoch")
        accuracy = pd.to_numeric(g["val_accuracy"], errors="coerce").to_numpy(dtype=float)
        at = (res["source"] == source) & (res["run_id"] == run_id)
        time = g["cumulative_train_time_s"].to_numpy(dtype=float)
        if not (np.isfinite(time).all() and (np.diff(time) >= 0).all()):
            continue  # times missing or out of order (an old or edited file): no time to target
        res.loc[at, "time_to_target_s"] = time_to_target(time, accuracy, target)
        energy = pd.to_numeric(column_or_nan(g, "energy_j"), errors="coerce").to_numpy(dtype=float)
        if np.isfinite(energy).all():
            res.loc[at, "energy_to_target_j"] = time_to_target(np.cumsum(energy), accuracy, target)


def _summary(values: pd.Series, bounded: bool = False) -> dict[str, float]:
    v = pd.to_numeric(values, errors="coerce").dropna()
    v = v[np.isfinite(v)]
    if v.empty:
        return {"n": 0, "mean": math.nan, "std": math.nan, "ci_low": math.nan, "ci_high": math.nan}
    s = mean_std_ci(v.to_numpy())
    # Every metric is non-negative and accuracies are at most 1: an interval clipped to the values
    # the quantity can take covers it at least as often.
    high = min(s.ci_high, 1.0) if bounded else s.ci_high
    return {"n": s.n, "mean": s.mean, "std": s.std, "ci_low": max(s.ci_low, 0.0), "ci_high": high}


def aggregate(results: pd.DataFrame) -> pd.DataFrame:
    """One row per entry over its ok runs: n, failures, and n/mean/std/ci_low/ci_high (Student t
    over seeds; no interval from one seed) per metric; then the reference rows.

    Entries are grouped by model, in the order models first appear. References follow: the majority
    class of each task, and the paper's numbers for each paper model, named with the paper's task and
    marked not comparable beside runs on another task.
    """
    rows: list[dict[str, Any]] = []
    for entry, g in results[~results["sweep"]].groupby("entry", sort=False):
        ok = g[g["status"] == "ok"]
        flagged = [str(w) for w in column_or_nan(ok, "warning").dropna() if str(w)]
        kinds = sorted({str(short_warning(w)) for w in flagged})
        warning = f"{' / '.join(kinds)} ({len(flagged)} of {len(ok)} runs)" if flagged else ""
        row: dict[str, Any] = {
            "entry": entry,
            "model": g["model"].iloc[0],
            "source": g["source"].iloc[0],
            "reference": "",
            "task": g["task"].iloc[0],
            "comparable": True,
            "device": ", ".join(sorted({str(d) for d in column_or_nan(ok, "device").dropna()})),
            "seeds": " ".join(str(int(s)) for s in ok["seed"]),
            "n_ok": len(ok),
            "n_failed": int((g["status"] != "ok").sum()),
            "warning": warning,
            "targets_reached": int(column_or_nan(ok, "time_to_target_s").notna().sum()),
        }
        for m in [*metrics(), *TARGET_METRICS, *axis_metrics().values()]:
            if m in BILL_METRICS and m.key not in results:
                continue  # no price, no money column: not even an empty one
            for stat, value in _summary(column_or_nan(ok, m.key), bounded=m.kind == "pct").items():
                row[f"{m.key}_{stat}"] = value
        rows.append(row)
    models = list(dict.fromkeys(r["model"] for r in rows))
    rows.sort(key=lambda r: models.index(r["model"]))  # stable: one model's entries side by side
    columns = list(rows[0]) if rows else ["entry", "model", "source", "reference", "task"]
    return pd.DataFrame(rows + reference_rows(results, rows), columns=columns)


def reference_rows(results: pd.DataFrame, ours: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The majority class of every task our runs were on, and the paper's rows of our paper models."""
    refs: list[dict[str, Any]] = []
    ok = results[(results["status"] == "ok") & ~results["sweep"]]
    for task, g in ok.groupby("task", sort=False):
        share = pd.to_numeric(column_or_nan(g, "majority_accuracy"), errors="coerce").dropna()
        if len(share):
            several = ok["task"].nunique() > 1
            name = "majority class" + (f" ({task})" if several else "")
            refs.append({"entry": name, "model": name, "reference": "majority", "task": task,
                         "comparable": True, "test_accuracy_mean": float(share.mean())})  # fmt: skip
    tasks = {r["task"] for r in ours}
    for model in dict.fromkeys(r["model"] for r in ours):
        if model in PAPER_ROWS:
            paper = PAPER_ROWS[model]
            ref = {"entry": f"{model} (paper)", "model": model, "reference": "paper", "task": PAPER_TASK,
                   "comparable": tasks == {PAPER_TASK}, "device": PAPER_DEVICE}  # fmt: skip
            ref.update({f"{k}_mean": v for k, v in paper.items()})
            for axis, metric in axis_metrics().items():  # the paper trained on a GPU
                ref[f"{metric.key}_mean"] = axis_value({**paper, "device": PAPER_DEVICE}, axis)
            refs.append(ref)
    return refs


# --- pairs ---------------------------------------------------------------------------------------
def correctness(loaded: Loaded, entries: Sequence[str], split: str = "test") -> dict[str, pd.DataFrame]:
    """Per entry, a (seed runs × example ids) frame of right (1) or wrong (0) on `split`, ok runs only."""
    pred = loaded.predictions
    if pred.empty or "entry" not in pred.columns:
        return {}
    ok_runs = loaded.results.loc[loaded.results["status"] == "ok", ["source", "run_id"]]
    pred = pred.merge(ok_runs, on=["source", "run_id"])
    pred = pred[(pred["split"] == split) & pred["entry"].isin(entries)]
    found = {}
    for entry, g in pred.groupby("entry", sort=False):
        right = (g["pred"] == g["label"]).astype(int)
        table = g.assign(right=right).pivot_table(
            index=["source", "run_id"], columns="example_id", values="right", aggfunc="first"
        )
        # Only the items every run of the entry predicted: a seed added while deciding is tested on
        # the items its model had then, and another entry's runs may have more.
        found[str(entry)] = table.dropna(axis=1).astype(int)
    return found


def labels_agree(loaded: Loaded, a: str, b: str) -> bool:
    pred = loaded.predictions
    both = pred[pred["entry"].isin([a, b]) & (pred["split"] == "test")]
    return bool((both.groupby("example_id")["label"].nunique() <= 1).all())
