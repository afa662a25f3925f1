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

from bench.stats.intervals import StatsError, check_level

MCNEMAR_EXACT = "exact McNemar"
SEEDS_ITEMS_T = "paired t over items and seeds"


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
