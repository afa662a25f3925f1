"""Several seeds (both sides >= 2): a t test over items and seeds.

With d_i B's mean correctness over its seeds on item i minus A's, D = mean_i d_i = diff and
    SE^2 = var(d_i) / n + tau^2 (1/k_a + 1/k_b),
where var(d_i) / n is test-set sampling (including each seed's item-level noise) and tau^2 the
seed-to-seed (training) variance of accuracy, estimated as S^2 - MSE / n (floored at 0) from the
per-seed accuracies' variance S^2 and the seeds x items residual mean square MSE, pooled over both
models. Subtracting MSE / n stops the item noise being counted twice. df: Welch-Satterthwaite over
the mean squares, each model's S^2 separately. CI = D +- t_{1-a/2,df} SE and p = 2 t_df.sf(|D| / SE):
one statistic, so they agree. MDE: the noncentral t's exact power at min(df, seed df), with SE made
median-unbiased (see `_t_mde`); none (NaN) with fewer than MIN_MDE_SEEDS seeds on a side, where no
MDE reliably reaches its power.

Why this test: in simulations (tests/test_stats.py) it holds its size at alpha = 0.05 for 2, 3 and 5
seeds a side and for 2 + 5, whether seed variance is small or large against the item noise. The
simpler recipe var(d_i) / n + S_a^2 / k_a + S_b^2 / k_b with Welch df counts item noise twice, so it
is conservative when seed variance is small, yet exceeds alpha when it is large (about 0.06 with 2
seeds a side, 0.07 with 2 against 5).

It does not apply to one seed against several: the lone seed's training spread would have to be
taken from the other side, which is liberal (bench.stats.paired.REFUSED_MIXED).
"""

from __future__ import annotations

import numpy as np
from scipy import stats as sps

from bench.stats.comparisons import AccuracyComparison, Batch, accuracy_comparison

SEEDS_ITEMS_T = "paired t over items and seeds"
MIN_MDE_SEEDS = 3  # seeds on each side below which no MDE is reported


def t_upper(comp: AccuracyComparison, level: float) -> float:
    """diff + t_{1-level, df} se; diff itself where there is no spread (the difference is exact)."""
    if not comp.se > 0:
        return comp.diff
    return comp.diff + float(sps.t.ppf(1.0 - level, comp.df)) * comp.se


def t_p_not_superior(comp: AccuracyComparison, margin: float) -> float:
    if not comp.se > 0:
        return 0.0 if comp.diff < margin else 1.0
    return float(sps.t.cdf((comp.diff - margin) / comp.se, comp.df))


def seed_mean_squares(y: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
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


@accuracy_comparison(
    SEEDS_ITEMS_T,
    applies=lambda seeds_a, seeds_b: min(seeds_a, seeds_b) >= 2,
    described="a t test over seeds and test items",
    upper=t_upper,
    p_not_superior=t_p_not_superior,
)
def seeds_items_t(a: np.ndarray, b: np.ndarray, alpha: float, power: float, with_mde: bool) -> Batch:
    """a is (..., seeds_a, n_items), b (..., seeds_b, n_items), 0/1 or bool. Called directly it also
    takes one seed on a side (borrowing the other side's seed spread), to measure why that is refused."""
    a, b = a.astype(float), b.astype(float)
    ka, n = a.shape[-2:]
    kb = b.shape[-2]
    acc_a, acc_b = a.mean(axis=(-2, -1)), b.mean(axis=(-2, -1))
    d = b.mean(axis=-2) - a.mean(axis=-2)  # per item: B's mean correctness over seeds minus A's
    v_items = d.var(axis=-1, ddof=1) / n
    # Per-seed accuracy varies by tau^2 (training) + MSE / n (that seed's own item noise, which
    # v_items already counts), so tau^2 = S^2 - MSE / n, pooled over the models that have seeds.
    groups = [seed_mean_squares(y) for y in (a, b) if y.shape[-2] >= 2]
    df_seeds = sum(g[2] for g in groups)
    s2 = sum(g[0] * g[2] for g in groups) / df_seeds
    mse = sum(g[1] * g[2] for g in groups) / df_seeds
    coef = 1.0 / ka + 1.0 / kb
    excess = s2 - mse / n
    # A difference of two equal mean squares is rounding, not spread: left in, it gives se2 ~ 1e-17
    # and a Satterthwaite df ~ 1e-31 (an interval of +-1e129, and a crash in older scipy's t).
    excess = np.where(excess > 1e-9 * (s2 + mse / n), excess, 0.0)
    seed_part = coef * excess
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
    return Batch(
        acc_a=acc_a,
        acc_b=acc_b,
        diff=diff,
        ci_low=diff - tq * se,
        ci_high=diff + tq * se,
        p_value=np.minimum(p, 1.0),
        # With 2 seeds on a side no MDE reaches its power reliably (measured 0.69 at 2 + 2, 0.78 at
        # 2 + 4 with large seed variance): none is reported rather than one that overstates the test.
        mde=_t_mde(se, np.minimum(df, df_seeds), alpha, power)
        if with_mde and min(ka, kb) >= MIN_MDE_SEEDS
        else np.full(p.shape, np.nan),
        df=df,
        se=se,
        se_seeds=np.sqrt(seed_part),
        b=None,
        c=None,
    )
