"""The `bench sweep` loop: one executed run per Optuna trial, its objectives, and when to stop."""

from __future__ import annotations

import dataclasses
import math
import numbers
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import optuna
import pandas as pd
from optuna.storages import RDBStorage
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, Trial, TrialState
from rich.console import Console
from rich.table import Table

from bench.config import RunConfig, SuiteConfig, SweepSettings, apply_overrides, load_suite
from bench.costs.axes import axis_names, axis_value
from bench.errors import BenchError
from bench.formatting import fmt
from bench.launch.storage import Worker, open_storage, recover_dead_trials, retry_callback
from bench.modeling import MODELS, with_options
from bench.runs.checkpoint import checkpoint_dir, remove_checkpoint
from bench.runs.executor import Executor
from bench.runs.interrupts import exit_code, interruptible, signals_as_interrupts, take_pending
from bench.runs.lock import folder_lock
from bench.runs.recorder import Recorder
from bench.runs.train import EpochHook, EpochStats, Pruned
from bench.stats.intervals import accuracy_interval
from bench.sweep.outputs import (
    SweepProgress,
    status_line,
    summary_attrs,
    trials_table,
    write_outputs,
)
from bench.sweep.search_space import Space, check_spaces, resolve_spaces, trial_run
from bench.sweep.study import counted, mark_skipped, skip_reason

OBJECTIVES = ("accuracy", "pareto")
SAMPLERS = ("tpe", "random", "grid", "nsga2")
MAX_CONSECUTIVE_FAILURES = 3  # failed trials do not count towards --trials, so stop a hopeless sweep


