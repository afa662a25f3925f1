"""One seed each: exact McNemar, the two-sided binomial test on the discordant counts b (only A right)
and c (only B right), as statsmodels' mcnemar(exact=True).

The interval inverts that same test (bench.stats.mcnemar): Clopper-Pearson on c of b + c, scaled by
the discordant rate, so it excludes 0 exactly when p < alpha. MDE: the gain the exact test finds
with probability `power`, from its exact power at the observed discordant rate. This compares the
two trained checkpoints: one seed cannot show training randomness, so a gap between two seeds of
the same recipe counts as real. Use several seeds to generalise over training runs.
"""

from __future__ import annotations

import numpy as np

from bench.stats import mcnemar
from bench.stats.comparisons import AccuracyComparison, Batch, accuracy_comparison
from bench.stats.intervals import StatsError

MCNEMAR_EXACT = "exact McNemar"


def _table(comp: AccuracyComparison) -> tuple[np.ndarray, np.ndarray]:
    if comp.b is None or comp.c is None:
        raise StatsError(f"an {MCNEMAR_EXACT} comparison needs its discordant counts b and c")
    return np.array(comp.b), np.array(comp.c)


def mcnemar_upper(comp: AccuracyComparison, level: float) -> float:
    return float(mcnemar.upper_bound(*_table(comp), comp.n_items, level))


def mcnemar_p_not_superior(comp: AccuracyComparison, margin: float) -> float:
    return float(mcnemar.p_not_superior(*_table(comp), comp.n_items, margin))


@accuracy_comparison(
    MCNEMAR_EXACT,
    applies=lambda seeds_a, seeds_b: seeds_a == seeds_b == 1,
    described="exact McNemar with one seed each",
    upper=mcnemar_upper,
    p_not_superior=mcnemar_p_not_superior,
)
def exact_mcnemar(a: np.ndarray, b: np.ndarray, alpha: float, power: float, with_mde: bool) -> Batch:
    """a and b are (..., 1, n_items), 0/1 or bool."""
    a, b = a[..., 0, :].astype(bool), b[..., 0, :].astype(bool)
    n = a.shape[-1]
    only_a = np.count_nonzero(a & ~b, axis=-1)
    only_b = np.count_nonzero(~a & b, axis=-1)
    low, high = mcnemar.interval(only_a, only_b, n, alpha)
    acc_a = np.count_nonzero(a, axis=-1) / n
    acc_b = np.count_nonzero(b, axis=-1) / n
    p = mcnemar.p_value(only_a, only_b)
    mde = mcnemar.mde_batch(n, only_a + only_b, alpha, power) if with_mde else np.full(p.shape, np.nan)
    return Batch(
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
