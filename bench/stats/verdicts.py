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

from bench.stats.cost import COST_ASSUMED, CostComparison, Replicates, as_replicates, compare_cost
from bench.stats.intervals import StatsError
from bench.stats.paired import AccuracyComparison, holm
from bench.stats.sizing import MoreNeeded, more_needed

__all__ = [
    "DEFAULT_MARGIN",
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
DEFAULT_MARGIN = 1.0  # points of accuracy: the smallest gain worth a higher cost

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
    "margin",
    "gain_upper_adjusted",
    "p_not_superior_adjusted",
    "acc_method",
    "cost_method",
    "cost_noise",
    "items_to_decide",
    "seeds_to_decide",
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
        if not (math.isfinite(comp.diff) and (comp.refused or 0.0 <= comp.p_value <= 1.0)):
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


def _cost_part(a: str, cost: str, cc: CostComparison, exact: bool) -> str:
    if exact and cc.ratio == 1.0:
        return f"costs the same {cost} as {a}"
    part = f"costs {_ratio(cc.ratio)}\u00d7 the {cost} of {a}"
    if cc.method == COST_ASSUMED:
        part += (
            f" (a single run on a side: judged against a run-to-run noise of {100 * cc.noise:g}%,"
            " assumed, not measured)"
        )
    elif math.isfinite(cc.ci_low):
        level = f"{100 * cc.confidence:g}%"
        part += f" ({level} CI {_ratio(cc.ci_low)}\u2013{_ratio(cc.ci_high)})"
    elif cc.significant is None:
        part += " (no interval from a single replicate)"
    return part


def _sentence(
    a: str,
    b: str,
    cost_part: str,
    comp: AccuracyComparison,
    p_adj: float,
    verdict: str,
    margin: float,
    upper_adj: float,
    more: MoreNeeded,
    reason: str,
) -> str:
    points = 100 * comp.diff
    if points == 0:
        acc_part = "is as accurate"
    else:
        acc_part = f"is {abs(points):.1f} points {'more' if points > 0 else 'less'} accurate"
    if comp.refused:
        return f"{b} {cost_part} and {acc_part}: {INCONCLUSIVE}; no test: {comp.refused}."
    acc_part += f" ({_signed(100 * comp.ci_low)} to {_signed(100 * comp.ci_high)}; adjusted p {_p(p_adj)})"
    bound = f"its gain is at most {_signed(100 * upper_adj)} points (one-sided, Holm-adjusted)"
    tail = verdict
    if reason == "not superior":
        tail += f": {bound}, below the {margin:g}-point margin"
    elif verdict == INCONCLUSIVE:
        if comp.seeds_a == comp.seeds_b == 1:
            seeds = ""
        else:
            seeds = f" and {comp.seeds_a} seeds of {a}, {comp.seeds_b} of {b}"
        tail += f"; {bound}, not below the {margin:g}-point margin"
        if math.isfinite(comp.mde):
            tail += (
                f"; a difference under {100 * comp.mde:.1f} points could not have been detected"
                f" with {comp.n_items} test items{seeds}"
            )
        levers = []
        if more.items is not None:
            levers.append(f"about {more.items} test items in all")
        if more.seeds is not None:
            levers.append(f"{more.seeds} seeds a side")
        if levers:
            tail += f"; {' or '.join(levers)} would decide it at the spread observed"
        else:
            tail += "; no observed difference that more data would confirm"
    return f"{b} {cost_part} and {acc_part}: {tail}."


def pair_verdicts(
    models: Sequence[str],
    costs: Mapping[str, Replicates | npt.ArrayLike],
    comparisons: Mapping[tuple[str, str], AccuracyComparison],
    *,
    cost: str = "training time",
    exact: bool = False,
    alpha: float = 0.05,
    margin: float = DEFAULT_MARGIN,
    noise: float | None = None,
) -> pd.DataFrame:
    """For every pair of `models`: is the costlier one worth its cost?

    `costs[m]` holds model m's cost replicates on one axis, named `cost` in the sentences (per-seed
    training times, repeated timed runs...; `exact=True` for parameter counts or FLOPs, see
    `compare_cost`; `noise`, the run-to-run relative sd assumed for a side with a single run).
    `comparisons[(x, y)]` is `compare_accuracy` of x (as A) against y (as B), each unordered pair
    exactly once, in either order. `margin` (points of accuracy) is the smallest gain worth the cost.

    Each pair is ordered cheaper (model_a) then costlier (model_b) by mean cost, ties in `models`
    order, and judged at level `alpha` (the cost interval is 1 - alpha):
      worth it      B is significantly more accurate: p_adjusted < alpha (Holm across all pairs),
                    diff > 0;
      not worth it  B is significantly less accurate; or B is costlier (significantly, or exactly)
                    and its gain is shown below the margin: the non-superiority test of
                    H0: diff >= margin, Holm-adjusted across all pairs, rejects at alpha. Its
                    Holm-adjusted one-sided upper bound (gain_upper_adjusted, the bound at level
                    alpha * p / p_adjusted) is then below the margin, and only then;
      inconclusive  otherwise; the sentence gives the gain's bounds and how many more test items
                    or seeds would decide it (bench.stats.sizing), at the spread observed.
    A comparison that was refused (one seed against several) is inconclusive and says why.

    Returns VERDICT_COLUMNS, one row per pair, pairs in `models` order; acc_diff, its interval, mde
    and gain_upper_adjusted are fractions (0.012 is 1.2 points), margin is in points, the sentence
    speaks in points; cost_significant is True, False or None (unknown), as in `CostComparison`.
    """
    names = [str(m) for m in models]
    if len(set(names)) != len(names):
        raise StatsError(f"models has duplicates: {names}")
    if not (math.isfinite(margin) and margin >= 0):
        raise StatsError(f"the margin is a gain in points, zero or more, not {margin}")
    absent = [m for m in names if m not in costs]
    if absent:
        raise StatsError(f"costs lacks the models {absent}")
    pairs = _pairs(names, comparisons)
    keys = list(combinations(names, 2))
    means = {m: as_replicates(costs[m], m).mean for m in names}
    ordered = []
    for first, second in keys:
        comp = pairs[(first, second)]
        a, b = (second, first) if means[second] < means[first] else (first, second)
        ordered.append((a, b, comp.swapped() if a != first else comp))
    adjusted = holm([c.p_value for _, _, c in ordered]) if keys else np.array([])
    p_ns = [c.p_not_superior(margin / 100.0) for _, _, c in ordered]
    ns_adjusted = holm(p_ns) if keys else np.array([])

    rows = []
    for (a, b, comp), p_adj, p_raw_ns, ns_adj in zip(ordered, adjusted, p_ns, ns_adjusted):
        cc = compare_cost(costs[a], costs[b], exact=exact, confidence=1.0 - alpha, noise=noise)
        p_adj, ns_adj = float(p_adj), float(ns_adj)
        costlier = cc.significant is True and cc.ratio > 1.0
        # The level at which B's upper bound is read: below the margin exactly when ns_adj < alpha.
        level = alpha * p_raw_ns / ns_adj if ns_adj > 0 else alpha
        upper_adj = comp.upper(level) if math.isfinite(ns_adj) else math.nan
        reason = ""
        if p_adj < alpha and comp.diff > 0:
            verdict = WORTH_IT
        elif p_adj < alpha and comp.diff < 0:
            verdict, reason = NOT_WORTH_IT, "less accurate"
        elif costlier and ns_adj < alpha:
            verdict, reason = NOT_WORTH_IT, "not superior"
        else:
            verdict = INCONCLUSIVE
        more = more_needed(comp, margin / 100.0, costlier, alpha, len(keys))
        if verdict != INCONCLUSIVE:
            more = MoreNeeded(None, None)
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
                "margin": margin,
                "gain_upper_adjusted": upper_adj,
                "p_not_superior_adjusted": ns_adj,
                "acc_method": comp.method,
                "cost_method": cc.method,
                "cost_noise": cc.noise,
                "items_to_decide": more.items,
                "seeds_to_decide": more.seeds,
                "verdict": verdict,
                "sentence": _sentence(
                    a,
                    b,
                    _cost_part(a, cost, cc, exact),
                    comp,
                    p_adj,
                    verdict,
                    margin,
                    upper_adj,
                    more,
                    reason,
                ),
            }
        )
    # object dtype, so cost_significant holds True, False or None whatever the mix of rows.
    return pd.DataFrame(rows, columns=VERDICT_COLUMNS).astype({"cost_significant": object})


def verdict_front(models: Sequence[str], verdicts: pd.DataFrame) -> pd.DataFrame:
    """The models worth their cost: those that no other model dominates, from `pair_verdicts`.

    The same rule as the verdicts. In a pair (A cheaper, B costlier), A dominates B when B is "not
    worth it": B is significantly less accurate, or costlier with its gain shown below the margin.
    B dominates A when B is significantly more accurate without costing significantly more (for
    exact costs: at the same cost). Otherwise both stay: a real trade-off, or a difference the data
    cannot resolve.

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
