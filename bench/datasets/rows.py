"""What the file loaders share: a file's rows as labelled reviews (texts checked, labels as stripped
strings), and the one way rows become a Dataset: labels checked across train, validation and test,
small classes refused, and one file split 80/20 where no test file is given. Reading the files is
bench.datasets.readers; the labels' rules are bench.datasets.labels."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import numpy as np
import pandas as pd

from bench.data import (
    DataRequest,
    Dataset,
    Split,
    check_classes,
    clean_text,
    finish,
    split_from_frame,
    stratified_indices,
)
from bench.datasets.labels import (
    canonical_labels,
    check_class_sizes,
    check_numbers_are_integers,
    check_other_splits,
    class_names,
    encode,
    integer_label,
)
from bench.errors import BenchError

# The columns of a labelled frame, the only ones kept from a file: a file's own columns (one named
# "_part", say) cannot collide with what is added here.
TEXT, LABEL, WHERE, PART = "text", "label", "where", "part"


def labelled_frame(
    frame: pd.DataFrame, path: Path, text_col: str, label_col: str, request: DataRequest
) -> tuple[pd.DataFrame, int]:
    """The rows a reader read from `path` (each named by its index) as TEXT, LABEL (a stripped string)
    and WHERE; a review empty after cleaning is an error, or skipped and counted."""
    columns = [str(c) for c in frame.columns]
    missing = [c for c in (text_col, label_col) if c not in columns]
    if missing:
        raise BenchError(
            f"{path}: missing column(s) {', '.join(map(repr, missing))}; "
            f"the file has {', '.join(map(repr, columns)) or 'none'}."
        )
    texts = []
    for text, where in zip(frame[text_col], frame.index):
        if not (_is_null(text) or isinstance(text, str)):
            raise BenchError(f"{where}: the review is {type(text).__name__} {_short(text)}, not text.")
        if isinstance(text, str) and not _is_unicode(text):
            raise BenchError(
                f"{where}: the review holds a lone surrogate (half of a character); write it whole."
            )
        texts.append("" if _is_null(text) else text)
    rows = pd.DataFrame({TEXT: texts, WHERE: [str(w) for w in frame.index], LABEL: list(frame[label_col])})
    empty = pd.Series([clean_text(t) == "" for t in texts], dtype=bool)
    if empty.any() and not request.skip_bad_rows:
        raise BenchError(
            f"{rows.loc[empty, WHERE].iloc[0]}: empty review; fix it or pass --skip-bad-rows "
            f"({int(empty.sum())} such rows)."
        )
    rows = rows[~empty].reset_index(drop=True)
    labels = []
    for label, where in zip(rows[LABEL], rows[WHERE]):
        if _is_null(label) or not str(label).strip():
            raise BenchError(f"{where}: no label; give every row one.")
        if isinstance(label, list | dict):
            raise BenchError(f"{where}: label {_short(label)} is not a single value.")
        if not _is_unicode(str(label)):
            raise BenchError(
                f"{where}: the label holds a lone surrogate (half of a character); write it whole."
            )
        labels.append(str(label).strip())
    return rows.assign(**{LABEL: labels}), int(empty.sum())


def _is_null(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def _is_unicode(text: str) -> bool:
    """False for a string holding a lone surrogate (JSON's "\\ud83d" alone), which no file can hold."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _short(value: Any) -> str:
    shown = repr(value)
    return shown if len(shown) <= 60 else shown[:60] + "…"


def class_ids(frame: pd.DataFrame, n_classes: int) -> np.ndarray:
    """Labels that must be the integers 0 .. n_classes - 1 (a data set of known classes), as ids."""
    canonical = frame[LABEL].map(integer_label)
    bad = ~canonical.isin([str(k) for k in range(n_classes)])
    if bad.any():
        first = int(np.argmax(bad.to_numpy()))
        value, where = frame[LABEL].iloc[first], frame[WHERE].iloc[first]
        raise BenchError(f"{where}: label {_short(value)} is not one of 0 to {n_classes - 1}.")
    return canonical.astype(int).to_numpy(dtype=np.int64)


FileReader = Callable[[Path], pd.DataFrame]  # a file's rows (values as read), each named by its index
TABLE_OPTIONS = ("text", "label", "test", "val")


def _parse_table_arg(arg: str) -> tuple[Path, dict[str, str]]:
    path, _, query = arg.partition("?")
    options = dict(parse_qsl(query))
    unknown = set(options) - set(TABLE_OPTIONS)
    if unknown:
        allowed = ", ".join(f"{o}=" for o in TABLE_OPTIONS)
        raise BenchError(f"Unknown option(s) {', '.join(sorted(unknown))}; use {allowed}.")
    return expanded(path), options


def expanded(path: str) -> Path:
    """A path as given, `~` expanded; one line where `~user` names nobody."""
    try:
        return Path(path).expanduser()
    except RuntimeError:
        raise BenchError(f"{path}: no home folder for {path.split('/')[0]!r}.") from None


def splits_from_frames(
    name: str,
    frames: Mapping[str, pd.DataFrame],
    text_col: str,
    request: DataRequest,
    skipped: int = 0,
    where: object = "",
) -> Dataset:
    """The one way rows become a Dataset, whatever the file format.

    `frames` holds `train` (rows from labelled_frame), and `test` and `val` where separate files give
    them. Labels are integers where all are, else strings in sorted order; the test and validation
    files may hold only the training file's classes, and a training class needs
    `request.min_class_size` rows. Without `test`, train is split 80/20 by seed; without `val`, val is
    carved from the training sample. (`text_col` is the file's; the rows hold the text as TEXT.)
    """
    parts = list(frames)  # train first, then test and val as given
    combined = pd.concat([frames[p] for p in parts], keys=parts, names=[PART, None])
    combined = combined.reset_index(level=0).reset_index(drop=True)  # ids number the rows in order
    check_numbers_are_integers(combined[LABEL], combined[WHERE])
    combined[LABEL] = canonical_labels(combined[LABEL])
    by_part = {p: combined.loc[combined[PART] == p, LABEL] for p in parts}
    check_other_splits(by_part, {p: combined.loc[combined[PART] == p, WHERE] for p in parts})
    check_class_sizes(
        by_part["train"], combined.loc[combined[PART] == "train", WHERE], request.min_class_size
    )
    names = class_names(by_part["train"])
    combined["_label"] = encode(combined[LABEL], names)

    def rows(part: str, prefix: str) -> Split:
        return split_from_frame(combined[combined[PART] == part], TEXT, prefix)

    rng = np.random.default_rng(request.seed)
    if "test" in frames:
        train, test = rows("train", "train-"), rows("test", "test-")
    else:
        train_rows = combined[combined[PART] == "train"]
        labels = train_rows["_label"].to_numpy()
        test_idx = stratified_indices(labels, max(1, len(labels) // 5), rng)
        is_test = np.zeros(len(labels), dtype=bool)
        is_test[test_idx] = True
        train = split_from_frame(train_rows[~is_test], TEXT, "row-")
        test = split_from_frame(train_rows[is_test], TEXT, "row-")
    check_classes(train, names, where or name)
    val = rows("val", "val-") if "val" in frames else None
    return finish(name, train, test, names, request, skipped, val, rng)


def load_rows(arg: str, request: DataRequest, scheme: str, reader: FileReader) -> Dataset:
    """Any file a reader reads: `PATH?text=COL&label=COL&test=PATH&val=PATH`."""
    if not arg:
        raise BenchError(f"The {scheme} dataset needs a file: --dataset {scheme}:PATH.")
    path, options = _parse_table_arg(arg)
    text_col, label_col = options.get("text", "text"), options.get("label", "label")
    files = {"train": path} | {p: expanded(options[p]) for p in ("test", "val") if p in options}
    frames: dict[str, pd.DataFrame] = {}
    skipped = 0
    for part, file in files.items():
        frames[part], n_bad = labelled_frame(reader(file), file, text_col, label_col, request)
        skipped += n_bad
    return splits_from_frames(f"{scheme}:{arg}", frames, text_col, request, skipped, path)
