"""What a sweep shows and writes: the live display, trials.csv, pareto.csv and the merged worker rows."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import optuna
import pandas as pd
from optuna.trial import TrialState
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from bench import atomic
from bench.costs.axes import axis_names
from bench.formatting import fmt
from bench.runs.recorder import merge_workers
from bench.sweep.study import counted


def summary_attrs() -> tuple[str, ...]:
    """The run's figures each trial keeps as Optuna user attributes."""
    return (
        "run_id",
        "status",
        "val_accuracy",  # what the sweep maximises and prunes on
        "test_accuracy",  # read for the report, never to choose
        "n_test",
        *(f"cost_{axis}" for axis in axis_names()),  # the run's value on each cost axis
        "truncated_train_share",
        "truncated_test_share",
    )


class SweepProgress:
    """One live display: the study's trials (done, pruned, failed, best) and the running epoch.

    It is the runner's ProgressSink too, because rich allows one live display at a time.
    """

    def __init__(
        self,
        console: Console,
        total: int,
        label: str = "trials",  # the model, in a sweep across models
        overall: Callable[[], str] | None = None,  # the whole sweep's progress and time left
    ) -> None:
        self._overall = overall
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[info]}"),
            console=console,
            transient=True,
        )
        self._trials = self._progress.add_task(label, total=total, info="")
        self._epoch: TaskID | None = None

    def __enter__(self) -> SweepProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def show(self, done: int, info: str) -> None:
        overall = self._overall() if self._overall else ""
        self._progress.update(self._trials, completed=done, info=f"{info} · {overall}" if overall else info)

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
        if "skipped" in t.user_attrs:  # never run: see skip_reason
            continue
        # A retry carries its failed original's attributes until it finishes: show only who runs it.
        running = {"worker": t.user_attrs.get("worker")} if t.state == TrialState.RUNNING else {}
        attrs = t.user_attrs if t.state.is_finished() else running
        rows.append(
            {
                "trial": t.number,
                "state": t.state.name,
                **t.params,
                **{key: attrs.get(key) for key in summary_attrs() if key not in ("run_id", "status")},
                "duration_s": t.duration.total_seconds() if t.duration else None,
                "retry_of": t.system_attrs.get("failed_trial"),
                "worker": (attrs.get("worker") or {}).get("folder"),
                "run_id": attrs.get("run_id"),
            }
        )
    return pd.DataFrame(rows)


def write_outputs(
    study: optuna.Study, out: Path, studies: Sequence[str] = ()
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """trials.csv, and pareto.csv (only the non-dominated trials) for a multi-objective study; this
    study's frames. `studies`: every study of a sweep across models, in this study's storage: the
    files hold those begun so far, with a `study` column."""
    frame = trials_frame(study)
    front = None if len(study.directions) == 1 or frame.empty else _front(study, frame)
    frames, fronts = [frame], [front]
    if studies:
        begun = set(optuna.get_all_study_names(study._storage))
        others = {n: optuna.load_study(study_name=n, storage=study._storage) for n in studies if n in begun}
        others[study.study_name] = study
        frames = [trials_frame(s).assign(study=n) for n, s in others.items()]
        fronts = [None if len(s.directions) == 1 or f.empty else _front(s, f) for (n, s), f in
                  zip(others.items(), frames)]  # fmt: skip
    atomic.write_text(out / "trials.csv", pd.concat(frames, ignore_index=True).to_csv(index=False))
    merge_workers(out)
    if front is not None:
        shown = pd.concat([f for f in fronts if f is not None], ignore_index=True)
        atomic.write_text(out / "pareto.csv", shown.to_csv(index=False))
    return frame, front


def _front(study: optuna.Study, frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["trial"].isin({t.number for t in study.best_trials})]


def trials_table(frame: pd.DataFrame, params: Sequence[str], title: str) -> Table:
    columns = [
        ("trial", "trial", ""),
        *((p, p, "") for p in params),
        ("state", "state", ""),
        ("val_accuracy", "val acc %", "pct"),
        ("cost_time", "train s", "s"),
        ("cost_memory", "peak MiB", "s"),
        ("cost_params", "params", "int"),
        ("truncated_train_share", "cut train %", "pct"),
        ("truncated_test_share", "cut test %", "pct"),
    ]
    table = Table(title=title)
    for _, header, kind in columns:
        table.add_column(header, justify="right" if kind else "left")
    for row in frame.to_dict("records"):
        table.add_row(*(fmt(row.get(key), kind) for key, _, kind in columns))
    return table


def status_line(study: optuna.Study, total: int) -> tuple[int, str]:
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
