"""Alpha spent along the budget: the spending function against its formula, the plan's looks summing
to alpha, and by simulation that stopping at the first decided look keeps the error at alpha where the
naive repeated test does not."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench.stats.comparisons import Ask
from bench.stats.comparisons.models import models_t
from bench.stats.intervals import StatsError
from bench.stats.sequential import BudgetPlan, spent


def test_spending_matches_the_hwang_shih_decani_formula() -> None:
    # alpha (1 - e^(-gamma t)) / (1 - e^(-gamma)); gamma -2, t 0.5: 0.05 (1 - e) / (1 - e^2) = 0.05 / (1 + e)
    assert spent(0.5, 0.05, -2.0) == pytest.approx(0.05 / (1 + math.e))
    assert spent(1.0, 0.05, -2.0) == pytest.approx(0.05) and spent(0.0, 0.05, -2.0) == 0.0
    assert spent(0.3, 0.05, 0.0) == pytest.approx(0.015)  # gamma 0: spent in proportion
    later = [spent(t, 0.05, -2.0) - spent(t - 0.1, 0.05, -2.0) for t in (0.2, 0.6, 1.0)]
    assert later == sorted(later)  # gamma < 0: most alpha kept for the end
    with pytest.raises(StatsError):
        spent(1.2, 0.05)


def test_a_plan_counts_the_suite_and_its_looks_sum_to_alpha() -> None:
    plan = BudgetPlan(alpha=0.05, budget_s=1200.0, suite_s=300.0)
    assert plan.fraction(0.0) == pytest.approx(0.2) and plan.fraction(600.0) == pytest.approx(0.6)
    assert plan.fraction(5000.0) == 1.0
    fractions = [0.0, plan.fraction(0.0), plan.fraction(250.0), plan.fraction(900.0), 1.0]
    increments = [plan.increment(a, b) for a, b in zip(fractions, fractions[1:])]
    assert sum(increments) == pytest.approx(0.05)
    assert plan.level(fractions[1], fractions[2], pairs=4) == pytest.approx(increments[1] / 4)
    with pytest.raises(StatsError):
        plan.increment(0.5, 0.4)
    no_budget = BudgetPlan(budget_s=0.0, suite_s=100.0)
    assert no_budget.fraction(0.0) == 1.0 and no_budget.increment(0.0, 1.0) == pytest.approx(0.05)


def test_stopping_at_the_first_decided_look_keeps_the_error_at_alpha() -> None:
    """Equal models (one seed each, the seed spread assumed at its true value), items doubled at each
    of four looks spread along the budget: the plan's error over all looks against the naive one."""
    rng = np.random.default_rng(0)
    runs, n_max, looks = 2000, 4000, [500, 1000, 2000, 4000]
    tau = 0.01
    shift_a, shift_b = rng.normal(0, tau, (runs, 1, 1)), rng.normal(0, tau, (runs, 1, 1))
    z = rng.random((runs, 1, n_max))
    a = (z < 0.7 + shift_a) ^ (rng.random((runs, 1, n_max)) < 0.06)
    b = (z < 0.7 + shift_b) ^ (rng.random((runs, 1, n_max)) < 0.06)
    plan = BudgetPlan(0.05, budget_s=1.0, suite_s=0.0)
    fractions = np.linspace(0.2, 1.0, len(looks))
    wrong_plan = np.zeros(runs, bool)
    wrong_naive = np.zeros(runs, bool)
    before = 0.0
    for n, t in zip(looks, fractions):
        level = plan.level(before, float(t), 1)
        before = float(t)
        for at, wrong in ((level, wrong_plan), (0.05, wrong_naive)):
            r = models_t(a[..., :n], b[..., :n], Ask(at, 0.8, False, tau))
            wrong |= (r.ci_low > 0) | (r.ci_high < 0)
    se = math.sqrt(0.05 * 0.95 / runs)
    assert wrong_plan.mean() <= 0.05 + 3 * se  # measured 0.018
    assert wrong_naive.mean() > 0.05 + 3 * se  # the naive repeated test at 0.05: measured 0.074
