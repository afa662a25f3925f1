"""One look of `--until-decided`: a results folder's runs read back and every pair judged at the look's
level, as rows of decisions.csv.

Reads results files only (results.csv, predictions.csv); the loop that adds items and seeds between
looks is bench.decide.loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd

from bench.errors import BenchError
from bench.results import DECISION_COLUMNS as DECISION_SCHEMA
from bench.results import DECISIONS_FILE, PREDICTIONS_FILE, RESULTS_FILE, latest_rows, read_rows
from bench.stats.comparisons.seeds_items_t import seed_mean_squares
from bench.stats.cost import COST_ASSUMED, DEFAULT_COST_NOISE, compare_cost
from bench.stats.paired import compare_accuracy
from bench.stats.sequential import INCONCLUSIVE, three_way

DECISION_COLUMNS = [c.name for c in DECISION_SCHEMA]
COST_NOISE = DEFAULT_COST_NOISE  # run-to-run relative sd of a training time where seeds do not measure it


@dataclass(frozen=True)
class ModelRuns:
    """One model's finished runs in a folder, on the test items all of them predicted."""

    model: str
    run_ids: tuple[str, ...]
    seeds: tuple[int, ...]
    item_ids: tuple[str, ...]  # the shared test items, in the (nested) test order
    correct: np.ndarray  # (runs, items) bool
    train_s: np.ndarray  # each run's training time, seconds
    run_s: float  # mean wall seconds of one run (training, evaluation, latency)
    item_s: float  # seconds to evaluate one test item with one run

    @property
    def n_items(self) -> int:
        return len(self.item_ids)


def _wall_seconds(rows: pd.DataFrame) -> float:
    started = pd.to_datetime(rows["started_at"], errors="coerce", utc=True)
    finished = pd.to_datetime(rows["finished_at"], errors="coerce", utc=True)
    seconds = (finished - started).dt.total_seconds().dropna()
    return float(seconds.mean()) if len(seconds) else float(rows["train_time_s"].mean())


def read_models(folder: Path) -> dict[str, ModelRuns]:
    """Every model with a finished run in `folder`, its runs aligned on their common test prefix."""
    results_file, predictions_file = folder / RESULTS_FILE, folder / PREDICTIONS_FILE
    if not results_file.is_file() or not predictions_file.is_file():
        raise BenchError(
            f"{folder} holds no finished runs to decide on (no {RESULTS_FILE} or {PREDICTIONS_FILE})."
        )
    results = latest_rows(read_rows(results_file), RESULTS_FILE)  # a row recorded again: the last wins
    results = (
        results[(results["status"] == "ok") & results["trial"].isna()] if "trial" in results else results
    )
    results = results[results["status"] == "ok"]
    preds = latest_rows(read_rows(predictions_file), PREDICTIONS_FILE)
    preds = preds.astype({"example_id": str})
    preds = preds[preds["split"] == "test"]
    out: dict[str, ModelRuns] = {}
    for model, rows in results.groupby("model", sort=False):
        per_run = {rid: preds[preds["run_id"] == rid] for rid in rows["run_id"]}
        n = min(len(p) for p in per_run.values())
        if n == 0:
            continue
        ids = tuple(next(iter(per_run.values()))["example_id"].iloc[:n])
        for rid, p in per_run.items():
            if tuple(p["example_id"].iloc[:n]) != ids:
                raise BenchError(
                    f"{folder}: {rid} was tested on other reviews than {rows['run_id'].iloc[0]}; "
                    "its test draw does not nest (a folder from before nested test draws?)."
                )
        correct = np.stack(
            [(p["pred"].to_numpy()[:n] == p["label"].to_numpy()[:n]) for p in per_run.values()]
        )
        rate = pd.to_numeric(rows["eval_samples_per_s"], errors="coerce").dropna()
        out[str(model)] = ModelRuns(
            model=str(model),
            run_ids=tuple(str(r) for r in rows["run_id"]),
            seeds=tuple(int(s) for s in rows["seed"]),
            item_ids=ids,
            correct=correct,
            train_s=rows["train_time_s"].to_numpy(dtype=float),
            run_s=_wall_seconds(rows),
            item_s=1.0 / float(rate.median()) if len(rate) and rate.median() > 0 else 0.01,
        )
    return out


@dataclass(frozen=True)
class PairLook:
    """One pair at one look; A the cheaper model by mean training time."""

    model_a: str
    model_b: str
    seeds_a: int
    seeds_b: int
    n_items: int
    acc_diff: float
    ci_low: float
    ci_high: float
    cost_ratio: float
    cost_low: float
    cost_high: float
    b_costlier: bool
    cost_assumed: bool  # the cost interval comes from the assumed noise, not from seeds
    verdict: str
    v: float  # variance of the per-item differences of seed-averaged correctness
    tau2: float | None  # seed-to-seed variance of accuracy; None with one seed a side

    @property
    def key(self) -> tuple[str, str]:
        return (self.model_a, self.model_b)


