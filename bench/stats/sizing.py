"""What would decide an inconclusive pair: how many test items in all, or seeds a side, would give a
verdict with 80% power if the observed gain and spread were the truth.

A projection, not a promise. The pair's standard error is the sizing contract of its comparison
(bench.stats.comparisons.Spread): SE^2 = v / n + tau_a^2 / k_a + tau_b^2 / k_b. A verdict comes
with probability `power` once SE <= |distance| / (z_{1 - level/2} + z_power), the distance from
the observed gain to the nearest bound the rule reads (0 or +-margin) on the side a verdict lies.
More items shrink only v / n; more seeds only the seed parts (the seeds lever is sized with each
side's tau^2, measured or assumed).

Pure functions; nothing reads or writes files.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats as sps

from bench.stats.comparisons import Spread

POWER = 0.8


@dataclass(frozen=True)
class Needed:
    """Test items in all (at the present seeds) and seeds a side (at the present items) that would
    decide the pair with 80% power; None where that lever alone cannot."""

    items: int | None = None
    seeds: int | None = None
    together: tuple[int, int] | None = None  # (items, seeds a side) where neither lever alone can


def distances(diff: float, costlier: bool, cost_equal: bool, margin: float) -> list[float]:
    """How far the gain must be from each bound that could decide the pair, on the side a verdict
    lies (positive where that verdict is within reach at the observed gain)."""
    found = [diff - margin, -diff]  # worth it above the margin; not worth it, less accurate
    if cost_equal:
        found += [diff, margin - abs(diff)]  # worth it at an equal cost; equivalent
    if costlier:
        found.append(margin - diff)  # not worth it: costlier, below the margin
    return [d for d in found if d > 0]


def target_se(
    diff: float, costlier: bool, cost_equal: bool, margin: float, level: float, power: float
) -> float:
    """The standard error at which the easiest verdict in reach comes with probability `power`; 0
    where none is in reach."""
    reach = distances(diff, costlier, cost_equal, margin)
    if not reach:
        return 0.0
    return max(reach) / (float(sps.norm.isf(level / 2.0)) + float(sps.norm.ppf(power)))


def needed(
    spread: Spread,
    diff: float,
    costlier: bool,
    cost_equal: bool,
    margin: float,
    level: float,
    power: float = POWER,
) -> Needed:
    """Items in all and seeds a side that would decide the pair (`margin` a fraction, `level` the
    interval's two-sided error), each with the other lever held where it is."""
    target = target_se(diff, costlier, cost_equal, margin, level, power) ** 2
    if not target > 0:
        return Needed()
    seed_part = spread.tau2_a / spread.seeds_a + spread.tau2_b / spread.seeds_b
    items = None
    if target > seed_part:
        items = max(spread.n, math.ceil(max(spread.v, 0.0) / (target - seed_part)))
    seeds = None
    room = target - max(spread.v, 0.0) / spread.n
    tau2 = spread.tau2_a + spread.tau2_b
    if room > 0 and tau2 > 0:
        seeds = max(spread.seeds_a, spread.seeds_b, math.ceil(tau2 / room))
    together = None
    if items is None and seeds is None and tau2 > 0:  # half the variance each
        both_items = max(spread.n, math.ceil(2.0 * max(spread.v, 0.0) / target))
        both_seeds = max(spread.seeds_a, spread.seeds_b, math.ceil(2.0 * tau2 / target))
        together = (both_items, both_seeds)
    return Needed(items, seeds, together)
