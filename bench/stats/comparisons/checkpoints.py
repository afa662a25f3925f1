"""`--checkpoints`, one seed each: exact McNemar on these two trained checkpoints, the two-sided
binomial test on the discordant counts b (only A right) and c (only B right), as statsmodels'
mcnemar(exact=True).

The interval inverts that same test (bench.stats.mcnemar): Clopper-Pearson on c of b + c, scaled by
the discordant rate, so it excludes 0 exactly when p < level. MDE: the gain the exact test finds with
probability `power`, from its exact power at the observed discordant rate.

What it speaks of: the two checkpoints, never the models. One seed cannot show training randomness,
so a gap between two seeds of the same recipe counts as real here (measured: two seeds of equal
recipes, 1 point of seed sd, 8,000 items, are called different in most pairs). Its sentences say
"these checkpoints"; a claim about the recipes is bench.stats.comparisons.models.
"""

from __future__ import annotations

import numpy as np

from bench.stats import mcnemar
from bench.stats.comparisons import CHECKPOINTS, AccuracyComparison, Ask, Batch, accuracy_comparison
from bench.stats.intervals import StatsError

MCNEMAR_CHECKPOINTS = "exact McNemar, two checkpoints"


def mcnemar_bounds(comp: AccuracyComparison, level: float) -> tuple[float, float]:
    if comp.b is None or comp.c is None:
        raise StatsError(f"an {MCNEMAR_CHECKPOINTS} comparison needs its discordant counts b and c")
    low, high = mcnemar.interval(np.array(comp.b), np.array(comp.c), comp.n_items, level)
    return float(low), float(high)


@accuracy_comparison(
    MCNEMAR_CHECKPOINTS,
    scope=CHECKPOINTS,
    applies=lambda seeds_a, seeds_b, checkpoints: checkpoints and seeds_a == seeds_b == 1,
    order=10,
    described="with --checkpoints and one seed each, exact McNemar on the two checkpoints (a claim "
    "about these checkpoints, not the models)",
    bounds=mcnemar_bounds,
)
def exact_mcnemar(a: np.ndarray, b: np.ndarray, ask: Ask) -> Batch:
    """a and b are (..., 1, n_items), 0/1 or bool."""
    a, b = a[..., 0, :].astype(bool), b[..., 0, :].astype(bool)
    n = a.shape[-1]
    only_a = np.count_nonzero(a & ~b, axis=-1)
    only_b = np.count_nonzero(~a & b, axis=-1)
    low, high = mcnemar.interval(only_a, only_b, n, ask.level)
    acc_a = np.count_nonzero(a, axis=-1) / n
    acc_b = np.count_nonzero(b, axis=-1) / n
    diff = acc_b - acc_a
    p = mcnemar.p_value(only_a, only_b)
    mde = (
        mcnemar.mde_batch(n, only_a + only_b, ask.level, ask.power)
        if ask.with_mde
        else np.full(p.shape, np.nan)
    )
    # Per-item variance of d in {-1, 0, 1}, smoothed so that no discordant item still has a spread.
    v = np.maximum((only_a + only_b + 1.0) / (n + 2.0) - diff**2, 0.0)
    zero = np.zeros(p.shape)
    return Batch(
        acc_a=acc_a,
        acc_b=acc_b,
        diff=diff,
        ci_low=low,
        ci_high=high,
        p_value=p,
        mde=mde,
        df=np.full(p.shape, np.inf),
        se=np.sqrt(v / n),
        v=v,
        tau2_a=zero,
        tau2_b=zero,
        b=only_a,
        c=only_b,
    )
