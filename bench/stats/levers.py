"""Which lever an undecided pair pulls next: more test items, more seeds (of A, of B, or of each), or
cost repeats.

The accuracy interval's half-width is t_{1-level/2, df} * SE with the comparison's sizing contract
(Spread)

    SE^2 = v / n + tau_a^2 / k_a + tau_b^2 / k_b,

and every lever is priced by the half-width it leaves, at the look's level: the seed parts are in
all of them, measured where a model has seeds and assumed (--seed-noise) where it has one, and df is
the models' t test's cap (k - 1 of a side whose seeds differ). More items shrink only v / n, so once
the seed parts dominate, items cannot narrow the interval of two models and seeds can; but a second
seed trades an assumed spread for a measured one on 1 degree of freedom, a far wider interval, so
seeds are priced as runs of them: j more of A, of B or of each, for every j the seeds left and the
budget left allow, and bought together (no look is spent on an interval of 1 degree of freedom).
Each option's narrowing is divided by its expected seconds, from measured evaluation and training
times; the best rate wins.

Cost repeats come first where the accuracy interval already leaves the verdict to the costs (see
bench.stats.verdicts.cost_decides): timed repeats in fresh processes are what can show B costlier,
or the costs equal.

Pure functions; nothing reads or writes files.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats as sps

from bench.stats.comparisons import Spread

ITEMS = "items"
SEEDS = "seeds"
REPEATS = "cost repeats"
# A look spends its share of alpha whatever it bought, and what is not spent goes to the last look:
# a lever that narrows the interval by less than this is not worth a look of its own.
MIN_NARROWING = 0.05
SEED_RUN = 16  # the most seeds a side one choice looks ahead to (t is near normal by 16 df)


@dataclass(frozen=True)
class PairOptions:
    """What one undecided pair could buy, and at what price in seconds.

    items_left: test items of the split not yet used by both; block: items the items lever adds.
    item_s_a, item_s_b: seconds to evaluate one test item with every run of A (of B).
    seed_s_a, seed_s_b: seconds to train and evaluate one more seed (None: at --max-seeds).
    repeat_s_a, repeat_s_b: seconds of one cost repeat of each (None: no more repeats, or an exact cost).
    cost_decides: the accuracy interval leaves the verdict to the costs.
    level: the look's two-sided level for the pair; seeds_left_a, seeds_left_b: seeds each model may
    still train (--max-seeds); budget_s: seconds left to spend.
    """

    spread: Spread
    items_left: int
    block: int
    item_s_a: float
    item_s_b: float
    seed_s_a: float | None
    seed_s_b: float | None
    repeat_s_a: float | None = None
    repeat_s_b: float | None = None
    cost_decides: bool = False
    level: float = 0.05
    seeds_left_a: int = 1
    seeds_left_b: int = 1
    budget_s: float = math.inf

    def half_width(
        self, n: int | None = None, seeds_a: int | None = None, seeds_b: int | None = None
    ) -> float:
        """The interval's half-width at other sizes, the spreads taken as they are (a projection)."""
        s = self.spread
        df = s.df(seeds_a, seeds_b)
        q = float(sps.norm.isf(self.level / 2.0) if math.isinf(df) else sps.t.isf(self.level / 2.0, df))
        return q * s.se(n, seeds_a, seeds_b)


@dataclass(frozen=True)
class LeverChoice:
    lever: str | None  # ITEMS, SEEDS, REPEATS, or None when nothing helps
    seeds_a: int = 0  # seeds of A the choice trains (SEEDS)
    seeds_b: int = 0
    items: int = 0  # test items in all (ITEMS)
    width_now: float = 0.0  # the interval's half-width now and after the choice
    width_after: float = 0.0
    seconds: float = 0.0


def choose_lever(options: PairOptions) -> LeverChoice:
    """The lever with the largest expected narrowing of the interval per second."""
    s, o = options.spread, options
    now = o.half_width()
    repeats_fit = (
        o.repeat_s_a is not None and o.repeat_s_b is not None and o.repeat_s_a + o.repeat_s_b <= o.budget_s
    )
    if o.cost_decides and repeats_fit:
        seconds = (o.repeat_s_a or 0.0) + (o.repeat_s_b or 0.0)
        return LeverChoice(REPEATS, width_now=now, width_after=now, seconds=seconds)
    candidates: list[LeverChoice] = []
    per_item = o.item_s_a + o.item_s_b
    affordable = int(o.budget_s / per_item) if per_item > 0 and math.isfinite(o.budget_s) else o.items_left
    add = min(o.block, o.items_left, affordable)  # items for one side only would be no comparison
    if add > 0:
        seconds = add * per_item
        after = o.half_width(n=s.n + add)
        candidates.append(
            LeverChoice(ITEMS, items=s.n + add, width_now=now, width_after=after, seconds=seconds)
        )
    for step_a, step_b in ((1, 0), (0, 1), (1, 1)):
        if (step_a and o.seed_s_a is None) or (step_b and o.seed_s_b is None):
            continue
        price = step_a * (o.seed_s_a or 0.0) + step_b * (o.seed_s_b or 0.0)
        j = 1
        while (
            j <= SEED_RUN
            and j * step_a <= o.seeds_left_a
            and j * step_b <= o.seeds_left_b
            and j * price <= o.budget_s
        ):
            more_a, more_b = j * step_a, j * step_b
            after = o.half_width(seeds_a=s.seeds_a + more_a, seeds_b=s.seeds_b + more_b)
            candidates.append(LeverChoice(SEEDS, more_a, more_b, 0, now, after, j * price))
            j += 1
    useful = [c for c in candidates if c.width_after < (1.0 - MIN_NARROWING) * now]
    if not useful:
        return LeverChoice(None, width_now=now, width_after=now)
    return max(useful, key=lambda c: (now - c.width_after) / max(c.seconds, 1e-9))
