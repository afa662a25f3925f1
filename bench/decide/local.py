"""The decide loop's backend in this process: new seeds trained by the executor and recorded by the
folder's recorder, more test items evaluated from kept weights; and `decide_folder`, what
`bench decide DIR` and `bench run --until-decided` call."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from rich.console import Console

from bench.config import RunConfig
from bench.decide.extend import more_prediction_rows, predict_more, test_draw
from bench.decide.loop import DecideSettings, Outcome, decide, outcome_lines
from bench.errors import BenchError
from bench.launch.console import RichProgress
from bench.launch.launcher import SEQUENTIAL
from bench.results import PREDICTIONS_FILE, RESULTS_FILE, latest_rows, read_rows, worker_folders
from bench.runs.executor import Executor
from bench.runs.interrupts import signals_as_interrupts
from bench.runs.lock import folder_lock
from bench.runs.recorder import Recorder


class InProcessBackend:
    """Trains and evaluates here, one thing at a time; the recorder writes every row."""

    def __init__(self, executor: Executor, recorder: Recorder, skip_bad_rows: bool = False) -> None:
        self.executor, self.recorder = executor, recorder
        self.skip_bad_rows = skip_bad_rows

    def test_available(self, config: RunConfig) -> int:
        return test_available(config, self.skip_bad_rows)

    def train_seeds(self, configs: Sequence[RunConfig]) -> None:
        for config in configs:
            row = self.executor.execute(config, SEQUENTIAL, sink=self.recorder).row
            if row.get("status") != "ok":
                raise BenchError(f"{row['run_id']} failed while deciding: {row.get('error')}")

    def extend(self, run_id: str, config: RunConfig, n_items: int) -> None:
        extend_run(self.recorder, run_id, config, n_items, self.skip_bad_rows)


_POOLS: dict[tuple[object, ...], int] = {}


def test_available(config: RunConfig, skip_bad_rows: bool) -> int:
    """Test items the config's dataset has to draw from (read once per dataset and split)."""
    key = (config.dataset, config.max_train, config.data_seed, config.val_share, skip_bad_rows)
    if key not in _POOLS:
        _POOLS[key] = test_draw(config, 1, skip_bad_rows).test_available
    return _POOLS[key]


def extend_run(recorder: Recorder, run_id: str, config: RunConfig, n_items: int, skip_bad_rows: bool) -> None:
    """Predict the run's next test items from its kept weights, into the folder that holds the run."""
    out = recorder.out
    preds = latest_rows(read_rows(out / PREDICTIONS_FILE), PREDICTIONS_FILE)
    mine = preds[(preds["run_id"] == run_id) & (preds["split"] == "test")]
    have = [str(i) for i in mine["example_id"]]
    items, probs, _ = predict_more(out, config, run_id, have, n_items, skip_bad_rows)
    recorder.predictions(more_prediction_rows(recorder.results[run_id], items, probs))


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
