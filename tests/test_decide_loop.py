"""The decide loop on a constructed folder and a backend that draws predictions from known accuracies:
levers, looks, decisions.csv, the budget and --max-seeds, without training anything."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.config import RunConfig
from bench.decide.looks import DECISION_COLUMNS, DECISIONS_FILE
from bench.decide.loop import DecideSettings, decide, parse_budget
from bench.errors import BenchError
from bench.results import ENV_FILE, PREDICTIONS_FILE, RESULTS_FILE
from bench.stats.levers import ITEMS, SEEDS

POOL = 20_000


class FakeBackend:
    """Models of known accuracy on a pool of items of known difficulty; each seed shifts a model's
    accuracy by a little (seed spread). Writes rows the way the recorder does."""

    def __init__(self, folder: Path, accuracy: dict[str, float], seed_sd: float = 0.0, run_s: float = 10.0):
        self.folder, self.accuracy, self.seed_sd, self.run_s = folder, accuracy, seed_sd, run_s
        rng = np.random.default_rng(0)
        self.u = rng.random(POOL)  # item difficulty: a model is right where u < its accuracy
        self.calls: list[tuple[str, str, int]] = []

    def test_available(self, config: RunConfig) -> int:
        return POOL

    def _correct(self, model: str, seed: int, lo: int, hi: int) -> np.ndarray:
        shift = np.random.default_rng([seed, len(model)]).normal(0.0, self.seed_sd)
        noise = np.random.default_rng([seed, len(model), 1]).random(POOL)
        right = (self.u < self.accuracy[model] + shift) ^ (noise < 0.1)  # 10% item-level seed noise
        return right[lo:hi]

    def _append(self, name: str, rows: list[dict[str, object]]) -> None:
        file = self.folder / name
        old = pd.read_csv(file, dtype={"example_id": str}) if file.is_file() else pd.DataFrame()
        pd.concat([old, pd.DataFrame(rows)], ignore_index=True).to_csv(file, index=False)

    def _predict(self, model: str, seed: int, lo: int, hi: int) -> None:
        right = self._correct(model, seed, lo, hi)
        self._append(
            PREDICTIONS_FILE,
            [
                {"run_id": f"{model}-s{seed}", "model": model, "seed": seed, "split": "test",
                 "example_id": f"imdb-{i}", "label": 1, "pred": int(ok)}
                for i, ok in zip(range(lo, hi), right)
            ],
        )  # fmt: skip

    def train_seed(self, config: RunConfig) -> None:
        self.calls.append((SEEDS, config.model, config.seed))
        model, seed = config.model, config.seed
        self._append(
            RESULTS_FILE,
            [
                {"run_id": f"{model}-s{seed}", "model": model, "seed": seed, "status": "ok",
                 "train_time_s": self.run_s * (3 if model == "big" else 1) * (1 + 0.01 * seed),
                 "eval_samples_per_s": 5000.0, "started_at": "2026-01-01T00:00:00+00:00",
                 "finished_at": f"2026-01-01T00:00:{int(self.run_s):02d}+00:00"}
            ],
        )  # fmt: skip
        self._predict(model, seed, 0, config.max_test or 500)

    def train_seeds(self, configs: Sequence[RunConfig]) -> None:
        for config in configs:
            self.train_seed(config)

    def extend(self, run_id: str, config: RunConfig, n_items: int) -> None:
        self.calls.append((ITEMS, run_id, n_items))
        preds = pd.read_csv(self.folder / PREDICTIONS_FILE)
        have = int((preds["run_id"] == run_id).sum())
        self._predict(config.model, config.seed, have, n_items)


def make_folder(tmp_path: Path, accuracy: dict[str, float], seed_sd: float = 0.0) -> tuple[Path, FakeBackend]:
    folder = tmp_path / "run"
    folder.mkdir()
    configs = [RunConfig(model=m, max_test=500) for m in accuracy]
    env = {"runs": [{k: v for k, v in dataclasses.asdict(c).items()} for c in configs]}
    (folder / ENV_FILE).write_text(json.dumps(env))
    backend = FakeBackend(folder, accuracy, seed_sd)
    for c in configs:
        backend.train_seed(c)
    backend.calls.clear()
    return folder, backend


@pytest.fixture(autouse=True)
def registered_names(monkeypatch: pytest.MonkeyPatch) -> None:
    # The fake's models are not registered: their display name is their name.
    monkeypatch.setattr("bench.decide.loop.run_id_of", lambda run: f"{run.model}-s{run.seed}")


def test_a_small_true_gain_is_decided_by_items(tmp_path: Path) -> None:
    folder, backend = make_folder(tmp_path, {"small": 0.80, "big": 0.85})
    lines: list[str] = []
    outcome = decide(folder, backend, DecideSettings(budget_s=600, looks=5), lines.append)
    decisions = pd.read_csv(folder / DECISIONS_FILE)
    assert list(decisions.columns) == DECISION_COLUMNS
    assert outcome.decided == {("big", "small"): "worth it"}
    assert decisions["lever"].iloc[0] == "suite" and ITEMS in set(decisions["lever"])
    assert decisions["n_items"].max() > 500  # more test items were read
    assert all(kind == ITEMS for kind, _, _ in backend.calls)
    assert any("pairs decided; budget left" in line for line in lines)
    assert decisions.groupby("look").size().eq(1).all()  # one row per pair per look


def test_a_budget_that_runs_out_leaves_the_sentence(tmp_path: Path) -> None:
    folder, backend = make_folder(tmp_path, {"small": 0.80, "big": 0.80})
    outcome = decide(folder, backend, DecideSettings(budget_s=0, looks=5), lambda line: None)
    assert outcome.decided == {} and outcome.looks == 1 and backend.calls == []
    (sentence,) = outcome.undecided
    assert "still inconclusive after look 1" in sentence
    assert "the budget of 0 s is spent" in sentence and "would decide it" in sentence


def test_seed_spread_takes_seeds_up_to_max_seeds(tmp_path: Path) -> None:
    # Two seeds each already, a seed spread of 4 points against a true gap of 1: items cannot help.
    folder, backend = make_folder(tmp_path, {"small": 0.80, "big": 0.81}, seed_sd=0.04)
    for model in ("small", "big"):
        backend.train_seed(RunConfig(model=model, seed=1, max_test=500))
    backend.calls.clear()
    outcome = decide(
        folder, backend, DecideSettings(budget_s=10_000, looks=6, max_seeds=4), lambda line: None
    )
    seeds = [c for c in backend.calls if c[0] == SEEDS]
    assert seeds and max(seed for _, _, seed in seeds) <= 3  # seeds 0..3: four at most
    decisions = pd.read_csv(folder / DECISIONS_FILE)
    assert SEEDS in set(decisions["lever"]) and decisions["seeds_a"].max() <= 4
    assert outcome.looks == decisions["look"].max()


def test_continuing_keeps_the_plan_and_the_decided_rows(tmp_path: Path) -> None:
    folder, backend = make_folder(tmp_path, {"small": 0.80, "big": 0.84, "tiny": 0.60})
    decide(folder, backend, DecideSettings(budget_s=0, looks=4), lambda line: None)
    first = pd.read_csv(folder / DECISIONS_FILE)
    assert first["look"].max() == 1
    # Continue with a budget: the plan of four looks stands even when asked for ten.
    outcome = decide(folder, backend, DecideSettings(budget_s=600, looks=10), lambda line: None)
    after = pd.read_csv(folder / DECISIONS_FILE)
    assert after.iloc[: len(first)].equals(first)  # earlier looks are kept as they were
    assert after["look"].max() <= 4 and outcome.looks <= 4
    tiny = after[(after["model_a"] == "tiny") | (after["model_b"] == "tiny")]
    for _, rows in tiny.groupby(["model_a", "model_b"]):
        assert rows["verdict"].iloc[0] != "inconclusive"  # 20+ points: decided at the first look
        assert (rows["verdict"] == rows["verdict"].iloc[0]).all()


def test_parse_budget() -> None:
    assert parse_budget("30m") == 1800 and parse_budget("1h30m") == 5400 and parse_budget("90") == 90
    assert parse_budget("45s") == 45
    with pytest.raises(BenchError):
        parse_budget("soon")
