"""The entry points, for Python and for the command line alike: `bench.run` and `bench.report`.

    import bench
    rows = bench.run(models=["tfidf_lr", "bert"], max_train=400, out="reports/demo", quiet=True)
    bench.report(["reports/demo"], format="markdown")

`bench run` and `bench report` call these same functions; `run_command` adds the table and the
exit code that a shell wants.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Console

from bench.config import load_suite
from bench.reporting.write import make_report
from bench.results import RESULT_COLUMNS, frame_with_schema
from bench.runs.console import results_table
from bench.runs.decide import DecideSettings
from bench.runs.distributed import is_main
from bench.runs.interrupts import exit_code
from bench.runs.launcher import Workers
from bench.runs.session import RunRequest, default_out, run_session
from bench.stats.cost import DEFAULT_COST_NOISE
from bench.stats.verdicts import DEFAULT_MARGIN


def run(
    suite: str = "quick",
    models: Iterable[str] = (),
    dataset: str | None = None,
    out: str | Path | None = None,
    quiet: bool = False,
    *,
    repeats: int = 1,
    options: Iterable[str] = (),
    resume: str | Path | None = None,
    skip_bad_rows: bool = False,
    keep_checkpoints: bool = False,
    workers: Workers | None = None,
    **overrides: Any,
) -> pd.DataFrame:
    """Run a suite's models as `bench run` does; their results rows (results.csv's columns).

    `models` narrows the suite (or adds models, `hf:PATH` included), `options` are `NAME=VALUE`
    model options, and any other keyword is a run setting of the suite (`epochs=1`, `max_train=400`,
    `lr=1e-4`...). The files land in `out` (default reports/<suite>-<UTC time>). Bad input raises
    BenchError; Ctrl-C raises KeyboardInterrupt once the finished runs are on disk.
    """
    request = RunRequest(
        suite,
        tuple(models),
        {"dataset": dataset, **overrides},
        tuple(options),
        repeats,
        Path(out) if out is not None else None,
        Path(resume) if resume is not None else None,
        skip_bad_rows,
        keep_checkpoints,
        workers or Workers(),
    )
    _, _, rows = run_session(request, Console(stderr=True, quiet=quiet or not is_main()))
    return frame_with_schema(rows, RESULT_COLUMNS)


def report(
    paths: Iterable[str | Path] = (),
    format: str = "table",
    out: str | Path | None = None,
    cost: str = "time",
    target: float | None = None,
    margin: float = DEFAULT_MARGIN,
    cost_noise: float = DEFAULT_COST_NOISE,
) -> Path | None:
    """Compare results folders as `bench report` does (default: the newest under reports/); the file
    written, or None for the terminal table. `margin`: the smallest gain (points) worth a higher
    cost; `cost_noise`: run-to-run relative sd assumed for a model with one run. See
    bench.reporting.data for what the report holds."""
    folders = [Path(p) for p in paths]
    return make_report(folders, format, Path(out) if out else None, cost, target, margin, cost_noise)


def decide_command(folder: Path, settings: DecideSettings) -> int:
    """`bench decide`: the loop on a finished folder; 0 also when pairs stay undecided."""
    from bench.runs.decide_local import decide_folder

    try:
        decide_folder(folder, settings, Console())
    except KeyboardInterrupt as exc:
        print(f"bench: interrupted; every finished look is in {folder}/decisions.csv.", file=sys.stderr)
        return exit_code(exc)
    return 0


def run_command(request: RunRequest, quiet: bool = False, deciding: DecideSettings | None = None) -> int:
    """`bench run`: `run`, then its table, then (`deciding`) the decide loop; the exit code
    (1: a run failed; 130/143: interrupted)."""
    if request.resume is None and request.out is None:  # named now, so an interruption can name it
        request = dataclasses.replace(request, out=default_out(load_suite(request.suite).name))
    folder = request.resume or request.out
    try:
        frame = run(
            request.suite,
            request.models,
            out=request.out,
            quiet=quiet,
            repeats=request.repeats,
            options=request.options,
            resume=request.resume,
            skip_bad_rows=request.skip_bad_rows,
            keep_checkpoints=request.keep_checkpoints,
            workers=request.workers,
            **request.overrides,
        )
    except KeyboardInterrupt as exc:
        print(
            f"bench: interrupted; finished runs are in {folder}. Resume with: bench run --resume {folder}",
            file=sys.stderr,
        )
        return exit_code(exc)
    rows = [{str(k): None if pd.isna(v) else v for k, v in r.items()} for r in frame.to_dict("records")]
    title = (
        "resumed" if request.resume else "worker" if request.workers.join else load_suite(request.suite).name
    )
    Console(quiet=not is_main()).print(results_table(rows, f"{title}: {folder}"))
    if any(row["status"] != "ok" for row in rows):
        print("bench: some runs failed; see the status and error columns.", file=sys.stderr)
        return 1
    if deciding is not None and folder is not None:
        return decide_command(folder, deciding)
    return 0
