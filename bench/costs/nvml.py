"""NVML access: open the NVML device that matches a torch CUDA device, and read it.

`open_nvml` matches torch's CUDA device to NVML's numbering (PCI bus id, then UUID, then
CUDA_VISIBLE_DEVICES, then the bare index); `Nvml` wraps the handle with the queries the
trackers make (memory, per-process memory, energy, power), and `gpu_info` gathers what the
results record about the GPU. Without pynvml or a working driver everything here is None and
logs at debug level only.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import warnings
from collections.abc import Callable
from typing import Any

import torch

from bench.costs.columns import MIB
from bench.notices import debug_once

log = logging.getLogger(__name__)


def _normalize_bus_id(bus_id: str | bytes) -> str:
    """'00000000:17:00.0' (NVML) and '0000:17:00.0' (CUDA) both become '0:17:00.0'."""
    text = bus_id.decode() if isinstance(bus_id, bytes) else bus_id
    domain, _, rest = text.strip().lower().partition(":")
    return f"{domain.lstrip('0') or '0'}:{rest}"


def _normalize_uuid(uuid: object) -> str:
    text = uuid.decode() if isinstance(uuid, bytes) else str(uuid)
    text = text.strip().lower()
    return text[4:] if text.startswith("gpu-") else text


def _as_str(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _cuda_device_ids(index: int) -> tuple[str | None, str | None]:
    """(normalized PCI bus id, normalized UUID) of torch's CUDA device `index`, where known."""
    try:
        props = torch.cuda.get_device_properties(index)
    except Exception:  # no CUDA build or driver: the caller falls back to the index
        return None, None
    bus_id: str | None = None
    bus = getattr(props, "pci_bus_id", None)  # an int in recent torch, with domain and device
    domain = getattr(props, "pci_domain_id", None)
    dev = getattr(props, "pci_device_id", None)
    if isinstance(bus, str):
        bus_id = _normalize_bus_id(bus)
    elif isinstance(bus, int) and isinstance(domain, int) and isinstance(dev, int):
        bus_id = f"{domain:x}:{bus:02x}:{dev:02x}.0"
    uuid = getattr(props, "uuid", None)
    return bus_id, (_normalize_uuid(uuid) if uuid is not None else None)


def _nvml_index(module: Any, cuda_index: int, visible_devices: str | None) -> int:
    """The NVML index of torch's CUDA device `cuda_index`.

    NVML numbers every GPU in PCI order and ignores CUDA_VISIBLE_DEVICES; CUDA numbers only the
    visible ones, fastest first by default. So match by PCI bus id, then UUID, and only then map
    the index through CUDA_VISIBLE_DEVICES.
    """
    bus_id, uuid = _cuda_device_ids(cuda_index)
    count = int(module.nvmlDeviceGetCount())
    for wanted, query, normalize in (
        (bus_id, lambda h: module.nvmlDeviceGetPciInfo(h).busId, _normalize_bus_id),
        (uuid, module.nvmlDeviceGetUUID, _normalize_uuid),
    ):
        if wanted is None:
            continue
        for i in range(count):
            with contextlib.suppress(module.NVMLError):
                if normalize(query(module.nvmlDeviceGetHandleByIndex(i))) == wanted:
                    return i
    entries = [e.strip() for e in (visible_devices or "").split(",") if e.strip()]
    if cuda_index < len(entries):
        entry = entries[cuda_index]
        if entry.isdigit():
            return int(entry)
        for i in range(count):  # CUDA_VISIBLE_DEVICES may name GPUs by (a prefix of) UUID
            with contextlib.suppress(module.NVMLError):
                handle = module.nvmlDeviceGetHandleByIndex(i)
                if _as_str(module.nvmlDeviceGetUUID(handle)).lower().startswith(entry.lower()):
                    return i
    debug_once(log, f"matched CUDA device {cuda_index} to NVML by index only")
    return cuda_index


