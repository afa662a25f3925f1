"""The decide loop's backend in this process: new seeds trained by the executor and recorded by the
folder's recorder, more test items evaluated from kept weights; and `decide_folder`, what
`bench decide DIR` and `bench run --until-decided` call."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rich.console import Console

from bench.config import RunConfig
from bench.errors import BenchError
from bench.results import PREDICTIONS_FILE, RESULTS_FILE, latest_rows, read_rows, worker_folders
from bench.runs.console import RichProgress
from bench.runs.decide import DecideSettings, Outcome, decide, outcome_lines
from bench.runs.executor import Executor
from bench.runs.extend import more_prediction_rows, predict_more, test_draw
from bench.runs.interrupts import signals_as_interrupts
from bench.runs.launcher import SEQUENTIAL
from bench.runs.lock import folder_lock
from bench.runs.recorder import Recorder


class InProcessBackend:
    """Trains and evaluates here, one thing at a time; the recorder writes every row."""

    def __init__(self, executor: Executor, recorder: Recorder, skip_bad_rows: bool = False) -> None:
        self.executor, self.recorder = executor, recorder
        self.skip_bad_rows = skip_bad_rows
        self._pools: dict[tuple[object, ...], int] = {}

    def test_available(self, config: RunConfig) -> int:
        key = (config.dataset, config.max_train, config.data_seed, config.val_share)
        if key not in self._pools:
            self._pools[key] = test_draw(config, 1, self.skip_bad_rows).test_available
        return self._pools[key]

    def train_seed(self, config: RunConfig) -> None:
        row = self.executor.execute(config, SEQUENTIAL, sink=self.recorder).row
        if row.get("status") != "ok":
            raise BenchError(f"{row['run_id']} failed while deciding: {row.get('error')}")

    def extend(self, run_id: str, config: RunConfig, n_items: int) -> None:
        out = self.recorder.out
        preds = latest_rows(read_rows(out / PREDICTIONS_FILE), PREDICTIONS_FILE)
        mine = preds[(preds["run_id"] == run_id) & (preds["split"] == "test")]
        have = [str(i) for i in mine["example_id"]]
        items, probs, _ = predict_more(out, config, run_id, have, n_items, self.skip_bad_rows)
        self.recorder.predictions(more_prediction_rows(self.recorder.results[run_id], items, probs))


def decide_folder(
    folder: Path, settings: DecideSettings, console: Console, say: Callable[[str], None] | None = None
) -> Outcome:
    """Decide a finished folder's pairs in this process, under the folder's lock; the outcome's lines
    are printed."""
    if worker_folders(folder):
        raise BenchError(
            f"{folder} was run by workers; deciding adds runs and test items in one process, to a "
            "folder run without --workers or --storage."
        )
    if not (folder / RESULTS_FILE).is_file():
        raise BenchError(f"{folder} holds no {RESULTS_FILE}; give a folder written by `bench run`.")
    progress = RichProgress(console)
    executor = Executor(
        folder, progress, console.print, keep_weights=True, resume_hint=f"bench decide {folder}"
    )
    recorder = Recorder(folder)
    with signals_as_interrupts(), folder_lock(folder, recorder.main):
        try:
            recorder.load()
            outcome = decide(folder, InProcessBackend(executor, recorder), settings, say or console.print)
        finally:
            progress.stop()
            recorder.compact()
    for line in outcome_lines(outcome):
        console.print(line)
    return outcome
