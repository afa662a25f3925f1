"""The volume at which two models' total costs cross, N* = (T_B - T_A) / (S_A - S_B): a hand-worked case,
the covariance of a model's own training and serving costs, the cases with no crossing, and the
coverage of its Fieller interval by simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from bench.stats.crossover import ASSUMED, MEASURED, Side, crossover
from bench.stats.fieller import BOUNDED, RAYS, fieller
from bench.stats.intervals import StatsError


def test_a_hand_worked_case_with_one_run_a_side() -> None:
    # A trains in 100 s and answers in 2 ms, B in 400 s and 1 ms: equal at 300 / 0.001 = 300,000.
    # One run a side: each part's sd is the assumed 10%: var(top) = 10^2 + 40^2 = 1700, var(bottom) =
    # (0.2e-3)^2 + (0.1e-3)^2 = 5e-8; q^2 = 3.8415: A = 1e-6 - q^2 5e-8, B = 300 x 1e-3, C = 300^2 - q^2 1700.
    q2 = sps.norm.isf(0.025) ** 2
    big_a, big_b, big_c = 1e-6 - q2 * 5e-8, 0.3, 90_000 - q2 * 1700
    root = math.sqrt(big_b**2 - big_a * big_c)
    got = crossover([[100, 0.002]], [[400, 0.001]], noise=0.1)
    assert got.volume == pytest.approx(300_000)
    assert got.interval.kind == BOUNDED and got.method == ASSUMED
    assert got.interval.low == pytest.approx((big_b - root) / big_a) == pytest.approx(185_402, abs=1)
    assert got.interval.high == pytest.approx((big_b + root) / big_a) == pytest.approx(557_240, abs=1)
    assert got.b_cheaper_beyond is True  # B serves more cheaply: beyond N*, it costs less


def test_replicates_give_the_variances_and_the_covariance_of_each_models_parts() -> None:
    a = np.array([[100, 2.0e-3], [104, 2.1e-3], [98, 1.9e-3], [101, 2.05e-3]])
    b = np.array([[410, 1.0e-3], [395, 0.98e-3], [402, 1.03e-3]])
    ca, cb = np.cov(a, rowvar=False) / len(a), np.cov(b, rowvar=False) / len(b)
    top, bottom = b[:, 0].mean() - a[:, 0].mean(), a[:, 1].mean() - b[:, 1].mean()
    # cov(T_B - T_A, S_A - S_B) = -cov(T_B, S_B) - cov(T_A, S_A): a slow moment slows both parts
    by_hand = fieller(top, ca[0, 0] + cb[0, 0], bottom, ca[1, 1] + cb[1, 1], -(ca[0, 1] + cb[0, 1]), df=2)
    got = crossover(a, b)
    assert got.method == MEASURED and got.volume == pytest.approx(top / bottom)
    assert (got.interval.low, got.interval.high) == pytest.approx((by_hand.low, by_hand.high))
    assert Side.of(a).cov == pytest.approx(ca[0, 1]) and ca[0, 1] > 0


def test_no_crossing_at_a_positive_volume() -> None:
    cheaper_everywhere = crossover(
        [[100, 1e-3]] * 2 + [[101, 1.01e-3]], [[400, 2e-3], [401, 2.01e-3], [399, 2e-3]]
    )
    assert math.isnan(cheaper_everywhere.volume) and cheaper_everywhere.interval.ratio < 0
    assert cheaper_everywhere.b_cheaper_beyond is False
    alike = crossover([[100, 1e-3]], [[400, 1e-3]], noise=0.1)  # the same serving cost: never equal
    assert math.isnan(alike.volume) and alike.b_cheaper_beyond is None
    assert alike.interval.kind == RAYS  # the bottom is not shown apart from 0: unbounded
    with pytest.raises(StatsError, match="assumed run-to-run noise"):
        crossover([[100, 1e-3]], [[400, 2e-3]])  # one run, no noise to assume


def test_coverage_by_simulation() -> None:
    """Five replicates a side, each run's training and serving slowed alike by the machine's moment
    (a shared lognormal factor: the parts covary) plus their own noise: the interval covers the true
    N* = 300,000 in at least 95% of experiments within Monte-Carlo error (measured 0.974: Hsu's
    degrees of freedom, the smaller side's n - 1, are conservative, as for the cost ratio)."""
    rng = np.random.default_rng(11)
    experiments, n = 3000, 5
    truth = (400 - 100) / (2e-3 - 1e-3)
    covered = 0
    for _ in range(experiments):
        sides = []
        for train, serve in ((100.0, 2e-3), (400.0, 1e-3)):
            moment = rng.lognormal(0, 0.05, n)
            sides.append(
                np.c_[train * moment * rng.lognormal(0, 0.03, n), serve * moment * rng.lognormal(0, 0.03, n)]
            )
        got = crossover(sides[0], sides[1], confidence=0.95).interval
        if got.kind == BOUNDED:
            covered += got.low <= truth <= got.high
        else:
            covered += got.kind != RAYS or truth <= got.low or truth >= got.high
    rate = covered / experiments
    assert rate >= 0.95 - 3 * math.sqrt(0.95 * 0.05 / experiments), rate
