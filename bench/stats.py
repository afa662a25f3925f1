"""Statistics for comparing classifiers: seed-level intervals, paired accuracy tests, cost ratios,
multiple-testing adjustment and budget curves.

Everything here is a pure function of arrays or DataFrames; nothing reads or writes files.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats as sps
from scipy.special import stdtrit

from bench.errors import BenchError

__all__ = [
    "AccuracyComparison",
    "CostComparison",
    "Replicates",
    "StatsError",
    "Summary",
    "accuracy_interval",
    "budget_curve",
    "compare_accuracy",
    "as_replicates",
    "compare_cost",
    "confusion_matrix",
    "expected_max",
    "holm",
    "macro_f1",
    "majority_test",
    "mean_std_ci",
    "time_to_target",
]

MCNEMAR_EXACT = "exact McNemar"
SEEDS_ITEMS_T = "paired t over items and seeds"
COST_DELTA_LOG = "delta method on log means, Welch-Satterthwaite df"
COST_EXACT = "exact"


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


# --- paired accuracy comparison -------------------------------------------------------------


@dataclass(frozen=True)
class AccuracyComparison:
    """Two models' accuracy on the same aligned test items, B relative to A.

    diff = acc_b - acc_a and its 1 - alpha interval [ci_low, ci_high]; p_value is two-sided and
    comes from the same statistic as diff, so a small p always points the way diff does. mde is
    the smallest |diff| the test would detect with probability `power` at level `alpha`, given
    this many items and seeds. b and c count the items only A, only B got right (one seed each;
    None with several seeds). df is the t reference's degrees of freedom (inf for McNemar).
    """

    method: str
    n_items: int
    seeds_a: int
    seeds_b: int
    acc_a: float
    acc_b: float
    diff: float
    ci_low: float
    ci_high: float
    p_value: float
    mde: float
    b: int | None
    c: int | None
    df: float
    alpha: float
    power: float

    def swapped(self) -> AccuracyComparison:
        """The same comparison read the other way round: A relative to B."""
        return replace(
            self,
            seeds_a=self.seeds_b,
            seeds_b=self.seeds_a,
            acc_a=self.acc_b,
            acc_b=self.acc_a,
            diff=-self.diff,
            ci_low=-self.ci_high,
            ci_high=-self.ci_low,
            b=self.c,
            c=self.b,
        )


class _Batch(NamedTuple):
    """compare_accuracy's numbers for a batch of experiments (leading axes), as arrays."""

    acc_a: np.ndarray
    acc_b: np.ndarray
    diff: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    p_value: np.ndarray
    mde: np.ndarray
    df: np.ndarray
    b: np.ndarray | None
    c: np.ndarray | None


def _mcnemar_batch(a: np.ndarray, b: np.ndarray, alpha: float, power: float) -> _Batch:
    """One seed each: a and b are (..., n_items) bool."""
    n = a.shape[-1]
    only_a = np.count_nonzero(a & ~b, axis=-1)
    only_b = np.count_nonzero(~a & b, axis=-1)
    # statsmodels' mcnemar(exact=True): twice the smaller binomial tail, capped at 1; b + c = 0 gives 1.
    p = np.minimum(1.0, 2.0 * sps.binom.cdf(np.minimum(only_a, only_b), only_a + only_b, 0.5))
    acc_a = np.count_nonzero(a, axis=-1) / n
    acc_b = np.count_nonzero(b, axis=-1) / n
    z = float(sps.norm.ppf(1.0 - alpha / 2.0))
    zp = float(sps.norm.ppf(power))
    # Agresti & Min (2005): Wald for the paired difference on the 2x2 table with 1/2 added to each
    # cell. Plain Wald is zero-width when b = c = 0 and covers poorly with few discordant items.
    nt = n + 2.0
    p10, p01 = (only_a + 0.5) / nt, (only_b + 0.5) / nt
    est = p01 - p10
    half = z * np.sqrt((p10 + p01 - est**2) / nt)
    # Connor (1987): n = (z_a sqrt(psi) + z_p sqrt(psi - d^2))^2 / d^2, solved for d. psi, the
    # discordant rate, gets the same +1/2 per cell so that no discordant items still gives mde > 0.
    psi = (only_a + only_b + 1.0) / nt
    root = math.sqrt(max(n - z * z + zp * zp, 0.0))
    mde = np.minimum(np.sqrt(psi) * (z * math.sqrt(n) + zp * root) / (n + zp * zp), psi)
    return _Batch(
        acc_a=acc_a,
        acc_b=acc_b,
        diff=acc_b - acc_a,
        ci_low=np.clip(est - half, -1.0, 1.0),
        ci_high=np.clip(est + half, -1.0, 1.0),
        p_value=p,
        mde=mde,
        df=np.full(p.shape, np.inf),
        b=only_a,
        c=only_b,
    )


