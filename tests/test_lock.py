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
    """Started together, the second is refused in one line (or, were it let in, both rows would have
    to be there)."""
    out = tmp_path / "out"

    def start(seed: int) -> subprocess.Popen[bytes]:
        command = [sys.executable, "-m", "bench", "run", "--suite", str(tiny_suite), "--model", "encoder"]
        command += ["--epochs", "1", "--seed", str(seed), "--out", str(out), "-q"]
        return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    processes = [start(0), start(1)]
    outputs = [p.communicate(timeout=300) for p in processes]
    codes = [p.returncode for p in processes]
    rows = pd.read_csv(out / "results.csv")
    if codes == [0, 0]:
        assert sorted(rows["seed"]) == [0, 1]
    else:
        assert sorted(codes) == [0, 2], outputs
        refused = outputs[codes.index(2)][1].decode()
        assert refused.startswith("bench: error:") and refused.count("\n") == 1, refused
        assert rows["seed"].tolist() == [codes.index(0)]
        assert rows["status"].tolist() == ["ok"]
    assert not (out / LOCK_FILE).exists()
