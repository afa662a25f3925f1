"""The models compared (the default): a t test over test items and seeds, each model's seed-to-seed
variance its own, assumed where a side has a single seed.

A verdict is about training recipes, which anyone can run again with another seed. With d_i B's mean
correctness over its seeds on item i minus A's, D = mean_i d_i = diff and

    SE^2 = v / n + tau_a^2 / k_a + tau_b^2 / k_b,

v = var(d_i) the items' share (test-set sampling, each seed's item noise included) and tau^2 each
model's seed-to-seed variance of accuracy (bench.stats.seeds: S^2 - MSE / n from its seeds, floored
at 0). A side with one seed cannot measure its tau^2: it is assumed (`Ask.seed_sd`, `--seed-noise`),
a known quantity in the test, and every sentence says it was assumed, not measured. The first extra
seed replaces the assumption.

Degrees of freedom: Welch-Satterthwaite over the mean squares behind SE^2 (v with n - 1; a measured
model's S^2 with k - 1 and MSE with (k - 1)(n - 1), where its tau^2 estimate is above 0 and so in
SE^2), each model's on its own rather than pooled; and never more than k - 1 of any model whose
seeds differ (Hsu's conservative rule for unequal variances; a model whose seeds all predict alike,
as a seed-invariant recipe's do, caps nothing). Satterthwaite's df comes from the estimated
variances, so a small sample that happens to estimate a model's seed variance low also gets many
df, and the two errors compound: with a seed-invariant A against B with a 3-point seed sd, the
Satterthwaite df alone gave false-positive rates of 0.08 to 0.12 at alpha = 0.05 (2 + 2 to 5 + 3
seeds), and capping only models of 2 or 3 seeds still 0.06 at 5 + 5 and 2.4 times the level at
0.005, the levels a look judges at; tests/test_stats.py has the rule's own rates.

CI = D +- t_{1-level/2, df} SE and p = 2 t_df.sf(|D| / SE): one statistic, so they agree. MDE: the
noncentral t's exact power at min(df, the seeds' df), with SE made median-unbiased (see `_t_mde`);
none (NaN) where a model has 2 seeds, where no MDE reliably reaches its power.
"""

from __future__ import annotations

import numpy as np
from scipy import stats as sps

from bench.stats.comparisons import MODELS, AccuracyComparison, Ask, Batch, accuracy_comparison
from bench.stats.seeds import seed_spread

MODELS_T = "models, t over items and seeds"
MIN_MDE_SEEDS = 3  # seeds a measured side needs for an MDE to be reported


def t_bounds(comp: AccuracyComparison, level: float) -> tuple[float, float]:
    """diff +- t_{1-level/2, df} se; diff itself where there is no spread (the difference is exact)."""
    if not comp.se > 0:
        return comp.diff, comp.diff
    half = float(sps.t.isf(level / 2.0, comp.df)) * comp.se
    return max(comp.diff - half, -1.0), min(comp.diff + half, 1.0)


def _t_mde(se: np.ndarray, df: np.ndarray, level: float, power: float, n: int) -> np.ndarray:
    """The gain the t test finds with probability `power`, reckoned conservatively: the noncentral
    t's exact power at df (not t_{1-a/2} + t_power, which falls short at few df), SE scaled by
    sqrt(df / chi2_{df, 0.5}), the factor that makes the estimated SE median-unbiased for the true
    one, and the items' variance grown by the gain d itself (a gain comes with discordant items of its
    own: at most d more), so that the MDE a typical experiment reports still reaches `power`."""
    dfc = np.clip(np.where(np.isfinite(df), df, 1e6), 0.5, 1e6)
    crit = sps.t.ppf(1.0 - level / 2.0, dfc)
    lo = np.zeros(dfc.shape)
    hi = np.full(dfc.shape, 1.0) + crit + sps.norm.ppf(power) * 8.0
    for _ in range(40):  # bisection on the noncentrality: power rises with it
        mid = (lo + hi) / 2.0
        enough = sps.nct.sf(crit, dfc, mid) >= power
        hi, lo = np.where(enough, mid, hi), np.where(enough, lo, mid)
    factor = hi * np.sqrt(dfc / sps.chi2.ppf(0.5, dfc))
    mde = factor * se
    for _ in range(30):  # d = factor sqrt(se^2 + d / n): a fixed point, reached from below
        mde = factor * np.sqrt(se**2 + mde / n)
    return mde


