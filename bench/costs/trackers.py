"""Cost tracking around a run: the timer, `CostTracker` (the timer and every registered tracker
on one thread), and latency.

The trackers themselves live one per file, `bench/costs/track_*.py`, each with the columns it fills
(`bench.costs.columns`). Each sets `.record`, a frozen dataclass whose fields are its columns, when
its `with` block exits (also when the body raises). Trackers nest: one around a whole run, one around
each epoch, one around evaluation. None of them prints: what is unsupported is logged at debug level;
a query that fails during the run warns once (its method column says `failed`). GPU readings come
through `bench.costs.nvml`.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from types import TracebackType

import numpy as np
import torch

from bench.costs.columns import load_trackers
from bench.costs.nvml import Nvml, nvml_baseline_bytes, open_nvml
from bench.costs.polling import PolledTracker, Poller, start_poller, stop_poller
from bench.errors import BenchError

# ---------------------------------------------------------------------------------------------
# Records


@dataclass(frozen=True)
class TimeRecord:
    wall_s: float


@dataclass(frozen=True)
class LatencyRecord:
    p50_ms: float
    p90_ms: float


@dataclass(frozen=True)
class CostRecord:
    """What `CostTracker` measured: the wall time, and each registered tracker's columns (empty with
    the trackers off)."""

    wall_s: float
    columns: dict[str, object]

    def as_row(self) -> dict[str, object]:
        return {"wall_s": self.wall_s, **self.columns}


# ---------------------------------------------------------------------------------------------
# Trackers


class Timer:
    """Wall time of the body; on CUDA, queued kernels are waited for at both ends."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.record: TimeRecord | None = None
        self._start = 0.0

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def __enter__(self) -> Timer:
        self._sync()
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self._sync()
        self.record = TimeRecord(wall_s=time.perf_counter() - self._start)


class CostTracker:
    """Time of the body and every registered tracker's figures (GPU and host memory, energy),
    sampled on one shared thread.

    With `enabled=False` (`--trackers off`) it only times the body: no thread and no NVML, so
    the cost of tracking itself can be measured.
    """

    def __init__(
        self,
        device: torch.device,
        nvml: Nvml | None,
        baseline_bytes: int | None = None,
        enabled: bool = True,
    ) -> None:
        self.enabled = enabled
        self.timer = Timer(device)
        self.record: CostRecord | None = None
        self._poller: Poller | None = None
        # Every registered tracker, by its name (GpuMemoryTracker, ...); none with the trackers off.
        self.parts: dict[str, PolledTracker] = (
            {t.name: t.for_run(device, nvml, baseline_bytes) for t in load_trackers()} if enabled else {}
        )

    def __enter__(self) -> CostTracker:
        if not self.enabled:
            self.timer.__enter__()
            return self
        self._poller = start_poller(list(self.parts.values()))
        try:
            self.timer.__enter__()  # last, so setup is not timed
        except BaseException:
            poller, self._poller = self._poller, None
            stop_poller(poller, list(self.parts.values()))
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.timer.__exit__()
        finally:  # even if synchronizing reports a failed kernel, the thread must stop
            if self._poller is not None:
                poller, self._poller = self._poller, None
                stop_poller(poller, list(self.parts.values()))
        assert self.timer.record is not None
        wall_s = self.timer.record.wall_s
        if not self.enabled:
            self.record = CostRecord(wall_s, {})
            return
        columns: dict[str, object] = {}
        for part in self.parts.values():
            assert part.record is not None
            columns.update(dataclasses.asdict(part.record))
        self.record = CostRecord(wall_s, columns)


@dataclass(frozen=True)
class DeviceTrackers:
    """A run's cost tracking on its device; calling it makes the tracker of one epoch."""

    device: torch.device
    nvml: Nvml | None  # None on a CPU, without a driver, or with the trackers off
    baseline_bytes: int | None  # the device's used memory before the model existed on it
    enabled: bool

    def __call__(self) -> CostTracker:
        return CostTracker(self.device, self.nvml, self.baseline_bytes, enabled=self.enabled)


def device_trackers(device: torch.device, enabled: bool) -> DeviceTrackers:
    """The trackers `bench run` uses on `device`: NVML memory and power polling on a GPU, host
    memory everywhere, the timer alone when not `enabled`. Call before the model is on the device
    (the memory baseline is read here); close `.nvml` when the run is done."""
    nvml = open_nvml(device) if enabled else None
    return DeviceTrackers(device, nvml, nvml_baseline_bytes(nvml), enabled)


