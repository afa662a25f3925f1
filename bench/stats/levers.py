"""Which lever narrows an undecided pair's interval most per second: more test items, or more seeds.

The interval of B - A's accuracy has half-width q * SE with
    SE^2 = v / n + tau^2 (1/k_a + 1/k_b),
v the variance of the per-item differences (of seed-averaged correctness), n the shared test items,
tau^2 the seed-to-seed variance of one model's accuracy and k_a, k_b the seeds (the form of
`bench.stats.paired.compare_accuracy`; with one seed each the exact McNemar test leaves tau^2 out,
as it compares two checkpoints). q is the t quantile of the look's level with Welch-Satterthwaite
degrees of freedom over the two parts (items: n - 1; seeds: k_a + k_b - 2).

- More items (inference only) shrink v / n and nothing else: no help once tau^2 dominates.
- More seeds (training) shrink the tau^2 part, and bring it in where there was one seed each.
  tau^2 is estimated from the pair's seeds where it has some, else assumed (`tau2_prior`).

Each lever's expected narrowing (current width minus predicted width, at the same level) is divided
by its expected seconds, from measured evaluation and training times. Pure functions; no files.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats as sps

from bench.stats.intervals import StatsError, check_level

ITEMS = "items"
SEEDS = "seeds"
TAU2_PRIOR = 0.01**2  # one point of seed-to-seed sd in accuracy, assumed until seeds measure it


@dataclass(frozen=True)
class PairSpread:
    """What one pair's interval is made of, and what each lever would cost.

    v: variance of the per-item differences; n: shared test items; seeds_a, seeds_b: seeds of each;
    tau2: seed-to-seed variance of accuracy (None: not measured, one seed a side).
    items_left: test items not yet used; block: items the items lever adds (at most items_left).
    item_s_a, item_s_b: seconds to evaluate one test item with every run of A (of B).
    seed_s_a, seed_s_b: seconds to train and evaluate one more seed of A (of B); None: at --max-seeds.
    """

    v: float
    n: int
    seeds_a: int
    seeds_b: int
    tau2: float | None
    items_left: int
    block: int
    item_s_a: float
    item_s_b: float
    seed_s_a: float | None
    seed_s_b: float | None


@dataclass(frozen=True)
class LeverChoice:
    lever: str | None  # ITEMS, SEEDS, or None when neither narrows the interval
    width_now: float
    width_items: float | None  # predicted width after the items lever (None: split used up)
    width_seeds: float | None  # ... after the seeds lever (None: both at --max-seeds)
    seconds_items: float | None
    seconds_seeds: float | None


def _width(v: float, n: int, ka: int, kb: int, tau2: float, level: float) -> float:
    """Two-sided interval width at `level` for SE^2 = v / n + tau2 (1/ka + 1/kb)."""
    items = max(v, 0.0) / n
    seeds = 0.0 if ka == kb == 1 else max(tau2, 0.0) * (1.0 / ka + 1.0 / kb)
    se2 = items + seeds
    if se2 <= 0:
        return 0.0
    if seeds == 0:
        return 2.0 * float(sps.norm.isf(level / 2.0)) * math.sqrt(se2)  # McNemar's normal interval
    den = items**2 / max(n - 1, 1) + seeds**2 / max(ka + kb - 2, 1)
    df = se2**2 / den
    return 2.0 * float(sps.t.isf(level / 2.0, df)) * math.sqrt(se2)


def choose_lever(pair: PairSpread, level: float, tau2_prior: float = TAU2_PRIOR) -> LeverChoice:
    """The lever with the largest expected narrowing per second at the next look's `level`."""
    check_level(level, "level")
    if pair.n < 1 or pair.seeds_a < 1 or pair.seeds_b < 1:
        raise StatsError("a pair needs at least one item and one seed a side")
    tau2 = tau2_prior if pair.tau2 is None else pair.tau2
    ka, kb = pair.seeds_a, pair.seeds_b
    now = _width(pair.v, pair.n, ka, kb, tau2, level)
    add = min(pair.block, pair.items_left)
    w_items = s_items = None
    if add > 0:
        w_items = _width(pair.v, pair.n + add, ka, kb, tau2, level)
        s_items = add * (pair.item_s_a + pair.item_s_b)
    w_seeds = s_seeds = None
    if pair.seed_s_a is not None or pair.seed_s_b is not None:
        ka2, kb2 = ka + (pair.seed_s_a is not None), kb + (pair.seed_s_b is not None)
        w_seeds = _width(pair.v, pair.n, ka2, kb2, tau2, level)
        s_seeds = (pair.seed_s_a or 0.0) + (pair.seed_s_b or 0.0)
    rates = {}
    for lever, width, seconds in ((ITEMS, w_items, s_items), (SEEDS, w_seeds, s_seeds)):
        if width is not None and seconds is not None and width < now:
            rates[lever] = (now - width) / max(seconds, 1e-9)
    best = max(rates, key=lambda k: rates[k]) if rates else None
    return LeverChoice(best, now, w_items, w_seeds, s_items, s_seeds)


@dataclass(frozen=True)
class Needed:
    """What would decide a pair at the observed difference and spread: test items in all (at the
    present seeds) and seeds a side (at the present items); None where that lever cannot."""

    items: int | None
    seeds: int | None


def needed(
    pair: PairSpread,
    diff: float,
    margin: float,
    b_costlier: bool,
    level: float,
    tau2_prior: float = TAU2_PRIOR,
) -> Needed:
    """How many items (or seeds a side) would put the interval, at the observed `diff`, clear of
    0 (worth it, or less accurate) or below `margin` (costlier B: not worth it). Normal quantile."""
    check_level(level, "level")
    distances = [abs(diff)]
    if b_costlier and diff < margin:
        distances.append(margin - diff)
    half = max(distances) / float(sps.norm.isf(level / 2.0))  # the SE that would decide it
    target = half * half
    tau2 = tau2_prior if pair.tau2 is None else pair.tau2
    ka, kb = pair.seeds_a, pair.seeds_b
    seed_part = 0.0 if ka == kb == 1 else tau2 * (1.0 / ka + 1.0 / kb)
    items = None
    if target > seed_part and pair.v > 0:
        items = max(pair.n, math.ceil(pair.v / (target - seed_part)))
    elif pair.v <= 0 and target > seed_part:
        items = pair.n
    seeds = None
    room = target - max(pair.v, 0.0) / pair.n
    if room > 0:
        seeds = max(ka, kb, 2, math.ceil(2.0 * tau2 / room))
    return Needed(items, seeds)
