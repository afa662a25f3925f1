"""Seed-to-seed variance of one model's accuracy, from its seeds' correctness on shared test items.

A model (a training recipe) trained with k seeds and tested on the same n items gives a (k, n) 0/1
array y. Seed s's accuracy varies from seed to seed by tau^2 (training randomness) and, on n items,
by its own item noise: E[S^2] = tau^2 + sigma^2 / n, with S^2 the sample variance of the per-seed
accuracies and sigma^2 the seeds x items interaction variance, estimated by the two-way ANOVA
residual mean square MSE. So tau^2 = S^2 - MSE / n, floored at 0 (Searle, Casella and McCulloch,
*Variance Components*, 1992, the ANOVA estimator). Each model has its own: a deterministic recipe
(the same predictions from every seed) has tau^2 = 0, a fine-tuned transformer often a point or more.

Pure functions of arrays; nothing reads or writes files.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class SeedSpread(NamedTuple):
    """One model's seed spread (arrays over any leading axes): S^2, MSE, their degrees of freedom
    (k - 1 and (k - 1)(n - 1)) and tau^2 = max(S^2 - MSE / n, 0)."""

    s2: np.ndarray
    mse: np.ndarray
    df: int
    df_mse: int
    tau2: np.ndarray


def seed_mean_squares(y: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """For one model's (..., seeds, items) 0/1 array with >= 2 seeds: the sample variance of the
    per-seed accuracies, the seeds x items residual mean square (two-way ANOVA), and seeds - 1."""
    k, n = y.shape[-2:]
    rows = y.mean(axis=-1)
    s2 = rows.var(axis=-1, ddof=1)
    resid = y - rows[..., None] - y.mean(axis=-2, keepdims=True) + rows.mean(axis=-1)[..., None, None]
    mse = (resid**2).sum(axis=(-2, -1)) / ((k - 1) * (n - 1))
    return s2, mse, k - 1


def seed_spread(y: np.ndarray) -> SeedSpread:
    """`seed_mean_squares` and tau^2 of one model's (..., seeds >= 2, items) array."""
    y = np.asarray(y, dtype=float)
    k, n = y.shape[-2:]
    s2, mse, df = seed_mean_squares(y)
    excess = s2 - mse / n
    # A difference of two equal mean squares is rounding, not spread: left in, it gives tau^2 ~ 1e-17
    # and a Satterthwaite df ~ 1e-31 (an interval of +-1e129, and a crash in older scipy's t).
    tau2 = np.where(excess > 1e-9 * (s2 + mse / n), excess, 0.0)
    return SeedSpread(s2, mse, df, df * (n - 1), tau2)
