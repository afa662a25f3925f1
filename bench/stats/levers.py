"""Which lever an undecided pair pulls next: more test items, another seed (of A, of B, or of each), or
cost repeats.

The accuracy interval's half-width is q * SE with the comparison's sizing contract (Spread)

    SE^2 = v / n + tau_a^2 / k_a + tau_b^2 / k_b,

and both levers are priced with the same SE and the same q: the seed parts are in both, measured
where a model has seeds and assumed (--seed-noise) where it has one. More items shrink only v / n,
so once the seed parts dominate, items cannot narrow the interval of two models and seeds can. Each
option's expected narrowing is divided by its expected seconds, from measured evaluation and
training times; the best rate wins.

Cost repeats come first where the accuracy interval already leaves the verdict to the costs (see
bench.stats.verdicts.cost_decides): timed repeats in fresh processes are what can show B costlier,
or the costs equal.

Pure functions; nothing reads or writes files.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.stats.comparisons import Spread

ITEMS = "items"
SEEDS = "seeds"
REPEATS = "cost repeats"


@dataclass(frozen=True)
class PairOptions:
    """What one undecided pair could buy, and at what price in seconds.

    items_left: test items of the split not yet used by both; block: items the items lever adds.
    item_s_a, item_s_b: seconds to evaluate one test item with every run of A (of B).
    seed_s_a, seed_s_b: seconds to train and evaluate one more seed (None: at --max-seeds).
    repeat_s_a, repeat_s_b: seconds of one cost repeat of each (None: no more repeats, or an exact cost).
    cost_decides: the accuracy interval leaves the verdict to the costs.
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


@dataclass(frozen=True)
class LeverChoice:
    lever: str | None  # ITEMS, SEEDS, REPEATS, or None when nothing helps
    seeds_a: int = 0  # seeds of A the choice trains (SEEDS)
    seeds_b: int = 0
    items: int = 0  # test items in all (ITEMS)
    se_now: float = 0.0
    se_after: float = 0.0
    seconds: float = 0.0


def choose_lever(options: PairOptions) -> LeverChoice:
    """The lever with the largest expected narrowing of the standard error per second."""
    s = options.spread
    now = s.se()
    if options.cost_decides and options.repeat_s_a is not None and options.repeat_s_b is not None:
        return LeverChoice(REPEATS, se_now=now, se_after=now, seconds=options.repeat_s_a + options.repeat_s_b)
    candidates: list[LeverChoice] = []
    add = min(options.block, options.items_left)
    if add > 0:
        seconds = add * (options.item_s_a + options.item_s_b)
        candidates.append(
            LeverChoice(ITEMS, items=s.n + add, se_now=now, se_after=s.se(n=s.n + add), seconds=seconds)
        )
    for more_a, more_b in ((1, 0), (0, 1), (1, 1)):
        price_a = options.seed_s_a if more_a else 0.0
        price_b = options.seed_s_b if more_b else 0.0
        if price_a is None or price_b is None:
            continue
        after = s.se(seeds_a=s.seeds_a + more_a, seeds_b=s.seeds_b + more_b)
        candidates.append(LeverChoice(SEEDS, more_a, more_b, 0, now, after, price_a + price_b))
    useful = [c for c in candidates if c.se_after < now]
    if not useful:
        return LeverChoice(None, se_now=now, se_after=now)
    return max(useful, key=lambda c: (now - c.se_after) / max(c.seconds, 1e-9))
