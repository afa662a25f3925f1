"""Peak resident host memory of the body: this process and its children."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bench.costs.columns import MIB, CostColumn, tracked_cost
from bench.costs.polling import PolledTracker, Poller
from bench.costs.procmem import TreeRss
from bench.errors import one_line
from bench.notices import warn_once

if TYPE_CHECKING:
    import torch

    from bench.costs.nvml import Nvml


@dataclass(frozen=True)
class HostMemoryRecord:
    peak_rss_mib: float  # this process plus its children (e.g. DataLoader workers)


@tracked_cost(
    CostColumn("peak_rss_mib", "MiB", "RSS MiB", "peak resident host memory of the process and its children, MiB: the memory axis of CPU runs", reduce="max", axis="memory", device="cpu", console=True, report=True, noun="peak host memory"),
)  # fmt: skip
class HostMemoryTracker(PolledTracker):
    """Peak resident memory of this process and its children during the body."""

    Record = HostMemoryRecord

    def __init__(self, interval_s: float = 0.05) -> None:
        super().__init__()
        self.interval_s = interval_s
        self.record: HostMemoryRecord | None = None
        self._peak = 0
        self._rss = TreeRss()

    @classmethod
    def for_run(
        cls, device: torch.device, nvml: Nvml | None, baseline_bytes: int | None
    ) -> HostMemoryTracker:
        return cls()  # on every device: the host's memory is the memory axis of a CPU run

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
