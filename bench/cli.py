"""The `bench` command line: parses arguments and calls one function per command (bench.api for run
and report, bench.sweep.driver, bench.listing); the only logic here turns a BenchError into one line."""

from __future__ import annotations

import dataclasses
import sys
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from bench.errors import BenchError


class BenchGroup(click.Group):
    """Turns a BenchError into one line on stderr and exit code 2 (a traceback only with --debug)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BenchError as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.echo(f"bench: error: {exc}", err=True)
            ctx.exit(2)


class Registered(click.ParamType):
    """A choice among a registry's names (report formats, cost axes), read when the option is used or
    shown, so that `bench --help` imports nothing heavy and plugins registered by --plugins count."""

    def __init__(self, name: str, names: Callable[[], list[str]], canonical: Callable[[str], str]) -> None:
        self.name, self._names, self._canonical = name, names, canonical

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return "[" + "|".join(self._names()) + "]"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        try:
            return self._canonical(value)
        except BenchError as exc:
            self.fail(str(exc), param, ctx)


def _formats() -> Any:
    from bench.reporting.formats import load_formats

    return load_formats()


def _axes() -> Any:
    from bench.costs.axes import load_axes

    return load_axes()


REPORT_FORMAT = Registered("format", lambda: _formats().names(), lambda v: _formats().canonical(v))
COST_AXIS = Registered("axis", lambda: [a.name for a in _axes().registered()], lambda v: _axes().canonical(v))


@click.group(cls=BenchGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show full tracebacks for errors.")
@click.option(
    "--plugins",
    type=click.Path(path_type=Path),
    multiple=True,
    envvar="BENCH_PLUGINS",
    help="A folder of plugin files (repeatable; BENCH_PLUGINS=DIR1:DIR2): each *.py in it may register "
    "models, datasets, trackers, cost axes, comparisons or report formats, and each *.toml is a suite. "
    "Installed packages' entry points are read as well.",
)
@click.pass_context
def main(ctx: click.Context, debug: bool, plugins: tuple[Path, ...]) -> None:
    """Measure the accuracy-cost trade-offs of text classifiers.

    \b
    bench run                      the quick suite on the embedded IMDB reviews
    bench run --suite paper        the paper's three models, as published
    bench report                   is the bigger model worth it? the newest results folder
    bench ls models                what is registered (models, suites, datasets, trackers, axes, ...)
    """
    ctx.obj = {"debug": debug}
    if plugins:
        from bench.registry import use_plugin_folders

        use_plugin_folders(plugins)


class LazyHelp(click.Option):
    """An option whose help is written when help is shown: `--dataset` lists the registered loaders,
    plugins included, without importing them for every command."""

    def __init__(self, *args: Any, write_help: Callable[[], str], suffix: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.write_help, self.suffix = write_help, suffix

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        self.help = self.write_help() + self.suffix
        return super().get_help_record(ctx)


def shown_default(value: Any) -> str:
    """A default as help text shows it: on/off for a switch, '' for an empty string, else the value
    (1 is 1, not "on")."""
    if isinstance(value, bool):
        return "on" if value else "off"
    return "''" if value == "" else str(value)


def run_override_options(func: Any) -> Any:
    """One option per run setting that RunConfig marks as a flag (bench.config.flag): its name,
    type, choices and help come from there, and None means "the suite's value"."""
    from bench.config import RunConfig

    hints = typing.get_type_hints(RunConfig)
    for f in reversed(dataclasses.fields(RunConfig)):
        if "help" not in f.metadata:
            continue
        name = f.name.replace("_", "-")
        kind = next(a for a in typing.get_args(hints[f.name]) or (hints[f.name],) if a is not type(None))
        suffix = "" if f.default is None else f" [default: the suite's, else {shown_default(f.default)}]"
        written = f.metadata["help"]
        lazy = {} if isinstance(written, str) else {"cls": LazyHelp, "write_help": written, "suffix": suffix}
        text = written + suffix if isinstance(written, str) else None
        if kind is bool:
            func = click.option(f"--{name}/--no-{name}", f.name, default=None, help=text, **lazy)(func)
        else:
            choices = f.metadata["choices"]
            kind = click.Choice(choices) if choices else kind
            func = click.option(f"--{name}", f.name, type=kind, default=None, help=text, **lazy)(func)
    return func


model_option = click.option(
    "--option",
    "options",
    multiple=True,
    metavar="NAME=VALUE",
    help="Set an option of the model(s) (repeatable), typed by the model's options: "
    "--option dropout=0.1, --option pooling=mean; `none` where None is allowed.",
)


VERDICTS_KEY = "verdicts"  # where the verdict options' values are gathered (click's context meta)


def _gather(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    ctx.meta.setdefault(VERDICTS_KEY, {})[param.name] = value


def given_verdicts(ctx: click.Context) -> dict[str, Any]:
    """The verdict settings given on the command line; None where one was not given."""
    return dict(ctx.meta.get(VERDICTS_KEY, {}))


def verdict_options(func: Any) -> Any:
    """The settings every verdict reads (bench.config.VerdictSettings), shared by `bench run`,
    `bench report` and `bench decide`: None means the suite's, else the default. Their values are
    gathered for `given_verdicts`, not passed to the command one by one."""
    from bench.config import DEFAULT_COST_MARGIN, DEFAULT_COST_NOISE, DEFAULT_MARGIN, DEFAULT_SEED_NOISE

    for flag, default, text in reversed(
        [
            (
                "--margin",
                DEFAULT_MARGIN,
                "The smallest accuracy gain, in points, worth a higher cost: a costlier model must be "
                "better by more, and one whose gain is shown below it is not worth it",
            ),
            (
                "--cost-margin",
                DEFAULT_COST_MARGIN,
                "Costs within this relative difference count as equal (0.1: 10%): a model more accurate "
                "at an equal cost is worth it, and one as accurate (within the margin) equivalent",
            ),
            (
                "--seed-noise",
                DEFAULT_SEED_NOISE,
                "Seed-to-seed sd of a model's accuracy, in points, assumed for a model with one seed "
                "(measured on the quick suite: see the docs); sentences say it was assumed",
            ),
            (
                "--cost-noise",
                DEFAULT_COST_NOISE,
                "Relative run-to-run sd of a cost, assumed for a model with a single run (no seeds or "
                "cost repeats to measure it)",
            ),
        ]
    ):
        text += f" [default: the suite's, else {default:g}]."
        option = click.option(flag, type=float, default=None, help=text, expose_value=False, callback=_gather)
        func = option(func)
    checkpoints = click.option(
        "--checkpoints",
        is_flag=True,
        default=None,
        expose_value=False,
        callback=_gather,
        help="Compare the trained checkpoints (one seed each: exact McNemar), not the models: a claim "
        "about these two checkpoints only, which leaves seed-to-seed variance out.",
    )
    return checkpoints(func)


def cost_options(suite: bool) -> Callable[[Any], Any]:
    """The cost settings (bench.config.CostSettings) of `bench report`, and of the verdicts that `bench
    run` prints (`suite`: the suite's where not given)."""

    def decorate(func: Any) -> Any:
        return _cost_options(func, "the suite's, else " if suite else "")

    return decorate


def _cost_options(func: Any, else_: str) -> Any:
    table = else_.replace("suite's", "suite's price table")
    for flag, kind, multiple, metavar, text in reversed(
        [
            (
                "--price",
                str,
                True,
                "DEVICE=USD_PER_HOUR",
                "What a device-hour costs in US dollars (repeatable): cpu=0.10, cuda=2.50, or a device "
                "name as results.csv records it (it wins over its type's). The runs gain their training "
                "cost in $ and their serving cost in $ per million predictions, and the total is in $ "
                f"[default: {table}none: no money anywhere].",
            ),
            (
                "--volume",
                str,
                False,
                "N",
                "Predictions over a model's life (10M, 2.5k, 1e7): the cost axis total is training + N "
                "x one prediction, in $ where priced, else device-seconds; each pair gains the volume "
                "where its totals cross (95% interval), and a plot draws every total against volume "
                f"[default: {else_}none].",
            ),
            (
                "--carbon-intensity",
                float,
                False,
                "G_PER_KWH",
                "Grams CO2e per kWh of the grid that powered the runs: the runs whose energy was "
                "measured (NVML on a GPU, RAPL on a CPU where readable) gain their training's grams "
                f"CO2e [default: {else_}none].",
            ),
        ]
    ):
        func = click.option(flag, type=kind, multiple=multiple, metavar=metavar, default=None, help=text)(
            func
        )
    return func


def cost_settings(price: tuple[str, ...] | None, volume: str | None, carbon_intensity: float | None) -> Any:
    """The command line's cost settings (none given: empty), checked; a BenchError in one line."""
    from bench.config import CostSettings

    return CostSettings.parse(price or (), volume, None, carbon_intensity)


def decide_options(func: Any) -> Any:
    """The options of deciding, shared by `bench run --until-decided` and `bench decide`."""
    for flag, kind, default, text in reversed(
        [
            ("--budget", str, "30m", "Seconds of training and evaluation to spend deciding: 30m, 1h, 90s."),
            ("--max-seeds", int, 5, "Seeds of one model at most."),
            ("--max-repeats", int, 5, "Cost repeats of one model at most (timed runs in fresh processes)."),
        ]
    ):
        func = click.option(flag, type=kind, default=default, show_default=True, help=text)(func)
    return func


def decide_settings(budget: str, max_seeds: int, max_repeats: int, verdicts: Any) -> Any:
    from bench.decide.plan import DecideSettings, parse_budget

    return DecideSettings(parse_budget(budget), max_seeds, max_repeats, verdicts)


@main.command()
@click.option(
    "--suite",
    "suite_name",
    default="quick",
    show_default=True,
    help="A suite name (see `bench ls suites`) or the path of a suite .toml file.",
)
@click.option(
    "--model",
    "models",
    multiple=True,
    help="Run only this model (repeatable): a registered name, or hf:PATH for a Hugging Face checkpoint.",
)
@run_override_options
@model_option
@click.option("--repeats", default=1, show_default=True, help="Seeds per model: seed, seed+1, ...")
@click.option(
    "--paper-quirks/--no-paper-quirks",
    default=None,
    help="Reproduce the paper's LR-schedule and BiLSTM quirks (the paper suite does).",
)
@click.option(
    "--trackers",
    type=click.Choice(["on", "off"]),
    default=None,
    help="off: time only, no memory or energy tracking (to measure their overhead) [default: the "
    "suite's, else on].",
)
@click.option("--skip-bad-rows", is_flag=True, help="Skip empty reviews instead of stopping.")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Results folder [default: reports/<suite>-<UTC time>].",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no per-epoch lines.")
@click.option(
    "--resume",
    type=click.Path(path_type=Path),
    default=None,
    help="Continue an interrupted results folder: finished runs are kept, the rest resume "
    "from their last finished epoch. Other options are taken from the folder.",
)
@click.option("--keep-checkpoints", is_flag=True, help="Keep each run's last-epoch checkpoint.")
@click.option(
    "--until-decided",
    is_flag=True,
    help="After the runs, add test items or seeds to each inconclusive pair until it is decided or "
    "the budget is spent (as `bench decide`); every look goes to decisions.csv.",
)
@decide_options
@verdict_options
@cost_options(suite=True)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    help="Worker processes on this machine, each with its own GPU (runs from one queue).",
)
@click.option(
    "--share-cpu", is_flag=True, help="Allow --workers above 1 without GPUs (timings then interfere)."
)
@click.option(
    "--storage",
    default=None,
    help="Optuna RDB URL of a run queue shared by machines, e.g. postgresql://user@host/db; run the "
    "same command on each [default with --workers: sqlite:///<out>/queue.db].",
)
@click.option("--study", "study_name", default=None, help="Name of the run queue [default: OUT's name].")
@click.option(
    "--cost-repeats",
    default=0,
    show_default=True,
    help="After each run, this many short timed runs of it, each in a fresh process (cost_repeats.csv).",
)
@click.option("--join", is_flag=True, hidden=True)  # a worker started by --workers: runs from the queue
@click.option("--concurrent-runs", type=int, default=None, hidden=True)
def run(
    suite_name: str,
    models: tuple[str, ...],
    repeats: int,
    paper_quirks: bool | None,
    trackers: str | None,
    skip_bad_rows: bool,
    out: Path | None,
    quiet: bool,
    resume: Path | None,
    keep_checkpoints: bool,
    until_decided: bool,
    budget: str,
    max_seeds: int,
    max_repeats: int,
    price: tuple[str, ...],
    volume: str | None,
    carbon_intensity: float | None,
    options: tuple[str, ...],
    workers: int,
    share_cpu: bool,
    storage: str | None,
    study_name: str | None,
    cost_repeats: int,
    join: bool,
    concurrent_runs: int | None,
    **overrides: Any,
) -> None:
    """Train and evaluate a suite's models; write results.csv, epochs.csv, predictions.csv.

    Results of each run are on disk the moment it finishes. Ctrl-C or SIGTERM stops cleanly
    (exit 130 or 143) and prints the command that resumes. With --workers or --storage the runs go
    into one queue that every worker (on this machine or others) takes from; run the same command
    again to resume.
    """
    from bench.api import run_command
    from bench.launch.launcher import LaunchSettings
    from bench.launch.session import RunRequest

    overrides.update(paper_quirks=paper_quirks, trackers=None if trackers is None else trackers == "on")
    if cost_repeats < 0:
        raise BenchError(f"--cost-repeats must be 0 or more, not {cost_repeats}.")
    launch = LaunchSettings(
        workers, share_cpu, storage, study_name, join, concurrent_runs or workers, cost_repeats
    )
    request = RunRequest(
        suite_name, models, overrides, options, repeats, out, resume, skip_bad_rows, keep_checkpoints, launch
    )
    if until_decided and join:
        raise BenchError("--until-decided is the command's own, not a started worker's (--join).")
    from bench.config import VerdictSettings

    verdicts = given_verdicts(click.get_current_context())  # the suite's where not given: run_command
    deciding = decide_settings(budget, max_seeds, max_repeats, VerdictSettings()) if until_decided else None
    costing = cost_settings(price, volume, carbon_intensity)
    sys.exit(run_command(request, quiet, verdicts, deciding, costing))


