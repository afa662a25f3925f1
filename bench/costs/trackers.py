"""Cost trackers: context managers for wall time, GPU and host memory, energy, and latency.

Each tracker sets `.record`, a frozen dataclass whose field names carry their unit, when its
`with` block exits (also when the body raises). Trackers nest: one around a whole run, one
around each epoch, one around evaluation. Sampling happens on one daemon thread per tracker
(`bench.costs.polling`); `CostTracker` shares a single thread between all of its parts. None of them prints:
what is unsupported is logged at debug level; a query that fails during the run warns once (its
method column says `failed`). GPU readings come through `bench.costs.nvml`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from types import TracebackType

import numpy as np
import torch

from bench.costs.nvml import MIB, Nvml, nvml_baseline_bytes, open_nvml
from bench.costs.polling import PolledTracker, Poller, start_poller, stop_poller
from bench.costs.procmem import TreeRss
from bench.errors import BenchError, one_line
from bench.notices import debug_once, warn_once

log = logging.getLogger(__name__)

# ---------------------------------------------------------------------------------------------
# Records


@dataclass(frozen=True)
class TimeRecord:
    wall_s: float


@dataclass(frozen=True)
class GpuMemoryRecord:
    peak_gpu_mem_nvml_mib: float | None  # device used memory, peak minus baseline
    peak_gpu_mem_process_mib: float | None  # this process's own usage, CUDA context included
    gpu_mem_method: str | None  # "process", "device-minus-baseline", or None without NVML
    peak_torch_allocated_mib: float | None  # torch.cuda.max_memory_allocated in the window
    peak_torch_reserved_mib: float | None  # torch.cuda.max_memory_reserved in the window


@dataclass(frozen=True)
class HostMemoryRecord:
    peak_rss_mib: float  # this process plus its children (e.g. DataLoader workers)


@dataclass(frozen=True)
class EnergyRecord:
    energy_j: float | None  # GPU board energy; None on CPU (RAPL is not read in this version)
    energy_method: str | None  # "nvml-energy-counter", "power-x-time", or None


@dataclass(frozen=True)
class LatencyRecord:
    p50_ms: float
    p90_ms: float


@dataclass(frozen=True)
class CostRecord:
    """What `CostTracker` measured: the wall time, and each part tracker's columns by the names of
    bench.results.COST_COLUMNS (empty with the trackers off)."""

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


# Trackers open on each CUDA device, outermost first. reset_peak_memory_stats is global per
# device, so an inner tracker hands the peak so far to the outer ones before it resets.
_torch_peak_lock = threading.Lock()
_torch_peak_stack: list[GpuMemoryTracker] = []


class GpuMemoryTracker(PolledTracker):
    """Peak GPU memory in the body, from NVML (device and process) and torch's allocator."""

    def __init__(
        self,
        device: torch.device,
        nvml: Nvml | None,
        interval_s: float = 0.005,
        baseline_bytes: int | None = None,
    ) -> None:
        super().__init__()
        self.device = device
        self.nvml = nvml
        self.interval_s = interval_s
        self.baseline_bytes = baseline_bytes  # given: the run-level one read before the model
        self.record: GpuMemoryRecord | None = None
        self._baseline = 0
        self._peak_used: int | None = None
        self._peak_process: int | None = None
        self._torch_carry = (0, 0)  # (allocated, reserved) peaks from before an inner reset
        self._nvml_ok = False
        self._failed = False  # a query that worked at the start raised later: the peak is unknown

    def _sample(self) -> None:
        assert self.nvml is not None
        used = self.nvml.used_bytes()
        self._peak_used = used if self._peak_used is None else max(self._peak_used, used)
        proc = self.nvml.process_used_bytes(os.getpid())
        if proc is not None:
            self._peak_process = max(self._peak_process or 0, proc)

    def _fail(self, err: Exception) -> None:
        self._failed = True
        warn_once(f"GPU memory tracking failed ({one_line(err)}); gpu_mem_method says 'failed'")

    def begin(self, poller: Poller) -> None:
        self._peak_used = self._peak_process = None
        self._nvml_ok = self.nvml is not None
        self._failed = False
        if self.nvml is not None:
            try:
                self._baseline = (
                    self.baseline_bytes if self.baseline_bytes is not None else self.nvml.used_bytes()
                )
                poller.add(self._sample, self.interval_s, on_error=self._fail)
            except self.nvml.error as err:  # a tracker must not end the run it measures
                debug_once(log, f"NVML memory query failed ({err}); no NVML memory figures")
                self._nvml_ok = False
        if self.device.type == "cuda":
            with _torch_peak_lock:
                peaks = (
                    torch.cuda.max_memory_allocated(self.device),
                    torch.cuda.max_memory_reserved(self.device),
                )
                for outer in _torch_peak_stack:
                    if outer.device == self.device:
                        outer._torch_carry = (
                            max(outer._torch_carry[0], peaks[0]),
                            max(outer._torch_carry[1], peaks[1]),
                        )
                torch.cuda.reset_peak_memory_stats(self.device)
                self._torch_carry = (0, 0)
                _torch_peak_stack.append(self)

    def end(self) -> None:
        nvml_mib = process_mib = allocated_mib = reserved_mib = None
        method = None
        if self._failed:
            method = "failed"
        elif self.nvml is not None and self._nvml_ok:
            with contextlib.suppress(self.nvml.error):
                self._sample()  # a body shorter than one interval still gets a reading
            if self._peak_used is not None:
                # other processes may free memory meanwhile; a negative peak means nothing
                nvml_mib = max(0, self._peak_used - self._baseline) / MIB
            if self._peak_process is not None:
                process_mib = self._peak_process / MIB
            if process_mib is not None:
                method = "process"
            elif nvml_mib is not None:
                method = "device-minus-baseline"
        if self.device.type == "cuda":
            with _torch_peak_lock:
                allocated = max(self._torch_carry[0], torch.cuda.max_memory_allocated(self.device))
                reserved = max(self._torch_carry[1], torch.cuda.max_memory_reserved(self.device))
                if self in _torch_peak_stack:
                    _torch_peak_stack.remove(self)
            allocated_mib, reserved_mib = allocated / MIB, reserved / MIB
        self.record = GpuMemoryRecord(nvml_mib, process_mib, method, allocated_mib, reserved_mib)


