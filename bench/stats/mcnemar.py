"""One seed each: the exact McNemar test on the discordant items, the interval that inverts it, its
one-sided bounds (for a non-superiority test at a margin) and its power.

With b items only A got right and c only B got right out of n, m = b + c, the gain of B is
diff = psi (2 pi - 1), psi = m / n the discordant rate and pi = c / m the share of them B won.
Given m, c ~ Binomial(m, pi), and diff = 0 exactly when pi = 1/2, so the exact conditional test
(statsmodels' mcnemar(exact=True)) and a Clopper-Pearson bound on pi answer the same question:
the two-sided interval excludes 0 exactly when p < alpha. psi enters each bound through its own
Clopper-Pearson bound at the same level, on the side that widens the interval, so that a pair with
no discordant items still gets an interval of positive width.

Pure functions of arrays; nothing reads or writes files.
"""

from __future__ import annotations

import numpy as np
from scipy import stats as sps
from scipy.optimize import brentq


def _cp_upper(k: np.ndarray, m: np.ndarray | int, level: float | np.ndarray) -> np.ndarray:
    """One-sided Clopper-Pearson upper bound of a binomial share with k of m, error `level`."""
    k, m = np.broadcast_arrays(np.asarray(k, float), np.asarray(m, float))
    with np.errstate(invalid="ignore", divide="ignore"):
        out = sps.beta.ppf(1.0 - level, k + 1.0, np.maximum(m - k, 1e-300))
    return np.where(k >= m, 1.0, out)


def _cp_lower(k: np.ndarray, m: np.ndarray | int, level: float | np.ndarray) -> np.ndarray:
    k, m = np.broadcast_arrays(np.asarray(k, float), np.asarray(m, float))
    with np.errstate(invalid="ignore", divide="ignore"):
        out = sps.beta.ppf(level, np.maximum(k, 1e-300), m - k + 1.0)
    return np.where(k <= 0, 0.0, out)


def p_value(only_a: np.ndarray, only_b: np.ndarray) -> np.ndarray:
    """Exact McNemar: twice the smaller binomial tail, capped at 1; b + c = 0 gives 1."""
    return np.minimum(1.0, 2.0 * sps.binom.cdf(np.minimum(only_a, only_b), only_a + only_b, 0.5))


def upper_bound(only_a: np.ndarray, only_b: np.ndarray, n: int, level: float | np.ndarray) -> np.ndarray:
    """One-sided upper confidence bound of diff = acc_b - acc_a with error `level` (0.025: 97.5%)."""
    m = only_a + only_b
    pi_hi = _cp_upper(only_b, m, level)
    gain = 2.0 * pi_hi - 1.0
    # The widest psi on the side the bound falls: its upper bound when B may be ahead, else the lower.
    psi = np.where(gain >= 0, _cp_upper(m, n, level), _cp_lower(m, n, level))
    return np.asarray(psi * gain)


def interval(only_a: np.ndarray, only_b: np.ndarray, n: int, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided 1 - alpha interval of diff: each end a one-sided bound with error alpha / 2."""
    return -upper_bound(only_b, only_a, n, alpha / 2.0), upper_bound(only_a, only_b, n, alpha / 2.0)


def p_not_superior(only_a: np.ndarray, only_b: np.ndarray, n: int, margin: float) -> np.ndarray:
    """One-sided p-value of H0: diff >= margin, by inverting `upper_bound`: the smallest error level
    whose upper bound falls below the margin (bisection on the level; the bound falls as it grows)."""
    only_a, only_b = np.broadcast_arrays(np.asarray(only_a), np.asarray(only_b))
    lo, hi = np.zeros(only_a.shape), np.ones(only_a.shape)
    for _ in range(45):  # 2^-45: far below any level a verdict reads
        mid = (lo + hi) / 2.0
        below = upper_bound(only_a, only_b, n, mid) < margin
        hi, lo = np.where(below, mid, hi), np.where(below, lo, mid)
    return hi


def _reject_from(m: np.ndarray, alpha: float) -> np.ndarray:
    """Per discordant count m, the smallest c (B's wins) that the two-sided exact test rejects at
    alpha in B's favour; m + 1 where none does."""
    j = sps.binom.ppf(alpha / 2.0, m, 0.5)  # smallest j with P(X <= j) >= alpha / 2
    j = np.where(sps.binom.cdf(j, m, 0.5) * 2.0 < alpha, j + 1, j)  # ppf's float edge
    return np.asarray(m - j + 1)


def power(n: int, psi: float, diff: float, alpha: float) -> float:
    """The exact test's power to find B better at level alpha when the discordant rate is psi and
    the true gain diff (0 <= diff <= psi): m ~ Binomial(n, psi), then c ~ Binomial(m, pi)."""
    sd = np.sqrt(n * psi * (1 - psi))
    lo, hi = max(0, int(n * psi - 9 * sd) - 1), min(n, int(n * psi + 9 * sd) + 2)
    m = np.arange(lo, hi + 1)
    pi = 0.5 + diff / (2.0 * psi)
    return float(sps.binom.pmf(m, n, psi) @ sps.binom.sf(_reject_from(m, alpha) - 1, m, pi))


def mde(n: int, psi: float, alpha: float, target: float) -> float:
    """The smallest gain the exact test finds with probability `target`, from its exact power (not a
    normal approximation, which promises more than the discrete test delivers); 1 - psi if none does.
    A gain comes with its own discordant items, so the power at a gain d is taken at the observed
    discordant rate plus d (under no difference the rate observed is all noise)."""

    def at(d: float) -> float:
        return power(n, min(psi + d, 1.0), d, alpha)

    top = 1.0 - psi
    if at(top) < target:
        return top
    return float(brentq(lambda d: at(d) - target, 0.0, top, xtol=1e-7))


def mde_batch(n: int, discordant: np.ndarray, alpha: float, target: float) -> np.ndarray:
    """`mde` for each count of discordant items, psi taken as (m + 1) / (n + 2) so that no discordant
    item still gives a positive detectable difference; computed once per distinct count."""
    counts, inverse = np.unique(np.asarray(discordant), return_inverse=True)
    found = np.array([mde(n, (m + 1.0) / (n + 2.0), alpha, target) for m in counts])
    return found[inverse].reshape(np.shape(discordant))
