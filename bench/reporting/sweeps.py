"""Sweep trials in a report: compared on validation (the split that chose them), the best confirmed on
test once, and the expected best validation accuracy against the budget spent (Dodge et al. 2019)."""

from __future__ import annotations

import json
import math

import pandas as pd

from bench.config import RUN_FIELDS
from bench.reporting.data import Loaded, column_or_nan, correctness
from bench.stats.budgets import budget_curve
from bench.stats.intervals import accuracy_interval
from bench.stats.paired import compare_accuracy, holm


def sweep_table(loaded: Loaded, sweep: pd.DataFrame) -> pd.DataFrame:
    """Sweep trials compared on validation, and the chosen trial confirmed on test once.

    Per study, the best trial is the one with the best validation accuracy. Every other finished
    trial is compared with it on the validation items both predicted (exact McNemar on the two trained
    trials: a screen of checkpoints, not a verdict on recipes), p Holm-adjusted across the study's
    trials. That is a screen on the split that chose the best, so
    optimistic; the best trial's test accuracy, with its Wilson interval, is the number to report.
    """
    out = sweep.assign(is_best=False, p_vs_best=math.nan, p_vs_best_adjusted=math.nan,
                       test_ci_low=math.nan, test_ci_high=math.nan)  # fmt: skip
    if out.empty or "val_accuracy" not in out:
        return out
    out["settings"] = swept_settings(out)
    right = {k: v for k, v in correctness(loaded, list(out["entry"]), "val").items()}
    done = out[(out["status"] == "ok") & out["val_accuracy"].notna()]
    for _, trials in done.groupby(column_or_nan(done, "study").fillna(""), sort=False):
        # The best on validation; on a tie, the cheaper to train (nothing here reads test accuracy).
        ranked = trials.assign(_time=pd.to_numeric(column_or_nan(trials, "train_time_s"), errors="coerce"))
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
                p[i] = compare_accuracy(
                    best[shared].to_numpy(), mine[shared].to_numpy(), checkpoints=True
                ).p_value
        if p:
            out.loc[list(p), "p_vs_best"] = list(p.values())
            out.loc[list(p), "p_vs_best_adjusted"] = holm(list(p.values()))
    return out


def swept_settings(sweep: pd.DataFrame) -> list[str]:
    """Each trial's settings that differ between the trials of its study, run settings and model
    options alike ("max_len=128, C=4.0")."""
    options = [json.loads(o) if isinstance(o, str) else {} for o in column_or_nan(sweep, "options")]
    settings = [
        {**{k: r[k] for k in RUN_FIELDS if k in sweep and k not in ("options", "seed")}, **o}
        for (_, r), o in zip(sweep.iterrows(), options)
    ]
    studies = column_or_nan(sweep, "study").fillna("").tolist()
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
    for (study, model), g in done.groupby([column_or_nan(done, "study").fillna(""), "model"], sort=False):
        if len(g) >= 2:
            curve = budget_curve(
                g["val_accuracy"].to_numpy(dtype=float), g["train_time_s"].to_numpy(dtype=float)
            )
            parts.append(curve.assign(study=str(study), model=str(model)))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