class HostMemoryTracker(PolledTracker):
    """Peak resident memory of this process and its children during the body."""

    def __init__(self, interval_s: float = 0.05) -> None:
        super().__init__()
        self.interval_s = interval_s
        self.record: HostMemoryRecord | None = None
        self._peak = 0
        self._rss = TreeRss()

    def _sample(self) -> None:
        self._peak = max(self._peak, self._rss())

    def begin(self, poller: Poller) -> None:
        self._peak = 0
        self._sample()  # the RSS at the start counts towards the peak
        poller.add(self._sample, self.interval_s, on_error=self._fail)

    def _fail(self, err: Exception) -> None:
        warn_once(f"host memory tracking stopped ({one_line(err)}); peak_rss_mib counts what came before")

    def end(self) -> None:
        self._sample()
        self.record = HostMemoryRecord(peak_rss_mib=self._peak / MIB)


def _trapezoid_j(samples: list[tuple[float, int]]) -> float:
    """Energy in joules from (perf_counter seconds, milliwatts) samples."""
    return sum((t1 - t0) * (p0 + p1) / 2 / 1000 for (t0, p0), (t1, p1) in itertools.pairwise(samples))


class EnergyTracker(PolledTracker):
    """GPU energy used during the body. CPU energy (RAPL) is not read in this version."""

    def __init__(self, nvml: Nvml | None, interval_s: float = 0.02) -> None:
        super().__init__()
        self.nvml = nvml
        self.interval_s = interval_s
        self.record: EnergyRecord | None = None
        self._start_mj: int | None = None
        self._power: list[tuple[float, int]] = []
        self._power_lock = threading.Lock()
        self._failed = False  # a query that worked at the start raised later: the energy is unknown

    def _sample_power(self) -> None:
        assert self.nvml is not None
        sample = (time.perf_counter(), self.nvml.power_mw())
        with self._power_lock:
            self._power.append(sample)

    def _fail(self, err: Exception) -> None:
        self._failed = True
        warn_once(f"GPU energy tracking failed ({one_line(err)}); energy_method says 'failed'")

    def begin(self, poller: Poller) -> None:
        self._start_mj, self._power, self._failed = None, [], False
        if self.nvml is None:
            return
        try:
            self._start_mj = self.nvml.energy_mj()
        except self.nvml.error as err:  # before Volta, or not exposed (some vGPUs)
            debug_once(log, f"NVML energy counter unsupported ({err}); integrating power instead")
            try:
                self._sample_power()
            except self.nvml.error as power_err:  # unsupported, not failed: no energy figures
                debug_once(log, f"NVML power reading unsupported too ({power_err}); no energy figures")
                return
            poller.add(self._sample_power, self.interval_s, on_error=self._fail)

    def end(self) -> None:
        energy_j = method = None
        if self._failed:
            method = "failed"
        elif self.nvml is not None and self._start_mj is not None:
            try:
                energy_j = (self.nvml.energy_mj() - self._start_mj) / 1000
                method = "nvml-energy-counter"
            except self.nvml.error as err:  # it answered at the start
                self._fail(err)
                method = "failed"
        elif self.nvml is not None:
            with contextlib.suppress(self.nvml.error):
                self._sample_power()
            if len(self._power) >= 2:
                energy_j, method = _trapezoid_j(self._power), "power-x-time"
        self.record = EnergyRecord(energy_j=energy_j, energy_method=method)


