"""The accuracy comparisons as an extension point: each declares when it applies and its place in the
order; a comparison registered in a test is chosen where it applies first, its sizing contract is a
typed field, and its method reaches the pair rows and the report's note."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
from scipy import stats as sps

from bench.config import VerdictSettings
from bench.errors import BenchError
from bench.registry import Registry
from bench.stats import comparisons
from bench.stats.comparisons import (
    CHECKPOINTS,
    AccuracyComparison,
    Ask,
    Batch,
    Comparison,
    accuracy_comparison,
    comparison_for,
    in_order,
    load_comparisons,
)
from bench.stats.comparisons.checkpoints import MCNEMAR_CHECKPOINTS
from bench.stats.comparisons.models import MODELS_T
from bench.stats.pair_table import pair_table
from bench.stats.paired import compare_accuracy
from bench.stats.verdicts import judge_pair

ITEMS_T = "checkpoints, t over items"


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> Registry[Comparison]:
    """A copy of the registry, so that what a test registers is gone after it."""
    own = copy.deepcopy(load_comparisons())
    monkeypatch.setattr(comparisons, "COMPARISONS", own)
    return own


def items_t(a: np.ndarray, b: np.ndarray, ask: Ask) -> Batch:
    """A t test on the per-item differences of the seeds' mean correctness, df = n - 1: the trained
    runs held fixed (no seed part), a claim about these checkpoints."""
    a, b = a.astype(float), b.astype(float)
    n = a.shape[-1]
    d = b.mean(axis=-2) - a.mean(axis=-2)
    diff = d.mean(axis=-1)
    v = d.var(axis=-1, ddof=1)
    se = np.sqrt(v / n)
    df = np.full(diff.shape, n - 1.0)
    half = sps.t.isf(ask.level / 2.0, df) * se
    zero = np.zeros(diff.shape)
    return Batch(a.mean(axis=(-2, -1)), b.mean(axis=(-2, -1)), diff, diff - half, diff + half,
                 2.0 * sps.t.sf(np.abs(diff) / se, df), np.full(diff.shape, np.nan), df, se, v, zero, zero,
                 None, None)  # fmt: skip


def items_t_bounds(comp: AccuracyComparison, level: float) -> tuple[float, float]:
    half = float(sps.t.isf(level / 2.0, comp.df)) * comp.se
    return comp.diff - half, comp.diff + half


def register_items_t(order: int) -> None:
    accuracy_comparison(
        ITEMS_T,
        scope=CHECKPOINTS,
        applies=lambda seeds_a, seeds_b, checkpoints: checkpoints,
        order=order,
        described="with --checkpoints, a t test over the items",
        bounds=items_t_bounds,
    )(items_t)


def data(seeds_a: int = 1, seeds_b: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    return rng.random((seeds_a, 200)) < 0.7, rng.random((seeds_b, 200)) < 0.8


def test_the_shipped_comparisons_in_their_declared_order() -> None:
    assert [c.method for c in in_order()] == [MCNEMAR_CHECKPOINTS, MODELS_T]
    chosen = {
        seeds: comparison_for(*seeds)
        for seeds in ((1, 1, False), (1, 1, True), (1, 3, False), (1, 3, True), (4, 2, False))
    }
    assert {k: c.method for k, c in chosen.items() if c} == {
        (1, 1, False): MODELS_T,  # the models by default, whatever the seeds
        (1, 1, True): MCNEMAR_CHECKPOINTS,  # --checkpoints with one seed each
        (1, 3, False): MODELS_T,
        (1, 3, True): MODELS_T,  # several seeds: the models' comparison answers better
        (4, 2, False): MODELS_T,
    }


def test_one_seed_against_several_is_compared_with_the_assumed_spread() -> None:
    a, b = data()
    comp = compare_accuracy(a, b, seed_sd=0.01)
    spread = comp.spread
    assert comp.method == MODELS_T and spread.assumed_a and not spread.assumed_b
    assert spread.tau2_a == pytest.approx(1e-4)
    assert comp.se == pytest.approx(spread.se())  # the typed contract gives the comparison's own SE


def test_a_registered_comparison_is_chosen_by_its_order_and_reaches_the_pair_rows(
    registry: Registry[Comparison],
) -> None:
    register_items_t(order=5)  # before McNemar: with --checkpoints it takes one seed each too
    a, b = data(1, 1)
    comp = compare_accuracy(a, b, level=0.05, checkpoints=True)
    assert comp.method == ITEMS_T and comp.scope == CHECKPOINTS
    d = b.mean(axis=0) - a.mean(axis=0)
    by_hand = sps.ttest_1samp(d, 0.0)
    assert (comp.diff, comp.p_value, comp.df) == pytest.approx((d.mean(), by_hand.pvalue, 199.0))
    low, high = sps.t.interval(0.95, 199, loc=d.mean(), scale=sps.sem(d))
    assert (comp.ci_low, comp.ci_high) == pytest.approx((low, high))
    assert comp.bounds(0.01) == pytest.approx(sps.t.interval(0.99, 199, loc=d.mean(), scale=sps.sem(d)))
    j = judge_pair("small", "large", a, b, [100.0, 104.0, 96.0], [300.0, 310.0, 295.0], 0.05,
                   VerdictSettings(checkpoints=True))  # fmt: skip
    rows = pair_table([j], "training time", "s", 0.05)
    assert rows["acc_method"].tolist() == [ITEMS_T] and rows["scope"].tolist() == [CHECKPOINTS]
    assert comparisons.described().startswith(registry.get(ITEMS_T).described)


def test_a_later_order_is_tried_later(registry: Registry[Comparison]) -> None:
    register_items_t(order=15)
    a, b = data(1, 1)
    assert compare_accuracy(a, b, checkpoints=True).method == MCNEMAR_CHECKPOINTS
    assert compare_accuracy(*data(2, 2), checkpoints=True).method == ITEMS_T  # McNemar does not apply


def test_a_method_taken_twice_or_an_unknown_scope_is_refused(registry: Registry[Comparison]) -> None:
    with pytest.raises(BenchError, match="taken twice"):
        accuracy_comparison(
            MODELS_T,
            scope=CHECKPOINTS,
            applies=lambda *_: True,
            order=1,
            described="again",
            bounds=items_t_bounds,
        )(items_t)
    with pytest.raises(ValueError, match="scope"):
        accuracy_comparison(
            "x", scope="recipes", applies=lambda *_: True, order=1, described="x", bounds=items_t_bounds
        )(items_t)


def test_the_registry_copy_leaves_nothing_behind() -> None:
    # Runs after the tests above in file order: their comparisons went with their copies.
    assert load_comparisons().names() == sorted([MCNEMAR_CHECKPOINTS, MODELS_T])
    assert math.isclose(comparison_for(1, 1, True).order, 10)  # type: ignore[union-attr]
