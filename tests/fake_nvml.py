"""A stand-in for the `pynvml` module, driven by a script, for testing trackers without a GPU.

Pass an instance wherever a module is expected (`open_nvml(device, module=fake)`): it has the
pynvml functions the trackers call. Each memory query returns the next value of the scripted
curve and then repeats the last one, so a test can wait until the poller has seen the whole
curve (`wait_until_exhausted`) and know the peak exactly.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

MIB = 1024 * 1024
FOREIGN_PID = 999_999_999  # larger than any pid_max, so never ours


class NVMLError(Exception):
    """What pynvml raises for an unsupported query or a missing driver."""


@dataclass
class _Memory:
    total: int
    used: int
    free: int


@dataclass
class _Process:
    pid: int
    usedGpuMemory: int | None


@dataclass
class _PciInfo:
    busId: bytes


class FakeNvml:
    """Scripted NVML for one or more GPUs; all of them report the same memory curve.

    Method and field names are pynvml's, camelCase included.

    processes: "own" lists this process (using the device's used memory minus
    `other_process_mib`) next to a foreign one; "mig" lists this process with
    `usedGpuMemory=None`; "foreign" lists only another pid, as inside a PID namespace.
    unsupported: names of functions that raise NVMLError.
    fail_after: name -> how many calls of that function answer before it raises NVMLError, as a
    driver that is lost mid-run (e.g. GPU fell off the bus).
    """

    NVMLError = NVMLError
    NVML_CLOCK_GRAPHICS = 0
    NVML_CLOCK_SM = 1
    NVML_CLOCK_MEM = 2

    def __init__(
        self,
        used_mib: Sequence[float] = (1000.0,),
        processes: str = "own",
        other_process_mib: float = 300.0,
        energy_mj: Sequence[int] = (5_000_000, 5_012_345),
        power_mw: int = 100_000,
        devices: Sequence[tuple[str, str]] = (("00000000:17:00.0", "GPU-aaaa-0001"),),
        unsupported: Iterable[str] = (),
        init_fails: bool = False,
        total_mib: float = 81_559.0,
        fail_after: dict[str, int] | None = None,
    ) -> None:
        self.used_mib = list(used_mib)
        self.processes = processes
        self.other_process_mib = other_process_mib
        self.energy_script = list(energy_mj)
        self.power = power_mw
        self.devices = list(devices)
        self.unsupported = set(unsupported)
        self.fail_after = dict(fail_after or {})
        self.init_fails = init_fails
        self.total = int(total_mib * MIB)
        self.calls: dict[str, int] = {}
        self.initialized = 0
        self._memory_reads = 0
        self._energy_reads = 0
        self._current_used = int(self.used_mib[0] * MIB)
        self._lock = threading.Lock()
        self._exhausted = threading.Event()

    def _call(self, name: str) -> None:
        with self._lock:
            self.calls[name] = self.calls.get(name, 0) + 1
            lost = self.calls[name] > self.fail_after.get(name, self.calls[name])
        if name in self.unsupported:
            raise NVMLError(f"{name}: Not Supported")
        if lost:
            raise NVMLError("GPU is lost")

    def wait_until_exhausted(self, timeout: float = 5.0) -> bool:
        """Block until every value of the memory curve has been read once."""
        return self._exhausted.wait(timeout)

    # -- lifecycle and device lookup -------------------------------------------------------
    def nvmlInit(self) -> None:
        self._call("nvmlInit")
        if self.init_fails:
            raise NVMLError("NVML Shared Library Not Found")
        self.initialized += 1

    def nvmlShutdown(self) -> None:
        self._call("nvmlShutdown")
        self.initialized -= 1

    def nvmlDeviceGetCount(self) -> int:
        self._call("nvmlDeviceGetCount")
        return len(self.devices)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        self._call("nvmlDeviceGetHandleByIndex")
        if not 0 <= index < len(self.devices):
            raise NVMLError("Invalid Argument")
        return index

    def nvmlDeviceGetPciInfo(self, handle: int) -> _PciInfo:
        self._call("nvmlDeviceGetPciInfo")
        return _PciInfo(busId=self.devices[handle][0].encode())

    def nvmlDeviceGetUUID(self, handle: int) -> str:
        self._call("nvmlDeviceGetUUID")
        return self.devices[handle][1]

    # -- memory ----------------------------------------------------------------------------
    def nvmlDeviceGetMemoryInfo(self, handle: int) -> _Memory:
        self._call("nvmlDeviceGetMemoryInfo")
        with self._lock:
            step = min(self._memory_reads, len(self.used_mib) - 1)
            self._memory_reads += 1
            if self._memory_reads >= len(self.used_mib):
                self._exhausted.set()
            used = int(self.used_mib[step] * MIB)
            self._current_used = used
        return _Memory(total=self.total, used=used, free=self.total - used)

    def nvmlDeviceGetComputeRunningProcesses(self, handle: int) -> list[_Process]:
        self._call("nvmlDeviceGetComputeRunningProcesses")
        foreign = _Process(FOREIGN_PID, int(self.other_process_mib * MIB))
        if self.processes == "own":
            own = self._current_used - int(self.other_process_mib * MIB)
            return [foreign, _Process(os.getpid(), own)]
        if self.processes == "mig":
            return [_Process(os.getpid(), None)]
        return [foreign]

    def nvmlDeviceGetGraphicsRunningProcesses(self, handle: int) -> list[_Process]:
        self._call("nvmlDeviceGetGraphicsRunningProcesses")
        return []

    # -- energy and power ------------------------------------------------------------------
    def nvmlDeviceGetTotalEnergyConsumption(self, handle: int) -> int:
        self._call("nvmlDeviceGetTotalEnergyConsumption")
        with self._lock:
            step = min(self._energy_reads, len(self.energy_script) - 1)
            self._energy_reads += 1
        return self.energy_script[step]

    def nvmlDeviceGetPowerUsage(self, handle: int) -> int:
        self._call("nvmlDeviceGetPowerUsage")
        return self.power

    # -- static information ----------------------------------------------------------------
    def nvmlDeviceGetName(self, handle: int) -> bytes:
        self._call("nvmlDeviceGetName")
        return b"NVIDIA H100 80GB HBM3"  # older pynvml returns bytes

    def nvmlSystemGetDriverVersion(self) -> str:
        self._call("nvmlSystemGetDriverVersion")
        return "550.54.15"

    def nvmlDeviceGetClockInfo(self, handle: int, clock: int) -> int:
        self._call("nvmlDeviceGetClockInfo")
        return {self.NVML_CLOCK_SM: 1755, self.NVML_CLOCK_MEM: 2619}[clock]

    def nvmlDeviceGetMaxClockInfo(self, handle: int, clock: int) -> int:
        self._call("nvmlDeviceGetMaxClockInfo")
        return {self.NVML_CLOCK_SM: 1980, self.NVML_CLOCK_MEM: 2619}[clock]

    def nvmlDeviceGetEnforcedPowerLimit(self, handle: int) -> int:
        self._call("nvmlDeviceGetEnforcedPowerLimit")
        return 700_000
