"""`--until-decided`: after a suite's runs, look at every pair, buy what the undecided ones need (test
items, seeds, cost repeats), and look again, until each pair is decided or the budget is spent.

Each look judges the pairs still undecided at its share of alpha, spent along the budget
(bench.stats.sequential); between looks each undecided pair takes the lever expected to narrow its
interval most per second (bench.decide.actions). When the budget, the split or --max-seeds leaves
nothing to buy, a last look spends the alpha that is left. What trains, evaluates and records is a
`Backend`: a results folder (bench.decide.local, bench.decide.queued) or the known-truth simulation
(bench.decide.simulated); this module only decides what to ask of it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import pandas as pd

from bench.decide.actions import Action, Limits, round_of
from bench.decide.evidence import ModelRuns
from bench.decide.looks import decided_pairs, judge_look, look_rows, model_pairs, pair_key, room_of
from bench.decide.plan import DecideSettings, Plan
from bench.errors import BenchError
from bench.stats.levers import ITEMS, REPEATS, SEEDS
from bench.stats.verdicts import INCONCLUSIVE, Judged
from bench.stats.wording import duration, sentence

LOAD_S = 3.0  # assumed seconds to load one run's kept weights, until an extension has measured it


class Backend(Protocol):
    """What trains, evaluates and records for the loop; the loop reads its evidence back."""

    def state(self) -> dict[str, ModelRuns]:
        """Every model's evidence now."""
        ...

    def history(self) -> pd.DataFrame:
        """decisions.csv's rows so far (an earlier start's included)."""
        ...

    def record(self, rows: Sequence[Mapping[str, object]]) -> None:
        """Append a look's rows to decisions.csv."""
        ...

    def pool(self, model: str) -> int:
        """Test items the model's split has."""
        ...

    def seconds(self) -> float:
        """Seconds of training and evaluation this backend has spent so far (the budget's clock)."""
        ...

    def carry_out(self, actions: Sequence[Action], models: Mapping[str, ModelRuns]) -> None:
        """Train the seeds (all at once: workers of a queue take them side by side), evaluate the
        runs on more items, time the cost repeats."""
        ...


@dataclass
class Decided:
    looks: int
    decided: dict[tuple[str, str], str]
    undecided: list[str]  # one sentence per pair still inconclusive
    spent_s: float


