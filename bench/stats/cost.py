"""Cost ratios of two configurations from independent replicates (seeds or repeated timed runs), with a
delta-method interval on the log scale; exact costs (parameters, FLOPs) compared as they are.

Pure functions of arrays; nothing reads or writes files.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.special import stdtrit

from bench.stats.intervals import StatsError, check_level

COST_DELTA_LOG = "delta method on log means, Welch-Satterthwaite df"
COST_EXACT = "exact"


@dataclass(frozen=True)
class CostComparison:
    """Cost of B relative to A: ratio = mean(B) / mean(A), with a `confidence` interval.

    significant: the interval excludes 1 (measured costs), the costs differ (exact costs), or
    None when unknown (fewer than 2 replicates on a side: no spread to judge by).
    """

    ratio: float
    ci_low: float
    ci_high: float
    significant: bool | None
    method: str
    n_a: int
    n_b: int
    confidence: float


@dataclass(frozen=True)
class Replicates:
    """Repeated measurements of one cost, as the delta method needs them: mean, sample std, count.

    A run that timed its steps in chunks gives its replicates in this form (the chunks' mean and
    std scaled to the run's steps) without keeping every chunk.
    """

    mean: float
    std: float  # NaN with n < 2
    n: int

    @classmethod
    def of(cls, values: npt.ArrayLike) -> Replicates:
        arr = np.asarray(values, dtype=float).ravel()
        if arr.size == 0:
            raise StatsError("a cost needs at least one value")
        if not np.all(np.isfinite(arr)) or np.any(arr < 0):
            raise StatsError(f"costs must be finite and non-negative, got {arr.tolist()}")
        std = float(arr.std(ddof=1)) if arr.size >= 2 else math.nan
        return cls(float(arr.mean()), 0.0 if arr.size >= 2 and np.all(arr == arr[0]) else std, int(arr.size))


def as_replicates(x: Replicates | npt.ArrayLike, name: str) -> Replicates:
    reps = x if isinstance(x, Replicates) else Replicates.of(x)
    if not (math.isfinite(reps.mean) and reps.n >= 1):
        raise StatsError(f"{name} needs a finite mean over at least one replicate")
    if reps.mean <= 0:
        raise StatsError(f"{name} has a zero mean cost; a ratio needs a positive one")
    return reps


def compare_cost(
    reps_a: Replicates | npt.ArrayLike,
    reps_b: Replicates | npt.ArrayLike,
    exact: bool = False,
    confidence: float = 0.95,
) -> CostComparison:
    """How much more (or less) B costs than A: ratio = mean(reps_b) / mean(reps_a).

    Replicates are repeated measurements of one cost: per-seed training times, per-epoch step times,
    latency repeats. Measured costs: delta method on the log of each mean, var(log m) = s^2 / (n m^2),
    with a Welch-Satterthwaite t, so CI = ratio * exp(+-t SE); fewer than 2 replicates on a side
    give a NaN interval and significant = None. Exact costs (`exact=True`: parameter counts, FLOPs)
    have no interval and are significant whenever the ratio is not 1; their replicates must agree.
    Either side may be given as `Replicates` (mean, std, n) instead of the values.
    """
    check_level(confidence, "confidence")
    a, b = as_replicates(reps_a, "reps_a"), as_replicates(reps_b, "reps_b")
    ma, mb = a.mean, b.mean
    ratio = mb / ma
    na, nb = a.n, b.n
    if exact:
        if (na > 1 and a.std != 0) or (nb > 1 and b.std != 0):
            raise StatsError("exact costs must be the same in every replicate")
        return CostComparison(ratio, math.nan, math.nan, ratio != 1.0, COST_EXACT, na, nb, confidence)
    if na < 2 or nb < 2:
        return CostComparison(ratio, math.nan, math.nan, None, COST_DELTA_LOG, na, nb, confidence)
    va = a.std**2 / (na * ma * ma)
    vb = b.std**2 / (nb * mb * mb)
    if va + vb == 0.0:
        # Replicates that agree exactly: the ratio is as known as it gets.
        return CostComparison(ratio, ratio, ratio, ratio != 1.0, COST_DELTA_LOG, na, nb, confidence)
    df = (va + vb) ** 2 / (va * va / (na - 1) + vb * vb / (nb - 1))
    half = float(stdtrit(df, 0.5 + confidence / 2.0)) * math.sqrt(va + vb)  # t quantile
    low, high = ratio * math.exp(-half), ratio * math.exp(half)
    return CostComparison(ratio, low, high, bool(low > 1.0 or high < 1.0), COST_DELTA_LOG, na, nb, confidence)
