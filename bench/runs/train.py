"""The training and evaluation loop. Knows nothing about CSV files or the command line."""

from __future__ import annotations

import itertools
import math
import os
import random
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader
from transformers import get_linear_schedule_with_warmup

from bench.config import RunConfig
from bench.costs.trackers import CostTracker
from bench.errors import BenchError
from bench.runs import distributed
from bench.runs.batching import PlannedBatches, Tokenized, inference_loader, make_loader, to_device
from bench.runs.interrupts import raise_pending
from bench.stats.metrics import macro_f1


class ProgressSink(Protocol):
    """Where the loop reports progress (a rich progress bar, or nothing)."""

    def start(self, description: str, total: int) -> None: ...
    def advance(self, n: int = 1) -> None: ...
    def stop(self) -> None: ...


class NoProgress:
    def start(self, description: str, total: int) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass

    def stop(self) -> None:
        pass


@dataclass
class EvalOutput:
    loss: float
    accuracy: float
    macro_f1: float
    preds: np.ndarray
    probs: np.ndarray  # (n, n_classes)
    samples_per_s: float


@dataclass
class EpochStats:
    epoch: int
    train_loss: float
    train_accuracy: float
    test: EvalOutput
    epoch_time_s: float
    eval_time_s: float
    train_samples: int
    train_tokens: int | None  # non-padding tokens seen; None for a model without tokens
    val: EvalOutput | None = None  # None without a validation split
    train_steps: int = 0  # optimizer steps taken
    step_times_s: list[float] = field(default_factory=list)  # mean seconds per step of each chunk
    chunk_losses: list[float] = field(default_factory=list)  # mean training loss of each chunk
    chunk_ends: list[int] = field(default_factory=list)  # the epoch's steps done at each chunk's end
    cost: dict[str, Any] = field(default_factory=dict)  # tracker columns for the epoch


EpochHook = Callable[[EpochStats], None]


