"""The interval of a ratio of two uncertain quantities by Fieller's theorem (Fieller 1954): what the
break-even price of a point (extra cost per point of accuracy) and the break-even volume (where two
models' total costs cross) are.

For estimates a and b of alpha and beta, approximately normal with variances v_a and v_b and
covariance c, the ratio rho = alpha / beta is in the set of r where

    (a - r b)^2 <= q^2 (v_a - 2 r c + r^2 v_b),

q the two-sided quantile of the level. That is a quadratic in r, A r^2 - 2 B r + C <= 0 with
A = b^2 - q^2 v_b, B = a b - q^2 c, C = a^2 - q^2 v_a. When A > 0 (the denominator is significantly
not 0) the set is a bounded interval; when A < 0 it is unbounded: two rays, or the whole line. An
unbounded interval is information (the data cannot say the denominator is not 0), not an error.

Pure functions; nothing reads or writes files.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats as sps

from bench.stats.intervals import StatsError, check_level

BOUNDED = "bounded"
RAYS = "two rays"  # (-inf, low] and [high, inf): the ratio is outside (low, high)
WHOLE_LINE = "whole line"


@dataclass(frozen=True)
class RatioInterval:
    """ratio = a / b (NaN where b is 0) and its Fieller set at `confidence`: [low, high] when `kind` is
    BOUNDED; (-inf, low] or [high, inf) for RAYS; every value for WHOLE_LINE (low, high NaN)."""

    ratio: float
    low: float
    high: float
    kind: str
    confidence: float

    @property
    def bounded(self) -> bool:
        return self.kind == BOUNDED


def fieller(
    a: float,
    var_a: float,
    b: float,
    var_b: float,
    cov: float = 0.0,
    confidence: float = 0.95,
    df: float = math.inf,
) -> RatioInterval:
    """Fieller's `confidence` set for a / b, with q the t quantile at `df` degrees of freedom (the
    normal's when infinite)."""
    check_level(confidence, "confidence")
    for name, value in (("a", a), ("b", b), ("var_a", var_a), ("var_b", var_b), ("cov", cov)):
        if not math.isfinite(value):
            raise StatsError(f"Fieller's interval needs a finite {name}, not {value}")
    if var_a < 0 or var_b < 0 or cov * cov > var_a * var_b * (1 + 1e-12):
        raise StatsError("Fieller's interval needs non-negative variances and |cov| <= sd_a sd_b")
    if not df > 0:
        raise StatsError(f"degrees of freedom must be positive, not {df}")
    q = float(sps.norm.isf((1 - confidence) / 2) if math.isinf(df) else sps.t.isf((1 - confidence) / 2, df))
    ratio = a / b if b != 0 else math.nan
    big_a = b * b - q * q * var_b
    big_b = a * b - q * q * cov
    big_c = a * a - q * q * var_a
    disc = big_b * big_b - big_a * big_c
    if big_a > 0:
        root = math.sqrt(max(disc, 0.0))
        return RatioInterval(ratio, (big_b - root) / big_a, (big_b + root) / big_a, BOUNDED, confidence)
    if big_a < 0 and disc > 0:
        root = math.sqrt(disc)
        low, high = sorted(((big_b + root) / big_a, (big_b - root) / big_a))
        return RatioInterval(ratio, low, high, RAYS, confidence)
    return RatioInterval(ratio, math.nan, math.nan, WHOLE_LINE, confidence)
