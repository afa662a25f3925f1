"""Datasets: what a loader returns, the registry of loaders, and deterministic train/validation/test
splits. The loaders themselves are one file each in `bench/datasets/` (every module there is
imported when a dataset is first loaded or listed)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

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
    # Rows a class of a file's training split must have: a run asks for its own (RunConfig's default
    # refuses a class of fewer than 5); a loader called alone refuses only a known class with none.
    min_class_size: int = 1


Loader = Callable[[str, DataRequest], Dataset]
DATASETS: Registry[Loader] = Registry("dataset", package="bench.datasets", group="bench.datasets")

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


def load_datasets() -> Registry[Loader]:
    """The registry, with every loader of bench/datasets/ imported."""
    return DATASETS.load()


def load_dataset(spec: str, request: DataRequest) -> Dataset:
    """`imdb`, `kaggle:DIR`, `tsv:PATH`... (`bench ls datasets`): the registered loader, given the
    spec's argument ("" for a loader that takes none)."""
    datasets = load_datasets()
    return datasets.get(spec)(datasets.split(spec)[1] or "", request)
