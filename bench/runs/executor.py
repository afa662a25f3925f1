"""One run: a RunConfig trained and evaluated into its result row, its epoch rows and its prediction
rows. The executor writes no results file; it hands its rows to a `RunSink` (the recorder, in a
`bench run` or a sweep) as they appear. It does own the run's checkpoints.

    executor = Executor(out)                       # checkpoints go to out/checkpoints/<run_id>
    outcome = executor.execute(run, tags, on_epoch, sink=Recorder(out))
    outcome.row, outcome.epochs, outcome.predictions

With `keep_weights`, the outcome carries the selected epoch's weights (a CPU copy of a network's
tensors, or the fitted estimator) for the recorder to keep (bench.runs.weights); bench.decide.extend
evaluates them on more test items.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import torch

from bench.config import RunConfig
from bench.costs.flops import mfu
from bench.costs.trackers import CostTracker, DeviceTrackers, device_trackers
from bench.data import DataRequest, Dataset, load_dataset
from bench.errors import BenchError, one_line
from bench.modeling import (
    MODELS,
    EstimatorSpec,
    ModelSpec,
    Spec,
    count_params,
    load_models,
    resolve_pretrained,
)
from bench.runs import distributed
from bench.runs.checkpoint import (
    Selection,
    checkpoint_dir,
    load_checkpoint,
    remove_checkpoint,
    save_checkpoint_or_warn,
)
from bench.runs.estimator_fit import fit_estimator
from bench.runs.inference import estimator_inference, network_inference
from bench.runs.prepared import Prepared, tokenized
from bench.runs.rows import epoch_row, prediction_rows, run_id_of, selects, step_rows, summary, utc_now
from bench.runs.train import (
    EpochHook,
    EpochStats,
    NoProgress,
    ProgressSink,
    Pruned,
    pick_device,
    resolve_precision,
    seed_everything,
    train_epoch,
    use_all_cores,
)
from bench.runs.weights import state_on_cpu
from bench.stats.majority import majority_columns


@dataclass
class Outcome:
    """What one run produced: its results.csv row, its epochs.csv rows (earlier ones kept from a
    checkpoint included) and its predictions.csv rows (None when it got no final evaluation)."""

    row: dict[str, Any]
    epochs: list[dict[str, Any]] = field(default_factory=list)
    predictions: list[dict[str, Any]] | None = None
    weights: Any = None  # with keep_weights: the selected epoch's tensors, or the fitted estimator


class RunSink(Protocol):
    """Where an executing run's rows go the moment they exist (bench.runs.recorder.Recorder)."""

    def restart(self, run_id: str, after_epoch: int) -> list[dict[str, Any]]:
        """Forget the run's epoch rows after `after_epoch` (its checkpoint's); the rows kept."""
        ...

    def epoch(self, row: dict[str, Any], steps: list[dict[str, Any]]) -> None:
        """An epoch's epochs.csv row and its steps.csv rows (each timed chunk's loss)."""
        ...

    def finish(self, outcome: Outcome) -> None:
        """The run ended (ok, failed, interrupted or pruned); called before any exception propagates."""
        ...


class MemorySink:
    """A sink that keeps nothing: for runs whose rows only the caller reads (timing repeats, tests)."""

    def restart(self, run_id: str, after_epoch: int) -> list[dict[str, Any]]:
        return []

    def epoch(self, row: dict[str, Any], steps: list[dict[str, Any]]) -> None:
        pass

    def finish(self, outcome: Outcome) -> None:
        pass


@dataclass
class _Live:
    """One execution's state: its row, its epoch rows so far and its sink."""

    row: dict[str, Any]
    sink: RunSink
    epochs: list[dict[str, Any]] = field(default_factory=list)
    weights: Any = None


