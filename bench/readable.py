"""Reading a file a user named: one line saying what is wrong when it is no readable regular file (a
folder, a FIFO, a device such as /dev/null, a name too long, no permission), never a traceback and
never a read that blocks on a pipe."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from bench.errors import BenchError

MISSING = "does not exist"
FOLDER = "is a folder, not a file"


def what_is_there(path: Path) -> str | None:
    """Why `path` cannot be read as a file (None when it is a regular file): for an error message."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return MISSING
    except NotADirectoryError:
        return f"{MISSING} (a part of its path is a file, not a folder)"
    except ValueError:  # a NUL in the name, which no file system takes
        return "is no valid path (it holds a NUL character)"
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            return f"cannot be opened: its name is too long for the file system ({len(path.name)} characters)"
        return f"cannot be looked at ({exc.strerror or exc})"
    if stat.S_ISDIR(mode):
        return FOLDER
    if stat.S_ISFIFO(mode):
        return "is a named pipe (FIFO), not a file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "is a device, not a file"
    if not stat.S_ISREG(mode):
        return "is not a regular file"
    return None


def is_readable_file(path: Path) -> bool:
    return what_is_there(path) is None


def read_bytes(path: Path, label: str = "") -> bytes:
    """A regular file's bytes; a BenchError naming `path` (after `label`, e.g. "the results file")
    for anything else."""
    problem = what_is_there(path)
    if problem is not None:
        raise BenchError(f"{label}{path} {problem}.")
    try:
        return path.read_bytes()
    except OSError as exc:  # no permission, a read error of the disk
        raise BenchError(f"{label}{path} cannot be read: {exc.strerror or exc}.") from None
