"""A suite's runs as a queue in an Optuna storage, the one `bench sweep` uses (SQLite or PostgreSQL),
shared by every worker of `bench run --storage URL --study NAME` and of `bench run --workers N`.

Each run, repeats included, is one enqueued trial (`study.enqueue_trial`) whose user attribute `run`
holds its settings. The process that creates the study enqueues them, once: creating a study of a
name succeeds in one process only; the others wait until the queue's `runs` attribute, written last,
says it is complete. A worker claims the next run by asking the study for a trial (Optuna hands out
the oldest waiting one) and runs it inside `study.optimize`, whose heartbeat marks it alive.

Claiming is atomic: PostgreSQL locks the waiting trial's row (SELECT ... FOR UPDATE), which SQLite
cannot, so two workers on one SQLite file could both take one waiting trial and run its run twice;
there the claim is made under an exclusive lock on a file beside the database (every worker of an
SQLite queue is on its machine), held from asking for a trial until its objective starts.

A dead worker's run goes back to the queue: after the heartbeat's grace period on any machine, at
once on the same machine (`recover_dead_trials`), as a retry trial that another worker claims. A run
that failed or was interrupted is queued again when the next call joins the queue, so a third call
resumes. A trial whose run an earlier live trial holds is skipped unrun, so each run finishes once.
"""

from __future__ import annotations

import dataclasses
import fcntl
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import optuna
from optuna.storages import RDBStorage
from optuna.trial import FrozenTrial, Trial, TrialState

from bench.config import RunConfig
from bench.errors import BenchError
from bench.launch.storage import LIVE, Worker, open_storage, recover_dead_trials, retry_callback
from bench.runs.interrupts import interruptible, take_pending

KIND = "bench run"  # the study's `kind` attribute: a queue of runs, not a sweep
READY_WAIT_S = 300  # how long a worker waits for the creating worker to finish enqueuing
POLL_S = 2.0  # how often an idle worker looks for runs that a dead worker's retry puts back


class RunFailed(Exception):
    """The run ended without an ok row; its trial is marked FAIL and the next call queues it again."""


class Skipped(Exception):
    """The trial holds no run (the queue was empty when it was asked for) or a run held elsewhere."""


def _index(trial: FrozenTrial) -> int | None:
    index = trial.user_attrs.get("index")
    return int(index) if index is not None else None


class ClaimLock:
    """An exclusive lock on `path` (fcntl.flock) from `with` until `release()` or the block's end;
    no lock at all where `path` is None (a server database locks the row itself)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._fd: int | None = None

    def __enter__(self) -> ClaimLock:
        if self.path is not None:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def __exit__(self, *exc: object) -> None:
        self.release()


def claim_lock_path(url: str) -> Path | None:
    """The claim lock beside an SQLite database file; None for a server database."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database).with_name(Path(parsed.database).name + ".claim")


