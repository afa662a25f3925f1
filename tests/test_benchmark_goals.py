"""How the speed benchmarks judge a goal (benchmarks/common.py): a 95% Student-t interval on the
paired rounds' log ratios, failing only when the whole interval lies below the goal."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from scipy import stats

from benchmarks.common import check_goal, ratio_interval


@dataclass
class FakeBenchmark:
    """The two things check_goal reads of pytest-benchmark's fixture."""

    disabled: bool = False
    extra_info: dict[str, Any] = field(default_factory=dict)


def test_the_interval_by_hand() -> None:
    # log ratios 0.1, 0.2, 0.3: mean 0.2, sd 0.1, se 0.1 / sqrt(3) = 0.0577350; t(0.975, 2) = 4.3026527
    # half-width 0.2484138: exp(0.2 - 0.2484138) = 0.952739, exp(0.2 + 0.2484138) = 1.565826
    interval = ratio_interval([math.exp(0.1), math.exp(0.2), math.exp(0.3)], [1.0, 1.0, 1.0])
    assert interval.ratio == pytest.approx(math.exp(0.2))
    assert (interval.low, interval.high) == pytest.approx((0.952739, 1.565826), abs=1e-6)
    # Only each pair's ratio counts: a round's load slowing both sides cancels.
    paired = ratio_interval([2 * math.exp(0.1), 5 * math.exp(0.2), 3 * math.exp(0.3)], [2.0, 5.0, 3.0])
    assert (paired.low, paired.high) == pytest.approx((interval.low, interval.high))
    same = ratio_interval([2.0, 4.0], [1.0, 2.0])
    assert (same.ratio, same.low, same.high) == pytest.approx((2.0, 2.0, 2.0))


def test_a_goal_fails_only_when_the_whole_interval_is_below_it() -> None:
    rounds = [0.96, 0.95, 0.97, 0.95, 0.96]
    interval = ratio_interval(rounds, [1.0] * 5)
    assert interval.low < 0.96 < interval.high < 0.99
    for goal in (0.9, 0.96):  # below the interval, or inside it: passes
        bench = FakeBenchmark()
        check_goal(bench, "ratio_x", rounds, [1.0] * 5, goal=goal)
        assert bench.extra_info["ratio_x_ci95"] == pytest.approx([interval.low, interval.high])
        assert bench.extra_info["goal_ratio_x"] == goal and bench.extra_info["rounds_ratio_x"] == 5
    with pytest.raises(AssertionError, match=r"ratio_x = 0\.958 \(95% CI .*5 rounds\): below its goal 0\.99"):
        check_goal(FakeBenchmark(), "ratio_x", rounds, [1.0] * 5, goal=0.99)


def test_one_round_is_only_recorded_when_benchmarks_are_disabled() -> None:
    off = FakeBenchmark(disabled=True)
    check_goal(off, "ratio_x", [0.5], [1.0], goal=1.0)
    assert off.extra_info["ratio_x"] == 0.5
    with pytest.raises(AssertionError, match="at least two rounds"):
        check_goal(FakeBenchmark(), "ratio_x", [0.5], [1.0], goal=1.0)


def test_a_goal_met_exactly_fails_one_time_in_forty() -> None:
    """Rounds whose true ratio is the goal, with lognormal noise and a load shared within each pair:
    the goal fails when the upper end falls below it, 2.5% of the time (one side of a 95% interval).
    The rate of 20,000 benchmarks of 5 rounds, from the interval in numpy, once checked against
    check_goal's own verdicts on 500 of them. Monte Carlo SE sqrt(0.025 * 0.975 / 20000) = 0.0011,
    3 SE = 0.0033."""
    rng = np.random.default_rng()
    runs, rounds, goal = 20_000, 5, 0.99
    load = rng.lognormal(0.0, 0.3, size=(runs, rounds))  # slows both sides of a round alike
    reference = load * rng.lognormal(0.0, 0.02, size=(runs, rounds))
    subject = goal * load * rng.lognormal(0.0, 0.02, size=(runs, rounds))
    logs = np.log(subject / reference)
    t = stats.t.ppf(0.975, rounds - 1)
    high = logs.mean(axis=1) + t * logs.std(axis=1, ddof=1) / math.sqrt(rounds)
    fails = high < math.log(goal)

    def verdict(num: np.ndarray, den: np.ndarray) -> bool:
        try:
            check_goal(FakeBenchmark(), "ratio", num.tolist(), den.tolist(), goal)
        except AssertionError:
            return True
        return False

    checked = [verdict(subject[k], reference[k]) for k in range(500)]
    assert checked == fails[:500].tolist()
    assert abs(fails.mean() - 0.025) < 3 * math.sqrt(0.025 * 0.975 / runs)
