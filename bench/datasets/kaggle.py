"""The paper's 3-class Kaggle IMDB data: a folder with train.tsv and test.tsv."""

from __future__ import annotations

from pathlib import Path

from bench.data import DATASETS, DataRequest, Dataset, check_classes, finish, split_from_frame
from bench.datasets.rows import int_labels, labelled_frame, read_table
from bench.errors import BenchError

KAGGLE_LABELS = ("negative", "neutral", "positive")


@DATASETS.register("kaggle", argument="DIR")
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
