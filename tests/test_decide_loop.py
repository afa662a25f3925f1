"""The decide loop on a results folder whose backend draws predictions from known accuracies: levers,
looks, decisions.csv, the budget, --max-seeds and the plan kept across starts, without training."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.config import RunConfig, VerdictSettings
from bench.decide.evidence import wall_seconds
from bench.decide.folder import FolderBackend
from bench.decide.local import decide
from bench.decide.plan import PLAN_FILE, DecideSettings, parse_budget
from bench.errors import BenchError
from bench.results import (
    COST_REPEATS_FILE,
    DECISION_COLUMNS,
    DECISIONS_FILE,
    ENV_FILE,
    PREDICTIONS_FILE,
    RESULTS_FILE,
)
from bench.stats.levers import ITEMS, REPEATS, SEEDS

POOL = 20_000


class FakeBackend(FolderBackend):
    """Models of known accuracy on a pool of items of known difficulty; each seed shifts its model's
    accuracy by `seed_sd`. Writes the rows the recorder would; counts seconds rather than spending them."""

    def __init__(self, folder: Path, accuracy: dict[str, float], seed_sd: float, run_s: float) -> None:
        self.accuracy, self.seed_sd, self.run_s = accuracy, seed_sd, run_s
        self.time_sd = 0.01  # each seed's training time 1% above the last
        self.u = np.random.default_rng(0).random(POOL)  # a model is right where u < its accuracy
        self.calls: list[tuple[str, str, int]] = []
        self.folder = folder

    def setup(self) -> None:
        super().__init__(self.folder)
        self.spent_s = 0.0

    def pool(self, model: str) -> int:
        return POOL

    def _append(self, name: str, rows: list[dict[str, object]]) -> None:
        file = self.folder / name
        old = pd.read_csv(file, dtype={"example_id": str}) if file.is_file() else pd.DataFrame()
        pd.concat([old, pd.DataFrame(rows)], ignore_index=True).to_csv(file, index=False)

    def _right(self, model: str, seed: int) -> np.ndarray:
        shift = np.random.default_rng([seed, len(model)]).normal(0.0, self.seed_sd)
        noise = np.random.default_rng([seed, len(model), 1]).random(POOL)
        return (self.u < self.accuracy[model] + shift) ^ (noise < 0.05)  # 5% item-level seed noise

    def _predict(self, model: str, seed: int, lo: int, hi: int) -> None:
        right = self._right(model, seed)[lo:hi]
        self._append(PREDICTIONS_FILE, [
            {"run_id": f"{model}-s{seed}", "model": model, "seed": seed, "split": "test",
             "example_id": f"imdb-{i}", "label": 1, "pred": int(ok)} for i, ok in zip(range(lo, hi), right)
        ])  # fmt: skip

    def train(self, config: RunConfig) -> None:
        model, seed, n = config.model, config.seed, config.max_test or 500
        seconds = self.run_s * (2 if model == "big" else 1) * (1 + self.time_sd * seed)
        self._append(RESULTS_FILE, [
            {"run_id": f"{model}-s{seed}", "model": model, "seed": seed, "status": "ok", "dataset": "imdb",
             "n_classes": 2, "device": "cpu", "train_time_s": seconds, "eval_samples_per_s": 5000.0,
             "train_steps": 30,
             "test_accuracy": float(self._right(model, seed)[:n].mean()), "n_test": n,
             "started_at": "2026-01-01T00:00:00+00:00",
             "finished_at": f"2026-01-01T00:{int(seconds) // 60:02d}:{int(seconds) % 60:02d}+00:00"}
        ])  # fmt: skip
        self._predict(model, seed, 0, n)

    # --- what the loop asks of a folder backend --------------------------------------------------
    def train_seeds(self, configs: Sequence[RunConfig]) -> None:
        for config in configs:
            self.calls.append((SEEDS, config.model, config.seed))
            self.train(config)

    def extend(self, run_id: str, config: RunConfig, n_items: int) -> None:
        self.calls.append((ITEMS, run_id, n_items))
        have = int((pd.read_csv(self.folder / PREDICTIONS_FILE)["run_id"] == run_id).sum())
        self._predict(config.model, config.seed, have, n_items)

    def repeat(self, run_id: str, config: RunConfig, count: int) -> None:
        self.calls.append((REPEATS, run_id, count))
        self._append(COST_REPEATS_FILE, [
            {"run_id": run_id, "model": config.model, "seed": config.seed, "repeat": r, "steps": 20,
             "step_time_s_mean": self.run_s / 30 * (1 + 0.001 * r), "device": "cpu", "concurrent_runs": 1}
            for r in range(count)
        ])  # fmt: skip


def make_folder(
    tmp_path: Path, accuracy: dict[str, float], seed_sd: float = 0.0, seeds: int = 1, run_s: float = 10.0
) -> FakeBackend:
    folder = tmp_path / "run"
    folder.mkdir()
    configs = [RunConfig(model=m, max_test=500) for m in accuracy]
    (folder / ENV_FILE).write_text(json.dumps({"runs": [dataclasses.asdict(c) for c in configs]}))
    backend = FakeBackend(folder, accuracy, seed_sd, run_s)
    for c in configs:
        for seed in range(seeds):
            backend.train(dataclasses.replace(c, seed=seed))
    backend.setup()
    return backend


@pytest.fixture(autouse=True)
def plain_names(monkeypatch: pytest.MonkeyPatch) -> None:
    # The fake's models are not registered: their display name is their name.
    monkeypatch.setattr("bench.decide.folder.run_id_of", lambda run: f"{run.model}-s{run.seed}")


def settings(budget_s: float, **kw: object) -> DecideSettings:
    return DecideSettings(budget_s=budget_s, **kw)  # type: ignore[arg-type]


def test_a_large_gain_is_decided_at_the_first_look(tmp_path: Path) -> None:
    backend = make_folder(tmp_path, {"small": 0.60, "big": 0.85})
    lines: list[str] = []
    outcome = decide(backend, settings(600), lines.append)
    decisions = pd.read_csv(tmp_path / "run" / DECISIONS_FILE)
    assert list(decisions.columns) == [c.name for c in DECISION_COLUMNS]
    assert outcome.decided == {("big", "small"): "worth it"} and outcome.looks == 1 and backend.calls == []
    assert decisions["lever"].tolist() == ["suite"] and decisions["scope"].tolist() == ["models"]
    assert any("pairs decided; budget left" in line for line in lines)
    plan = json.loads((tmp_path / "run" / PLAN_FILE).read_text())
    assert plan["budget_s"] == 600 and plan["verdicts"]["margin"] == 1.0


def test_items_cannot_narrow_two_models_so_the_loop_buys_seeds(tmp_path: Path) -> None:
    """One seed each, a true gap of 1.5 points with 1.5 points of seed sd assumed: 500 items are
    enough of the items' share; seeds narrow the models' interval, bought several at once (a second
    seed alone would leave a t on 1 degree of freedom), within --max-seeds."""
    backend = make_folder(tmp_path, {"small": 0.80, "big": 0.815}, seed_sd=0.01)
    decide(backend, settings(400, max_seeds=8), lambda line: None)
    kinds = {kind for kind, _, _ in backend.calls}
    assert SEEDS in kinds
    decisions = pd.read_csv(tmp_path / "run" / DECISIONS_FILE)
    assert SEEDS in set(decisions["lever"]) and decisions[["seeds_a", "seeds_b"]].max().max() <= 8
    after = decisions[decisions["lever"] == SEEDS].iloc[0]
    assert min(after["seeds_a"], after["seeds_b"]) >= 3  # no look on 2 seeds a side
    assert (decisions["fraction"].diff().dropna() > 0).all()  # each look later along the budget
    assert decisions["fraction"].iloc[-1] == 1.0  # the last look spends what alpha is left


def test_a_budget_of_nothing_is_one_look_at_full_alpha_and_a_sentence(tmp_path: Path) -> None:
    backend = make_folder(tmp_path, {"small": 0.80, "big": 0.80})
    outcome = decide(backend, settings(0), lambda line: None)
    assert outcome.decided == {} and outcome.looks == 1 and backend.calls == []
    decisions = pd.read_csv(tmp_path / "run" / DECISIONS_FILE)
    assert decisions["pair_alpha"].tolist() == [pytest.approx(0.05)]  # the whole alpha at once
    (sentence,) = outcome.undecided
    assert sentence.startswith("After look 1, the budget is spent:")
    assert "would decide it with 80% power" in sentence and "of training" in sentence


def test_equal_accuracy_and_undecided_costs_take_cost_repeats(tmp_path: Path) -> None:
    """Four seeds each, equal accuracy well inside a 5-point margin, and training times 20% apart
    from seed to seed: the costs are not shown equal, and only they are left to show, so the loop
    times cost repeats (tight ones), which show them equal: equivalent."""
    folder = tmp_path / "run"
    backend = make_folder(tmp_path, {"small": 0.80, "medium": 0.80}, seeds=4, run_s=30.0)
    backend.time_sd = 0.2
    pd.read_csv(folder / RESULTS_FILE).assign(train_time_s=lambda r: 30.0 * (1 + 0.2 * r["seed"])).to_csv(
        folder / RESULTS_FILE, index=False
    )
    outcome = decide(backend, settings(600, verdicts=VerdictSettings(margin=5.0)), lambda line: None)
    assert REPEATS in {kind for kind, _, _ in backend.calls}
    decisions = pd.read_csv(folder / DECISIONS_FILE)
    assert REPEATS in set(decisions["lever"])
    assert list(outcome.decided.values()) == ["equivalent"] and decisions["cost_equal"].iloc[-1]


def test_continuing_keeps_the_plan_and_the_decided_rows(tmp_path: Path) -> None:
    backend = make_folder(tmp_path, {"small": 0.80, "big": 0.84, "tiny": 0.50})
    decide(backend, settings(0), lambda line: None)
    first = pd.read_csv(tmp_path / "run" / DECISIONS_FILE)
    assert first["look"].max() == 1
    # Continue with a budget: the plan (no budget) stands, so nothing more is bought or looked at.
    again = FakeBackend(tmp_path / "run", backend.accuracy, 0.0, 10.0)
    again.setup()
    outcome = decide(again, settings(600, verdicts=VerdictSettings(margin=3.0)), lambda line: None)
    after = pd.read_csv(tmp_path / "run" / DECISIONS_FILE)
    assert after.equals(first) and again.calls == [] and outcome.looks == 1
    tiny = after[(after["model_a"] == "tiny") | (after["model_b"] == "tiny")]
    assert (tiny["verdict"] != "inconclusive").all()  # 30 points and more: decided at once


def test_parse_budget() -> None:
    assert parse_budget("30m") == 1800 and parse_budget("1h30m") == 5400 and parse_budget("90") == 90
    assert parse_budget("45s") == 45
    for bad in ("soon", ""):
        with pytest.raises(BenchError):
            parse_budget(bad)


def test_runs_shorter_than_their_stamps_show_still_give_the_plan_seconds() -> None:
    """Start and end stamps are to the second: a run of 0.3 s can show none. Its wall seconds are
    then its training time, so the first look's share of alpha is never 0."""
    stamp = "2026-12-07T01:06:36+00:00"
    rows = pd.DataFrame({"started_at": [stamp], "finished_at": [stamp], "train_time_s": [0.3]})
    assert wall_seconds(rows) == pytest.approx(0.3)
    later = rows.assign(finished_at="2026-12-07T01:06:39+00:00")
    assert wall_seconds(later) == pytest.approx(3.0)
