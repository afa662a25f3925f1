"""Peak GPU memory of the body: NVML's device and process figures, and torch's allocator peaks."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bench.costs.columns import MIB, CostColumn, tracked_cost
from bench.costs.polling import PolledTracker, Poller
from bench.errors import one_line
from bench.notices import debug_once, warn_once

if TYPE_CHECKING:  # torch is imported where CUDA is read: the CLI reads the columns without it
    import torch

    from bench.costs.nvml import Nvml

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GpuMemoryRecord:
    peak_gpu_mem_nvml_mib: float | None  # device used memory, peak minus baseline
    peak_gpu_mem_process_mib: float | None  # this process's own usage, CUDA context included
    gpu_mem_method: str | None  # "process", "device-minus-baseline", or None without NVML
    peak_torch_allocated_mib: float | None  # torch.cuda.max_memory_allocated in the window
    peak_torch_reserved_mib: float | None  # torch.cuda.max_memory_reserved in the window


# Trackers open on each CUDA device, outermost first. reset_peak_memory_stats is global per
# device, so an inner tracker hands the peak so far to the outer ones before it resets.
_torch_peak_lock = threading.Lock()
_torch_peak_stack: list[GpuMemoryTracker] = []


@tracked_cost(
    CostColumn("peak_gpu_mem_nvml_mib", "MiB", "GPU MiB", "NVML device memory used at peak minus the pre-run baseline, MiB: the memory axis of GPU runs", reduce="max", axis="memory", device="cuda", console=True, report=True, noun="peak GPU memory"),
    CostColumn("peak_gpu_mem_process_mib", "MiB", "GPU process MiB", "NVML memory of this process at peak, MiB, where reported", reduce="max"),
    CostColumn("gpu_mem_method", "", "GPU memory method", "which NVML figure the process memory is: process or device-minus-baseline; failed when its sampler failed", reduce="first"),
    CostColumn("peak_torch_allocated_mib", "MiB", "torch allocated MiB", "torch.cuda.max_memory_allocated, MiB", reduce="max"),
    CostColumn("peak_torch_reserved_mib", "MiB", "torch reserved MiB", "torch.cuda.max_memory_reserved, MiB", reduce="max"),
)  # fmt: skip
class GpuMemoryTracker(PolledTracker):
    """Peak GPU memory in the body, from NVML (device and process) and torch's allocator."""

    Record = GpuMemoryRecord

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

    @classmethod
    def for_run(cls, device: torch.device, nvml: Nvml | None, baseline_bytes: int | None) -> GpuMemoryTracker:
        return cls(device, nvml, baseline_bytes=baseline_bytes)

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
            import torch

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
            import torch

            with _torch_peak_lock:
                allocated = max(self._torch_carry[0], torch.cuda.max_memory_allocated(self.device))
                reserved = max(self._torch_carry[1], torch.cuda.max_memory_reserved(self.device))
                if self in _torch_peak_stack:
                    _torch_peak_stack.remove(self)
            allocated_mib, reserved_mib = allocated / MIB, reserved / MIB
        self.record = GpuMemoryRecord(nvml_mib, process_mib, method, allocated_mib, reserved_mib)
