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
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Console

from bench.config import CostSettings, ReportSettings, VerdictSettings, load_suite
from bench.decide.plan import DecideSettings
from bench.errors import BenchError
from bench.launch.console import results_table
from bench.launch.launcher import LaunchSettings
from bench.launch.session import RunRequest, default_out, run_session
from bench.reporting.data import newest_folder
from bench.reporting.report import build
from bench.reporting.write import write_report
from bench.results import frame_with_schema, result_columns, saved_runs
from bench.runs.distributed import is_main
from bench.runs.interrupts import exit_code, signals_as_interrupts


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
    workers: LaunchSettings | None = None,
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
        workers or LaunchSettings(),
    )
    _, _, rows = run_session(request, Console(stderr=True, quiet=quiet or not is_main()))
    return frame_with_schema(rows, result_columns())


def report(
    paths: Iterable[str | Path] = (),
    format: str = "table",
    out: str | Path | None = None,
    cost: str | None = None,
    target: float | None = None,
    wide: bool = False,
    *,
    price: Mapping[str, float] | Iterable[str] = (),
    volume: float | str | None = None,
    carbon_intensity: float | None = None,
    serve_batch: int | None = None,
    **verdicts: Any,
) -> Path | None:
    """Compare results folders as `bench report` does (default: the newest under reports/); the file
    written, or None for the terminal table. `cost`: the axis of the verdicts (default: total with a
    volume, else time); `target`: validation accuracy of time to target; `wide`: the terminal table
    with every column, however wide. The bill (bench.config.CostSettings): `price` in USD per
    device-hour ({"cpu": 0.10} or ["cpu=0.10"]), `volume` of predictions (1e7 or "10M"),
    `carbon_intensity` in g CO2e per kWh, `serve_batch` the serving batch to judge. Any other
    keyword is a verdict setting (bench.config.VerdictSettings: `margin=0.5` points...). See
    bench.reporting.data for what the report holds."""
    costing = CostSettings.parse(price, volume, serve_batch, carbon_intensity)
    cost = cost or ("total" if costing.volume is not None else "time")
    folders = [Path(p) for p in paths]
    settings = ReportSettings(cost, target, report_verdicts(folders, verdicts), wide, costing)
    return write_report(folders, format, Path(out) if out else None, settings)


def suite_verdicts(suite: str, given: Mapping[str, Any]) -> VerdictSettings:
    """The verdict settings of a run of `suite`: those `given` (None: not given), else the suite's,
    else the defaults."""
    try:
        chosen = load_suite(suite)
    except BenchError:  # a resumed folder's suite file may have moved: no suite's settings then
        chosen = None
    return VerdictSettings().with_suite(chosen, given)


def folder_verdicts(folder: Path, given: Mapping[str, Any]) -> VerdictSettings:
    """The verdict settings `bench decide` judges a folder by: those `given`, else its suite's (when
    the suite's file is still where the runs found it), else the defaults."""
    try:
        suite = saved_runs(folder)[0][0].suite
    except BenchError:  # no env.json to name the suite: deciding says what is wrong with the folder
        return VerdictSettings().with_suite(None, given)
    return suite_verdicts(suite, given)


def report_verdicts(folders: Iterable[Path], given: Mapping[str, Any]) -> VerdictSettings:
    """The verdict settings `bench report` judges by: those `given`, else the folders' suite's where
    every folder's gives the same, else the defaults."""
    found = {folder_verdicts(f, given) for f in (list(folders) or [newest_folder()])}
    return found.pop() if len(found) == 1 else VerdictSettings().with_suite(None, given)


def suite_costs(suite: str, given: CostSettings | None) -> CostSettings:
    """The cost settings of a run of `suite`: those `given`, else the suite's (price, volume, carbon
    intensity)."""
    try:
        chosen = load_suite(suite)
    except BenchError:  # a resumed folder's suite file may have moved: no suite's settings then
        chosen = None
    return (given or CostSettings()).with_suite(chosen)


def end_of_run_verdicts(
    folder: Path, verdicts: VerdictSettings, costing: CostSettings | None = None
) -> list[str]:
    """The verdict sentences of a finished folder (bench.reporting.data), on training time, or on the
    total cost where the settings give a volume; none with fewer than two models to compare."""
    costing = costing or CostSettings()
    cost = "total" if costing.volume is not None else "time"
    try:
        rep = build([folder], ReportSettings(cost, verdicts=verdicts, costing=costing))
    except BenchError as exc:
        return [f"No verdicts: {exc}"]
    return [str(s) for s in rep.pairs["sentence"]]


def decide_command(folder: Path, settings: DecideSettings) -> int:
    """`bench decide`: the loop on a finished folder; 0 also when pairs stay undecided."""
    from bench.decide.local import decide_folder

    try:
        decide_folder(folder, settings, Console())
    except KeyboardInterrupt as exc:
        print(f"bench: interrupted; every finished look is in {folder}/decisions.csv.", file=sys.stderr)
        return exit_code(exc)
    return 0


def run_command(
    request: RunRequest,
    quiet: bool = False,
    verdicts: Mapping[str, Any] | None = None,
    deciding: DecideSettings | None = None,
    costing: CostSettings | None = None,
) -> int:
    """`bench run`: `run`, then its table, then the verdict of each pair of models (with the
    `verdicts` and `costing` settings given, None meaning the suite's) or, with `deciding`, the
    decide loop; the exit code (1: a run failed; 130/143: interrupted)."""
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
    console = Console(quiet=not is_main())
    console.print(results_table(rows, f"{title}: {folder}"))
    ok_models = {row["model"] for row in rows if row["status"] == "ok"}
    if deciding is None and folder is not None and len(ok_models) > 1:
        chosen = suite_verdicts(request.suite, verdicts or {})
        sentences = end_of_run_verdicts(folder, chosen, suite_costs(request.suite, costing))
        if sentences:
            console.print("Is it worth it? (bench report for the tables and plots)")
            for sentence in sentences:
                console.print(f"- {sentence}", markup=False, highlight=False)
    if any(row["status"] != "ok" for row in rows):
        print("bench: some runs failed; see the status and error columns.", file=sys.stderr)
        return 1
    if deciding is not None and folder is not None:
        deciding = dataclasses.replace(deciding, verdicts=suite_verdicts(request.suite, verdicts or {}))
        if request.workers.queued:
            return decide_queue_command(request, folder, deciding)
        return decide_command(folder, deciding)
    return 0


def decide_queue_command(request: RunRequest, folder: Path, settings: DecideSettings) -> int:
    """`bench run --until-decided` over a queue: this process leads the deciding, its seeds queued for
    every worker, or works the queue for the process that leads it; 0 also when pairs stay undecided."""
    from bench.decide.loop import outcome_lines
    from bench.decide.queued import decide_queued

    workers = request.workers
    # Seeds are trained as the suite's runs were: by this process as a worker, or by --workers N again.
    again = dataclasses.replace(request, workers=dataclasses.replace(workers, join=workers.count == 1))

    def work() -> None:
        run_session(again, Console(stderr=True, quiet=True))

    console = Console()
    try:
        with signals_as_interrupts():
            outcome = decide_queued(
                folder, workers.url(folder), workers.name(folder), settings, work, request.skip_bad_rows,
                console.print,
            )  # fmt: skip
    except KeyboardInterrupt as exc:
        print(f"bench: interrupted; every finished look is in {folder}/decisions.csv.", file=sys.stderr)
        return exit_code(exc)
    for line in outcome_lines(outcome) if outcome is not None else []:
        console.print(line)
    return 0
