"""`bench sweep`: search spaces, resume after a kill, two workers on one study, pruning, Pareto."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pandas as pd
import pytest
from click.testing import CliRunner
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState
from rich.console import Console

from bench.cli import main
from bench.config import RunConfig, SuiteConfig, SweepSettings, apply_overrides, load_suite
from bench.errors import BenchError
from bench.launch.storage import Worker
from bench.runs.executor import Executor
from bench.sweep.driver import cost_value, make_pruner, run_sweep
from bench.sweep.search_space import check_spaces, resolve_spaces
from bench.sweep.study import counted, mark_skipped, skip_reason

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "data" / "tiny_sweep.toml"
HOLDING = ROOT / "tests" / "holding.py"
QUIET = Console(quiet=True)


def sweep_args(out: Path, *extra: str) -> list[str]:
    return ["sweep", "--suite", str(TINY), "--model", "encoder", "--out", str(out), "-q", *extra]


def spawn(out: Path, *extra: str) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "bench", *sweep_args(out, *extra)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def spawn_held(out: Path, ready: Path, *extra: str) -> subprocess.Popen[bytes]:
    """A sweep that stops in the first training step of its second trial (tests/holding.py) and
    writes that trial's settings to `ready`; it is never released."""
    hold = [sys.executable, str(HOLDING), str(ready), str(out / "never-released"), "1", "--"]
    return subprocess.Popen(
        [*hold, *sweep_args(out, *extra)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


def load(out: Path, name: str) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=f"sqlite:///{out / 'study.db'}")


def tiny(**overrides: object) -> tuple[RunConfig, SuiteConfig]:
    suite = load_suite(str(TINY))
    return apply_overrides(suite, overrides, ("encoder",))[0], suite


# --- search spaces (no training) ---------------------------------------------------------------
def test_spaces_from_the_suite_and_inline() -> None:
    base, suite = tiny()
    declared = {s.name: s for s in resolve_spaces(["max_len", "lr", "dropout"], suite, "encoder")}
    assert declared["max_len"].distribution == CategoricalDistribution([16, 24, 32])
    assert declared["lr"].distribution == FloatDistribution(1e-4, 1e-2, log=True)
    assert declared["dropout"].option and declared["dropout"].values() == [0.0, 0.1, 0.2, 0.3]

    inline = resolve_spaces(
        ["max_len=64:512:64", "lr=1e-5:1e-3:log", "batch_size=8,16", "warmup_ratio=0:0.2"], suite, "encoder"
    )
    assert [s.distribution for s in inline] == [
        IntDistribution(64, 512, step=64),
        FloatDistribution(1e-5, 1e-3, log=True),
        CategoricalDistribution([8, 16]),
        FloatDistribution(0.0, 0.2),
    ]
    assert inline[0].values() == list(range(64, 513, 64))
    assert isinstance(make_pruner(False), optuna.pruners.NopPruner)
    assert cost_value({"cost_memory": 812.5, "cost_time": 3.0}, "memory") == 812.5
    with pytest.raises(BenchError, match="measured no memory"):
        cost_value({"cost_memory": None}, "memory")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("max_lne", "Did you mean 'max_len'"),
        ("max_len=64:abc", "'abc' is not a number"),
        ("max_len=16.5:32", "whole numbers"),
        ("lr=1e-3:1e-5", "lr"),
        ("lr=0:1e-3:log", "lr"),
        ("dataset=a,b", "only numeric run settings"),
        ("warmup_ratio", "No search space for 'warmup_ratio'"),
        ("max_len=1:2:3:4", "expected LOW:HIGH"),
    ],
)
def test_bad_specs_are_one_line_errors(spec: str, message: str) -> None:
    _, suite = tiny()
    with pytest.raises(BenchError, match=message) as info:
        resolve_spaces([spec], suite, "encoder")
    assert "\n" not in str(info.value)


def test_values_no_run_can_take_fail_before_training(tmp_path: Path) -> None:
    base, suite = tiny()
    spaces = resolve_spaces(["warmup_ratio=0:1"], suite, "encoder")
    with pytest.raises(BenchError, match="warmup_ratio"):
        check_spaces(base, spaces, Executor(tmp_path))
    with pytest.raises(BenchError, match="grid needs a finite space"):
        resolve_spaces(["lr"], suite, "encoder")[0].values()


def test_cli_reports_a_bad_param_in_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, sweep_args(tmp_path, "--param", "max_lne"))
    assert result.exit_code == 2
    assert result.output.startswith("bench: error: --param max_lne") and result.output.count("\n") == 1


