"""The decide loop's backend in this process: new seeds trained by the executor and recorded by the
folder's recorder, more test items evaluated from kept weights, cost repeats timed in fresh processes;
and `decide_folder`, what `bench decide DIR` and `bench run --until-decided` call."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from rich.console import Console

from bench.config import RunConfig
from bench.decide.extend import predict_more
from bench.decide.folder import FolderBackend
from bench.decide.loop import Decided, Decider, outcome_lines
from bench.decide.plan import DecideSettings, load_plan
from bench.errors import BenchError
from bench.launch.console import RichProgress
from bench.launch.launcher import SEQUENTIAL, add_cost_repeats
from bench.results import PREDICTIONS_FILE, RESULTS_FILE, latest_rows, read_rows, worker_folders
from bench.runs.executor import Executor
from bench.runs.interrupts import signals_as_interrupts
from bench.runs.lock import folder_lock
from bench.runs.recorder import Recorder
from bench.runs.rows import split_prediction_rows


class InProcessBackend(FolderBackend):
    """Trains and evaluates here, one thing at a time; the recorder writes every row."""

    def __init__(self, executor: Executor, recorder: Recorder, skip_bad_rows: bool = False) -> None:
        super().__init__(recorder.out, skip_bad_rows)
        self.executor, self.recorder = executor, recorder

    def train_seeds(self, configs: Sequence[RunConfig]) -> None:
        for config in configs:
            row = self.executor.execute(config, SEQUENTIAL, sink=self.recorder).row
            if row.get("status") != "ok":
                raise BenchError(f"{row['run_id']} failed while deciding: {row.get('error')}")

    def extend(self, run_id: str, config: RunConfig, n_items: int) -> None:
        extend_run(self.recorder, run_id, config, n_items, self.skip_bad_rows)

    def repeat(self, run_id: str, config: RunConfig, count: int) -> None:
        repeat_run(self.recorder, run_id, config, count, self.executor.log)


def extend_run(recorder: Recorder, run_id: str, config: RunConfig, n_items: int, skip_bad_rows: bool) -> None:
    """Predict the run's next test items from its kept weights, into the folder that holds the run."""
    out = recorder.out
    preds = latest_rows(read_rows(out / PREDICTIONS_FILE), PREDICTIONS_FILE)
    mine = preds[(preds["run_id"] == run_id) & (preds["split"] == "test")]
    have = [str(i) for i in mine["example_id"]]
    items, probs, _ = predict_more(out, config, run_id, have, n_items, skip_bad_rows)
    recorder.predictions(split_prediction_rows(recorder.results[run_id], "test", items, probs))


def repeat_run(
    recorder: Recorder, run_id: str, config: RunConfig, count: int, log: Callable[[str], None]
) -> None:
    """`count` more cost repeats of the run, each in a fresh process, into the folder that holds it."""
    wanted = recorder.cost_repeats_of(run_id) + count
    add_cost_repeats(config, recorder.results[run_id], recorder, wanted, 1, log)


def decide_folder(
    folder: Path, settings: DecideSettings, console: Console, say: Callable[[str], None] | None = None
) -> Decided:
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
            backend = InProcessBackend(executor, recorder)
            outcome = decide(backend, settings, say or console.print)
        finally:
            progress.stop()
            recorder.compact()
    for line in outcome_lines(outcome):
        console.print(line)
    return outcome


def decide(backend: FolderBackend, settings: DecideSettings, say: Callable[[str], None]) -> Decided:
    """The loop on a folder backend, under the folder's plan (written now where there is none)."""
    models = backend.state()
    # The suite's share of the plan is the first look's alpha: at least a second of it, so that
    # runs too short for their stamps to show still leave the first look something to spend.
    suite_s = max(sum(m.run_s * len(m.run_ids) for m in models.values()), 1.0)
    plan, earlier = load_plan(backend.folder, settings, suite_s)
    if earlier and plan.verdicts != settings.verdicts:
        say(f"deciding under the plan in {backend.folder}/decide.json, which an earlier start made")
    return Decider(backend, plan, settings, say).run()
