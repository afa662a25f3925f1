"""What a column of a results file may hold: a kind for its cells (text, an integer, a count, a number,
a fraction, a boolean, a JSON object or one of a few words), and whether every row must fill it.

The schema in bench/results.py declares each column with its kind; bench/strict_csv.py checks a file's
cells against them. A kind turns a column of cell strings into an array of values and a mask of the
cells that are not of the kind. Plain loops over the cells: a results file's columns are many and its
rows few, where pandas' per-column overhead would dominate, and a predictions file of 100,000 rows
still reads in a fraction of a second.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

MISSING_NUMBERS = frozenset({"", "nan", "NaN", "NAN"})  # an empty cell; pandas writes NaN as ""
INT_EXACT = 2**53  # integers past this are not exact as floats: such a column stays float

# (values, bad): the column's values (NaN where empty) and a mask of the cells that are not of the kind.
Converted = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class Kind:
    """A kind of cell: the words that name it in a message and how a column of strings is read."""

    words: str  # "a fraction in [0, 1]": what a bad cell is not
    convert: Callable[[Sequence[str]], Converted]
    numeric: bool = False


@dataclass(frozen=True)
class Column:
    """One column of a results file: its name, what it means, its kind, and whether it is required
    (present in the header and filled in every row)."""

    name: str
    doc: str
    kind: Kind | None = None  # None: text
    required: bool = False

    @property
    def cells(self) -> Kind:
        return self.kind or TEXT


def _text(cells: Sequence[str]) -> Converted:
    values = np.array([c if c else np.nan for c in cells], dtype=object)
    return values, np.zeros(len(cells), dtype=bool)


def _float(cell: str) -> float | None:
    """A cell as a number; NaN where empty; None where it is no number ("1_000" is none, though
    Python's float takes it)."""
    if cell in MISSING_NUMBERS:
        return math.nan
    if "_" in cell:
        return None
    try:
        return float(cell)
    except ValueError:
        return None


def _numbers(cells: Sequence[str]) -> Converted:
    """Cells as floats (NaN where empty) and the cells that are no number at all."""
    parsed = [_float(c) for c in cells]
    bad = np.array([p is None for p in parsed], dtype=bool)
    return np.array([math.nan if p is None else p for p in parsed], dtype=float), bad


def number(
    low: float = -math.inf, high: float = math.inf, integer: bool = False, finite: bool = True
) -> Kind:
    """Numbers within [low, high]; integers only with `integer`; ±inf only without `finite`."""

    def convert(cells: Sequence[str]) -> Converted:
        values, bad = _numbers(cells)
        present = ~np.isnan(values)
        with np.errstate(invalid="ignore"):
            outside = present & ((values < low) | (values > high))
            if finite or integer:
                outside |= present & ~np.isfinite(values)
            if integer:
                outside |= present & np.isfinite(values) & (np.floor(values) != values)
        bad |= outside
        if integer and len(values) and present.all() and not bad.any() and np.abs(values).max() < INT_EXACT:
            return values.astype(np.int64), bad  # a full column of integers, as pandas reads one
        return values, bad

    return Kind(_number_words(low, high, integer), convert, numeric=True)


def _number_words(low: float, high: float, integer: bool) -> str:
    if integer:
        return "a count (an integer ≥ 0)" if low == 0 else "an integer"
    if (low, high) == (0, 1):
        return "a fraction in [0, 1]"
    return "a number ≥ 0" if low == 0 else "a number"


_TRUTH = {"True": True, "true": True, "TRUE": True, "1": True, "1.0": True,
          "False": False, "false": False, "FALSE": False, "0": False, "0.0": False}  # fmt: skip


def _boolean(cells: Sequence[str]) -> Converted:
    values = [_TRUTH.get(c, np.nan) for c in cells]
    bad = np.array([c != "" and c not in _TRUTH for c in cells], dtype=bool)
    filled = all(isinstance(v, bool) for v in values)
    return np.array(values, dtype=bool if filled else object), bad


def _is_json_object(cell: str) -> bool:
    if cell == "":
        return True
    try:
        return isinstance(json.loads(cell), dict)
    except (ValueError, RecursionError):  # RecursionError: nested past the parser's depth
        return False


def _json_object(cells: Sequence[str]) -> Converted:
    return _text(cells)[0], np.array([not _is_json_object(c) for c in cells], dtype=bool)


def one_of(*words: str) -> Kind:
    """Text that is one of `words` (or empty)."""
    allowed = {"", *words}

    def convert(cells: Sequence[str]) -> Converted:
        return _text(cells)[0], np.array([c not in allowed for c in cells], dtype=bool)

    return Kind("one of " + ", ".join(words), convert)


TEXT = Kind("text", _text)
INTEGER = number(integer=True)
COUNT = number(low=0, integer=True)
NUMBER = number(finite=False)  # an interval's bound may be infinite
NON_NEGATIVE = number(low=0)
FRACTION = number(low=0, high=1)
BOOLEAN = Kind("True or False", _boolean)
JSON_OBJECT = Kind("a JSON object", _json_object)


def inferred(cells: Sequence[str]) -> np.ndarray:
    """A column the schema does not declare (a class's probability, a plugin's column): numbers where
    every filled cell is one, else text, as pandas would read it."""
    values, bad = _numbers(cells)
    if bad.any():
        return _text(cells)[0]
    finite = values[np.isfinite(values)]
    whole = len(finite) == len(values) and len(values) and (finite % 1 == 0).all()
    return values.astype(np.int64) if whole and np.abs(finite).max() < INT_EXACT else values
