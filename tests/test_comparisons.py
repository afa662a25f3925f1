"""The accuracy comparisons as an extension point: a comparison registered in a test is chosen by
compare_accuracy where it applies, and its method reaches the pair rows and the report's note."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
from scipy import stats as sps

from bench.errors import BenchError
from bench.registry import Registry
from bench.stats import comparisons
from bench.stats.comparisons import (
    Batch,
    Comparison,
    accuracy_comparison,
    comparison_for,
    in_order,
    load_comparisons,
)
from bench.stats.comparisons.mcnemar_exact import MCNEMAR_EXACT
from bench.stats.comparisons.seeds_items_t import SEEDS_ITEMS_T, t_p_not_superior, t_upper
from bench.stats.intervals import StatsError
from bench.stats.paired import REFUSED_MIXED, _compare_many, compare_accuracy
from bench.stats.verdicts import pair_verdicts

CHECKPOINTS_T = "paired t over items, checkpoints fixed"


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> Registry[Comparison]:
    """A copy of the registry, so that what a test registers is gone after it."""
    own = copy.deepcopy(load_comparisons())
    monkeypatch.setattr(comparisons, "COMPARISONS", own)
    return own


def checkpoints_t(a: np.ndarray, b: np.ndarray, alpha: float, power: float, with_mde: bool) -> Batch:
    """A t test on the per-item differences of the seeds' mean correctness, df = n - 1. It treats the
    trained runs as fixed (as McNemar does with one seed each), so it needs no seed spread and
    applies to one seed against several; it asks about these checkpoints, not the training recipe."""
    a, b = a.astype(float), b.astype(float)
    n = a.shape[-1]
    d = b.mean(axis=-2) - a.mean(axis=-2)
    diff = d.mean(axis=-1)
    se = d.std(axis=-1, ddof=1) / math.sqrt(n)
    df = np.full(diff.shape, n - 1.0)
    half = sps.t.ppf(1.0 - alpha / 2.0, df) * se
    nan = np.full(diff.shape, np.nan)
    return Batch(
        acc_a=a.mean(axis=(-2, -1)),
        acc_b=b.mean(axis=(-2, -1)),
        diff=diff,
        ci_low=diff - half,
        ci_high=diff + half,
        p_value=2.0 * sps.t.sf(np.abs(diff) / se, df),
        mde=nan,  # none: this sketch does not size the test
        df=df,
        se=se,
        se_seeds=np.zeros(diff.shape),
        b=None,
        c=None,
    )


def _register_checkpoints_t() -> None:
    accuracy_comparison(
        CHECKPOINTS_T,
        applies=lambda seeds_a, seeds_b: min(seeds_a, seeds_b) == 1 < max(seeds_a, seeds_b),
        described="a t test over items with the checkpoints fixed for one seed against several",
        upper=t_upper,
        p_not_superior=t_p_not_superior,
    )(checkpoints_t)


def _one_against_three() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    return rng.random((1, 200)) < 0.7, rng.random((3, 200)) < 0.8


def test_the_shipped_comparisons_in_the_order_they_are_tried() -> None:
    assert [c.method for c in in_order()] == [MCNEMAR_EXACT, SEEDS_ITEMS_T]
    chosen = [comparison_for(*seeds) for seeds in ((1, 1), (2, 5), (1, 3))]
    assert [c.method if c else None for c in chosen] == [MCNEMAR_EXACT, SEEDS_ITEMS_T, None]
    a, b = _one_against_three()
    refused = compare_accuracy(a, b)
    # Refused, and named after the comparison two sides of three seeds would get.
    assert (refused.refused, refused.method) == (REFUSED_MIXED, SEEDS_ITEMS_T)
    with pytest.raises(StatsError, match="no comparison of 1 seeds against 3"):
        _compare_many(a[None], b[None], 0.05, 0.8)


def test_a_registered_comparison_is_chosen_and_reaches_the_pair_rows(registry: Registry[Comparison]) -> None:
    _register_checkpoints_t()
    a, b = _one_against_three()
    comp = compare_accuracy(a, b)
    assert comp.method == CHECKPOINTS_T and not comp.refused
    d = b.mean(axis=0) - a.mean(axis=0)
    by_hand = sps.ttest_1samp(d, 0.0)
    assert (comp.diff, comp.p_value, comp.df) == pytest.approx((d.mean(), by_hand.pvalue, 199.0))
    low, high = sps.t.interval(0.95, 199, loc=d.mean(), scale=sps.sem(d))
    assert (comp.ci_low, comp.ci_high) == pytest.approx((low, high))
    assert comp.upper(0.025) == pytest.approx(comp.ci_high)  # its own bound, from its own file
    assert comp.upper(comp.p_not_superior(0.02)) == pytest.approx(0.02)

    costs = {"small": [100.0, 104.0, 96.0], "large": [300.0, 310.0, 295.0]}
    rows = pair_verdicts(["small", "large"], costs, {("small", "large"): comp})
    assert rows["acc_method"].tolist() == [CHECKPOINTS_T]
    assert rows["p_value"].tolist() == pytest.approx([comp.p_value])
    assert comparisons.described().endswith(", else " + registry.get(CHECKPOINTS_T).described)


def test_the_first_registered_comparison_that_applies_wins(registry: Registry[Comparison]) -> None:
    accuracy_comparison(
        "any seeds",
        applies=lambda seeds_a, seeds_b: True,
        described="anything",
        upper=t_upper,
        p_not_superior=t_p_not_superior,
    )(checkpoints_t)
    a, b = _one_against_three()
    assert compare_accuracy(a[0], b[0]).method == MCNEMAR_EXACT
    assert compare_accuracy(a, b).method == "any seeds"  # where no earlier one applies


def test_the_order_tried_does_not_follow_the_order_of_imports(monkeypatch: pytest.MonkeyPatch) -> None:
    # Whichever module is imported first registers first; the order tried is still by module name.
    reversed_registry: Registry[Comparison] = Registry("accuracy comparison")
    for c in reversed(load_comparisons().registered()):
        reversed_registry.register(c.method)(c)
    monkeypatch.setattr(comparisons, "COMPARISONS", reversed_registry)
    assert [c.method for c in in_order()] == [MCNEMAR_EXACT, SEEDS_ITEMS_T]
    assert (
        comparisons.described() == "exact McNemar with one seed each, else a t test over seeds and test items"
    )


def test_a_method_registered_twice_is_refused(registry: Registry[Comparison]) -> None:
    with pytest.raises(BenchError, match="'exact McNemar' is taken twice"):  # the registry's one-line error
        accuracy_comparison(
            MCNEMAR_EXACT,
            applies=lambda seeds_a, seeds_b: True,
            described="a second McNemar",
            upper=t_upper,
            p_not_superior=t_p_not_superior,
        )(checkpoints_t)


def test_the_registry_copy_leaves_nothing_behind() -> None:
    # Runs after the tests above in file order: their comparisons went with their copies.
    assert load_comparisons().names() == sorted([MCNEMAR_EXACT, SEEDS_ITEMS_T])
