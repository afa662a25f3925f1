"""What the fuzz tests share: the property every generated input must meet (a result, or a BenchError
whose message is one line: never a traceback), the snapshot of a folder that shows nothing in it was
changed or lost, and the tally of outcomes that the long profile reports (docs/reliability.md).

`HYPOTHESIS_PROFILE=long` runs many more inputs (tox -e fuzz); with BENCH_FUZZ_TALLY=FILE the session
adds its counts of each kind of input and outcome to that JSON file.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable, Collection
from pathlib import Path
from typing import TypeVar

from hypothesis import settings

from bench.errors import BenchError

T = TypeVar("T")
TALLY_ENV = "BENCH_FUZZ_TALLY"
RESULT, CLEAN_ERROR = "result", "clean error"
_tally: Counter[tuple[str, str]] = Counter()
LONG = os.environ.get("HYPOTHESIS_PROFILE") == "long"


def examples(ci: int, long: int) -> settings:
    """A test's number of generated inputs: few under the default profile (the suite stays fast),
    many under `long`; the rest of the settings are the profile's (tests/conftest.py)."""
    return settings(max_examples=long if LONG else ci)


def outcome(kind: str, action: Callable[[], T]) -> T | BenchError:
    """`action`'s result, or the BenchError it raised, whose message must be one line. Any other
    exception propagates and fails the test (what a user would see as a traceback)."""
    try:
        result = action()
    except BenchError as exc:
        message = str(exc)
        assert message.strip(), f"{kind}: a BenchError without a message"
        assert "\n" not in message and "\r" not in message, f"{kind}: a message of several lines: {message!r}"
        count(kind, CLEAN_ERROR)
        return exc
    count(kind, RESULT)
    return result


def count(kind: str, what: str, n: int = 1) -> None:
    _tally[(kind, what)] += n


def snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every path under `folder` (relative) with its bytes; None for a folder or anything not a file."""
    found: dict[str, bytes | None] = {}
    for path in sorted(folder.rglob("*")):
        name = str(path.relative_to(folder))
        found[name] = path.read_bytes() if path.is_file() and not path.is_symlink() else None
    return found


def assert_nothing_lost(
    before: dict[str, bytes | None], after: dict[str, bytes | None], allowed: Collection[str] = ()
) -> None:
    """Every path of `before` is still there with the same bytes (save those in `allowed`, which the
    action may rewrite); new paths may have been added."""
    for name, data in before.items():
        if name in allowed:
            continue
        assert name in after, f"{name} was removed"
        assert after[name] == data, f"{name} was changed"


def assert_kept_or_moved(
    before: dict[str, bytes | None], after: dict[str, bytes | None], rewritten: Collection[str] = ()
) -> None:
    """Nothing of `before` is lost: each file is as it was, or ends in the newline it lacked, or was
    cut with what was cut kept byte for byte in `<file>.torn`. Those in `rewritten` may change (the
    caller checks them its own way); none may go."""
    for name, data in before.items():
        assert name in after, f"{name} was removed"
        now = after[name]
        if now == data or name in rewritten or data is None or now is None:
            assert (now is None) == (data is None), f"{name} changed between a file and a folder"
            continue
        if now == data + b"\n":
            continue  # a complete last row given its newline
        kept = after.get(f"{name}.torn")
        assert kept is not None and now + kept == data, (
            f"{name} lost bytes: {len(data)} before, {len(now)} after"
        )


def write_tally(path: Path) -> None:
    """Add this session's counts to the JSON file at `path` ({kind: {outcome: n}})."""
    if not _tally:
        return
    totals: dict[str, dict[str, int]] = json.loads(path.read_text()) if path.is_file() else {}
    for (kind, what), n in sorted(_tally.items()):
        totals.setdefault(kind, {})
        totals[kind][what] = totals[kind].get(what, 0) + n
    path.write_text(json.dumps(totals, indent=2, sort_keys=True) + "\n")


def tally_file() -> Path | None:
    name = os.environ.get(TALLY_ENV)
    return Path(name) if name else None
