"""What a round of `--until-decided` buys: each undecided pair's lever (bench.stats.levers), turned into
actions on models (test items for its runs, one more seed, cost repeats) and kept to those that fit the
budget left, priced by measured seconds. Pure functions of the evidence; the backend carries them out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bench.decide.evidence import ModelRuns
from bench.decide.looks import pair_key
from bench.stats.levers import ITEMS, REPEATS, SEEDS, LeverChoice, PairOptions, choose_lever
from bench.stats.verdicts import Judged, cost_decides

REPEATS_A_ROUND = 2  # cost repeats a model gets in one round: two give a spread where there was none


@dataclass(frozen=True)
class Action:
    lever: str  # ITEMS, SEEDS or REPEATS
    model: str
    seconds: float  # expected
    n_items: int = 0  # ITEMS: the model's runs are evaluated up to this many test items
    count: int = 1  # SEEDS, REPEATS: how many


@dataclass(frozen=True)
class Limits:
    max_seeds: int
    max_repeats: int
    load_s: float  # seconds to load one run's kept weights before it evaluates more items


def options(
    j: Judged,
    models: Mapping[str, ModelRuns],
    pools: Mapping[str, int],
    limits: Limits,
    budget_left: float = math.inf,
    level: float | None = None,
) -> PairOptions:
    """What pair `j` could buy, with each option's price, its widths projected at `level` (default:
    the level it was judged at)."""
    a, b = models[j.model_a], models[j.model_b]
    spread = j.accuracy.spread
    left = min(pools[a.model], pools[b.model]) - spread.n

    def seed_s(m: ModelRuns) -> float | None:
        return m.run_s if len(m.run_ids) < limits.max_seeds else None

    def repeat_s(m: ModelRuns) -> float | None:
        return REPEATS_A_ROUND * m.repeat_s if m.repeats + REPEATS_A_ROUND <= limits.max_repeats else None

    lo, hi = j.accuracy.ci_low, j.accuracy.ci_high
    return PairOptions(
        spread=spread,
        items_left=max(left, 0),
        block=spread.n,
        item_s_a=len(a.run_ids) * a.item_s,
        item_s_b=len(b.run_ids) * b.item_s,
        seed_s_a=seed_s(a),
        seed_s_b=seed_s(b),
        repeat_s_a=None if j.exact else repeat_s(a),
        repeat_s_b=None if j.exact else repeat_s(b),
        cost_decides=cost_decides(lo, hi, j.margin / 100.0, j.costlier, j.cost_equal),
        level=j.level if level is None else level,
        seeds_left_a=max(limits.max_seeds - len(a.run_ids), 0),
        seeds_left_b=max(limits.max_seeds - len(b.run_ids), 0),
        budget_s=budget_left - (len(a.run_ids) + len(b.run_ids)) * limits.load_s,
    )


def round_of(
    undecided: Sequence[Judged],
    models: Mapping[str, ModelRuns],
    pools: Mapping[str, int],
    limits: Limits,
    budget_left: float,
    level: float | None = None,
) -> tuple[list[Action], dict[tuple[str, str], str]]:
    """Each undecided pair's lever as actions on its models, merged across pairs (the most items and
    the most seeds any pair wants, one round of repeats); a pair's actions are taken whole or not at
    all (items or repeats for one side of a pair compare nothing), the cheapest pairs first while the
    merged round fits `budget_left`; and the lever each pair got. `level`: the pair level the levers'
    widths are projected at (the alpha the plan has left, a share a pair: where a decision is made)."""
    wants: list[tuple[float, tuple[str, str], Judged, str, LeverChoice]] = []
    for j in undecided:
        choice = choose_lever(options(j, models, pools, limits, budget_left, level))
        if choice.lever is not None:
            wants.append((choice.seconds, pair_key(j.model_a, j.model_b), j, choice.lever, choice))
    items: dict[str, int] = {}
    seeds: dict[str, int] = {}
    repeats: set[str] = set()
    levers: dict[tuple[str, str], str] = {}
    for _, key, j, lever, choice in sorted(wants, key=lambda w: (w[0], w[1])):
        more_items, more_seeds, more_repeats = dict(items), dict(seeds), set(repeats)
        if lever == ITEMS:
            for m in (j.model_a, j.model_b):
                more_items[m] = max(more_items.get(m, 0), min(choice.items, pools[m]))
        elif lever == SEEDS:
            for m, more in ((j.model_a, choice.seeds_a), (j.model_b, choice.seeds_b)):
                if more:
                    more_seeds[m] = max(more_seeds.get(m, 0), more)
        else:
            more_repeats.update((j.model_a, j.model_b))
        merged = _actions(more_items, more_seeds, more_repeats, models, limits)
        if sum(a.seconds for a in merged) <= budget_left:
            items, seeds, repeats = more_items, more_seeds, more_repeats
            levers[key] = lever
    kept = _actions(items, seeds, repeats, models, limits)
    return sorted(kept, key=lambda a: (a.seconds, a.model, a.lever)), levers


def _actions(
    items: Mapping[str, int],
    seeds: Mapping[str, int],
    repeats: set[str],
    models: Mapping[str, ModelRuns],
    limits: Limits,
) -> list[Action]:
    """The actions of a round, priced: items (with loading each run's kept weights), seeds, repeats."""
    return [
        *(
            Action(ITEMS, m, (n - models[m].n_items) * len(models[m].run_ids) * models[m].item_s
                   + len(models[m].run_ids) * limits.load_s, n_items=n)
            for m, n in items.items() if n > models[m].n_items
        ),
        *(Action(SEEDS, m, count * models[m].run_s, count=count) for m, count in seeds.items()),
        *(Action(REPEATS, m, REPEATS_A_ROUND * models[m].repeat_s, count=REPEATS_A_ROUND)
          for m in sorted(repeats)),
    ]  # fmt: skip
