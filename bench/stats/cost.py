"""Cost ratios of two configurations from independent replicates (seeds or repeated timed runs), with a
delta-method interval on the log scale; exact costs (parameters, FLOPs) compared as they are.

Pure functions of arrays; nothing reads or writes files.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.special import ndtri, stdtrit

from bench.stats.intervals import StatsError, check_level

COST_DELTA_LOG = "delta method on log means, Hsu's df"
COST_ASSUMED = "delta method on log means, run-to-run noise assumed"
COST_EXACT = "exact"
# The default run-to-run noise (bench.config.DEFAULT_COST_NOISE, 0.10): on a 2-core CPU the quick
# suite's bert_bilstm/bert time ratio was 1.02 in one run and 0.86 in another: |log(1.02 / 0.86)| =
# 0.171 is one draw of a difference of two log ratios, sd 2 sigma, and E|N(0, 4 sigma^2)| = 1.60 sigma
# gives sigma = 0.107.


@dataclass(frozen=True)
class CostComparison:
    """Cost of B relative to A: ratio = mean(B) / mean(A), with a `confidence` interval.

    significant: the interval excludes 1 (measured costs), the costs differ (exact costs), or
    None when unknown (fewer than 2 replicates on a side and no noise assumed). noise: the relative
    run-to-run sd assumed for a side with a single replicate (NaN when every spread was measured).
    """

    ratio: float
    ci_low: float
    ci_high: float
    significant: bool | None
    method: str
    n_a: int
    n_b: int
    confidence: float
    noise: float = math.nan


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
    noise: float | None = None,
) -> CostComparison:
    """How much more (or less) B costs than A: ratio = mean(reps_b) / mean(reps_a).

    Replicates are independent repeated measurements of one cost: per-seed training times, repeated
    timed runs in fresh processes, latency repeats (never the chunks of one run, which share its
    process, its machine state and its data order). Measured costs: delta method on the log of each
    mean, var(log m) = s^2 / (n m^2), CI = ratio * exp(+-t SE) with Hsu's conservative df,
    min(n_a, n_b) - 1: Welch-Satterthwaite's df covered 0.935 for lognormal costs (log-sd 0.5)
    with 5 replicates. A side with a single replicate has no spread to measure: with `noise` (a
    relative sd of one run's cost, as bench.config.DEFAULT_COST_NOISE) its var(log m) is
    noise^2 / n and that part counts as known; without, the interval is NaN and significant None. Exact costs
    (`exact=True`: parameter counts, FLOPs) have no interval and are significant whenever the ratio
    is not 1; their replicates must agree. Either side may be given as `Replicates` (mean, std, n).
    """
    check_level(confidence, "confidence")
    if noise is not None and not (math.isfinite(noise) and noise > 0):
        raise StatsError(f"the assumed cost noise must be a positive relative sd, not {noise}")
    a, b = as_replicates(reps_a, "reps_a"), as_replicates(reps_b, "reps_b")
    ma, mb = a.mean, b.mean
    ratio = mb / ma
    na, nb = a.n, b.n
    if exact:
        if (na > 1 and a.std != 0) or (nb > 1 and b.std != 0):
            raise StatsError("exact costs must be the same in every replicate")
        return CostComparison(ratio, math.nan, math.nan, ratio != 1.0, COST_EXACT, na, nb, confidence)
    measured = [r for r in (a, b) if r.n >= 2]
    if len(measured) < 2 and noise is None:
        return CostComparison(ratio, math.nan, math.nan, None, COST_DELTA_LOG, na, nb, confidence)
    assumed = len(measured) < 2
    sd = float(noise) if noise is not None else math.nan
    # var(log mean): measured s^2 / (n m^2), or the assumed noise^2 / n for a single run.
    var = sum(r.std**2 / (r.n * r.mean**2) if r.n >= 2 else sd**2 / r.n for r in (a, b))
    method, used = (COST_ASSUMED, sd) if assumed else (COST_DELTA_LOG, math.nan)
    if var == 0.0:
        # Replicates that agree exactly: the ratio is as known as it gets.
        return CostComparison(ratio, ratio, ratio, ratio != 1.0, method, na, nb, confidence, used)
    # Hsu: the smaller measured side's df (a known, assumed variance has infinite df).
    df = min(r.n for r in measured) - 1 if measured else math.inf
    q = 0.5 + confidence / 2.0
    half = (float(stdtrit(df, q)) if math.isfinite(df) else float(ndtri(q))) * math.sqrt(var)
    half = min(half, 700.0)  # a t quantile at a tiny level and df 1: beyond that, exp overflows
    low, high = ratio * math.exp(-half), ratio * math.exp(half)
    return CostComparison(ratio, low, high, bool(low > 1.0 or high < 1.0), method, na, nb, confidence, used)


def mean_variance(reps: Replicates, exact: bool = False, noise: float | None = None) -> tuple[float, float]:
    """The variance of a side's mean cost and its degrees of freedom: s^2 / n over n - 1 from two or
    more replicates; (noise * mean)^2 / n, known (infinite df), from one with an assumed noise; 0 for
    an exact cost; NaN where a single run has no noise to assume."""
    if exact:
        return 0.0, math.inf
    if reps.n >= 2:
        return reps.std**2 / reps.n, float(reps.n - 1)
    if noise is None:
        return math.nan, math.nan
    return (noise * reps.mean) ** 2 / reps.n, math.inf


def cost_position(cc: CostComparison, margin: float) -> tuple[bool, bool]:
    """(B shown costlier, B's cost shown within `margin` of A's) from a cost comparison: exact costs
    by their values; measured ones by the interval (above 1; inside [1 / (1 + margin), 1 + margin],
    a band even on the log scale). Neither where the interval is unknown."""
    if cc.method == COST_EXACT:
        return cc.ratio > 1.0, cc.ratio == 1.0
    if not (math.isfinite(cc.ci_low) and math.isfinite(cc.ci_high)):
        return False, False
    return cc.ci_low > 1.0, cc.ci_low >= 1.0 / (1.0 + margin) and cc.ci_high <= 1.0 + margin
