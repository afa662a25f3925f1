"""The one verdict rule, the pair it judges (ordered by cost, every interval at the pair's level), its
words, the break-even price of a point and the front, each against hand-worked cases."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from bench.config import DEFAULT_SEED_NOISE, VerdictSettings
from bench.stats.cost import compare_cost, cost_position
from bench.stats.fieller import BOUNDED, fieller
from bench.stats.intervals import StatsError
from bench.stats.pair_table import VERDICT_COLUMNS, pair_table
from bench.stats.sizing import Needed
from bench.stats.verdicts import (
    EQUIVALENT,
    INCONCLUSIVE,
    NOT_WORTH_IT,
    WORTH_IT,
    cost_decides,
    family_level,
    judge_all,
    judge_pair,
    rule,
    verdict_front,
)
from bench.stats.wording import percent, sentence

M = 0.01  # the default margin, one point, as a fraction


@pytest.mark.parametrize(
    ("low", "high", "costlier", "equal", "verdict"),
    [
        (0.015, 0.05, True, False, WORTH_IT),  # better by more than the margin, costlier
        (0.015, 0.05, False, False, WORTH_IT),  # ... whatever the cost
        (0.002, 0.008, False, True, WORTH_IT),  # better, below the margin, at an equal cost
        (0.002, 0.008, True, False, NOT_WORTH_IT),  # better, but below the margin at a higher cost
        (0.002, 0.008, True, True, WORTH_IT),  # costlier within the cost margin counts as equal
        (0.002, 0.008, False, False, INCONCLUSIVE),  # the costs decide, and they are not shown
        (-0.05, -0.01, False, False, NOT_WORTH_IT),  # less accurate
        (-0.05, -0.01, False, True, NOT_WORTH_IT),  # less accurate, at an equal cost
        (-0.008, 0.006, False, True, EQUIVALENT),  # within +-margin, costs equal
        (-0.008, 0.006, True, False, NOT_WORTH_IT),  # within +-margin but costlier: below the margin
        (-0.008, 0.006, False, False, INCONCLUSIVE),
        (-0.02, 0.02, True, False, INCONCLUSIVE),  # neither bound tells
        (-0.02, 0.005, True, False, NOT_WORTH_IT),  # gain at most 0.5 points, costlier
        (0.005, 0.02, True, False, INCONCLUSIVE),  # better, but not shown above the margin
    ],
)
def test_the_rule_clause_by_clause(
    low: float, high: float, costlier: bool, equal: bool, verdict: str
) -> None:
    assert str(rule(low, high, costlier, equal, M)) == verdict


def test_the_rule_broadcasts_and_refuses_a_negative_margin() -> None:
    got = rule(np.array([0.02, -0.03]), np.array([0.04, -0.01]), False, False, M)
    assert list(got) == [WORTH_IT, NOT_WORTH_IT]
    with pytest.raises(StatsError):
        rule(0.0, 0.1, False, False, -0.01)


def test_cost_decides_when_only_a_cost_fact_is_missing() -> None:
    assert cost_decides(0.002, 0.008, M, False, False)  # equal -> worth it; costlier -> not worth it
    assert cost_decides(-0.008, 0.006, M, False, False)  # equal -> equivalent; costlier -> not worth it
    assert not cost_decides(-0.02, 0.02, M, False, False)  # accuracy must narrow first
    assert not cost_decides(-0.008, 0.006, M, True, True)  # nothing a cost fact could add


def test_cost_position_by_hand() -> None:
    same = compare_cost([100.0, 101, 99, 100], [100.5, 100, 101, 99.5], confidence=0.95)
    assert cost_position(same, 0.10) == (False, True)  # 1.00x, inside [1/1.1, 1.1]
    dearer = compare_cost([100.0, 104, 96], [300.0, 310, 295])
    assert cost_position(dearer, 0.10) == (True, False)
    exact_same = compare_cost([5.0], [5.0], exact=True)
    assert cost_position(exact_same, 0.10) == (False, True)
    unknown = compare_cost([100.0], [120.0])  # one run a side, no noise assumed: no interval
    assert cost_position(unknown, 0.10) == (False, False)


def _items(diff_items: int, both: int, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One seed each: B right on `diff_items` more items than A, both right on `both` more, shuffled."""
    a = np.zeros(n, bool)
    b = np.zeros(n, bool)
    a[:both] = b[:both] = True
    b[both : both + diff_items] = True
    order = rng.permutation(n)
    return a[order], b[order]