@main.command()
@click.argument("folder", type=click.Path(path_type=Path))
@decide_options
@verdict_options
def decide(folder: Path, budget: str, max_seeds: int, max_repeats: int) -> None:
    """Continue a finished results folder until its pairs are decided, as `bench run --until-decided`.

    \b
    Between looks each inconclusive pair takes the lever expected to narrow its accuracy interval
    most per second: more test items (its runs' kept weights on the next unused test reviews),
    more seeds (several at once where one would measure the seed spread on too few degrees of
    freedom), or cost repeats where only the costs are left to show; nothing that narrows the
    interval by under 5%. Errors stay at alpha over all looks (alpha spent along the budget).
    Every look is a row per pair in FOLDER/decisions.csv. A budget that ends with pairs undecided
    exits 0 and says what more would decide them. The
    verdict settings are those given, else the folder's suite's, else the defaults; a folder decided
    before keeps the plan it was given then (decide.json).
    """
    from bench.api import decide_command, folder_verdicts

    verdicts = folder_verdicts(folder, given_verdicts(click.get_current_context()))
    sys.exit(decide_command(folder, decide_settings(budget, max_seeds, max_repeats, verdicts)))


@main.command("ls")
@click.argument(
    "what",
    type=click.Choice(["models", "suites", "datasets", "trackers", "axes", "comparisons", "formats"]),
    default="models",
)
def ls(what: str) -> None:
    """List what is registered, plugins included, and where each comes from: models (with the paper's
    parameter counts), suites, datasets, cost trackers, cost axes, accuracy comparisons or report
    formats."""
    from bench.listing import listing

    Console().print(listing(what))


