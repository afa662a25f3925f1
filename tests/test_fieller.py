"""Fieller's interval of a ratio: its ends solve the test it inverts, a hand-worked case, the
unbounded cases, and its coverage by simulation (exact for normal estimates with known variances)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from bench.stats.fieller import BOUNDED, RAYS, WHOLE_LINE, fieller
from bench.stats.intervals import StatsError


def test_a_hand_worked_case() -> None:
    # a = 10 (var 4), b = 5 (var 1), 95%: q^2 = 3.8415; A = 25 - 3.8415, B = 50, C = 100 - 4 * 3.8415.
    q2 = sps.norm.isf(0.025) ** 2
    big_a, big_b, big_c = 25 - q2, 50.0, 100 - 4 * q2
    root = math.sqrt(big_b**2 - big_a * big_c)
    got = fieller(10, 4, 5, 1)
    assert got.kind == BOUNDED and got.ratio == 2.0
    assert got.low == pytest.approx((big_b - root) / big_a) and got.low == pytest.approx(1.1044, abs=1e-4)
    assert got.high == pytest.approx((big_b + root) / big_a) and got.high == pytest.approx(3.6218, abs=1e-4)


@pytest.mark.parametrize("cov", [0.0, 0.3, -0.35])
def test_each_end_is_where_the_test_it_inverts_is_at_its_quantile(cov: float) -> None:
    a, va, b, vb, df = 3.0, 0.8, 1.5, 0.2, 7.0
    got = fieller(a, va, b, vb, cov=cov, confidence=0.9, df=df)
    q = sps.t.isf(0.05, df)
    for r in (got.low, got.high):
        assert (a - r * b) ** 2 == pytest.approx(q * q * (va - 2 * r * cov + r * r * vb))
    inside = (got.low + got.high) / 2
    assert (a - inside * b) ** 2 < q * q * (va - 2 * inside * cov + inside * inside * vb)


def test_a_denominator_not_shown_apart_from_zero_gives_an_unbounded_set() -> None:
    rays = fieller(10.0, 1.0, 0.5, 1.0)  # b within its noise of 0, a clearly not 0: two rays
    assert rays.kind == RAYS and rays.low < 0 < rays.high and not rays.bounded
    everything = fieller(0.2, 1.0, 0.1, 1.0)  # neither: every ratio is consistent with the data
    assert everything.kind == WHOLE_LINE and math.isnan(everything.low)
    exact = fieller(6.0, 0.0, 2.0, 0.0)  # no noise at all: the ratio itself
    assert exact.kind == BOUNDED and exact.low == exact.high == 3.0
    with pytest.raises(StatsError):
        fieller(1.0, -1.0, 1.0, 1.0)


@pytest.mark.parametrize(("beta", "sd_b"), [(5.0, 1.0), (1.0, 0.8)])
def test_coverage_by_simulation(beta: float, sd_b: float) -> None:
    """Normal estimates with known variances: the Fieller set covers alpha / beta in 95% of draws,
    unbounded sets included (where the delta method's interval would not)."""
    rng = np.random.default_rng(3)
    alpha, sd_a, n = 4.0, 1.0, 4000
    a = rng.normal(alpha, sd_a, n)
    b = rng.normal(beta, sd_b, n)
    covered = 0
    for x, y in zip(a, b):
        got = fieller(float(x), sd_a**2, float(y), sd_b**2)
        truth = alpha / beta
        if got.kind == BOUNDED:
            covered += got.low <= truth <= got.high
        elif got.kind == RAYS:
            covered += truth <= got.low or truth >= got.high
        else:
            covered += 1
    rate = covered / n
    assert abs(rate - 0.95) < 3 * math.sqrt(0.95 * 0.05 / n)  # measured 0.951 and 0.950
