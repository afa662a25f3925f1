"""Nothing a crash left is thrown away: what a rewrite or a cut removes from a results file is first
kept beside it (`results.csv.torn`, `epochs.csv.redone`, ...), and the user is told.

A crash in the middle of an append leaves the file's last line without its newline. Before the next
append that line is looked at: a complete row (it parses) only gets its newline; a torn one (it does
not) is kept in `<file>.torn` and cut off, so that the next row does not run into it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from bench import atomic
from bench.readable import is_readable_file
from bench.results import read_table, torn_notice
from bench.strict_csv import Torn

Say = Callable[[str], None]


def kept_path(file: Path, why: str) -> Path:
    """`<file>.<why>`, or `<file>.<why>.2` and on where an earlier one is there: none is overwritten."""
    path, n = file.with_name(f"{file.name}.{why}"), 1
    while os.path.lexists(path):
        n += 1
        path = file.with_name(f"{file.name}.{why}.{n}")
    return path


def keep(file: Path, data: bytes, why: str) -> Path:
    """`data`, removed from `file`, written beside it (atomically) before the file changes."""
    path = kept_path(file, why)
    atomic.write_bytes(path, data)
    return path


def cut_torn(file: Path, torn: Torn, say: Say) -> None:
    """Keep a torn last line in `<file>.torn`, then cut it from the file."""
    kept = keep(file, torn.data, "torn")
    with file.open("rb+") as handle:
        handle.truncate(torn.offset)
        handle.flush()
        os.fsync(handle.fileno())
    say(torn_notice(file, torn, f"kept it in {kept.name} and cut it from {file.name}"))


def ends_in_newline(file: Path) -> bool:
    """Whether the file is empty or ends with a newline: nothing to look at before appending."""
    size = file.stat().st_size
    if not size:
        return True
    with file.open("rb") as handle:
        handle.seek(size - 1)
        return handle.read(1) == b"\n"


def mend(file: Path, say: Say) -> None:
    """Make `file` ready for an append: a last line without its newline is either a complete row
    (given its newline) or torn (kept and cut). A file that fails otherwise is a BenchError."""
    if not is_readable_file(file) or ends_in_newline(file):
        return
    table = read_table(file)
    if table.torn is not None:
        cut_torn(file, table.torn, say)
        return
    with file.open("ab") as handle:
        handle.write(b"\n")
        handle.flush()
        os.fsync(handle.fileno())
