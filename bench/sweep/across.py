"""A sweep across models: one Optuna study per model over the same points, in one folder and storage.

`bench sweep --param max_len` with no `--model` (or with several) asks the paper's closing question of
every model of the suite at once: how accuracy and cost move with max_len. Each model gets its own
study (`<suite>-<model>-<params>`), all in one storage, so the studies resume, and share workers, as
a one-model sweep does; a grid sampler is the default, so that every model is measured at the same
points. The models run one after another; a worker that finds a model's study full moves on.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState
from rich.console import Console

from bench.config import SuiteConfig, SweepSettings, apply_overrides, load_suite
from bench.errors import BenchError
from bench.launch.storage import open_storage
from bench.modeling import MODELS, EstimatorSpec, load_models, with_options
from bench.sweep.driver import Part, SweepOutcome, interrupts_said, run_sweep, summary
from bench.sweep.search_space import resolve_spaces

# Settings only a network's tokenizer and training loop read: sweeping them cannot change an
# estimator's run (tfidf_lr reads whole reviews and fits in one go), so it is left out of the sweep.
NETWORK_SETTINGS = (
    "max_len", "lr", "batch_size", "epochs", "max_steps", "warmup_ratio", "weight_decay", "grad_clip",
    "label_smoothing",
)  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Plan:
    """The studies of a sweep across models, in the order they run."""

    suite: SuiteConfig
    models: tuple[str, ...]
    studies: tuple[str, ...]
    left_out: tuple[str, ...]  # models the swept settings cannot change (e.g. tfidf_lr and max_len)
    settings: SweepSettings  # the sampler and trials every study uses
    out: Path


def _names(spec_names: Sequence[str]) -> list[str]:
    return [name.partition("=")[0].strip() for name in spec_names]


def plan(
    suite: SuiteConfig,
    models: Sequence[str],
    settings: SweepSettings,
    trials_given: bool,
    out: Path | None,
) -> Plan:
    """Which models, which study names, and the defaults of a sweep across models: a grid sampler,
    no pruning (a pruned point would leave a hole in a model's curve), and every grid point."""
    load_models()
    chosen = tuple(models) or tuple(suite.models())
    swept = set(_names(settings.params))
    kept, left_out, shown = [], [], []
    for model in chosen:
        run = apply_overrides(suite, {}, (model,))[0]
        spec = MODELS.get(model)(run)
        if isinstance(spec, EstimatorSpec) and swept <= set(NETWORK_SETTINGS):
            left_out.append(model)
        else:
            kept.append(model)
            shown.append(spec.display_name.replace("/", "-"))  # hf:org/name: one folder, as run_sweep
    if not kept:
        raise BenchError(f"None of {', '.join(chosen)} reads {', '.join(sorted(swept))}: nothing to sweep.")
    sampler = settings.sampler or ("nsga2" if settings.objective == "pareto" else "grid")
    trials = settings.trials
    if sampler == "grid" and not trials_given:
        spaces = resolve_spaces(settings.params, suite, kept[0], grid=True)
        trials = 1
        for space in spaces:
            trials *= len(space.values())
    prune = settings.prune and sampler != "grid"
    settings = dataclasses.replace(settings, sampler=sampler, trials=trials, prune=prune)
    params = "-".join(_names(settings.params))
    # --study NAME names the sweep: NAME-<model> each; by default <suite>-<model>-<params>, as one model's.
    studies = tuple(
        f"{settings.study}-{m}" if settings.study else f"{suite.name}-{m}-{params}" for m in shown
    )
    folder = out or Path("reports") / f"sweep-{settings.study or suite.name + '-' + params}"
    return Plan(suite, tuple(kept), studies, tuple(left_out), settings, folder)


class Overall:
    """The whole sweep's progress and time left, from every study's trials in the storage.

    Time left: each model's remaining trials times the mean duration of its finished ones (of all
    the models' finished trials, for a model not begun); trials running elsewhere count as half done.
    """

    def __init__(self, plan: Plan, storage: optuna.storages.BaseStorage) -> None:
        self.plan, self.storage, self.started = plan, storage, time.monotonic()

    def __call__(self) -> str:
        begun = set(optuna.get_all_study_names(self.storage))
        durations: dict[str, list[float]] = {}
        left: dict[str, float] = {}
        total = self.plan.settings.trials
        for model, name in zip(self.plan.models, self.plan.studies):
            trials = (
                optuna.load_study(study_name=name, storage=self.storage).get_trials(deepcopy=False)
                if name in begun
                else []
            )
            trials = [t for t in trials if "skipped" not in t.user_attrs]
            done = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
            running = sum(t.state == TrialState.RUNNING for t in trials)
            durations[model] = [t.duration.total_seconds() for t in done if t.duration]
            left[model] = max(0.0, total - len(done) - running / 2)
        every = [d for ds in durations.values() for d in ds]
        if not every:
            return f"{len(self.plan.models)} models · time left: after the first trial"
        mean_all = sum(every) / len(every)
        seconds = sum(
            n * (sum(durations[m]) / len(durations[m]) if durations[m] else mean_all) for m, n in left.items()
        )
        remaining = sum(round(n) for n in left.values())
        return f"{remaining} trial(s) left in all · about {_duration(seconds)} left"


def _duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    return f"{round(seconds)} s" if seconds < 90 else f"{minutes} min"


def run_across(
    plan: Plan,
    overrides: Mapping[str, Any],
    options: Sequence[str],
    console: Console,
) -> list[SweepOutcome]:
    """Each model's study in turn (skipped at once where it is full); the outcomes so far."""
    plan.out.mkdir(parents=True, exist_ok=True)
    storage = open_storage(plan.settings.storage or f"sqlite:///{(plan.out / 'study.db').resolve()}")
    overall = Overall(plan, storage)
    if plan.left_out:
        swept = ", ".join(_names(plan.settings.params))
        left = ", ".join(plan.left_out)
        console.print(f"Left out: {left} (not a network: {swept} cannot change its runs).")
    console.print(
        f"Sweeping {', '.join(plan.models)} over the same points with {plan.settings.sampler}, "
        f"{plan.settings.trials} trials each, into {plan.out}."
    )
    outcomes = []
    for i, (model, study) in enumerate(zip(plan.models, plan.studies), start=1):
        base = with_options(apply_overrides(plan.suite, overrides, (model,))[0], options)
        settings = dataclasses.replace(plan.settings, study=study)
        part = Part(f"{model} ({i}/{len(plan.models)})", plan.studies, overall)
        outcome = run_sweep(base, plan.suite, settings, plan.out, console, part=part)
        outcomes.append(outcome)
        if outcome.gave_up:
            break
    return outcomes


def across_command(
    suite_name: str,
    models: Sequence[str],
    overrides: Mapping[str, Any],
    settings: SweepSettings,
    trials_given: bool,
    out: Path | None,
    quiet: bool,
    options: Sequence[str] = (),
) -> int:
    """`bench sweep` with no --model, or several: the exit code as sweep_command's."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    the_plan = plan(load_suite(suite_name), models, settings, trials_given, out)
    console = Console(stderr=True, quiet=quiet)
    outcomes = interrupts_said(lambda: run_across(the_plan, overrides, options, console))
    if isinstance(outcomes, int):
        return outcomes
    stdout = Console()
    params = _names(settings.params)
    for outcome in outcomes:
        for part in summary(outcome, params):
            if isinstance(part, str) and part.startswith("Written:"):
                continue
            stdout.print(part)
    out = the_plan.out
    stdout.print(f"Written: {out / 'trials.csv'}; `bench report {out}` answers across the models.")
    if any(o.gave_up for o in outcomes):
        return 1
    return 0
