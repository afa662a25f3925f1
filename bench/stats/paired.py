"""Paired accuracy comparisons of two classifiers on the same test items (exact McNemar for one seed
each, a t test over items and seeds otherwise) and Holm's adjustment across pairs.

Pure functions of arrays; nothing reads or writes files.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from scipy import stats as sps

from bench.stats import mcnemar
from bench.stats.intervals import StatsError, check_level

MCNEMAR_EXACT = "exact McNemar"
SEEDS_ITEMS_T = "paired t over items and seeds"
MIN_SEED_DF = 4  # seed-variance degrees of freedom below which no MDE is reported
REFUSED_MIXED = (
    "one side has a single seed: it cannot show its own training spread, and taking the other "
    "side's for it is liberal (false-positive rate 0.10 at 1 against 2 seeds, 0.054 at 1 against 3, "
    "measured); run at least two seeds of each model, or compare one seed of each"
)


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
    se: float = math.nan  # the t test's standard error of diff (NaN for McNemar)
    se_seeds: float = math.nan  # the seed-to-seed part of se: sqrt(tau^2 (1/k_a + 1/k_b))
    refused: str = ""  # why no test was run (then ci, p and mde are NaN)

    def upper(self, level: float) -> float:
        """One-sided upper confidence bound of diff with error `level`, from the same test as the
        interval and p-value (so the 1 - alpha/2 bound is ci_high)."""
        if self.refused:
            return math.nan
        if self.b is not None and self.c is not None:
            return float(mcnemar.upper_bound(np.array(self.b), np.array(self.c), self.n_items, level))
        if not self.se > 0:
            return self.diff
        return self.diff + float(sps.t.ppf(1.0 - level, self.df)) * self.se

    def p_not_superior(self, margin: float) -> float:
        """One-sided p-value of "B's gain is at least `margin`" (H0: diff >= margin), the test that
        `upper` inverts: p < level exactly when upper(level) < margin."""
        if self.refused:
            return math.nan
        if self.b is not None and self.c is not None:
            return float(mcnemar.p_not_superior(np.array(self.b), np.array(self.c), self.n_items, margin))
        if not self.se > 0:
            return 0.0 if self.diff < margin else 1.0
        return float(sps.t.cdf((self.diff - margin) / self.se, self.df))

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
    se: np.ndarray
    se_seeds: np.ndarray
    b: np.ndarray | None
    c: np.ndarray | None


def _mcnemar_batch(a: np.ndarray, b: np.ndarray, alpha: float, power: float, with_mde: bool) -> _Batch:
    """One seed each: a and b are (..., n_items) bool."""
    n = a.shape[-1]
    only_a = np.count_nonzero(a & ~b, axis=-1)
    only_b = np.count_nonzero(~a & b, axis=-1)
    low, high = mcnemar.interval(only_a, only_b, n, alpha)
    acc_a = np.count_nonzero(a, axis=-1) / n
    acc_b = np.count_nonzero(b, axis=-1) / n
    p = mcnemar.p_value(only_a, only_b)
    mde = mcnemar.mde_batch(n, only_a + only_b, alpha, power) if with_mde else np.full(p.shape, np.nan)
    return _Batch(
        acc_a=acc_a,
        acc_b=acc_b,
        diff=acc_b - acc_a,
        ci_low=low,
        ci_high=high,
        p_value=p,
        mde=mde,
        df=np.full(p.shape, np.inf),
        se=np.full(p.shape, np.nan),
        se_seeds=np.full(p.shape, np.nan),
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


def _t_mde(se: np.ndarray, df: np.ndarray, alpha: float, power: float) -> np.ndarray:
    """The gain the t test finds with probability `power`, reckoned conservatively: the noncentral
    t's exact power at df (not t_{1-a/2} + t_power, which falls short at few df), and SE scaled by
    sqrt(df / chi2_{df, 0.5}), the factor that makes the estimated SE median-unbiased for the true
    one, so that the MDE a typical experiment reports still reaches `power`."""
    dfc = np.clip(np.where(np.isfinite(df), df, 1e6), 0.5, 1e6)
    crit = sps.t.ppf(1.0 - alpha / 2.0, dfc)
    lo = np.zeros(dfc.shape)
    hi = np.full(dfc.shape, 1.0) + crit + sps.norm.ppf(power) * 8.0
    for _ in range(40):  # bisection on the noncentrality: power rises with it
        mid = (lo + hi) / 2.0
        enough = sps.nct.sf(crit, dfc, mid) >= power
        hi, lo = np.where(enough, mid, hi), np.where(enough, lo, mid)
    return hi * se * np.sqrt(dfc / sps.chi2.ppf(0.5, dfc))


def _seeds_items_batch(a: np.ndarray, b: np.ndarray, alpha: float, power: float, with_mde: bool) -> _Batch:
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
    seed_part = coef * np.maximum(s2 - mse / n, 0.0)
    se2 = v_items + seed_part
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
        # Below 4 degrees of freedom for the seed variance (2 seeds a side) no MDE reaches its power
        # (measured 0.69 at 2 + 2): none is reported rather than one that overstates the test.
        mde=_t_mde(se, np.minimum(df, df_seeds), alpha, power)
        if with_mde and df_seeds >= MIN_SEED_DF
        else np.full(p.shape, np.nan),
        df=df,
        se=se,
        se_seeds=np.sqrt(seed_part),
        b=None,
        c=None,
    )


def _compare_many(a: np.ndarray, b: np.ndarray, alpha: float, power: float, with_mde: bool = True) -> _Batch:
    """compare_accuracy over leading batch axes: a is (..., seeds_a, items), b (..., seeds_b, items).
    Simulations that read no MDE pass with_mde=False (it costs a root search per experiment)."""
    if a.shape[-2] == 1 and b.shape[-2] == 1:
        return _mcnemar_batch(a[..., 0, :].astype(bool), b[..., 0, :].astype(bool), alpha, power, with_mde)
    return _seeds_items_batch(a.astype(float), b.astype(float), alpha, power, with_mde)


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
    right) and c (only B right), as statsmodels' mcnemar(exact=True). The interval inverts that same
    test (bench.stats.mcnemar): Clopper-Pearson on c of b + c, scaled by the discordant rate, so it
    excludes 0 exactly when p < alpha. MDE: the gain the exact test finds with probability `power`,
    from its exact power at the observed discordant rate. This compares the two trained checkpoints:
    one seed cannot show training randomness, so a gap between two seeds of the same recipe counts
    as real. Use several seeds to generalise over training runs.

    Several seeds (both sides >= 2): a t test over items and seeds. With d_i B's mean correctness
    over its seeds on item i minus A's, D = mean_i d_i = diff and
        SE^2 = var(d_i) / n + tau^2 (1/k_a + 1/k_b),
    where var(d_i) / n is test-set sampling (including each seed's item-level noise) and tau^2 the
    seed-to-seed (training) variance of accuracy, estimated as S^2 - MSE / n (floored at 0) from the
    per-seed accuracies' variance S^2 and the seeds x items residual mean square MSE, pooled over
    both models. Subtracting MSE / n stops the item noise being counted twice. df: Welch-
    Satterthwaite over the mean squares, each model's S^2 separately. CI = D +- t_{1-a/2,df} SE and
    p = 2 t_df.sf(|D| / SE): one statistic, so they agree. MDE: the noncentral t's exact power at
    min(df, seed df), with SE made median-unbiased (see `_t_mde`); none (NaN) with fewer than
    MIN_SEED_DF seed degrees of freedom (2 seeds a side), where no MDE reaches its power.

    One seed against several is refused (`refused` says why; ci, p and mde are NaN): the single
    seed's training spread would have to be assumed equal to the other side's, which in simulation
    is liberal (see REFUSED_MIXED).

    Why this test: in simulations (tests/test_stats.py) it holds its size at alpha = 0.05 for 2, 3
    and 5 seeds a side and for 2 + 5, whether seed variance is small or large against the item
    noise. The simpler recipe var(d_i) / n + S_a^2 / k_a + S_b^2 / k_b with Welch df counts item
    noise twice, so it is conservative when seed variance is small, yet exceeds alpha when it is
    large (about 0.06 with 2 seeds a side, 0.07 with 2 against 5).
    """
    check_level(alpha, "alpha")
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
    if not one_each and min(a.shape[0], b.shape[0]) == 1:
        nan = math.nan
        acc_a, acc_b = float(a.mean()), float(b.mean())
        return AccuracyComparison(SEEDS_ITEMS_T, n, int(a.shape[0]), int(b.shape[0]), acc_a, acc_b,
                                  acc_b - acc_a, nan, nan, nan, nan, None, None, nan, alpha, power,
                                  refused=REFUSED_MIXED)  # fmt: skip
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
        se=float(r.se[0]),
        se_seeds=float(r.se_seeds[0]),
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