@main.command()
@click.argument("folders", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=REPORT_FORMAT,
    default="table",
    show_default=True,
    help="table prints to the terminal; the others write one file.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Report file [default: report.<ext> in the first folder]; for table, the plots' folder.",
)
@click.option(
    "--cost",
    type=COST_AXIS,
    default=None,
    help="Cost axis of the verdicts and the front: memory is GPU memory on a GPU, host RSS on a CPU; "
    "serving is seconds per 1,000 reviews, latency one review's; total needs --volume "
    "[default: total with --volume, else time].",
)
@click.option(
    "--target",
    type=float,
    default=None,
    help="Validation accuracy of time to target, e.g. 0.8 [default: 95% of the best in the report].",
)
@verdict_options
@cost_options(suite=False)
@click.option(
    "--serve-batch",
    type=int,
    default=None,
    help="Judge serving as timed at this batch (bench run --serve-batch); runs timed at another are "
    "left out [default: each run's own].",
)
@click.option(
    "--wide",
    is_flag=True,
    help="table: every column, however wide the lines [default: columns that do not fit the terminal "
    "are left out, and named under their table].",
)
def report(
    folders: tuple[Path, ...],
    fmt: str,
    out: Path | None,
    cost: str | None,
    target: float | None,
    price: tuple[str, ...],
    volume: str | None,
    carbon_intensity: float | None,
    serve_batch: int | None,
    wide: bool,
) -> None:
    """Is the bigger model worth it? A verdict for every pair, the runs, the front and plots.

    FOLDERS default to the newest folder under reports/.

    \b
    bench report --cost serving                       seconds per 1,000 reviews served
    bench report --volume 10M --price cpu=0.10        the total cost of training and 10 M predictions
    """
    import dataclasses

    from bench.api import report_verdicts
    from bench.config import ReportSettings
    from bench.reporting.write import write_report

    verdicts = report_verdicts(folders, given_verdicts(click.get_current_context()))
    costing = dataclasses.replace(cost_settings(price, volume, carbon_intensity), serve_batch=serve_batch)
    cost = cost or ("total" if costing.volume is not None else "time")
    write_report(list(folders), fmt, out, ReportSettings(cost, target, verdicts, wide, costing.validate()))


