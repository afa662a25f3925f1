"""The results schema (one line per column), atomic writes, and reading run folders back."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from bench import atomic
from bench.errors import BenchError


@dataclass(frozen=True)
class Column:
    name: str
    doc: str


# results.csv: one row per model run. Empty cells mean "not measured here" (e.g. GPU columns on a CPU).
RESULT_COLUMNS = [
    Column("run_id", "unique within the folder: model, seed and (in sweeps) trial"),
    Column("suite", "suite name"),
    Column("model", "registered model name"),
    Column("dataset", "dataset spec, e.g. imdb or kaggle:DIR"),
    Column("n_classes", "number of classes found in the data"),
    Column("n_train", "training reviews used"),
    Column("n_test", "test reviews used"),
    Column("max_len", "tokens per review, special tokens included"),
    Column("lr", "peak learning rate of AdamW"),
    Column("batch_size", "reviews per optimizer step"),
    Column("epochs", "epochs asked for"),
    Column("max_steps", "cap on optimizer steps per epoch (empty: every batch)"),
    Column("seed", "seed of initialisation and data order (the split uses data_seed)"),
    Column("data_seed", "seed of the train/test split"),
    Column("max_train", "training reviews asked for (empty: all)"),
    Column("max_test", "test reviews asked for (empty: all)"),
    Column("warmup_ratio", "share of the schedule's steps spent warming up"),
    Column("weight_decay", "AdamW weight decay"),
    Column("grad_clip", "gradient-norm clip (empty or 0: none)"),
    Column("label_smoothing", "label smoothing of the cross-entropy"),
    Column("trackers", "False when run with --trackers off"),
    Column("device", "cpu, or cuda with the GPU name"),
    Column("init", "pretrained, or random (cost-only)"),
    Column("pretrained", "the pretrained weights' folder or hub name, if any"),
    Column("paper_quirks", "True when the paper's two quirks were reproduced"),
    Column("precision", "precision trained and evaluated in: fp32, tf32, bf16 or fp16 (autocast)"),
    Column("compile", "True when the network was compiled with torch.compile"),
    Column("bucket", "True when batches were bucketed by review length"),
    Column("cache_dir", "folder of the tokenization cache (empty: no cache)"),
    Column("world_size", "processes that trained the run together (torchrun); 1 without torchrun"),
    Column("params_total", "parameters in the network"),
    Column("params_trainable", "parameters with gradients"),
    Column("test_accuracy", "test accuracy after the last epoch, in [0, 1]"),
    Column("best_test_accuracy", "best test accuracy over the epochs, in [0, 1]"),
    Column("test_macro_f1", "test macro-F1 after the last epoch, in [0, 1]"),
    Column("test_loss", "test cross-entropy after the last epoch"),
    Column("train_accuracy", "training accuracy during the last epoch"),
    Column("train_loss", "training loss during the last epoch"),
    Column("train_time_s", "training wall time summed over epochs, seconds (evaluation excluded)"),
    Column("epoch_time_s_mean", "mean training wall time per epoch, seconds"),
    Column("eval_time_s", "evaluation wall time summed over epochs, seconds"),
    Column("truncated_train_share", "share of training reviews longer than max_len (cut)"),
    Column("truncated_test_share", "share of test reviews longer than max_len (cut)"),
    Column("peak_gpu_mem_nvml_mib", "NVML device memory used at peak minus the pre-run baseline, MiB"),
    Column("peak_gpu_mem_process_mib", "NVML memory of this process at peak, MiB, where reported"),
    Column("gpu_mem_method", "which NVML figure: process, device-minus-baseline, or failed (NVML stopped)"),
    Column("peak_torch_allocated_mib", "torch.cuda.max_memory_allocated, MiB"),
    Column("peak_torch_reserved_mib", "torch.cuda.max_memory_reserved, MiB"),
    Column("peak_rss_mib", "peak resident host memory of the process and its children, MiB"),
    Column("energy_j", "GPU energy over training and evaluation, joules"),
    Column("energy_method", "nvml-energy-counter, power-x-time (no counter), or failed (NVML stopped)"),
    Column("train_samples_per_s", "training reviews per second"),
    Column("train_tokens_per_s", "training non-padding tokens per second"),
    Column("eval_samples_per_s", "evaluation reviews per second"),
    Column("latency_ms_p50_bs1", "inference latency of one review, median, ms"),
    Column("latency_ms_p90_bs1", "inference latency of one review, 90th percentile, ms"),
    Column("latency_ms_p50_batch", "inference latency of one batch of batch_size, median, ms"),
    Column("latency_ms_p90_batch", "inference latency of one batch of batch_size, p90, ms"),
    Column("flops_per_sample", "estimated training FLOPs per review (see bench/flops.py)"),
    Column("mfu", "model FLOPs utilisation against the GPU's peak, in [0, 1]; empty on a CPU"),
    Column("study", "Optuna study name, for sweep trials"),
    Column("trial", "Optuna trial number, for sweep trials"),
    Column("trial_state", "Optuna trial state: COMPLETE, PRUNED or FAIL"),
    Column("status", "ok, failed, interrupted, or pruned (a sweep trial stopped early)"),
    Column("error", "the error in one line, when the run failed"),
    Column("started_at", "UTC start time, ISO 8601"),
    Column("finished_at", "UTC end time, ISO 8601"),
]

# epochs.csv: one row per model run per epoch.
EPOCH_COLUMNS = [
    Column("run_id", "the run this epoch belongs to (see results.csv)"),
    Column("model", "registered model name"),
    Column("seed", "run seed"),
    Column("epoch", "epoch number, from 1"),
    Column("train_loss", "mean training loss over the epoch"),
    Column("train_accuracy", "training accuracy over the epoch"),
    Column("test_loss", "test loss after the epoch"),
    Column("test_accuracy", "test accuracy after the epoch"),
    Column("test_macro_f1", "test macro-F1 after the epoch"),
    Column("epoch_time_s", "training wall time of the epoch, seconds"),
    Column("eval_time_s", "evaluation wall time after the epoch, seconds"),
    Column("cumulative_train_time_s", "training wall time up to and including this epoch"),
    Column("train_samples_per_s", "training reviews per second"),
    Column("train_tokens_per_s", "training non-padding tokens per second"),
    Column("eval_samples_per_s", "evaluation reviews per second"),
    Column("peak_gpu_mem_nvml_mib", "as in results.csv, for this epoch"),
    Column("peak_gpu_mem_process_mib", "as in results.csv, for this epoch"),
    Column("gpu_mem_method", "as in results.csv"),
    Column("peak_torch_allocated_mib", "as in results.csv, reset each epoch"),
    Column("peak_torch_reserved_mib", "as in results.csv, reset each epoch"),
    Column("peak_rss_mib", "as in results.csv, for this epoch"),
    Column("energy_j", "GPU energy over this epoch, joules"),
    Column("energy_method", "as in results.csv"),
    Column("study", "Optuna study name, for sweep trials"),
    Column("trial", "Optuna trial number, for sweep trials"),
]

# predictions.csv: one row per run per test example; prob_<k> columns follow, one per class.
PREDICTION_COLUMNS = [
    Column("run_id", "the run (see results.csv)"),
    Column("model", "registered model name"),
    Column("seed", "run seed"),
    Column("example_id", "the test example, stable across runs on the same split"),
    Column("label", "true class id"),
    Column("pred", "predicted class id"),
]

RESULTS_FILE, EPOCHS_FILE, PREDICTIONS_FILE, ENV_FILE = (
    "results.csv",
    "epochs.csv",
    "predictions.csv",
    "env.json",
)


def frame_with_schema(rows: Iterable[Mapping[str, Any]], columns: list[Column]) -> pd.DataFrame:
    """Rows as a frame: schema columns first and in order, any extra columns after them."""
    frame = pd.DataFrame(list(rows))
    names = [c.name for c in columns]
    extra = [c for c in frame.columns if c not in names]
    return frame.reindex(columns=names + extra)


def write_csv(path: Path, rows: Iterable[Mapping[str, Any]], columns: list[Column]) -> None:
    atomic.write_text(path, frame_with_schema(rows, columns).to_csv(index=False))


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    atomic.write_text(path, json.dumps(data, indent=2, default=str) + "\n")


@dataclass
class RunFolder:
    """A results folder: results.csv, epochs.csv, predictions.csv and env.json."""

    path: Path

    def read(self, name: str) -> pd.DataFrame:
        file = self.path / name
        return pd.read_csv(file) if file.is_file() and file.stat().st_size else pd.DataFrame()


def read_folder(path: Path) -> RunFolder:
    if not (path / RESULTS_FILE).is_file():
        raise BenchError(f"{path} holds no {RESULTS_FILE}; give a folder written by `bench run`.")
    return RunFolder(path)


def schema_markdown() -> str:
    """The schema as markdown tables, for docs/results-schema.md."""
    parts = []
    for title, columns in (
        (RESULTS_FILE, RESULT_COLUMNS),
        (EPOCHS_FILE, EPOCH_COLUMNS),
        (PREDICTIONS_FILE, PREDICTION_COLUMNS),
    ):
        parts.append(f"## `{title}`\n\n| column | meaning |\n|---|---|")
        parts.extend(f"| `{c.name}` | {c.doc} |" for c in columns)
        parts.append("")
    return "\n".join(parts)
