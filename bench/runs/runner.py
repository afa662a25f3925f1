"""Runs model runs one after another and writes each one's results the moment it finishes."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import json
import math
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from bench.config import RunConfig
from bench.costs.environment import environment
from bench.costs.flops import mfu, train_flops_per_sample
from bench.costs.nvml import gpu_info, nvml_baseline_bytes, open_nvml
from bench.costs.trackers import LATENCY_REVIEWS, CostTracker, latency_columns
from bench.data import DataRequest, Dataset, load_dataset
from bench.errors import BenchError, one_line
from bench.modeling import (
    MODELS,
    EstimatorSpec,
    ModelSpec,
    Tokenizer,
    count_params,
    load_models,
    resolve_pretrained,
)
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
from bench.runs import distributed
from bench.runs.batching import Tokenized, loader
from bench.runs.checkpoint import (
    Selection,
    checkpoint_dir,
    load_checkpoint,
    remove_checkpoint,
    save_checkpoint_or_warn,
)
from bench.runs.estimator_fit import fit_estimator
from bench.runs.tokcache import cached_tokenize
from bench.runs.train import (
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
from bench.runs.weights import keep_estimator, keep_network, state_on_cpu
from bench.stats.majority import majority_columns


def utc_now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


@dataclasses.dataclass
class Prepared:
    """A network run's data, tokenized."""

    spec: ModelSpec
    tokenizer: Tokenizer
    dataset: Dataset
    train: Tokenized
    val: Tokenized
    test: Tokenized
    pad_id: int
    truncated_train: float
    truncated_test: float


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
        keep_weights: bool = False,
    ) -> None:
        self.out = out
        self.resume_hint = resume_hint or f"bench run --resume {out}"  # said when interrupted
        self.progress = progress or NoProgress()
        self.log = log
        self.skip_bad_rows = skip_bad_rows
        self.keep_checkpoints = keep_checkpoints
        self.keep_weights = keep_weights  # the selected epoch's, for evaluating on more test items
        self.results: list[dict[str, Any]] = []
        self.epochs: list[dict[str, Any]] = []
        self.predictions: list[dict[str, Any]] = []
        self._datasets: dict[tuple[Any, ...], Dataset] = {}
        self.main = distributed.is_main()  # under torchrun only rank 0 writes files
        load_models()

    # --- preparation -------------------------------------------------------------------------
    def dataset(self, run: RunConfig) -> Dataset:
        key = (run.dataset, run.max_train, run.max_test, run.data_seed, run.val_share)
        if key not in self._datasets:
            request = DataRequest(
                run.max_train, run.max_test, run.data_seed, self.skip_bad_rows, run.val_share
            )
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
            if isinstance(spec, EstimatorSpec):
                continue
            if run.init == "pretrained" and spec.default_pretrained:
                resolve_pretrained(run.pretrained or spec.default_pretrained)
            spec.check()  # what the model itself needs (an hf: folder that is a model, say)
            device = pick_device(run.device)
            if device.type == "cpu" or torch.cuda.is_available():
                resolve_precision(run.precision, device)

    def prepare(self, run: RunConfig) -> Prepared:
        spec = MODELS.get(run.model)(run)
        if not isinstance(spec, ModelSpec):
            raise BenchError(f"{run.model} is not a network; it has no tokenizer to prepare.")
        data = self.dataset(run)
        tokenizer = spec.build_tokenizer(data.train.texts)
        cache = Path(run.cache_dir) if run.cache_dir else None
        train, val, test = (
            cached_tokenize(tokenizer, split.texts, cache) for split in (data.train, data.val, data.test)
        )
        return Prepared(
            spec,
            tokenizer,
            data,
            Tokenized(train.ids, data.train.labels),
            Tokenized(val.ids, data.val.labels),
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
        spec = MODELS.get(run.model)(run)
        run_id = run_id_of(run, tags.get("trial"))
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
        spec = MODELS.get(run.model)(run)
        data = self.dataset(run)
        row.update(
            dataset=data.name,
            n_classes=data.n_classes,
            n_train=len(data.train.texts),
            n_val=len(data.val.texts),
            n_test=len(data.test.texts),
        )
        if isinstance(spec, EstimatorSpec):
            selection = self._fit_estimator(spec, data, run, row)
        else:
            assert isinstance(spec, ModelSpec)
            selection = self._train_network(spec, run, row, on_epoch)
        epochs = [e for e in self.epochs if e["run_id"] == row["run_id"]]
        row.update(self._summary(epochs, selection))
        test_preds = selection.test_probs.argmax(axis=1)
        row.update(majority_columns(data.train.labels, data.test.labels, test_preds))
        self._predictions(row, data, selection)

    def _after_epoch(
        self, row: dict[str, Any], run: RunConfig, stats: EpochStats, selection: Selection | None
    ) -> Selection:
        """Record an epoch's row and say so; the selection, updated if this epoch is selected."""
        self.epochs.append(self._epoch_row(row, stats))
        if self.main:
            write_csv(self.out / EPOCHS_FILE, self.epochs, EPOCH_COLUMNS)
        val = f"val acc {stats.val.accuracy:.3f} | " if stats.val else ""
        self.log(
            f"{row['run_id']} epoch {stats.epoch}/{run.epochs}: "
            f"train loss {stats.train_loss:.4f} acc {stats.train_accuracy:.3f} | {val}"
            f"test acc {stats.test.accuracy:.3f} F1 {stats.test.macro_f1:.3f} | {stats.epoch_time_s:.1f} s"
        )
        if selects(run, stats, selection):
            val_probs = stats.val.probs if stats.val else None
            return Selection(
                stats.epoch, stats.test.probs, val_probs, stats.val.accuracy if stats.val else None
            )
        assert selection is not None
        return selection

    def _train_network(
        self, spec: ModelSpec, run: RunConfig, row: dict[str, Any], on_epoch: EpochHook | None
    ) -> Selection:
        device = pick_device(run.device)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise BenchError("--device cuda was asked for, but torch sees no CUDA device.")
        device = distributed.setup(device)  # this rank's GPU under torchrun
        prepared = self.prepare(run)
        data = prepared.dataset
        nvml = open_nvml(device) if run.trackers else None
        baseline = nvml_baseline_bytes(nvml)  # before the model exists on the device
        seed_everything(run.seed)  # the network's initial weights depend on the seed alone
        network = spec.build_network(data.n_classes, prepared.tokenizer)
        total, trainable = count_params(network)
        row.update(
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
        selection = saved.selection if saved else None
        self.epochs = [e for e in self.epochs if e["run_id"] != run_id or e["epoch"] <= done]
        pad_to = run.max_len if spec.pad_to_max_len() else None
        state = setup(
            network,
            prepared.train,
            prepared.test,
            run,
            data.n_classes,
            prepared.pad_id,
            device,
            pad_to,
            val=prepared.val,
            saved=saved.trainer if saved else None,
        )
        kept = None  # the selected epoch's weights, copied to the CPU
        for epoch in range(done + 1, run.epochs + 1):
            track = partial(CostTracker, device, nvml, baseline, enabled=run.trackers)
            stats = train_epoch(state, epoch, self.progress, track)
            selection = self._after_epoch(row, run, stats, selection)
            if self.keep_weights and selection.epoch == epoch:
                kept = state_on_cpu(network)
            if epoch < run.epochs and self.main:
                save_checkpoint_or_warn(folder, epoch, network, state.trainer_objects(), selection)
            if on_epoch:
                on_epoch(stats)
        if selection is None:  # every epoch had finished before the interruption
            raise BenchError(f"{run_id}: nothing left to train, but no final evaluation was saved.")
        epochs = [e for e in self.epochs if e["run_id"] == run_id]
        train_time = sum(e["epoch_time_s"] for e in epochs)
        samples = sum(e["train_samples_per_s"] * e["epoch_time_s"] for e in epochs)
        tokens = sum(e["train_tokens_per_s"] * e["epoch_time_s"] for e in epochs)
        shape = spec.shape(network)
        flops = train_flops_per_sample(
            shape.n_dense_params,
            shape.n_layers,
            shape.d_model,
            tokens / samples,
            shape.lstm_input,
            shape.lstm_hidden,
        )
        row.update(
            flops_per_sample=flops,
            mfu=mfu(flops * samples / train_time, 1.0, nvml.name() if nvml else None, row["precision"]),
        )
        if run.trackers:
            row.update(self._network_latency(network, prepared, run, device, pad_to))
        if kept is not None and self.main:  # none when the selected epoch came before a resume
            keep_network(self.out, run_id, network, kept)
        if nvml:
            nvml.close()
        return selection

    def _fit_estimator(
        self,
        spec: EstimatorSpec,
        data: Dataset,
        run: RunConfig,
        row: dict[str, Any],
    ) -> Selection:
        """A model that is no network: one fit, on the CPU, scored like one epoch."""
        cpu = torch.device("cpu")
        row.update(device="cpu", precision=None, world_size=1, epochs=1)
        self.epochs = [e for e in self.epochs if e["run_id"] != row["run_id"]]
        track = partial(CostTracker, cpu, None, None, enabled=run.trackers)
        stats, fitted = fit_estimator(spec, data, self.progress, track)
        row.update(
            params_total=fitted.n_params,
            params_trainable=fitted.n_params,
            options=json.dumps({**spec.options_in_effect(), **fitted.chosen}),  # with what it chose
        )
        # No epoch hook: the one fit is the whole run, and a pruner could only throw it away.
        selection = self._after_epoch(row, run, stats, None)
        if self.keep_weights and self.main:
            keep_estimator(self.out, row["run_id"], fitted)
        if run.trackers:
            texts = data.test.texts
            reviews = [[texts[i % len(texts)]] for i in range(LATENCY_REVIEWS)]
            batch = [texts[i % len(texts)] for i in range(run.batch_size)]
            row.update(
                latency_columns(
                    lambda i: fitted.predict_proba(reviews[i]), lambda: fitted.predict_proba(batch), cpu
                )
            )
        return selection

    @staticmethod
    def _summary(epochs: list[dict[str, Any]], selection: Selection) -> dict[str, Any]:
        """A run's result columns from its epoch rows (some maybe from before a resume): the metrics of
        the selected epoch, the costs of all of them."""
        chosen = next(e for e in epochs if e["epoch"] == selection.epoch)
        train_time = sum(e["epoch_time_s"] for e in epochs)
        samples = sum(e["train_samples_per_s"] * e["epoch_time_s"] for e in epochs)
        tokens = [
            e["train_tokens_per_s"] * e["epoch_time_s"]
            for e in epochs
            if e.get("train_tokens_per_s") is not None
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

    def _network_latency(
        self,
        network: torch.nn.Module,
        prepared: Prepared,
        run: RunConfig,
        device: torch.device,
        pad_to: int | None,
    ) -> dict[str, Any]:
        """Inference latency on real test reviews: each of LATENCY_REVIEWS reviews alone, in turn, and
        one batch of the run's batch size."""
        network.eval()
        singles = list(
            itertools.islice(loader(prepared.test, 1, prepared.pad_id, pad_to, None, device), LATENCY_REVIEWS)
        )
        batch = next(iter(loader(prepared.test, run.batch_size, prepared.pad_id, pad_to, None, device)))

        def forward(b: dict[str, torch.Tensor]) -> object:
            return network(b["input_ids"].to(device), b["attention_mask"].to(device))

        with torch.no_grad(), autocast(device, resolve_precision(run.precision, device)):
            return latency_columns(
                lambda i: forward(singles[i % len(singles)]), lambda: forward(batch), device
            )

    def _epoch_row(self, row: dict[str, Any], stats: EpochStats) -> dict[str, Any]:
        before = [e for e in self.epochs if e["run_id"] == row["run_id"]]
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

    def _predictions(self, row: dict[str, Any], data: Dataset, selection: Selection) -> None:
        """The selected epoch's predictions, test and validation, into predictions.csv."""
        self.predictions = [p for p in self.predictions if p["run_id"] != row["run_id"]]
        for split, part, probs in (
            ("test", data.test, selection.test_probs),
            ("val", data.val, selection.val_probs),
        ):
            if probs is None:
                continue
            preds = probs.argmax(axis=1)
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