class Nvml:
    """One NVML device handle, matched to a torch CUDA device. Close it when the run ends."""

    def __init__(self, module: Any, handle: Any, index: int) -> None:
        self.module = module  # pynvml, or a stand-in with the same functions in tests
        self.handle = handle
        self.index = index
        self.error: type[Exception] = module.NVMLError

    def used_bytes(self) -> int:
        return int(self.module.nvmlDeviceGetMemoryInfo(self.handle).used)

    def process_used_bytes(self, pid: int) -> int | None:
        """GPU memory NVML attributes to `pid`, or None when it cannot say.

        `usedGpuMemory` is None under MIG and in some containers; in a PID namespace our pid
        does not appear at all. A process in both lists has the same memory in both: take the
        larger, not the sum.
        """
        found: list[int] = []
        for query in (
            "nvmlDeviceGetComputeRunningProcesses",
            "nvmlDeviceGetGraphicsRunningProcesses",
        ):
            with contextlib.suppress(self.error):
                for proc in getattr(self.module, query)(self.handle):
                    if proc.pid == pid and proc.usedGpuMemory is not None:
                        found.append(int(proc.usedGpuMemory))
        return max(found) if found else None

    def energy_mj(self) -> int:
        """Total energy since the driver loaded, in millijoules (Volta and newer)."""
        return int(self.module.nvmlDeviceGetTotalEnergyConsumption(self.handle))

    def power_mw(self) -> int:
        return int(self.module.nvmlDeviceGetPowerUsage(self.handle))

    def name(self) -> str:
        return _as_str(self.module.nvmlDeviceGetName(self.handle))

    def close(self) -> None:
        with contextlib.suppress(self.error):
            self.module.nvmlShutdown()


def open_nvml(device: torch.device, module: Any = None) -> Nvml | None:
    """NVML for `device`, or None on CPU, without pynvml, or without a working driver."""
    if device.type != "cuda":
        return None
    if module is None:
        try:
            with warnings.catch_warnings():
                # the old `pynvml` wheel warns that it is deprecated in favour of nvidia-ml-py
                warnings.simplefilter("ignore")
                import pynvml as module  # type: ignore[no-redef]
        except ImportError:
            debug_once(log, "pynvml is not installed: no GPU memory or energy readings")
            return None
    try:
        module.nvmlInit()
    except (module.NVMLError, OSError) as err:
        debug_once(log, f"NVML unavailable ({err}): no GPU memory or energy readings")
        return None
    cuda_index = device.index
    if cuda_index is None:
        cuda_index = torch.cuda.current_device() if torch.cuda.is_available() else 0
    # read here, at the boundary: it is how the process was launched, not a setting of ours
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    try:
        index = _nvml_index(module, cuda_index, visible)
        handle = module.nvmlDeviceGetHandleByIndex(index)
    except module.NVMLError as err:
        debug_once(log, f"no NVML handle for CUDA device {cuda_index} ({err})")
        with contextlib.suppress(module.NVMLError):
            module.nvmlShutdown()
        return None
    return Nvml(module, handle, index)


def nvml_baseline_bytes(nvml: Nvml | None) -> int | None:
    """The device's used memory now; read it before the model is created.

    The previous run's tensors may still wait for the garbage collector, and torch's caching
    allocator keeps freed blocks on the device: both are freed first, or they count against no
    run's peak but make this run's look smaller.
    """
    if nvml is None:
        return None
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    try:
        return nvml.used_bytes()
    except nvml.error:
        return None


def gpu_info(nvml: Nvml | None) -> dict[str, object]:
    """What NVML says about the GPU; a query the GPU does not support leaves its key out."""
    if nvml is None:
        return {}
    m, h = nvml.module, nvml.handle
    queries: dict[str, Callable[[], object]] = {
        "gpu_name": nvml.name,
        "gpu_total_mem_mib": lambda: m.nvmlDeviceGetMemoryInfo(h).total / MIB,
        "driver_version": lambda: _as_str(m.nvmlSystemGetDriverVersion()),
        "sm_clock_mhz": lambda: m.nvmlDeviceGetClockInfo(h, m.NVML_CLOCK_SM),
        "sm_clock_max_mhz": lambda: m.nvmlDeviceGetMaxClockInfo(h, m.NVML_CLOCK_SM),
        "mem_clock_mhz": lambda: m.nvmlDeviceGetClockInfo(h, m.NVML_CLOCK_MEM),
        "mem_clock_max_mhz": lambda: m.nvmlDeviceGetMaxClockInfo(h, m.NVML_CLOCK_MEM),
        "power_limit_w": lambda: m.nvmlDeviceGetEnforcedPowerLimit(h) / 1000,
    }
    info: dict[str, object] = {}
    for key, query in queries.items():
        try:
            info[key] = query()
        except nvml.error as err:
            log.debug("NVML query %s not supported: %s", key, err)
    return info