@accuracy_comparison(
    MODELS_T,
    scope=MODELS,
    applies=lambda seeds_a, seeds_b, checkpoints: not (checkpoints and seeds_a == seeds_b == 1),
    order=20,
    described="the models (training recipes): a t test over test items and seeds, each model's "
    "seed-to-seed variance its own, assumed (--seed-noise) for a model with one seed",
    bounds=t_bounds,
)
def models_t(a: np.ndarray, b: np.ndarray, ask: Ask) -> Batch:
    """a is (..., seeds_a, n_items), b (..., seeds_b, n_items), 0/1 or bool."""
    a, b = a.astype(float), b.astype(float)
    ka, n = a.shape[-2:]
    kb = b.shape[-2]
    acc_a, acc_b = a.mean(axis=(-2, -1)), b.mean(axis=(-2, -1))
    d = b.mean(axis=-2) - a.mean(axis=-2)  # per item: B's mean correctness over seeds minus A's
    v = d.var(axis=-1, ddof=1) if n > 1 else np.zeros(d.shape[:-1])
    se2 = v / n
    den = se2**2 / max(n - 1, 1)
    seeds_df = np.inf  # the measured seed parts' degrees of freedom, for the MDE
    cap = np.full(v.shape, np.inf)  # Hsu: no more df than any model whose seeds differ has
    tau2 = []
    for y, k in ((a, ka), (b, kb)):
        if k >= 2:
            spread = seed_spread(y)
            tau2.append(spread.tau2)
            se2 = se2 + spread.tau2 / k
            terms = (spread.s2 / k) ** 2 / spread.df + (spread.mse / (n * k)) ** 2 / spread.df_mse
            den = den + np.where(spread.tau2 > 0, terms, 0.0)  # a part floored at 0 is not in SE^2 either
            seeds_df = min(seeds_df, spread.df)
            varies = (spread.s2 > 0) | (spread.mse > 0)  # seeds that all predict alike measure tau^2 = 0
            cap = np.where(varies, np.minimum(cap, spread.df), cap)
        else:  # one seed: its spread is assumed, a known quantity (no degrees of freedom spent)
            tau2.append(np.full(v.shape, ask.seed_sd**2))
            se2 = se2 + ask.seed_sd**2
    positive = se2 > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        df = np.where(positive & (den > 0), se2**2 / np.where(den > 0, den, 1.0), np.inf)
    df = np.minimum(df, cap)
    se = np.sqrt(se2)
    diff = acc_b - acc_a
    tq = sps.t.isf(ask.level / 2.0, df)
    tstat = np.abs(diff) / np.where(positive, se, 1.0)
    # Zero spread anywhere (both models always right, say): the difference is exact.
    p = np.where(positive, 2.0 * sps.t.sf(tstat, df), np.where(diff == 0, 1.0, 0.0))
    few = min(k for k in (ka, kb) if k >= 2) < MIN_MDE_SEEDS if max(ka, kb) >= 2 else False
    mde = (
        _t_mde(se, np.minimum(df, seeds_df), ask.level, ask.power, n)
        if ask.with_mde and not few
        else np.full(p.shape, np.nan)
    )
    return Batch(
        acc_a=acc_a,
        acc_b=acc_b,
        diff=diff,
        ci_low=np.maximum(diff - tq * se, -1.0),  # a difference of accuracies lies in [-1, 1]
        ci_high=np.minimum(diff + tq * se, 1.0),
        p_value=np.minimum(p, 1.0),
        mde=mde,
        df=df,
        se=se,
        v=v,
        tau2_a=tau2[0],
        tau2_b=tau2[1],
        b=None,
        c=None,
    )