@main.command()
@click.option(
    "--model",
    "models",
    multiple=True,
    help="Sweep only this model (repeatable; see `bench ls models`; hf:PATH too) [default: every model "
    "of the suite, one study each over the same grid].",
)
@click.option(
    "--suite",
    "suite_name",
    default="quick",
    show_default=True,
    help="Suite whose settings and [sweep] search spaces to use (name or .toml path).",
)
@click.option(
    "--param",
    "params",
    multiple=True,
    required=True,
    metavar="NAME[=SPEC]",
    help="Setting to sweep (repeatable): its [sweep.NAME] space in the suite, or inline "
    "LOW:HIGH, LOW:HIGH:STEP, LOW:HIGH:log or A,B,C.",
)
@click.option(
    "--trials",
    type=int,
    default=None,
    help="Finished trials each study should hold, all workers together [default: 10; across models "
    "with the grid sampler, every grid point].",
)
@click.option("--study", "study_name", default=None, help="Study name [default: <suite>-<model>-<params>].")
@click.option(
    "--storage",
    default=None,
    help="Optuna RDB URL shared by workers, e.g. postgresql://user@host/db "
    "[default: sqlite:///<out>/study.db].",
)
@click.option(
    "--objective",
    type=click.Choice(["accuracy", "pareto"]),
    default="accuracy",
    show_default=True,
    help="pareto: NSGA-II over accuracy and the --cost axes.",
)
@click.option(
    "--cost",
    "costs",
    type=COST_AXIS,
    multiple=True,
    help="Cost(s) minimised with --objective pareto (repeatable) [default: time].",
)
@click.option(
    "--sampler",
    type=click.Choice(["tpe", "random", "grid", "nsga2"]),
    default=None,
    help="[default: tpe for one model, grid across models, nsga2 for pareto]",
)
@click.option("--timeout", type=float, default=None, help="Stop starting trials after this many seconds.")
@click.option("--no-prune", is_flag=True, help="Turn off the median pruner.")
@run_override_options
@model_option
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Sweep folder [default: reports/sweep-<study>]; run again to resume.",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress display and no per-trial lines.")
def sweep(
    models: tuple[str, ...],
    suite_name: str,
    params: tuple[str, ...],
    trials: int | None,
    study_name: str | None,
    storage: str | None,
    objective: str,
    costs: tuple[str, ...],
    sampler: str | None,
    timeout: float | None,
    no_prune: bool,
    out: Path | None,
    quiet: bool,
    options: tuple[str, ...],
    **overrides: Any,
) -> None:
    """Optuna sweep of a model's settings; each trial is one ordinary run. Resumable.

    With no --model (or several), every model of the suite gets its own study over the same grid
    points, in one folder that `bench report` answers across: `bench sweep --param max_len`.
    """
    from bench.config import SweepSettings
    from bench.sweep.across import across_command
    from bench.sweep.driver import sweep_command

    settings = SweepSettings(
        params,
        10 if trials is None else trials,
        study_name,
        storage,
        objective,
        costs,
        sampler,
        timeout,
        not no_prune,
    )
    if len(models) == 1:
        sys.exit(sweep_command(suite_name, models[0], overrides, settings, out, quiet, options))
    given = trials is not None
    sys.exit(across_command(suite_name, models, overrides, settings, given, out, quiet, options))


if __name__ == "__main__":
    main()