def test_judge_pair_orders_by_cost_and_reads_one_level() -> None:
    rng = np.random.default_rng(0)
    a, b = _items(60, 300, 500, rng)  # B 12 points better on 500 items
    costs_cheap, costs_dear = [100.0, 104.0, 96.0], [300.0, 310.0, 295.0]
    settings = VerdictSettings()
    j = judge_pair("big", "small", b, a, costs_dear, costs_cheap, 0.01, settings)  # given dear first
    assert (j.model_a, j.model_b) == ("small", "big")  # ordered by mean cost
    assert j.accuracy.diff == pytest.approx(0.12) and j.level == 0.01
    assert j.cost.confidence == pytest.approx(0.99)  # the cost interval at the same level
    assert j.costlier and j.verdict == WORTH_IT and j.reason == "above the margin"
    # One seed a side: the models comparison with the assumed seed sd, which the sentence says.
    assert j.accuracy.scope == "models" and j.accuracy.spread.assumed_a and j.accuracy.spread.assumed_b
    assert j.seed_noise == DEFAULT_SEED_NOISE
    words = sentence(j, "training time", "s")
    assert "a seed-to-seed sd of 1.5 points assumed for small and big (one seed), not measured" in words
    assert percent(0.01) == "99%" and "99% interval" in words


def test_checkpoints_are_named_for_what_they_are() -> None:
    rng = np.random.default_rng(1)
    a, b = _items(20, 300, 500, rng)
    settings = VerdictSettings(checkpoints=True)
    j = judge_pair("a", "b", a, b, [100.0], [100.0], 0.05, settings, exact=True)
    assert j.accuracy.scope == "checkpoints" and j.accuracy.b is not None
    assert math.isnan(j.seed_noise)
    words = sentence(j, "parameter count", "")
    assert "a claim about these two checkpoints, not the models" in words
    assert "costs the same parameter count as a" in words


def test_equivalent_needs_both_axes_shown_within_their_margins() -> None:
    rng = np.random.default_rng(2)
    n = 20_000
    a, b = rng.random((5, n)) < 0.8, rng.random((5, n)) < 0.8  # equal models, five seeds a side
    settings = VerdictSettings(seed_noise=1.0, margin=1.0)
    same_cost = [100.0, 100.4, 99.6, 100.2, 99.8]
    j = judge_pair("a", "b", a, b, same_cost, same_cost, 0.05, settings)
    assert j.cost_equal and j.verdict == EQUIVALENT
    assert "either will do" in sentence(j, "training time", "s")
    dearer = [200.0, 201.0, 199.0, 200.5, 199.5]
    assert judge_pair("a", "b", a, b, same_cost, dearer, 0.05, settings).verdict == NOT_WORTH_IT


def test_break_even_price_is_fieller_on_the_cost_and_gain() -> None:
    rng = np.random.default_rng(3)
    a, b = _items(60, 300, 500, rng)
    cheap, dear = [100.0, 104.0, 96.0], [300.0, 310.0, 295.0]
    j = judge_pair("a", "b", a, b, cheap, dear, 0.05, VerdictSettings())
    extra = np.mean(dear) - np.mean(cheap)
    var_cost = np.var(dear, ddof=1) / 3 + np.var(cheap, ddof=1) / 3
    points, se = 100 * j.accuracy.diff, 100 * j.accuracy.se
    want = fieller(extra, var_cost, points, se**2, 0.0, 0.95, min(2.0, j.accuracy.df))
    assert j.break_even is not None and j.break_even.kind == BOUNDED
    assert (j.break_even.ratio, j.break_even.low, j.break_even.high) == pytest.approx(
        (want.ratio, want.low, want.high)
    )
    assert j.break_even.ratio == pytest.approx(extra / points)
    words = sentence(j, "training time", "s")
    assert (
        f"worth it if a point of accuracy is worth more than {j.break_even.ratio:.3g} s of training time"
        in words
    )
    # Given the other way round the pair is ordered by cost again; at equal cost there is no price.
    swapped = judge_pair("b", "a", b, a, dear, cheap, 0.05, VerdictSettings())
    assert swapped.break_even is not None and swapped.break_even.ratio == pytest.approx(j.break_even.ratio)
    assert judge_pair("a", "b", a, b, cheap, cheap, 0.05, VerdictSettings()).break_even is None


