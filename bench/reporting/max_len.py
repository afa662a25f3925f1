"""The answer across max_len: how each model's accuracy and cost move with the tokens it reads.

The paper closes by guessing that longer inputs would raise accuracy. A sweep of max_len across the
suite's models (`bench sweep --param max_len`) holds one study per model; this module reads its
trials from a built report (bench/reporting/data.py) and gives, per model:

- each max_len's validation accuracy, training time and truncated share of reviews;
- the best max_len, chosen on validation, and its test accuracy, read once;
- the verdict of the best max_len against the shortest, by the report's own pair rule
  (`bench.reporting.pairs.judge`: the same comparison, cost ratio and verdict as any pair of models).
  Each model's pair is a family of one, so its level is not shared across the models.

Only studies in which max_len alone varies are read: with another setting swept beside it, the best
trial's gain could not be put down to max_len.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from bench.formatting import fmt
from bench.reporting.data import Loaded, aggregate
from bench.reporting.pairs import judge
from bench.reporting.plots import COLORS, save
from bench.reporting.report import Report

PARAM = "max_len"


@dataclass
class ModelAnswer:
    model: str
    study: str
    points: pd.DataFrame  # per max_len: val_accuracy, train_time_s, truncated shares, trials
    best: pd.Series  # the trial chosen on validation (sweep_table's is_best), with its test interval
    shortest: pd.Series  # the best on validation among the trials at the shortest max_len
    pair: pd.Series | None  # judge's row for shortest against best; None when they are one max_len

    @property
    def headline(self) -> str:
        longest, short = int(self.best[PARAM]), int(self.shortest[PARAM])
        if self.pair is None:
            return (
                f"{self.model}: the shortest max_len tried ({short}) is also the best on validation; "
                "no longer input raised validation accuracy, so the shortest is worth keeping."
            )
        longer_costlier = self.pair["model_b"] == entry_name(self.model, longest)
        verdict = str(self.pair["verdict"])
        if longer_costlier:
            what = {"worth it": "worth its cost", "not worth it": "not worth its cost"}.get(
                verdict, "not shown to be worth its cost (inconclusive)"
            )
            return f"{self.model}: max_len {longest} (best on validation) against {short}: {what}."
        return (
            f"{self.model}: max_len {longest} (best on validation) cost no more than {short} here; "
            f"the pair's verdict, for the costlier one: {verdict}."
        )


def entry_name(model: str, max_len: int) -> str:
    return f"{model} {PARAM}={max_len}"


def _studies(rep: Report) -> list[tuple[str, pd.DataFrame]]:
    """Studies whose ok trials vary in max_len and in nothing else, in the report's order."""
    sweep = rep.sweep
    if sweep.empty or PARAM not in sweep or "settings" not in sweep:
        return []
    ok = sweep[(sweep["status"] == "ok") & sweep["val_accuracy"].notna()]
    found = []
    for study, trials in ok.groupby(ok["study"].fillna("") if "study" in ok else "", sort=False):
        only_max_len = all(str(s).startswith(f"{PARAM}=") and "," not in str(s) for s in trials["settings"])
        if trials[PARAM].nunique() > 1 and only_max_len:
            found.append((str(study), trials))
    return found


def _verdict(rep: Report, best: pd.Series, shortest: pd.Series, model: str) -> pd.Series | None:
    """The report's pair rule on two trials, as if they were two models of an ordinary report."""
    loaded = rep.loaded
    keys = {(t["source"], t["run_id"]): int(t[PARAM]) for t in (best, shortest)}
    res = loaded.results
    at = [(s, r) in keys for s, r in zip(res["source"], res["run_id"])]
    results = res[at].copy()
    results["entry"] = [entry_name(model, keys[(s, r)]) for s, r in zip(results["source"], results["run_id"])]
    results["sweep"] = False
    frames = []
    for frame in (loaded.epochs, loaded.predictions):
        if frame.empty:
            frames.append(frame)
            continue
        mine = frame[[(s, r) in keys for s, r in zip(frame["source"], frame["run_id"])]].copy()
        mine["entry"] = [entry_name(model, keys[(s, r)]) for s, r in zip(mine["source"], mine["run_id"])]
        frames.append(mine)
    sub = Loaded(loaded.folders, results, frames[0], frames[1])
    pairs, _, _ = judge(sub, aggregate(results), rep.cost, rep.verdicts, rep.costing)
    return pairs.iloc[0] if len(pairs) else None


