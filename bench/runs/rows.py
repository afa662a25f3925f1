"""A run's rows from what training measured: its epoch rows, its summary columns and its prediction
rows. Pure functions; the executor calls them and the recorder writes what they return."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np

from bench.config import RunConfig
from bench.data import Dataset, Split
from bench.modeling import MODELS
from bench.results import run_costs
from bench.runs.checkpoint import Selection
from bench.runs.train import EpochStats


def utc_now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def run_id_of(run: RunConfig, trial: int | None = None) -> str:
    """A run's id in its folder: the model's display name (hf:PATH runs as hf:<folder name>), the
    seed and, in sweeps, the trial."""
    name = MODELS.get(run.model)(run).display_name
    return f"{name}-s{run.seed}" + (f"-t{trial}" if trial is not None else "")


def selects(run: RunConfig, stats: EpochStats, current: Selection | None) -> bool:
    """Whether this epoch replaces the current selection: the best validation accuracy (the earliest
    on a tie), or simply the latest epoch with `select = "last"` or without a validation split."""
    if run.select == "last" or stats.val is None or current is None or current.val_accuracy is None:
        return True
    return stats.val.accuracy > current.val_accuracy


def pooled_step_times(epochs: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean, sd and count of the chunk step times of all epochs, pooled from each epoch's summary."""
    parts = [
        (int(e["step_time_chunks"]), float(e["step_time_s_mean"]), float(e.get("step_time_s_sd") or 0.0))
        for e in epochs
        if e.get("step_time_chunks")
    ]
    n = sum(k for k, _, _ in parts)
    if not n:
        return {"step_time_s_mean": None, "step_time_s_sd": None, "step_time_chunks": None}
    mean = sum(k * m for k, m, _ in parts) / n
    within = sum((k - 1) * sd**2 for k, _, sd in parts)
    between = sum(k * (m - mean) ** 2 for k, m, _ in parts)
    sd = math.sqrt((within + between) / (n - 1)) if n > 1 else None
    return {"step_time_s_mean": mean, "step_time_s_sd": sd, "step_time_chunks": n}


def summary(epochs: list[dict[str, Any]], selection: Selection) -> dict[str, Any]:
    """A run's result columns from its epoch rows (some maybe from before a resume): the metrics of
    the selected epoch, the costs of all of them."""
    chosen = next(e for e in epochs if e["epoch"] == selection.epoch)
    train_time = sum(e["epoch_time_s"] for e in epochs)
    samples = sum(e["train_samples_per_s"] * e["epoch_time_s"] for e in epochs)
    tokens = [
        e["train_tokens_per_s"] * e["epoch_time_s"] for e in epochs if e.get("train_tokens_per_s") is not None
    ]
    return {
        "selected_epoch": selection.epoch,
        "val_accuracy": chosen.get("val_accuracy"),
        "val_macro_f1": chosen.get("val_macro_f1"),
        "test_accuracy": chosen["test_accuracy"],
        "test_macro_f1": chosen["test_macro_f1"],
        "test_loss": chosen["test_loss"],
        "train_accuracy": chosen["train_accuracy"],
        "train_loss": chosen["train_loss"],
        "train_time_s": train_time,
        "epoch_time_s_mean": train_time / len(epochs),
        "eval_time_s": sum(e["eval_time_s"] for e in epochs),
        "train_samples_per_s": samples / train_time,
        "train_tokens_per_s": sum(tokens) / train_time if tokens else None,
        "eval_samples_per_s": float(np.median([e["eval_samples_per_s"] for e in epochs])),
        "train_steps": sum(int(e.get("train_steps") or 0) for e in epochs) or None,
        **pooled_step_times(epochs),
        **run_costs(epochs),
    }


def epoch_row(row: dict[str, Any], stats: EpochStats, before: list[dict[str, Any]]) -> dict[str, Any]:
    """epochs.csv's row for one epoch of the run whose result row is `row`; `before`: its earlier
    epochs' rows."""
    steps = np.asarray(stats.step_times_s, dtype=float)
    val = stats.val
    return {
        "run_id": row["run_id"],
        "model": row["model"],
        "seed": row["seed"],
        "epoch": stats.epoch,
        "train_loss": stats.train_loss,
        "train_accuracy": stats.train_accuracy,
        "val_loss": val.loss if val else None,
        "val_accuracy": val.accuracy if val else None,
        "val_macro_f1": val.macro_f1 if val else None,
        "test_loss": stats.test.loss,
        "test_accuracy": stats.test.accuracy,
        "test_macro_f1": stats.test.macro_f1,
        "epoch_time_s": stats.epoch_time_s,
        "eval_time_s": stats.eval_time_s,
        "cumulative_train_time_s": sum(e["epoch_time_s"] for e in before) + stats.epoch_time_s,
        "train_steps": stats.train_steps or None,
        "step_time_s_mean": float(steps.mean()) if len(steps) else None,
        "step_time_s_sd": float(steps.std(ddof=1)) if len(steps) > 1 else None,
        "step_time_chunks": len(steps) or None,
        "train_samples_per_s": stats.train_samples / stats.epoch_time_s,
        "train_tokens_per_s": stats.train_tokens / stats.epoch_time_s
        if stats.train_tokens is not None
        else None,
        "eval_samples_per_s": stats.test.samples_per_s,
        **stats.cost,
        **{k: row[k] for k in ("study", "trial") if k in row},
    }


def split_prediction_rows(
    row: dict[str, Any], split: str, part: Split, probs: np.ndarray
) -> list[dict[str, Any]]:
    """predictions.csv's rows of one split's items, from their class probabilities (the one builder:
    a run's own, and the test items added to it later by `--until-decided`)."""
    preds = probs.argmax(axis=1) if len(probs) else np.zeros(0, dtype=int)
    rows = []
    for i, example_id in enumerate(part.ids):
        entry = {
            "run_id": row["run_id"],
            "model": row["model"],
            "seed": row["seed"],
            "split": split,
            "example_id": example_id,
            "label": int(part.labels[i]),
            "pred": int(preds[i]),
        }
        for k in range(probs.shape[1]):
            entry[f"prob_{k}"] = round(float(probs[i, k]), 6)
        rows.append(entry)
    return rows


def prediction_rows(row: dict[str, Any], data: Dataset, selection: Selection) -> list[dict[str, Any]]:
    """The selected epoch's predictions, test and validation: predictions.csv's rows for the run."""
    rows = []
    for split, part, probs in (
        ("test", data.test, selection.test_probs),
        ("val", data.val, selection.val_probs),
    ):
        if probs is not None:
            rows += split_prediction_rows(row, split, part, probs)
    return rows


def step_rows(row: dict[str, Any], stats: EpochStats, steps_before: int) -> list[dict[str, Any]]:
    """The epoch's rows of steps.csv: each timed chunk's mean loss, at the run's step count."""
    tags: dict[str, Any] = {k: row[k] for k in ("study", "trial") if k in row}
    return [
        {"run_id": row["run_id"], "model": row["model"], "seed": row["seed"], "epoch": stats.epoch,
         "chunk": i + 1, "step": steps_before + end, "train_loss": loss, "step_time_s": time, **tags}
        for i, (end, loss, time) in enumerate(zip(stats.chunk_ends, stats.chunk_losses, stats.step_times_s))
    ]  # fmt: skip
