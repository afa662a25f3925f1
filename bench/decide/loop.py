"""`--until-decided`: after a suite's runs, add test items or seeds to the undecided pairs until each is
decided, the planned looks are spent, or the budget is.

Each look judges every pair at the look's share of alpha (bench.stats.sequential) and writes one row
per pair to decisions.csv; between looks each undecided pair takes the lever expected to narrow its
interval most per second (bench.stats.levers): more test items for the runs it has (inference on
their kept weights) or another seed of each of its models (training). What trains and evaluates is
a `Backend`; this module only decides what to ask of it and reads the folder back.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pandas as pd

from bench import atomic
from bench.config import RunConfig
from bench.decide.looks import (
    COST_NOISE,
    DECISION_COLUMNS,
    DECISIONS_FILE,
    ModelRuns,
    PairLook,
    decided_rows,
    judge_pair,
    look_rows,
    model_pairs,
    pair_key,
    read_decisions,
    read_models,
)
from bench.errors import BenchError, one_line
from bench.readable import MISSING, what_is_there
from bench.results import read_json_object, saved_runs
from bench.runs.rows import run_id_of
from bench.stats.levers import ITEMS, SEEDS, PairSpread, choose_lever, needed
from bench.stats.sequential import INCONCLUSIVE, SPENDING, SequentialPlan

PLAN_FILE = "decide.json"
LOAD_S = 3.0  # assumed seconds to load one run's kept weights, until an extension has measured it


@dataclass(frozen=True)
class DecideSettings:
    budget_s: float = 1800.0  # training and evaluation after the suite's runs
    max_seeds: int = 5  # seeds of one model at most
    looks: int = 5  # planned looks, the suite's runs being the first
    alpha: float = 0.05
    margin: float = 0.01  # the smallest gain worth paying for, a fraction (0.01: one point)
    cost_noise: float = COST_NOISE

    def __post_init__(self) -> None:
        if self.budget_s < 0:
            raise BenchError(f"--budget must not be negative, not {self.budget_s:g} s.")
        if self.max_seeds < 1:
            raise BenchError(f"--max-seeds must be at least 1, not {self.max_seeds}.")
        if not 1 <= self.looks <= 50:
            raise BenchError(f"--looks must be between 1 and 50, not {self.looks}.")
        if not self.cost_noise > 0:
            raise BenchError(f"--cost-noise must be a positive relative sd, not {self.cost_noise:g}.")
        if not 0 <= self.margin < 1:
            raise BenchError(f"--margin must be between 0 and 100 points, not {100 * self.margin:g}.")


class Backend(Protocol):
    """What trains and evaluates for the loop; it writes the folder, the loop reads it back."""

    def test_available(self, config: RunConfig) -> int:
        """Test items the config's dataset has to draw from."""
        ...

    def train_seeds(self, configs: Sequence[RunConfig]) -> None:
        """Train and evaluate more runs (each with its seed and max_test set), recorded in the folder:
        one after another here, or all at once by the workers of a queue."""
        ...

    def extend(self, run_id: str, config: RunConfig, n_items: int) -> None:
        """Evaluate a finished run's kept weights on its test draw's first `n_items` items,
        recording the predictions it did not have."""
        ...


def parse_budget(text: str) -> float:
    """`30m`, `1h`, `90s`, `1h30m` or plain seconds, as seconds."""
    units = {"h": 3600.0, "m": 60.0, "s": 1.0}
    rest, total = text.strip().lower(), 0.0
    try:
        if rest and rest[-1].isdigit():
            return float(rest)
        number = ""
        for ch in rest:
            if ch in units:
                total += float(number) * units[ch]
                number = ""
            else:
                number += ch
        if number.strip():
            raise ValueError
    except ValueError:
        raise BenchError(f"--budget {text!r} is not a duration; write e.g. 30m, 1h or 90s.") from None
    return total


def suite_configs(folder: Path) -> dict[str, list[RunConfig]]:
    """The folder's run configurations by model (display name, as its rows have it), from env.json."""
    out: dict[str, list[RunConfig]] = {}
    for run in saved_runs(folder)[0]:
        out.setdefault(run_id_of(run).rsplit("-s", 1)[0], []).append(run)
    return out