def measure_latency(
    fn: Callable[[], object], device: torch.device, warmup: int = 3, repeats: int = 20
) -> LatencyRecord:
    """Median and 90th percentile time of single calls to `fn`, after `warmup` untimed calls."""
    if warmup < 0 or repeats < 1:
        raise BenchError(f"latency needs warmup >= 0 and repeats >= 1, got {warmup}, {repeats}")
    timer = Timer(device)
    for _ in range(warmup):  # first calls pay for allocation, autotuning and lazy init
        fn()
    times_ms: list[float] = []
    for _ in range(repeats):
        with timer:
            fn()
        assert timer.record is not None
        times_ms.append(timer.record.wall_s * 1000)
    p50, p90 = np.percentile(times_ms, [50, 90])
    return LatencyRecord(p50_ms=float(p50), p90_ms=float(p90))


LATENCY_REVIEWS = 16  # batch-1 latency cycles over this many test reviews, not one
MIN_REPEATS, REPEATS, MAX_REPEATS = 10, 20, 50
LATENCY_BUDGET_MS, LATENCY_CAP_MS = 2000.0, 5000.0


def latency_repeats(once_ms: float) -> int:
    """Timed calls for a call of `once_ms`: 20, more (up to 50) while they fit in about 2 s, fewer
    only where 20 would pass 5 s, and never under 10."""
    wanted = max(REPEATS, min(MAX_REPEATS, int(LATENCY_BUDGET_MS / max(once_ms, 1e-3))))
    if wanted * once_ms > LATENCY_CAP_MS:
        wanted = max(MIN_REPEATS, int(LATENCY_CAP_MS / once_ms))
    return wanted


def _call_next(call: Callable[[int], object], counter: itertools.count[int]) -> object:
    return call(next(counter))


def latency_columns(
    one: Callable[[int], object], batch: Callable[[], object] | None, device: torch.device
) -> dict[str, float | int]:
    """The latency columns of a results row: `one(i)` runs the i-th of LATENCY_REVIEWS single reviews
    (they are taken in turn), `batch()` one batch (None: batch-1 latency only); each is warmed up
    once, timed once to size the repeats, then timed `latency_repeats` times."""
    found: dict[str, float | int] = {}
    calls: list[tuple[str, Callable[[int], object]]] = [("bs1", lambda i: one(i % LATENCY_REVIEWS))]
    if batch is not None:
        calls.append(("batch", lambda i: batch()))
    for suffix, call in calls:
        step = partial(_call_next, call, itertools.count())
        once = measure_latency(step, device, warmup=1, repeats=1).p50_ms
        repeats = latency_repeats(once)
        record = measure_latency(step, device, warmup=0, repeats=repeats)
        found[f"latency_ms_p50_{suffix}"] = record.p50_ms
        found[f"latency_ms_p90_{suffix}"] = record.p90_ms
        found[f"latency_repeats_{suffix}"] = repeats
    return found


SERVE_REVIEWS = 256  # test reviews a serving pass answers: a second or two for the quick suite on a CPU
MIN_PASSES, MAX_PASSES = 3, 20
SERVE_BUDGET_S, SERVE_CAP_S = 1.0, 6.0


def serving_passes(once_s: float) -> int:
    """Timed passes for a pass of `once_s`: 3, more (up to 20) while they fit in about 1 s, and fewer
    (down to 1) only where 3 would pass 6 s."""
    wanted = max(MIN_PASSES, min(MAX_PASSES, int(SERVE_BUDGET_S / max(once_s, 1e-6))))
    if wanted * once_s > SERVE_CAP_S:
        wanted = max(1, int(SERVE_CAP_S / once_s))
    return wanted


def serving_columns(
    serve: Callable[[int], object], batches: int, reviews: int, device: torch.device
) -> dict[str, float | int]:
    """The serving columns of a results row: `serve(i)` answers the i-th of `batches` batches that
    hold `reviews` reviews in all. One untimed warm-up batch, one timed pass to size the passes, then
    `serving_passes` timed passes over every batch; their median, per 1,000 reviews. (A replicate is
    another run, or a cost repeat in a fresh process: the passes of one process are not.)"""
    if batches < 1 or reviews < 1:
        raise BenchError(f"serving needs at least one batch and one review, got {batches}, {reviews}")
    serve(0)  # first calls pay for allocation and lazy initialisation
    timer = Timer(device)

    def one_pass() -> float:
        with timer:
            for i in range(batches):
                serve(i)
        assert timer.record is not None
        return timer.record.wall_s

    passes = serving_passes(one_pass())
    seconds = float(np.median([one_pass() for _ in range(passes)]))
    return {"serve_s_per_1k": seconds * 1000 / reviews, "serve_passes": passes}
