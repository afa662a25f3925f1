"""Shared pieces of the speed benchmarks: small real models on real reviews, timed in turns."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.config import RunConfig
from bench.runs.executor import Executor, Prepared

# Each benchmark asserts its goal times this margin: the machine is shared and noisy (other jobs on
# 2 cores; run-to-run noise of a few percent), and timing both sides in turns evens the load out but
# cannot remove it. A ratio below goal × margin is a regression, not noise.
NOISE_MARGIN = 0.9

TINY_ENCODER = {
    "d_model": 128,
    "n_layers": 2,
    "n_heads": 4,
    "ff_dim": 256,
    "vocab_size": 5000,
    "dropout": 0.0,
}


def prepare(run: RunConfig, tmp: Path) -> Prepared:
    return Executor(tmp).prepare(run)


def encoder_run(steps: int, batch_size: int = 32, **changes: Any) -> RunConfig:
    """The tiny encoder on `steps` batches of real reviews; gradient clipping off, as in a bare loop."""
    settings: dict[str, Any] = dict(
        model="encoder",
        max_train=steps * batch_size,
        val_share=0.0,  # every training review makes a step
        max_test=8,
        max_len=64,
        batch_size=batch_size,
        lr=1e-3,
        grad_clip=0.0,
        cache_dir="",
        options=TINY_ENCODER,
    )
    return RunConfig(**{**settings, **changes}).validate()


def paired(
    benchmark: Any, subject: Callable[[], float], reference: Callable[[], float], rounds: int
) -> tuple[list[float], list[float]]:
    """Time `subject` with pytest-benchmark and `reference` just before each of its rounds, taking
    turns so that load from other processes falls on both alike; one warm-up round each.

    Each callable returns the seconds it measured itself (e.g. the training steps only); the
    benchmark's own statistics are the subject's whole calls.
    """
    subject_s: list[float] = []
    reference_s: list[float] = []

    def setup() -> tuple[tuple[()], dict[str, Any]]:
        reference_s.append(reference())
        return (), {}

    benchmark.pedantic(lambda: subject_s.append(subject()), setup=setup, rounds=rounds, warmup_rounds=1)
    warm = 1 if len(subject_s) > 1 else 0  # none when benchmarks are disabled: one plain call
    return subject_s[warm:], reference_s[warm:]


def median(values: list[float]) -> float:
    return statistics.median(values)


def wall(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def check_goal(benchmark: Any, name: str, ratio: float, goal: float) -> None:
    """Record `name`'s ratio, goal and margin in extra_info, and fail below goal × NOISE_MARGIN.

    With benchmarks disabled each side ran once, too few for a verdict: only recorded then.
    """
    benchmark.extra_info.update({name: ratio, f"goal_{name}": goal, "noise_margin": NOISE_MARGIN})
    if not getattr(benchmark, "disabled", False):
        floor = goal * NOISE_MARGIN
        assert ratio >= floor, f"{name} = {ratio:.3f}, below its goal {goal} × {NOISE_MARGIN} = {floor:.3f}"
