"""Which runs, in which order, on which workers: a suite's runs one after another in one folder, or an
interrupted folder resumed. The executor trains each run and the recorder writes its rows."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from optuna.trial import Trial

from bench.config import RunConfig
from bench.errors import BenchError
from bench.launch.cost_repeats import repeat_rows
from bench.launch.queue import RunFailed, RunQueue
from bench.launch.storage import Worker
from bench.launch.workers import slots, wait_all, worker_command
from bench.launch.workers import start as start_worker
from bench.modeling import check_display_names
from bench.readable import FOLDER, MISSING, what_is_there
from bench.results import ENV_FILE, RESULTS_FILE, RunFolder, saved_runs
from bench.runs.executor import Executor
from bench.runs.lock import folder_lock
from bench.runs.recorder import Recorder, merge_workers, records
from bench.runs.rows import run_id_of


def with_repeats(runs: list[RunConfig], repeats: int) -> list[RunConfig]:
    """Each run with seeds seed, seed+1, ..., seed+repeats-1 (model by model)."""
    if repeats < 1:
        raise BenchError(f"--repeats must be at least 1, not {repeats}.")
    return [dataclasses.replace(r, seed=r.seed + k) for r in runs for k in range(repeats)]


def refuse_existing(recorder: Recorder) -> None:
    out = recorder.out
    problem = what_is_there(out)
    if problem not in (MISSING, FOLDER):  # a file there, a name too long, a part of the path a file
        raise BenchError(f"Cannot make the results folder {out}: it {problem or 'is a file'}.")
    if (out / RESULTS_FILE).exists():
        raise BenchError(f"{out} already holds results; continue it with --resume {out}.")


def run_suite(
    runs: list[RunConfig], executor: Executor, recorder: Recorder, cost_repeats: int = 0
) -> list[dict[str, Any]]:
    """Check every run, then train them in order; a failing model does not stop the others. With
    `cost_repeats`, each finished run is followed by that many timed repeats in fresh processes."""
    refuse_existing(recorder)
    check_display_names(runs)
    executor.check(runs)
    with folder_lock(recorder.out, recorder.main):
        refuse_existing(recorder)  # again, under the lock: a run that held it may have finished
        saved = [dataclasses.asdict(r) for r in runs]
        recorder.write_env({"runs": saved, "cost_repeats": cost_repeats}, runs[0].device)
        try:
            return [_one(run, executor, recorder, cost_repeats) for run in runs]
        finally:
            recorder.compact()


def _one(run: RunConfig, executor: Executor, recorder: Recorder, cost_repeats: int) -> dict[str, Any]:
    row = executor.execute(run, SEQUENTIAL, sink=recorder).row
    if recorder.main:
        add_cost_repeats(run, row, recorder, cost_repeats, 1, executor.log)
    return row


SEQUENTIAL = {"concurrent_runs": 1}  # the tag of a run that had the machine to itself


def resume_suite(executor: Executor, recorder: Recorder) -> list[dict[str, Any]]:
    """Continue an interrupted folder: finished runs are kept, the others run (from checkpoints)."""
    runs, env = saved_runs(recorder.out)
    if "queue" in env:
        raise BenchError(
            f"{recorder.out} was run by workers sharing a queue; continue it with the same command "
            f"(--storage and --study {env['queue']['study']})."
        )
    cost_repeats = int(env.get("cost_repeats") or 0)
    executor.check(runs)
    with folder_lock(recorder.out, recorder.main):
        recorder.load()
        finished = {r["run_id"]: r for r in recorder.rows if r.get("status") == "ok"}
        rows = []
        try:
            for run in runs:
                run_id = run_id_of(run)
                if run_id in finished:
                    executor.log(f"{run_id}: finished before, kept.")
                    rows.append(finished[run_id])
                    add_cost_repeats(run, finished[run_id], recorder, cost_repeats, 1, executor.log)
                else:
                    rows.append(_one(run, executor, recorder, cost_repeats))
        finally:
            recorder.compact()
        return rows


# --- workers ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LaunchSettings:
    """How a suite's runs are launched: in this process alone (the default) or from a queue in an Optuna
    storage that workers share, and what follows each run (cost repeats)."""

    count: int = 1  # worker processes on this machine (--workers)
    share_cpu: bool = False  # let workers without GPUs share the CPU (--share-cpu)
    storage: str | None = None  # the queue's storage URL (--storage); default with --workers: OUT/queue.db
    study: str | None = None  # the queue's name (--study); default: OUT's name
    join: bool = False  # take the runs from the queue, as a worker that `--workers` started
    concurrent_runs: int | None = None  # runs at once on this machine, recorded in each row
    cost_repeats: int = 0  # timed repeats of each run in fresh processes (--cost-repeats)

    @property
    def queued(self) -> bool:
        return self.count > 1 or self.storage is not None or self.join

    def url(self, out: Path) -> str:
        return self.storage or f"sqlite:///{(out / QUEUE_DB).resolve()}"

    def name(self, out: Path) -> str:
        return self.study or out.resolve().name


QUEUE_DB = "queue.db"


def add_cost_repeats(
    run: RunConfig,
    row: dict[str, Any],
    recorder: Recorder,
    wanted: int,
    concurrent: int,
    log: Callable[[str], None],
) -> None:
    """Top the run's timed repeats up to `wanted` (a resumed run keeps those it has)."""
    have = recorder.cost_repeats_of(row["run_id"])
    todo = range(have + 1, wanted + 1)
    if not todo or row.get("status") != "ok":
        return
    try:
        recorder.cost_repeats(repeat_rows(run, row, todo, concurrent))
    except BenchError as exc:  # the run itself stands; its replicates are missing
        log(f"{row['run_id']}: cost repeats stopped: {exc}")


