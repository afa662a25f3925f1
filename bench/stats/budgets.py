"""Budget curves (Dodge et al. 2019, expected best validation score after n trials) and time to target.

Pure functions of arrays; nothing reads or writes files.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pandas as pd

from bench.stats.intervals import StatsError, check_level


def _finite_1d(x: npt.ArrayLike, name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=float)
    if arr.ndim != 1 or arr.size == 0:
        raise StatsError(f"{name} must be a non-empty 1-D array, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise StatsError(f"{name} has missing or non-finite values")
    return arr


def _max_weights(n_values: int, ns: np.ndarray) -> np.ndarray:
    """W[j, i] = P(the best of ns[j] draws is the (i+1)-th smallest of n_values) = (i/N)^n - ((i-1)/N)^n."""
    q = np.arange(n_values + 1) / n_values
    cdf = q[None, :] ** ns[:, None].astype(float)
    return np.diff(cdf, axis=1)


def expected_max(values: npt.ArrayLike, n: int) -> float:
    """Expected best of n i.i.d. draws from the empirical distribution of `values` (Dodge et al.
    2019): with v sorted ascending, sum_i v_(i) [(i/N)^n - ((i-1)/N)^n]."""
    v = np.sort(_finite_1d(values, "values"))
    if int(n) != n or n < 1:
        raise StatsError(f"n must be a whole number >= 1, got {n}")
    return float(_max_weights(v.size, np.array([int(n)]))[0] @ v)


def budget_curve(
    values: npt.ArrayLike,
    costs: npt.ArrayLike,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Expected best validation score against budget ("Show Your Work", Dodge et al. 2019).

    `values` are the trials' scores, `costs` their costs (same order). Returns columns n (1..N),
    expected_max (see `expected_max`), band_low/band_high (percentile band from resampling the
    trials with replacement) and cumulative_cost = n * mean(costs). The estimate is the empirical
    distribution's, which runs below the population's as n nears N: read the right end with care.
    """
    v = _finite_1d(values, "values")
    c = _finite_1d(costs, "costs")
    if c.size != v.size:
        raise StatsError(f"values and costs differ in length: {v.size} vs {c.size}")
    if n_boot < 1:
        raise StatsError(f"n_boot must be at least 1, got {n_boot}")
    check_level(confidence, "confidence")
    big_n = v.size
    ns = np.arange(1, big_n + 1)
    w = _max_weights(big_n, ns)
    curve = w @ np.sort(v)
    resampled = np.sort(v[np.random.default_rng(seed).integers(0, big_n, size=(n_boot, big_n))], axis=1)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(resampled @ w.T, [tail, 1.0 - tail], axis=0)
    return pd.DataFrame(
        {
            "n": ns,
            "expected_max": curve,
            "band_low": low,
            "band_high": high,
            "cumulative_cost": ns * float(c.mean()),
        }
    )


def time_to_target(cumulative_cost: npt.ArrayLike, val_accuracy: npt.ArrayLike, target: float) -> float:
    """Cumulative cost (training time, energy...) at the first evaluation whose validation accuracy
    reached `target`; NaN when none did. Missing accuracies count as not reached."""
    c = np.asarray(cumulative_cost, dtype=float)
    acc = np.asarray(val_accuracy, dtype=float)
    if c.ndim != 1 or c.shape != acc.shape:
        raise StatsError(
            f"cumulative_cost and val_accuracy must be 1-D of one length: {c.shape}, {acc.shape}"
        )
    if not np.all(np.isfinite(c)) or np.any(np.diff(c) < 0):
        raise StatsError("cumulative_cost must be finite and non-decreasing")
    reached = np.flatnonzero(acc >= target)  # NaN compares False
    return float(c[reached[0]]) if reached.size else math.nan
