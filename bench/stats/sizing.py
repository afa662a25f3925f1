"""What would decide an inconclusive pair: how many more test items, or seeds a side, at the spread
observed, would make its interval narrow enough for a verdict.

A projection, not a promise: it takes the observed gain and spread as the truth. Pure functions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats as sps

from bench.stats.paired import AccuracyComparison


@dataclass(frozen=True)
class MoreNeeded:
    """Test items in all (not more) and seeds a side that would decide; None where that lever alone
    cannot (or, for seeds, does not apply: one seed each compares two checkpoints)."""

    items: int | None
    seeds: int | None


def more_needed(
    comp: AccuracyComparison, margin: float, costlier: bool, alpha: float, pairs: int
) -> MoreNeeded:
    """The pair is decided once its standard error falls to SE*: the observed gain |diff| over the
    two-sided z at alpha / pairs (Bonferroni, at least as strict as Holm), or, when B is costlier,
    the distance margin - diff over the one-sided z at alpha / pairs (non-superiority), whichever is
    larger. SE^2 = items part (shrinks as 1/N) + seeds part (as 1/k a side)."""
    m = max(pairs, 1)
    routes = [abs(comp.diff) / float(sps.norm.ppf(1.0 - alpha / (2.0 * m)))]
    if costlier and comp.diff < margin:
        routes.append((margin - comp.diff) / float(sps.norm.ppf(1.0 - alpha / m)))
    target = max(routes)
    if comp.refused or not target > 0:
        return MoreNeeded(None, None)
    n = comp.n_items
    if comp.b is not None and comp.c is not None:  # one seed each: items only
        per_item = (comp.b + comp.c + 1.0) / (n + 2.0) - comp.diff**2  # variance of one item's d
        return MoreNeeded(max(n, math.ceil(per_item / target**2)), None)
    seeds_part = comp.se_seeds**2
    items_part = max(comp.se**2 - seeds_part, 0.0)
    items = None
    if target**2 > seeds_part:
        items = max(n, math.ceil(items_part * n / (target**2 - seeds_part)))
    seeds = None
    if target**2 > items_part:
        k_now = 1.0 / (1.0 / comp.seeds_a + 1.0 / comp.seeds_b) * 2.0  # harmonic: seeds a side
        tau2 = seeds_part * k_now / 2.0
        seeds = max(min(comp.seeds_a, comp.seeds_b), math.ceil(2.0 * tau2 / (target**2 - items_part)))
    return MoreNeeded(items, seeds)
