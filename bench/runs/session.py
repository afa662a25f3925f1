"""A `bench run` session: a suite's runs in order, or an interrupted results folder resumed."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from bench.config import RunConfig, apply_overrides, load_suite
from bench.errors import BenchError, one_line
from bench.modeling import check_display_names, with_options
from bench.results import ENV_FILE, RESULTS_FILE
from bench.runs.console import RichProgress
from bench.runs.interrupts import signals_as_interrupts, take_pending
from bench.runs.lock import folder_lock
from bench.runs.runner import Runner, run_id_of


def default_out(suite: str, root: Path = Path("reports")) -> Path:
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return root / f"{suite}-{stamp}"


def with_repeats(runs: list[RunConfig], repeats: int) -> list[RunConfig]:
    """Each run with seeds seed, seed+1, ..., seed+repeats-1 (model by model)."""
    if repeats < 1:
        raise BenchError(f"--repeats must be at least 1, not {repeats}.")
    return [dataclasses.replace(r, seed=r.seed + k) for r in runs for k in range(repeats)]


def run_suite(runs: list[RunConfig], runner: Runner) -> list[dict[str, Any]]:
    """Check every run, then train them in order; a failing model does not stop the others."""
    refuse_existing(runner.out)
    check_display_names(runs)
    runner.check(runs)
    with folder_lock(runner.out, runner.main):
        refuse_existing(runner.out)  # again, under the lock: a run that held it may have finished
        runner.write_env({"runs": [dataclasses.asdict(r) for r in runs]}, runs[0].device)
        return [runner.run(run) for run in runs]


def refuse_existing(out: Path) -> None:
    if (out / RESULTS_FILE).exists():
        raise BenchError(f"{out} already holds results; continue it with --resume {out}.")


def resume_suite(runner: Runner) -> list[dict[str, Any]]:
    """Continue an interrupted folder: finished runs are kept, the others run (from checkpoints)."""
    env = runner.out / ENV_FILE
    if not env.is_file():
        raise BenchError(f"{runner.out} is not a bench run folder (no {ENV_FILE}); nothing to resume.")
    try:
        # A folder from before validation splits existed trained on all its training rows.
        saved = json.loads(env.read_text(encoding="utf-8"))["runs"]
        runs = [RunConfig(**{"val_share": 0.0, **r}) for r in saved]
    except (ValueError, KeyError, TypeError) as exc:
        raise BenchError(f"{env} cannot be read back ({one_line(exc)}); start a new run.") from None
    runner.check(runs)
    with folder_lock(runner.out, runner.main):
        runner.load_existing()
        finished = {r["run_id"]: r for r in runner.results if r.get("status") == "ok"}
        rows = []
        for run in runs:
            run_id = run_id_of(run)
            if run_id in finished:
                runner.log(f"{run_id}: finished before, kept.")
                rows.append(finished[run_id])
            else:
                rows.append(runner.run(run))
        return rows


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
    keep_weights: bool = True  # the selected epoch's, so that `bench decide` can add test items


def run_session(request: RunRequest, console: Console) -> tuple[Path, str, list[dict[str, Any]]]:
    """Run (or resume) the request's runs with signals as interrupts; (folder, title, rows).

    A KeyboardInterrupt (Ctrl-C or SIGTERM) propagates once the finished runs are on disk.
    """
    if request.resume is None:
        suite = load_suite(request.suite)
        chosen = apply_overrides(suite, request.overrides, request.models)
        runs = with_repeats([with_options(run, request.options) for run in chosen], request.repeats)
        folder, title = request.out or default_out(suite.name), suite.name
    else:
        folder, title = request.resume, "resumed"
    progress = RichProgress(console)
    runner = Runner(
        folder,
        progress,
        console.print,
        request.skip_bad_rows,
        request.keep_checkpoints,
        keep_weights=request.keep_weights,
    )
    with signals_as_interrupts():
        try:
            rows = resume_suite(runner) if request.resume is not None else run_suite(runs, runner)
            late = take_pending()  # a signal after the last step, its exception swallowed
            if late is not None:
                raise late
        finally:
            progress.stop()
    return folder, title, rows
