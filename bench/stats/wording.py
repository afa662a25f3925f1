"""The words of a verdict: one sentence per judged pair, saying what was computed and at what level.

Every sentence names the comparison's scope (the models, or two checkpoints), the interval's level,
what was assumed rather than measured (a seed spread for a model with one seed, a run-to-run noise
for a cost with one run), the verdict and the clause of the rule that gave it, the break-even price
of a point where B costs more, and for an inconclusive pair what the interval rules out and what
would decide it with 80% power.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bench.stats.comparisons import CHECKPOINTS
from bench.stats.cost import COST_ASSUMED
from bench.stats.fieller import BOUNDED
from bench.stats.verdicts import EQUIVALENT, INCONCLUSIVE, NOT_WORTH_IT, WORTH_IT, Judged

_MINUS = "\u2212"
MANY_ITEMS, MANY_SEEDS = 10_000_000, 1_000  # beyond these, "what would decide it" is no real plan


@dataclass(frozen=True)
class Room:
    """What the decide loop knows and a report does not: the test split's size and each model's
    seconds per seed, so that "what would decide it" can say whether it fits and how long it takes."""

    pool: int | None = None  # test items the split has
    seed_s_a: float | None = None
    seed_s_b: float | None = None
    max_seeds: int | None = None


def signed(value: float) -> str:
    return f"{value:+.1f}".replace("-", _MINUS)


def points(value: float) -> str:
    """`1 point`, `0.5 points`."""
    return f"{value:g} point" + ("" if value == 1 else "s")


def ratio_text(x: float) -> str:
    return f"{x:.2f}" if x < 10 else f"{x:.1f}" if x < 100 else f"{x:.0f}"


def percent(level: float) -> str:
    """The confidence of an interval at two-sided error `level`: 95%, 99.2%, 99.98%."""
    x = 100.0 * (1.0 - level)
    digits = 0
    while digits < 6 and (round(x, digits) >= 100.0 or (digits == 0 and x != round(x))):
        digits += 1
    return f"{x:.{digits}f}%"


def amount(x: float, unit: str) -> str:
    """A cost as a reader reads it: $310, 4.1 s, 1,200 MiB, 2.3e+06 FLOPs."""
    text = f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.2g}" if abs(x) < 10 else f"{x:.3g}"
    return f"${text}" if unit == "$" else f"{text} {unit}".strip()


def duration(seconds: float) -> str:
    """`1 h 02 min`, `12 min 30 s` or `45 s`."""
    s = int(round(max(seconds, 0.0)))
    if s >= 3600:
        return f"{s // 3600} h {s % 3600 // 60:02d} min"
    return f"{s // 60} min {s % 60:02d} s" if s >= 60 else f"{s} s"


def _cost_part(j: Judged, noun: str) -> str:
    cc = j.cost
    if j.exact and cc.ratio == 1.0:
        return f"costs the same {noun} as {j.model_a}"
    part = f"costs {ratio_text(cc.ratio)}\u00d7 the {noun} of {j.model_a}"
    if cc.method == COST_ASSUMED:
        part += (
            f" (a single run on a side: judged against a run-to-run noise of {100 * cc.noise:g}%,"
            " assumed, not measured)"
        )
    elif math.isfinite(cc.ci_low) and not j.exact:
        part += f" ({percent(j.level)} CI {ratio_text(cc.ci_low)}\u2013{ratio_text(cc.ci_high)})"
    elif cc.significant is None:
        part += " (no interval from a single replicate)"
    return part


def _assumed(j: Judged) -> str:
    comp = j.accuracy
    if comp.scope == CHECKPOINTS:
        return "; a claim about these two checkpoints, not the models"
    lone = [m for m, one in ((j.model_a, comp.spread.assumed_a), (j.model_b, comp.spread.assumed_b)) if one]
    if not lone:
        return ""
    sides = " and ".join(lone)
    return f"; a seed-to-seed sd of {points(j.seed_noise)} assumed for {sides} (one seed), not measured"


def _break_even(j: Judged, noun: str, unit: str) -> str:
    be = j.break_even
    if be is None or j.accuracy.diff <= 0:
        return ""
    level = f"{100 * be.confidence:g}%"
    if be.kind == BOUNDED and be.low > 0:
        rng = f"{level} CI {amount(be.low, unit)}\u2013{amount(be.high, unit)}"
    else:
        rng = f"unbounded at {level}: the gain may be 0"
    return f"; worth it if a point of accuracy is worth more than {amount(be.ratio, unit)} of {noun} ({rng})"


def _undecided(j: Judged, room: Room) -> str:
    comp = j.accuracy
    tail = (
        f"; it rules out a gain above {signed(100 * comp.ci_high)} and one below "
        f"{signed(100 * comp.ci_low)} points"
    )
    if math.isfinite(comp.mde):
        tail += f"; detectable with 80% power: {100 * comp.mde:.1f} points"
    options = []
    items = j.needed.items
    if items is not None and items > comp.n_items:  # fewer than it has: a matter of chance, not size
        text = f"about {items:,} test items in all"
        if room.pool is not None and items > room.pool:
            text += f" (more than the {room.pool:,} of the test split)"
        options.append(text)
    seeds = j.needed.seeds
    if seeds is not None:
        text = f"about {seeds} seeds a side"
        if room.seed_s_a is not None and room.seed_s_b is not None:
            more = max(seeds - comp.seeds_a, 0) * room.seed_s_a + max(seeds - comp.seeds_b, 0) * room.seed_s_b
            text += f" (about {duration(more)} of training)"
        if room.max_seeds is not None and seeds > room.max_seeds:
            text += f", more than --max-seeds {room.max_seeds}"
        options.append(text)
    if j.needed.together is not None:
        both_items, both_seeds = j.needed.together
        text = f"about {both_seeds} seeds a side on about {both_items:,} test items"
        if room.pool is not None and both_items > room.pool:
            text += f" (more than the {room.pool:,} of the test split)"
        options.append(text)
    sizes = [items or 0, seeds or 0, *(j.needed.together or (0, 0))]
    if max(sizes[0], sizes[2]) > MANY_ITEMS or max(sizes[1], sizes[3]) > MANY_SEEDS:
        # The observed gain lies almost on a bound the verdict reads: the projection is meaningless.
        tail += "; no feasible amount of data would decide it at the gain observed"
    elif options:
        tail += f"; {' or '.join(options)} would decide it with 80% power at the spread observed"
    elif not (j.costlier or j.cost_equal):
        tail += "; the costs are not shown apart or equal: cost repeats would tell"
    else:
        tail += "; no observed difference that more data would confirm"
    return tail


def sentence(j: Judged, noun: str, unit: str = "", room: Room | None = None) -> str:
    """One pair's sentence: `noun` names the cost axis ("training time"), `unit` its unit."""
    comp = j.accuracy
    gain = 100 * comp.diff
    acc = (
        "is as accurate"
        if gain == 0
        else f"is {abs(gain):.1f} points {'more' if gain > 0 else 'less'} accurate"
    )
    bounds = f"{signed(100 * comp.ci_low)} to {signed(100 * comp.ci_high)}"
    acc += f" ({bounds}, {percent(j.level)} interval{_assumed(j)})"
    margin = f"{j.margin:g}-point margin"
    if j.verdict == WORTH_IT:
        why = (
            f"its gain is above the {margin}"
            if j.reason == "above the margin"
            else f"more accurate at a cost within {100 * j.cost_margin:g}% of {j.model_a}'s"
        )
    elif j.verdict == NOT_WORTH_IT:
        why = (
            "it is less accurate"
            if j.reason == "less accurate"
            else f"costlier for a gain below the {margin}"
        )
    elif j.verdict == EQUIVALENT:
        costs = f"{100 * j.cost_margin:g}%"
        why = f"the gain is within \u00b1{j.margin:g} points and the costs within {costs}: either will do"
    else:
        why = ""
    tail = f"{j.verdict}: {why}" if why else j.verdict
    if j.verdict == INCONCLUSIVE:
        tail += _undecided(j, room or Room())
    return f"{j.model_b} {_cost_part(j, noun)} and {acc}: {tail}{_break_even(j, noun, unit)}."
