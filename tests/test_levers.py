"""The levers of an undecided pair priced like with like (the seed parts in both, measured or assumed),
and what would decide a pair with 80% power, against hand-worked values."""

from __future__ import annotations

import dataclasses
import math

import pytest
from scipy import stats as sps

from bench.stats.comparisons import Spread
from bench.stats.levers import ITEMS, REPEATS, SEEDS, PairOptions, choose_lever
from bench.stats.sizing import needed, target_se

# One seed each, 500 items, 11% discordant, the seed spread assumed at 1 point a model.
ONE_SEED = Spread(
    v=0.11, n=500, seeds_a=1, seeds_b=1, tau2_a=1e-4, tau2_b=1e-4, assumed_a=True, assumed_b=True
)


def options(spread: Spread = ONE_SEED, **kw: object) -> PairOptions:
    base = dict(spread=spread, items_left=20_000, block=spread.n, item_s_a=0.04, item_s_b=0.04,
                seed_s_a=60.0, seed_s_b=60.0)  # fmt: skip
    return PairOptions(**{**base, **kw})  # type: ignore[arg-type]


def test_the_standard_error_is_the_sizing_contract_by_hand() -> None:
    assert ONE_SEED.se() == pytest.approx(math.sqrt(0.11 / 500 + 2e-4))
    assert ONE_SEED.se(n=1000, seeds_a=2) == pytest.approx(math.sqrt(0.11 / 1000 + 1e-4 / 2 + 1e-4))


def test_from_one_seed_each_seeds_are_bought_when_items_cannot_narrow_the_models() -> None:
    # At 500 items the items' share (0.11 / 500 = 2.2e-4) is about the seeds' (2e-4): doubling the
    # items is the best buy. At 8,000 items it is 1.4e-5: items buy almost nothing, seeds can.
    assert choose_lever(options()).lever == ITEMS
    many_items = dataclasses.replace(ONE_SEED, n=8000)
    now = sps.norm.isf(0.025) * math.sqrt(0.11 / 8000 + 2e-4)
    choice = choose_lever(options(many_items, block=8000, seeds_left_a=7, seeds_left_b=7))
    assert choice.lever == SEEDS and choice.seeds_a == choice.seeds_b >= 2
    k = 1 + choice.seeds_a  # seeds a side after: a t on k - 1 degrees of freedom (Hsu's cap)
    by_hand = sps.t.isf(0.025, k - 1) * math.sqrt(0.11 / 8000 + 2 * 1e-4 / k)
    assert choice.width_now == pytest.approx(now) and choice.width_after == pytest.approx(by_hand)
    # The best rate: no other run of seeds narrows more per second.
    for j in range(1, 8):
        width = sps.t.isf(0.025, j) * math.sqrt(0.11 / 8000 + 2 * 1e-4 / (1 + j))
        assert (now - width) / (120.0 * j) <= (now - by_hand) / choice.seconds + 1e-12
    # A second seed each trades the assumed spread for one measured on 1 degree of freedom: a wider
    # interval (t_0.975,1 = 12.7); and doubling the items narrows it by 1%, under the 5% a look must
    # buy. With one seed left a side nothing is worth a look.
    assert choose_lever(options(many_items, block=8000)).lever is None
    # Without the seed parts, the comparison of two checkpoints, items would always look better.
    checkpoints = dataclasses.replace(many_items, tau2_a=0.0, tau2_b=0.0, assumed_a=False, assumed_b=False)
    assert choose_lever(options(checkpoints, block=8000, seeds_left_a=7, seeds_left_b=7)).lever == ITEMS


def test_seeds_are_bought_as_far_as_the_budget_allows() -> None:
    many_items = dataclasses.replace(ONE_SEED, n=8000)
    # 300 s left: two more seeds of each (240 s) at most; df 2 gives a wider interval than now.
    tight = options(many_items, block=8000, seeds_left_a=7, seeds_left_b=7, budget_s=300.0, items_left=0)
    assert choose_lever(tight).lever is None


def test_the_side_with_fewer_seeds_caps_the_degrees_of_freedom() -> None:
    # A at 2 seeds (1 df), B at 6: whatever B buys, the interval stays on 1 df; a seed of A lifts it to 2.
    spread = Spread(v=0.05, n=8000, seeds_a=2, seeds_b=6, tau2_a=1e-4, tau2_b=1e-4)
    assert spread.df() == 1.0 and spread.df(seeds_a=3) == 2.0 and spread.df(seeds_b=7) == 1.0
    choice = choose_lever(options(spread, block=8000, seeds_left_a=6, seeds_left_b=2))
    assert choice.lever == SEEDS and choice.seeds_a >= 1 and choice.seeds_b == 0


def test_a_cheap_side_gets_the_seed_when_one_side_is_all_of_the_spread() -> None:
    spread = Spread(v=0.05, n=8000, seeds_a=2, seeds_b=2, tau2_a=0.0, tau2_b=9e-4)
    choice = choose_lever(options(spread, block=8000, seed_s_a=5.0, seed_s_b=60.0))
    assert choice.lever == SEEDS and (choice.seeds_a, choice.seeds_b) == (0, 1)  # only B's spread matters


def test_cost_repeats_first_where_only_the_costs_are_left_to_show() -> None:
    choice = choose_lever(options(repeat_s_a=25.0, repeat_s_b=25.0, cost_decides=True))
    assert choice.lever == REPEATS and choice.seconds == 50.0
    # No repeat left (or an exact cost): the accuracy levers.
    assert choose_lever(options(cost_decides=True)).lever == ITEMS


def test_nothing_left_to_buy() -> None:
    done = options(items_left=0, seed_s_a=None, seed_s_b=None)
    assert choose_lever(done).lever is None


def test_what_would_decide_by_hand() -> None:
    # Observed gain 3 points, one seed each, not costlier, costs not equal: worth it needs the lower
    # bound above the 1-point margin: SE* = (0.03 - 0.01) / (z_0.975 + z_0.8).
    z = sps.norm.isf(0.025) + sps.norm.ppf(0.8)
    assert target_se(0.03, False, False, 0.01, 0.05, 0.8) == pytest.approx(0.02 / z)
    spread = dataclasses.replace(ONE_SEED, tau2_a=1e-5, tau2_b=1e-5)
    target = (0.02 / z) ** 2
    need = needed(spread, 0.03, False, False, 0.01, 0.05)
    assert need.items == math.ceil(0.11 / (target - 2e-5))
    assert need.seeds is None  # at 500 items the items' share alone is above the target
    wide = dataclasses.replace(spread, n=8000, tau2_a=4e-4, tau2_b=4e-4)
    assert needed(wide, 0.03, False, False, 0.01, 0.05).seeds == math.ceil(8e-4 / (target - 0.11 / 8000))
    # A costlier B gaining 0.4 points: "not worth it" is the nearest, at 0.6 points.
    assert target_se(0.004, True, False, 0.01, 0.05, 0.8) == pytest.approx(0.006 / z)
    # Neither lever alone: both, half the variance each.
    both = needed(ONE_SEED, 0.004, True, False, 0.01, 0.05)
    assert both.items is None and both.seeds is None
    target = (0.006 / z) ** 2
    assert both.together == (math.ceil(2 * 0.11 / target), math.ceil(2 * 2e-4 / target))
