"""What the file loaders share: reading TSV, CSV, JSONL and Parquet rows with each row's place in its
file, checking texts and labels, and splitting the rows into train, validation and test."""

from __future__ import annotations

import csv
import io
import json
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
    encode_labels,
    finish,
    split_from_frame,
    stratified_indices,
)
from bench.errors import BenchError

WHERE = "_where"  # each reader's column naming each row's file and line (or row), for error messages
BOM = b"\xef\xbb\xbf"


def read_text(path: Path) -> str:
    """A UTF-8 file's text, without the byte-order mark some editors write (as `utf-8-sig` does)."""
    if not path.is_file():
        raise BenchError(f"{path} does not exist.")
    raw = path.read_bytes()
    raw = raw[len(BOM) :] if raw.startswith(BOM) else raw
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise BenchError(f"{path}, line 1: UTF-16 text (a UTF-16 byte-order mark); re-save as UTF-8.")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise BenchError(f"{path}, line {line}: bytes that are not UTF-8; re-save as UTF-8.") from None


def read_table(path: Path, sep: str) -> pd.DataFrame:
    """Read a delimited file strictly: CSV quoting with doubled quotes, CRLF or LF line ends."""
    # The csv module, not pandas: pandas would silently turn an extra first field into an index.
    reader = csv.reader(io.StringIO(read_text(path), newline=""), delimiter=sep, strict=True)
    rows, lines = [], []  # each row with the file line it starts on (a quoted review spans several)
    try:
        start = 1
        for row in reader:
            if row:  # blank lines are no rows
                rows.append(row)
                lines.append(start)
            start = reader.line_num + 1
    except csv.Error as exc:
        raise BenchError(f"{path}, line {reader.line_num}: {exc}; check for an unbalanced quote.") from None
    if not rows:
        raise BenchError(f"{path} is empty; it needs a header row and data rows.")
    header, body = rows[0], rows[1:]
    for line, row in zip(lines[1:], body):
        if len(row) != len(header):
            fewer_or_more = "fewer" if len(row) < len(header) else "more"
            raise BenchError(
                f"{path}, line {line}: {len(row)} fields, {fewer_or_more} than the header's "
                f"{len(header)}; check the separator and the quotes."
            )
    if not body:
        raise BenchError(f"{path} has a header but no data rows.")
    frame = pd.DataFrame(body, columns=header, dtype=object)
    frame[WHERE] = [f"{path}, line {line}" for line in lines[1:]]
    return frame


def read_jsonl(path: Path) -> pd.DataFrame:
    """Read one JSON object per line (blank lines ignored); a key missing on a line is a null."""
    records, lines = [], []
    for line, text in enumerate(read_text(path).split("\n"), start=1):
        if not text.strip():
            continue
        try:
            record = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BenchError(
                f"{path}, line {line}: invalid JSON ({exc.msg}, column {exc.colno}); "
                "write one JSON object per line."
            ) from None
        if not isinstance(record, dict):
            raise BenchError(
                f"{path}, line {line}: a JSON {type(record).__name__}, not an object; "
                "write one JSON object per line."
            )
        records.append(record)
        lines.append(line)
    if not records:
        raise BenchError(f"{path} is empty; it needs one JSON object per line.")
    frame = pd.DataFrame(records, dtype=object)
    frame[WHERE] = [f"{path}, line {line}" for line in lines]
    return frame


