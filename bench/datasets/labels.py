"""Class labels read from data files: integers kept exact whatever their size, the classes of train,
validation and test checked against each other, and a class too small to be one refused.

Integer labels ("0", "+1", "2.0", or 2^64) are compared as digit strings, never through a machine
integer, so that none wraps around and none of any length is refused by Python's int conversion. A
class with fewer training rows than `min_class_size` is nearly always a typo or a stray header row: it
is refused, and the message says how to keep it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from bench.errors import BenchError

_INTEGER = re.compile(r"([+-]?)0*([0-9]+?)(?:\.0*)?")  # ASCII digits only: \d also takes other scripts


def integer_label(label: str) -> str | None:
    """A label written as an integer, in one canonical form ("+01" and "1.0" are "1"); None for others."""
    match = _INTEGER.fullmatch(label)
    if match is None:
        return None
    sign, digits = match.groups()
    return f"-{digits}" if sign == "-" and digits != "0" else digits


_MIRROR = str.maketrans("0123456789", "9876543210")


def _numeric_order(label: str) -> tuple[int, int, str]:
    """Sorts canonical integers as numbers: by sign, then length, then digits."""
    digits = label.lstrip("-")
    if label.startswith("-"):  # mirrored digits: the larger magnitude sorts first
        return (0, -len(digits), digits.translate(_MIRROR))
    return (1, len(digits), digits)


def canonical_labels(raw: pd.Series) -> pd.Series:
    """Labels (stripped strings) as their classes name them: integers in canonical form where every
    label is an integer, else the strings as they are."""
    numbers = raw.map(integer_label)
    return numbers if numbers.notna().all() else raw


def class_names(labels: pd.Series) -> tuple[str, ...]:
    """The classes in order: numeric order for integers, else sorted strings."""
    values = labels.unique().tolist()
    numeric = all(integer_label(v) == v for v in values)
    return tuple(sorted(values, key=_numeric_order) if numeric else sorted(values))


def encode(labels: pd.Series, names: Sequence[str]) -> np.ndarray:
    lookup = {name: i for i, name in enumerate(names)}
    return labels.map(lookup).to_numpy(dtype=np.int64)


def check_other_splits(labels: Mapping[str, pd.Series], where: Mapping[str, pd.Series]) -> None:
    """Every class of the test and validation files is one of the training file's."""
    known = set(labels["train"])
    shown = ", ".join(repr(n) for n in class_names(labels["train"])[:10])
    for part in ("test", "val"):
        if part not in labels:
            continue
        unknown = ~labels[part].isin(known)
        if unknown.any():
            first = int(np.argmax(unknown.to_numpy()))
            raise BenchError(
                f"{where[part].iloc[first]}: label {labels[part].iloc[first]!r} is not a class of the "
                f"training file (its classes: {shown}); label the {part} file as the training file is."
            )


def check_class_sizes(
    labels: pd.Series, where: pd.Series, min_size: int, expected: Sequence[str] = (), file: object = ""
) -> None:
    """Refuse a class of the training rows with fewer than `min_size` rows; for a data set of known
    classes (`expected`, read from `file`), a class with none counts as one with 0 rows."""
    counts = labels.value_counts()
    counts = pd.concat([counts, pd.Series(0, index=[e for e in expected if e not in counts.index])])
    small = counts[counts < min_size]
    if small.empty:
        return
    name, n = small.index[0], int(small.iloc[0])
    if n == 0:
        raise BenchError(
            f"{file}: no training row has the class {name!r} of the data set's {len(expected)} "
            f"({', '.join(expected)}); pass --min-class-size 0 to train without it."
        )
    first = where[labels == name].iloc[0]
    raise BenchError(
        f"{first}: the class {name!r} has {n} training row{'s' if n != 1 else ''}, fewer than {min_size}: "
        f"nearly always a typo or a stray header row. Fix the label, or pass --min-class-size {n} to keep it."
    )


_NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")


def check_numbers_are_integers(labels: pd.Series, where: pd.Series) -> None:
    """Labels that are all numbers must all be integers: 0.5 among 0 and 1 is a mistake, not a class."""
    numbers = labels.map(lambda v: _NUMBER.fullmatch(v) is not None)
    if not numbers.all():
        return  # words: every label is a class by its name
    fractional = labels.map(integer_label).isna()
    if fractional.any():
        first = int(np.argmax(fractional.to_numpy()))
        raise BenchError(f"{where.iloc[first]}: label {labels.iloc[first]!r} is not one of integers.")
