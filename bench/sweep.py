"""Optuna sweeps built on the ordinary runner: one `Runner.run` per trial, studies in RDB storage."""

from __future__ import annotations

import dataclasses
import math
import numbers
import os
import socket
import sys
import time
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, Trial, TrialState
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from bench.checkpoint import checkpoint_dir, remove_checkpoint
from bench.config import RUN_FIELDS, RunConfig, SuiteConfig, apply_overrides, coerce, load_suite
from bench.console import fmt
from bench.errors import BenchError
from bench.modeling import MODELS, load_models
from bench.results import (
    EPOCHS_FILE,
    PREDICTIONS_FILE,
    RESULT_COLUMNS,
    RESULTS_FILE,
    atomic_write_text,
    write_csv,
)
from bench.runner import Runner, one_line
from bench.train import EpochHook, EpochStats

OBJECTIVES = ("accuracy", "pareto")
SAMPLERS = ("tpe", "random", "grid", "nsga2")
COST_COLUMNS = {"time": "train_time_s", "memory": "peak_memory_mib", "params": "params_total"}
SUMMARY_ATTRS = (
    "run_id",
    "status",
    "test_accuracy",
    *COST_COLUMNS.values(),
    "truncated_train_share",
    "truncated_test_share",
)
HEARTBEAT_S, GRACE_S = 30, 120  # how soon a trial of a dead worker on another machine is retried
MAX_RETRIES = 2  # a trial that kills its worker every time must not be retried for ever
MAX_CONSECUTIVE_FAILURES = 3  # failed trials do not count towards --trials, so stop a hopeless sweep


@dataclass(frozen=True)
class SweepSettings:
    """What `bench sweep` was asked for, apart from the run settings and the output folder."""

    params: tuple[str, ...]  # NAME or NAME=SPEC, as given to --param
    trials: int = 10  # finished (complete or pruned) trials the study should hold in total
    study: str | None = None
    storage: str | None = None
    objective: str = "accuracy"
    costs: tuple[str, ...] = ("time",)  # minimised next to accuracy when objective is pareto
    sampler: str | None = None  # default: tpe for accuracy, nsga2 for pareto
    timeout: float | None = None
    prune: bool = True


# --- search spaces -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Space:
    """One swept setting: a RunConfig field or a model option, with Optuna's distribution."""

    name: str
    distribution: BaseDistribution
    option: bool  # True: a key of RunConfig.options (e.g. dropout)

    def suggest(self, trial: Trial) -> Any:
        d = self.distribution
        if isinstance(d, IntDistribution):
            return trial.suggest_int(self.name, d.low, d.high, step=d.step, log=d.log)
        if isinstance(d, FloatDistribution):
            return trial.suggest_float(self.name, d.low, d.high, step=d.step, log=d.log)
        assert isinstance(d, CategoricalDistribution)
        return trial.suggest_categorical(self.name, d.choices)

    def values(self) -> list[Any]:
        """Every value of a finite space (for the grid sampler and for checking the extremes)."""
        d = self.distribution
        if isinstance(d, CategoricalDistribution):
            return list(d.choices)
        if isinstance(d, IntDistribution) and not d.log:
            return list(range(d.low, d.high + 1, d.step))
        if isinstance(d, FloatDistribution) and d.step is not None:
            n = round((d.high - d.low) / d.step)
            return [float(f"{d.low + i * d.step:.12g}") for i in range(n + 1)]  # no 0.30000000000000004
        raise BenchError(f"--sampler grid needs a finite space for {self.name!r}: A,B,C or LOW:HIGH:STEP.")

    def extremes(self) -> list[Any]:
        d = self.distribution
        if isinstance(d, CategoricalDistribution):
            return list(d.choices)
        assert isinstance(d, IntDistribution | FloatDistribution)
        return [d.low, d.high]

    def __str__(self) -> str:
        d = self.distribution
        if isinstance(d, CategoricalDistribution):
            return f"{self.name} in {list(d.choices)}"
        assert isinstance(d, IntDistribution | FloatDistribution)
        extra = " log" if d.log else f" step {d.step}" if d.step else ""
        return f"{self.name} in [{d.low}, {d.high}]{extra}"


