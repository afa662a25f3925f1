"""The report's data: results folders loaded, runs aggregated over seeds, every pair of models judged.

Everything here reads results files only (see bench/results.py); nothing reaches back into training.
The renderers (render_text, render_terminal, render_html, plots) import this module and layout, never
each other (plots draws with the figure modules curves and verdict_plots); `bench.reporting.write`
builds a report and hands it to one.

Nothing here chooses on the test split: a sweep's best trial is the best on validation, and the
target of time-to-target is a validation accuracy. Test accuracy is read to report and to compare.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.config import RUN_FIELDS, ReportSettings, VerdictSettings
from bench.costs.axes import axis_group, axis_names, axis_value, device_type, group_axis
from bench.costs.columns import cost_columns
from bench.errors import BenchError
from bench.readable import FOLDER, MISSING, what_is_there
from bench.reporting.paths import decision_paths
from bench.reporting.replicates import cost_replicates as cost_replicates  # re-exported
from bench.reporting.replicates import load_cost_repeats
from bench.results import (
    DECISIONS_FILE,
    EPOCHS_FILE,
    PREDICTIONS_FILE,
    RESULTS_FILE,
    STEPS_FILE,
    CostColumn,
    read_folder,
)
from bench.stats.budgets import budget_curve, time_to_target
from bench.stats.intervals import StatsError, accuracy_interval, mean_std_ci
from bench.stats.majority import short_warning
from bench.stats.paired import compare_accuracy, holm
from bench.stats.verdicts import VERDICT_COLUMNS, pair_verdicts, verdict_front

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


def metrics() -> list[Metric]:
    """The report's per-run metrics: accuracy, macro-F1 and every cost column marked `report`."""
    return [
        Metric("test_accuracy", "accuracy %", "pct", True),
        Metric("test_macro_f1", "macro-F1 %", "pct", True),
        *(cost_metric(c) for c in cost_columns() if c.report),
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


@dataclass
class Report:
    loaded: Loaded
    entries: pd.DataFrame  # one row per compared model, then the reference rows (see `aggregate`)
    pairs: pd.DataFrame  # one verdict per pair of our entries (bench.stats.verdicts.VERDICT_COLUMNS and more)
    front: pd.DataFrame  # model, group, accuracy, cost, on_front, dominated_by
    cost: str
    target: float | None  # the validation accuracy of time to target
    sweep: pd.DataFrame  # sweep-trial rows, compared on validation (see `sweep_table`)
    budget: pd.DataFrame  # expected best validation accuracy against trials' cost (see `budget_curves`)
    failures: pd.DataFrame
    notes: list[str] = field(default_factory=list)  # what the reader must know to read the verdicts
    verdicts: VerdictSettings = field(default_factory=VerdictSettings)  # what the verdicts read
    decisions: list[str] = field(default_factory=list)  # each pair's path under --until-decided


def newest_folder(root: Path = Path("reports")) -> Path:
    found = sorted(root.glob(f"*/{RESULTS_FILE}"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise BenchError(f"no results folder under {root}/; run `bench run` or give a folder.")
    return found[-1].parent


def _col(df: pd.DataFrame, name: str) -> pd.Series:
    return df[name] if name in df.columns else pd.Series(np.nan, index=df.index, dtype=float)


def task_of(row: Any) -> str:
    """A run's task, as the paper's reference rows name theirs: classes and data set."""
    dataset = str(row.get("dataset", ""))
    scheme, _, rest = dataset.partition(":")
    name = {"imdb": "embedded IMDB", "kaggle": "Kaggle IMDB"}.get(scheme, Path(rest).name or scheme)
    n = row.get("n_classes")
    return f"{int(n)}-class {name}" if n is not None and pd.notna(n) else name


def load(folders: Sequence[Path]) -> Loaded:
    """Read and merge folders. A model found in several folders gets one entry per folder; the worker
    folders of one results folder (worker-*) count as that folder, which reads them merged."""
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
            ("decisions", DECISIONS_FILE),
        ):
            df = run.read(name)
            df.insert(0, "source", folder.name)
            frames[key].append(df)
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

    trial = _col(res, "trial")
    res["sweep"] = _col(res, "study").notna() | trial.notna()
    per_model_sources = res[~res["sweep"]].groupby("model")["source"].nunique()
    many = set(per_model_sources[per_model_sources > 1].index)
    study = _col(res, "study").astype(object).where(_col(res, "study").notna(), "")
    by_model = {m: g for m, g in res.groupby("model", sort=False)}
    res["entry"] = [
        trial_entry(m, s, st, int(t), by_model[m]) if pd.notna(t) else (f"{m} [{s}]" if m in many else str(m))
        for m, s, st, t in zip(res["model"], res["source"], study, trial)
    ]
    res["task"] = [task_of(r) for r in res.to_dict("records")]
    rows = res.to_dict("records")
    for axis, metric in axis_metrics().items():
        res[metric.key] = pd.to_numeric(pd.Series([axis_value(r, axis) for r in rows], dtype=object))

    entry_of = res.set_index(["source", "run_id"])["entry"]
    for df in (ep, pred, steps):
        if not df.empty:
            df["entry"] = [entry_of.get((s, r)) for s, r in zip(df["source"], df["run_id"])]
    timed = [r for r in repeats if len(r)]
    repeats_frame = pd.concat(timed, ignore_index=True) if timed else pd.DataFrame()
    return Loaded(list(folders), res, ep, pred, repeats_frame, steps, decisions)


def trial_entry(model: str, source: str, study: str, trial: int, rows: pd.DataFrame) -> str:
    """A sweep trial's entry: `bert t0`, with its study (or folder and study) where the model's
    trials come from several studies, so that two studies' trial 0 stay two entries."""
    trials = rows[_col(rows, "trial").notna()]
    keys = set(zip(trials["source"], _col(trials, "study").fillna("")))
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
        energy = pd.to_numeric(_col(g, "energy_j"), errors="coerce").to_numpy(dtype=float)
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
        flagged = [str(w) for w in _col(ok, "warning").dropna() if str(w)]
        kinds = sorted({str(short_warning(w)) for w in flagged})
        warning = f"{' / '.join(kinds)} ({len(flagged)} of {len(ok)} runs)" if flagged else ""
        row: dict[str, Any] = {
            "entry": entry,
            "model": g["model"].iloc[0],
            "source": g["source"].iloc[0],
            "reference": "",
            "task": g["task"].iloc[0],
            "comparable": True,
            "device": ", ".join(sorted({str(d) for d in _col(ok, "device").dropna()})),
            "seeds": " ".join(str(int(s)) for s in ok["seed"]),
            "n_ok": len(ok),
            "n_failed": int((g["status"] != "ok").sum()),
            "warning": warning,
            "targets_reached": int(_col(ok, "time_to_target_s").notna().sum()),
        }
        for m in [*metrics(), *TARGET_METRICS, *axis_metrics().values()]:
            for stat, value in _summary(_col(ok, m.key), bounded=m.kind == "pct").items():
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
        share = pd.to_numeric(_col(g, "majority_accuracy"), errors="coerce").dropna()
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
        found[str(entry)] = g.assign(right=right).pivot_table(
            index=["source", "run_id"], columns="example_id", values="right", aggfunc="first"
        )
    return found


def labels_agree(loaded: Loaded, a: str, b: str) -> bool:
    pred = loaded.predictions
    both = pred[pred["entry"].isin([a, b]) & (pred["split"] == "test")]
    return bool((both.groupby("example_id")["label"].nunique() <= 1).all())


def judge(
    loaded: Loaded,
    entries: pd.DataFrame,
    cost: str,
    verdicts: VerdictSettings | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Every pair of our entries judged on accuracy and `cost`, and the front; notes for the reader.

    Accuracy: one paired comparison on the shared test items (bench.stats.compare_accuracy), Holm-
    adjusted across all pairs of the report. Cost: bench.stats.compare_cost on the replicates of
    `cost_replicates` (seeds or cost repeats); a side with one run is judged against the assumed
    run-to-run noise. `verdicts` holds the margin and what else the verdicts read. Memory is GPU
    memory for GPU runs and host RSS for CPU runs: a report holding both judges each device type
    apart, with a front each.
    """
    settings = verdicts or VerdictSettings()
    notes: list[str] = []
    ours = entries[entries["reference"] == ""]
    names = [str(e) for e in ours["entry"] if ours.set_index("entry").loc[e, "n_ok"] > 0]
    right = correctness(loaded, names)
    res, repeats = loaded.results, loaded.cost_repeats
    measured = [n for n in names if n in right and cost_replicates(res, n, cost, repeats) is not None]
    skipped = [n for n in names if n not in measured]
    if skipped:
        notes.append(
            f"Left out of the verdicts (no predictions or no {cost} measured): {', '.join(skipped)}."
        )
    groups: dict[str, list[str]] = {}  # by the column the axis reads: memory differs by device type
    for name in measured:
        kind = device_type(str(ours.set_index("entry").loc[name, "device"]).split(", ")[0])
        groups.setdefault(axis_group(cost, kind), []).append(name)
    if len(groups) > 1:
        notes.append(
            "Memory is GPU memory on a GPU and host RSS on a CPU, never one axis: GPU and CPU runs are "
            "judged apart, with a front each, and each family's p-values are Holm-adjusted on their own."
        )
    judged: list[pd.DataFrame] = []
    fronts: list[pd.DataFrame] = []
    for column, group in groups.items():
        comparisons = {}
        for i, a in enumerate(group):
            for b in group[i + 1 :]:
                shared = right[a].columns.intersection(right[b].columns)
                if not len(shared) or not labels_agree(loaded, a, b):
                    raise BenchError(
                        f"{a} and {b} share no test items with the same labels; compare runs on one split."
                    )
                comparisons[(a, b)] = compare_accuracy(
                    right[a][shared].to_numpy(), right[b][shared].to_numpy(), ALPHA
                )
        costs = {n: reps for n in group if (reps := cost_replicates(res, n, cost, repeats)) is not None}
        axis = group_axis(column)
        table = pair_verdicts(
            group,
            costs,
            comparisons,
            cost=axis.noun,
            exact=axis.exact,
            alpha=ALPHA,
            margin=settings.margin,
            noise=settings.cost_noise,
        )
        items = {frozenset(k): c.n_items for k, c in comparisons.items()}
        table["n_items"] = [items[frozenset(k)] for k in zip(table["model_a"], table["model_b"])]
        judged.append(table.assign(group=column))
        front = verdict_front(group, table).assign(group=column)
        summary = ours.set_index("entry")
        front["accuracy"] = [summary.loc[m, "test_accuracy_mean"] for m in front["model"]]
        front["cost"] = [costs[m].mean for m in front["model"]]
        fronts.append(front)
    pairs = (
        pd.concat(judged, ignore_index=True) if judged else pd.DataFrame(columns=[*VERDICT_COLUMNS, "group"])
    )
    front = pd.concat(fronts, ignore_index=True) if fronts else pd.DataFrame()
    return pairs, front, notes


# --- sweeps --------------------------------------------------------------------------------------
def sweep_table(loaded: Loaded, sweep: pd.DataFrame) -> pd.DataFrame:
    """Sweep trials compared on validation, and the chosen trial confirmed on test once.

    Per study, the best trial is the one with the best validation accuracy. Every other finished
    trial is compared with it on the validation items both predicted (one seed each: exact McNemar),
    p Holm-adjusted across the study's trials. That is a screen on the split that chose the best, so
    optimistic; the best trial's test accuracy, with its Wilson interval, is the number to report.
    """
    out = sweep.assign(is_best=False, p_vs_best=math.nan, p_vs_best_adjusted=math.nan,
                       test_ci_low=math.nan, test_ci_high=math.nan)  # fmt: skip
    if out.empty or "val_accuracy" not in out:
        return out
    out["settings"] = swept_settings(out)
    right = {k: v for k, v in correctness(loaded, list(out["entry"]), "val").items()}
    done = out[(out["status"] == "ok") & out["val_accuracy"].notna()]
    for _, trials in done.groupby(_col(done, "study").fillna(""), sort=False):
        # The best on validation; on a tie, the cheaper to train (nothing here reads test accuracy).
        ranked = trials.assign(_time=pd.to_numeric(_col(trials, "train_time_s"), errors="coerce"))
        top = ranked.sort_values(["val_accuracy", "_time"], ascending=[False, True], kind="stable").index[0]
        out.loc[top, "is_best"] = True
        n, acc = out.loc[top, "n_test"], out.loc[top, "test_accuracy"]
        if pd.notna(n) and pd.notna(acc) and n > 0:
            out.loc[top, ["test_ci_low", "test_ci_high"]] = accuracy_interval(round(acc * n), int(n))
        best = right.get(str(out.loc[top, "entry"]))
        p = {}
        for i in trials.index:
            mine = right.get(str(out.loc[i, "entry"]))
            if i == top or best is None or mine is None:
                continue
            shared = best.columns.intersection(mine.columns)
            if len(shared):
                p[i] = compare_accuracy(best[shared].to_numpy(), mine[shared].to_numpy()).p_value
        if p:
            out.loc[list(p), "p_vs_best"] = list(p.values())
            out.loc[list(p), "p_vs_best_adjusted"] = holm(list(p.values()))
    return out


def swept_settings(sweep: pd.DataFrame) -> list[str]:
    """Each trial's settings that differ between the trials of its study, run settings and model
    options alike ("max_len=128, C=4.0")."""
    options = [json.loads(o) if isinstance(o, str) else {} for o in _col(sweep, "options")]
    settings = [
        {**{k: r[k] for k in RUN_FIELDS if k in sweep and k not in ("options", "seed")}, **o}
        for (_, r), o in zip(sweep.iterrows(), options)
    ]
    studies = _col(sweep, "study").fillna("").tolist()
    found = [""] * len(settings)
    for study in set(studies):
        members = [j for j, name in enumerate(studies) if name == study]
        varied = {
            k for j in members for k in settings[j] if len({str(settings[i].get(k)) for i in members}) > 1
        }
        for j in members:
            found[j] = ", ".join(f"{k}={v}" for k, v in settings[j].items() if k in varied)
    return found


def budget_curves(sweep: pd.DataFrame) -> pd.DataFrame:
    """Expected best validation accuracy after n trials against the training time spent, per study."""
    parts = []
    done = (
        sweep[(sweep["status"] == "ok") & sweep["val_accuracy"].notna()]
        if "val_accuracy" in sweep
        else sweep[:0]
    )
    for (study, model), g in done.groupby([_col(done, "study").fillna(""), "model"], sort=False):
        if len(g) >= 2:
            curve = budget_curve(
                g["val_accuracy"].to_numpy(dtype=float), g["train_time_s"].to_numpy(dtype=float)
            )
            parts.append(curve.assign(study=str(study), model=str(model)))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def build(folders: Sequence[Path], settings: ReportSettings | None = None) -> Report:
    """The report of `folders` (default: the newest under reports/) as `settings` ask."""
    settings = settings or ReportSettings()
    verdicts, cost, target = settings.verdicts.validate(), settings.cost, settings.target
    if cost not in axis_names():
        raise BenchError(f"--cost must be one of {', '.join(axis_names())}, not {cost!r}.")
    if target is not None and not 0 < target <= 1:
        raise BenchError(f"--target is a validation accuracy in (0, 1], not {target}.")
    loaded = load(folders)
    target = target if target is not None else default_target(loaded)
    add_time_to_target(loaded, target)
    entries = aggregate(loaded.results)
    try:
        pairs, front, notes = judge(loaded, entries, cost, verdicts)
    except StatsError as exc:
        raise BenchError(f"cannot compare these runs: {exc}") from None
    res = loaded.results
    sweep = sweep_table(loaded, res[res["sweep"]])
    bad = ~res["status"].isin(["ok", "pruned"])  # a pruned sweep trial was stopped on purpose
    failures = res.loc[bad, ["entry", "source", "run_id", "status"]].assign(
        error=_col(res, "error")[bad].fillna("")
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
        decision_paths(folders),
    )
