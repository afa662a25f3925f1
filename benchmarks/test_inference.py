"""Inference sorted by length (`bench.runs.batching.inference_loader`: longest first, each batch padded
to its longest) against inference in the data's order, each batch padded to its longest (what the
evaluation did before): MiniLM as the quick suite's bert on 128 real test reviews at batch 32, at
max_len 48 and 256. The two sides take turns, round by round; the ratio is in `extra_info`, with the
median of the rounds' ratios, and the test fails only when sorting is shown slower.

    pytest benchmarks/test_inference.py --benchmark-only --benchmark-json inference.json
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from bench.config import RunConfig
from bench.runs.batching import inference_loader, loader
from benchmarks.common import check_goal, fresh_network, median, paired, prepare

REVIEWS, BATCH = 128, 32


@pytest.mark.parametrize("max_len", [48, 256])
def test_length_sorted_inference(benchmark: Any, device: torch.device, tmp_path: Path, max_len: int) -> None:
    run = RunConfig(
        model="bert",
        pretrained="all-MiniLM-L6-v2",
        max_train=64,
        max_test=REVIEWS,
        max_len=max_len,
        batch_size=BATCH,
        device=device.type,
        cache_dir="",
        options={"pooling": "mean"},
    ).validate()
    prepared = prepare(run, tmp_path)
    network = fresh_network(prepared).to(device).eval()
    pad_id = prepared.pad_id
    # Collated before the clock starts, as the serving axis times them: the model's time.
    by_length = list(inference_loader(prepared.test, BATCH, pad_id, None, device))
    in_order = list(loader(prepared.test, BATCH, pad_id, None, None, device))

    def infer(batches: list[dict[str, torch.Tensor]]) -> float:
        with torch.no_grad():
            start = time.perf_counter()
            for b in batches:
                network(b["input_ids"].to(device), b["attention_mask"].to(device))
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            return time.perf_counter() - start

    sorted_s, order_s = paired(benchmark, lambda: infer(by_length), lambda: infer(in_order), rounds=6)
    tokens = {name: sum(int(b["input_ids"].numel()) for b in batches)
              for name, batches in (("sorted", by_length), ("in_order", in_order))}  # fmt: skip
    real = int(prepared.test.lengths().sum())
    benchmark.extra_info.update(
        max_len=max_len,
        reviews=REVIEWS,
        batch=BATCH,
        sorted_median_s=median(sorted_s),
        in_order_median_s=median(order_s),
        median_of_ratios=float(np.median(np.array(order_s) / np.array(sorted_s))) if sorted_s else None,
        padding_share_sorted=1 - real / tokens["sorted"],
        padding_share_in_order=1 - real / tokens["in_order"],
        device=str(device),
    )
    # How many times faster sorted is than the data's order: never slower.
    check_goal(benchmark, f"ratio_in_order_vs_sorted_{max_len}", order_s, sorted_s, goal=1.0)
