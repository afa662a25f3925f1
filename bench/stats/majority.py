"""The majority reference of every comparison: always predicting the training split's most frequent
class. A run that does not beat it significantly, or that predicts a single class, has learned
nothing a table should credit, and is flagged."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats as sps

ALPHA = 0.05
HINT = (
    "a flagged run learned little beyond the majority class: usually too few optimizer steps or too "
    "low a learning rate (try more --epochs, a smaller --batch-size or a higher --lr)"
)


def majority_class(train_labels: np.ndarray) -> int:
    """The most frequent training class (the lowest id on a tie)."""
    return int(np.argmax(np.bincount(train_labels)))


def p_vs_majority(test_labels: np.ndarray, test_preds: np.ndarray, majority: int) -> float:
    """One-sided exact McNemar of the run against the majority predictor on the same test items.

    The majority predictor's share is measured on these very items, so it is no known constant:
    the test is paired. b counts items only the run gets right (their label is not the majority
    class), c items only the predictor gets right (labelled with it, the run wrong); under H0 (no
    better than the predictor) b ~ Binomial(b + c, 1/2), and p = P(X >= b), 1 when b + c = 0.
    """
    right = test_preds == test_labels
    is_majority = test_labels == majority
    only_run = int(np.sum(right & ~is_majority))
    only_majority = int(np.sum(~right & is_majority))
    if only_run + only_majority == 0:
        return 1.0
    return float(sps.binom.sf(only_run - 1, only_run + only_majority, 0.5))


def majority_columns(
    train_labels: np.ndarray, test_labels: np.ndarray, test_preds: np.ndarray
) -> dict[str, Any]:
    """majority_accuracy, p_vs_majority (one-sided exact McNemar) and a warning for a results row."""
    majority = majority_class(train_labels)
    share = float(np.mean(test_labels == majority))
    p = p_vs_majority(test_labels, test_preds, majority)
    return {"majority_accuracy": share, "p_vs_majority": p, "warning": run_warning(test_preds, p)}


SINGLE_CLASS = "predicts a single class"


def short_warning(warning: str | None) -> str | None:
    """A warning in a word or two, for a narrow table; the caption carries the hint."""
    if not warning:
        return None
    return "one class" if warning == SINGLE_CLASS else "≤ majority"


def run_warning(test_preds: np.ndarray, p_vs_majority: float) -> str | None:
    """Why a run's accuracy should not be credited, in a few words; None when nothing is wrong."""
    if len(np.unique(test_preds)) == 1:
        return SINGLE_CLASS
    if not p_vs_majority < ALPHA:
        return f"not above majority (p = {p_vs_majority:.2g})"
    return None