class Decider:
    """The loop over looks for one folder's (or simulation's) models."""

    def __init__(self, backend: Backend, plan: Plan, settings: DecideSettings, say: Callable[[str], None]):
        self.backend, self.plan, self.settings, self.say = backend, plan, settings, say
        self.limits = Limits(settings.max_seeds, settings.max_repeats, LOAD_S)
        history = self.history = backend.history()
        self.look = int(history["look"].max()) if len(history) else 0
        self.fraction = float(history["fraction"].max()) if len(history) else 0.0
        self.decided = decided_pairs(history)
        self.before_s = self._spent_before(history)

    def _spent_before(self, history: pd.DataFrame) -> float:
        """Seconds an earlier start spent deciding, from its last look's information fraction."""
        if history.empty:
            return 0.0
        total = self.plan.budget.suite_s + self.plan.budget.budget_s
        return max(self.fraction * total - self.plan.budget.suite_s, 0.0)

    @property
    def spent(self) -> float:
        return self.before_s + self.backend.seconds()

    def take_look(
        self, models: Mapping[str, ModelRuns], fraction: float, levers: Mapping[tuple[str, str], str]
    ) -> list[Judged]:
        """Judge the undecided pairs at the look's level and record the rows."""
        pairs = [p for p in model_pairs(list(models)) if p not in self.decided]
        level = self.plan.budget.level(self.fraction, fraction, len(pairs))
        # The detectable difference only where a row may be a pair's last (it costs a root search).
        judged = judge_look(models, pairs, level, self.plan.verdicts, with_mde=fraction >= 1.0)
        self.look += 1
        self.fraction = fraction
        rooms = {
            pair_key(j.model_a, j.model_b): room_of(j, models, self.pools(models), self.settings.max_seeds)
            for j in judged
        }
        elapsed = self.plan.budget.suite_s + self.spent
        self.backend.record(
            look_rows(self.look, fraction, judged, levers, elapsed, rooms, self.plan.budget.alpha)
        )
        for j in judged:
            if j.verdict != INCONCLUSIVE:
                self.decided[pair_key(j.model_a, j.model_b)] = j.verdict
        left = max(self.plan.budget.budget_s - self.spent, 0.0)
        self.say(
            f"look {self.look} ({100 * fraction:.0f}% of the plan): {len(self.decided)} of "
            f"{len(model_pairs(list(models)))} pairs decided; budget left {duration(left)}"
        )
        return judged

    def pools(self, models: Mapping[str, ModelRuns]) -> int:
        return min(self.backend.pool(m) for m in models)

    def run(self) -> Decided:
        models = self.backend.state()
        if len(models) < 2:
            raise BenchError(f"{len(models)} model(s) have finished runs; a pair needs two.")
        if self.fraction >= 1.0:  # an earlier start spent the plan's alpha: its verdicts stand
            return self._spent_already()
        judged: list[Judged] = []
        levers: dict[tuple[str, str], str] = {p: "suite" for p in model_pairs(list(models))}
        why = ""
        while any(p not in self.decided for p in model_pairs(list(models))):
            fraction = self.plan.budget.fraction(self.spent)
            if self.look and fraction <= self.fraction:  # nothing spent since the last look
                fraction, why = 1.0, why or "nothing more could be bought"
            judged = [j for j in self.take_look(models, fraction, levers) if j.verdict == INCONCLUSIVE]
            if not judged or self.fraction >= 1.0:
                why = why or "the budget is spent"
                break
            pools = {m: self.backend.pool(m) for m in models}
            # Levers are priced at the alpha left: where the pair's decision will be made.
            level_left = self.plan.budget.left(self.fraction, len(judged))
            actions, levers = round_of(
                judged, models, pools, self.limits, self.plan.budget.budget_s - self.spent, level_left
            )
            if not actions:  # spend what alpha is left on what there is
                why = self._why_stopped(judged, models, pools)
                judged = [j for j in self.take_look(models, 1.0, {}) if j.verdict == INCONCLUSIVE]
                break
            self._announce(actions)
            self.backend.carry_out(actions, models)
            models = self.backend.state()
        left = [j for j in judged if pair_key(j.model_a, j.model_b) not in self.decided]
        return Decided(
            self.look, dict(self.decided), [self._undecided(j, models, why) for j in left], self.spent
        )

    def _spent_already(self) -> Decided:
        last = self.history[self.history["look"] == self.look]
        left = [
            f"After look {self.look}, the plan's alpha was spent at an earlier start (move decide.json "
            f"and decisions.csv away to decide afresh): {words}"
            for a, b, words in zip(last["model_a"], last["model_b"], last["sentence"])
            if pair_key(str(a), str(b)) not in self.decided
        ]
        return Decided(self.look, dict(self.decided), left, self.before_s)

    def _why_stopped(
        self, judged: Sequence[Judged], models: Mapping[str, ModelRuns], pools: Mapping[str, int]
    ) -> str:
        unlimited = Limits(10**6, 10**6, self.limits.load_s)
        if round_of(judged, models, pools, unlimited, float("inf"))[0]:
            return f"the budget of {duration(self.plan.budget.budget_s)} cannot pay for what is left"
        return "nothing is left to buy (the test split used up, the seeds and cost repeats at their limits)"

    def _announce(self, actions: Sequence[Action]) -> None:
        for a in actions:
            what = {
                ITEMS: f"{a.model} on {a.n_items:,} test items",
                SEEDS: f"another seed of {a.model}" if a.count == 1 else f"{a.count} more seeds of {a.model}",
                REPEATS: f"{a.count} cost repeats of {a.model}",
            }[a.lever]
            self.say(f"deciding: {what} (about {duration(a.seconds)})")

    def _undecided(self, j: Judged, models: Mapping[str, ModelRuns], why: str) -> str:
        room = room_of(j, models, self.pools(models), self.settings.max_seeds)
        words = sentence(j, "training time", "s", room)
        return f"After look {self.look}, {why or 'the looks ended'}: {words}"


def outcome_lines(outcome: Decided) -> list[str]:
    lines = [
        f"{len(outcome.decided)} pair(s) decided after {outcome.looks} look(s); "
        f"{duration(outcome.spent_s)} spent deciding."
    ]
    return lines + outcome.undecided