def _kind(name: str, model: str) -> tuple[str, bool]:
    """(int, float, bool or str; whether it is a model option) of a sweepable setting."""
    if name in RUN_FIELDS:
        kind = str(RUN_FIELDS[name].type).split(" ")[0]
        if kind not in ("int", "float"):
            raise BenchError(f"--param {name}: only numeric run settings can be swept, and {name} is {kind}.")
        return kind, False
    options = {f.name: str(f.type).split(" ")[0] for f in dataclasses.fields(MODELS.get(model).Params)}
    if name in options:
        return options[name], True
    numeric = [n for n, f in RUN_FIELDS.items() if str(f.type).startswith(("int", "float"))]
    from difflib import get_close_matches

    close = get_close_matches(name, numeric + list(options), n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise BenchError(
        f"--param {name}: neither a numeric run setting nor an option of {model!r}.{hint} "
        f"Options of {model}: {', '.join(options)}."
    )


def _parse_value(name: str, text: str, kind: str) -> Any:
    text = text.strip()
    if kind == "bool" and text.lower() in ("true", "false"):
        return text.lower() == "true"
    if kind == "str":
        return text
    try:
        number = float(text)
    except ValueError:
        raise BenchError(f"--param {name}: {text!r} is not a number.") from None
    if kind == "int":
        if not number.is_integer():
            raise BenchError(f"--param {name}: {name} takes whole numbers, not {text}.")
        return int(number)
    return number


def _spec_table(name: str, spec: str | Mapping[str, Any], kind: str) -> dict[str, Any]:
    """An inline spec (LOW:HIGH, LOW:HIGH:STEP, LOW:HIGH:log, A,B,C) as the TOML table it stands for."""
    if not isinstance(spec, str):
        unknown = set(spec) - {"low", "high", "step", "log", "choices"}
        if unknown:
            raise BenchError(
                f"[sweep.{name}]: unknown key(s) {sorted(unknown)}; use low, high, step, log or choices."
            )
        return dict(spec)
    if ":" not in spec:
        return {"choices": [_parse_value(name, part, kind) for part in spec.split(",") if part.strip()]}
    parts = spec.split(":")
    if len(parts) not in (2, 3):
        raise BenchError(f"--param {name}={spec}: expected LOW:HIGH, LOW:HIGH:STEP or LOW:HIGH:log.")
    table: dict[str, Any] = {
        "low": _parse_value(name, parts[0], kind),
        "high": _parse_value(name, parts[1], kind),
    }
    if len(parts) == 3:
        if parts[2].strip().lower() == "log":
            table["log"] = True
        else:
            table["step"] = _parse_value(name, parts[2], kind)
    return table


def parse_space(name: str, spec: str | Mapping[str, Any], model: str) -> Space:
    """One search space from the suite's [sweep.NAME] table or an inline --param NAME=SPEC."""
    kind, option = _kind(name, model)
    table = _spec_table(name, spec, kind)
    where = f"--param {name}"
    try:
        if "choices" in table:
            if set(table) != {"choices"} or not isinstance(table["choices"], list) or not table["choices"]:
                raise BenchError(f"{where}: give either a non-empty list of choices or low and high.")
            choices = [coerce(name, v, where) if not option else v for v in table["choices"]]
            return Space(name, CategoricalDistribution(choices), option)
        if kind not in ("int", "float") or "low" not in table or "high" not in table:
            raise BenchError(f"{where}: a range needs low and high, and {name} must be numeric.")
        low, high = table["low"], table["high"]
        step, log = table.get("step"), bool(table.get("log", False))
        if kind == "int":
            if not all(isinstance(v, int) and not isinstance(v, bool) for v in (low, high, step or 1)):
                raise BenchError(f"{where}: {name} takes whole numbers.")
            return Space(name, IntDistribution(low, high, log=log, step=step or 1), option)
        step = None if step is None else float(step)
        return Space(name, FloatDistribution(float(low), float(high), log=log, step=step), option)
    except (ValueError, TypeError) as exc:  # Optuna's own checks: low <= high, log needs low > 0, ...
        raise BenchError(f"{where}: {exc}") from None


def resolve_spaces(specs: Sequence[str], suite: SuiteConfig, model: str) -> list[Space]:
    """The spaces named by --param, from inline specs or else the suite's [sweep] table."""
    load_models()
    spaces: dict[str, Space] = {}
    for text in specs:
        name, has_spec, inline = (part.strip() for part in text.partition("="))
        if name in spaces:
            raise BenchError(f"--param {name} is given twice.")
        _kind(name, model)  # an unknown name says so, rather than that the suite lacks its space
        if has_spec:
            spaces[name] = parse_space(name, inline, model)
        elif name in suite.sweep:
            spaces[name] = parse_space(name, suite.sweep[name], model)
        else:
            declared = ", ".join(suite.sweep) or "none"
            raise BenchError(
                f"No search space for {name!r} in {suite.source or suite.name} (it declares: {declared}); "
                f"give one inline: --param {name}=LOW:HIGH[:STEP|:log] or --param {name}=A,B,C."
            )
    if not spaces:
        raise BenchError("Give at least one --param to sweep, e.g. --param max_len.")
    return list(spaces.values())


def trial_run(base: RunConfig, spaces: Sequence[Space], values: Mapping[str, Any]) -> RunConfig:
    fields = {s.name: values[s.name] for s in spaces if not s.option}
    options = {**base.options, **{s.name: values[s.name] for s in spaces if s.option}}
    return dataclasses.replace(base, **fields, options=options).validate()


def check_spaces(base: RunConfig, spaces: Sequence[Space], runner: Runner) -> None:
    """Fail before the first trial on values no run can take (e.g. warmup_ratio 1.0, a bad option)."""
    runs = [base]
    for space in spaces:
        for value in space.extremes():
            try:
                runs.append(trial_run(base, [space], {space.name: value}))
            except BenchError as exc:
                raise BenchError(f"--param {space.name}: {exc}") from None
    runner.check(runs)


# --- workers and storage -----------------------------------------------------------------------
def _start_ticks(pid: int) -> str | None:
    """A process's start time (Linux /proc), which tells a live worker from a reused pid; None: gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    state, *rest = stat.rsplit(")", 1)[1].split()
    return None if state in ("Z", "X") else rest[18]


@dataclass(frozen=True)
class Worker:
    """This process, as recorded on each trial it runs; its results go to its own folder."""

    host: str
    pid: int
    start: str

    @classmethod
    def this(cls) -> Worker:
        return cls(socket.gethostname(), os.getpid(), _start_ticks(os.getpid()) or "")

    @property
    def folder(self) -> str:
        host = "".join(c if c.isalnum() or c in "-_" else "_" for c in self.host.split(".")[0])
        return f"worker-{host}-{self.pid}"

    def is_dead(self) -> bool:
        if self.start:  # Linux: compare start times, so a reused pid does not look alive
            return _start_ticks(self.pid) != self.start
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            pass
        return False


def retry_callback() -> RetryHeartbeatStaleTrialCallback:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRIES)


def open_storage(url: str, attempts: int = 3) -> RDBStorage:
    """Optuna's RDB storage with heartbeats, so trials of dead workers elsewhere are failed and retried."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import IntegrityError, OperationalError

    shown = url
    error: Exception | None = None
    for attempt in range(attempts):
        try:
            shown = make_url(url).render_as_string(hide_password=True)
            engine_kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return RDBStorage(
                    url,
                    engine_kwargs=engine_kwargs,
                    heartbeat_interval=HEARTBEAT_S,
                    grace_period=GRACE_S,
                    heartbeat_stale_trial_callback=retry_callback(),
                )
        except (IntegrityError, OperationalError) as exc:  # workers started together race to make tables
            error = exc
            time.sleep(1.0 + attempt)
        except Exception as exc:  # bad URL, missing driver: the user's to fix
            error = exc
            break
    assert error is not None
    raise BenchError(f"Cannot open the study storage {shown}: {one_line(error)}")


def recover_dead_trials(study: optuna.Study, storage: RDBStorage, here: Worker) -> list[int]:
    """Fail and re-enqueue RUNNING trials of dead workers on this host, at once.

    The heartbeat does the same for any host, but only after its grace period; a sweep restarted
    right after a kill would otherwise count the dead trial as running and stop one short.
    """
    study_id = storage.get_study_id_from_name(study.study_name)
    recovered = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        info = trial.user_attrs.get("worker") or {}
        if info.get("host") != here.host or not Worker(here.host, info["pid"], info["start"]).is_dead():
            continue
        trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, trial.number)
        try:
            if not storage.set_trial_state_values(trial_id, TrialState.FAIL):
                continue
        except optuna.exceptions.UpdateFinishedTrialError:
            continue  # another worker failed it first, and re-enqueued it
        retry_callback()(study, storage.get_trial(trial_id))
        recovered.append(trial.number)
    return recovered


