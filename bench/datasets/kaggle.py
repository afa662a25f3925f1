"""The paper's 3-class Kaggle IMDB data: a folder with train.tsv and test.tsv."""

from __future__ import annotations

from bench.data import DATASETS, DataRequest, Dataset, check_classes, finish, split_from_frame
from bench.datasets.labels import check_class_sizes, integer_label
from bench.datasets.readers import read_table
from bench.datasets.rows import LABEL, TEXT, WHERE, class_ids, expanded, labelled_frame
from bench.errors import BenchError
from bench.readable import FOLDER, what_is_there

KAGGLE_LABELS = ("negative", "neutral", "positive")


@DATASETS.register("kaggle", argument="DIR")
def load_kaggle(arg: str, request: DataRequest) -> Dataset:
    """The paper's data set: DIR/train.tsv and DIR/test.tsv, columns `sentiment` (0/1/2), `review`.

    The validation split is carved from the training sample of train.tsv.
    """
    if not arg:
        raise BenchError("The kaggle dataset needs a folder: --dataset kaggle:DIR.")
    root = expanded(arg)
    if what_is_there(root) != FOLDER:
        raise BenchError(f"{root} is not a folder; kaggle:DIR needs DIR/train.tsv and DIR/test.tsv.")
    splits, skipped = [], 0
    for name in ("train", "test"):
        path = root / f"{name}.tsv"
        frame, n_bad = labelled_frame(read_table(path, "\t"), path, "review", "sentiment", request)
        frame["_label"] = class_ids(frame, len(KAGGLE_LABELS))
        skipped += n_bad
        split = split_from_frame(frame, TEXT, f"{name}-")
        if name == "train":
            check_classes(split, KAGGLE_LABELS, path)
            every = tuple(str(k) for k in range(len(KAGGLE_LABELS)))
            labels = frame[LABEL].map(integer_label)
            check_class_sizes(labels, frame[WHERE], request.min_class_size, every, path)
        splits.append(split)
    return finish(f"kaggle:{arg}", splits[0], splits[1], KAGGLE_LABELS, request, skipped)