@dataclass
class RunQueue:
    study: optuna.Study
    storage: RDBStorage
    worker: Worker
    _claim: ClaimLock = field(init=False)

    def __post_init__(self) -> None:
        self._claim = ClaimLock(claim_lock_path(self.storage.url))

    @classmethod
    def open(cls, url: str, name: str, runs: list[RunConfig] | None, worker: Worker) -> RunQueue:
        """Join study `name`, creating it with `runs` enqueued if it does not exist yet. Given `runs`
        must be the queue's own (every machine runs the same command)."""
        storage = open_storage(url)
        optuna.logging.set_verbosity(optuna.logging.ERROR)
        saved = [dataclasses.asdict(r) for r in runs] if runs is not None else None
        try:
            study = optuna.create_study(storage=storage, study_name=name)
        except optuna.exceptions.DuplicatedStudyError:
            study = optuna.load_study(storage=storage, study_name=name)
        else:
            if saved is None:
                raise BenchError(f"study {name!r} holds no runs to join.")
            study.set_user_attr("kind", KIND)
            for i, run in enumerate(saved):
                study.enqueue_trial({}, user_attrs={"run": run, "index": i})
            study.set_user_attr("runs", saved)  # last: the queue is complete
        queue = cls(study, storage, worker)
        queue._wait_ready(name)
        # The suite's runs come first; `--until-decided` may have added seeds after them.
        if saved is not None and queue.runs()[: len(saved)] != [RunConfig.from_saved(r) for r in saved]:
            raise BenchError(
                f"study {name!r} already queues other runs; give the same suite and settings as the "
                "workers that made it, or another --study."
            )
        return queue

    def _wait_ready(self, name: str) -> None:
        deadline = time.monotonic() + READY_WAIT_S
        while "runs" not in self.study.user_attrs:
            attrs = self.study.user_attrs
            if (
                attrs.get("kind", KIND) != KIND
                or "objectives" in attrs
                or any(
                    "run" not in t.user_attrs and "skipped" not in t.user_attrs
                    for t in self.study.get_trials(deepcopy=False)
                )
            ):
                raise BenchError(
                    f"study {name!r} is not a queue of bench runs (a sweep's?); give another --study."
                )
            if time.monotonic() > deadline:
                raise BenchError(f"study {name!r} was never filled with runs; give another --study.")
            time.sleep(1.0)

    def runs(self) -> list[RunConfig]:
        return [RunConfig.from_saved(r) for r in self.study.user_attrs["runs"]]

    def add(self, runs: list[RunConfig]) -> None:
        """Queue more runs after the suite's (the seeds `--until-decided` asks for).
        Only the deciding process adds, so reading and rewriting the list races with no one."""
        saved = list(self.study.user_attrs["runs"])
        start = len(saved)
        saved += [dataclasses.asdict(r) for r in runs]
        self.study.set_user_attr("runs", saved)  # first: a worker that claims a trial finds its run listed
        for i in range(start, len(saved)):
            self.study.enqueue_trial({}, user_attrs={"run": saved[i], "index": i})

    def counts(self) -> tuple[int, int, int]:
        """(finished, running, waiting) runs: finished is the runs with a complete trial."""
        trials = self.study.get_trials(deepcopy=False)
        done = {_index(t) for t in trials if t.state == TrialState.COMPLETE}
        running = sum(t.state == TrialState.RUNNING and "run" in t.user_attrs for t in trials)
        waiting = sum(t.state == TrialState.WAITING for t in trials)
        return len(done - {None}), running, waiting

    def finished(self) -> set[int]:
        """The indices of the runs with a complete trial."""
        trials = self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        return {i for i in map(_index, trials) if i is not None}

    def requeue_unfinished(self) -> list[int]:
        """Queue again each run that no trial holds or finished (it failed, or was interrupted with
        its retries used up); the run indices queued."""
        trials = self.study.get_trials(deepcopy=False)
        held = {_index(t) for t in trials if t.state in LIVE}
        again = [i for i in range(len(self.study.user_attrs["runs"])) if i not in held]
        for i in again:
            self.study.enqueue_trial({}, user_attrs={"run": self.study.user_attrs["runs"][i], "index": i})
        return again

    def recover(self) -> list[int]:
        """Put back dead workers' runs: at once on this machine, after the heartbeat's grace elsewhere."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(self.study)
        return recover_dead_trials(self.study, self.storage, self.worker)

    def work(self, execute: Callable[[Trial, RunConfig], None], log: Callable[[str], None]) -> None:
        """Claim and run queued runs until none is left waiting or running anywhere."""
        while True:
            recovered = self.recover()
            if recovered:
                log(f"runs of a dead worker queued again (trials {recovered}).")
            _, running, waiting = self.counts()
            if waiting:
                with self._claim:
                    self.study.optimize(self._objective(execute), n_trials=1, catch=(RunFailed, Skipped))
            elif running:
                pending = take_pending()  # a signal while idle: nothing of Optuna's is half-done
                if pending is not None:
                    raise pending
                time.sleep(POLL_S)  # another worker's run may yet come back to the queue
            else:
                return

    def _objective(self, execute: Callable[[Trial, RunConfig], None]) -> Callable[[Trial], float]:
        def objective(trial: Trial) -> float:
            self._claim.release()  # the trial is this worker's now: the next may claim theirs
            saved, index = trial.user_attrs.get("run"), trial.user_attrs.get("index")
            if saved is None or index is None or self._held_elsewhere(trial.number, int(index)):
                trial.set_user_attr("skipped", "no run" if saved is None else "held by an earlier trial")
                raise Skipped()
            w = self.worker
            trial.set_user_attr(
                "worker", {"host": w.host, "pid": w.pid, "start": w.start, "folder": w.folder}
            )
            try:
                with interruptible():
                    execute(trial, RunConfig.from_saved(saved))
            except KeyboardInterrupt:  # Optuna marks the trial FAIL; a copy of it waits for the next call
                retry_callback()(self.study, self.storage.get_trial(trial._trial_id))
                raise
            return 0.0

        return objective

    def _held_elsewhere(self, number: int, index: int) -> bool:
        """Whether an earlier trial that is live (or finished) holds run `index`."""
        return any(
            _index(t) == index and t.number < number and "skipped" not in t.user_attrs
            for t in self.study.get_trials(deepcopy=False, states=LIVE)
        )
