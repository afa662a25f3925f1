"""The lever choice on constructed numbers: cheap items while item noise dominates, seeds once the
seeds' spread does, nothing where both levers are spent, and hand-worked widths and needs."""

from __future__ import annotations

import dataclasses
import math

import pytest
from scipy import stats as sps

from bench.stats.levers import ITEMS, SEEDS, PairSpread, choose_lever, needed

ONE_SEED = PairSpread(
    v=0.2, n=500, seeds_a=1, seeds_b=1, tau2=None, items_left=20_000, block=500,
    item_s_a=0.002, item_s_b=0.04, seed_s_a=5.0, seed_s_b=80.0,
)  # fmt: skip


def test_width_is_the_hand_worked_interval() -> None:
    # One seed each: 2 z sqrt(v / n) = 2 * 1.95996 * sqrt(0.2 / 500) = 0.078398.
    choice = choose_lever(ONE_SEED, 0.05)
    assert choice.width_now == pytest.approx(0.078398, rel=1e-4)
    # The items lever doubles n: 2 z sqrt(0.2 / 1000) = 0.055437, for 500 * (0.002 + 0.04) = 21 s.
    assert choice.width_items == pytest.approx(0.055437, rel=1e-3)
    assert choice.seconds_items == pytest.approx(21.0)
    assert choice.seconds_seeds == pytest.approx(85.0)


def test_item_noise_and_cheap_inference_take_items() -> None:
    choice = choose_lever(ONE_SEED, 0.05)
    # From one seed each, a second seed brings the seeds' spread in with 2 degrees of freedom:
    # wider, not narrower. Items it is.
    assert choice.width_seeds is not None and choice.width_seeds > choice.width_now
    assert choice.lever == ITEMS


def test_seed_spread_dominating_takes_seeds() -> None:
    # 3 seeds a side on 20,000 items, a seed sd of 2 points: items barely move SE, seeds do.
    pair = dataclasses.replace(ONE_SEED, n=20_000, seeds_a=3, seeds_b=3, tau2=0.02**2, items_left=5_000)
    choice = choose_lever(pair, 0.01)
    assert choice.width_items is not None and choice.width_seeds is not None
    gain_items = (choice.width_now - choice.width_items) / 21.0
    gain_seeds = (choice.width_now - choice.width_seeds) / 85.0
    # (Items even widen it a hair: their share of SE^2 shrinks, and with it the Satterthwaite df.)
    assert gain_seeds > 0 and gain_seeds > gain_items
    assert choice.lever == SEEDS


def test_expensive_inference_against_cheap_training_takes_seeds() -> None:
    # The same spreads, but inference is dear and training cheap: the per-second rule flips.
    pair = dataclasses.replace(
        ONE_SEED, seeds_a=2, seeds_b=2, tau2=0.015**2, item_s_a=2.0, item_s_b=2.0, seed_s_a=1.0, seed_s_b=1.0
    )
    assert choose_lever(pair, 0.05).lever == SEEDS
    cheap_items = dataclasses.replace(pair, item_s_a=1e-4, item_s_b=1e-4, seed_s_a=500.0, seed_s_b=500.0)
    assert choose_lever(cheap_items, 0.05).lever == ITEMS


def test_a_used_up_split_and_max_seeds_leave_no_lever() -> None:
    used_up = dataclasses.replace(ONE_SEED, items_left=0)
    choice = choose_lever(used_up, 0.05)
    assert choice.width_items is None and choice.lever is None  # seeds only widen it from one seed
    spent = dataclasses.replace(used_up, seed_s_a=None, seed_s_b=None)
    choice = choose_lever(spent, 0.05)
    assert choice.lever is None and choice.width_seeds is None
    # A block larger than what is left adds only what is left.
    tail = dataclasses.replace(ONE_SEED, items_left=100)
    assert choose_lever(tail, 0.05).seconds_items == pytest.approx(100 * 0.042)


def test_needed_items_and_seeds_are_hand_worked() -> None:
    # Observed +2 points, B not costlier: SE must reach 0.02 / z = 0.010204, so n = 0.2 / SE^2 = 1921.
    need = needed(ONE_SEED, diff=0.02, margin=0.01, b_costlier=False, level=0.05)
    z = sps.norm.isf(0.025)
    assert need.items == math.ceil(0.2 / (0.02 / z) ** 2) == 1921
    # Costlier B at -0.5 points against a 1-point margin: the bound must fall 1.5 points, not 0.5.
    need = needed(ONE_SEED, diff=-0.005, margin=0.01, b_costlier=True, level=0.05)
    assert need.items == math.ceil(0.2 / (0.015 / z) ** 2)
    # Seeds (at 500 items): SE^2 = 0.2 / 500 + 2 tau2 / k must reach (0.045 / z)^2 with tau2 = 4e-4:
    # k = ceil(8e-4 / (5.271e-4 - 4e-4)) = 7 a side.
    need = needed(
        dataclasses.replace(ONE_SEED, tau2=4e-4), diff=0.045, margin=0.01, b_costlier=False, level=0.05
    )
    assert need.seeds == math.ceil(8e-4 / ((0.045 / z) ** 2 - 0.2 / 500)) == 7
