"""What a network run trains on, prepared: its splits tokenized; and its inference latency."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path
from typing import Any

import torch

from bench.config import RunConfig
from bench.costs.trackers import LATENCY_REVIEWS, latency_columns
from bench.data import Dataset
from bench.modeling import ModelSpec, Tokenizer
from bench.runs.batching import Tokenized, loader
from bench.runs.tokcache import cached_tokenize
from bench.runs.train import autocast, resolve_precision


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


def tokenized(spec: ModelSpec, data: Dataset, run: RunConfig) -> Prepared:
    """The run's splits through the model's tokenizer (built on the training texts), cached on disk
    where the run has a cache folder."""
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


def network_latency(
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
        return latency_columns(lambda i: forward(singles[i % len(singles)]), lambda: forward(batch), device)