class Pruned(Exception):
    """Raised by an epoch hook to stop a run early on purpose (a sweep's pruner); not a failure."""


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def use_all_cores() -> None:
    """Torch on the CPU: one thread per core this process may use, shared out among the ranks that
    torchrun started on this machine."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    torch.set_num_threads(max(1, cores // distributed.world().local_size))


# --- precision ---------------------------------------------------------------------------------
AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_precision(name: str, device: torch.device) -> str:
    """The precision a run trains in: `auto` made concrete, and a BenchError for what the device
    cannot do. fp16 is refused on the CPU rather than quietly run in fp32, so a result row never
    names a precision its numbers were not measured in."""
    if device.type != "cuda":
        if name in ("fp16", "tf32"):
            raise BenchError(f"--precision {name} needs a CUDA GPU; on the CPU use fp32 or bf16.")
        return "fp32" if name == "auto" else name
    bf16 = torch.cuda.is_bf16_supported()
    if name == "auto":
        return "bf16" if bf16 else "fp32"
    if name == "bf16" and not bf16:
        raise BenchError(f"{torch.cuda.get_device_name(device)} has no bf16; use --precision fp16.")
    if name == "tf32" and torch.cuda.get_device_capability(device)[0] < 8:
        raise BenchError(f"{torch.cuda.get_device_name(device)} has no TF32; use --precision fp32.")
    return name


def autocast(device: torch.device, precision: str) -> AbstractContextManager[Any]:
    """Mixed-precision autocast for bf16 and fp16; nothing for fp32 and tf32."""
    if precision not in AUTOCAST_DTYPES:
        return nullcontext()
    return torch.autocast(device.type, dtype=AUTOCAST_DTYPES[precision])


def set_matmul_precision(device: torch.device, precision: str) -> None:
    """TF32 tensor cores for every float32 matrix product except under strict fp32."""
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = precision != "fp32"
        torch.backends.cudnn.allow_tf32 = precision != "fp32"


# --- batches -----------------------------------------------------------------------------------
@torch.no_grad()
def evaluate(
    model: nn.Module,
    batches: DataLoader,
    device: torch.device,
    n_classes: int,
    progress: ProgressSink | None = None,
    precision: str = "fp32",
) -> EvalOutput:
    """Loss, accuracy, macro-F1 and per-review probabilities, in the data's order; under torchrun
    each rank evaluates its share and all ranks get the whole result."""
    model.eval()
    loss_fn = nn.CrossEntropyLoss(reduction="sum")
    total_loss = torch.zeros((), device=device)
    probs, labels, index = [], [], []
    start = time.perf_counter()
    for batch in batches:
        batch = to_device(batch, device)
        with autocast(device, precision):
            logits = model(batch["input_ids"], batch["attention_mask"]).float()
        total_loss += loss_fn(logits, batch["labels"])
        probs.append(torch.softmax(logits, dim=-1))
        labels.append(batch["labels"])
        index.append(batch["index"])
        if progress:
            progress.advance()
        raise_pending()
    n = len(batches.dataset)  # type: ignore[arg-type]
    where = torch.cat(index)
    prob = distributed.gather_rows(torch.cat(probs), where, n).cpu().numpy()
    label = distributed.gather_rows(torch.cat(labels), where, n).cpu().numpy()
    (total_loss,) = distributed.all_sum(total_loss)
    return scores(prob, label, n_classes, time.perf_counter() - start, float(total_loss) / len(label))


def scores(
    probs: np.ndarray,
    labels: np.ndarray,
    n_classes: int,
    seconds: float = float("nan"),
    loss: float | None = None,
) -> EvalOutput:
    """Accuracy, macro-F1 and cross-entropy (unless given) of class probabilities against labels."""
    preds = probs.argmax(axis=1)
    if loss is None:
        picked = probs[np.arange(len(labels)), labels]
        loss = float(-np.log(np.clip(picked, 1e-12, 1.0)).mean())
    return EvalOutput(
        loss=loss,
        accuracy=float((preds == labels).mean()),
        macro_f1=macro_f1(labels, preds, n_classes),
        preds=preds,
        probs=probs,
        samples_per_s=len(labels) / seconds if seconds > 0 else float("nan"),
    )


def epoch_costs(tracker: object) -> dict[str, Any]:
    """The tracker's columns, less its wall time (the epoch rows time training and evaluation
    separately)."""
    if not isinstance(tracker, CostTracker) or tracker.record is None:
        return {}
    row = tracker.record.as_row()
    row.pop("wall_s")
    return row


def total_schedule_steps(run: RunConfig, n_train: int, steps_per_epoch: int) -> int:
    # The paper (§2.4) sets total steps to samples x epochs, so the LR barely decays; correct form
    # counts optimizer steps.
    return (n_train if run.paper_quirks else steps_per_epoch) * run.epochs


def make_optimizer(model: nn.Module, run: RunConfig, device: torch.device) -> torch.optim.AdamW:
    # Fused AdamW (one kernel over all parameters) on CUDA and the CPU; torch's default elsewhere.
    fused = True if device.type in ("cuda", "cpu") else None
    return torch.optim.AdamW(model.parameters(), lr=run.lr, weight_decay=run.weight_decay, fused=fused)


TIME_CHUNKS = 10  # an epoch's steps are timed in this many chunks: the spread of its step time


@dataclass
class TrainState:
    """What training carries from epoch to epoch: built once by `setup`, advanced by `train_epoch`."""

    run: RunConfig
    model: nn.Module  # the network itself, whose weights a checkpoint holds
    net: nn.Module  # what trains: the model, maybe wrapped in DDP and compiled
    eval_net: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler | None  # fp16 only
    loss_fn: nn.Module
    sampler: PlannedBatches
    batches: DataLoader
    steps_per_epoch: int
    val: DataLoader | None
    test: DataLoader
    n_classes: int
    device: torch.device
    precision: str
    place: distributed.World

    def trainer_objects(self) -> dict[str, Any]:
        """The objects whose state_dict() a resumed run needs, by name (see bench.runs.checkpoint)."""
        objects: dict[str, Any] = {"optimizer": self.optimizer, "scheduler": self.scheduler}
        if self.scaler is not None:
            objects["scaler"] = self.scaler
        return objects


def setup(
    model: nn.Module,
    train: Tokenized,
    test: Tokenized,
    run: RunConfig,
    n_classes: int,
    pad_id: int,
    device: torch.device,
    pad_to: int | None = None,
    val: Tokenized | None = None,
    saved: Mapping[str, Any] | None = None,
) -> TrainState:
    """Place the model, build the optimizer, schedule, loss and batches; restore `saved` state dicts
    (optimizer, scheduler, scaler by name) when resuming.

    Under torchrun (see bench.runs.distributed) each rank trains a DistributedDataParallel replica on its
    share of every global batch of `run.batch_size`.
    """
    place = distributed.world()
    precision = resolve_precision(run.precision, device)
    set_matmul_precision(device, precision)
    model.to(device)
    sampler = PlannedBatches(train.lengths(), run.batch_size, run.bucket, place)
    steps_per_epoch = min(len(sampler), run.max_steps or len(sampler))
    optimizer = make_optimizer(model, run, device)
    total = total_schedule_steps(run, len(train), steps_per_epoch)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(run.warmup_ratio * total), total)
    scaler = torch.amp.GradScaler(device.type) if precision == "fp16" else None
    net: nn.Module = model
    if place.distributed:
        # static_graph: every step uses the same parameters, and a model that leaves some unused
        # (BERT's pooler under the BiLSTM) still trains.
        device_ids = [device.index] if device.type == "cuda" else None
        net = DistributedDataParallel(model, device_ids=device_ids, static_graph=True)
    eval_net = model
    if run.compile:
        net, eval_net = torch.compile(net), torch.compile(model)  # type: ignore[assignment]

    def eval_loader(data: Tokenized) -> DataLoader:  # longest first; evaluate puts them back in order
        return inference_loader(data, run.batch_size, pad_id, pad_to, device, place)

    state = TrainState(
        run=run,
        model=model,
        net=net,
        eval_net=eval_net,
        optimizer=optimizer,
        scheduler=scheduler,
        scaler=scaler,
        loss_fn=nn.CrossEntropyLoss(label_smoothing=run.label_smoothing),
        sampler=sampler,
        batches=make_loader(train, sampler, pad_id, pad_to, device),
        steps_per_epoch=steps_per_epoch,
        val=eval_loader(val) if val is not None and len(val) else None,
        test=eval_loader(test),
        n_classes=n_classes,
        device=device,
        precision=precision,
        place=place,
    )
    for name, obj in state.trainer_objects().items():
        if saved and name in saved:  # a scaler's state is absent when the run resumes at another precision
            obj.load_state_dict(saved[name])
    return state


def train_epoch(
    state: TrainState,
    epoch: int,
    progress: ProgressSink | None = None,
    track: Callable[[], CostTracker] | None = None,
) -> EpochStats:
    """One epoch of training, then evaluation on the validation split (if any) and the test split.

    `track()` makes a fresh cost tracker for the epoch's training (evaluation is timed apart and not
    tracked); its record lands in `EpochStats.cost`. The stats are those of all ranks together.
    """
    run, device, place = state.run, state.device, state.place
    progress = progress or NoProgress()
    # A new shuffle per epoch, derived from the seed, so a resumed run sees the same order.
    state.sampler.reshuffle(run.seed * 1000 + epoch)
    global_sizes = state.sampler.global_sizes()
    if place.distributed:  # dropout draws its own masks on each rank, also after a resume
        torch.manual_seed(run.seed * 1000 + epoch + 7919 * place.rank)
    tracker: AbstractContextManager[Any] = track() if track else nullcontext()
    n_eval = len(state.test) + (len(state.val) if state.val is not None else 0)
    progress.start(f"{run.model} epoch {epoch}/{run.epochs}", state.steps_per_epoch + n_eval)
    chunk = max(1, math.ceil(state.steps_per_epoch / TIME_CHUNKS))
    step_times: list[float] = []
    # Running loss sums and sample counts at each chunk's end, summed over ranks with the rest.
    chunk_losses: list[torch.Tensor] = []
    chunk_samples: list[int] = []
    chunk_ends: list[int] = []
    with tracker:
        start = time.perf_counter()
        chunk_start, chunk_steps = start, 0
        state.model.train()
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device, dtype=torch.long)
        tokens = torch.zeros((), device=device, dtype=torch.long)
        samples = 0
        for step, batch in enumerate(itertools.islice(state.batches, state.steps_per_epoch)):
            batch = to_device(batch, device)
            n = len(batch["labels"])  # from the shape: no sync
            samples += n
            loss, logits = train_step(state, batch, n * place.size / global_sizes[step])
            # Kept on the device and read once per epoch: no sync per step.
            loss_sum += loss.detach() * n
            correct += (logits.argmax(dim=-1) == batch["labels"]).sum()
            tokens += batch["attention_mask"].sum()
            chunk_steps += 1
            if chunk_steps == chunk or step + 1 == state.steps_per_epoch:
                synchronize(device)  # one sync per chunk: a step time that is the device's, not the queue's
                now = time.perf_counter()
                step_times.append((now - chunk_start) / chunk_steps)
                chunk_losses.append(loss_sum.clone())
                chunk_samples.append(samples)
                chunk_ends.append(step + 1)
                chunk_start, chunk_steps = now, 0
            progress.advance()
            raise_pending()  # a signal whose exception a finalizer swallowed
        synchronize(device)
        train_time = time.perf_counter() - start
    # Evaluation is outside the trackers, so an epoch's energy and peak memory cover what its time
    # covers: training.
    val = (
        evaluate(state.eval_net, state.val, device, state.n_classes, progress, state.precision)
        if state.val
        else None
    )
    test = evaluate(state.eval_net, state.test, device, state.n_classes, progress, state.precision)
    eval_time = time.perf_counter() - start - train_time
    progress.stop()
    k = len(chunk_losses)
    loss_sum, correct, tokens, total_samples, *chunks = distributed.all_sum(
        loss_sum,
        correct,
        tokens,
        torch.tensor(samples, device=device),
        *chunk_losses,
        *(torch.tensor(n, device=device) for n in chunk_samples),
    )
    chunk_loss = np.diff([0.0, *(float(t) for t in chunks[:k])])
    chunk_n = np.diff([0, *(int(t) for t in chunks[k:])])
    return EpochStats(
        epoch=epoch,
        train_loss=float(loss_sum) / int(total_samples),
        train_accuracy=float(correct) / int(total_samples),
        test=test,
        epoch_time_s=train_time,
        eval_time_s=eval_time,
        train_samples=int(total_samples),
        train_tokens=int(tokens),
        val=val,
        train_steps=len(global_sizes[: state.steps_per_epoch]),
        step_times_s=step_times,
        chunk_losses=[float(x) for x in chunk_loss / np.maximum(chunk_n, 1)],
        chunk_ends=chunk_ends,
        cost=epoch_costs(tracker),
    )


def train_step(
    state: TrainState, batch: dict[str, torch.Tensor], share: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """One optimizer step on one batch; the batch's mean loss and its logits."""
    with autocast(state.device, state.precision):
        logits = state.net(batch["input_ids"], batch["attention_mask"])
    loss = state.loss_fn(logits.float(), batch["labels"])
    # DDP averages gradients over ranks; weighting each rank's mean by its share of the global batch
    # makes that the mean over the global batch, also when the shares differ in size.
    objective = loss * share if state.place.distributed else loss
    state.optimizer.zero_grad(set_to_none=True)
    if state.scaler is not None:
        state.scaler.scale(objective).backward()
        state.scaler.unscale_(state.optimizer)
    else:
        objective.backward()
    if state.run.grad_clip:
        nn.utils.clip_grad_norm_(state.model.parameters(), state.run.grad_clip)
    if state.scaler is not None:
        state.scaler.step(state.optimizer)
        state.scaler.update()
    else:
        state.optimizer.step()
    state.scheduler.step()
    return loss, logits


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