class Executor:
    """Trains and evaluates RunConfigs, one at a time; keeps loaded datasets between runs.

    `out` is the folder whose checkpoints/ holds each run's last finished epoch. `tags` given to
    `execute` (a sweep's study and trial, a worker's concurrent_runs) become columns of the row.
    """

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
        self._datasets: dict[tuple[Any, ...], Dataset] = {}
        self.main = distributed.is_main()  # under torchrun only rank 0 writes checkpoints
        load_models()

    # --- preparation -------------------------------------------------------------------------
    def dataset(self, run: RunConfig) -> Dataset:
        key = (run.dataset, run.max_train, run.max_test, run.data_seed, run.val_share, run.min_class_size)
        if key not in self._datasets:
            request = DataRequest(
                run.max_train,
                run.max_test,
                run.data_seed,
                self.skip_bad_rows,
                run.val_share,
                run.min_class_size,
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
            data = self.dataset(run)
            spec.check()  # what the model itself needs (an hf: folder that is a model, say)
            spec.check_data(data)  # what it needs of the data (tfidf_lr: a validation split, words)
            if isinstance(spec, EstimatorSpec):
                continue
            if run.init == "pretrained" and spec.default_pretrained:
                resolve_pretrained(run.pretrained or spec.default_pretrained)
            device = pick_device(run.device)
            if device.type == "cpu" or torch.cuda.is_available():
                resolve_precision(run.precision, device)

    def prepare(self, run: RunConfig, spec: Spec | None = None) -> Prepared:
        """The run's data, tokenized for its network (`spec`: the run's model, if built already)."""
        spec = spec or MODELS.get(run.model)(run)
        if not isinstance(spec, ModelSpec):
            raise BenchError(f"{run.model} is not a network; it has no tokenizer to prepare.")
        return tokenized(spec, self.dataset(run), run)

    # --- running -----------------------------------------------------------------------------
    def execute(
        self,
        run: RunConfig,
        tags: dict[str, Any] | None = None,
        on_epoch: EpochHook | None = None,
        sink: RunSink | None = None,
    ) -> Outcome:
        """Train and evaluate one run; the sink has its rows when this returns, also on failure.

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
        live = _Live(row, sink or MemorySink())
        outcome = Outcome(row)
        try:
            outcome.predictions = self._train(spec, run, live, on_epoch)
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
            outcome.epochs = live.epochs
            outcome.weights = live.weights if row.get("status") == "ok" else None
            live.sink.finish(outcome)
        return outcome

    def _train(
        self, spec: Spec, run: RunConfig, live: _Live, on_epoch: EpochHook | None
    ) -> list[dict[str, Any]]:
        """Fill the live row; the run's prediction rows."""
        use_all_cores()
        seed_everything(run.seed)
        data = self.dataset(run)
        row = live.row
        row.update(
            dataset=data.name,
            n_classes=data.n_classes,
            n_train=len(data.train.texts),
            n_val=len(data.val.texts),
            n_test=len(data.test.texts),
        )
        if isinstance(spec, EstimatorSpec):
            selection = self._fit_estimator(spec, data, run, live)
        else:
            assert isinstance(spec, ModelSpec)
            selection = self._train_network(spec, run, live, on_epoch)
        row.update(summary(live.epochs, selection))
        test_preds = selection.test_probs.argmax(axis=1)
        row.update(majority_columns(data.train.labels, data.test.labels, test_preds))
        return prediction_rows(row, data, selection)

    def _after_epoch(
        self, live: _Live, run: RunConfig, stats: EpochStats, selection: Selection | None
    ) -> Selection:
        """Hand on an epoch's row and say so; the selection, updated if this epoch is selected."""
        done = sum(int(e.get("train_steps") or 0) for e in live.epochs)  # the run's steps before this epoch
        entry = epoch_row(live.row, stats, live.epochs)
        live.epochs.append(entry)
        live.sink.epoch(entry, step_rows(live.row, stats, done))
        val = f"val acc {stats.val.accuracy:.3f} | " if stats.val else ""
        self.log(
            f"{live.row['run_id']} epoch {stats.epoch}/{run.epochs}: "
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
        self, spec: ModelSpec, run: RunConfig, live: _Live, on_epoch: EpochHook | None
    ) -> Selection:
        """The network's run on its device; NVML is let go however the run ends."""
        device = pick_device(run.device)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise BenchError("--device cuda was asked for, but torch sees no CUDA device.")
        device = distributed.setup(device)  # this rank's GPU under torchrun
        prepared = self.prepare(run, spec)
        track = device_trackers(device, run.trackers)  # before the model exists on the device
        try:
            return self._train_on(spec, prepared, run, device, track, live, on_epoch)
        finally:
            if track.nvml:
                track.nvml.close()

    def _train_on(
        self,
        spec: ModelSpec,
        prepared: Prepared,
        run: RunConfig,
        device: torch.device,
        track: DeviceTrackers,
        live: _Live,
        on_epoch: EpochHook | None,
    ) -> Selection:
        """Train the network epoch by epoch on `device`, checkpointing; the selected epoch."""
        row, data, nvml = live.row, prepared.dataset, track.nvml
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
        live.epochs = live.sink.restart(run_id, done)
        state = prepared.train_state(network, run, device, saved=saved.trainer if saved else None)
        for epoch in range(done + 1, run.epochs + 1):
            stats = train_epoch(state, epoch, self.progress, track)
            selection = self._after_epoch(live, run, stats, selection)
            if self.keep_weights and selection.epoch == epoch:  # none when selected before a resume
                live.weights = state_on_cpu(network)
            if epoch < run.epochs and self.main:
                save_checkpoint_or_warn(folder, epoch, network, state.trainer_objects(), selection)
            if on_epoch:
                on_epoch(stats)
        if selection is None:  # every epoch had finished before the interruption
            raise BenchError(f"{run_id}: nothing left to train, but no final evaluation was saved.")
        epochs = live.epochs
        train_time = sum(e["epoch_time_s"] for e in epochs)
        samples = sum(e["train_samples_per_s"] * e["epoch_time_s"] for e in epochs)
        tokens = sum(e["train_tokens_per_s"] * e["epoch_time_s"] for e in epochs)
        flops = spec.train_flops_per_sample(network, tokens / samples)  # the model owns its formula
        achieved = flops * samples / train_time if flops is not None else None
        row.update(
            flops_per_sample=flops,
            mfu=mfu(achieved, 1.0, nvml.name() if nvml else None, row["precision"]) if achieved else None,
        )
        if run.trackers:  # latency and serving time, on the trained network
            row.update(network_inference(network, prepared, run, device))
        return selection

    def _fit_estimator(self, spec: EstimatorSpec, data: Dataset, run: RunConfig, live: _Live) -> Selection:
        """A model that is no network: one fit, on the CPU, scored like one epoch."""
        cpu = torch.device("cpu")
        row = live.row
        row.update(device="cpu", precision=None, world_size=1, epochs=1)
        live.epochs = live.sink.restart(row["run_id"], 0)
        track = partial(CostTracker, cpu, None, None, enabled=run.trackers)
        stats, fitted = fit_estimator(spec, data, self.progress, track)
        row.update(
            params_total=fitted.n_params,
            params_trainable=fitted.n_params,
            options=json.dumps({**spec.options_in_effect(), **fitted.chosen}),  # with what it chose
        )
        # No epoch hook: the one fit is the whole run, and a pruner could only throw it away.
        selection = self._after_epoch(live, run, stats, None)
        live.weights = fitted if self.keep_weights else None
        if run.trackers:
            row.update(estimator_inference(fitted, data.test.texts, run))
        return selection