# --- counting trials across workers (no training) ----------------------------------------------
def grid_study() -> optuna.Study:
    return optuna.create_study(sampler=optuna.samplers.GridSampler({"x": [1, 2, 3]}, seed=0))


def test_a_trial_beyond_the_total_is_skipped_and_gives_its_grid_point_back() -> None:
    study = grid_study()
    first, second = study.ask(), study.ask()  # two workers, each told that one trial is missing
    assert skip_reason(study, first.number, total=1) is None
    assert skip_reason(study, second.number, total=1) == "surplus"
    mark_skipped(second, "surplus")
    study.tell(second, state=TrialState.FAIL)
    assert counted(study) == (0, 0, 0, 1)  # the skipped trial counts for nothing, not even a failure

    points = [first.suggest_categorical("x", [1, 2, 3])]
    study.tell(first, 0.5)
    trial = study.ask()
    points.append(trial.suggest_categorical("x", [1, 2, 3]))
    study.tell(trial, 0.5)  # (telling the last one would stop the study, which only optimize allows)
    points.append(study.ask().suggest_categorical("x", [1, 2, 3]))
    assert sorted(points) == [1, 2, 3]  # the skipped trial's point was run after all


def test_a_grid_point_held_by_a_live_trial_is_not_run_twice() -> None:
    study = grid_study()
    trials = [study.ask() for _ in range(3)]
    for trial in trials:
        trial.suggest_categorical("x", [1, 2, 3])
    study.tell(trials[0], 0.5)
    study.tell(trials[1], 0.5)
    again = study.ask()  # the grid is exhausted but for the running trial, so Optuna picks it again
    assert again.suggest_categorical("x", [1, 2, 3]) == trials[2].params["x"]
    assert skip_reason(study, again.number, total=5) == "duplicate"
    assert skip_reason(study, trials[2].number, total=5) is None


def test_a_worker_is_dead_once_its_process_is_gone_or_its_pid_reused() -> None:
    here = Worker.this()
    assert not here.is_dead()
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    assert Worker(here.host, gone.pid, here.start).is_dead()
    assert Worker(here.host, gone.pid, "").is_dead()  # no start time recorded: the pid alone
    reused = Worker(here.host, here.pid, repr(float(here.start) - 3600))  # our pid, another start
    assert reused.is_dead()