# --- samplers and pruners ----------------------------------------------------------------------
def make_sampler(name: str, spaces: Sequence[Space], trials: int, seed: int) -> optuna.samplers.BaseSampler:
    startup = max(2, min(10, trials // 3))  # leave a short sweep some model-guided trials
    if name == "grid":
        # Seeded for a repeatable order; a point two workers pick at once is skipped (see skip_reason).
        return optuna.samplers.GridSampler({s.name: s.values() for s in spaces}, seed=seed)
    if name == "random":  # unseeded, like tpe and nsga2: workers sharing a study must not draw alike
        return optuna.samplers.RandomSampler()
    if name == "tpe":
        return optuna.samplers.TPESampler(n_startup_trials=startup)
    return optuna.samplers.NSGAIISampler(population_size=max(4, min(50, trials // 3)))


def make_pruner(prune: bool) -> optuna.pruners.BasePruner:
    return optuna.pruners.MedianPruner() if prune else optuna.pruners.NopPruner()


def pruning_hook(trial: Trial, epochs: int) -> EpochHook:
    def on_epoch(stats: EpochStats) -> None:
        assert stats.val is not None  # run_sweep refuses a sweep without a validation split
        trial.report(stats.val.accuracy, stats.epoch)  # never the test split: it is read for the report
        # Pruning after the last epoch would throw away a finished run, so never do that.
        if stats.epoch < epochs and trial.should_prune():
            raise Pruned(f"pruned after epoch {stats.epoch}")

    return on_epoch


# --- one trial ---------------------------------------------------------------------------------
class TrialFailed(Exception):
    """The run failed (the runner recorded it); Optuna marks the trial FAIL and the sweep goes on."""


class TrialSkipped(TrialFailed):
    """The trial would exceed --trials or repeat a grid point; it fails unrun and counts for nothing."""


def _plain(value: Any) -> Any:
    """A JSON-friendly copy of a row value, for Optuna's user attributes (NaN: not measured)."""
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    number = float(value)
    return None if math.isnan(number) else number


@dataclass
class Objective:
    """Runs one trial as one ordinary run, and tags its rows with study, trial and trial state."""

    base: RunConfig
    spaces: Sequence[Space]
    executor: Executor
    recorder: Recorder
    study_name: str
    costs: Sequence[str]  # empty: single-objective accuracy, with pruning
    worker: Worker
    total: int  # finished trials the study should hold, all workers together

    def __call__(self, trial: Trial) -> float | list[float]:
        reason = skip_reason(trial.study, trial.number, self.total)
        if reason:
            mark_skipped(trial, reason)
            if reason == "surplus":
                trial.study.stop()
            raise TrialSkipped(reason)
        w = self.worker
        folder = self.recorder.out.name  # the worker's folder (of this study, in a sweep across models)
        trial.set_user_attr("worker", {"host": w.host, "pid": w.pid, "start": w.start, "folder": folder})
        run = trial_run(self.base, self.spaces, {s.name: s.suggest(trial) for s in self.spaces})
        hook = None if self.costs else pruning_hook(trial, run.epochs)  # Optuna prunes single objectives only
        tags = {"study": self.study_name, "trial": trial.number}
        try:
            with interruptible():  # signals wait outside training, where Optuna updates its study
                row = self.executor.execute(run, tags, hook, sink=self.recorder).row
        except Pruned as exc:
            self._finish(trial, "PRUNED")
            raise optuna.TrialPruned(str(exc)) from None
        except KeyboardInterrupt:
            self._finish(trial, "FAIL")
            frozen = next(t for t in trial.study.get_trials(deepcopy=False) if t.number == trial.number)
            retry_callback()(trial.study, frozen)  # run it again when the sweep resumes
            raise
        if row["status"] != "ok":
            self._finish(trial, "FAIL")
            raise TrialFailed(row.get("error", "the run failed"))
        summary = self._finish(trial, "COMPLETE")
        if not self.costs:
            return float(summary["val_accuracy"])
        return [float(summary["val_accuracy"]), *(cost_value(summary, cost) for cost in self.costs)]

    def _finish(self, trial: Trial, state: str) -> dict[str, Any]:
        """Fill trial_state into the run's row (written before the state was known); summarise it."""
        rows = [r for r in self.recorder.rows if r.get("trial") == trial.number]
        row: dict[str, Any] = rows[-1] if rows else {}
        if row:  # absent when interrupted before the run began
            row["trial_state"] = state
            self.recorder.record(row)
            if state != "COMPLETE":  # a retry is a new trial with a new run_id: nothing would resume this
                remove_checkpoint(checkpoint_dir(self.executor.out, row["run_id"]))
        costs = {f"cost_{axis}": axis_value(row, axis) for axis in axis_names()} if row else {}
        summary = {key: _plain({**row, **costs}.get(key)) for key in summary_attrs()}
        for key, value in summary.items():
            trial.set_user_attr(key, value)
        return summary


def cost_value(summary: Mapping[str, Any], cost: str) -> float:
    """The --cost axis of a trial's summary (see bench.costs.axes)."""
    value = summary.get(f"cost_{cost}")
    if value is None:
        raise BenchError(f"--cost {cost}: the run measured no {cost} (are trackers off, or is it a CPU?).")
    return float(value)


# --- the sweep ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Part:
    """One model's study within a sweep across models (bench.sweep.across); all share one OUT."""

    label: str  # the model, as the display and each trial's line name it
    studies: Sequence[str]  # every study of the sweep: trials.csv holds them all
    overall: Callable[[], str] = field(default=lambda: "")  # the whole sweep's progress and time left


@dataclass
class SweepOutcome:
    study: optuna.Study
    out: Path
    worker_dir: Path
    trials: pd.DataFrame
    front: pd.DataFrame | None  # pareto.csv, for --objective pareto
    gave_up: bool  # stopped after MAX_CONSECUTIVE_FAILURES failed trials in a row


@dataclass
class _AfterTrial:
    """Optuna callback: report the trial, refresh the outputs, and stop at `total` trials.

    Optuna's MaxTrialsCallback counts finished trials only, so N workers would overshoot by up to
    N-1; counting trials running elsewhere as well stops them at `total` between them.
    """

    total: int
    storage: RDBStorage
    worker: Worker
    out: Path
    console: Console
    display: SweepProgress
    part: Part | None = None
    failures: int = 0
    gave_up: bool = False

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        if "skipped" in trial.user_attrs:
            return
        params = " ".join(
            f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in trial.params.items()
        )
        acc, cut = trial.user_attrs.get("val_accuracy"), trial.user_attrs.get("truncated_train_share")
        done, info = status_line(study, self.total)
        label, overall = (f"{self.part.label} ", f" · {self.part.overall()}") if self.part else ("", "")
        self.console.print(
            f"{label}trial {trial.number} {trial.state.name}: {params} · val acc {fmt(acc, 'pct')}% · "
            f"train cut {fmt(cut, 'pct')}% · {info}{overall}"
        )
        self.display.show(done, info)
        write_outputs(study, self.out, self.part.studies if self.part else ())
        self.failures = self.failures + 1 if trial.state == TrialState.FAIL else 0
        if self.failures >= MAX_CONSECUTIVE_FAILURES:
            self.gave_up = True
            self.console.print(f"Stopping: {self.failures} trials in a row failed (see results.csv).")
            study.stop()
        recover_dead_trials(study, self.storage, self.worker)
        complete, pruned, _, running = counted(study)
        if complete + pruned + running >= self.total:
            study.stop()


def default_study_name(suite: str, model: str, spaces: Sequence[Space], multi: bool) -> str:
    return "-".join([suite, model, *(s.name for s in spaces)] + (["pareto"] if multi else []))


def _check_settings(settings: SweepSettings) -> None:
    checks = [
        (settings.objective in OBJECTIVES, f"--objective must be one of {', '.join(OBJECTIVES)}"),
        (settings.sampler in (None, *SAMPLERS), f"--sampler must be one of {', '.join(SAMPLERS)}"),
        (set(settings.costs) <= set(axis_names()), f"--cost must be among {', '.join(axis_names())}"),
        (settings.trials >= 1, f"--trials must be at least 1, not {settings.trials}"),
        (settings.timeout is None or settings.timeout > 0, "--timeout must be positive"),
    ]
    for ok, message in checks:
        if not ok:
            raise BenchError(message + ".")


@dataclass(frozen=True)
class SweepPlan:
    """What a sweep will search, by what sampler, under which study name, towards how many trials."""

    spaces: list[Space]
    sampler_name: str
    costs: tuple[str, ...]  # the cost objectives of --objective pareto (none for accuracy)
    model_name: str  # the model's display name, one folder (hf:org/name: org-name)
    name: str  # the Optuna study's
    total: int  # finished trials to stop at: --trials, or the grid's size if smaller

    @property
    def objectives(self) -> list[str]:
        return ["val_accuracy", *(f"cost_{c}" for c in self.costs)]


def plan_sweep(base: RunConfig, suite: SuiteConfig, settings: SweepSettings) -> SweepPlan:
    """The sweep's plan, every setting checked before anything runs."""
    _check_settings(settings)
    if base.val_share <= 0 and "val=" not in base.dataset:
        raise BenchError(
            "A sweep chooses on the validation split, and val_share is 0: set --val-share above 0 "
            "(the test split is read for the report, never to choose)."
        )
    multi = settings.objective == "pareto"
    costs = tuple(dict.fromkeys(settings.costs or ("time",))) if multi else ()
    sampler_name = settings.sampler or ("nsga2" if multi else "tpe")
    spaces = resolve_spaces(settings.params, suite, base.model, grid=sampler_name == "grid")
    model_name = MODELS.get(base.model)(base).display_name.replace("/", "-")
    name = settings.study or default_study_name(suite.name, model_name, spaces, multi)
    grid_size = math.prod(len(s.values()) for s in spaces) if sampler_name == "grid" else 0
    total = min(settings.trials, grid_size or settings.trials)
    return SweepPlan(spaces, sampler_name, costs, model_name, name, total)


def open_study(
    plan: SweepPlan,
    storage: RDBStorage,
    sampler: optuna.samplers.BaseSampler,
    pruner: optuna.pruners.BasePruner,
) -> optuna.Study:
    """The plan's study in `storage`, created or joined; refused when it exists with other objectives."""
    study = optuna.create_study(
        storage=storage,
        study_name=plan.name,
        sampler=sampler,
        pruner=pruner,
        directions=[StudyDirection.MAXIMIZE] + [StudyDirection.MINIMIZE] * len(plan.costs),
        load_if_exists=True,
    )
    if study.user_attrs.setdefault("objectives", plan.objectives) != plan.objectives:
        raise BenchError(
            f"Study {plan.name!r} already exists with objectives {study.user_attrs['objectives']}, not "
            f"{plan.objectives}; give another --study or the same --objective and --cost."
        )
    study.set_user_attr("objectives", plan.objectives)
    return study


def run_sweep(
    base: RunConfig,
    suite: SuiteConfig,
    settings: SweepSettings,
    out: Path | None = None,
    console: Console | None = None,
    pruner: optuna.pruners.BasePruner | None = None,  # default: median, or none with prune=False
    part: Part | None = None,  # one model's study of a sweep across models
) -> SweepOutcome:
    """Run this worker's share of the study until it holds `settings.trials` finished trials."""
    plan = plan_sweep(base, suite, settings)
    console = console or Console(stderr=True)
    out = out or Path("reports") / f"sweep-{plan.name}"
    out.mkdir(parents=True, exist_ok=True)
    worker = Worker.this()
    display = SweepProgress(
        console, plan.total, part.label if part else "trials", part.overall if part else None
    )
    folder = out / (
        worker.folder + (f"-{plan.model_name}" if part else "")
    )  # a folder per study: one writer each
    executor = Executor(
        folder,
        progress=display,
        log=console.print,
        resume_hint="the same bench sweep command (the trial is queued again)",
    )
    recorder = Recorder(folder)
    check_spaces(base, plan.spaces, executor)

    storage = open_storage(settings.storage or f"sqlite:///{(out / 'study.db').resolve()}")
    sampler = make_sampler(plan.sampler_name, plan.spaces, settings.trials, base.seed)
    study = open_study(plan, storage, sampler, pruner or make_pruner(settings.prune and not plan.costs))
    recovered = recover_dead_trials(study, storage, worker)
    complete, pruned, failed, running = counted(study)
    console.print(
        f"Study {plan.name}: {complete} complete, {pruned} pruned, {failed} failed, {running} running"
        + (f" (retrying interrupted trial(s) {recovered})" if recovered else "")
        + f"; sweeping {'; '.join(map(str, plan.spaces))} with {plan.sampler_name} to {settings.trials} "
        f"finished trials. This worker writes {recorder.out}."
    )
    if plan.total < settings.trials:
        console.print(f"The grid holds {plan.total} points; the sweep stops there.")
    if plan.costs and settings.prune:
        console.print("Pruning is off: Optuna prunes single-objective studies only.")

    after = _AfterTrial(plan.total, storage, worker, out, console, display, part)
    try:
        if complete + pruned + running < plan.total:
            objective = Objective(
                base, plan.spaces, executor, recorder, plan.name, plan.costs, worker, plan.total
            )
            # This worker's own folder only: workers share OUT, and each writes its own rows.
            with folder_lock(recorder.out), display:
                spaces_text = [str(s) for s in plan.spaces]
                recorder.write_env(
                    {"sweep": {**dataclasses.asdict(settings), "study": plan.name, "spaces": spaces_text}}
                )
                display.show(*status_line(study, plan.total))
                try:
                    study.optimize(
                        objective, timeout=settings.timeout, catch=(TrialFailed,), callbacks=[after]
                    )
                finally:
                    recorder.compact()
    finally:  # also when interrupted, so trials.csv shows what is done
        trials, front = write_outputs(study, out, part.studies if part else ())
    return SweepOutcome(study, out, recorder.out, trials, front, after.gave_up)


def summary(outcome: SweepOutcome, params: Sequence[str]) -> list[Table | str]:
    """What `bench sweep` prints at the end: the best trials or the Pareto set, and the files."""
    study, frame = outcome.study, outcome.trials
    files = f"{outcome.out / 'trials.csv'}" + (
        f", {outcome.out / 'pareto.csv'}" if outcome.front is not None else ""
    )
    if frame.empty or not (frame["state"] == "COMPLETE").any():
        return [f"No trial completed yet. Trials: {files}"]
    if outcome.front is not None:
        front = outcome.front.sort_values("val_accuracy", ascending=False)
        return [trials_table(front, params, f"Pareto set of {study.study_name}"), f"Written: {files}"]
    best = study.best_trial
    top = frame[frame["state"] == "COMPLETE"].sort_values("val_accuracy", ascending=False).head(10)
    settings = ", ".join(f"{k}={v}" for k, v in best.params.items())
    return [
        trials_table(top, params, f"Best trials of {study.study_name} (by validation accuracy)"),
        f"Best on validation: trial {best.number}, {fmt(best.value, 'pct')}%, with {settings}. "
        + confirmation(best.user_attrs),
        f"Written: {files}",
    ]


def confirmation(attrs: Mapping[str, Any]) -> str:
    """The chosen trial's test accuracy, read once, with its 95% Wilson interval."""
    accuracy, n = attrs.get("test_accuracy"), attrs.get("n_test")
    if accuracy is None or not n:
        return ""
    low, high = accuracy_interval(round(accuracy * n), int(n))
    return (
        f"Its test accuracy, read once for the report: {fmt(accuracy, 'pct')}% "
        f"(95% CI {fmt(low, 'pct')}–{fmt(high, 'pct')}%, {int(n)} reviews)."
    )


_Outcome = TypeVar("_Outcome")


def interrupts_said(sweep: Callable[[], _Outcome]) -> _Outcome | int:
    """`sweep()` with signals held back out of Optuna's bookkeeping: what it returns, or, when it
    was interrupted, the exit code, once the user is told how to resume."""
    with signals_as_interrupts(defer=True):
        try:
            outcome = sweep()
            late = take_pending()  # a signal after the last trial's training
            if late is not None:
                raise late
        except KeyboardInterrupt as exc:
            # Optuna has marked the running trial FAIL; the Objective enqueued it again.
            print("bench: sweep interrupted; run the same command again to resume.", file=sys.stderr)
            return exit_code(exc)
    return outcome


def sweep_command(
    suite_name: str,
    model: str,
    overrides: Mapping[str, Any],
    settings: SweepSettings,
    out: Path | None,
    quiet: bool,
    options: Sequence[str] = (),
) -> int:
    """`bench sweep`; the exit code: 1 when it gave up on failing trials, 130/143 when interrupted.
    `options` are --option NAME=VALUE settings of the model, fixed for every trial."""

    optuna.logging.set_verbosity(
        optuna.logging.ERROR
    )  # the runner logs failures; Optuna's lines break the display
    suite = load_suite(suite_name)
    base = with_options(apply_overrides(suite, overrides, (model,))[0], options)
    console = Console(stderr=True, quiet=quiet)
    outcome = interrupts_said(lambda: run_sweep(base, suite, settings, out, console))
    if isinstance(outcome, int):
        return outcome
    stdout = Console()
    for part in summary(outcome, [p.partition("=")[0].strip() for p in settings.params]):
        stdout.print(part)
    return 1 if outcome.gave_up else 0