def answer(rep: Report) -> list[ModelAnswer]:
    """One answer per model swept over max_len alone (see the module's docstring)."""
    answers = []
    for study, trials in _studies(rep):
        model = str(trials["model"].iloc[0])
        points = (
            trials.groupby(PARAM)
            .agg(
                val_accuracy=("val_accuracy", "mean"),
                train_time_s=("train_time_s", "mean"),
                truncated_train_share=("truncated_train_share", "mean"),
                truncated_test_share=("truncated_test_share", "mean"),
                trials=("trial", "count"),
            )
            .reset_index()
            .sort_values(PARAM)
        )
        best = trials[trials["is_best"]].iloc[0]
        at_shortest = trials[trials[PARAM] == trials[PARAM].min()]
        shortest = at_shortest.sort_values("val_accuracy", ascending=False, kind="stable").iloc[0]
        pair = None if int(best[PARAM]) == int(shortest[PARAM]) else _verdict(rep, best, shortest, model)
        answers.append(ModelAnswer(model, study, points, best, shortest, pair))
    return answers


def pair_rows(rep: Report) -> pd.DataFrame:
    """Each model's verdict of its best max_len against its shortest, as pair rows (group `max_len`),
    so that every format carries them as it carries the report's own pairs."""
    rows = [
        a.pair.to_dict() | {"group": f"across {PARAM}", "study": a.study}
        for a in answer(rep)
        if a.pair is not None
    ]
    return pd.DataFrame(rows)


# --- the report's sections and figure ------------------------------------------------------------
def sections(rep: Report) -> list[tuple[str, str, tuple[list[str], list[list[str]]]]]:
    """(title, note, grid) sections in bench.reporting.layout's form; none without such a sweep."""
    answers = answer(rep)
    if not answers:
        return []
    headers = ["model", PARAM, "val acc %", "train s", "cut train %", "cut test %", "test acc % (best only)"]
    rows = []
    for a in answers:
        for _, p in a.points.iterrows():
            test = "–"
            if int(p[PARAM]) == int(a.best[PARAM]) and pd.notna(a.best.get("test_accuracy")):
                low, high = a.best.get("test_ci_low"), a.best.get("test_ci_high")
                test = f"{fmt(a.best['test_accuracy'], 'pct')} [{fmt(low, 'pct')}, {fmt(high, 'pct')}]"
            rows.append(
                [a.model, str(int(p[PARAM])), fmt(p["val_accuracy"], "pct"), fmt(p["train_time_s"], "s"),
                 fmt(p["truncated_train_share"], "pct"), fmt(p["truncated_test_share"], "pct"), test]
            )  # fmt: skip
    note = (
        "Each model's trials by max_len: validation accuracy, training time and the share of training "
        "and test reviews cut at max_len (each model's own tokenizer). The best max_len is chosen on "
        "validation; its test accuracy [95% Wilson interval] is read once."
    )
    verdicts = []
    for a in answers:
        verdicts.append([a.headline])
        if a.pair is not None:
            verdicts.append([str(a.pair["sentence"])])
    question = (
        "Each model's best max_len against its shortest, by the report's pair rule (paired test on the "
        "same test reviews, cost ratio with its interval); each model's pair is adjusted on its own."
    )
    return [
        (f"Across {PARAM}", note, (headers, rows)),
        ("Is a longer input worth it?", question, ([], verdicts)),
    ]


def figure(rep: Report, folder: Path) -> dict[str, Path]:
    """`across-max_len`: validation accuracy, training time and truncated share against max_len, one
    line per model; the best max_len (on validation) is starred, with its test accuracy."""
    answers = answer(rep)
    if not answers:
        return {}
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.4))
    for i, a in enumerate(answers):
        color = COLORS[i % len(COLORS)]
        x = a.points[PARAM].to_numpy(dtype=float)
        axes[0].plot(x, 100 * a.points["val_accuracy"], "o-", color=color, label=a.model)
        axes[1].plot(x, a.points["train_time_s"], "o-", color=color, label=a.model)
        axes[2].plot(x, 100 * a.points["truncated_test_share"], "o-", color=color, label=a.model)
        best_x = float(a.best[PARAM])
        best_y = 100 * float(a.points.loc[a.points[PARAM] == a.best[PARAM], "val_accuracy"].iloc[0])
        axes[0].plot([best_x], [best_y], "*", color=color, markersize=14)
        test = a.best.get("test_accuracy")
        if test is not None and math.isfinite(float(test)):
            axes[0].annotate(f"test {100 * float(test):.1f}%", (best_x, best_y), textcoords="offset points",
                             xytext=(6, 6), fontsize=8, color=color)  # fmt: skip
    titles = [
        "validation accuracy % (★ best; its test accuracy)",
        "training time s",
        "test reviews cut at max_len %",
    ]
    ticks = sorted({int(v) for a in answers for v in a.points[PARAM]})
    axes[2].set_ylim(0, 102)
    for ax, title in zip(axes, titles):
        ax.set_xticks(ticks)
        ax.set_xlabel(PARAM)
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle("Across max_len: one line per model")
    fig.tight_layout()
    path = save(fig, folder, f"across-{PARAM}")
    plt.close(fig)
    return {f"across-{PARAM}": path}
