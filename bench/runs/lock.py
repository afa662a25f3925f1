"""One writer per results folder: a lock file naming the process that holds the folder.

`bench run` (new or `--resume`) takes `.bench.lock` in its results folder for as long as it runs, so
a second process cannot write over its rows. The file holds the holder's pid, host and start time; a
lock whose process is gone (or whose pid now belongs to another process) is taken over, so a killed
run never leaves its folder stuck. A lock from another host cannot be checked and is never taken.
Sweep workers each lock their own folder, `OUT/worker-<host>-<pid>/`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import secrets
import socket
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.errors import BenchError, one_line
from bench.processes import is_running, start_time

LOCK_FILE = ".bench.lock"
WRITING_GRACE_S = 10.0  # an empty lock file younger than this is being written by its holder
_ATTEMPTS = 50


@dataclass(frozen=True)
class Holder:
    pid: int
    host: str
    start: float  # the process's start time, which tells it from a later process with its pid

    @classmethod
    def this(cls) -> Holder:
        pid = os.getpid()
        return cls(pid, socket.gethostname(), start_time(pid) or 0.0)

    def is_alive(self) -> bool:
        if self.host != socket.gethostname():
            return True  # no way to look at another machine's processes
        return is_running(self.pid, self.start)

    def describe(self) -> str:
        since = dt.datetime.fromtimestamp(self.start, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        return f"pid {self.pid} on {self.host}, started {since}"


def _read(path: Path) -> tuple[bytes, Holder | None] | None:
    """The lock file's bytes and holder (None where unreadable); None when there is no file."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:  # a folder, or a file this user may not read, where the lock file goes
        raise BenchError(
            f"{path} cannot be read as the folder's lock ({one_line(exc)}); if no bench process runs "
            "there, remove it and try again."
        ) from None
    try:
        data = json.loads(raw)
        return raw, Holder(int(data["pid"]), str(data["host"]), float(data["start"]))
    except (ValueError, KeyError, TypeError):
        return raw, None


def _age_s(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


class FolderLock:
    """The lock of one results folder; `with FolderLock(folder):` holds it for the block."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / LOCK_FILE
        self.me = Holder.this()
        self.held = False

    def acquire(self) -> None:
        """Take the lock, taking over a stale one; a BenchError when a live process holds it."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # a file where the folder goes, a name too long, no permission
            raise BenchError(f"Cannot make the results folder {self.folder}: {one_line(exc)}") from None
        for _ in range(_ATTEMPTS):
            if self._create():
                self.held = True
                return
            found = _read(self.path)
            if found is None:
                continue  # released meanwhile
            raw, holder = found
            if holder is None and _age_s(self.path) < WRITING_GRACE_S:
                time.sleep(0.1)  # its holder has created it and is writing it
                continue
            if holder is not None and holder.is_alive():
                raise BenchError(self._busy(holder))
            self._take_over(raw)
        raise BenchError(f"Cannot take the lock {self.path}: other processes keep taking it; try again.")

    def _create(self) -> bool:
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return False
        except OSError as exc:
            raise BenchError(f"Cannot write to {self.folder}: {one_line(exc)}") from None
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(asdict(self.me), handle)
        return True

    def _take_over(self, stale: bytes) -> None:
        """Remove the stale lock file whose bytes are `stale`, and nothing newer.

        Two processes may find the same stale lock; the first removes it and creates its own, which
        the second must not remove. So move the file aside first and look at what was moved.
        """
        aside = self.path.with_name(f"{LOCK_FILE}.{os.getpid()}.{secrets.token_hex(4)}.stale")
        try:
            os.rename(self.path, aside)
        except FileNotFoundError:
            return  # another process removed it first
        try:
            if aside.read_bytes() != stale:  # a live lock, taken since we looked: put it back
                with contextlib.suppress(OSError):
                    os.link(aside, self.path)  # never over a lock a third process has taken
        finally:
            aside.unlink(missing_ok=True)

    def _busy(self, holder: Holder) -> str:
        if holder.host != self.me.host:
            return (
                f"{self.folder} is in use by {holder.describe()}; if that process is gone, "
                f"delete {self.path} and try again."
            )
        return (
            f"{self.folder} is in use by {holder.describe()}; wait for it to finish, or give another --out."
        )

    def release(self) -> None:
        """Remove the lock file, if it is still this process's."""
        if not self.held:
            return
        self.held = False
        found = _read(self.path)
        if found is not None and found[1] == self.me:
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> FolderLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


@contextlib.contextmanager
def folder_lock(folder: Path, enabled: bool = True) -> Iterator[None]:
    """Hold `folder`'s lock for the block; `enabled=False` (ranks other than 0, which write
    nothing) holds none."""
    if not enabled:
        yield
        return
    with FolderLock(folder):
        yield