def test_an_inconclusive_pair_says_what_it_rules_out_and_what_would_decide_it() -> None:
    rng = np.random.default_rng(4)
    a, b = _items(3, 300, 500, rng)  # 0.6 points apart on 500 items, one seed each
    j = judge_pair("a", "b", a, b, [100.0], [150.0], 0.05, VerdictSettings())
    assert j.verdict == INCONCLUSIVE
    words = sentence(j, "training time", "s")
    assert f"it rules out a gain above +{100 * j.accuracy.ci_high:.1f}" in words
    assert "detectable with 80% power:" in words
    assert "would decide it with 80% power at the spread observed" in words
    # Neither lever alone: the seed parts are above the target, and 500 items too few with any seeds.
    assert j.needed.items is None and j.needed.seeds is None and j.needed.together is not None
    assert f"about {j.needed.together[1]} seeds a side on about {j.needed.together[0]:,} test items" in words


def test_a_gain_on_a_bound_is_not_given_an_absurd_plan() -> None:
    """A gain that sits almost on the margin needs a standard error near 0: the projection runs to
    billions of items or seeds, which is no plan; the sentence says so instead."""
    rng = np.random.default_rng(4)
    a, b = _items(3, 300, 500, rng)
    j = judge_pair("a", "b", a, b, [100.0], [150.0], 0.05, VerdictSettings())
    absurd = dataclasses.replace(j, needed=Needed(together=(10**13, 10**30)))
    words = sentence(absurd, "training time", "s")
    assert "no feasible amount of data would decide it" in words and "10,000,000,000,000" not in words


def test_judge_all_shares_alpha_over_the_pairs() -> None:
    rng = np.random.default_rng(5)
    n = 400
    right = {m: rng.random(n) < p for m, p in (("x", 0.6), ("y", 0.7), ("z", 0.8))}
    pairs = {(a, b): (right[a], right[b]) for a, b in (("x", "y"), ("x", "z"), ("y", "z"))}
    costs = {"x": [10.0], "y": [20.0], "z": [40.0]}
    judged = judge_all(["x", "y", "z"], pairs, costs, VerdictSettings())
    assert (
        [j.level for j in judged]
        == [pytest.approx(0.05 / 3)] * 3
        == [pytest.approx(family_level(0.05, 3))] * 3
    )
    table = pair_table(judged, "training time", "s", 0.05)
    assert list(table.columns) == VERDICT_COLUMNS
    # p_adjusted is below alpha exactly when the interval excludes 0.
    excludes = (table["acc_diff_ci_low"] > 0) | (table["acc_diff_ci_high"] < 0)
    assert ((table["p_adjusted"] < 0.05) == excludes).all()
    assert np.allclose(table["p_adjusted"], np.minimum(1.0, 3 * table["p_value"]))
    with pytest.raises(StatsError, match="lacks the pairs"):
        judge_all(["x", "y", "z"], {("x", "y"): pairs[("x", "y")]}, costs, VerdictSettings())


def test_the_level_agrees_with_a_t_quantile_by_hand() -> None:
    """One seed a side, assumed sd 1.5 points: SE^2 = v / n + 2 (0.015)^2 and df by Satterthwaite over
    the items alone (the assumed part is known), the interval diff +- t SE."""
    rng = np.random.default_rng(6)
    a, b = _items(30, 300, 600, rng)
    j = judge_pair("a", "b", a, b, [1.0], [2.0], 0.02, VerdictSettings(seed_noise=1.5))
    d = b.astype(float) - a.astype(float)
    v, n = d.var(ddof=1), len(d)
    se2 = v / n + 2 * 0.015**2
    df = se2**2 / ((v / n) ** 2 / (n - 1))
    half = sps.t.isf(0.01, df) * math.sqrt(se2)
    assert (j.accuracy.ci_low, j.accuracy.ci_high) == pytest.approx((d.mean() - half, d.mean() + half))


def _front(models: list[str], rows: list[tuple[str, str, str, bool]]) -> dict[str, str | None]:
    table = pd.DataFrame(rows, columns=["model_a", "model_b", "verdict", "cost_equal"])
    front = verdict_front(models, table)
    return {m: (d or None) for m, d in zip(front["model"], front["dominated_by"])}


def test_front_follows_the_verdicts() -> None:
    got = _front(
        ["a", "b", "c", "d"],
        [
            ("a", "b", NOT_WORTH_IT, False),  # a dominates b
            ("a", "c", WORTH_IT, False),  # a real trade-off: both stay
            ("a", "d", WORTH_IT, True),  # d better at an equal cost: d dominates a
            ("b", "c", INCONCLUSIVE, False),
            ("b", "d", EQUIVALENT, True),  # either will do: both stay
            ("c", "d", INCONCLUSIVE, False),
        ],
    )
    assert got == {"a": "d", "b": "a", "c": None, "d": None}
    with pytest.raises(StatsError):
        verdict_front(["a"], pd.DataFrame({"model_a": ["a"]}))