class CostTracker:
    """Time, GPU memory, host memory and energy of the body, sampled on one shared thread.

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
        self.gpu = GpuMemoryTracker(device, nvml, baseline_bytes=baseline_bytes)
        self.host = HostMemoryTracker()
        self.energy = EnergyTracker(nvml)
        self.record: CostRecord | None = None
        self._poller: Poller | None = None
        self._parts: list[PolledTracker] = [self.gpu, self.host, self.energy]

    def __enter__(self) -> CostTracker:
        if not self.enabled:
            self.timer.__enter__()
            return self
        self._poller = start_poller(self._parts)
        try:
            self.timer.__enter__()  # last, so setup is not timed
        except BaseException:
            poller, self._poller = self._poller, None
            stop_poller(poller, self._parts)
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
                stop_poller(poller, self._parts)
        assert self.timer.record is not None
        wall_s = self.timer.record.wall_s
        if not self.enabled:
            self.record = CostRecord(wall_s, {})
            return
        columns: dict[str, object] = {}
        for part in self._parts:
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
    one: Callable[[int], object], batch: Callable[[], object], device: torch.device
) -> dict[str, float | int]:
    """The latency columns of a results row: `one(i)` runs the i-th of LATENCY_REVIEWS single reviews
    (they are taken in turn), `batch()` one batch; each is warmed up once, timed once to size the
    repeats, then timed `latency_repeats` times."""
    found: dict[str, float | int] = {}
    for suffix, call in (("bs1", lambda i: one(i % LATENCY_REVIEWS)), ("batch", lambda i: batch())):
        step = partial(_call_next, call, itertools.count())
        once = measure_latency(step, device, warmup=1, repeats=1).p50_ms
        repeats = latency_repeats(once)
        record = measure_latency(step, device, warmup=0, repeats=repeats)
        found[f"latency_ms_p50_{suffix}"] = record.p50_ms
        found[f"latency_ms_p90_{suffix}"] = record.p90_ms
        found[f"latency_repeats_{suffix}"] = repeats
    return found
