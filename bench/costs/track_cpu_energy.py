"""CPU energy of the body: the RAPL counters that Linux exposes under /sys/class/powercap.

Each top-level zone `intel-rapl:N` (the name AMD's kernels use too) is a CPU package whose
`energy_uj` counts microjoules and wraps at `max_energy_range_uj`. The tracker sums the packages'
counters (never their sub-zones, which a package already counts, nor `psys`, the platform's total),
sampled often enough that no counter wraps twice between two readings. Where the counters cannot be
read (no powercap folder, a virtual machine, `energy_uj` readable by root only, as on Linux since
5.10), the column is empty and the method column says why: never an estimate presented as a
measurement.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bench.costs.columns import CostColumn, tracked_cost
from bench.costs.polling import PolledTracker, Poller
from bench.errors import one_line
from bench.notices import warn_once

if TYPE_CHECKING:
    import torch

    from bench.costs.nvml import Nvml

POWERCAP = Path("/sys/class/powercap")
PACKAGE_ZONE = re.compile(r"^intel-rapl:\d+$")  # intel-rapl:0, intel-rapl:1: packages, not sub-zones
RAPL = "rapl-powercap"
# A package draws well under 1 kW, and counters wrap after 2^32 uJ or more (over 4 kJ): a reading a
# second sees every wrap.
INTERVAL_S = 1.0


@dataclass(frozen=True)
class CpuEnergyRecord:
    cpu_energy_j: float | None  # CPU packages' energy over the body; None where RAPL is unreadable
    cpu_energy_method: str | None  # rapl-powercap, why there is none, or failed


@dataclass
class Zone:
    """One package's counter: where it is, where it wraps, its last reading and what it has added."""

    counter: Path
    wraps_at: int
    last: int
    total_uj: int = 0

    def read(self) -> None:
        now = int(self.counter.read_text().strip())
        # A counter that went down wrapped once (the sampling interval is far below a wrap's time).
        self.total_uj += now - self.last if now >= self.last else now + self.wraps_at - self.last
        self.last = now


def package_zones(root: Path = POWERCAP) -> tuple[list[Zone], str | None]:
    """The CPU packages' counters under `root`, read once; or none and why."""
    if not root.is_dir():
        return [], f"unavailable: no {root} (no RAPL on this machine or in this container)"
    folders = sorted(p for p in root.iterdir() if PACKAGE_ZONE.match(p.name))
    zones = []
    for folder in folders:
        name_file = folder / "name"
        try:
            if name_file.is_file() and name_file.read_text().strip() == "psys":
                continue  # the whole platform, packages included
            counter = folder / "energy_uj"
            zones.append(
                Zone(counter, int((folder / "max_energy_range_uj").read_text()), int(counter.read_text()))
            )
        except PermissionError:
            return [], f"unavailable: {folder / 'energy_uj'} is readable by root only"
        except (OSError, ValueError) as err:
            return [], f"unavailable: {folder.name} cannot be read ({one_line(err)})"
    if not zones:
        return [], f"unavailable: no RAPL package zone under {root}"
    return zones, None


@tracked_cost(
    CostColumn("cpu_energy_j", "J", "CPU energy J", "CPU packages' energy over training from RAPL (/sys/class/powercap; evaluation excluded, as for the time columns), joules; empty where RAPL is not readable, with the reason in cpu_energy_method", reduce="sum", axis="energy", device="cpu", report=True, noun="CPU energy", method="cpu_energy_method"),
    CostColumn("cpu_energy_method", "", "CPU energy method", "rapl-powercap; or 'unavailable: ...' saying why there is no figure (no powercap folder, counters readable by root only); failed when a reading failed during the run", reduce="first"),
)  # fmt: skip
class CpuEnergyTracker(PolledTracker):
    """CPU package energy used during the body, from RAPL's counters where they can be read."""

    Record = CpuEnergyRecord

    def __init__(self, root: Path = POWERCAP, interval_s: float = INTERVAL_S) -> None:
        super().__init__()
        self.root, self.interval_s = root, interval_s
        self.record: CpuEnergyRecord | None = None
        self._zones: list[Zone] = []
        self._why: str | None = None
        self._failed = False

    @classmethod
    def for_run(cls, device: torch.device, nvml: Nvml | None, baseline_bytes: int | None) -> CpuEnergyTracker:
        return cls()  # the host's CPUs, on a GPU run too

    def _sample(self) -> None:
        for zone in self._zones:
            zone.read()

    def _fail(self, err: Exception) -> None:
        self._failed = True
        warn_once(f"CPU energy tracking failed ({one_line(err)}); cpu_energy_method says 'failed'")

    def begin(self, poller: Poller) -> None:
        self._failed = False
        self._zones, self._why = package_zones(self.root)
        if self._zones:
            poller.add(self._sample, self.interval_s, on_error=self._fail)

    def end(self) -> None:
        if not self._zones:
            self.record = CpuEnergyRecord(None, self._why)
            return
        if not self._failed:
            try:
                self._sample()
            except (OSError, ValueError) as err:
                self._fail(err)
        if self._failed:
            self.record = CpuEnergyRecord(None, "failed")
            return
        self.record = CpuEnergyRecord(sum(z.total_uj for z in self._zones) / 1e6, RAPL)
