"""Atomic file writes: a file is written beside its target, flushed to disk and renamed into place.

Readers see the old file or the new one, never half of one, and a crash right after a write does not
leave an empty file behind (the data and the rename are both fsynced). `replacing` hands out the
temporary path, so that any writer (safetensors, torch.save, a CSV) can write to it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

_ATTEMPTS = 100


def _create_temp(folder: Path, name: str) -> Path:
    """A new empty file in `folder` with a random name, created with the mode the umask allows.

    Not tempfile.mkstemp: its 0600 would keep results from other users, and reading the umask to
    chmod afterwards means setting it for a moment, which races with other threads creating files.
    Opening with 0o666 lets the kernel apply the umask, as for any new file; `replacing` keeps
    that mode even where a writer puts a file of its own in the temporary file's place.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(_ATTEMPTS):
        path = folder / f".{name}.{secrets.token_hex(4)}.tmp"
        try:
            os.close(os.open(path, flags, 0o666))
        except FileExistsError:
            continue
        return path
    raise FileExistsError(f"no free temporary name for {name} in {folder}")


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDWR | getattr(os, "O_BINARY", 0))  # Windows' fsync needs write access
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(folder: Path) -> None:
    """Make a rename in `folder` durable, where the OS lets a folder be opened (not on Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):  # some file systems refuse to fsync a folder (EINVAL)
            os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path` to write to; when the block ends, the file there
    replaces `path` (fsynced, then renamed). If the block raises, `path` is left as it was and the
    temporary file is removed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _create_temp(path.parent, path.name)
    wanted = stat.S_IMODE(tmp.stat().st_mode)
    try:
        yield tmp
        if stat.S_IMODE(tmp.stat().st_mode) != wanted:  # safetensors replaces the file with a 0600 one
            os.chmod(tmp, wanted)
        _fsync_file(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def write_bytes(path: Path, data: bytes) -> None:
    with replacing(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: Path, text: str) -> None:
    """`text` as UTF-8, byte for byte: no newline translation, as CSV writers expect."""
    write_bytes(path, text.encode("utf-8"))
