"""Paired accuracy comparisons of two classifiers on the same test items. The comparisons themselves are
registered in bench.stats.comparisons (the models by default: a t test over items and seeds, with an
assumed seed spread for a side with one seed; two checkpoints by exact McNemar on request); here the
one that applies is chosen. Also Holm's adjustment, for the sweep's screen of trials.

Pure functions of arrays; nothing reads or writes files.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from bench.config import DEFAULT_SEED_NOISE
from bench.stats.comparisons import CHECKPOINTS, AccuracyComparison, Ask, Batch, Spread, comparison_for
from bench.stats.intervals import StatsError, check_level

__all__ = ["AccuracyComparison", "compare_accuracy", "compare_many", "holm"]


def compare_many(a: np.ndarray, b: np.ndarray, ask: Ask, checkpoints: bool = False) -> Batch:
    """compare_accuracy over leading batch axes: a is (..., seeds_a, items), b (..., seeds_b, items)."""
    chosen = comparison_for(a.shape[-2], b.shape[-2], checkpoints)
    if chosen is None:
        raise StatsError(f"no registered comparison applies to {a.shape[-2]} seeds against {b.shape[-2]}")
    return chosen.compute(a, b, ask)


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
    correct_a: npt.ArrayLike,
    correct_b: npt.ArrayLike,
    level: float = 0.05,
    power: float = 0.8,
    seed_sd: float = DEFAULT_SEED_NOISE / 100,
    checkpoints: bool = False,
    with_mde: bool = True,
) -> AccuracyComparison:
    """Is B more or less accurate than A, on the same aligned test items? diff = acc_b - acc_a.

    `correct_a` is (seeds_a, items) of bools or 0/1, `correct_b` (seeds_b, items); column j of both
    must be the same test item. A 1-D array is one seed. `level` is the interval's two-sided error;
    `seed_sd` the seed-to-seed sd of accuracy (a fraction) assumed for a model with one seed;
    `with_mde` False leaves mde NaN (it costs a root search).

    The first registered comparison that applies decides (bench.stats.comparisons): the models by
    default, whatever the seeds; the two checkpoints by exact McNemar when `checkpoints` is asked for
    and each side has one seed.
    """
    check_level(level, "level")
    if not 0.5 <= power < 1.0:
        raise StatsError(f"power must be in [0.5, 1), got {power}")
    if not (np.isfinite(seed_sd) and seed_sd >= 0):
        raise StatsError(f"the assumed seed sd must be zero or more, not {seed_sd}")
    a = _as_seeds_items(correct_a, "correct_a")
    b = _as_seeds_items(correct_b, "correct_b")
    if a.shape[1] != b.shape[1]:
        raise StatsError(f"paired tests need the same test items: {a.shape[1]} vs {b.shape[1]} items")
    n, seeds_a, seeds_b = int(a.shape[1]), int(a.shape[0]), int(b.shape[0])
    if max(seeds_a, seeds_b) > 1 and n < 2:
        raise StatsError("a comparison over several seeds needs at least two test items")
    chosen = comparison_for(seeds_a, seeds_b, checkpoints)
    if chosen is None:
        raise StatsError(f"no registered comparison applies to {seeds_a} seeds against {seeds_b}")
    r = chosen.compute(a[None], b[None], Ask(level, power, with_mde, seed_sd))
    assumed = chosen.scope != CHECKPOINTS
    spread = Spread(
        v=float(r.v[0]),
        n=n,
        seeds_a=seeds_a,
        seeds_b=seeds_b,
        tau2_a=float(r.tau2_a[0]),
        tau2_b=float(r.tau2_b[0]),
        assumed_a=assumed and seeds_a == 1,
        assumed_b=assumed and seeds_b == 1,
    )
    return AccuracyComparison(
        method=chosen.method,
        scope=chosen.scope,
        n_items=n,
        seeds_a=seeds_a,
        seeds_b=seeds_b,
        acc_a=float(r.acc_a[0]),
        acc_b=float(r.acc_b[0]),
        diff=float(r.diff[0]),
        ci_low=float(r.ci_low[0]),
        ci_high=float(r.ci_high[0]),
        level=level,
        p_value=float(r.p_value[0]),
        mde=float(r.mde[0]),
        df=float(r.df[0]),
        power=power,
        se=float(r.se[0]),
        spread=spread,
        b=None if r.b is None else int(r.b[0]),
        c=None if r.c is None else int(r.c[0]),
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
