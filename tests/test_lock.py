"""One writer per results folder: a live holder refuses a second process; a dead one's lock is taken over."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from bench.cli import main
from bench.errors import BenchError
from bench.processes import start_time
from bench.runs import lock as lock_module
from bench.runs.lock import LOCK_FILE, FolderLock

ROOT = Path(__file__).resolve().parents[1]
HOLDING = ROOT / "tests" / "holding.py"


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def write_lock(folder: Path, pid: int, host: str | None = None, start: float | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_FILE
    holder = {"pid": pid, "host": host or socket.gethostname(), "start": start or time.time() - 60}
    path.write_text(json.dumps(holder))
    return path


def test_the_lock_names_its_holder_and_goes_with_it(tmp_path: Path) -> None:
    with FolderLock(tmp_path / "out") as lock:
        holder = json.loads(lock.path.read_text())
        assert (holder["pid"], holder["host"]) == (os.getpid(), socket.gethostname())
        assert holder["start"] == start_time(os.getpid())
    assert not lock.path.exists()


def test_a_live_holder_refuses_a_second_one_in_one_line(tmp_path: Path) -> None:
    with FolderLock(tmp_path), pytest.raises(BenchError, match=f"in use by pid {os.getpid()}") as info:
        FolderLock(tmp_path).acquire()
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "holder",
    [
        lambda: {"pid": dead_pid()},  # the process is gone
        lambda: {"pid": os.getpid(), "start": (start_time(os.getpid()) or 0) - 3600},  # pid reused
    ],
    ids=["dead-pid", "reused-pid"],
)
def test_a_stale_lock_is_taken_over(tmp_path: Path, holder) -> None:
    write_lock(tmp_path, **holder())
    with FolderLock(tmp_path) as lock:
        assert json.loads(lock.path.read_text())["start"] == start_time(os.getpid())
    assert not (tmp_path / LOCK_FILE).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing set aside is left


def test_an_unreadable_lock_is_stale_once_old_and_being_written_while_young(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lock_module, "_ATTEMPTS", 3)
    path = tmp_path / LOCK_FILE
    path.write_text("")
    os.utime(path, (time.time() - 60, time.time() - 60))  # its writer died before writing
    with FolderLock(tmp_path):
        pass
    path.write_text("")  # created a moment ago: its holder is writing it, so wait, then refuse
    with pytest.raises(BenchError, match="other processes keep taking it"):
        FolderLock(tmp_path).acquire()


def test_a_lock_of_another_host_is_never_taken(tmp_path: Path) -> None:
    path = write_lock(tmp_path, dead_pid(), host="elsewhere.example")
    with pytest.raises(BenchError, match=f"on elsewhere.example.*delete {path}"):
        FolderLock(tmp_path).acquire()


def test_taking_over_never_removes_a_lock_taken_since(tmp_path: Path) -> None:
    """Two processes that find one stale lock: the later must not remove the earlier's new lock."""
    path = write_lock(tmp_path, os.getpid(), start=start_time(os.getpid()))
    live = path.read_bytes()
    FolderLock(tmp_path)._take_over(b'{"pid": 1, "host": "h", "start": 0}')  # what it saw before
    assert path.read_bytes() == live
    assert [p.name for p in tmp_path.iterdir()] == [LOCK_FILE]


def test_release_leaves_a_lock_that_is_not_ours(tmp_path: Path) -> None:
    lock = FolderLock(tmp_path)
    lock.acquire()
    path = write_lock(tmp_path, 1, host="elsewhere.example")
    lock.release()
    assert path.exists()


def test_bench_run_refuses_a_held_folder_and_takes_a_dead_ones(tiny_suite: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["run", "--suite", str(tiny_suite), "--model", "encoder", "--epochs", "1", "--out", str(out), "-q"]
    with FolderLock(out):
        held = CliRunner().invoke(main, args)
    assert held.exit_code == 2
    assert held.stderr.startswith("bench: error:") and held.stderr.count("\n") == 1
    assert "in use by pid" in held.stderr

    write_lock(out, dead_pid())  # a run killed before it released the folder
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert not (out / LOCK_FILE).exists()
    write_lock(out, dead_pid())
    assert CliRunner().invoke(main, ["run", "--resume", str(out), "-q"]).exit_code == 0
    assert not (out / LOCK_FILE).exists()


def test_two_runs_into_one_folder_lose_nothing(tiny_suite: Path, tmp_path: Path) -> None:
    """A second run into a folder while the first trains there (a file handshake holds the first in
    training) is refused in one line; the first, released, finishes with its row whole."""
    out, ready, release = tmp_path / "out", tmp_path / "ready.json", tmp_path / "release"
    args = ["run", "--suite", str(tiny_suite), "--model", "encoder", "--epochs", "1", "--out", str(out), "-q"]
    hold = [sys.executable, str(HOLDING), str(ready), str(release), "0", "--"]
    first = subprocess.Popen([*hold, *args, "--seed", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not ready.exists() and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ready.exists(), first.communicate(timeout=60)
        assert json.loads((out / LOCK_FILE).read_text())["pid"] == first.pid  # the first holds the folder
        second = subprocess.run(
            [sys.executable, "-m", "bench", *args, "--seed", "1"], capture_output=True, text=True, timeout=120
        )
    finally:
        release.touch()
        first_output = first.communicate(timeout=120)
    assert second.returncode == 2, second.stderr
    assert second.stderr.startswith("bench: error:") and second.stderr.count("\n") == 1, second.stderr
    assert first.returncode == 0, first_output
    rows = pd.read_csv(out / "results.csv")
    assert rows["seed"].tolist() == [0] and rows["status"].tolist() == ["ok"]
    assert not (out / LOCK_FILE).exists()
