"""What a column of a results file may hold: a kind for its cells (text, an integer, a count, a number,
a fraction, a boolean, a JSON object or one of a few words), and whether every row must fill it.

The schema in bench/results.py declares each column with its kind; bench/strict_csv.py checks a file's
cells against them. Each kind turns a column of cell strings into values, vectorised: a results folder's
predictions.csv can hold hundreds of thousands of rows.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

MISSING_NUMBERS = {"", "nan", "NaN", "NAN"}  # an empty cell; pandas reads "nan" as one too

# (values, bad): the column's values (NaN where empty) and a mask of the cells that are not of the kind.
Converted = tuple[pd.Series, np.ndarray]


@dataclass(frozen=True)
class Kind:
    """A kind of cell: the words that name it in a message and how a column of strings is read."""

    words: str  # "a fraction in [0, 1]": what a bad cell is not
    convert: Callable[[pd.Series], Converted]
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


def _text(cells: pd.Series) -> Converted:
    return cells.where(cells != "", np.nan), np.zeros(len(cells), dtype=bool)


def _numbers(cells: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Cells as floats (NaN where empty) and the cells that are no number at all."""
    empty = cells.isin(MISSING_NUMBERS).to_numpy()
    values = pd.to_numeric(cells.where(~empty, np.nan), errors="coerce").astype(float)
    return values, values.isna().to_numpy() & ~empty


def number(
    low: float = -math.inf, high: float = math.inf, integer: bool = False, finite: bool = True
) -> Kind:
    """Numbers within [low, high]; integers only with `integer`; ±inf only without `finite`."""

    def convert(cells: pd.Series) -> Converted:
        values, bad = _numbers(cells)
        v = values.to_numpy()
        present = ~np.isnan(v)
        with np.errstate(invalid="ignore"):
            outside = present & ((v < low) | (v > high))
            if finite:
                outside |= present & ~np.isfinite(v)
            if integer:
                outside |= present & np.isfinite(v) & (np.floor(v) != v)
                outside |= present & ~np.isfinite(v)
        bad = bad | outside
        whole = integer and len(v) and present.all() and not bad.any() and np.abs(v).max() < 2**53
        return (values.astype(np.int64) if whole else values), bad  # integers, as pandas reads them

    return Kind(_number_words(low, high, integer), convert, numeric=True)


def _number_words(low: float, high: float, integer: bool) -> str:
    if integer:
        return "a count (an integer, 0 or more)" if low == 0 else "an integer"
    if (low, high) == (0, 1):
        return "a fraction in [0, 1]"
    return "a number, 0 or more" if low == 0 else "a number"


_TRUE, _FALSE = {"True", "true", "TRUE", "1", "1.0"}, {"False", "false", "FALSE", "0", "0.0"}


def _boolean(cells: pd.Series) -> Converted:
    truth = cells.map(lambda c: True if c in _TRUE else False if c in _FALSE else np.nan)
    bad = (truth.isna() & (cells != "")).to_numpy()
    return (truth.astype(bool) if not truth.isna().any() else truth), bad


def _json_object(cells: pd.Series) -> Converted:
    def is_object(cell: str) -> bool:
        if cell == "":
            return True
        try:
            return isinstance(json.loads(cell), dict)
        except (ValueError, RecursionError):  # RecursionError: nested past the parser's depth
            return False

    return _text(cells)[0], ~cells.map(is_object).to_numpy(dtype=bool)


def one_of(*words: str) -> Kind:
    """Text that is one of `words` (or empty)."""

    def convert(cells: pd.Series) -> Converted:
        return _text(cells)[0], (~cells.isin(["", *words])).to_numpy()

    return Kind("one of " + ", ".join(words), convert)


TEXT = Kind("text", _text)
INTEGER = number(integer=True)
COUNT = number(low=0, integer=True)
NUMBER = number(finite=False)  # an interval's bound may be infinite
NON_NEGATIVE = number(low=0)
FRACTION = number(low=0, high=1)
BOOLEAN = Kind("True or False", _boolean)
JSON_OBJECT = Kind("a JSON object", _json_object)


def inferred(cells: pd.Series) -> pd.Series:
    """A column the schema does not declare (a class's probability, a plugin's column): numbers where
    every filled cell is one, else text, as pandas would read it."""
    values, bad = _numbers(cells)
    if bad.any():
        return _text(cells)[0]
    filled = values.dropna()
    if len(filled) == len(values) and len(values) and (filled % 1 == 0).all() and filled.abs().max() < 2**53:
        return values.astype(np.int64)
    return values
