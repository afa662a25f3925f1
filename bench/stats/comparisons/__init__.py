"""The paired accuracy comparisons: one registry, one decorator on each comparison. Each declares when
it applies and its place in the order they are tried (`compare_accuracy` in bench.stats.paired uses
the first that applies):

    @accuracy_comparison(
        "models, t over items and seeds",     # its `method`, the pair rows' acc_method
        scope=MODELS,                         # what it compares: MODELS (recipes) or CHECKPOINTS
        applies=lambda seeds_a, seeds_b, checkpoints: not checkpoints,
        order=20,                             # lower is tried first
        described="...",                      # how the report's note names it
        bounds=t_bounds,                      # its two-sided interval at any level
    )
    def models_t(a, b, ask) -> Batch: ...

It computes a batch of experiments at once: a is (..., seeds_a, items), b (..., seeds_b, items), 0/1
or bool, with any leading axes (simulations pass thousands of experiments in one call), at the level
and with the assumed seed spread that `ask` gives. Besides its interval and p-value it fills the
sizing contract (`Spread`): what its standard error is made of, which the decide loop's levers and
the "what would decide it" sentences read.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np

from bench.config import DEFAULT_SEED_NOISE
from bench.registry import Registry

MODELS = "models"  # a claim about two training recipes: seed-to-seed variance included
CHECKPOINTS = "checkpoints"  # a claim about these two trained checkpoints only


@dataclass(frozen=True)
class Spread:
    """The sizing contract: what the standard error of B - A is made of,

        SE^2 = v / n + tau2_a / seeds_a + tau2_b / seeds_b,

    v the variance of the per-item differences of seed-averaged correctness, n the shared test
    items, tau2 each model's seed-to-seed variance of accuracy (fractions squared): measured from
    its seeds, or assumed (`assumed_*`) for a side with one seed. A comparison of two checkpoints
    has no seed part (tau2 = 0, not assumed)."""

    v: float
    n: int
    seeds_a: int
    seeds_b: int
    tau2_a: float
    tau2_b: float
    assumed_a: bool = False
    assumed_b: bool = False

    def se(self, n: float | None = None, seeds_a: float | None = None, seeds_b: float | None = None) -> float:
        """The standard error at other sizes, the spreads taken as they are (a projection)."""
        n = self.n if n is None else n
        ka = self.seeds_a if seeds_a is None else seeds_a
        kb = self.seeds_b if seeds_b is None else seeds_b
        return math.sqrt(max(self.v, 0.0) / n + self.tau2_a / ka + self.tau2_b / kb)

    def df(self, seeds_a: int | None = None, seeds_b: int | None = None) -> float:
        """The models' t test's degrees of freedom at other seed counts, by its cap (Hsu's rule,
        bench.stats.comparisons.models): k - 1 of each side with 2 or more seeds whose spread is
        measured above 0 or, assumed now, will be measured; inf where no side caps. The cap is what
        binds at the few seeds the loop can afford."""
        caps = [math.inf]
        for k, tau2, assumed in (
            (self.seeds_a if seeds_a is None else seeds_a, self.tau2_a, self.assumed_a),
            (self.seeds_b if seeds_b is None else seeds_b, self.tau2_b, self.assumed_b),
        ):
            if k >= 2 and (tau2 > 0 or assumed):
                caps.append(k - 1.0)
        return min(caps)

    def swapped(self) -> Spread:
        return Spread(
            self.v,
            self.n,
            self.seeds_b,
            self.seeds_a,
            self.tau2_b,
            self.tau2_a,
            self.assumed_b,
            self.assumed_a,
        )


@dataclass(frozen=True)
class AccuracyComparison:
    """Two models' accuracy on the same aligned test items, B relative to A.

    diff = acc_b - acc_a and its two-sided interval [ci_low, ci_high] at error `level`; p_value is
    two-sided and comes from the same statistic, so a p below `level` always goes with an interval
    that excludes 0 on the side diff is. mde: the smallest |diff| the test finds with probability
    `power` at `level`. b and c count the items only A, only B got right (checkpoints; None for
    models). df: the t reference's degrees of freedom (inf for McNemar). `method` names the
    registered comparison, `scope` what it speaks of (MODELS or CHECKPOINTS).
    """

    method: str
    scope: str
    n_items: int
    seeds_a: int
    seeds_b: int
    acc_a: float
    acc_b: float
    diff: float
    ci_low: float
    ci_high: float
    level: float
    p_value: float
    mde: float
    df: float
    power: float
    se: float
    spread: Spread
    b: int | None = None
    c: int | None = None

    def bounds(self, level: float) -> tuple[float, float]:
        """The two-sided interval at another error `level`, from the same test."""
        return comparison(self.method).bounds(self, level)

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
            spread=self.spread.swapped(),
            b=self.c,
            c=self.b,
        )


@dataclass(frozen=True)
class Ask:
    """What a comparison is asked for: its interval's two-sided error `level`, the `power` its MDE is
    for (and whether to compute one: a root search per experiment), and the seed-to-seed sd of
    accuracy (a fraction) assumed for a side with one seed."""

    level: float = 0.05
    power: float = 0.8
    with_mde: bool = True
    seed_sd: float = DEFAULT_SEED_NOISE / 100


class Batch(NamedTuple):
    """One comparison's numbers for a batch of experiments (the leading axes), as arrays. v, tau2_a
    and tau2_b are the sizing contract (`Spread`); b and c are None where no table is counted."""

    acc_a: np.ndarray
    acc_b: np.ndarray
    diff: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    p_value: np.ndarray
    mde: np.ndarray
    df: np.ndarray
    se: np.ndarray
    v: np.ndarray
    tau2_a: np.ndarray
    tau2_b: np.ndarray
    b: np.ndarray | None
    c: np.ndarray | None


Compute = Callable[[np.ndarray, np.ndarray, Ask], Batch]
Bounds = Callable[[AccuracyComparison, float], tuple[float, float]]


@dataclass(frozen=True)
class Comparison:
    method: str
    scope: str  # MODELS or CHECKPOINTS
    compute: Compute
    applies: Callable[[int, int, bool], bool]  # (seeds_a, seeds_b, checkpoints asked for)
    order: int  # the comparisons are tried in this order, lowest first
    described: str  # its words in the report's note
    bounds: Bounds  # (comparison, level) -> its two-sided interval at that error level


COMPARISONS: Registry[Comparison] = Registry(
    "accuracy comparison", package=__name__, group="bench.comparisons"
)


def accuracy_comparison(
    method: str,
    *,
    scope: str,
    applies: Callable[[int, int, bool], bool],
    order: int,
    described: str,
    bounds: Bounds,
) -> Callable[[Compute], Compute]:
    """Decorator: registers a batch computation as the comparison `method`; the function itself is
    returned unchanged, so it can still be called directly."""
    if scope not in (MODELS, CHECKPOINTS):
        raise ValueError(f"a comparison's scope is {MODELS!r} or {CHECKPOINTS!r}, not {scope!r}")

    def decorate(compute: Compute) -> Compute:
        origin = f"{compute.__module__}.{compute.__qualname__}"
        entry = Comparison(method, scope, compute, applies, order, described, bounds)
        COMPARISONS.register(method, origin=origin)(entry)
        return compute

    return decorate


def load_comparisons() -> Registry[Comparison]:
    return COMPARISONS.load()


def in_order() -> list[Comparison]:
    """The comparisons in the order they are tried: by their declared `order`, then by method."""
    return sorted(load_comparisons().registered(), key=lambda c: (c.order, c.method))


def comparison(method: str) -> Comparison:
    """The registered comparison named `method`; a BenchError with a suggestion if there is none."""
    return load_comparisons().get(method)


def comparison_for(seeds_a: int, seeds_b: int, checkpoints: bool = False) -> Comparison | None:
    """The first comparison (`in_order`) that applies to this many seeds a side; None if none does."""
    return next((c for c in in_order() if c.applies(seeds_a, seeds_b, checkpoints)), None)


def described() -> str:
    """The comparisons in the order they are tried, as the report's note names them."""
    return "; ".join(c.described for c in in_order())
