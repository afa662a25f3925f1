"""Runs model runs one after another and writes each one's results the moment it finishes."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.config import RunConfig
from bench.data import DataRequest, Dataset, load_dataset, truncated_share
from bench.environment import environment
from bench.errors import BenchError
from bench.flops import mfu, train_flops_per_sample
from bench.modeling import (
    MODELS,
    ModelSpec,
    TextEncoder,
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
    write_csv,
    write_json,
)
from bench.trackers import CostTracker, gpu_info, measure_latency, nvml_baseline_bytes, open_nvml
from bench.train import (
    Encoded,
    EpochHook,
    EpochStats,
    NoProgress,
    ProgressSink,
    fit,
    loader,
    pick_device,
    seed_everything,
    use_all_cores,
)


def utc_now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}"[:500]


@dataclasses.dataclass
class Prepared:
    spec: ModelSpec
    encoder: TextEncoder
    dataset: Dataset
    train: Encoded
    test: Encoded
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
    ) -> None:
        self.out = out
        self.progress = progress or NoProgress()
        self.log = log
        self.skip_bad_rows = skip_bad_rows
        self.results: list[dict[str, Any]] = []
        self.epochs: list[dict[str, Any]] = []
        self.predictions: list[dict[str, Any]] = []
        self._datasets: dict[tuple[Any, ...], Dataset] = {}
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

    def prepare(self, run: RunConfig) -> Prepared:
        spec = MODELS.get(run.model)(run)
        data = self.dataset(run)
        encoder = spec.build_encoder(data.train.texts)
        train = Encoded(encoder.encode(data.train.texts), data.train.labels)
        test = Encoded(encoder.encode(data.test.texts), data.test.labels)
        return Prepared(
            spec,
            encoder,
            data,
            train,
            test,
            encoder.pad_id,
            truncated_share(encoder.full_lengths(data.train.texts), run.max_len),
            truncated_share(encoder.full_lengths(data.test.texts), run.max_len),
        )

    # --- running -----------------------------------------------------------------------------
    def run(
        self, run: RunConfig, tags: dict[str, Any] | None = None, on_epoch: EpochHook | None = None
    ) -> dict[str, Any]:
        """Train and evaluate one run; its rows are on disk when this returns, also on failure.

        Exceptions a model raises become a `failed` row; KeyboardInterrupt and pruning propagate.
        """
        tags = tags or {}
        run_id = f"{run.model}-s{run.seed}" + (f"-t{tags['trial']}" if "trial" in tags else "")
        row: dict[str, Any] = {
            "run_id": run_id,
            **{k: v for k, v in dataclasses.asdict(run).items() if k != "options"},
            **tags,
            "started_at": utc_now(),
        }
        try:
            self._train(run, row, on_epoch)
            row["status"] = "ok"
        except (KeyboardInterrupt, SystemExit):
            row.update(status="interrupted", finished_at=utc_now())
            self._record(row)
            raise
        except Exception as exc:
            if type(exc).__name__ == "TrialPruned":
                row.update(status="pruned", finished_at=utc_now())
                self._record(row)
                raise
            row.update(status="failed", error=one_line(exc))
            self.log(f"{run_id} failed: {row['error']}")
        row["finished_at"] = utc_now()
        self._record(row)
        return row

    def _train(self, run: RunConfig, row: dict[str, Any], on_epoch: EpochHook | None) -> None:
        use_all_cores()
        seed_everything(run.seed)
        device = pick_device(run.device)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise BenchError("--device cuda was asked for, but torch sees no CUDA device.")
        prepared = self.prepare(run)
        data = prepared.dataset
        nvml = open_nvml(device) if run.trackers else None
        baseline = nvml_baseline_bytes(nvml)  # before the model exists on the device
        seed_everything(run.seed)  # the network's initial weights depend on the seed alone
        network = prepared.spec.build_network(data.n_classes, prepared.encoder)
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
        )
        pad_to = run.max_len if prepared.spec.pad_to_max_len() else None
        history: list[EpochStats] = []
        for stats in fit(
            network,
            prepared.train,
            prepared.test,
            run,
            data.n_classes,
            prepared.pad_id,
            device,
            pad_to=pad_to,
            progress=self.progress,
            on_epoch=on_epoch,
            track=lambda: CostTracker(device, nvml, baseline, enabled=run.trackers),
        ):
            history.append(stats)
            self.epochs.append(self._epoch_row(row, stats, history))
            self.log(
                f"{row['run_id']} epoch {stats.epoch}/{run.epochs}: "
                f"train loss {stats.train_loss:.4f} acc {stats.train_accuracy:.3f} | "
                f"test loss {stats.test.loss:.4f} acc {stats.test.accuracy:.3f} "
                f"F1 {stats.test.macro_f1:.3f} | {stats.epoch_time_s:.1f} s"
            )
            write_csv(self.out / EPOCHS_FILE, self.epochs, EPOCH_COLUMNS)
        last = history[-1]
        train_time = sum(s.epoch_time_s for s in history)
        row.update(
            test_accuracy=last.test.accuracy,
            best_test_accuracy=max(s.test.accuracy for s in history),
            test_macro_f1=last.test.macro_f1,
            test_loss=last.test.loss,
            train_accuracy=last.train_accuracy,
            train_loss=last.train_loss,
            train_time_s=train_time,
            epoch_time_s_mean=train_time / len(history),
            eval_time_s=sum(s.eval_time_s for s in history),
            train_samples_per_s=sum(s.train_samples for s in history) / train_time,
            train_tokens_per_s=sum(s.train_tokens for s in history) / train_time,
            eval_samples_per_s=float(np.median([s.test.samples_per_s for s in history])),
            **run_costs([s.cost for s in history]),
        )
        tokens_per_sample = sum(s.train_tokens for s in history) / sum(s.train_samples for s in history)
        shape = prepared.spec.shape(network)
        flops = train_flops_per_sample(
            shape.n_dense_params,
            shape.n_layers,
            shape.d_model,
            tokens_per_sample,
            shape.lstm_input,
            shape.lstm_hidden,
        )
        gpu_name = nvml.name() if nvml else None
        row.update(
            flops_per_sample=flops,
            mfu=mfu(flops * sum(s.train_samples for s in history), train_time, gpu_name, "fp32"),
        )
        if run.trackers:
            row.update(self._latency(network, prepared, run, device, pad_to))
        if nvml:
            nvml.close()
        self._predictions(row, prepared, last)

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
            with torch.no_grad():
                record = measure_latency(
                    partial(network, ids, mask),
                    device,
                    warmup=2,
                    repeats=10 if device.type == "cpu" else 50,
                )
            found[f"latency_ms_p50_{suffix}"] = record.p50_ms
            found[f"latency_ms_p90_{suffix}"] = record.p90_ms
        return found

    def _epoch_row(self, row: dict[str, Any], stats: EpochStats, history: list[EpochStats]) -> dict[str, Any]:
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
            "cumulative_train_time_s": sum(s.epoch_time_s for s in history),
            "train_samples_per_s": stats.train_samples / stats.epoch_time_s,
            "train_tokens_per_s": stats.train_tokens / stats.epoch_time_s,
            "eval_samples_per_s": stats.test.samples_per_s,
            **stats.cost,
            **{k: row[k] for k in ("study", "trial") if k in row},
        }

    def _predictions(self, row: dict[str, Any], prepared: Prepared, last: EpochStats) -> None:
        test = prepared.dataset.test
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
        write_csv(self.out / PREDICTIONS_FILE, self.predictions, PREDICTION_COLUMNS)

    def _record(self, row: dict[str, Any]) -> None:
        self.results = [r for r in self.results if r["run_id"] != row["run_id"]] + [row]
        write_csv(self.out / RESULTS_FILE, self.results, RESULT_COLUMNS)

    def write_env(self, extra: dict[str, Any] | None = None, device: str = "auto") -> None:
        nvml = open_nvml(pick_device(device))
        info = gpu_info(nvml)
        if nvml:
            nvml.close()
        write_json(self.out / ENV_FILE, environment({**info, **(extra or {})}))


PEAK_COLUMNS = (
    "peak_gpu_mem_nvml_mib",
    "peak_gpu_mem_process_mib",
    "peak_torch_allocated_mib",
    "peak_torch_reserved_mib",
    "peak_rss_mib",
)


def run_costs(epochs: list[dict[str, Any]]) -> dict[str, Any]:
    """A run's cost columns from its epochs': the highest peaks, the summed energy."""
    found: dict[str, Any] = {}
    for column in PEAK_COLUMNS:
        values = [e[column] for e in epochs if e.get(column) is not None]
        found[column] = max(values) if values else None
    energies = [e["energy_j"] for e in epochs if e.get("energy_j") is not None]
    found["energy_j"] = sum(energies) if energies else None
    for column in ("gpu_mem_method", "energy_method"):
        found[column] = next((e[column] for e in epochs if e.get(column)), None)
    return found


def default_out(suite: str, root: Path = Path("reports")) -> Path:
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return root / f"{suite}-{stamp}"


def with_repeats(runs: list[RunConfig], repeats: int) -> list[RunConfig]:
    """Each run with seeds seed, seed+1, ..., seed+repeats-1 (model by model)."""
    if repeats < 1:
        raise BenchError(f"--repeats must be at least 1, not {repeats}.")
    return [dataclasses.replace(r, seed=r.seed + k) for r in runs for k in range(repeats)]


def run_suite(runs: list[RunConfig], runner: Runner) -> list[dict[str, Any]]:
    """Check every run, then train them in order; a failing model does not stop the others."""
    runner.check(runs)
    runner.out.mkdir(parents=True, exist_ok=True)
    runner.write_env({"runs": [dataclasses.asdict(r) for r in runs]}, runs[0].device)
    return [runner.run(run) for run in runs]