# --- whole sweeps ------------------------------------------------------------------------------
def wait_for(path: Path, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    """Until `path` exists; an error with the child's output if it ends first."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"{path.name} never appeared:\n{proc.communicate()[0].decode()}")
        time.sleep(0.05)


def held_trial(out: Path, name: str, ready: Path) -> optuna.trial.FrozenTrial:
    """The trial the child was held in: trial 1, after a complete trial 0, with the settings it wrote."""
    trials = load(out, name).get_trials()
    held = trials[1]
    assert trials[0].state == TrialState.COMPLETE
    assert held.params["max_len"] == json.loads(ready.read_text())["max_len"]
    return held


def test_killed_sweep_resumes_to_exactly_n_trials(tmp_path: Path) -> None:
    name, grid, ready = "resume", "--param=max_len=16,24,32", tmp_path / "ready.json"
    proc = spawn_held(tmp_path, ready, grid, "--sampler", "grid", "--trials", "3", "--study", name)
    try:
        wait_for(ready, proc)  # trial 1 is in training
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
        proc.communicate()
    running = held_trial(tmp_path, name, ready)
    assert running.state == TrialState.RUNNING  # as a SIGKILL leaves it

    base, suite = tiny()
    settings = SweepSettings(("max_len",), trials=3, study=name, sampler="grid")
    outcome = run_sweep(base, suite, settings, tmp_path, QUIET)

    trials = outcome.study.get_trials()
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(complete) == 3
    assert sorted(t.params["max_len"] for t in complete) == [16, 24, 32]  # none repeated
    killed = next(t for t in trials if t.number == running.number)
    assert killed.state == TrialState.FAIL
    retry = [t for t in trials if t.system_attrs.get("failed_trial") == running.number]
    assert [(t.state, t.params) for t in retry] == [(TrialState.COMPLETE, killed.params)]
    assert killed.params == running.params
    table = pd.read_csv(tmp_path / "trials.csv")
    assert (table["state"] == "COMPLETE").sum() == 3
    assert table.loc[table["trial"] == retry[0].number, "retry_of"].item() == running.number
    rows = pd.read_csv(tmp_path / "results.csv")  # both workers' rows, merged
    assert sorted(rows.loc[rows["trial_state"] == "COMPLETE", "max_len"]) == [16, 24, 32]


def test_sigterm_fails_the_running_trial_and_enqueues_it_again(tmp_path: Path) -> None:
    """SIGTERM while a trial trains (a file handshake makes sure it does): the trial fails, and the
    same settings wait in the queue for the next call. Nothing is lost."""
    name, grid, ready = "term", "--param=max_len=16,24,32", tmp_path / "ready.json"
    proc = spawn_held(tmp_path, ready, grid, "--sampler", "grid", "--trials", "3", "--study", name)
    try:
        wait_for(ready, proc)  # trial 1 is in training
    finally:
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=60)[0].decode()
    assert proc.returncode == 128 + signal.SIGTERM, output
    running = held_trial(tmp_path, name, ready)
    trials = load(tmp_path, name).get_trials()
    assert running.state == TrialState.FAIL, output
    waiting = [t for t in trials if t.state == TrialState.WAITING]
    assert [(t.system_attrs["failed_trial"], t.params) for t in waiting] == [(running.number, running.params)]
    assert len(trials) == 3  # trial 2 is the retry: the grid's third value was never started


def test_two_workers_share_one_study(tmp_path: Path) -> None:
    args = ("--param", "max_len=16,20,24,28", "--sampler", "grid", "--trials", "4", "--study", "two")
    procs = [spawn(tmp_path, *args) for _ in range(2)]
    outputs = [p.communicate(timeout=120)[0].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs

    # Workers finishing together may each start one more trial; it is skipped, unrun and unlisted.
    trials = [t for t in load(tmp_path, "two").get_trials() if "skipped" not in t.user_attrs]
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 4
    assert len(pd.read_csv(tmp_path / "trials.csv")) == 4
    assert sorted(t.params["max_len"] for t in trials) == [16, 20, 24, 28]
    run_trials = []  # every trial any worker ran, from each worker's own results folder
    for results in tmp_path.glob("worker-*/results.csv"):  # none for a worker whose trials were skipped
        run_trials += pd.read_csv(results)["trial"].tolist()
    assert sorted(run_trials) == [0, 1, 2, 3]  # no trial run twice
    assert not list(tmp_path.glob("worker-*/.bench.lock"))  # each worker held its own folder, then let go


def test_pruned_trial_is_recorded_as_pruned(tmp_path: Path) -> None:
    base, suite = tiny(epochs=2)  # no accuracy reaches 1.01, so each trial is pruned after epoch 1
    settings = SweepSettings(("max_len=16,24",), trials=2, study="pruned", sampler="grid")
    outcome = run_sweep(base, suite, settings, tmp_path, QUIET, pruner=optuna.pruners.ThresholdPruner(1.01))

    trials = outcome.study.get_trials()
    assert [t.state for t in trials] == [TrialState.PRUNED] * 2
    assert all(list(t.intermediate_values) == [1] for t in trials)
    rows = pd.read_csv(outcome.worker_dir / "results.csv")
    assert rows["status"].tolist() == ["pruned"] * 2 and rows["trial_state"].tolist() == ["PRUNED"] * 2
    assert rows["truncated_train_share"].notna().all()
    assert not list(outcome.worker_dir.glob("checkpoints/*"))  # a pruned trial is never resumed
    assert pd.read_csv(tmp_path / "trials.csv")["state"].tolist() == ["PRUNED"] * 2


def test_pareto_csv_holds_only_non_dominated_trials(tmp_path: Path) -> None:
    base, suite = tiny()
    # Two identical runs score the same accuracy in different times, so one of them is dominated.
    study = optuna.create_study(
        storage=f"sqlite:///{tmp_path / 'study.db'}", study_name="front", directions=["maximize", "minimize"]
    )
    for _ in range(2):
        study.enqueue_trial({"max_len": 24})
    settings = SweepSettings(("max_len=8,16,24,32",), trials=5, study="front", objective="pareto")
    outcome = run_sweep(base, suite, settings, tmp_path, QUIET)

    table = pd.read_csv(tmp_path / "trials.csv")
    done = table[table["state"] == "COMPLETE"]
    assert len(done) == 5
    acc, cost = done["val_accuracy"].to_numpy(), done["cost_time"].to_numpy()  # the objectives
    dominated = [
        any(
            acc[j] >= acc[i] and cost[j] <= cost[i] and (acc[j], cost[j]) != (acc[i], cost[i])
            for j in range(5)
        )
        for i in range(5)
    ]
    front = pd.read_csv(tmp_path / "pareto.csv")
    assert sorted(front["trial"]) == sorted(done["trial"][[not d for d in dominated]])
    assert any(dominated) and len(front) < len(done)
    assert outcome.front is not None and sorted(outcome.front["trial"]) == sorted(front["trial"])
