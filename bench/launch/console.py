"""Terminal output: a rich progress bar for the training loop and the results table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from bench.costs.columns import cost_columns
from bench.formatting import fmt
from bench.stats.majority import HINT, short_warning


class RichProgress:
    """A ProgressSink (see bench.runs.train) drawing one bar per epoch, on stderr."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def start(self, description: str, total: int) -> None:
        self.stop()
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=self.console,
            transient=True,
        )
        self._progress.start()
        self._task = self._progress.add_task(description, total=total)

    def advance(self, n: int = 1) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task, n)

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def result_table() -> list[tuple[str, str, str]]:
    """The console table's columns: (key, header, format)."""
    return [
        ("model", "model", ""),
        ("seed", "seed", ""),
        ("status", "status", ""),
        ("test_accuracy", "acc %", "pct"),
        ("test_macro_f1", "F1 %", "pct"),
        *(
            (c.name, c.label, "int" if c.exact or c.unit == "MiB" else "s")
            for c in cost_columns()
            if c.console
        ),
        ("flag", "flag", ""),
    ]


def informative(rows: Sequence[dict[str, Any]], key: str) -> bool:
    """Whether a column says something: measured somewhere, and for seed and status, not constant."""
    values = [r.get(key) for r in rows if r.get(key) is not None]
    if key == "seed":
        return len(set(values)) > 1
    if key == "status":
        return any(v != "ok" for v in values)
    return bool(values)


def majority_rows(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The reference row of always predicting the majority class, one per dataset in the table."""
    found: dict[Any, dict[str, Any]] = {}
    for row in rows:
        if row.get("majority_accuracy") is not None:
            key = (row.get("dataset"), row.get("n_test"))
            name = "majority class" + (
                f" ({row.get('dataset')})" if found or len({r.get("dataset") for r in rows}) > 1 else ""
            )
            found.setdefault(key, {"model": name, "test_accuracy": row["majority_accuracy"]})
    return list(found.values())


def results_table(rows: Sequence[dict[str, Any]], title: str) -> Table:
    """`bench run`'s table: a row per run, the majority reference below them, flagged runs noted."""
    shown = [*({**r, "flag": short_warning(r.get("warning"))} for r in rows), *majority_rows(rows)]
    hint = f"flag: {HINT}." if any(r.get("warning") for r in rows) else None
    table = Table(title=title, caption=hint, caption_justify="left")
    present = [c for c in result_table() if informative(shown, c[0])]
    for _, header, kind in present:
        table.add_column(header, justify="right" if kind else "left", no_wrap=True)
    for row in shown:
        table.add_row(
            *(fmt(row.get(key), kind) for key, _, kind in present), end_section=row is shown[len(rows) - 1]
        )
    return table
