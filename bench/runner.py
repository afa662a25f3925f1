"""Runs model runs one after another and writes each one's results the moment it finishes."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from bench import distributed
from bench.batching import Tokenized, loader
from bench.checkpoint import checkpoint_dir, load_checkpoint, remove_checkpoint, save_checkpoint
from bench.config import RunConfig
from bench.data import DataRequest, Dataset, load_dataset
from bench.environment import environment
from bench.errors import BenchError, one_line
from bench.flops import mfu, train_flops_per_sample
from bench.modeling import (
    MODELS,
    ModelSpec,
    Tokenizer,
    count_params,
    load_models,
    resolve_pretrained,
)
from bench.nvml import gpu_info, nvml_baseline_bytes, open_nvml
from bench.results import (
    ENV_FILE,
    EPOCH_COLUMNS,
    EPOCHS_FILE,
    PREDICTION_COLUMNS,
    PREDICTIONS_FILE,
    RESULT_COLUMNS,
    RESULTS_FILE,
    run_costs,
    write_csv,
    write_json,
)
from bench.tokcache import cached_tokenize
from bench.trackers import CostTracker, measure_latency
from bench.train import (
    EpochHook,
    EpochStats,
    NoProgress,
    ProgressSink,
    Pruned,
    autocast,
    pick_device,
    resolve_precision,
    seed_everything,
    setup,
    train_epoch,
    use_all_cores,
)


def utc_now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


@dataclasses.dataclass
class Prepared:
    spec: ModelSpec
    tokenizer: Tokenizer
    dataset: Dataset
    train: Tokenized
    test: Tokenized
    pad_id: int
    truncated_train: float
    truncated_test: float


class Runner:
    """Owns one results folder. `run(...)` trains one RunConfig and appends its rows to the files."""

    def __init__(
        self,
        out: Path,
        progress: ProgressSink | None = None,
        log: Callable[[str], None] = lambda line: None,
        skip_bad_rows: bool = False,
        keep_checkpoints: bool = False,
        resume_hint: str | None = None,
    ) -> None:
        self.out = out
        self.resume_hint = resume_hint or f"bench run --resume {out}"  # said when interrupted
        self.progress = progress or NoProgress()
        self.log = log
        self.skip_bad_rows = skip_bad_rows
        self.keep_checkpoints = keep_checkpoints
        self.results: list[dict[str, Any]] = []
        self.epochs: list[dict[str, Any]] = []
        self.predictions: list[dict[str, Any]] = []
        self._datasets: dict[tuple[Any, ...], Dataset] = {}
        self.main = distributed.is_main()  # under torchrun only rank 0 writes files
        load_models()

    # --- preparation -------------------------------------------------------------------------
    def dataset(self, run: RunConfig) -> Dataset:
        key = (run.dataset, run.max_train, run.max_test, run.data_seed)
        if key not in self._datasets:
            request = DataRequest(run.max_train, run.max_test, run.data_seed, self.skip_bad_rows)
            data = load_dataset(run.dataset, request)
            if data.skipped_rows:
                self.log(f"{run.dataset}: skipped {data.skipped_rows} empty review(s).")
            self._datasets[key] = data
        return self._datasets[key]

    def check(self, runs: list[RunConfig]) -> None:
        """Fail before any training on what would fail later: options, data, pretrained weights."""
        for run in runs:
            spec = MODELS.get(run.model)(run)
            self.dataset(run)
            if run.init == "pretrained" and spec.default_pretrained:
                resolve_pretrained(run.pretrained or spec.default_pretrained)
            spec.check()  # what the model itself needs (an hf: folder that is a model, say)
            device = pick_device(run.device)
            if device.type == "cpu" or torch.cuda.is_available():
                resolve_precision(run.precision, device)

    def prepare(self, run: RunConfig) -> Prepared:
        spec = MODELS.get(run.model)(run)
        data = self.dataset(run)
        tokenizer = spec.build_tokenizer(data.train.texts)
        cache = Path(run.cache_dir) if run.cache_dir else None
        train = cached_tokenize(tokenizer, data.train.texts, cache)
        test = cached_tokenize(tokenizer, data.test.texts, cache)
        return Prepared(
            spec,
            tokenizer,
            data,
            Tokenized(train.ids, data.train.labels),
            Tokenized(test.ids, data.test.labels),
            tokenizer.pad_id,
            train.truncated_share,
            test.truncated_share,
        )

    # --- running -----------------------------------------------------------------------------
    def run(
        self, run: RunConfig, tags: dict[str, Any] | None = None, on_epoch: EpochHook | None = None
    ) -> dict[str, Any]:
        """Train and evaluate one run; its rows are on disk when this returns, also on failure.

        Exceptions a model raises become a `failed` row. Interrupts and pruning are recorded
        (`interrupted`, `pruned`) and propagate.
        """
        tags = tags or {}
        spec = MODELS.get(run.model)(run)  # names the row: hf:PATH runs as hf:<folder name>
        run_id = f"{spec.display_name}-s{run.seed}" + (f"-t{tags['trial']}" if "trial" in tags else "")
        row: dict[str, Any] = {
            "run_id": run_id,
            **{k: v for k, v in dataclasses.asdict(run).items() if k != "options"},
            **spec.result_fields(),  # model (display name), pretrained, options (JSON)
            **tags,
            "started_at": utc_now(),
        }
        try:
            self._train(run, row, on_epoch)
            row["status"] = "ok"
            if not self.keep_checkpoints and self.main:
                remove_checkpoint(checkpoint_dir(self.out, run_id))
        except KeyboardInterrupt:
            row.update(status="interrupted", error=f"interrupted; resume with: {self.resume_hint}")
            raise
        except Pruned:
            row["status"] = "pruned"
            raise
        except Exception as exc:
            row.update(status="failed", error=one_line(exc))
            self.log(f"{run_id} failed: {row['error']}")
        finally:
            row["finished_at"] = utc_now()
            self.record(row)
        return row

    def _train(self, run: RunConfig, row: dict[str, Any], on_epoch: EpochHook | None) -> None:
        use_all_cores()
        seed_everything(run.seed)
        device = pick_device(run.device)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise BenchError("--device cuda was asked for, but torch sees no CUDA device.")
        device = distributed.setup(device)  # this rank's GPU under torchrun
        prepared = self.prepare(run)
        data = prepared.dataset
        nvml = open_nvml(device) if run.trackers else None
        baseline = nvml_baseline_bytes(nvml)  # before the model exists on the device
        seed_everything(run.seed)  # the network's initial weights depend on the seed alone
        network = prepared.spec.build_network(data.n_classes, prepared.tokenizer)
        total, trainable = count_params(network)
        row.update(
            dataset=data.name,
            n_classes=data.n_classes,
            n_train=len(prepared.train),
            n_test=len(prepared.test),
            params_total=total,
            params_trainable=trainable,
            truncated_train_share=prepared.truncated_train,
            truncated_test_share=prepared.truncated_test,
            device=device.type if device.type == "cpu" else torch.cuda.get_device_name(device),
            precision=resolve_precision(run.precision, device),
            world_size=distributed.world().size,
        )
        run_id, folder = row["run_id"], checkpoint_dir(self.out, row["run_id"])
        # A resumed run restarts after its last checkpointed epoch; later epoch rows are redone.
        saved = load_checkpoint(folder, network)
        done = saved.epoch if saved else 0
        self.epochs = [e for e in self.epochs if e["run_id"] != run_id or e["epoch"] <= done]
        pad_to = run.max_len if prepared.spec.pad_to_max_len() else None
        state = setup(
            network,
            prepared.train,
            prepared.test,
            run,
            data.n_classes,
            prepared.pad_id,
            device,
            pad_to,
            saved=saved.trainer if saved else None,
        )
        last = None
        for epoch in range(done + 1, run.epochs + 1):
            track = partial(CostTracker, device, nvml, baseline, enabled=run.trackers)
            stats = train_epoch(state, epoch, self.progress, track)
            last = stats
            self.epochs.append(self._epoch_row(row, stats))
            if self.main:
                write_csv(self.out / EPOCHS_FILE, self.epochs, EPOCH_COLUMNS)
            self.log(
                f"{run_id} epoch {stats.epoch}/{run.epochs}: "
                f"train loss {stats.train_loss:.4f} acc {stats.train_accuracy:.3f} | "
                f"test loss {stats.test.loss:.4f} acc {stats.test.accuracy:.3f} "
                f"F1 {stats.test.macro_f1:.3f} | {stats.epoch_time_s:.1f} s"
            )
            if stats.epoch < run.epochs and self.main:
                save_checkpoint(folder, stats.epoch, network, state.trainer_objects())
            if on_epoch:
                on_epoch(stats)
        if last is None:  # every epoch had finished before the interruption
            raise BenchError(f"{run_id}: nothing left to train, but no final evaluation was saved.")
        row.update(self._summary([e for e in self.epochs if e["run_id"] == run_id]))
        shape = prepared.spec.shape(network)
        flops = train_flops_per_sample(
            shape.n_dense_params,
            shape.n_layers,
            shape.d_model,
            row["train_tokens_per_s"] / row["train_samples_per_s"],
            shape.lstm_input,
            shape.lstm_hidden,
        )
        gpu_name = nvml.name() if nvml else None
        row.update(
            flops_per_sample=flops,
            mfu=mfu(flops * row["train_samples_per_s"], 1.0, gpu_name, row["precision"]),
        )
        if run.trackers:
            row.update(self._latency(network, prepared, run, device, pad_to))
        if nvml:
            nvml.close()
        self._predictions(row, prepared, last)

    @staticmethod
    def _summary(epochs: list[dict[str, Any]]) -> dict[str, Any]:
        """A run's result columns from its epoch rows (some maybe from before a resume)."""
        last = epochs[-1]
        train_time = sum(e["epoch_time_s"] for e in epochs)
        samples = sum(e["train_samples_per_s"] * e["epoch_time_s"] for e in epochs)
        tokens = sum(e["train_tokens_per_s"] * e["epoch_time_s"] for e in epochs)
        return {
            "test_accuracy": last["test_accuracy"],
            "best_test_accuracy": max(e["test_accuracy"] for e in epochs),
            "test_macro_f1": last["test_macro_f1"],
            "test_loss": last["test_loss"],
            "train_accuracy": last["train_accuracy"],
            "train_loss": last["train_loss"],
            "train_time_s": train_time,
            "epoch_time_s_mean": train_time / len(epochs),
            "eval_time_s": sum(e["eval_time_s"] for e in epochs),
            "train_samples_per_s": samples / train_time,
            "train_tokens_per_s": tokens / train_time,
            "eval_samples_per_s": float(np.median([e["eval_samples_per_s"] for e in epochs])),
            **run_costs(epochs),
        }

    def _latency(
        self,
        network: torch.nn.Module,
        prepared: Prepared,
        run: RunConfig,
        device: torch.device,
        pad_to: int | None,
    ) -> dict[str, float]:
        """Inference latency on real test reviews, at batch 1 and at the run's batch size."""
        network.eval()
        found: dict[str, float] = {}
        for size, suffix in ((1, "bs1"), (run.batch_size, "batch")):
            batch = next(iter(loader(prepared.test, size, prepared.pad_id, pad_to, None, device)))
            ids, mask = (t.to(device) for t in (batch["input_ids"], batch["attention_mask"]))
            forward = partial(network, ids, mask)
            with torch.no_grad(), autocast(device, resolve_precision(run.precision, device)):
                once = measure_latency(forward, device, warmup=1, repeats=1).p50_ms
                # As many repeats as fit in about 2 s, between 3 and 50: a large model's batch on
                # a CPU takes seconds, a small one's on a GPU milliseconds.
                repeats = int(min(50, max(3, 2000 / max(once, 1e-3))))
                record = measure_latency(forward, device, warmup=0, repeats=repeats)
            found[f"latency_ms_p50_{suffix}"] = record.p50_ms
            found[f"latency_ms_p90_{suffix}"] = record.p90_ms
        return found

    def _epoch_row(self, row: dict[str, Any], stats: EpochStats) -> dict[str, Any]:
        before = [e for e in self.epochs if e["run_id"] == row["run_id"]]
        return {
            "run_id": row["run_id"],
            "model": row["model"],
            "seed": row["seed"],
            "epoch": stats.epoch,
            "train_loss": stats.train_loss,
            "train_accuracy": stats.train_accuracy,
            "test_loss": stats.test.loss,
            "test_accuracy": stats.test.accuracy,
            "test_macro_f1": stats.test.macro_f1,
            "epoch_time_s": stats.epoch_time_s,
            "eval_time_s": stats.eval_time_s,
            "cumulative_train_time_s": sum(e["epoch_time_s"] for e in before) + stats.epoch_time_s,
            "train_samples_per_s": stats.train_samples / stats.epoch_time_s,
            "train_tokens_per_s": stats.train_tokens / stats.epoch_time_s,
            "eval_samples_per_s": stats.test.samples_per_s,
            **stats.cost,
            **{k: row[k] for k in ("study", "trial") if k in row},
        }

    def _predictions(self, row: dict[str, Any], prepared: Prepared, last: EpochStats) -> None:
        test = prepared.dataset.test
        self.predictions = [p for p in self.predictions if p["run_id"] != row["run_id"]]
        for i, example_id in enumerate(test.ids):
            entry = {
                "run_id": row["run_id"],
                "model": row["model"],
                "seed": row["seed"],
                "example_id": example_id,
                "label": int(test.labels[i]),
                "pred": int(last.test.preds[i]),
            }
            for k in range(last.test.probs.shape[1]):
                entry[f"prob_{k}"] = round(float(last.test.probs[i, k]), 6)
            self.predictions.append(entry)
        if self.main:
            write_csv(self.out / PREDICTIONS_FILE, self.predictions, PREDICTION_COLUMNS)

    def load_existing(self) -> None:
        """Read the folder's rows back, to resume it."""
        for name, attr in (
            (RESULTS_FILE, "results"),
            (EPOCHS_FILE, "epochs"),
            (PREDICTIONS_FILE, "predictions"),
        ):
            file = self.out / name
            if file.is_file() and file.stat().st_size:
                frame = pd.read_csv(file).astype(object)
                setattr(self, attr, frame.where(frame.notna(), None).to_dict("records"))

    def record(self, row: dict[str, Any]) -> None:
        """Write `row` into results.csv, replacing the row with the same run_id."""
        self.results = [r for r in self.results if r["run_id"] != row["run_id"]] + [row]
        if self.main:
            write_csv(self.out / RESULTS_FILE, self.results, RESULT_COLUMNS)

    def write_env(self, extra: dict[str, Any] | None = None, device: str = "auto") -> None:
        nvml = open_nvml(pick_device(device))
        info = gpu_info(nvml)
        if nvml:
            nvml.close()
        if self.main:
            write_json(self.out / ENV_FILE, environment({**info, **(extra or {})}))