def run_queued(
    runs: list[RunConfig] | None, out: Path, workers: LaunchSettings, executor_for: Callable[[Path], Executor]
) -> list[dict[str, Any]]:
    """This process as one worker of the queue: claim runs until none is left; the merged rows."""
    worker = Worker.this()
    folder = out / worker.folder
    executor, recorder = executor_for(folder), Recorder(folder)
    if runs is not None:
        check_display_names(runs)
        executor.check(runs)
    out.mkdir(parents=True, exist_ok=True)  # the default queue.db lives in it
    queue = RunQueue.open(workers.url(out), workers.name(out), runs, worker)
    if not workers.join:
        again = queue.requeue_unfinished()
        if again:
            executor.log(f"queued again: {len(again)} run(s) that had not finished.")
        _write_queue_env(out, queue, workers)
    concurrent = workers.concurrent_runs or 1
    executor.resume_hint = "the same bench run command (the run is queued again)"

    def execute(trial: Trial, run: RunConfig) -> None:
        outcome = executor.execute(run, {"concurrent_runs": concurrent}, sink=recorder)
        add_cost_repeats(run, outcome.row, recorder, workers.cost_repeats, concurrent, executor.log)
        if outcome.row["status"] != "ok":
            raise RunFailed(outcome.row.get("error"))

    with folder_lock(folder):
        recorder.write_env({"runs": [dataclasses.asdict(r) for r in queue.runs()]}, queue.runs()[0].device)
        try:
            queue.work(execute, executor.log)
        finally:
            recorder.compact()
    merge_workers(out)
    return merged_rows(out, queue)


def _write_queue_env(out: Path, queue: RunQueue, workers: LaunchSettings) -> None:
    """OUT/env.json: the suite's runs and the queue they are in, once (a third call finds it)."""
    recorder = Recorder(out)
    if not (out / ENV_FILE).exists():
        queue_info = {"study": queue.study.study_name, "cost_repeats": workers.cost_repeats}
        recorder.write_env({"runs": [dataclasses.asdict(r) for r in queue.runs()], "queue": queue_info})


def merged_rows(out: Path, queue: RunQueue) -> list[dict[str, Any]]:
    """The folder's rows, worker folders merged, in the suite's order. A run that finished on a
    machine whose folder is not here is left out; one that no worker finished reads as interrupted."""
    frame = RunFolder(out).read(RESULTS_FILE)
    found = {str(r["run_id"]): r for r in records(frame)}
    elsewhere = queue.finished() - {i for i, run in enumerate(queue.runs()) if run_id_of(run) in found}
    rows = []
    for i, run in enumerate(queue.runs()):
        run_id = run_id_of(run)
        if run_id in found:
            rows.append(found[run_id])
        elif i not in elsewhere:
            rows.append(
                {"run_id": run_id, "model": run.model, "seed": run.seed, "status": "interrupted",
                 "error": "not finished; run the same command again to resume"}
            )  # fmt: skip
    return rows


def run_with_workers(
    runs: list[RunConfig] | None, out: Path, workers: LaunchSettings, executor: Executor, extra: Sequence[str]
) -> list[dict[str, Any]]:
    """`--workers N`: fill the queue here, start N workers on this machine's devices, wait, merge."""
    places = slots(workers.count, workers.share_cpu)  # refuse before anything is written
    if runs is not None:
        check_display_names(runs)
        executor.check(runs)
    out.mkdir(parents=True, exist_ok=True)
    queue = RunQueue.open(workers.url(out), workers.name(out), runs, Worker.this())
    again = queue.requeue_unfinished()
    if again:
        executor.log(f"queued again: {len(again)} run(s) that had not finished.")
    _write_queue_env(out, queue, workers)
    command = worker_command(out, workers.url(out), queue.study.study_name, workers.count, extra)
    processes = [start_worker(command, place) for place in places]
    total, shown = len(queue.runs()), [-1]

    def progress() -> None:
        done, running, _ = queue.counts()
        if done != shown[0]:
            executor.log(f"{done}/{total} runs done, {running} running on {workers.count} workers.")
            shown[0] = done

    codes = wait_all(processes, progress)
    if any(code not in (0, 1) for code in codes):
        executor.log(f"worker exit codes: {codes}; a run a worker left is queued again for the next call.")
    merge_workers(out)
    return merged_rows(out, queue)
