"""The paired accuracy comparisons: one registry, one decorator on each comparison; `compare_accuracy`
(bench.stats.paired) uses the first one that applies to the pair's seeds, modules taken in name order.

A new comparison is one function with this decorator in a new module of this folder (every module
here is imported when the comparisons are first needed):

    @accuracy_comparison(
        "paired t over items and seeds",             # its `method`, the pair rows' acc_method
        applies=lambda seeds_a, seeds_b: ...,         # does it apply to this many seeds a side?
        described="a t test over seeds and test items",  # how the report's note names it
        upper=t_upper,                                # its one-sided bound of diff, and the
        p_not_superior=t_p_not_superior,              # non-superiority p that bound inverts
    )
    def seeds_items_t(a, b, alpha, power, with_mde) -> Batch: ...

It computes a batch of experiments at once: a is (..., seeds_a, items), b (..., seeds_b, items),
0/1 or bool, with any leading axes (simulations pass thousands of experiments in one call).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np

from bench.registry import Registry


@dataclass(frozen=True)
class AccuracyComparison:
    """Two models' accuracy on the same aligned test items, B relative to A.

    diff = acc_b - acc_a and its 1 - alpha interval [ci_low, ci_high]; p_value is two-sided and
    comes from the same statistic as diff, so a small p always points the way diff does. mde is
    the smallest |diff| the test would detect with probability `power` at level `alpha`, given
    this many items and seeds. b and c count the items only A, only B got right (one seed each;
    None with several seeds). df is the t reference's degrees of freedom (inf for McNemar).
    `method` names the registered comparison that computed it, which also gives its one-sided bound.
    """

    method: str
    n_items: int
    seeds_a: int
    seeds_b: int
    acc_a: float
    acc_b: float
    diff: float
    ci_low: float
    ci_high: float
    p_value: float
    mde: float
    b: int | None
    c: int | None
    df: float
    alpha: float
    power: float
    se: float = math.nan  # the t test's standard error of diff (NaN for McNemar)
    se_seeds: float = math.nan  # the seed-to-seed part of se: sqrt(tau^2 (1/k_a + 1/k_b))
    refused: str = ""  # why no test was run (then ci, p and mde are NaN)

    def upper(self, level: float) -> float:
        """One-sided upper confidence bound of diff with error `level`, from the same test as the
        interval and p-value (so the 1 - alpha/2 bound is ci_high)."""
        if self.refused:
            return math.nan
        return float(comparison(self.method).upper(self, level))

    def p_not_superior(self, margin: float) -> float:
        """One-sided p-value of "B's gain is at least `margin`" (H0: diff >= margin), the test that
        `upper` inverts: p < level exactly when upper(level) < margin."""
        if self.refused:
            return math.nan
        return float(comparison(self.method).p_not_superior(self, margin))

    def swapped(self) -> AccuracyComparison:
        """The same comparison read the other way round: A relative to B."""
        return replace(
            self,
            seeds_a=self.seeds_b,
            seeds_b=self.seeds_a,
            acc_a=self.acc_b,
            acc_b=self.acc_a,
            diff=-self.diff,
            ci_low=-self.ci_high,
            ci_high=-self.ci_low,
            b=self.c,
            c=self.b,
        )


class Batch(NamedTuple):
    """One comparison's numbers for a batch of experiments (the leading axes), as arrays; the fields
    of `AccuracyComparison` it computes. b and c are None where the comparison counts no table."""

    acc_a: np.ndarray
    acc_b: np.ndarray
    diff: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    p_value: np.ndarray
    mde: np.ndarray
    df: np.ndarray
    se: np.ndarray
    se_seeds: np.ndarray
    b: np.ndarray | None
    c: np.ndarray | None


Compute = Callable[[np.ndarray, np.ndarray, float, float, bool], Batch]  # (a, b, alpha, power, with_mde)
Bound = Callable[[AccuracyComparison, float], float]  # (one experiment's comparison, level or margin)


@dataclass(frozen=True)
class Comparison:
    method: str
    compute: Compute
    applies: Callable[[int, int], bool]  # (seeds_a, seeds_b) -> whether it is valid for them
    described: str  # its words in the report's note, e.g. "exact McNemar with one seed each"
    upper: Bound  # (comparison, level) -> the one-sided upper bound of diff with error `level`
    p_not_superior: Bound  # (comparison, margin) -> the one-sided p of H0: diff >= margin


COMPARISONS: Registry[Comparison] = Registry(
    "accuracy comparison", package=__name__, group="bench.comparisons"
)


def accuracy_comparison(
    method: str, *, applies: Callable[[int, int], bool], described: str, upper: Bound, p_not_superior: Bound
) -> Callable[[Compute], Compute]:
    """Decorator: registers a batch computation as the comparison `method`; the function itself is
    returned unchanged, so it can still be called directly."""

    def decorate(compute: Compute) -> Compute:
        COMPARISONS.register(method, origin=f"{compute.__module__}.{compute.__qualname__}")(
            Comparison(method, compute, applies, described, upper, p_not_superior)
        )
        return compute

    return decorate


def load_comparisons() -> Registry[Comparison]:
    return COMPARISONS.load()


def in_order() -> list[Comparison]:
    """The comparisons in the order they are tried: by their modules' names, then as registered in
    a module. Not by registration alone, which follows whichever module happened to be imported
    first (bench.decide.looks imports seeds_items_t for its mean squares)."""
    return sorted(load_comparisons().registered(), key=lambda c: c.compute.__module__)


def comparison(method: str) -> Comparison:
    """The registered comparison named `method`; a BenchError with a suggestion if there is none."""
    return load_comparisons().get(method)


def comparison_for(seeds_a: int, seeds_b: int) -> Comparison | None:
    """The first comparison (`in_order`) that applies to this many seeds a side; None if none does."""
    return next((c for c in in_order() if c.applies(seeds_a, seeds_b)), None)


def described() -> str:
    """The comparisons in the order they are tried, as the report's note names them."""
    return ", else ".join(c.described for c in in_order())
