"""`--until-decided` where the suite's runs shared a queue (`--workers N`, `--storage URL`): the seeds the
decide loop asks for go into that same queue, where every worker takes them, and the runs it extends
are evaluated by the deciding process, into the folder of the worker that trained them.

One process decides. Every call of the command runs for the lead of a generation of deciding
(optuna.create_study of `STUDY:decide-G` succeeds in one process only): the first call that finds no
generation, or only finished or abandoned ones, or one whose leader on this machine has died, leads
the next; the others work the queue whenever it holds runs, until their generation is finished. A
call that began after a generation finished leads a new one, which continues the folder's
decisions.csv, as `bench decide` does.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

import optuna
from optuna.storages import RDBStorage

from bench.config import RunConfig
from bench.decide.folder import FolderBackend
from bench.decide.local import decide, extend_run, repeat_run
from bench.decide.loop import Decided
from bench.decide.plan import DecideSettings
from bench.errors import BenchError
from bench.launch.queue import POLL_S, RunQueue
from bench.launch.storage import Worker, open_storage
from bench.results import RESULTS_FILE, RunFolder, read_rows, worker_folders
from bench.runs.interrupts import take_pending
from bench.runs.lock import folder_lock
from bench.runs.recorder import Recorder, merge_workers
from bench.runs.rows import run_id_of

FINISHED, ABANDONED, LEADER = "finished", "abandoned", "leader"


class QueueBackend(FolderBackend):
    """The decide loop's backend over a run queue: `work` runs the queue's waiting runs to the end (this
    process as one worker, or the workers it starts), whichever workers of other machines join in."""

    def __init__(self, out: Path, queue: RunQueue, work: Callable[[], None], skip_bad_rows: bool) -> None:
        super().__init__(out, skip_bad_rows)
        self.queue, self.work = queue, work

    def train_seeds(self, configs: Sequence[RunConfig]) -> None:
        self.queue.add(list(configs))
        self.work()
        merge_workers(self.folder)
        rows = {str(r["run_id"]): r for r in RunFolder(self.folder).read(RESULTS_FILE).to_dict("records")}
        for config in configs:
            row = rows.get(run_id_of(config), {})
            if row.get("status") != "ok":
                raise BenchError(f"{run_id_of(config)} failed while deciding: {row.get('error')}")

    def _owner(self, run_id: str) -> Path:
        """The worker folder that holds the run's finished row (and its kept weights)."""
        for folder in worker_folders(self.folder):
            rows = read_rows(folder / RESULTS_FILE)
            if not rows.empty and ((rows["run_id"] == run_id) & (rows["status"] == "ok")).any():
                return folder
        raise BenchError(f"{run_id} finished in no worker folder of {self.folder}; give the workers' folder.")

    def _in_owner(self, run_id: str, write: Callable[[Recorder], None]) -> None:
        """Write into the folder of the worker that trained the run: the queue is idle between looks,
        so no worker writes there meanwhile."""
        owner = self._owner(run_id)
        with folder_lock(owner):
            recorder = Recorder(owner)
            recorder.load()
            try:
                write(recorder)
            finally:
                recorder.compact()
        merge_workers(self.folder)

    def extend(self, run_id: str, config: RunConfig, n_items: int) -> None:
        self._in_owner(run_id, lambda r: extend_run(r, run_id, config, n_items, self.skip_bad_rows))

    def repeat(self, run_id: str, config: RunConfig, count: int) -> None:
        self._in_owner(run_id, lambda r: repeat_run(r, run_id, config, count, print))


def _over(study: optuna.Study) -> bool:
    """Whether a generation can be led no more: finished, abandoned, or its leader dead on this machine."""
    attrs = study.user_attrs
    if attrs.get(FINISHED) or attrs.get(ABANDONED):
        return True
    leader = attrs.get(LEADER)  # none yet: its creator is about to write it
    if not leader:
        return False
    return bool(leader["host"] == Worker.this().host and Worker(**leader).is_dead())


def _finished_since_we_began(study: optuna.Study) -> bool:
    """A generation that finished after this process started: this call was one of its own (a slower
    machine of the same command), not a later call that means to decide further."""
    began, finished = Worker.this().start, study.user_attrs.get(FINISHED)
    return finished is not None and bool(began) and float(finished) >= float(began)


def elect(storage: RDBStorage, name: str) -> tuple[optuna.Study, bool]:
    """The generation of deciding now under way, and whether this process leads it (it started it)."""
    generation = 0
    while True:
        study_name = f"{name}:decide-{generation}"
        try:
            study = optuna.create_study(storage=storage, study_name=study_name)
        except optuna.exceptions.DuplicatedStudyError:
            study = optuna.load_study(storage=storage, study_name=study_name)
            if not _over(study) or _finished_since_we_began(study):
                return study, False
            generation += 1
            continue
        w = Worker.this()
        study.set_user_attr(LEADER, {"host": w.host, "pid": w.pid, "start": w.start})
        return study, True


def help_until_decided(queue: RunQueue, generation: optuna.Study, work: Callable[[], None]) -> bool:
    """Work the queue whenever the leader fills it; False once the generation is finished, True when its
    leader is gone and another must take over."""
    while True:
        if generation.user_attrs.get(FINISHED):
            return False
        if _over(generation):
            return True
        if queue.counts()[2]:
            work()
        else:
            pending = take_pending()
            if pending is not None:
                raise pending
            time.sleep(POLL_S)


def decide_queued(
    out: Path,
    url: str,
    name: str,
    settings: DecideSettings,
    work: Callable[[], None],
    skip_bad_rows: bool,
    say: Callable[[str], None],
) -> Decided | None:
    """Lead the deciding, or help whoever leads it; the outcome where this process led."""
    storage = open_storage(url)
    queue = RunQueue.open(url, name, None, Worker.this())
    while True:
        generation, leading = elect(storage, name)
        if leading:
            break
        leader = generation.user_attrs.get(LEADER) or {}
        say(
            f"deciding is led by pid {leader.get('pid', '?')} on {leader.get('host', '?')}; this process "
            "trains the seeds it queues."
        )
        if not help_until_decided(queue, generation, work):
            return None
    try:
        outcome = decide(QueueBackend(out, queue, work, skip_bad_rows), settings, say)
    except BaseException:
        generation.set_user_attr(ABANDONED, True)  # another call takes over at once
        raise
    generation.set_user_attr(FINISHED, time.time())  # when: see _finished_since_we_began
    return outcome