def counted(study: optuna.Study) -> tuple[int, int, int, int]:
    """(complete, pruned, failed, running) trials in the whole study, all workers together."""
    n = Counter(t.state for t in study.get_trials(deepcopy=False))
    return n[TrialState.COMPLETE], n[TrialState.PRUNED], n[TrialState.FAIL], n[TrialState.RUNNING]


# --- samplers and pruners ----------------------------------------------------------------------
def make_sampler(name: str, spaces: Sequence[Space], trials: int, seed: int) -> optuna.samplers.BaseSampler:
    startup = max(2, min(10, trials // 3))  # leave a short sweep some model-guided trials
    if name == "grid":
        # The same seed in every worker gives them one grid order, so they do not pick the same points.
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
        trial.report(stats.test.accuracy, stats.epoch)
        # Pruning after the last epoch would throw away a finished run, so never do that.
        if stats.epoch < epochs and trial.should_prune():
            raise optuna.TrialPruned(f"pruned after epoch {stats.epoch}")

    return on_epoch


# --- one trial ---------------------------------------------------------------------------------
class TrialFailed(Exception):
    """The run failed (the runner recorded it); Optuna marks the trial FAIL and the sweep goes on."""


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
    runner: Runner
    study_name: str
    costs: Sequence[str]  # empty: single-objective accuracy, with pruning
    worker: Worker

    def __call__(self, trial: Trial) -> float | list[float]:
        w = self.worker
        trial.set_user_attr("worker", {"host": w.host, "pid": w.pid, "start": w.start, "folder": w.folder})
        run = trial_run(self.base, self.spaces, {s.name: s.suggest(trial) for s in self.spaces})
        hook = None if self.costs else pruning_hook(trial, run.epochs)  # Optuna prunes single objectives only
        tags = {"study": self.study_name, "trial": trial.number}
        try:
            row = self.runner.run(run, tags=tags, on_epoch=hook)
        except optuna.TrialPruned:
            self._finish(trial, "PRUNED")
            raise
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
            return float(summary["test_accuracy"])
        return [float(summary["test_accuracy"]), *(cost_value(summary, cost) for cost in self.costs)]

    def _finish(self, trial: Trial, state: str) -> dict[str, Any]:
        """Fill trial_state into the runner's row (written before the state was known); summarise it."""
        rows = [r for r in self.runner.results if r.get("trial") == trial.number]
        row: dict[str, Any] = rows[-1] if rows else {}
        if row:  # absent when interrupted before the run began
            row["trial_state"] = state
            write_csv(self.runner.out / RESULTS_FILE, self.runner.results, RESULT_COLUMNS)
            if state != "COMPLETE":  # a retry is a new trial with a new run_id: nothing would resume this
                remove_checkpoint(checkpoint_dir(self.runner.out, row["run_id"]))
        on_gpu = str(row.get("device", "cpu")) != "cpu"
        memory = row.get("peak_gpu_mem_nvml_mib") if on_gpu else row.get("peak_rss_mib")
        summary = {key: _plain({**row, "peak_memory_mib": memory}.get(key)) for key in SUMMARY_ATTRS}
        for key, value in summary.items():
            trial.set_user_attr(key, value)
        return summary


def cost_value(summary: Mapping[str, Any], cost: str) -> float:
    """The --cost axis of a trial's summary (memory: GPU peak on a GPU, else peak RSS)."""
    value = summary.get(COST_COLUMNS[cost])
    if value is None:
        raise BenchError(f"--cost {cost}: the run measured no {COST_COLUMNS[cost]} (are trackers off?).")
    return float(value)


# --- progress and outputs ----------------------------------------------------------------------
class SweepProgress:
    """One live display: the study's trials (done, pruned, failed, best) and the running epoch.

    It is the runner's ProgressSink too, because rich allows one live display at a time.
    """

    def __init__(self, console: Console, total: int) -> None:
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[info]}"),
            console=console,
            transient=True,
        )
        self._trials = self._progress.add_task("trials", total=total, info="")
        self._epoch: TaskID | None = None

    def __enter__(self) -> SweepProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def show(self, done: int, info: str) -> None:
        self._progress.update(self._trials, completed=done, info=info)

    def start(self, description: str, total: int) -> None:
        self.stop()
        self._epoch = self._progress.add_task(description, total=total, info="")

    def advance(self, n: int = 1) -> None:
        if self._epoch is not None:
            self._progress.advance(self._epoch, n)

    def stop(self) -> None:
        if self._epoch is not None:
            self._progress.remove_task(self._epoch)
            self._epoch = None


