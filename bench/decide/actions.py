"""What a round of `--until-decided` buys: each undecided pair's lever (bench.stats.levers), turned into
actions on models (test items for its runs, one more seed, cost repeats) and kept to those that fit the
budget left, priced by measured seconds. Pure functions of the evidence; the backend carries them out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bench.decide.evidence import ModelRuns
from bench.decide.looks import pair_key
from bench.stats.levers import ITEMS, REPEATS, SEEDS, PairOptions, choose_lever
from bench.stats.verdicts import Judged, cost_decides

REPEATS_A_ROUND = 2  # cost repeats a model gets in one round: two give a spread where there was none


@dataclass(frozen=True)
class Action:
    lever: str  # ITEMS, SEEDS or REPEATS
    model: str
    seconds: float  # expected
    n_items: int = 0  # ITEMS: the model's runs are evaluated up to this many test items
    count: int = 1  # REPEATS: how many


@dataclass(frozen=True)
class Limits:
    max_seeds: int
    max_repeats: int
    load_s: float  # seconds to load one run's kept weights before it evaluates more items


def options(
    j: Judged, models: Mapping[str, ModelRuns], pools: Mapping[str, int], limits: Limits
) -> PairOptions:
    """What pair `j` could buy, with each option's price."""
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
    )


def round_of(
    undecided: Sequence[Judged],
    models: Mapping[str, ModelRuns],
    pools: Mapping[str, int],
    limits: Limits,
    budget_left: float,
) -> tuple[list[Action], dict[tuple[str, str], str]]:
    """Each undecided pair's lever as actions on its models, merged across pairs (the most items any
    pair wants, one seed, one round of repeats), cheapest first while they fit `budget_left`; and the
    lever each pair got."""
    items: dict[str, int] = {}
    seeds: set[str] = set()
    repeats: set[str] = set()
    chosen: dict[tuple[str, str], tuple[str, set[str]]] = {}
    for j in undecided:
        choice = choose_lever(options(j, models, pools, limits))
        if choice.lever is None:
            continue
        touched = set()
        if choice.lever == ITEMS:
            for m in (j.model_a, j.model_b):
                items[m] = max(items.get(m, 0), min(choice.items, pools[m]))
                touched.add(m)
        elif choice.lever == SEEDS:
            for m, more in ((j.model_a, choice.seeds_a), (j.model_b, choice.seeds_b)):
                if more:
                    seeds.add(m)
                    touched.add(m)
        else:
            repeats.update((j.model_a, j.model_b))
            touched.update((j.model_a, j.model_b))
        chosen[pair_key(j.model_a, j.model_b)] = (choice.lever, touched)
    wanted = [
        *(
            Action(ITEMS, m, (n - models[m].n_items) * len(models[m].run_ids) * models[m].item_s
                   + len(models[m].run_ids) * limits.load_s, n_items=n)
            for m, n in items.items() if n > models[m].n_items
        ),
        *(Action(SEEDS, m, models[m].run_s) for m in seeds),
        *(Action(REPEATS, m, REPEATS_A_ROUND * models[m].repeat_s, count=REPEATS_A_ROUND) for m in repeats),
    ]  # fmt: skip
    kept, left = [], budget_left
    for action in sorted(wanted, key=lambda a: (a.seconds, a.model, a.lever)):
        if action.seconds <= left:
            kept.append(action)
            left -= action.seconds
    done = {(a.lever, a.model) for a in kept}
    levers = {
        key: lever for key, (lever, touched) in chosen.items() if any((lever, m) in done for m in touched)
    }
    return kept, levers
