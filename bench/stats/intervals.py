"""Intervals for single quantities: a Student-t interval over seeds and a Wilson interval for an accuracy
(the test against the majority predictor is bench.stats.majority).

Pure functions of arrays; nothing reads or writes files.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats as sps
from scipy.special import stdtrit

from bench.errors import BenchError


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


def check_level(value: float, name: str) -> None:
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
    check_level(confidence, "confidence")

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


def _count_and_total(n_correct: int, n: int) -> None:
    if int(n) != n or int(n_correct) != n_correct:
        raise StatsError(f"counts must be whole numbers, got {n_correct} of {n}")
    if n < 1 or not 0 <= n_correct <= n:
        raise StatsError(f"need 0 <= n_correct <= n and n >= 1, got {n_correct} of {n}")


def accuracy_interval(n_correct: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for one accuracy (n_correct of n test items).

    Wilson rather than Wald: it stays inside [0, 1] and keeps its coverage near 0 and 1, where test
    accuracies often sit. Matches statsmodels' proportion_confint(method="wilson").
    """
    _count_and_total(n_correct, n)
    check_level(confidence, "confidence")
    z = float(sps.norm.ppf(0.5 + confidence / 2.0))
    p = n_correct / n
    denom = 1.0 + z * z / n
    center = (p + z * z / (2.0 * n)) / denom
    half = z * math.sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n)) / denom
    return max(0.0, center - half), min(1.0, center + half)