def trials_frame(study: optuna.Study) -> pd.DataFrame:
    """trials.csv: one row per trial of the study (all workers), with its cost and truncation."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        # A retry carries its failed original's attributes until it finishes: show only who runs it.
        running = {"worker": t.user_attrs.get("worker")} if t.state == TrialState.RUNNING else {}
        attrs = t.user_attrs if t.state.is_finished() else running
        rows.append(
            {
                "trial": t.number,
                "state": t.state.name,
                **t.params,
                **{key: attrs.get(key) for key in SUMMARY_ATTRS if key not in ("run_id", "status")},
                "duration_s": t.duration.total_seconds() if t.duration else None,
                "retry_of": t.system_attrs.get("failed_trial"),
                "worker": (attrs.get("worker") or {}).get("folder"),
                "run_id": attrs.get("run_id"),
            }
        )
    return pd.DataFrame(rows)


def merge_workers(out: Path) -> None:
    """OUT/results.csv etc.: the rows of every worker folder, so `bench report OUT` sees the whole study."""
    for name in (RESULTS_FILE, EPOCHS_FILE, PREDICTIONS_FILE):
        files = [p for p in sorted(out.glob(f"worker-*/{name}")) if p.stat().st_size]
        if files:
            frame = pd.concat([pd.read_csv(p) for p in files], ignore_index=True)
            atomic_write_text(out / name, frame.to_csv(index=False))


def write_outputs(study: optuna.Study, out: Path) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """trials.csv, and pareto.csv (only the non-dominated trials) for a multi-objective study."""
    frame = trials_frame(study)
    atomic_write_text(out / "trials.csv", frame.to_csv(index=False))
    merge_workers(out)
    if len(study.directions) == 1 or frame.empty:
        return frame, None
    front = frame[frame["trial"].isin({t.number for t in study.best_trials})]
    atomic_write_text(out / "pareto.csv", front.to_csv(index=False))
    return frame, front


def trials_table(frame: pd.DataFrame, params: Sequence[str], title: str) -> Table:
    columns = [
        ("trial", "trial", ""),
        *((p, p, "") for p in params),
        ("state", "state", ""),
        ("test_accuracy", "test acc", "pct"),
        ("train_time_s", "train s", "s"),
        ("peak_memory_mib", "peak MiB", "s"),
        ("params_total", "params", "int"),
        ("truncated_train_share", "cut train", "pct"),
        ("truncated_test_share", "cut test", "pct"),
    ]
    table = Table(title=title)
    for _, header, kind in columns:
        table.add_column(header, justify="right" if kind else "left")
    for row in frame.to_dict("records"):
        table.add_row(*(fmt(row.get(key), kind) for key, _, kind in columns))
    return table


def _status_line(study: optuna.Study, total: int) -> tuple[int, str]:
    complete, pruned, failed, _ = counted(study)
    best = "–"
    if complete and len(study.directions) == 1:
        best = fmt(study.best_value, "pct")
    elif complete:
        best = f"{len(study.best_trials)} on the front"
    return (
        complete + pruned,
        f"done {complete + pruned}/{total} · pruned {pruned} · failed {failed} · best {best}",
    )


# --- the sweep ---------------------------------------------------------------------------------
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
    failures: int = 0
    gave_up: bool = False

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        params = " ".join(
            f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in trial.params.items()
        )
        acc, cut = trial.user_attrs.get("test_accuracy"), trial.user_attrs.get("truncated_train_share")
        done, info = _status_line(study, self.total)
        self.console.print(
            f"trial {trial.number} {trial.state.name}: {params} · acc {fmt(acc, 'pct')} · "
            f"train cut {fmt(cut, 'pct')} · {info}"
        )
        self.display.show(done, info)
        write_outputs(study, self.out)
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
        (set(settings.costs) <= set(COST_COLUMNS), f"--cost must be among {', '.join(COST_COLUMNS)}"),
        (settings.trials >= 1, f"--trials must be at least 1, not {settings.trials}"),
        (settings.timeout is None or settings.timeout > 0, "--timeout must be positive"),
    ]
    for ok, message in checks:
        if not ok:
            raise BenchError(message + ".")


def run_sweep(
    base: RunConfig,
    suite: SuiteConfig,
    settings: SweepSettings,
    out: Path | None = None,
    console: Console | None = None,
    pruner: optuna.pruners.BasePruner | None = None,  # default: median, or none with prune=False
) -> SweepOutcome:
    """Run this worker's share of the study until it holds `settings.trials` finished trials."""
    _check_settings(settings)
    console = console or Console(stderr=True)
    spaces = resolve_spaces(settings.params, suite, base.model)
    multi = settings.objective == "pareto"
    costs = tuple(dict.fromkeys(settings.costs or ("time",))) if multi else ()
    sampler_name = settings.sampler or ("nsga2" if multi else "tpe")
    sampler = make_sampler(sampler_name, spaces, settings.trials, base.seed)
    name = settings.study or default_study_name(suite.name, base.model, spaces, multi)
    out = out or Path("reports") / f"sweep-{name}"
    out.mkdir(parents=True, exist_ok=True)
    worker = Worker.this()
    display = SweepProgress(console, settings.trials)
    runner = Runner(out / worker.folder, progress=display, log=console.print)
    check_spaces(base, spaces, runner)

    storage = open_storage(settings.storage or f"sqlite:///{(out / 'study.db').resolve()}")
    objectives = ["test_accuracy", *(COST_COLUMNS[c] for c in costs)]
    study = optuna.create_study(
        storage=storage,
        study_name=name,
        sampler=sampler,
        pruner=pruner or make_pruner(settings.prune and not multi),
        directions=[StudyDirection.MAXIMIZE] + [StudyDirection.MINIMIZE] * len(costs),
        load_if_exists=True,
    )
    if study.user_attrs.setdefault("objectives", objectives) != objectives:
        raise BenchError(
            f"Study {name!r} already exists with objectives {study.user_attrs['objectives']}, not "
            f"{objectives}; give another --study or the same --objective and --cost."
        )
    study.set_user_attr("objectives", objectives)
    recovered = recover_dead_trials(study, storage, worker)
    complete, pruned, failed, running = counted(study)
    console.print(
        f"Study {name}: {complete} complete, {pruned} pruned, {failed} failed, {running} running"
        + (f" (retrying interrupted trial(s) {recovered})" if recovered else "")
        + f"; sweeping {'; '.join(map(str, spaces))} with {sampler_name} to {settings.trials} "
        f"finished trials. This worker writes {runner.out}."
    )
    grid_size = math.prod(len(s.values()) for s in spaces) if sampler_name == "grid" else 0
    if 0 < grid_size < settings.trials:
        console.print(f"The grid holds {grid_size} points; the sweep stops there.")
    if multi and settings.prune:
        console.print("Pruning is off: Optuna prunes single-objective studies only.")

    after = _AfterTrial(settings.trials, storage, worker, out, console, display)
    try:
        if complete + pruned + running < settings.trials:
            runner.out.mkdir(parents=True, exist_ok=True)
            spaces_text = [str(s) for s in spaces]
            runner.write_env(
                {"sweep": {**dataclasses.asdict(settings), "study": name, "spaces": spaces_text}}
            )
            objective = Objective(base, spaces, runner, name, costs, worker)
            with display:
                display.show(*_status_line(study, settings.trials))
                study.optimize(objective, timeout=settings.timeout, catch=(TrialFailed,), callbacks=[after])
    finally:  # also when interrupted, so trials.csv shows what is done
        trials, front = write_outputs(study, out)
    return SweepOutcome(study, out, runner.out, trials, front, after.gave_up)


