"""A results folder as the decide loop's backend: the evidence read as the report reads it, decisions.csv
rewritten atomically after each look, the budget's clock the wall time of what it carries out, and the
run configurations from env.json. How seeds are trained, runs extended and costs repeated is the
subclass's: in this process (bench.decide.local) or over a run queue (bench.decide.queued).
"""

from __future__ import annotations

import dataclasses
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from bench import atomic
from bench.config import RunConfig
from bench.decide.actions import Action
from bench.decide.evidence import ModelRuns, next_seed, read_state
from bench.decide.extend import test_draw
from bench.results import DECISION_COLUMNS, DECISIONS_FILE, read_decisions, saved_runs
from bench.runs.rows import run_id_of
from bench.stats.levers import ITEMS, REPEATS, SEEDS

_POOLS: dict[tuple[object, ...], int] = {}


def test_available(config: RunConfig, skip_bad_rows: bool) -> int:
    """Test items the config's dataset has to draw from (read once per dataset and split)."""
    key = (config.dataset, config.max_train, config.data_seed, config.val_share, skip_bad_rows)
    if key not in _POOLS:
        _POOLS[key] = test_draw(config, 1, skip_bad_rows).test_available
    return _POOLS[key]


def suite_configs(folder: Path) -> dict[str, RunConfig]:
    """The folder's run configuration of each model (its first seed's), by the name its rows give it."""
    out: dict[str, RunConfig] = {}
    for run in saved_runs(folder)[0]:
        out.setdefault(run_id_of(run).rsplit("-s", 1)[0], run)
    return out


class FolderBackend(ABC):
    def __init__(self, folder: Path, skip_bad_rows: bool = False) -> None:
        self.folder, self.skip_bad_rows = folder, skip_bad_rows
        self.configs = suite_configs(folder)
        self.spent_s = 0.0

    # --- what the loop reads ------------------------------------------------------------------
    def state(self) -> dict[str, ModelRuns]:
        return read_state(self.folder)

    def history(self) -> pd.DataFrame:
        return read_decisions(self.folder)

    def record(self, rows: Sequence[Mapping[str, object]]) -> None:
        names = [c.name for c in DECISION_COLUMNS]
        before = self.history()
        frame = pd.DataFrame(list(rows), columns=names)
        both = pd.concat([before, frame], ignore_index=True) if len(before) else frame
        atomic.write_text(self.folder / DECISIONS_FILE, both[names].to_csv(index=False))

    def pool(self, model: str) -> int:
        return test_available(self.configs[model], self.skip_bad_rows)

    def seconds(self) -> float:
        return self.spent_s

    # --- what it asks for ---------------------------------------------------------------------
    def carry_out(self, actions: Sequence[Action], models: Mapping[str, ModelRuns]) -> None:
        started = time.perf_counter()
        try:
            seeds = [a for a in actions if a.lever == SEEDS]
            if seeds:  # all at once: the workers of a queue train them side by side
                self.train_seeds([c for a in seeds for c in self.seed_configs(models[a.model], a.count)])
            for action in actions:
                runs = models[action.model]
                if action.lever == ITEMS:
                    for run_id, seed in zip(runs.run_ids, runs.seeds):
                        self.extend(run_id, self.config(runs.model, seed), action.n_items)
                elif action.lever == REPEATS:
                    first = runs.run_ids[0]
                    self.repeat(first, self.config(runs.model, runs.seeds[0]), action.count)
        finally:
            self.spent_s += time.perf_counter() - started

    def config(self, model: str, seed: int) -> RunConfig:
        return dataclasses.replace(self.configs[model], seed=seed)

    def seed_configs(self, runs: ModelRuns, count: int) -> list[RunConfig]:
        """The next `count` seeds of a model, tested on the items its runs have (a nested test draw's
        prefix)."""
        config, first = self.configs[runs.model], next_seed(runs)
        return [dataclasses.replace(config, seed=first + i, max_test=runs.n_items) for i in range(count)]

    @abstractmethod
    def train_seeds(self, configs: Sequence[RunConfig]) -> None:
        """Train and evaluate these runs, recorded in the folder."""

    @abstractmethod
    def extend(self, run_id: str, config: RunConfig, n_items: int) -> None:
        """Evaluate a finished run's kept weights on its test draw's first `n_items` items."""

    @abstractmethod
    def repeat(self, run_id: str, config: RunConfig, count: int) -> None:
        """`count` more cost repeats of the run's configuration, each in a fresh process."""
