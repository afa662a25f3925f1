"""`bench sweep` on a real PostgreSQL server: two workers share one study, and a third call resumes it.

A throwaway PostgreSQL server is started on 127.0.0.1 in a temporary folder (initdb and pg_ctl from
PATH; as root they run as the `postgres` user) and stopped at the end. Without initdb, pg_ctl or
psycopg the test skips, except under CI=true, where it fails: CI must run it.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import optuna
import pandas as pd
import pytest
from optuna.trial import TrialState
from rich.console import Console

from bench.config import SweepSettings, apply_overrides, load_suite
from bench.launch.storage import with_driver
from bench.sweep.driver import run_sweep

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "data" / "tiny_sweep.toml"


def unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must run the PostgreSQL test: {reason}")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def postgres() -> Iterator[str]:
    """The URL of a new, empty database on a PostgreSQL server that lives for this test."""
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb is None or pg_ctl is None:
        unavailable("needs PostgreSQL's initdb and pg_ctl on PATH")
    if importlib.util.find_spec("psycopg") is None:
        unavailable("needs psycopg (pip install -e '.[test]')")
    import psycopg

    as_user: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="bench-pg-"))  # not under pytest's 0700 tmp: postgres reads it
    if os.geteuid() == 0:  # initdb refuses to run as root
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            unavailable("runs as root, and there is no postgres user to run the server as")
        as_user = ["runuser", "-u", "postgres", "--"]
        os.chown(folder, owner.pw_uid, owner.pw_gid)
    data, port = folder / "data", free_port()
    started = False

    def run(*command: str) -> None:
        subprocess.run([*as_user, *command], check=True, capture_output=True, timeout=60)

    try:
        run(initdb, "-D", str(data), "-U", "bench", "--auth=trust", "-E", "UTF8")
        options = f"-h 127.0.0.1 -p {port} -k {folder} -F"  # -F: no fsync, a throwaway server
        run(pg_ctl, "-D", str(data), "-l", str(folder / "log"), "-o", options, "-w", "start")
        started = True
        with psycopg.connect(f"host=127.0.0.1 port={port} user=bench dbname=postgres", autocommit=True) as db:
            db.execute("CREATE DATABASE sweeps")
        yield f"postgresql://bench@127.0.0.1:{port}/sweeps"
    finally:
        if started:
            with contextlib.suppress(subprocess.SubprocessError):
                run(pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(folder, ignore_errors=True)


def sweep(out: Path, url: str, trials: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "bench", "sweep", "--suite", str(TINY), "--model", "encoder"]
    command += ["--param", "max_len", "--sampler", "grid", "--trials", str(trials), "--study", "pg"]
    command += ["--storage", url, "--out", str(out), "-q"]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def test_a_bare_postgresql_url_gets_the_driver_the_extra_installs() -> None:
    url = "postgresql://user:secret@dbhost/sweeps"
    has_psycopg2 = importlib.util.find_spec("psycopg2") is not None
    assert with_driver(url) == (url if has_psycopg2 else "postgresql+psycopg://user:secret@dbhost/sweeps")
    assert with_driver("postgresql+psycopg2://h/db") == "postgresql+psycopg2://h/db"
    assert with_driver("sqlite:///study.db") == "sqlite:///study.db"


def test_two_workers_and_a_resume_on_postgresql(postgres: str, tmp_path: Path) -> None:
    workers = [sweep(tmp_path, postgres, trials=3) for _ in range(2)]
    outputs = [w.communicate(timeout=120)[0].decode() for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs

    study = optuna.load_study(study_name="pg", storage=with_driver(postgres))
    trials = [t for t in study.get_trials() if "skipped" not in t.user_attrs]
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 3  # exactly --trials, between them
    assert sorted(t.params["max_len"] for t in trials) == [16, 24, 32]
    ran = []
    for results in tmp_path.glob("worker-*/results.csv"):
        ran += pd.read_csv(results)["trial"].tolist()
    assert sorted(ran) == sorted(t.number for t in trials)  # none run twice

    # The third call, in this process (no second start-up of torch): the study is complete.
    suite = load_suite(str(TINY))
    base = apply_overrides(suite, {}, ("encoder",))[0]
    settings = SweepSettings(("max_len",), trials=3, study="pg", storage=postgres, sampler="grid")
    folders = sorted(tmp_path.glob("worker-*"))
    outcome = run_sweep(base, suite, settings, tmp_path, Console(quiet=True))
    assert len(outcome.study.get_trials()) == len(study.get_trials())  # it ran nothing more
    assert sorted(tmp_path.glob("worker-*")) == folders
    assert (outcome.trials["state"] == "COMPLETE").sum() == 3
