"""A finished run evaluated on more test items: its kept weights (bench.runs.weights) on the next
items of its nested test draw. Inference only; the training and validation rows are the run's own,
since extending a test draw never moves them (bench.data.nested_order)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from bench.config import RunConfig
from bench.data import DataRequest, Dataset, Split, load_dataset
from bench.errors import BenchError
from bench.modeling import MODELS, EstimatorSpec, ModelSpec, load_models
from bench.runs.batching import Tokenized, loader
from bench.runs.tokcache import cached_tokenize
from bench.runs.train import evaluate, pick_device, resolve_precision, use_all_cores
from bench.runs.weights import load_estimator, load_network


def test_draw(run: RunConfig, n_items: int, skip_bad_rows: bool = False) -> Dataset:
    """The run's data with its test draw's first `n_items` items."""
    request = DataRequest(
        run.max_train, n_items, run.data_seed, skip_bad_rows, run.val_share, run.min_class_size
    )
    return load_dataset(run.dataset, request)


def new_items(data: Dataset, have: Sequence[str], run_id: str) -> Split:
    """The test items past the `have` ones, after checking that `have` is the draw's prefix."""
    ids = data.test.ids
    if list(ids[: len(have)]) != list(have):
        raise BenchError(
            f"{run_id} was tested on other reviews than its test draw now gives; "
            "its folder predates nested test draws and cannot be extended."
        )
    return data.test.take(np.arange(len(have), len(ids)))


def predict_more(
    out: Path, run: RunConfig, run_id: str, have: Sequence[str], n_items: int, skip_bad_rows: bool = False
) -> tuple[Split, np.ndarray, float]:
    """(the new items, their class probabilities, seconds of evaluation) for the items of the run's
    test draw past `have`, up to `n_items`."""
    load_models()
    use_all_cores()
    spec = MODELS.get(run.model)(run)
    data = test_draw(run, n_items, skip_bad_rows)
    items = new_items(data, have, run_id)
    if not len(items.texts):
        return items, np.zeros((0, data.n_classes)), 0.0
    if isinstance(spec, EstimatorSpec):
        fitted = load_estimator(out, run_id)
        started = time.perf_counter()
        return items, fitted.predict_proba(items.texts), time.perf_counter() - started
    assert isinstance(spec, ModelSpec)
    device = pick_device(run.device)
    tokenizer = spec.build_tokenizer(data.train.texts)  # the same vocabulary the run learned
    network = load_network(out, run_id, spec.build_network(data.n_classes, tokenizer)).to(device)
    cache = Path(run.cache_dir) if run.cache_dir else None
    tokens = cached_tokenize(tokenizer, items.texts, cache)
    pad_to = run.max_len if spec.pad_to_max_len() else None
    batches = loader(
        Tokenized(tokens.ids, items.labels), run.batch_size, tokenizer.pad_id, pad_to, None, device
    )
    precision = resolve_precision(run.precision, device)
    started = time.perf_counter()
    with torch.no_grad():
        result = evaluate(network, batches, device, data.n_classes, precision=precision)
    return items, result.probs, time.perf_counter() - started
