"""Reading a data file's rows: TSV and CSV (strict quoting), JSONL and Parquet, each row with its place
in the file (the frame's index: "PATH, line N"), for error messages.

What a file cannot be read as is one line naming the file and where: no regular file (a folder, a
FIFO, /dev/null), no permission, a name too long, UTF-16 or bytes that are not UTF-8, NUL bytes, an
unbalanced quote, a column twice in the header, the header repeated as a data row, rows with more or
fewer fields than the header; for JSONL, a line that is no JSON object, a key twice, nesting or a
number past what Python reads. A long review is read whatever its length.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from bench.errors import BenchError
from bench.readable import read_bytes, what_is_there

BOM = b"\xef\xbb\xbf"
FIELD_LIMIT = 2**31 - 1  # the csv module's cap on one field is 131,072 characters: a long review passes it


def read_text(path: Path) -> str:
    """A UTF-8 file's text, without the byte-order mark some editors write (as `utf-8-sig` does)."""
    raw = read_bytes(path)
    raw = raw[len(BOM) :] if raw.startswith(BOM) else raw
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise BenchError(f"{path}, line 1: UTF-16 text (a UTF-16 byte-order mark); re-save as UTF-8.")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise BenchError(f"{path}, line {line}: bytes that are not UTF-8; re-save as UTF-8.") from None
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise BenchError(
            f"{path}, line {line}: a NUL byte; is the file UTF-16 without a byte-order mark, or not text?"
        )
    return text


@contextlib.contextmanager
def _long_fields() -> Iterator[None]:
    previous = csv.field_size_limit(FIELD_LIMIT)
    try:
        yield
    finally:
        csv.field_size_limit(previous)


def _check_header(path: Path, header: list[str]) -> None:
    seen: dict[str, int] = {}
    for i, name in enumerate(header, start=1):
        if name in seen and name.strip():  # unnamed columns (a saved index, say) are never read
            raise BenchError(
                f"{path}, line 1: the column {name!r} appears twice in the header (fields {seen[name]} and "
                f"{i}); rename one."
            )
        seen[name] = i


def read_table(path: Path, sep: str) -> pd.DataFrame:
    """Read a delimited file strictly: CSV quoting with doubled quotes, CRLF or LF line ends."""
    # The csv module, not pandas: pandas would silently turn an extra first field into an index.
    reader = csv.reader(io.StringIO(read_text(path), newline=""), delimiter=sep, strict=True)
    rows, lines = [], []  # each row with the file line it starts on (a quoted review spans several)
    with _long_fields():
        try:
            start = 1
            for row in reader:
                if row:  # blank lines are no rows
                    rows.append(row)
                    lines.append(start)
                start = reader.line_num + 1
        except csv.Error as exc:
            raise BenchError(
                f"{path}, line {reader.line_num}: {exc}; check for an unbalanced quote."
            ) from None
    if not rows:
        raise BenchError(f"{path} is empty; it needs a header row and data rows.")
    header, body = rows[0], rows[1:]
    _check_header(path, header)
    for line, row in zip(lines[1:], body):
        if len(row) != len(header):
            fewer_or_more = "fewer" if len(row) < len(header) else "more"
            raise BenchError(
                f"{path}, line {line}: {len(row)} fields, {fewer_or_more} than the header's "
                f"{len(header)}; check the separator and the quotes."
            )
        if row == header:
            raise BenchError(
                f"{path}, line {line}: the header again, as a data row (files joined with their "
                "headers?); remove it."
            )
    if not body:
        raise BenchError(f"{path} has a header but no data rows.")
    index = pd.Index([f"{path}, line {line}" for line in lines[1:]], name="where")
    return pd.DataFrame(body, columns=header, index=index, dtype=object)


def _unique_keys(path: Path, line: int) -> Any:
    """A JSON object hook that refuses a key given twice (json keeps the last, silently)."""

    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for key, value in pairs:
            if key in found:
                raise BenchError(f"{path}, line {line}: the key {key!r} appears twice in one object.")
            found[key] = value
        return found

    return hook


def _json_line(path: Path, line: int, text: str) -> Any:
    try:
        return json.loads(text, object_pairs_hook=_unique_keys(path, line))
    except json.JSONDecodeError as exc:
        raise BenchError(
            f"{path}, line {line}: invalid JSON ({exc.msg}, column {exc.colno}); "
            "write one JSON object per line."
        ) from None
    except RecursionError:
        raise BenchError(
            f"{path}, line {line}: JSON nested too deep to read; write one flat object per line."
        ) from None
    except ValueError as exc:  # an integer of over 4,300 digits, which Python will not convert
        raise BenchError(
            f"{path}, line {line}: a number too long to read ({str(exc).split(':')[0]})."
        ) from None


def read_jsonl(path: Path) -> pd.DataFrame:
    """Read one JSON object per line (blank lines ignored); a key missing on a line is a null."""
    records, lines = [], []
    for line, text in enumerate(read_text(path).split("\n"), start=1):
        if not text.strip():
            continue
        record = _json_line(path, line, text)
        if not isinstance(record, dict):
            raise BenchError(
                f"{path}, line {line}: a JSON {type(record).__name__}, not an object; "
                "write one JSON object per line."
            )
        records.append(record)
        lines.append(line)
    if not records:
        raise BenchError(f"{path} is empty; it needs one JSON object per line.")
    index = pd.Index([f"{path}, line {line}" for line in lines], name="where")
    return pd.DataFrame(records, index=index, dtype=object)


def read_parquet(path: Path) -> pd.DataFrame:
    """Read a Parquet file (needs pyarrow); rows are named by their index, counting from 0."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise BenchError(
            f"Reading {path} needs pyarrow; install it with: pip install 'bench[parquet]'."
        ) from None
    problem = what_is_there(path)
    if problem is not None:
        raise BenchError(f"{path} {problem}.")
    try:
        table = pq.read_table(path)
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        raise BenchError(f"{path} is not a readable Parquet file: {' '.join(str(exc).split())}.") from None
    if table.num_rows == 0:
        raise BenchError(f"{path} has no data rows.")
    names = table.column_names
    if len(set(names)) < len(names):
        twice = next(n for n in names if names.count(n) > 1)
        raise BenchError(f"{path}: the column {twice!r} appears twice; rename one.")
    index = pd.Index([f"{path}, row {i} (counting from 0)" for i in range(table.num_rows)], name="where")
    return pd.DataFrame({name: table.column(name).to_pylist() for name in names}, index=index, dtype=object)
