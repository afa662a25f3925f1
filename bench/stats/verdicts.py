"""Is the costlier model worth it? Pairwise verdicts and the front of models worth their cost.

Built on bench.stats: each pair's accuracy comes from one paired comparison (`compare_accuracy`),
its p-value adjusted by Holm across all pairs, and its cost from `compare_cost`. Pure functions of
their inputs; nothing reads or writes files.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from itertools import combinations

import numpy as np
import numpy.typing as npt
import pandas as pd

from bench.stats.cost import CostComparison, Replicates, as_replicates, compare_cost
from bench.stats.intervals import StatsError
from bench.stats.paired import AccuracyComparison, holm

__all__ = [
    "FRONT_COLUMNS",
    "INCONCLUSIVE",
    "NOT_WORTH_IT",
    "VERDICT_COLUMNS",
    "WORTH_IT",
    "pair_verdicts",
    "verdict_front",
]

WORTH_IT = "worth it"
NOT_WORTH_IT = "not worth it"
INCONCLUSIVE = "inconclusive"

VERDICT_COLUMNS = [
    "model_a",
    "model_b",
    "cost",
    "cost_ratio",
    "cost_ci_low",
    "cost_ci_high",
    "cost_significant",
    "acc_diff",
    "acc_diff_ci_low",
    "acc_diff_ci_high",
    "p_value",
    "p_adjusted",
    "mde",
    "verdict",
    "sentence",
]
FRONT_COLUMNS = ["model", "on_front", "dominated_by"]

_MINUS = "\u2212"


def _pairs(
    models: Sequence[str], comparisons: Mapping[tuple[str, str], AccuracyComparison]
) -> dict[tuple[str, str], AccuracyComparison]:
    """Each unordered pair of `models` read as (first in `models` order, second)."""
    pos = {m: i for i, m in enumerate(models)}
    out: dict[tuple[str, str], AccuracyComparison] = {}
    for (ma, mb), comp in comparisons.items():
        if ma not in pos or mb not in pos or ma == mb:
            raise StatsError(f"comparisons has the pair ({ma!r}, {mb!r}), not a pair of {list(models)}")
        key, comp = ((ma, mb), comp) if pos[ma] < pos[mb] else ((mb, ma), comp.swapped())
        if key in out:
            raise StatsError(f"comparisons has the pair {key} twice")
        if not (math.isfinite(comp.diff) and 0.0 <= comp.p_value <= 1.0):
            raise StatsError(f"the comparison of {key} has no usable diff or p-value")
        out[key] = comp
    missing = [p for p in combinations(models, 2) if p not in out]
    if missing:
        # Without a comparison there is no evidence either way, and Holm's m would be wrong.
        raise StatsError(f"comparisons lacks the pairs {missing}")
    return out


def _signed(points: float) -> str:
    return f"{points:+.1f}".replace("-", _MINUS)


def _ratio(x: float) -> str:
    return f"{x:.2f}" if x < 10 else f"{x:.1f}" if x < 100 else f"{x:.0f}"


def _p(p: float) -> str:
    if p >= 0.995:
        return "= 1.0"
    if p >= 0.01:
        return f"= {p:.2f}"
    return f"= {p:.3f}" if p >= 0.001 else "< 0.001"


def _sentence(
    a: str,
    b: str,
    cost: str,
    cc: CostComparison,
    exact: bool,
    comp: AccuracyComparison,
    p_adj: float,
    verdict: str,
) -> str:
    if exact and cc.ratio == 1.0:
        cost_part = f"costs the same {cost} as {a}"
    else:
        cost_part = f"costs {_ratio(cc.ratio)}\u00d7 the {cost} of {a}"
        if math.isfinite(cc.ci_low):
            level = f"{100 * cc.confidence:g}%"
            cost_part += f" ({level} CI {_ratio(cc.ci_low)}\u2013{_ratio(cc.ci_high)})"
        elif cc.significant is None:
            cost_part += " (no interval from a single replicate)"
    points = 100 * comp.diff
    if points == 0:
        acc_part = "is as accurate"
    else:
        acc_part = f"is {abs(points):.1f} points {'more' if points > 0 else 'less'} accurate"
    acc_part += f" ({_signed(100 * comp.ci_low)} to {_signed(100 * comp.ci_high)}; adjusted p {_p(p_adj)})"
    tail = verdict
    if verdict == INCONCLUSIVE:
        if comp.seeds_a == comp.seeds_b == 1:
            seeds = ""
        elif comp.seeds_a == comp.seeds_b:
            seeds = f" and {comp.seeds_a} seeds each"
        else:
            seeds = f" and {comp.seeds_a} seeds of {a}, {comp.seeds_b} of {b}"
        tail += (
            f"; a difference under {100 * comp.mde:.1f} points could not have been detected"
            f" with {comp.n_items} test items{seeds}"
        )
    return f"{b} {cost_part} and {acc_part}: {tail}."


def pair_verdicts(
    models: Sequence[str],
    costs: Mapping[str, Replicates | npt.ArrayLike],
    comparisons: Mapping[tuple[str, str], AccuracyComparison],
    *,
    cost: str = "training time",
    exact: bool = False,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """For every pair of `models`: is the costlier one worth its cost?

    `costs[m]` holds model m's cost replicates on one axis, named `cost` in the sentences (per-seed
    training times, latency repeats...; `exact=True` for parameter counts or FLOPs, see
    `compare_cost`). `comparisons[(x, y)]` is `compare_accuracy` of x (as A) against y (as B), each
    unordered pair exactly once, in either order. Holm's adjustment runs across all these pairs.

    Each pair is ordered cheaper (model_a) then costlier (model_b) by mean cost, ties in `models`
    order, and judged at level `alpha` (the cost interval is 1 - alpha):
      worth it      B is significantly more accurate after adjustment (p_adjusted < alpha, diff > 0);
      not worth it  B is significantly costlier and not significantly more accurate, or
                    significantly less accurate (and, being costlier, not significantly cheaper);
      inconclusive  otherwise; the sentence then says which difference could not have been seen.
    Direction and p both come from the paired comparison's diff, never from separately averaged
    accuracies. A cost with unknown significance (one replicate) counts as not significant.

    Returns VERDICT_COLUMNS, one row per pair, pairs in `models` order; acc_diff, its interval and
    mde are fractions (0.012 is 1.2 points), the sentence speaks in points; cost_significant is
    True, False or None (unknown), as `CostComparison.significant`.
    """
    names = [str(m) for m in models]
    if len(set(names)) != len(names):
        raise StatsError(f"models has duplicates: {names}")
    absent = [m for m in names if m not in costs]
    if absent:
        raise StatsError(f"costs lacks the models {absent}")
    pairs = _pairs(names, comparisons)
    keys = list(combinations(names, 2))
    adjusted = holm([pairs[k].p_value for k in keys]) if keys else np.array([])
    means = {m: as_replicates(costs[m], m).mean for m in names}

    rows = []
    for (first, second), p_adj in zip(keys, adjusted):
        comp = pairs[(first, second)]
        a, b = (second, first) if means[second] < means[first] else (first, second)
        if a != first:
            comp = comp.swapped()
        cc = compare_cost(costs[a], costs[b], exact=exact, confidence=1.0 - alpha)
        p_adj = float(p_adj)
        b_better = p_adj < alpha and comp.diff > 0
        b_worse = p_adj < alpha and comp.diff < 0
        if b_better:
            verdict = WORTH_IT
        elif cc.significant is True or b_worse:
            verdict = NOT_WORTH_IT
        else:
            verdict = INCONCLUSIVE
        rows.append(
            {
                "model_a": a,
                "model_b": b,
                "cost": cost,
                "cost_ratio": cc.ratio,
                "cost_ci_low": cc.ci_low,
                "cost_ci_high": cc.ci_high,
                "cost_significant": cc.significant,
                "acc_diff": comp.diff,
                "acc_diff_ci_low": comp.ci_low,
                "acc_diff_ci_high": comp.ci_high,
                "p_value": comp.p_value,
                "p_adjusted": p_adj,
                "mde": comp.mde,
                "verdict": verdict,
                "sentence": _sentence(a, b, cost, cc, exact, comp, p_adj, verdict),
            }
        )
    # object dtype, so cost_significant holds True, False or None whatever the mix of rows.
    return pd.DataFrame(rows, columns=VERDICT_COLUMNS).astype({"cost_significant": object})


def verdict_front(models: Sequence[str], verdicts: pd.DataFrame) -> pd.DataFrame:
    """The models worth their cost: those that no other model dominates, from `pair_verdicts`.

    In a pair (A cheaper, B costlier), A dominates B when B is "not worth it": A costs
    significantly less and is not significantly less accurate, or is significantly more accurate
    and B not significantly cheaper. B dominates A when B is significantly more accurate without
    costing significantly more (for exact costs: at the same cost). Otherwise both stay: a real
    trade-off, or a difference the data cannot resolve.

    Returns FRONT_COLUMNS, one row per model in `models` order; dominated_by lists the dominating
    models, comma-separated in `models` order ("" when none).
    """
    names = [str(m) for m in models]
    pos = {m: i for i, m in enumerate(names)}
    missing_cols = [c for c in ("model_a", "model_b", "verdict", "cost_significant") if c not in verdicts]
    if missing_cols:
        raise StatsError(f"verdicts is missing columns {missing_cols}")
    dom = np.zeros((len(names), len(names)), dtype=bool)  # dom[i, j]: i dominates j
    for a, b, verdict, cost_sig in zip(
        verdicts["model_a"], verdicts["model_b"], verdicts["verdict"], verdicts["cost_significant"]
    ):
        if a not in pos or b not in pos:
            raise StatsError(f"verdicts has the pair ({a!r}, {b!r}), not a pair of {names}")
        if verdict == NOT_WORTH_IT:
            dom[pos[a], pos[b]] = True
        elif verdict == WORTH_IT and not (cost_sig is True or cost_sig is np.True_):  # None: unknown
            dom[pos[b], pos[a]] = True
    return pd.DataFrame(
        {
            "model": names,
            "on_front": ~dom.any(axis=0),
            "dominated_by": [
                ",".join(names[i] for i in np.flatnonzero(dom[:, j])) for j in range(len(names))
            ],
        },
        columns=FRONT_COLUMNS,
    )
