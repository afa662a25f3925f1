"""A `bench run` session: the request turned into runs, handed to the launcher with signals as
interrupts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from bench.config import RunConfig, apply_overrides, load_suite
from bench.launch.console import RichProgress
from bench.launch.launcher import (
    LaunchSettings,
    resume_suite,
    run_queued,
    run_suite,
    run_with_workers,
    with_repeats,
)
from bench.modeling import with_options
from bench.runs.executor import Executor
from bench.runs.interrupts import signals_as_interrupts, take_pending
from bench.runs.recorder import Recorder


def default_out(suite: str, root: Path = Path("reports")) -> Path:
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return root / f"{suite}-{stamp}"


@dataclass(frozen=True)
class RunRequest:
    """What `bench run` was asked for."""

    suite: str = "quick"
    models: tuple[str, ...] = ()
    overrides: Mapping[str, Any] = field(default_factory=dict)  # RunConfig fields; None: the suite's
    options: tuple[str, ...] = ()  # --option NAME=VALUE, for every model run
    repeats: int = 1
    out: Path | None = None  # default: reports/<suite>-<UTC time>
    resume: Path | None = None  # an interrupted folder to continue, instead of a suite
    skip_bad_rows: bool = False
    keep_checkpoints: bool = False
    workers: LaunchSettings = field(
        default_factory=LaunchSettings
    )  # --workers, --storage, --study, --cost-repeats...
    keep_weights: bool = True  # the selected epoch's, so that `bench decide` can add test items


def run_session(request: RunRequest, console: Console) -> tuple[Path, str, list[dict[str, Any]]]:
    """Run (or resume) the request's runs with signals as interrupts; (folder, title, rows).

    A KeyboardInterrupt (Ctrl-C or SIGTERM) propagates once the finished runs are on disk.
    """
    workers = request.workers
    runs: list[RunConfig] | None = None
    if request.resume is not None:
        folder, title = request.resume, "resumed"
    elif workers.join:  # a worker that --workers started: the runs are the queue's
        folder, title = request.out or Path("."), "worker"
    else:
        suite = load_suite(request.suite)
        chosen = apply_overrides(suite, request.overrides, request.models)
        runs = with_repeats([with_options(run, request.options) for run in chosen], request.repeats)
        folder, title = request.out or default_out(suite.name), suite.name
    progress = RichProgress(console)

    def executor_for(place: Path) -> Executor:
        return Executor(
            place,
            progress,
            console.print,
            request.skip_bad_rows,
            request.keep_checkpoints,
            keep_weights=request.keep_weights,
        )

    executor = executor_for(folder)

    # A queue worker defers signals outside training, where Optuna updates the queue (as sweeps do).
    with signals_as_interrupts(defer=workers.queued and workers.count == 1):
        try:
            if request.resume is not None:
                rows = resume_suite(executor, Recorder(folder))
            elif workers.count > 1:
                rows = run_with_workers(runs, folder, workers, executor, worker_flags(request))
            elif workers.queued:
                rows = run_queued(runs, folder, workers, executor_for)
            else:
                assert runs is not None
                rows = run_suite(runs, executor, Recorder(folder), workers.cost_repeats)
            late = take_pending()  # a signal after the last step, its exception swallowed
            if late is not None:
                raise late
        finally:
            progress.stop()
    return folder, title, rows


def worker_flags(request: RunRequest) -> list[str]:
    """The flags a worker that --workers starts takes from this command (the runs come from the queue)."""
    flags = ["--cost-repeats", str(request.workers.cost_repeats)]
    flags += ["--skip-bad-rows"] if request.skip_bad_rows else []
    return flags + (["--keep-checkpoints"] if request.keep_checkpoints else [])
