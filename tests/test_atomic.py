"""Atomic writes: the old file or the new one, never half of one; durable; the mode the umask allows."""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from bench import atomic
from bench.reporting import plots
from bench.reporting.write import write_report
from bench.results import result_columns, write_csv, write_json
from bench.runs import tokcache
from bench.runs.checkpoint import WEIGHTS, save_checkpoint

BASIC = Path(__file__).parent / "data" / "golden" / "basic"


@pytest.fixture
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize(("umask", "expected"), [(0o022, 0o644), (0o077, 0o600)], indirect=["umask"])
def test_files_take_the_mode_the_umask_allows(
    umask: int, expected: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(plots, "write_all", lambda rep, folder: {})  # matplotlib's files are not ours
    folder = shutil.copytree(BASIC, tmp_path / "basic")
    write_csv(tmp_path / "results.csv", [{"model": "bert"}], result_columns())
    write_json(tmp_path / "env.json", {"python": "3"})
    written = [tmp_path / "results.csv", tmp_path / "env.json"]
    for fmt, name in (("markdown", "report.md"), ("html", "report.html")):
        target = write_report([folder], fmt, tmp_path / name)
        assert target is not None
        written.append(target)
    tokens = tokcache.Tokens([[1, 2], [3]], np.array([False, True]), hit=False)
    tokcache.write(tmp_path / "cache" / "ab" / "key.safetensors", tokens)
    written.append(tmp_path / "cache" / "ab" / "key.safetensors")
    save_checkpoint(tmp_path / "ck", 1, torch.nn.Linear(2, 2), {})
    written.append(tmp_path / "ck" / WEIGHTS)
    assert {path.name: oct(mode(path)) for path in written} == {path.name: oct(expected) for path in written}


def test_a_failing_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "results.csv"
    atomic.write_text(path, "old\n")
    with pytest.raises(OSError, match="disk full"), atomic.replacing(path) as tmp:
        tmp.write_text("half")
        raise OSError(28, "disk full")
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["results.csv"]


def test_a_failing_rename_leaves_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "results.csv"
    atomic.write_text(path, "old\n")

    def broken_replace(src: object, dst: object) -> None:
        raise OSError("read-only")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        atomic.write_text(path, "new\n")
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["results.csv"]


def test_the_data_then_the_rename_are_fsynced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append("fsync-dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "fsync-file")
        real_fsync(fd)

    def replace(src: object, dst: object) -> None:
        events.append("rename")
        real_replace(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    atomic.write_text(tmp_path / "a.csv", "x,y\r\n1,2\n")
    assert (tmp_path / "a.csv").read_bytes() == b"x,y\r\n1,2\n"  # no newline translation
    expected = ["fsync-file", "rename"] + (["fsync-dir"] if os.name == "posix" else [])
    assert events == expected