def _cost(
    train_a: np.ndarray, train_b: np.ndarray, alpha: float, noise: float
) -> tuple[float, float, float, bool]:
    """(ratio, low, high, assumed) of B's training time over A's, from the seeds where both sides
    have two or more, else with a single run's time taken to vary by `noise` (bench.stats.cost)."""
    cc = compare_cost(train_a, train_b, confidence=1.0 - alpha, noise=noise)
    return cc.ratio, cc.ci_low, cc.ci_high, cc.method == COST_ASSUMED


def _tau2(a: np.ndarray, b: np.ndarray) -> float | None:
    groups = [seed_mean_squares(y.astype(float)) for y in (a, b) if y.shape[0] >= 2]
    if not groups:
        return None
    df = sum(g[2] for g in groups)
    s2 = sum(float(g[0]) * g[2] for g in groups) / df
    mse = sum(float(g[1]) * g[2] for g in groups) / df
    return max(s2 - mse / a.shape[1], 0.0)


def judge_pair(
    first: ModelRuns, second: ModelRuns, level: float, margin: float, alpha: float, noise: float
) -> PairLook:
    """One pair on their shared test prefix, its accuracy interval at `level` (the look's, per pair)."""
    a, b = (second, first) if second.train_s.mean() < first.train_s.mean() else (first, second)
    n = min(a.n_items, b.n_items)
    if a.item_ids[:n] != b.item_ids[:n]:
        raise BenchError(f"{a.model} and {b.model} were tested on other reviews; they cannot be paired.")
    ca, cb = a.correct[:, :n], b.correct[:, :n]
    if min(len(ca), len(cb)) == 1 < max(len(ca), len(cb)):
        # One seed against several is refused (bench.stats.paired): compare the first seed of each,
        # two checkpoints, until the lone side has seeds of its own.
        ca, cb = ca[:1], cb[:1]
    comp = compare_accuracy(ca, cb, alpha=level)
    ratio, low, high, assumed = _cost(a.train_s, b.train_s, alpha, noise)
    costlier = bool(low > 1.0)
    verdict = str(three_way(comp.ci_low, comp.ci_high, costlier, margin))
    d = cb.mean(axis=0) - ca.mean(axis=0)
    return PairLook(
        a.model, b.model, len(ca), len(cb), n, comp.diff, comp.ci_low, comp.ci_high,
        ratio, low, high, costlier, assumed, verdict, float(d.var(ddof=1)) if n > 1 else 0.0, _tau2(ca, cb),
    )  # fmt: skip


def model_pairs(models: Sequence[str]) -> list[tuple[str, str]]:
    return list(combinations(models, 2))


def look_rows(
    look: int, pairs: Sequence[PairLook], levers: dict[tuple[str, str], str], elapsed: float
) -> list[dict[str, object]]:
    """decisions.csv rows of one look; acc_diff and its interval in points."""
    return [
        {
            "look": look,
            "model_a": p.model_a,
            "model_b": p.model_b,
            "seeds_a": p.seeds_a,
            "seeds_b": p.seeds_b,
            "n_items": p.n_items,
            "acc_diff": round(100 * p.acc_diff, 4),
            "acc_diff_ci_low": round(100 * p.ci_low, 4),
            "acc_diff_ci_high": round(100 * p.ci_high, 4),
            "cost_ratio": round(p.cost_ratio, 6),
            "cost_ci_low": round(p.cost_low, 6),
            "cost_ci_high": round(p.cost_high, 6),
            "verdict": p.verdict,
            "lever": levers.get(pair_key(p.model_a, p.model_b), ""),
            "elapsed_s": round(elapsed, 1),
        }
        for p in pairs
    ]


def read_decisions(folder: Path) -> pd.DataFrame:
    frame = read_rows(folder / DECISIONS_FILE)  # checked; it then has every column of the schema
    return frame if len(frame) else pd.DataFrame(columns=DECISION_COLUMNS)


def pair_key(a: str, b: str) -> tuple[str, str]:
    """A pair whichever of its models is the cheaper at a look (new seeds can swap them)."""
    return (a, b) if a <= b else (b, a)


def decided_rows(frame: pd.DataFrame) -> dict[tuple[str, str], dict[str, object]]:
    """The row of each pair's first decided look: a decided pair keeps that verdict."""
    out: dict[tuple[str, str], dict[str, object]] = {}
    for record in frame.to_dict("records"):
        row = {str(k): v for k, v in record.items()}
        key = pair_key(str(row["model_a"]), str(row["model_b"]))
        if key not in out and row["verdict"] != INCONCLUSIVE:
            out[key] = row
    return out
