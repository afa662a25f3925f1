"""Statistics for comparing classifiers: seed-level CIs, paired tests, and a Pareto front that
only lets a model beat another on accuracy when the difference is significant.

Everything here is a pure function of arrays or DataFrames; nothing reads or writes files.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats as sps
from scipy.special import stdtrit

from bench.errors import BenchError

__all__ = [
    "McNemarResult",
    "StatsError",
    "Summary",
    "confusion_matrix",
    "macro_f1",
    "mcnemar",
    "mean_std_ci",
    "pairwise_significance",
    "plain_pareto",
    "significant_pareto",
]

# Below this many discordant pairs the chi-square approximation is poor (the usual rule of thumb).
EXACT_MCNEMAR_BELOW = 25

PAIRWISE_COLUMNS = [
    "model_a",
    "model_b",
    "n_items",
    "acc_a",
    "acc_b",
    "diff",
    "b",
    "c",
    "p_value",
    "significant",
]


class StatsError(BenchError, ValueError):
    """Inputs that cannot be compared; a ValueError so plain callers can catch it as one."""


@dataclass(frozen=True)
class Summary:
    """Mean of repeated runs (e.g. one value per seed) with a confidence interval for that mean."""

    n: int
    mean: float
    std: float  # sample std (ddof=1); nan when n < 2
    ci_low: float  # nan when n < 2: one run says nothing about the spread
    ci_high: float
    method: str = "student-t"


@dataclass(frozen=True)
class McNemarResult:
    """McNemar's test on paired correctness. b: only A right; c: only B right."""

    b: int
    c: int
    statistic: float  # chi-square statistic, or min(b, c) for the exact test (as statsmodels does)
    p_value: float
    method: str  # "exact" or "chi2"


def _check_level(value: float, name: str) -> None:
    if not 0.0 < value < 1.0:
        raise StatsError(f"{name} must be in (0, 1), got {value}")


def mean_std_ci(values: Sequence[float] | npt.ArrayLike, confidence: float = 0.95) -> Summary:
    """Mean, sample std and a Student-t confidence interval of the mean of `values`.

    CI = mean +- t_{(1+confidence)/2, n-1} * std / sqrt(n), exact for normal data at any n, where a
    bootstrap of 3-5 seeds covers far less than it claims. With n < 2 the interval is NaN (one value
    says nothing about spread); with n >= 2 equal values it is the value itself.
    """
    x = np.asarray(values, dtype=float).ravel()
    if x.size == 0:
        raise StatsError("mean_std_ci needs at least one value")
    if not np.all(np.isfinite(x)):
        raise StatsError(f"mean_std_ci got non-finite values: {x.tolist()}")
    _check_level(confidence, "confidence")

    n = int(x.size)
    if n < 2:
        return Summary(n=1, mean=float(x[0]), std=math.nan, ci_low=math.nan, ci_high=math.nan)
    if np.all(x == x[0]):
        v = float(x[0])  # exact, where a float mean of equal values may be off by one ulp
        return Summary(n=n, mean=v, std=0.0, ci_low=v, ci_high=v)
    mean = float(x.mean())
    std = float(x.std(ddof=1))
    half = float(stdtrit(n - 1, 0.5 + confidence / 2.0)) * std / math.sqrt(n)  # t quantile
    return Summary(n=n, mean=mean, std=std, ci_low=mean - half, ci_high=mean + half)


def _as_bool(x: npt.ArrayLike, name: str) -> npt.NDArray[np.bool_]:
    arr = np.asarray(x)
    if arr.ndim != 1:
        raise StatsError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.dtype != np.bool_:
        # Refuse e.g. probabilities, which astype(bool) would silently turn into all-True.
        if arr.size and not np.isin(arr, (0, 1)).all():
            raise StatsError(f"{name} must hold booleans or 0/1, got dtype {arr.dtype}")
        arr = arr.astype(bool)
    return arr


