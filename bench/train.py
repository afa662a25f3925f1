"""The training and evaluation loop. Knows nothing about CSV files or the command line."""

from __future__ import annotations

import itertools
import os
import random
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader
from transformers import get_linear_schedule_with_warmup

from bench.config import RunConfig
from bench.stats import macro_f1
from bench.trackers import CostTracker


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
class Encoded:
    """A tokenized split: token ids per example (unpadded) and labels."""

    ids: list[list[int]]
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)


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
    train_tokens: int  # non-padding tokens seen
    cost: dict[str, Any] = field(default_factory=dict)  # tracker columns for the epoch


EpochHook = Callable[[EpochStats], None]


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def use_all_cores() -> None:
    """Torch on the CPU: one thread per core this process may use."""
    torch.set_num_threads(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)


def collate(pad_id: int, pad_to: int | None) -> Callable[[list[tuple[list[int], int]]], Any]:
    """Pad each batch to its longest member (or to `pad_to`), with an attention mask."""

    def make_batch(items: list[tuple[list[int], int]]) -> dict[str, torch.Tensor]:
        width = pad_to or max(len(ids) for ids, _ in items)
        input_ids = torch.full((len(items), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(items), width), dtype=torch.long)
        for row, (ids, _) in enumerate(items):
            input_ids[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
            mask[row, : len(ids)] = 1
        labels = torch.tensor([label for _, label in items], dtype=torch.long)
        return {"input_ids": input_ids, "attention_mask": mask, "labels": labels}

    return make_batch


def loader(
    data: Encoded,
    batch_size: int,
    pad_id: int,
    pad_to: int | None,
    shuffle_seed: int | None,
    device: torch.device,
) -> DataLoader:
    generator = None
    if shuffle_seed is not None:
        generator = torch.Generator().manual_seed(shuffle_seed)
    items = list(zip(data.ids, data.labels.tolist()))
    return DataLoader(
        items,  # type: ignore[arg-type]
        batch_size=batch_size,
        shuffle=shuffle_seed is not None,
        generator=generator,
        collate_fn=collate(pad_id, pad_to),
        pin_memory=device.type == "cuda",
    )


def to_device(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


@torch.no_grad()
def evaluate(
    model: nn.Module,
    batches: DataLoader,
    device: torch.device,
    n_classes: int,
    progress: ProgressSink | None = None,
) -> EvalOutput:
    model.eval()
    loss_fn = nn.CrossEntropyLoss(reduction="sum")
    total_loss = torch.zeros((), device=device)
    probs, labels = [], []
    start = time.perf_counter()
    for batch in batches:
        batch = to_device(batch, device)
        logits = model(batch["input_ids"], batch["attention_mask"]).float()
        total_loss += loss_fn(logits, batch["labels"])
        probs.append(torch.softmax(logits, dim=-1))
        labels.append(batch["labels"])
        if progress:
            progress.advance()
    prob = torch.cat(probs).cpu().numpy()
    label = torch.cat(labels).cpu().numpy()
    elapsed = time.perf_counter() - start
    preds = prob.argmax(axis=1)
    return EvalOutput(
        loss=float(total_loss) / len(label),
        accuracy=float((preds == label).mean()),
        macro_f1=macro_f1(label, preds, n_classes),
        preds=preds,
        probs=prob,
        samples_per_s=len(label) / elapsed if elapsed > 0 else float("nan"),
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


def fit(
    model: nn.Module,
    train: Encoded,
    test: Encoded,
    run: RunConfig,
    n_classes: int,
    pad_id: int,
    device: torch.device,
    pad_to: int | None = None,
    progress: ProgressSink | None = None,
    track: Callable[[], CostTracker] | None = None,
    start_epoch: int = 1,
    state: dict[str, Any] | None = None,
) -> Iterator[EpochStats]:
    """Train for `run.epochs` epochs, evaluating on `test` after each; yields each epoch's stats.

    `track()` makes a fresh cost tracker per epoch (training and evaluation); its record lands in
    `EpochStats.cost`.
    `state` (optimizer and scheduler objects) is filled in so a caller can checkpoint them.
    """
    progress = progress or NoProgress()
    model.to(device)
    steps_per_epoch = min(-(-len(train) // run.batch_size), run.max_steps or len(train))
    optimizer = torch.optim.AdamW(model.parameters(), lr=run.lr, weight_decay=run.weight_decay)
    total = total_schedule_steps(run, len(train), steps_per_epoch)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(run.warmup_ratio * total), total)
    if state is not None:
        if "optimizer" in state:
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
        state["optimizer_obj"], state["scheduler_obj"] = optimizer, scheduler
    loss_fn = nn.CrossEntropyLoss(label_smoothing=run.label_smoothing)
    test_batches = loader(test, run.batch_size, pad_id, pad_to, None, device)
    for epoch in range(start_epoch, run.epochs + 1):
        # A new shuffle per epoch, derived from the seed, so a resumed run sees the same order.
        batches = loader(train, run.batch_size, pad_id, pad_to, run.seed * 1000 + epoch, device)
        tracker: AbstractContextManager[Any] = track() if track else nullcontext()
        progress.start(f"{run.model} epoch {epoch}/{run.epochs}", steps_per_epoch + len(test_batches))
        with tracker:
            start = time.perf_counter()
            model.train()
            loss_sum = torch.zeros((), device=device)
            correct = torch.zeros((), device=device, dtype=torch.long)
            tokens = torch.zeros((), device=device, dtype=torch.long)
            samples = 0
            for batch in itertools.islice(batches, steps_per_epoch):
                batch = to_device(batch, device)
                samples += len(batch["labels"])
                logits = model(batch["input_ids"], batch["attention_mask"])
                loss = loss_fn(logits.float(), batch["labels"])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if run.grad_clip:
                    nn.utils.clip_grad_norm_(model.parameters(), run.grad_clip)
                optimizer.step()
                scheduler.step()
                # Kept on the device and read once per epoch: no sync per step.
                loss_sum += loss.detach() * len(batch["labels"])
                correct += (logits.argmax(dim=-1) == batch["labels"]).sum()
                tokens += batch["attention_mask"].sum()
                progress.advance()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            train_time = time.perf_counter() - start
            result = evaluate(model, test_batches, device, n_classes, progress)
            eval_time = time.perf_counter() - start - train_time
        progress.stop()
        stats = EpochStats(
            epoch=epoch,
            train_loss=float(loss_sum) / samples,
            train_accuracy=float(correct) / samples,
            test=result,
            epoch_time_s=train_time,
            eval_time_s=eval_time,
            train_samples=samples,
            train_tokens=int(tokens),
            cost=epoch_costs(tracker),
        )
        yield stats
