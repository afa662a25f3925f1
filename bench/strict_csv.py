"""Reading one CSV file of a results folder strictly, against its declared columns (bench.cells).

What is checked, each failure one BenchError naming the file, the line and, for a cell, the column:
the encoding (UTF-8; UTF-16 and bytes that are not UTF-8 refused), NUL bytes, the quoting, a header
with a column twice or unnamed, the required columns (with a hint where the header reads as one column
of another separator), the fields of every row against the header's, and every cell against its
column's kind. Columns the schema declares and the file lacks are added, empty, so that readers need
not ask for each.

A crash in the middle of an append leaves a last line without its newline. Such a line is torn when it
also fails to parse; it is then left out of the frame and returned in `Table.torn`, so that a writer
can keep it before cutting it (bench.runs.tail). A last line that parses is a complete row and is kept.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bench.cells import Column, inferred
from bench.errors import BenchError
from bench.readable import read_bytes

UTF8_BOM = b"\xef\xbb\xbf"
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_NOT_TEXT = re.compile("[\x00\udc80-\udcff]")  # a NUL, or a byte that was not UTF-8 (surrogateescape)
_OTHER_SEPARATORS = (";", "\t", "|")
_SHOWN = 40  # characters of a bad cell shown in a message


@dataclass(frozen=True)
class Torn:
    """A last line a crash cut short: where it starts and what is left of it."""

    line: int  # its line in the file, from 1
    offset: int  # its first byte
    data: bytes


@dataclass
class Table:
    frame: pd.DataFrame
    torn: Torn | None = None


class _Record:
    __slots__ = ("line", "fields")

    def __init__(self, line: int, fields: list[str]) -> None:
        self.line, self.fields = line, fields


def _shown(cell: str) -> str:
    return repr(cell if len(cell) <= _SHOWN else cell[:_SHOWN] + "…")


def _why_not_text(cell: str) -> str:
    return "a NUL byte" if "\x00" in cell else "bytes that are not UTF-8"


class _Reader:
    def __init__(self, path: Path, raw: bytes, columns: Sequence[Column]) -> None:
        self.path, self.raw = path, raw
        self.schema = {c.name: c for c in columns}
        self.start = len(UTF8_BOM) if raw.startswith(UTF8_BOM) else 0
        self.text = raw[self.start :].decode("utf-8", errors="surrogateescape")
        self.ends_whole = raw.endswith(b"\n")
        self.lines = self.text.count("\n") + (0 if self.ends_whole else 1)

    def fail(self, line: int, what: str, column: str | None = None) -> BenchError:
        where = f"{self.path}, line {line}" + (f", column {column}" if column else "")
        return BenchError(f"{where}: {what}.")

    def may_be_torn(self, record_line: int) -> bool:
        """Whether a record that fails could be a torn last line: it is the file's last line and the
        file does not end with a newline."""
        return not self.ends_whole and record_line == self.lines

    def torn(self, line: int) -> Torn:
        offset = self.start + sum(len(s) + 1 for s in self.raw[self.start :].split(b"\n")[: line - 1])
        return Torn(line, offset, self.raw[offset:])

    def records(self) -> tuple[list[_Record], Torn | None]:
        if '"' not in self.text:  # no quotes: a record is a line, and one pass reads them all
            try:
                rows = list(csv.reader(io.StringIO(self.text, newline=""), strict=True))
            except csv.Error:
                pass  # the loop below finds the line
            else:
                return [_Record(line, fields) for line, fields in enumerate(rows, start=1) if fields], None
        reader = csv.reader(io.StringIO(self.text, newline=""), strict=True)
        records: list[_Record] = []
        line = 1
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                return records, None
            except csv.Error as exc:
                if self.may_be_torn(line) and records:
                    return records, self.torn(line)
                raise self.fail(line, f"{exc} (a quote left open?)") from None
            if fields:  # a blank line is no row
                records.append(_Record(line, fields))
            line = reader.line_num + 1

    def header(self, record: _Record) -> list[str]:
        names, line = record.fields, record.line
        for i, name in enumerate(names, start=1):
            if _NOT_TEXT.search(name):
                raise self.fail(line, f"the header holds {_why_not_text(name)}")
            if not name.strip():
                raise self.fail(line, f"field {i} of the header has no column name")
        seen: dict[str, int] = {}
        for i, name in enumerate(names, start=1):
            if name in seen:
                raise self.fail(
                    line, f"the column {name!r} appears twice in the header (fields {seen[name]} and {i})"
                )
            seen[name] = i
        missing = [c.name for c in self.schema.values() if c.required and c.name not in seen]
        if missing:
            hint = ""
            if len(names) == 1 and any(s in names[0] for s in _OTHER_SEPARATORS):
                sep = next(s for s in _OTHER_SEPARATORS if s in names[0])
                hint = f"; the header reads as one column: is the file separated by {sep!r}, not commas?"
            raise self.fail(
                line, f"lacks the column{'s' if len(missing) > 1 else ''} {', '.join(missing)}{hint}"
            )
        return names

    def rows(self, header: list[str], body: list[_Record]) -> tuple[list[_Record], Torn | None]:
        """The records with as many fields as the header and only text in them; a last one that fails
        may be torn."""
        check_text = bool(_NOT_TEXT.search(self.text))
        for i, record in enumerate(body):
            problem: tuple[int, str, str | None] | None = None
            if len(record.fields) != len(header):
                n = len(record.fields)
                problem = (
                    record.line,
                    f"{n} field{'s' if n != 1 else ''} where the header has {len(header)}",
                    None,
                )
            elif check_text:
                bad = next((j for j, cell in enumerate(record.fields) if _NOT_TEXT.search(cell)), None)
                if bad is not None:
                    problem = (record.line, _why_not_text(record.fields[bad]), header[bad])
            if problem is not None:
                if i == len(body) - 1 and self.may_be_torn(record.line):
                    return body[:-1], self.torn(record.line)
                raise self.fail(*problem)
        return body, None

    def frame(self, header: list[str], body: list[_Record]) -> tuple[dict[str, np.ndarray], Torn | None]:
        """The rows as typed columns; a last row with a bad cell may be torn."""
        cells = list(zip(*(r.fields for r in body))) if body else [() for _ in header]
        columns: dict[str, np.ndarray] = {}
        first_bad: tuple[int, str, str] | None = None
        for name, column in zip(header, cells):
            values, problem = self.column(name, column)
            columns[name] = values
            if problem is not None and (first_bad is None or problem[0] < first_bad[0]):
                first_bad = problem
        if first_bad is None:
            return columns, None
        row, name, what = first_bad
        line = body[row].line
        if row == len(body) - 1 and self.may_be_torn(line):
            return self.frame(header, body[:-1])[0], self.torn(line)
        raise self.fail(line, what, name)

    def column(self, name: str, cells: Sequence[str]) -> tuple[np.ndarray, tuple[int, str, str] | None]:
        """A column's values, and its first bad cell: (row, column, what is wrong)."""
        declared = self.schema.get(name)
        if declared is None:
            return inferred(cells), None
        values, bad = declared.cells.convert(cells)
        empty = pd.isna(values) & ~bad if declared.required else np.zeros(len(cells), dtype=bool)
        either = bad | empty
        if not either.any():
            return values, None
        row = int(np.argmax(either))
        what = (
            "empty, and every row needs one"
            if empty[row]
            else f"{_shown(cells[row])} is not {declared.cells.words}"
        )
        return values, (row, name, what)

    def read(self) -> Table:
        if self.raw.startswith(UTF16_BOMS):
            raise self.fail(1, "UTF-16 text (a UTF-16 byte-order mark); results files are UTF-8")
        records, torn = self.records()
        if not records:
            return Table(pd.DataFrame(), torn)
        header = self.header(records[0])
        body, torn_row = self.rows(header, records[1:])
        columns, torn_cell = self.frame(header, body)
        rows = len(body) - (torn_cell is not None)
        for name, column in self.schema.items():  # a column the file lacks reads as empty
            if name not in columns:
                columns[name] = np.full(rows, np.nan, dtype=float if column.cells.numeric else object)
        return Table(pd.DataFrame(columns, columns=list(columns)), torn or torn_row or torn_cell)


def read_table(path: Path, columns: Sequence[Column]) -> Table:
    """`path` read and checked against `columns`; a BenchError for anything that fails, save a torn
    last line (see the module's doc)."""
    return _Reader(path, read_bytes(path), columns).read()
