"""The Optuna storage that run queues and sweeps share: opening it (SQLite or PostgreSQL), worker
identity, and retrying dead workers' trials."""

from __future__ import annotations

import importlib.util
import os
import socket
import time
import warnings
from dataclasses import dataclass

import optuna
import psutil
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.trial import TrialState

from bench.errors import BenchError, one_line
from bench.processes import is_running, start_time

HEARTBEAT_S, GRACE_S = 30, 120  # how soon a trial of a dead worker on another machine is retried
MAX_RETRIES = 2  # a trial that kills its worker every time must not be retried for ever
LIVE = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING, TrialState.WAITING)


@dataclass(frozen=True)
class Worker:
    """This process, as recorded on each trial it runs; its results go to its own folder."""

    host: str
    pid: int
    start: str  # the process's start time (repr of a float); empty where unknown

    @classmethod
    def this(cls) -> Worker:
        start = start_time(os.getpid())
        return cls(socket.gethostname(), os.getpid(), "" if start is None else repr(start))

    @property
    def folder(self) -> str:
        host = "".join(c if c.isalnum() or c in "-_" else "_" for c in self.host.split(".")[0])
        return f"worker-{host}-{self.pid}"

    def is_dead(self) -> bool:
        try:
            start = float(self.start)
        except ValueError:  # no start time recorded: the pid alone
            return not psutil.pid_exists(self.pid)
        return not is_running(self.pid, start)  # a reused pid does not look alive


def retry_callback() -> RetryHeartbeatStaleTrialCallback:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRIES)


def with_driver(url: str) -> str:
    """`postgresql://` names no driver: SQLAlchemy 2.0 takes psycopg2 for it, 2.1 psycopg 3. The
    `postgres` extra installs psycopg 3, so name it wherever psycopg2 is missing."""
    bare = "postgresql://"
    if url.startswith(bare) and importlib.util.find_spec("psycopg2") is None:
        return "postgresql+psycopg://" + url[len(bare) :]
    return url


def open_storage(url: str, attempts: int = 3) -> RDBStorage:
    """Optuna's RDB storage with heartbeats, so trials of dead workers elsewhere are failed and retried."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

    url = with_driver(url)
    shown = url
    error: Exception | None = None
    for attempt in range(attempts):
        try:
            shown = make_url(url).render_as_string(hide_password=True)
            engine_kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return RDBStorage(
                    url,
                    engine_kwargs=engine_kwargs,
                    heartbeat_interval=HEARTBEAT_S,
                    grace_period=GRACE_S,
                    heartbeat_stale_trial_callback=retry_callback(),
                )
        # Workers started together race to make the tables (PostgreSQL: "already exists").
        except (IntegrityError, OperationalError, ProgrammingError) as exc:
            error = exc
            time.sleep(1.0 + attempt)
        except Exception as exc:  # bad URL, missing driver: the user's to fix
            error = exc
            break
    assert error is not None
    hint = " (for PostgreSQL: pip install 'bench[postgres]')" if isinstance(error, ImportError) else ""
    raise BenchError(f"Cannot open the study storage {shown}: {one_line(error)}{hint}")


def recover_dead_trials(study: optuna.Study, storage: RDBStorage, here: Worker) -> list[int]:
    """Fail and re-enqueue RUNNING trials of dead workers on this host, at once.

    The heartbeat does the same for any host, but only after its grace period; a sweep restarted
    right after a kill would otherwise count the dead trial as running and stop one short.
    """
    study_id = storage.get_study_id_from_name(study.study_name)
    recovered = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        info = trial.user_attrs.get("worker") or {}
        if info.get("host") != here.host or not Worker(here.host, info["pid"], info["start"]).is_dead():
            continue
        trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, trial.number)
        try:
            if not storage.set_trial_state_values(trial_id, TrialState.FAIL):
                continue
        except optuna.exceptions.UpdateFinishedTrialError:
            continue  # another worker failed it first, and re-enqueued it
        retry_callback()(study, storage.get_trial(trial_id))
        recovered.append(trial.number)
    return recovered
