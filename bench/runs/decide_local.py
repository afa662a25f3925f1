"""The decide loop's backend in this process: new seeds trained by a Runner on the folder, more test
items evaluated from kept weights; and `decide_folder`, what `bench decide DIR` and
`bench run --until-decided` call."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rich.console import Console

from bench.config import RunConfig
from bench.errors import BenchError
from bench.results import PREDICTION_COLUMNS, PREDICTIONS_FILE, RESULTS_FILE, write_csv
from bench.runs.console import RichProgress
from bench.runs.decide import DecideSettings, Outcome, decide, outcome_lines
from bench.runs.extend import predict_more, prediction_rows, test_draw
from bench.runs.interrupts import signals_as_interrupts
from bench.runs.lock import folder_lock
from bench.runs.runner import Runner


class InProcessBackend:
    """Trains and evaluates here, one thing at a time, through the folder's Runner."""

    def __init__(self, runner: Runner, skip_bad_rows: bool = False) -> None:
        self.runner = runner
        self.skip_bad_rows = skip_bad_rows
        self._pools: dict[tuple[object, ...], int] = {}

    def test_available(self, config: RunConfig) -> int:
        key = (config.dataset, config.max_train, config.data_seed, config.val_share)
        if key not in self._pools:
            self._pools[key] = test_draw(config, 1, self.skip_bad_rows).test_available
        return self._pools[key]

    def train_seed(self, config: RunConfig) -> None:
        row = self.runner.run(config)
        if row.get("status") != "ok":
            raise BenchError(f"{row['run_id']} failed while deciding: {row.get('error')}")

    def extend(self, run_id: str, config: RunConfig, n_items: int) -> None:
        runner = self.runner
        mine = [p for p in runner.predictions if p["run_id"] == run_id and p["split"] == "test"]
        items, probs, _ = predict_more(
            runner.out, config, run_id, [str(p["example_id"]) for p in mine], n_items, self.skip_bad_rows
        )
        row = next(r for r in runner.results if r["run_id"] == run_id)
        runner.predictions.extend(prediction_rows(row, items, probs))
        if runner.main:
            write_csv(runner.out / PREDICTIONS_FILE, runner.predictions, PREDICTION_COLUMNS)


def decide_folder(
    folder: Path, settings: DecideSettings, console: Console, say: Callable[[str], None] | None = None
) -> Outcome:
    """Decide a finished folder's pairs in this process, under the folder's lock; the outcome's lines
    are printed."""
    if not (folder / RESULTS_FILE).is_file():
        raise BenchError(f"{folder} holds no {RESULTS_FILE}; give a folder written by `bench run`.")
    progress = RichProgress(console)
    runner = Runner(folder, progress, console.print, keep_weights=True, resume_hint=f"bench decide {folder}")
    with signals_as_interrupts(), folder_lock(folder, runner.main):
        try:
            runner.load_existing()
            outcome = decide(folder, InProcessBackend(runner), settings, say or console.print)
        finally:
            progress.stop()
    for line in outcome_lines(outcome):
        console.print(line)
    return outcome
