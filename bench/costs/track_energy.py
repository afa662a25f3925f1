"""GPU energy of the body: NVML's energy counter, or its power integrated over time."""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bench.costs.axes import Axis, cost_axis
from bench.costs.columns import CostColumn, tracked_cost
from bench.costs.polling import PolledTracker, Poller
from bench.errors import one_line
from bench.notices import debug_once, warn_once

if TYPE_CHECKING:
    import torch

    from bench.costs.nvml import Nvml

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EnergyRecord:
    energy_j: float | None  # GPU board energy; None on CPU (the CPU's is track_cpu_energy's)
    energy_method: str | None  # "nvml-energy-counter", "power-x-time", or None


def _trapezoid_j(samples: list[tuple[float, int]]) -> float:
    """Energy in joules from (perf_counter seconds, milliwatts) samples."""
    return sum((t1 - t0) * (p0 + p1) / 2 / 1000 for (t0, p0), (t1, p1) in itertools.pairwise(samples))


cost_axis(
    Axis(
        "energy",
        "energy",
        "J",
        "energy over training where measured: GPU energy_j on a GPU, RAPL's cpu_energy_j on a CPU",
    )
)


@tracked_cost(
    CostColumn("energy_j", "J", "energy J", "GPU energy over training (evaluation excluded, as for the time columns), joules", reduce="sum", axis="energy", device="cuda", report=True, noun="energy", method="energy_method"),
    CostColumn("energy_method", "", "energy method", "nvml-energy-counter, or power-x-time where the counter is missing; failed when its sampler failed", reduce="first"),
)  # fmt: skip
class EnergyTracker(PolledTracker):
    """GPU energy used during the body (the CPU's: bench.costs.track_cpu_energy)."""

    Record = EnergyRecord

    def __init__(self, nvml: Nvml | None, interval_s: float = 0.02) -> None:
        super().__init__()
        self.nvml = nvml
        self.interval_s = interval_s
        self.record: EnergyRecord | None = None
        self._start_mj: int | None = None
        self._power: list[tuple[float, int]] = []
        self._power_lock = threading.Lock()
        self._failed = False  # a query that worked at the start raised later: the energy is unknown

    @classmethod
    def for_run(cls, device: torch.device, nvml: Nvml | None, baseline_bytes: int | None) -> EnergyTracker:
        return cls(nvml)

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
