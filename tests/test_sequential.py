"""The sequential plan: its spending function against hand-worked values, and its error rate under
optional stopping by simulation, beside the naive repeated test's."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from bench.stats.intervals import StatsError
from bench.stats.sequential import (
    INCONCLUSIVE,
    NOT_WORTH_IT,
    WORTH_IT,
    SequentialPlan,
    batch_intervals,
    obf_spending,
    three_way,
)


def test_obf_spending_matches_hand_worked_values() -> None:
    # alpha(1) = alpha; alpha(1/4) = 2 - 2 Phi(1.95996 / 0.5) = 2 Phi(-3.91993) = 8.8625e-5.
    assert obf_spending(1.0, 0.05) == pytest.approx(0.05)
    assert obf_spending(0.25, 0.05) == pytest.approx(2 * sps.norm.cdf(-3.919928), rel=1e-4)
    assert obf_spending(0.25, 0.05) == pytest.approx(8.8625e-5, rel=1e-3)
    assert obf_spending(0.0, 0.05) == 0.0
    with pytest.raises(StatsError):
        obf_spending(1.5)


def test_plan_levels_sum_to_alpha_and_grow() -> None:
    plan = SequentialPlan(alpha=0.05, looks=5)
    levels = plan.levels()
    assert levels.sum() == pytest.approx(0.05)
    assert np.all(np.diff(levels) > 0)  # O'Brien-Fleming: stingy early, most at the end
    assert plan.level(3, pairs=4) == pytest.approx(levels[2] / 4)
    with pytest.raises(StatsError):
        plan.level(6)


def test_three_way_rule() -> None:
    lo = np.array([0.01, -0.05, -0.03, -0.03, -0.01])
    hi = np.array([0.05, -0.01, 0.005, 0.005, 0.03])
    costlier = np.array([True, False, True, False, True])
    verdicts = three_way(lo, hi, costlier, margin=0.01)
    # above 0; below 0; costlier with upper bound under the margin; not costlier; spans the margin
    assert verdicts.tolist() == [WORTH_IT, NOT_WORTH_IT, NOT_WORTH_IT, INCONCLUSIVE, INCONCLUSIVE]


def _null_pairs(rng: np.random.Generator, sims: int, items: int) -> tuple[np.ndarray, np.ndarray]:
    """Two models equally accurate (80%) on every item, disagreeing on 20% of items, one seed each."""
    u = rng.random((sims, items), dtype=np.float32)
    a = u < 0.8
    b = (u < 0.7) | ((u >= 0.8) & (u < 0.9))  # only A right on [0.7, 0.8), only B on [0.8, 0.9)
    return a[:, None, :], b[:, None, :]


@pytest.mark.parametrize("seed", [0, 1])
def test_stopping_at_first_decided_look_keeps_the_error_at_alpha(seed: int) -> None:
    # No true difference, B not costlier (the margin cannot decide it): any decided look is wrong.
    # Five looks of 500, 1000, ..., 2500 items; stop at the first decided one.
    rng = np.random.default_rng(seed)
    sims, block, alpha = 4000, 500, 0.05
    plan = SequentialPlan(alpha=alpha, looks=5)
    a, b = _null_pairs(rng, sims, block * plan.looks)
    wrong_plan = np.zeros(sims, dtype=bool)
    wrong_naive = np.zeros(sims, dtype=bool)
    for look in range(1, plan.looks + 1):
        n = block * look
        for level, wrong in ((plan.level(look), wrong_plan), (alpha, wrong_naive)):
            _, lo, hi = batch_intervals(a[..., :n], b[..., :n], level)
            wrong |= three_way(lo, hi, False, margin=0.01) != INCONCLUSIVE
    rate_plan, rate_naive = wrong_plan.mean(), wrong_naive.mean()
    se = np.sqrt(alpha * (1 - alpha) / sims)  # Monte-Carlo SE at alpha: 0.0034 with 4000 runs
    assert rate_plan <= alpha + 3 * se, (rate_plan, rate_naive)
    # Measured (exact McNemar interval): the plan 0.025-0.030, the naive test at 0.05 every look
    # 0.12-0.13 (seeds 0-2).
    assert rate_naive > alpha + 6 * se, (rate_plan, rate_naive)
    assert rate_naive > 2 * rate_plan


def test_plan_with_seeds_added_keeps_the_error_at_alpha() -> None:
    # The seeds lever: 2, 3, 4 seeds a side on 600 items, seed-to-seed sd of 2 points per model and
    # no true difference; the t test over items and seeds at each look's level.
    rng = np.random.default_rng(7)
    sims, items, alpha = 3000, 600, 0.05
    plan = SequentialPlan(alpha=alpha, looks=3)
    p_item = rng.uniform(0.4, 0.99, size=(1, 1, items))  # item difficulty, shared by both models
    wrong_plan = np.zeros(sims, dtype=bool)
    wrong_naive = np.zeros(sims, dtype=bool)
    seeds = 4
    shift_a = rng.normal(0, 0.02, size=(sims, seeds, 1))
    shift_b = rng.normal(0, 0.02, size=(sims, seeds, 1))
    a = rng.random((sims, seeds, items)) < np.clip(p_item + shift_a, 0, 1)
    b = rng.random((sims, seeds, items)) < np.clip(p_item + shift_b, 0, 1)
    for look in range(1, plan.looks + 1):
        k = look + 1
        for level, wrong in ((plan.level(look), wrong_plan), (alpha, wrong_naive)):
            _, lo, hi = batch_intervals(a[:, :k], b[:, :k], level)
            wrong |= three_way(lo, hi, False, margin=0.01) != INCONCLUSIVE
    se = np.sqrt(alpha * (1 - alpha) / sims)  # Monte-Carlo SE at alpha: 0.0040 with 3000 runs
    assert wrong_plan.mean() <= alpha + 3 * se, (wrong_plan.mean(), wrong_naive.mean())
    assert wrong_naive.mean() > wrong_plan.mean()
