"""Fitting a model that is no torch network (an `EstimatorSpec`): one "epoch" that fits on the training
split, choosing its own settings on the validation split, and is scored like a network's epoch."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from bench.costs.trackers import CostTracker
from bench.data import Dataset
from bench.modeling import Estimator, EstimatorSpec
from bench.runs.train import EpochStats, NoProgress, ProgressSink, epoch_costs, scores


def fit_estimator(
    spec: EstimatorSpec,
    data: Dataset,
    progress: ProgressSink | None = None,
    track: Callable[[], CostTracker] | None = None,
) -> tuple[EpochStats, Estimator]:
    """Fit `spec` and score it on every split; the training time covers the whole fit (vectorizing,
    fitting and choosing settings on validation), the evaluation time the scoring."""
    progress = progress or NoProgress()
    tracker: AbstractContextManager[Any] = track() if track else nullcontext()
    progress.start(f"{spec.run.model} fit", 2)
    with tracker:
        start = time.perf_counter()
        fitted = spec.fit(data.train, data.val, data.n_classes)
        fit_time = time.perf_counter() - start
        progress.advance()
        train = scores(fitted.predict_proba(data.train.texts), data.train.labels, data.n_classes)
        val = None
        if len(data.val.texts):
            began = time.perf_counter()
            val = scores(
                fitted.predict_proba(data.val.texts),
                data.val.labels,
                data.n_classes,
                time.perf_counter() - began,
            )
        began = time.perf_counter()
        test_probs = fitted.predict_proba(data.test.texts)
        test = scores(test_probs, data.test.labels, data.n_classes, time.perf_counter() - began)
        eval_time = time.perf_counter() - start - fit_time
        progress.advance()
    progress.stop()
    stats = EpochStats(
        epoch=1,
        train_loss=train.loss,
        train_accuracy=train.accuracy,
        test=test,
        epoch_time_s=fit_time,
        eval_time_s=eval_time,
        train_samples=len(data.train.texts),
        train_tokens=None,
        val=val,
        cost=epoch_costs(tracker),
    )
    return stats, fitted