def _paired(
    correct_a: npt.ArrayLike, correct_b: npt.ArrayLike
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    a = _as_bool(correct_a, "correct_a")
    b = _as_bool(correct_b, "correct_b")
    if a.shape != b.shape:
        raise StatsError(f"paired tests need the same test items: {a.size} vs {b.size} correctness values")
    return a, b


def mcnemar(correct_a: npt.ArrayLike, correct_b: npt.ArrayLike) -> McNemarResult:
    """McNemar's test of equal accuracy for two models scored on the same test items.

    Exact two-sided binomial test when b + c < 25, otherwise the continuity-corrected chi-square
    (|b - c| - 1)^2 / (b + c) with one degree of freedom. No discordant items gives p = 1.
    """
    a, bb = _paired(correct_a, correct_b)
    b = int(np.count_nonzero(a & ~bb))
    c = int(np.count_nonzero(~a & bb))
    n = b + c
    if n == 0:
        return McNemarResult(b=0, c=0, statistic=0.0, p_value=1.0, method="exact")
    if n < EXACT_MCNEMAR_BELOW:
        p = sps.binomtest(b, n, 0.5).pvalue
        return McNemarResult(b=b, c=c, statistic=float(min(b, c)), p_value=float(p), method="exact")
    stat = (abs(b - c) - 1.0) ** 2 / n
    p = sps.chi2.sf(stat, df=1)
    return McNemarResult(b=b, c=c, statistic=float(stat), p_value=float(p), method="chi2")


def _require_columns(df: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise StatsError(f"{name} is missing columns {missing}; it has {list(df.columns)}")


def _vote(predictions: pd.DataFrame) -> pd.DataFrame:
    """One row per (model, example_id): the majority vote over seeds, ties to the lowest class."""
    keys = ["model", "example_id"] + (["seed"] if "seed" in predictions.columns else [])
    if predictions.duplicated(keys).any():
        raise StatsError(
            f"predictions has several rows for the same {tuple(keys)}; "
            "add a 'seed' column to vote across seeds"
        )
    labels = predictions.groupby(["model", "example_id"], sort=False)["label"].nunique()
    if (labels > 1).any():
        bad = labels[labels > 1].index[0]
        raise StatsError(f"example {bad[1]!r} has different labels across seeds of {bad[0]!r}")
    counts = (
        predictions.groupby(["model", "example_id", "pred"], sort=False)
        .agg(votes=("label", "size"), label=("label", "first"))
        .reset_index()
    )
    # Most votes first, then the lowest class id, so the first row per example is the winner.
    counts = counts.sort_values(["model", "example_id", "votes", "pred"], ascending=[True, True, False, True])
    return counts.drop_duplicates(["model", "example_id"])[["model", "example_id", "label", "pred"]]


def pairwise_significance(predictions: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """McNemar's test for every unordered pair of models on the test items they share.

    `predictions` has columns model, example_id, label, pred: one row per model per example, or,
    with an extra `seed` column, one row per model per seed per example. Several seeds are reduced
    to one prediction per example by majority vote, ties broken toward the lowest class id.

    Pairs are aligned on example_id (inner join) and listed in the order models first appear.
    Returns columns model_a, model_b, n_items, acc_a, acc_b, diff (acc_a - acc_b), b, c,
    p_value, significant (p_value < alpha). Raises StatsError (a ValueError) when a pair shares no
    examples or the two sides disagree on an example's label.
    """
    _require_columns(predictions, ["model", "example_id", "label", "pred"], "predictions")
    voted = _vote(predictions)
    models = list(pd.unique(predictions["model"]))
    cols = ["example_id", "label", "pred"]
    per_model = {m: g[cols] for m, g in voted.groupby("model", sort=False)}

    rows = []
    for ma, mb in combinations(models, 2):
        joined = per_model[ma].merge(per_model[mb], on="example_id", how="inner", suffixes=("_a", "_b"))
        if joined.empty:
            raise StatsError(f"models {ma!r} and {mb!r} share no example_id")
        if (joined["label_a"] != joined["label_b"]).any():
            ex = joined.loc[joined["label_a"] != joined["label_b"], "example_id"].iloc[0]
            raise StatsError(f"models {ma!r} and {mb!r} disagree on the label of example {ex!r}")
        ok_a = (joined["pred_a"] == joined["label_a"]).to_numpy()
        ok_b = (joined["pred_b"] == joined["label_b"]).to_numpy()
        res = mcnemar(ok_a, ok_b)
        acc_a, acc_b = float(ok_a.mean()), float(ok_b.mean())
        rows.append(
            {
                "model_a": ma,
                "model_b": mb,
                "n_items": len(joined),
                "acc_a": acc_a,
                "acc_b": acc_b,
                "diff": acc_a - acc_b,
                "b": res.b,
                "c": res.c,
                "p_value": res.p_value,
                "significant": res.p_value < alpha,
            }
        )
    return pd.DataFrame(rows, columns=PAIRWISE_COLUMNS)


def _front_inputs(points: pd.DataFrame) -> tuple[list[str], np.ndarray, np.ndarray]:
    _require_columns(points, ["model", "accuracy", "cost"], "points")
    names = [str(m) for m in points["model"]]
    if len(set(names)) != len(names):
        raise StatsError(f"points has duplicate models: {names}")
    acc = points["accuracy"].to_numpy(dtype=float)
    cost = points["cost"].to_numpy(dtype=float)
    if not (np.isfinite(acc).all() and np.isfinite(cost).all()):
        # A NaN would compare False everywhere and quietly land the model on the front.
        raise StatsError("points has missing or non-finite accuracy or cost")
    return names, acc, cost


def plain_pareto(points: pd.DataFrame) -> pd.Series[bool]:
    """The classical front of `points` (columns model, accuracy, cost), ignoring significance.

    A dominates B when cost_A <= cost_B and acc_A >= acc_B, one of them strictly. Returns a bool
    Series aligned with `points.index`; True means no model dominates that one.
    """
    _, acc, cost = _front_inputs(points)
    ci, cj = cost[:, None], cost[None, :]
    ai, aj = acc[:, None], acc[None, :]
    dom = (ci <= cj) & (ai >= aj) & ((ci < cj) | (ai > aj))  # dom[i, j]: i dominates j
    return pd.Series(~dom.any(axis=0), index=points.index, name="on_front")


def significant_pareto(points: pd.DataFrame, pvalues: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """The Pareto front where accuracy only counts when the difference is significant.

    `points` has columns model, accuracy, cost (lower cost and higher accuracy are better);
    `pvalues` has columns model_a, model_b, p_value (as from `pairwise_significance`), looked up
    for the unordered pair. A dominates B only when cost_A <= cost_B, acc_A > acc_B, and that
    pair's p_value < alpha. Otherwise a pair whose difference is not significant is tied, and a
    cheaper tied model does not knock the dearer one off the front.

    A pair missing from `pvalues` (e.g. the models share no test items) counts as not significant,
    so it is tied: without evidence, neither model dominates the other.

    The direction of a difference comes from `points["accuracy"]`, the p-value only from `pvalues`.
    Every significance-aware dominance is also a classical one, so this front contains
    `plain_pareto`'s.

    Returns a copy of `points` with on_front (bool), dominated_by and tied_with (comma-separated
    model names in `points` order, "" when none).
    """
    _require_columns(pvalues, ["model_a", "model_b", "p_value"], "pvalues")
    names, acc, cost = _front_inputs(points)
    pos = {m: i for i, m in enumerate(names)}
    m = len(names)
    p = np.full((m, m), np.nan)
    for ma, mb, pv in zip(
        pvalues["model_a"].astype(str),
        pvalues["model_b"].astype(str),
        pvalues["p_value"],
        strict=True,
    ):
        if ma not in pos or mb not in pos or ma == mb:
            continue  # pairs with models not plotted here are irrelevant to this front
        i, j = pos[ma], pos[mb]
        if not np.isnan(p[i, j]) and p[i, j] != pv:
            raise StatsError(f"pvalues lists the pair ({ma!r}, {mb!r}) twice with different values")
        p[i, j] = p[j, i] = pv

    sig = p < alpha  # NaN (missing pair) compares False: not significant
    dom = (cost[:, None] <= cost[None, :]) & (acc[:, None] > acc[None, :]) & sig
    tied = ~sig & ~np.eye(m, dtype=bool)

    out = points.copy()
    out["on_front"] = np.asarray(~dom.any(axis=0), dtype=bool)
    out["dominated_by"] = [",".join(names[i] for i in np.flatnonzero(dom[:, j])) for j in range(m)]
    out["tied_with"] = [",".join(names[i] for i in np.flatnonzero(tied[:, j])) for j in range(m)]
    return out


def _check_labels(
    labels: npt.ArrayLike, preds: npt.ArrayLike, n_classes: int
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    y = np.asarray(labels).ravel()
    yhat = np.asarray(preds).ravel()
    if y.shape != yhat.shape:
        raise StatsError(f"labels and preds differ in length: {y.size} vs {yhat.size}")
    if n_classes < 1:
        raise StatsError(f"n_classes must be at least 1, got {n_classes}")
    for name, arr in (("labels", y), ("preds", yhat)):
        if arr.size and not np.issubdtype(arr.dtype, np.integer):
            raise StatsError(f"{name} must be integer class ids, got dtype {arr.dtype}")
        if arr.size and (arr.min() < 0 or arr.max() >= n_classes):
            raise StatsError(f"{name} has class ids outside [0, {n_classes})")
    return y.astype(np.intp, copy=False), yhat.astype(np.intp, copy=False)


def confusion_matrix(labels: npt.ArrayLike, preds: npt.ArrayLike, n_classes: int) -> np.ndarray:
    """Counts as an (n_classes, n_classes) int64 array: rows are true classes, columns predicted."""
    y, yhat = _check_labels(labels, preds, n_classes)
    flat = np.bincount(y * n_classes + yhat, minlength=n_classes * n_classes)
    return flat.reshape(n_classes, n_classes).astype(np.int64, copy=False)


def macro_f1(labels: npt.ArrayLike, preds: npt.ArrayLike, n_classes: int) -> float:
    """Unweighted mean of per-class F1 over all `n_classes` classes.

    Follows scikit-learn's f1_score(average="macro", labels=range(n_classes), zero_division=0):
    a class with no support and no predictions has F1 = 0 and still counts in the mean. An empty
    input gives 0.0.
    """
    cm = confusion_matrix(labels, preds, n_classes)
    tp = np.diag(cm).astype(float)
    denom = cm.sum(axis=0) + cm.sum(axis=1)  # 2tp + fp + fn
    f1 = np.divide(2.0 * tp, denom, out=np.zeros(n_classes), where=denom > 0)
    return float(f1.mean())