def read_parquet(path: Path) -> pd.DataFrame:
    """Read a Parquet file (needs pyarrow); rows are named by their index, counting from 0."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise BenchError(
            f"Reading {path} needs pyarrow; install it with: pip install 'bench[parquet]'."
        ) from None
    if not path.is_file():
        raise BenchError(f"{path} does not exist.")
    try:
        table = pq.read_table(path)
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        raise BenchError(f"{path} is not a readable Parquet file: {' '.join(str(exc).split())}.") from None
    if table.num_rows == 0:
        raise BenchError(f"{path} has no data rows.")
    frame = pd.DataFrame({name: table.column(name).to_pylist() for name in table.column_names}, dtype=object)
    frame[WHERE] = [f"{path}, row {i} (counting from 0)" for i in range(len(frame))]
    return frame


def labelled_frame(
    frame: pd.DataFrame, path: Path, text_col: str, label_col: str, request: DataRequest
) -> tuple[pd.DataFrame, int]:
    """The rows a reader read from `path`, with their review text checked and their labels as
    stripped strings in `_raw_label`; empty reviews are an error, or skipped and counted."""
    columns = [c for c in frame.columns if c != WHERE]
    missing = [c for c in (text_col, label_col) if c not in columns]
    if missing:
        raise BenchError(
            f"{path}: missing column(s) {', '.join(map(repr, missing))}; "
            f"the file has {', '.join(map(repr, columns)) or 'none'}."
        )
    texts = []
    for text, where in zip(frame[text_col], frame[WHERE]):
        if not (_is_null(text) or isinstance(text, str)):
            raise BenchError(f"{where}: the review is {type(text).__name__} {text!r}, not text.")
        texts.append("" if _is_null(text) else text)
    frame = frame.assign(**{text_col: texts})
    empty = frame[text_col].str.strip() == ""
    if empty.any() and not request.skip_bad_rows:
        raise BenchError(
            f"{frame.loc[empty, WHERE].iloc[0]}: empty review; fix it or pass --skip-bad-rows "
            f"({int(empty.sum())} such rows)."
        )
    frame = frame[~empty]
    labels = []
    for label, where in zip(frame[label_col], frame[WHERE]):
        if _is_null(label) or not str(label).strip():
            raise BenchError(f"{where}: no label; give every row one.")
        if isinstance(label, list | dict):
            raise BenchError(f"{where}: label {label!r} is not a single value.")
        labels.append(str(label).strip())
    return frame.assign(_raw_label=labels), int(empty.sum())


def _is_null(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def int_labels(frame: pd.DataFrame, n_classes: int | None) -> pd.Series:
    labels = pd.to_numeric(frame["_raw_label"], errors="coerce")
    bad = labels.isna() | (labels % 1 != 0)
    if n_classes is not None:
        bad |= (labels < 0) | (labels >= n_classes)
    if bad.any():
        value, where = frame.loc[bad, ["_raw_label", WHERE]].iloc[0]
        allowed = f"0 to {n_classes - 1}" if n_classes else "integers"
        raise BenchError(f"{where}: label {value!r} is not one of {allowed}.")
    return labels.astype(np.int64)


FileReader = Callable[[Path], pd.DataFrame]  # a file's rows (values as read) and their WHERE
TABLE_OPTIONS = ("text", "label", "test", "val")


def _parse_table_arg(arg: str) -> tuple[Path, dict[str, str]]:
    path, _, query = arg.partition("?")
    options = dict(parse_qsl(query))
    unknown = set(options) - set(TABLE_OPTIONS)
    if unknown:
        allowed = ", ".join(f"{o}=" for o in TABLE_OPTIONS)
        raise BenchError(f"Unknown option(s) {', '.join(sorted(unknown))}; use {allowed}.")
    return Path(path).expanduser(), options


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
    them. Labels are integers where all are, else strings in sorted order. Without `test`, train is
    split 80/20 by seed; without `val`, val is carved from the training sample.
    """
    parts = list(frames)  # train first, then test and val as given
    combined = pd.concat([frames[p] for p in parts], keys=parts, names=["_part", None])
    combined = combined.reset_index(level=0).reset_index(drop=True)  # ids number the rows in order
    numeric = pd.to_numeric(combined["_raw_label"], errors="coerce")
    raw = int_labels(combined, None) if numeric.notna().all() else combined["_raw_label"]
    combined["_label"], names = encode_labels(raw.reset_index(drop=True))

    def rows(part: str, prefix: str) -> Split:
        return split_from_frame(combined[combined["_part"] == part], text_col, prefix)

    rng = np.random.default_rng(request.seed)
    if "test" in frames:
        train, test = rows("train", "train-"), rows("test", "test-")
    else:
        train_rows = combined[combined["_part"] == "train"]
        labels = train_rows["_label"].to_numpy()
        test_idx = stratified_indices(labels, max(1, len(labels) // 5), rng)
        is_test = np.zeros(len(labels), dtype=bool)
        is_test[test_idx] = True
        train = split_from_frame(train_rows[~is_test], text_col, "row-")
        test = split_from_frame(train_rows[is_test], text_col, "row-")
    check_classes(train, names, where or name)
    val = rows("val", "val-") if "val" in frames else None
    return finish(name, train, test, names, request, skipped, val, rng)


def load_rows(arg: str, request: DataRequest, scheme: str, reader: FileReader) -> Dataset:
    """Any file a reader reads: `PATH?text=COL&label=COL&test=PATH&val=PATH`."""
    if not arg:
        raise BenchError(f"The {scheme} dataset needs a file: --dataset {scheme}:PATH.")
    path, options = _parse_table_arg(arg)
    text_col, label_col = options.get("text", "text"), options.get("label", "label")
    files = {"train": path} | {p: Path(options[p]).expanduser() for p in ("test", "val") if p in options}
    frames: dict[str, pd.DataFrame] = {}
    skipped = 0
    for part, file in files.items():
        frames[part], n_bad = labelled_frame(reader(file), file, text_col, label_col, request)
        skipped += n_bad
    return splits_from_frames(f"{scheme}:{arg}", frames, text_col, request, skipped, path)
