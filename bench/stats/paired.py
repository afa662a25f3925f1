"""Paired accuracy comparisons of two classifiers on the same test items, and Holm's adjustment
across pairs. The comparisons themselves are registered in bench.stats.comparisons (exact McNemar
for one seed each, a t test over items and seeds for several); here the one that applies is chosen.

Pure functions of arrays; nothing reads or writes files.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from bench.stats.comparisons import AccuracyComparison, Batch, comparison_for
from bench.stats.intervals import StatsError, check_level

__all__ = ["REFUSED_MIXED", "AccuracyComparison", "compare_accuracy", "holm"]

REFUSED_MIXED = (
    "one side has a single seed: it cannot show its own training spread, and taking the other "
    "side's for it is liberal (false-positive rate 0.10 at 1 against 2 seeds, 0.054 at 1 against 3, "
    "measured); run at least two seeds of each model, or compare one seed of each"
)


def _compare_many(a: np.ndarray, b: np.ndarray, alpha: float, power: float, with_mde: bool = True) -> Batch:
    """compare_accuracy over leading batch axes: a is (..., seeds_a, items), b (..., seeds_b, items).
    Simulations that read no MDE pass with_mde=False (it costs a root search per experiment)."""
    chosen = comparison_for(a.shape[-2], b.shape[-2])
    if chosen is None:
        raise StatsError(f"no comparison of {a.shape[-2]} seeds against {b.shape[-2]}: {REFUSED_MIXED}")
    return chosen.compute(a, b, alpha, power, with_mde)


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

    The first registered comparison that applies to the seeds decides (bench.stats.comparisons):
    exact McNemar with one seed each (`mcnemar_exact`), a t test over items and seeds with at least
    two seeds a side (`seeds_items_t`); each module says how it tests and why.

    One seed against several is refused (`refused` says why; ci, p and mde are NaN): the single
    seed's training spread would have to be assumed equal to the other side's, which in simulation
    is liberal (see REFUSED_MIXED).
    """
    check_level(alpha, "alpha")
    if not 0.5 <= power < 1.0:
        raise StatsError(f"power must be in [0.5, 1), got {power}")
    a = _as_seeds_items(correct_a, "correct_a")
    b = _as_seeds_items(correct_b, "correct_b")
    if a.shape[1] != b.shape[1]:
        raise StatsError(f"paired tests need the same test items: {a.shape[1]} vs {b.shape[1]} items")
    n, seeds_a, seeds_b = int(a.shape[1]), int(a.shape[0]), int(b.shape[0])
    if max(seeds_a, seeds_b) > 1 and n < 2:
        raise StatsError("a comparison over several seeds needs at least two test items")
    chosen = comparison_for(seeds_a, seeds_b)
    if chosen is None:
        # Named after the comparison the pair would get with as many seeds on each side, the
        # remedy REFUSED_MIXED offers first.
        remedy = comparison_for(max(seeds_a, seeds_b), max(seeds_a, seeds_b))
        nan = math.nan
        acc_a, acc_b = float(a.mean()), float(b.mean())
        return AccuracyComparison("" if remedy is None else remedy.method, n, seeds_a, seeds_b,
                                  acc_a, acc_b, acc_b - acc_a, nan, nan, nan, nan, None, None, nan,
                                  alpha, power, refused=REFUSED_MIXED)  # fmt: skip
    r = chosen.compute(a[None], b[None], alpha, power, True)
    return AccuracyComparison(
        method=chosen.method,
        n_items=n,
        seeds_a=seeds_a,
        seeds_b=seeds_b,
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
