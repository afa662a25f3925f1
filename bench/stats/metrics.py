"""Classification metrics from labels and predictions: the confusion matrix and macro F1.

Pure functions of arrays; nothing reads or writes files.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from bench.stats.intervals import StatsError


def _check_labels(
    labels: npt.ArrayLike, preds: npt.ArrayLike, n_classes: int
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    y = np.asarray(labels).ravel()
    yhat = np.asarray(preds).ravel()
    if y.shape != yhat.shape:
        raise StatsError(f"labels and preds differ in length: {y.size} vs {yhat.size}")
    if n_classes < 1:
        raise StatsError(f"n_classes must be at least 1, got {n_classes}")
    for name, arr in (("labels", y), ("preds", yhat)):
        if arr.size and not np.issubdtype(arr.dtype, np.integer):
            raise StatsError(f"{name} must be integer class ids, got dtype {arr.dtype}")
        if arr.size and (arr.min() < 0 or arr.max() >= n_classes):
            raise StatsError(f"{name} has class ids outside [0, {n_classes})")
    return y.astype(np.intp, copy=False), yhat.astype(np.intp, copy=False)


def confusion_matrix(labels: npt.ArrayLike, preds: npt.ArrayLike, n_classes: int) -> np.ndarray:
    """Counts as an (n_classes, n_classes) int64 array: rows are true classes, columns predicted."""
    y, yhat = _check_labels(labels, preds, n_classes)
    flat = np.bincount(y * n_classes + yhat, minlength=n_classes * n_classes)
    return flat.reshape(n_classes, n_classes).astype(np.int64, copy=False)


def macro_f1(labels: npt.ArrayLike, preds: npt.ArrayLike, n_classes: int) -> float:
    """Unweighted mean of per-class F1 over all `n_classes` classes.

    Follows scikit-learn's f1_score(average="macro", labels=range(n_classes), zero_division=0):
    a class with no support and no predictions has F1 = 0 and still counts in the mean. An empty
    input gives 0.0.
    """
    cm = confusion_matrix(labels, preds, n_classes)
    tp = np.diag(cm).astype(float)
    denom = cm.sum(axis=0) + cm.sum(axis=1)  # 2tp + fp + fn
    f1 = np.divide(2.0 * tp, denom, out=np.zeros(n_classes), where=denom > 0)
    return float(f1.mean())
