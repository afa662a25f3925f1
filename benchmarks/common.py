"""Shared pieces of the speed benchmarks: small real models on real reviews, trained by the loop that
`bench run` runs, timed in interleaved rounds and judged by a 95% interval of each ratio."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy import stats
from torch import nn

from bench.config import RunConfig
from bench.runs.executor import Executor, Prepared
from bench.runs.train import TrainState, seed_everything

CONFIDENCE = 0.95

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


def fresh_network(prepared: Prepared) -> nn.Module:
    seed_everything(0)
    return prepared.spec.build_network(prepared.dataset.n_classes, prepared.tokenizer)


def runner_state(prepared: Prepared, run: RunConfig, network: nn.Module, device: torch.device) -> TrainState:
    """The training state exactly as the executor sets it up: then `train_epoch` is `bench run`'s epoch."""
    return prepared.train_state(network, run, device)


def paired(
    benchmark: Any, subject: Callable[[], float], reference: Callable[[], float], rounds: int
) -> tuple[list[float], list[float]]:
    """Time `subject` with pytest-benchmark and `reference` just before each of its rounds (A B A B …),
    so that load from other processes falls on both alike and each round is a pair; one warm-up
    round each, left out.

    Each callable returns the seconds it measured itself (e.g. the training steps only); the
    benchmark's own statistics are the subject's whole calls.
    """
    subject_s: list[float] = []
    reference_s: list[float] = []

    def setup_round() -> tuple[tuple[()], dict[str, Any]]:
        reference_s.append(reference())
        return (), {}

    benchmark.pedantic(lambda: subject_s.append(subject()), setup=setup_round, rounds=rounds, warmup_rounds=1)
    warm = 1 if len(subject_s) > 1 else 0  # none when benchmarks are disabled: one plain call
    return subject_s[warm:], reference_s[warm:]


@dataclass(frozen=True)
class RatioInterval:
    """A ratio of paired timings: the geometric mean of the rounds' ratios and its interval."""

    ratio: float
    low: float
    high: float
    rounds: int


def ratio_interval(numerator: list[float], denominator: list[float]) -> RatioInterval:
    """numerator / denominator over paired rounds: a Student-t interval on the mean log ratio of the
    pairs, taken back by exp. Logs, because a ratio's noise is multiplicative; pairs, because a
    round's load slows both sides alike and cancels in its ratio."""
    logs = np.log(np.asarray(numerator, dtype=float) / np.asarray(denominator, dtype=float))
    if len(logs) < 2:
        raise ValueError("an interval needs at least two rounds")
    mean = float(logs.mean())
    if np.ptp(logs) == 0:  # identical rounds: no spread to estimate (scipy would give nan)
        low = high = mean
    else:
        ci = stats.ttest_1samp(logs, 0.0).confidence_interval(CONFIDENCE)
        low, high = float(ci.low), float(ci.high)
    return RatioInterval(float(np.exp(mean)), float(np.exp(low)), float(np.exp(high)), len(logs))


def wall(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def median(values: list[float]) -> float:
    return float(np.median(values))


def check_goal(
    benchmark: Any, name: str, numerator: list[float], denominator: list[float], goal: float
) -> None:
    """Record `name` (numerator / denominator, paired rounds), its 95% interval and its goal in
    extra_info; fail only when the interval's upper end is below the goal, i.e. when the ratio
    is below its goal beyond this machine's noise.

    With benchmarks disabled each side ran once, too few for an interval: only recorded then.
    """
    benchmark.extra_info.update({f"goal_{name}": goal, f"rounds_{name}": len(numerator)})
    if len(numerator) < 2:
        benchmark.extra_info[name] = numerator[0] / denominator[0]
        assert getattr(benchmark, "disabled", False), "a benchmark needs at least two rounds"
        return
    interval = ratio_interval(numerator, denominator)
    benchmark.extra_info.update({name: interval.ratio, f"{name}_ci95": [interval.low, interval.high]})
    assert interval.high >= goal, (
        f"{name} = {interval.ratio:.3f} (95% CI {interval.low:.3f}–{interval.high:.3f}, "
        f"{interval.rounds} rounds): below its goal {goal}"
    )