def summary(outcome: SweepOutcome, params: Sequence[str]) -> list[Table | str]:
    """What `bench sweep` prints at the end: the best trials or the Pareto set, and the files."""
    study, frame = outcome.study, outcome.trials
    files = f"{outcome.out / 'trials.csv'}" + (
        f", {outcome.out / 'pareto.csv'}" if outcome.front is not None else ""
    )
    if frame.empty or not (frame["state"] == "COMPLETE").any():
        return [f"No trial completed yet. Trials: {files}"]
    if outcome.front is not None:
        front = outcome.front.sort_values("test_accuracy", ascending=False)
        return [trials_table(front, params, f"Pareto set of {study.study_name}"), f"Written: {files}"]
    best = study.best_trial
    top = frame[frame["state"] == "COMPLETE"].sort_values("test_accuracy", ascending=False).head(10)
    settings = ", ".join(f"{k}={v}" for k, v in best.params.items())
    return [
        trials_table(top, params, f"Best trials of {study.study_name}"),
        f"Best: trial {best.number}, test accuracy {fmt(best.value, 'pct')}, with {settings}.",
        f"Written: {files}",
    ]


def sweep_command(
    suite_name: str,
    model: str,
    overrides: Mapping[str, Any],
    settings: SweepSettings,
    out: Path | None,
    quiet: bool,
) -> int:
    """`bench sweep`; the exit code: 1 when it gave up on failing trials, 130/143 when interrupted."""
    from bench.interrupts import exit_code, signals_as_interrupts

    optuna.logging.set_verbosity(
        optuna.logging.ERROR
    )  # the runner logs failures; Optuna's lines break the display
    suite = load_suite(suite_name)
    base = apply_overrides(suite, overrides, (model,))[0]
    with signals_as_interrupts():
        try:
            outcome = run_sweep(base, suite, settings, out, Console(stderr=True, quiet=quiet))
        except KeyboardInterrupt as exc:
            # Optuna has marked the running trial FAIL; the Objective enqueued it again.
            print("bench: sweep interrupted; run the same command again to resume.", file=sys.stderr)
            return exit_code(exc)
    stdout = Console()
    for part in summary(outcome, [p.partition("=")[0].strip() for p in settings.params]):
        stdout.print(part)
    return 1 if outcome.gave_up else 0