def _seed_mean_squares(y: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """For one model's (..., seeds, items) 0/1 array with >= 2 seeds: the sample variance of the
    per-seed accuracies, the seeds x items residual mean square (two-way ANOVA), and seeds - 1."""
    k, n = y.shape[-2:]
    rows = y.mean(axis=-1)
    s2 = rows.var(axis=-1, ddof=1)
    resid = y - rows[..., None] - y.mean(axis=-2, keepdims=True) + rows.mean(axis=-1)[..., None, None]
    mse = (resid**2).sum(axis=(-2, -1)) / ((k - 1) * (n - 1))
    return s2, mse, k - 1


def _seeds_items_batch(a: np.ndarray, b: np.ndarray, alpha: float, power: float) -> _Batch:
    """Several seeds: a is (..., seeds_a, n_items), b (..., seeds_b, n_items), as floats."""
    ka, n = a.shape[-2:]
    kb = b.shape[-2]
    acc_a, acc_b = a.mean(axis=(-2, -1)), b.mean(axis=(-2, -1))
    d = b.mean(axis=-2) - a.mean(axis=-2)  # per item: B's mean correctness over seeds minus A's
    v_items = d.var(axis=-1, ddof=1) / n
    # Per-seed accuracy varies by tau^2 (training) + MSE / n (that seed's own item noise, which
    # v_items already counts), so tau^2 = S^2 - MSE / n, pooled over the models that have seeds.
    groups = [_seed_mean_squares(y) for y in (a, b) if y.shape[-2] >= 2]
    df_seeds = sum(g[2] for g in groups)
    s2 = sum(g[0] * g[2] for g in groups) / df_seeds
    mse = sum(g[1] * g[2] for g in groups) / df_seeds
    coef = 1.0 / ka + 1.0 / kb
    se2 = v_items + coef * np.maximum(s2 - mse / n, 0.0)
    # Satterthwaite over the mean squares behind se2, each model's S^2 taken on its own: when
    # tau^2 is poorly determined (2-3 seeds) df stays small even where the estimate hit zero.
    den = v_items**2 / (n - 1)
    for g_s2, g_mse, g_df in groups:
        w = coef * g_df / df_seeds
        den = den + (w * g_s2) ** 2 / g_df + (w * g_mse / n) ** 2 / (g_df * (n - 1))
    positive = se2 > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        df = np.where(positive, se2**2 / np.where(den > 0, den, 1.0), np.inf)
    se = np.sqrt(se2)
    diff = acc_b - acc_a
    tq = sps.t.ppf(1.0 - alpha / 2.0, df)
    tstat = np.abs(diff) / np.where(positive, se, 1.0)
    # Zero spread anywhere (e.g. both always right): the difference is exact.
    p = np.where(positive, 2.0 * sps.t.sf(tstat, df), np.where(diff == 0, 1.0, 0.0))
    return _Batch(
        acc_a=acc_a,
        acc_b=acc_b,
        diff=diff,
        ci_low=diff - tq * se,
        ci_high=diff + tq * se,
        p_value=np.minimum(p, 1.0),
        mde=(tq + sps.t.ppf(power, df)) * se,
        df=df,
        b=None,
        c=None,
    )


def _compare_many(a: np.ndarray, b: np.ndarray, alpha: float, power: float) -> _Batch:
    """compare_accuracy over leading batch axes: a is (..., seeds_a, items), b (..., seeds_b, items)."""
    if a.shape[-2] == 1 and b.shape[-2] == 1:
        return _mcnemar_batch(a[..., 0, :].astype(bool), b[..., 0, :].astype(bool), alpha, power)
    return _seeds_items_batch(a.astype(float), b.astype(float), alpha, power)


def _as_seeds_items(x: npt.ArrayLike, name: str) -> npt.NDArray[np.bool_]:
    arr = np.asarray(x)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2:
        raise StatsError(f"{name} must be (seeds, items), got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise StatsError(f"{name} needs at least one seed and one item, got shape {arr.shape}")
    if arr.dtype != np.bool_:
        if not np.isin(arr, (0, 1)).all():
            raise StatsError(f"{name} must hold booleans or 0/1, got dtype {arr.dtype}")
        arr = arr.astype(bool)
    return arr


def compare_accuracy(
    correct_a: npt.ArrayLike, correct_b: npt.ArrayLike, alpha: float = 0.05, power: float = 0.8
) -> AccuracyComparison:
    """Is B more or less accurate than A, on the same aligned test items? diff = acc_b - acc_a.

    `correct_a` is (seeds_a, items) of bools or 0/1, `correct_b` (seeds_b, items); column j of both
    must be the same test item. A 1-D array is one seed.

    One seed each: exact McNemar, the two-sided binomial test on the discordant counts b (only A
    right) and c (only B right), as statsmodels' mcnemar(exact=True). CI: Agresti & Min (2005), the
    Wald interval of the paired difference with 1/2 added to each cell of the 2x2 table. MDE:
    Connor (1987)'s normal approximation n = (z_{1-a/2} sqrt(psi) + z_power sqrt(psi - d^2))^2 / d^2
    solved for d, psi = (b + c + 1) / (n + 2) the (adjusted) discordant rate. This compares the two
    trained checkpoints: one seed cannot show training randomness, so a gap between two seeds of
    the same recipe counts as real. Use several seeds to generalise over training runs. The
    interval and the exact test can disagree at the margin; the p-value is the one to act on.

    Several seeds (either side >= 2): a t test over items and seeds. With d_i B's mean correctness
    over its seeds on item i minus A's, D = mean_i d_i = diff and
        SE^2 = var(d_i) / n + tau^2 (1/k_a + 1/k_b),
    where var(d_i) / n is test-set sampling (including each seed's item-level noise) and tau^2 the
    seed-to-seed (training) variance of accuracy, estimated as S^2 - MSE / n (floored at 0) from the
    per-seed accuracies' variance S^2 and the seeds x items residual mean square MSE, pooled over
    the models with >= 2 seeds. Subtracting MSE / n stops the item noise being counted twice. A
    single-seed side is assumed to vary like the other side. df: Welch-Satterthwaite over the mean
    squares, each model's S^2 separately. CI = D +- t_{1-a/2,df} SE, p = 2 t_df.sf(|D| / SE) and
    MDE = (t_{1-a/2,df} + t_{power,df}) SE.

    Why this test: in simulations (tests/test_stats.py) it holds its size at alpha = 0.05 for 2, 3
    and 5 seeds a side, and for 1 + 3 and 2 + 5, whether seed variance is small or large against
    the item noise (false-positive rates 0.016-0.055). The simpler recipe var(d_i) / n +
    S_a^2 / k_a + S_b^2 / k_b with Welch df counts item noise twice, so it is conservative (0.01-0.02)
    when seed variance is small, yet exceeds alpha when it is large (about 0.06 with 2 seeds a side,
    0.07 with 2 against 5). Known limits: with 2 seeds a side SE and df swing from one experiment
    to the next, and the power at the reported MDE is about 0.55, not 0.8; one seed against two
    leaves a single degree of freedom for tau^2 and is liberal (about 0.09) when seed variance
    dominates.
    """
    _check_level(alpha, "alpha")
    if not 0.5 <= power < 1.0:
        raise StatsError(f"power must be in [0.5, 1), got {power}")
    a = _as_seeds_items(correct_a, "correct_a")
    b = _as_seeds_items(correct_b, "correct_b")
    if a.shape[1] != b.shape[1]:
        raise StatsError(f"paired tests need the same test items: {a.shape[1]} vs {b.shape[1]} items")
    n = int(a.shape[1])
    one_each = a.shape[0] == 1 and b.shape[0] == 1
    if not one_each and n < 2:
        raise StatsError("a comparison over several seeds needs at least two test items")
    r = _compare_many(a[None], b[None], alpha, power)
    return AccuracyComparison(
        method=MCNEMAR_EXACT if one_each else SEEDS_ITEMS_T,
        n_items=n,
        seeds_a=int(a.shape[0]),
        seeds_b=int(b.shape[0]),
        acc_a=float(r.acc_a[0]),
        acc_b=float(r.acc_b[0]),
        diff=float(r.diff[0]),
        ci_low=float(r.ci_low[0]),
        ci_high=float(r.ci_high[0]),
        p_value=float(r.p_value[0]),
        mde=float(r.mde[0]),
        b=None if r.b is None else int(r.b[0]),
        c=None if r.c is None else int(r.c[0]),
        df=float(r.df[0]),
        alpha=alpha,
        power=power,
    )


def holm(p_values: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Holm's step-down adjustment (statsmodels' multipletests(method="holm")), in input order.

    NaN entries (tests not run) stay NaN and do not count towards the number of tests m.
    """
    p = np.asarray(p_values, dtype=float)
    if p.ndim != 1:
        raise StatsError(f"holm needs a 1-D array of p-values, got shape {p.shape}")
    known = ~np.isnan(p)
    if np.any((p[known] < 0.0) | (p[known] > 1.0)):
        raise StatsError(f"p-values must be in [0, 1], got {p[known].tolist()}")
    out = np.full(p.shape, np.nan)
    if known.any():
        # Imported here: statsmodels is slow to import and only this function needs it.
        from statsmodels.stats.multitest import multipletests

        out[known] = multipletests(p[known], method="holm")[1]
    return out


# --- costs ------------------------------------------------------------------------------------


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
    _check_level(confidence, "confidence")
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


# --- single accuracies ----------------------------------------------------------------------


def _count_and_total(n_correct: int, n: int) -> None:
    if int(n) != n or int(n_correct) != n_correct:
        raise StatsError(f"counts must be whole numbers, got {n_correct} of {n}")
    if n < 1 or not 0 <= n_correct <= n:
        raise StatsError(f"need 0 <= n_correct <= n and n >= 1, got {n_correct} of {n}")


def majority_test(n_correct: int, n: int, majority_share: float) -> float:
    """One-sided exact binomial p-value that accuracy exceeds the majority-class share.

    P(X >= n_correct) for X ~ Binomial(n, majority_share): scipy's binomtest, alternative="greater".
    """
    _count_and_total(n_correct, n)
    if not 0.0 <= majority_share <= 1.0:
        raise StatsError(f"majority_share must be in [0, 1], got {majority_share}")
    return float(sps.binomtest(int(n_correct), int(n), majority_share, alternative="greater").pvalue)


def accuracy_interval(n_correct: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for one accuracy (n_correct of n test items).

    Wilson rather than Wald: it stays inside [0, 1] and keeps its coverage near 0 and 1, where test
    accuracies often sit. Matches statsmodels' proportion_confint(method="wilson").
    """
    _count_and_total(n_correct, n)
    _check_level(confidence, "confidence")
    z = float(sps.norm.ppf(0.5 + confidence / 2.0))
    p = n_correct / n
    denom = 1.0 + z * z / n
    center = (p + z * z / (2.0 * n)) / denom
    half = z * math.sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n)) / denom
    return max(0.0, center - half), min(1.0, center + half)


# --- budgets ----------------------------------------------------------------------------------


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
    _check_level(confidence, "confidence")
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