@dataclass
class Action:
    lever: str
    model: str
    seconds: float  # expected
    n_items: int = 0  # ITEMS: the model's runs are evaluated up to this many test items


@dataclass
class Outcome:
    looks: int
    decided: dict[tuple[str, str], str]
    undecided: list[str]  # one sentence per pair still inconclusive
    spent_s: float


class Decider:
    """The loop over looks for one folder."""

    def __init__(
        self, folder: Path, backend: Backend, settings: DecideSettings, say: Callable[[str], None]
    ) -> None:
        self.folder, self.backend, self.say = folder, backend, say
        self.settings = settings
        self.plan, self.margin = self._plan(settings)
        self.configs = suite_configs(folder)
        self.load_s = LOAD_S
        self.spent = 0.0

    def _plan(self, settings: DecideSettings) -> tuple[SequentialPlan, float]:
        """The plan of an earlier start stands (its looks, alpha and margin): changing it midway
        would spend alpha twice."""
        file = self.folder / PLAN_FILE
        if what_is_there(file) != MISSING:
            saved = read_json_object(file, "remove it to plan the looks afresh")
            try:
                return SequentialPlan(float(saved["alpha"]), int(saved["looks"])), float(saved["margin"])
            except (KeyError, TypeError, ValueError) as exc:  # StatsError is a ValueError
                raise BenchError(
                    f"{file} is no plan of looks ({one_line(exc)}); remove it to plan afresh."
                ) from None
        plan = {
            "alpha": settings.alpha,
            "looks": settings.looks,
            "margin": settings.margin,
            "spending": SPENDING,
        }
        atomic.write_text(file, json.dumps(plan, indent=2) + "\n")
        return SequentialPlan(settings.alpha, settings.looks), settings.margin

    # --- looks ----------------------------------------------------------------------------------
    def judge(self, models: dict[str, ModelRuns], look: int) -> list[PairLook]:
        pairs = model_pairs(list(models))
        level = self.plan.level(look, len(pairs))
        s = self.settings
        return [judge_pair(models[a], models[b], level, self.margin, s.alpha, s.cost_noise) for a, b in pairs]

    def write_look(
        self,
        history: pd.DataFrame,
        look: int,
        pairs: Sequence[PairLook],
        levers: dict[tuple[str, str], str],
        elapsed: float,
    ) -> pd.DataFrame:
        """Append a look's rows; a pair decided before keeps its deciding row's numbers and verdict."""
        frozen = decided_rows(history)
        rows = []
        for row in look_rows(look, pairs, levers, elapsed):
            key = pair_key(str(row["model_a"]), str(row["model_b"]))
            if key in frozen:
                row = {**frozen[key], "look": look, "lever": "", "elapsed_s": round(elapsed, 1)}
            rows.append(row)
        frame = pd.concat([history, pd.DataFrame(rows, columns=DECISION_COLUMNS)], ignore_index=True)
        atomic.write_text(self.folder / DECISIONS_FILE, frame[DECISION_COLUMNS].to_csv(index=False))
        return frame

    # --- levers -------------------------------------------------------------------------------
    def spread(self, p: PairLook, models: dict[str, ModelRuns]) -> PairSpread:
        a, b = models[p.model_a], models[p.model_b]
        left = min(self.pool(a.model), self.pool(b.model)) - p.n_items
        return PairSpread(
            v=p.v, n=p.n_items, seeds_a=p.seeds_a, seeds_b=p.seeds_b, tau2=p.tau2,
            items_left=max(left, 0), block=p.n_items,
            item_s_a=len(a.run_ids) * a.item_s, item_s_b=len(b.run_ids) * b.item_s,
            seed_s_a=a.run_s if p.seeds_a < self.settings.max_seeds else None,
            seed_s_b=b.run_s if p.seeds_b < self.settings.max_seeds else None,
        )  # fmt: skip

    def pool(self, model: str) -> int:
        return self.backend.test_available(self.configs[model][0])

    def actions(
        self, undecided: Sequence[PairLook], models: dict[str, ModelRuns], look: int
    ) -> tuple[list[Action], dict[tuple[str, str], str]]:
        """Each undecided pair's lever, as actions on models that fit the budget left (items first,
        the cheaper lever), and the lever each pair got."""
        level = self.plan.level(look, len(model_pairs(list(models))))
        want: dict[str, dict[str, int]] = {ITEMS: {}, SEEDS: {}}  # model -> items wanted (ITEMS)
        chosen: dict[tuple[str, str], str] = {}
        for p in undecided:
            choice = choose_lever(self.spread(p, models), level)
            if choice.lever is None:
                continue
            chosen[pair_key(p.model_a, p.model_b)] = choice.lever
            for m in (p.model_a, p.model_b):
                if choice.lever == ITEMS:
                    target = min(2 * p.n_items, self.pool(m))
                    want[ITEMS][m] = max(want[ITEMS].get(m, 0), target)
                elif len(models[m].run_ids) < self.settings.max_seeds:
                    want[SEEDS][m] = 1
        left = self.settings.budget_s - self.spent
        out = []
        for m, target in sorted(want[ITEMS].items()):
            runs = models[m]
            per_item = len(runs.run_ids) * runs.item_s
            add = target - runs.n_items
            affordable = int((left - len(runs.run_ids) * self.load_s) / per_item) if per_item > 0 else add
            add = min(add, affordable)
            if add > 0:
                seconds = add * per_item + len(runs.run_ids) * self.load_s
                out.append(Action(ITEMS, m, seconds, runs.n_items + add))
                left -= seconds
        for m in sorted(want[SEEDS]):
            if models[m].run_s <= left:
                out.append(Action(SEEDS, m, models[m].run_s))
                left -= models[m].run_s
        done = {a.model for a in out}
        levers = {k: v for k, v in chosen.items() if k[0] in done or k[1] in done}
        return out, levers

    def execute(self, actions: Sequence[Action], models: dict[str, ModelRuns]) -> None:
        seeds = [a for a in actions if a.lever == SEEDS]
        if seeds:  # first, and all at once (workers of a queue train them side by side); then extended too
            started = time.perf_counter()
            configs = []
            for action in seeds:
                runs, base = models[action.model], self.configs[action.model][0]
                seed = max(runs.seeds) + 1
                self.say(f"deciding: training {action.model} seed {seed} (about {duration(action.seconds)})")
                configs.append(dataclasses.replace(base, seed=seed, max_test=runs.n_items))
            self.backend.train_seeds(configs)
            self.spent += time.perf_counter() - started
        for action in actions:
            if action.lever == SEEDS:
                continue
            started = time.perf_counter()
            base = self.configs[action.model][0]
            current = read_models(self.folder)[action.model]
            self.say(
                f"deciding: {action.model} on {action.n_items} test items "
                f"({len(current.run_ids)} run(s), about {duration(action.seconds)})"
            )
            for run_id, seed in zip(current.run_ids, current.seeds):
                began = time.perf_counter()
                self.backend.extend(run_id, dataclasses.replace(base, seed=seed), action.n_items)
                extra = action.n_items - current.n_items
                self.load_s = max(0.0, time.perf_counter() - began - extra * current.item_s)
            self.spent += time.perf_counter() - started

    # --- the loop -----------------------------------------------------------------------------
    def run(self) -> Outcome:
        history = read_decisions(self.folder)
        models = read_models(self.folder)
        if len(models) < 2:
            raise BenchError(
                f"{self.folder} has {len(models)} model(s) with finished runs; a pair needs two."
            )
        base_elapsed = (
            float(history["elapsed_s"].max())
            if len(history)
            else sum(m.run_s * len(m.run_ids) for m in models.values())
        )
        started = time.perf_counter()
        look = int(history["look"].max()) if len(history) else 0
        pairs = self.judge(models, max(look, 1))
        if look == 0:
            look = 1
            history = self.write_look(
                history, look, pairs, {pair_key(*p.key): "suite" for p in pairs}, base_elapsed
            )
            self.report(look, history)
        reason = ""
        while True:
            frozen = decided_rows(history)
            undecided = [p for p in pairs if pair_key(*p.key) not in frozen]
            if not undecided:
                break
            if look >= self.plan.looks:
                reason = f"all {self.plan.looks} planned looks are spent"
                break
            actions, levers = self.actions(undecided, models, look + 1)
            if not actions:
                reason = self.why_stopped(undecided, models)
                break
            self.execute(actions, models)
            look += 1
            models = read_models(self.folder)
            pairs = self.judge(models, look)
            elapsed = base_elapsed + time.perf_counter() - started
            history = self.write_look(history, look, pairs, levers, elapsed)
            self.report(look, history)
        frozen = decided_rows(history)
        undecided = [p for p in pairs if pair_key(*p.key) not in frozen]
        sentences = [self.sentence(p, models, look, reason) for p in undecided]
        verdicts = {k: str(r["verdict"]) for k, r in frozen.items()}
        return Outcome(look, verdicts, sentences, self.spent)

    def why_stopped(self, undecided: Sequence[PairLook], models: dict[str, ModelRuns]) -> str:
        level = self.plan.level(self.plan.looks, len(model_pairs(list(models))))
        if any(choose_lever(self.spread(p, models), level).lever for p in undecided):
            return f"the budget of {duration(self.settings.budget_s)} is spent"
        return "neither lever is left (the test split is used up, or the seeds at --max-seeds)"

    def report(self, look: int, history: pd.DataFrame) -> None:
        rows = history[history["look"] == look]
        done = int((rows["verdict"] != INCONCLUSIVE).sum())
        left = max(self.settings.budget_s - self.spent, 0.0)
        self.say(
            f"look {look} of {self.plan.looks}: {done} of {len(rows)} pairs decided; "
            f"budget left {duration(left)}"
        )

    def sentence(self, p: PairLook, models: dict[str, ModelRuns], look: int, reason: str) -> str:
        level = self.plan.level(min(look + 1, self.plan.looks), len(model_pairs(list(models))))
        spread = self.spread(p, models)
        need = needed(spread, p.acc_diff, self.margin, p.b_costlier, level)
        options = []
        if need.items is not None and need.items <= p.n_items:
            options.append(f"another look at the plan's next share of alpha with the {p.n_items:,} items")
        elif need.items is not None:
            pool = min(self.pool(p.model_a), self.pool(p.model_b))
            more = f"about {need.items:,} test items in all"
            options.append(more + (f" (the test split has {pool:,})" if need.items > pool else ""))
        if need.seeds is not None:
            options.append(f"about {need.seeds} seeds of each")
        what = " or ".join(options) if options else "more seeds and test items than the spread lets us size"
        return (
            f"{p.model_b} against {p.model_a} is still inconclusive after look {look} "
            f"({_points(p.acc_diff)} points, {_points(p.ci_low)} to {_points(p.ci_high)}, {p.n_items:,} "
            f"test items, {p.seeds_a} and {p.seeds_b} seed(s)); {reason}. At the spread observed, {what} "
            f"would decide it."
        )


def duration(seconds: float) -> str:
    """`1 h 02 min`, `12 min 30 s` or `45 s`."""
    s = int(round(max(seconds, 0.0)))
    if s >= 3600:
        return f"{s // 3600} h {s % 3600 // 60:02d} min"
    return f"{s // 60} min {s % 60:02d} s" if s >= 60 else f"{s} s"


def _points(x: float) -> str:
    return f"{100 * x:+.1f}".replace("-", "\u2212")


def decide(folder: Path, backend: Backend, settings: DecideSettings, say: Callable[[str], None]) -> Outcome:
    """Run the loop on a finished folder; the caller prints the outcome."""
    return Decider(folder, backend, settings, say).run()


def outcome_lines(outcome: Outcome) -> list[str]:
    lines = [
        f"{len(outcome.decided)} pair(s) decided after {outcome.looks} look(s); "
        f"{duration(outcome.spent_s)} spent deciding."
    ]
    return lines + outcome.undecided
