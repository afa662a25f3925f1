"""The decide loop against a known truth: models whose accuracy, seed-to-seed spread and cost are set,
so that how often each verdict comes out can be counted. The loop is the real one (bench.decide.loop,
the same levers, looks and verdict function); only the backend is simulated: its checkpoints and
items are drawn, its seconds counted rather than spent.

A checkpoint (one seed of a model) is right on item i when z_i < t + u, flipped with probability f:
z_i ~ U(0, 1) is the item's difficulty, shared by every model, so two models agree where their
thresholds do; u ~ N(0, s^2) is the seed's effect; f sets how often two checkpoints of equal models
disagree (2 f (1 - f) of the items: `discordant`). t and s are chosen so that the model's expected
accuracy and its seed-to-seed sd of accuracy are the ones given. A model with a seed sd of 0 is
seed-invariant, as tfidf_lr is: every seed gives the same predictions.

Used by tests/test_decide_truth.py and `scripts/known-truth`, which prints the tables of the docs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bench.config import VerdictSettings
from bench.decide.actions import Action
from bench.decide.evidence import ModelRuns
from bench.decide.loop import Decider
from bench.decide.plan import DecideSettings, Plan
from bench.results import DECISION_COLUMNS
from bench.stats.cost import Replicates
from bench.stats.levers import ITEMS, REPEATS, SEEDS
from bench.stats.sequential import BudgetPlan

POOL = 23_000  # test items: the IMDB test split's 25,000 less the training draw's share


@dataclass(frozen=True)
class Truth:
    """One model's truth: expected accuracy and seed-to-seed sd of accuracy (fractions), and what a
    seed, a test item and a cost repeat take. train_s is the mean training time (the cost judged),
    cost_sd its relative run-to-run sd."""

    accuracy: float
    seed_sd: float = 0.01
    train_s: float = 60.0
    cost_sd: float = 0.05
    item_s: float = 1 / 28  # the quick suite's evaluation rate on this project's 2-core CPU
    repeat_s: float = 25.0


def flip_for(discordant: float) -> float:
    """The flip rate f with 2 f (1 - f) = `discordant`."""
    return (1.0 - math.sqrt(1.0 - 2.0 * discordant)) / 2.0


@dataclass
class _Model:
    truth: Truth
    correct: list[np.ndarray] = field(default_factory=list)  # per seed, over the whole pool
    times: list[float] = field(default_factory=list)  # per seed: training time
    repeats: list[float] = field(default_factory=list)  # cost repeats' training times
    n_items: int = 0


class SimulatedWorld:
    """A backend for the decide loop whose models follow their `Truth` (see the module's note)."""

    def __init__(
        self,
        truths: Mapping[str, Truth],
        discordant: float,
        rng: np.random.Generator,
        n_items: int = 500,
        seeds: int = 1,
        pool: int = POOL,
    ) -> None:
        self.rng, self.pool_size, self.flip = rng, pool, flip_for(discordant)
        self.z = rng.random(pool)
        self.models = {name: _Model(t) for name, t in truths.items()}
        self.rows: list[Mapping[str, object]] = []
        self.clock = 0.0
        for m in self.models.values():
            m.n_items = n_items
            for _ in range(seeds):
                self._train(m)

    def _train(self, m: _Model) -> None:
        t, f = m.truth, self.flip
        if t.seed_sd == 0 and m.correct:  # a seed-invariant recipe (tfidf_lr): the same predictions
            m.correct.append(m.correct[0])
            m.times.append(self._time(t))
            return
        scale = 1.0 - 2.0 * f
        threshold = (t.accuracy - f) / scale
        u = self.rng.normal(0.0, t.seed_sd / scale)
        right = (self.z < threshold + u) ^ (self.rng.random(self.pool_size) < f)
        m.correct.append(right)
        m.times.append(self._time(t))

    def _time(self, t: Truth) -> float:
        return t.train_s * float(np.exp(self.rng.normal(0.0, t.cost_sd) - t.cost_sd**2 / 2))

    # --- the Backend protocol -----------------------------------------------------------------
    def state(self) -> dict[str, ModelRuns]:
        out = {}
        for name, m in self.models.items():
            t, k = m.truth, len(m.correct)
            times = m.times if len(m.repeats) < 2 or len(m.repeats) < len(m.times) else m.repeats
            out[name] = ModelRuns(
                model=name,
                run_ids=tuple(f"{name}-s{i}" for i in range(k)),
                seeds=tuple(range(k)),
                item_ids=tuple(str(i) for i in range(m.n_items)),  # a nested prefix
                correct=np.stack([c[: m.n_items] for c in m.correct]).astype(np.int8),
                costs=Replicates.of(times),
                run_s=t.train_s + m.n_items * t.item_s,
                item_s=t.item_s,
                repeat_s=t.repeat_s,
                repeats=len(m.repeats),
            )
        return out

    def history(self) -> pd.DataFrame:
        return pd.DataFrame(list(self.rows), columns=[c.name for c in DECISION_COLUMNS])

    def record(self, rows: Sequence[Mapping[str, object]]) -> None:
        self.rows.extend(rows)

    def pool(self, model: str) -> int:
        return self.pool_size

    def seconds(self) -> float:
        return self.clock

    def carry_out(self, actions: Sequence[Action], models: Mapping[str, ModelRuns]) -> None:
        for a in actions:
            m = self.models[a.model]
            if a.lever == SEEDS:
                for _ in range(a.count):
                    self._train(m)
                    self.clock += m.truth.train_s + m.n_items * m.truth.item_s
            elif a.lever == ITEMS:
                self.clock += (a.n_items - m.n_items) * len(m.correct) * m.truth.item_s
                m.n_items = a.n_items
            elif a.lever == REPEATS:
                m.repeats.extend(self._time(m.truth) for _ in range(a.count))
                self.clock += a.count * m.truth.repeat_s


def decide_once(
    truths: Mapping[str, Truth],
    settings: DecideSettings,
    discordant: float,
    rng: np.random.Generator,
    n_items: int = 500,
    seeds: int = 1,
) -> pd.DataFrame:
    """One experiment: the loop from `seeds` seeds and `n_items` items a model until its pairs are
    decided or the budget is spent; decisions.csv's rows."""
    world = SimulatedWorld(truths, discordant, rng, n_items, seeds)
    suite_s = sum(
        len(m.correct) * (m.truth.train_s + n_items * m.truth.item_s) for m in world.models.values()
    )
    verdicts = settings.verdicts
    plan = Plan(BudgetPlan(verdicts.alpha, settings.budget_s, suite_s), verdicts)
    Decider(world, plan, settings, lambda line: None).run()
    return world.history()


def final_verdicts(history: pd.DataFrame) -> pd.Series:
    """Each pair's verdict at its last row (decided, or inconclusive when the loop ended)."""
    key = [" vs ".join(sorted(p)) for p in zip(history["model_a"], history["model_b"])]
    last = history.assign(pair=key).groupby("pair", sort=False).tail(1)
    return pd.Series(list(last["verdict"]), index=list(last["pair"]))


def known_truth(
    truths: Mapping[str, Truth],
    discordant: float,
    experiments: int,
    budget_s: float,
    seed: int = 0,
    verdicts: VerdictSettings | None = None,
    max_seeds: int = 8,
) -> pd.Series:
    """How often each verdict comes out for the first pair of `truths` over `experiments` runs of the
    loop: the share of each verdict."""
    settings = DecideSettings(budget_s, max_seeds, 5, verdicts or VerdictSettings())
    rng = np.random.default_rng(seed)
    outcomes = [
        final_verdicts(decide_once(truths, settings, discordant, rng)).iloc[0] for _ in range(experiments)
    ]
    return pd.Series(outcomes).value_counts(normalize=True)
