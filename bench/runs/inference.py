"""What a trained model costs to answer, on real test reviews: its latency (one review at batch 1, one
batch of the run's batch size) and its serving time per 1,000 reviews at the serving batch, for a
network and an estimator alike. The executor measures them after training; each cost repeat measures
them again in its own fresh process (bench.launch.cost_repeats), an independent replicate.

Serving takes the first SERVE_REVIEWS test reviews, sorted by length, longest first, in batches of
the serving batch (`--serve-batch`, else the run's batch size), each padded to its longest: as most
serving stacks batch. The batches are collated before the clock starts, so the figure is the model's.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import torch

from bench.config import RunConfig
from bench.costs.trackers import LATENCY_REVIEWS, SERVE_REVIEWS, latency_columns, serving_columns
from bench.runs.batching import Tokenized, by_length, inference_loader, loader
from bench.runs.prepared import Prepared
from bench.runs.train import autocast, resolve_precision


class Predicts(Protocol):
    """A fitted estimator (bench.modeling.EstimatorSpec.fit's result)."""

    def predict_proba(self, texts: Sequence[str]) -> Any: ...


def serve_batch_of(run: RunConfig) -> int:
    """The serving batch of a run: --serve-batch, else its batch size."""
    return run.serve_batch or run.batch_size


def network_inference(
    network: torch.nn.Module,
    prepared: Prepared,
    run: RunConfig,
    device: torch.device,
    batch_latency: bool = True,
) -> dict[str, Any]:
    """Latency (each of LATENCY_REVIEWS reviews alone, in turn; with `batch_latency`, one batch of the
    run's batch size too) and serving time of `network`, in eval mode, at the run's precision."""
    network.eval()
    pad_to, pad_id, test = prepared.pad_to(run), prepared.pad_id, prepared.test
    singles = list(itertools.islice(loader(test, 1, pad_id, pad_to, None, device), LATENCY_REVIEWS))
    batch = next(iter(loader(test, run.batch_size, pad_id, pad_to, None, device))) if batch_latency else None
    size = serve_batch_of(run)
    sample = Tokenized(test.ids[:SERVE_REVIEWS], test.labels[:SERVE_REVIEWS])
    served = list(inference_loader(sample, size, pad_id, pad_to, device))

    def forward(b: dict[str, torch.Tensor]) -> object:
        return network(b["input_ids"].to(device), b["attention_mask"].to(device))

    whole = None if batch is None else (lambda: forward(batch))
    with torch.no_grad(), autocast(device, resolve_precision(run.precision, device)):
        found: dict[str, Any] = latency_columns(lambda i: forward(singles[i % len(singles)]), whole, device)
        found.update(serving_columns(lambda i: forward(served[i]), len(served), len(sample), device))
    return {**found, "serve_batch": size, "serve_reviews": len(sample)}


def estimator_inference(
    fitted: Predicts, texts: Sequence[str], run: RunConfig, batch_latency: bool = True
) -> dict[str, Any]:
    """The same for an estimator, on the CPU: `predict_proba` on single reviews, on one batch, and on
    the serving batches (longest review first, as for a network; nothing to pad)."""
    cpu = torch.device("cpu")
    reviews = [[texts[i % len(texts)]] for i in range(LATENCY_REVIEWS)]
    batch = [texts[i % len(texts)] for i in range(run.batch_size)]
    sample = list(texts[:SERVE_REVIEWS])
    ordered = [sample[i] for i in by_length(np.array([len(t) for t in sample]))]
    size = serve_batch_of(run)
    chunks = [ordered[i : i + size] for i in range(0, len(ordered), size)]
    whole = (lambda: fitted.predict_proba(batch)) if batch_latency else None
    found: dict[str, Any] = latency_columns(lambda i: fitted.predict_proba(reviews[i]), whole, cpu)
    found.update(serving_columns(lambda i: fitted.predict_proba(chunks[i]), len(chunks), len(sample), cpu))
    return {**found, "serve_batch": size, "serve_reviews": len(sample)}
