"""Trackers against a scripted NVML (any machine) and against the real thing (`gpu` marker)."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time
import warnings
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from bench import notices
from bench.costs import nvml as bench_nvml
from bench.costs import track_energy, track_gpu_memory, trackers
from bench.costs.columns import TRACKERS, CostColumn, tracked_cost
from bench.costs.nvml import MIB, Nvml, gpu_info, nvml_baseline_bytes, open_nvml
from bench.costs.polling import POLLER_THREAD_NAME, PolledTracker, Poller
from bench.costs.procmem import TreeRss
from bench.costs.track_energy import EnergyTracker
from bench.costs.track_gpu_memory import GpuMemoryTracker
from bench.costs.track_host_memory import HostMemoryTracker
from bench.costs.trackers import CostTracker, Timer, measure_latency
from bench.errors import BenchError
from bench.results import costs_by_name, run_costs
from tests.fake_nvml import FakeNvml

CPU = torch.device("cpu")
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def poller_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == POLLER_THREAD_NAME]


def fake_nvml(**script: object) -> tuple[FakeNvml, Nvml]:
    # Built directly rather than through open_nvml, so a real GPU on the test machine cannot
    # change which fake device is picked.
    fake = FakeNvml(**script)  # type: ignore[arg-type]
    return fake, Nvml(fake, 0, 0)


@pytest.fixture(autouse=True)
def no_leftover_threads():
    yield
    assert poller_threads() == []


# ---- GPU memory against a scripted curve ---------------------------------------------------

CURVE = (1000, 1200, 1800, 1500, 1100)  # MiB; the first read is the baseline


def test_gpu_peak_is_max_of_curve_minus_baseline_not_a_sum():
    fake, nvml = fake_nvml(used_mib=CURVE, processes="foreign")
    with GpuMemoryTracker(CPU, nvml) as tracker:
        assert fake.wait_until_exhausted()
    record = tracker.record
    assert record is not None
    assert record.peak_gpu_mem_nvml_mib == 1800 - 1000
    # our pid is not in the list (as in a container's PID namespace): device figure only
    assert record.peak_gpu_mem_process_mib is None
    assert record.gpu_mem_method == "device-minus-baseline"
    assert record.peak_torch_allocated_mib is None  # not a CUDA device
    assert record.peak_torch_reserved_mib is None


def test_gpu_process_figure_when_our_pid_is_listed():
    fake, nvml = fake_nvml(used_mib=CURVE, processes="own", other_process_mib=300)
    with GpuMemoryTracker(CPU, nvml) as tracker:
        assert fake.wait_until_exhausted()
    assert tracker.record is not None
    assert tracker.record.peak_gpu_mem_process_mib == 1800 - 300  # not the foreign pid's 300
    assert tracker.record.peak_gpu_mem_nvml_mib == 800
    assert tracker.record.gpu_mem_method == "process"


def test_gpu_mig_without_per_process_memory_falls_back():
    fake, nvml = fake_nvml(used_mib=CURVE, processes="mig")
    with GpuMemoryTracker(CPU, nvml) as tracker:
        assert fake.wait_until_exhausted()
    assert tracker.record is not None
    assert tracker.record.peak_gpu_mem_process_mib is None
    assert tracker.record.gpu_mem_method == "device-minus-baseline"
    assert tracker.record.peak_gpu_mem_nvml_mib == 800


def test_gpu_explicit_run_baseline_is_subtracted_and_not_read_again():
    fake, nvml = fake_nvml(used_mib=(1200, 1800, 1100), processes="foreign")
    with GpuMemoryTracker(CPU, nvml, baseline_bytes=900 * MIB) as tracker:
        assert fake.wait_until_exhausted()
    assert tracker.record is not None
    assert tracker.record.peak_gpu_mem_nvml_mib == 1800 - 900


def test_gpu_peak_is_never_negative():
    fake, nvml = fake_nvml(used_mib=(1000, 600), processes="foreign")
    with GpuMemoryTracker(CPU, nvml, baseline_bytes=1000 * MIB) as tracker:
        assert fake.wait_until_exhausted()
    assert tracker.record is not None
    assert tracker.record.peak_gpu_mem_nvml_mib == 0


def test_gpu_sample_on_exit_catches_a_short_body():
    # The interval is far longer than the body: baseline, the first poll, then the exit sample.
    fake, nvml = fake_nvml(used_mib=(1000, 1300, 1700), processes="foreign")
    with GpuMemoryTracker(CPU, nvml, interval_s=60.0) as tracker:
        pass
    assert tracker.record is not None
    assert tracker.record.peak_gpu_mem_nvml_mib == 700


def test_gpu_without_nvml_on_cpu_is_empty_and_starts_no_thread():
    with GpuMemoryTracker(CPU, None) as tracker:
        assert poller_threads() == []
    assert tracker.record == track_gpu_memory.GpuMemoryRecord(None, None, None, None, None)


def test_nested_trackers_keep_the_torch_peak_across_an_inner_reset(monkeypatch):
    """reset_peak_memory_stats is per device, so an inner tracker must not erase the outer peak."""
    state = {"now": 0, "peak": 0}

    def allocate(mib: int) -> None:
        state["now"] = mib * MIB
        state["peak"] = max(state["peak"], state["now"])

    def reset(device: object = None) -> None:
        state["peak"] = state["now"]

    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda device=None: state["peak"])
    monkeypatch.setattr(torch.cuda, "max_memory_reserved", lambda device=None: state["peak"])
    monkeypatch.setattr(torch.cuda, "reset_peak_memory_stats", reset)
    cuda = torch.device("cuda", 0)
    with GpuMemoryTracker(cuda, None) as outer:
        allocate(1000)
        allocate(10)
        with GpuMemoryTracker(cuda, None) as inner:
            allocate(200)
            allocate(10)
        allocate(50)
    assert inner.record is not None and outer.record is not None
    assert inner.record.peak_torch_allocated_mib == 200
    assert outer.record.peak_torch_allocated_mib == 1000
    assert outer.record.peak_torch_reserved_mib == 1000
    assert track_gpu_memory._torch_peak_stack == []


# ---- energy ----------------------------------------------------------------------------------


def test_energy_counter_difference():
    fake, nvml = fake_nvml(energy_mj=(5_000_000, 5_012_345))
    with EnergyTracker(nvml) as tracker:
        assert poller_threads() == []  # the counter is read at the edges only
    assert tracker.record == track_energy.EnergyRecord(12.345, "nvml-energy-counter")


def test_energy_falls_back_to_power_times_time():
    fake, nvml = fake_nvml(power_mw=100_000, unsupported={"nvmlDeviceGetTotalEnergyConsumption"})
    start = time.perf_counter()
    with EnergyTracker(nvml) as tracker:
        time.sleep(0.3)
    elapsed = elapsed_since(start)
    record = tracker.record
    assert record is not None
    assert record.energy_method == "power-x-time"
    assert record.energy_j is not None
    assert 100 * 0.3 * 0.95 <= record.energy_j <= 100 * elapsed * 1.05  # 100 W for the body
    assert fake.calls["nvmlDeviceGetPowerUsage"] >= 3  # polled, not just at the edges


def test_trapezoid_integration():
    samples = [(0.0, 100_000), (1.0, 200_000), (3.0, 200_000)]
    assert track_energy._trapezoid_j(samples) == pytest.approx(150 + 400)


def test_energy_without_nvml_is_empty():
    with EnergyTracker(None) as tracker:
        pass
    assert tracker.record == track_energy.EnergyRecord(None, None)


# ---- host memory, time, composition ---------------------------------------------------------


def test_host_memory_sees_a_known_allocation():
    with HostMemoryTracker() as before:
        pass
    assert before.record is not None
    with HostMemoryTracker(interval_s=0.02) as tracker:
        block = np.ones(200 * MIB // 8)  # float64, every page touched
        time.sleep(0.2)  # several polls while it is alive
        del block  # freed before exit: only polling can have seen it
    assert tracker.record is not None
    assert tracker.record.peak_rss_mib - before.record.peak_rss_mib >= 180


def test_host_memory_counts_child_processes():
    rss = TreeRss(refresh_s=0.0)
    before = rss()
    code = "import sys; b = b'x' * (150 * 2**20); print(flush=True); sys.stdin.read()"
    child = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert child.stdout is not None and child.stdout.readline() == b"\n"  # allocated
        during = rss()
    finally:
        child.communicate()
    assert during - before >= 140 * MIB


def test_host_memory_counts_the_rss_at_start():
    with HostMemoryTracker(interval_s=60.0) as tracker:
        pass
    assert tracker.record is not None
    assert tracker.record.peak_rss_mib > 10  # a Python process with torch loaded


def elapsed_since(start: float) -> float:
    return time.perf_counter() - start


def test_timer_measures_a_sleep():
    start = time.perf_counter()
    with Timer(CPU) as timer:
        time.sleep(0.1)
    outside = elapsed_since(start)
    assert timer.record is not None
    assert 0.1 <= timer.record.wall_s <= outside  # bounds that hold on a loaded machine too


def test_cost_tracker_on_cpu(capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nvml = open_nvml(CPU)
        start = time.perf_counter()
        with CostTracker(CPU, nvml) as tracker:
            time.sleep(0.2)
        outside = elapsed_since(start)
    record = tracker.record
    assert record is not None
    assert 0.2 <= record.wall_s <= outside
    assert record.columns["peak_rss_mib"] is not None and record.columns["peak_rss_mib"] > 0
    # RAPL where this machine lets it be read, else no figure and the reason
    cpu_j, cpu_method = record.columns["cpu_energy_j"], record.columns["cpu_energy_method"]
    measured = cpu_method == "rapl-powercap" and cpu_j >= 0
    assert measured or (cpu_j is None and cpu_method.startswith("unavailable"))
    host = ("peak_rss_mib", "cpu_energy_j", "cpu_energy_method")
    assert {k: v for k, v in record.columns.items() if k not in host} == dict.fromkeys(
        [
            "peak_gpu_mem_nvml_mib",
            "peak_gpu_mem_process_mib",
            "gpu_mem_method",
            "peak_torch_allocated_mib",
            "peak_torch_reserved_mib",
            "energy_j",
            "energy_method",
        ]
    )
    # every column a tracker reports is a row of the cost table, so the runner and report know it
    assert set(record.columns) <= set(costs_by_name())
    assert capsys.readouterr() == ("", "")


def test_cost_tracker_with_nvml_shares_one_thread():
    fake, nvml = fake_nvml(
        used_mib=CURVE,
        processes="own",
        unsupported={"nvmlDeviceGetTotalEnergyConsumption"},  # so power is polled too
    )
    with CostTracker(CPU, nvml, baseline_bytes=1000 * MIB) as tracker:
        assert len(poller_threads()) == 1  # GPU memory, power and RSS on one thread
        assert fake.wait_until_exhausted()
        time.sleep(0.05)
    record = tracker.record
    assert record is not None
    # the explicit baseline means the first curve value is a sample, not the baseline
    assert record.columns["peak_gpu_mem_nvml_mib"] == 800
    assert record.columns["peak_gpu_mem_process_mib"] == 1500
    assert record.columns["gpu_mem_method"] == "process"
    assert record.columns["energy_method"] == "power-x-time"
    assert record.columns["energy_j"] is not None and record.columns["energy_j"] > 0
    assert record.columns["peak_rss_mib"] is not None and record.columns["peak_rss_mib"] > 0


def test_cost_tracker_off_only_times():
    fake, nvml = fake_nvml()
    start = time.perf_counter()
    with CostTracker(CPU, nvml, enabled=False) as tracker:
        assert poller_threads() == []
        time.sleep(0.05)
    outside = elapsed_since(start)
    record = tracker.record
    assert record is not None
    assert 0.05 <= record.wall_s <= outside
    assert record.columns == {}
    assert fake.calls == {}  # NVML untouched


def test_cost_trackers_nest():
    _, nvml = fake_nvml(used_mib=(1000, 1500), processes="foreign")
    with CostTracker(CPU, nvml) as run:
        for _ in range(2):
            with CostTracker(CPU, nvml) as epoch:
                time.sleep(0.02)
            assert epoch.record is not None
        assert len(poller_threads()) == 1
    assert run.record is not None and epoch.record is not None
    assert run.record.wall_s >= 0.04
    assert run.record.columns["peak_rss_mib"] is not None and epoch.record.columns["peak_rss_mib"] is not None
    assert run.record.columns["peak_rss_mib"] >= epoch.record.columns["peak_rss_mib"] * 0.99


@pytest.mark.parametrize(
    "make",
    [
        lambda nvml: GpuMemoryTracker(CPU, nvml),
        lambda nvml: HostMemoryTracker(),
        lambda nvml: EnergyTracker(nvml),
        lambda nvml: CostTracker(CPU, nvml),
    ],
    ids=["gpu-memory", "host-memory", "energy", "cost"],
)
def test_threads_stop_when_the_body_raises(make):
    _, nvml = fake_nvml(unsupported={"nvmlDeviceGetTotalEnergyConsumption"})
    tracker = make(nvml)
    with pytest.raises(RuntimeError, match="boom"), tracker:
        assert len(poller_threads()) == 1
        raise RuntimeError("boom")
    assert poller_threads() == []
    assert tracker.record is not None  # the partial window is still recorded


def test_a_failing_nvml_query_does_not_kill_the_poller():
    fake, nvml = fake_nvml(
        used_mib=(1000, 1400),
        processes="own",
        unsupported={"nvmlDeviceGetGraphicsRunningProcesses"},
    )
    with GpuMemoryTracker(CPU, nvml) as tracker:
        assert fake.wait_until_exhausted()
    assert tracker.record is not None
    assert tracker.record.gpu_mem_method == "process"


def test_gpu_memory_query_failing_at_enter_leaves_nvml_columns_empty():
    _, nvml = fake_nvml(unsupported={"nvmlDeviceGetMemoryInfo"})
    with GpuMemoryTracker(CPU, nvml) as tracker:
        pass
    assert tracker.record == track_gpu_memory.GpuMemoryRecord(None, None, None, None, None)


@pytest.fixture
def warnings_said(monkeypatch, caplog):
    """The warnings bench logs in the test, each said once (the record of what was said is fresh)."""
    monkeypatch.setattr(notices, "_said", set())
    caplog.set_level(logging.WARNING, logger="bench")
    return lambda: [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def test_gpu_memory_query_failing_mid_run_says_failed_once(warnings_said):
    fake, nvml = fake_nvml(used_mib=CURVE, fail_after={"nvmlDeviceGetMemoryInfo": 3})
    for _ in range(2):  # two epochs with the run's baseline, as the runner has them: one warning
        with GpuMemoryTracker(CPU, nvml, interval_s=0.001, baseline_bytes=1000 * MIB) as tracker:
            time.sleep(0.05)
        assert tracker.record is not None
        assert tracker.record.gpu_mem_method == "failed"
        assert tracker.record.peak_gpu_mem_nvml_mib is None  # a peak of part of the body is no peak
        assert tracker.record.peak_gpu_mem_process_mib is None
    assert warnings_said() == [
        "GPU memory tracking failed (NVMLError: GPU is lost); gpu_mem_method says 'failed'"
    ]


def test_power_query_failing_mid_run_says_failed(warnings_said):
    unsupported = {"nvmlDeviceGetTotalEnergyConsumption"}
    _, nvml = fake_nvml(unsupported=unsupported, fail_after={"nvmlDeviceGetPowerUsage": 3})
    with CostTracker(CPU, nvml) as tracker:
        time.sleep(0.2)
    assert tracker.record is not None
    columns = tracker.record.columns
    assert (columns["energy_j"], columns["energy_method"]) == (None, "failed")
    assert columns["gpu_mem_method"] == "process"  # the other sampler on the thread goes on
    assert warnings_said() == [
        "GPU energy tracking failed (NVMLError: GPU is lost); energy_method says 'failed'"
    ]


def test_energy_counter_failing_at_the_end_says_failed(warnings_said):
    _, nvml = fake_nvml(fail_after={"nvmlDeviceGetTotalEnergyConsumption": 1})
    with EnergyTracker(nvml) as tracker:
        pass
    assert tracker.record == track_energy.EnergyRecord(None, "failed")
    assert len(warnings_said()) == 1


def test_unsupported_power_and_counter_stay_empty_and_quiet(warnings_said):
    unsupported = {"nvmlDeviceGetTotalEnergyConsumption", "nvmlDeviceGetPowerUsage"}
    _, nvml = fake_nvml(unsupported=unsupported)
    with EnergyTracker(nvml) as tracker:
        assert poller_threads() == []
    assert tracker.record == track_energy.EnergyRecord(None, None)
    assert warnings_said() == []


def test_a_run_whose_tracking_failed_in_one_epoch_says_failed():
    epochs = [
        {"gpu_mem_method": "process", "energy_method": "nvml-energy-counter", "energy_j": 10.0},
        {"gpu_mem_method": "failed", "energy_method": "failed", "energy_j": None},
    ]
    costs = run_costs(epochs)
    assert (costs["gpu_mem_method"], costs["energy_method"], costs["energy_j"]) == ("failed", "failed", None)
    assert run_costs(epochs[:1])["energy_j"] == 10.0


def test_a_failing_sampler_without_a_handler_warns_once(warnings_said):
    def broken() -> None:
        raise RuntimeError("sensor gone")

    poller = Poller()
    poller.add(broken, 0.001)
    poller.start()
    time.sleep(0.02)
    poller.stop()
    assert warnings_said() == [
        "tracker sampler test_a_failing_sampler_without_a_handler_warns_once.<locals>.broken failed "
        "and stopped: RuntimeError: sensor gone"
    ]


def test_the_run_baseline_is_read_after_freeing_cached_memory(monkeypatch):
    events: list[str] = []
    fake, nvml = fake_nvml(used_mib=(700,))
    read = fake.nvmlDeviceGetMemoryInfo
    monkeypatch.setattr(fake, "nvmlDeviceGetMemoryInfo", lambda h: events.append("read") or read(h))
    monkeypatch.setattr(bench_nvml.gc, "collect", lambda *a: events.append("gc.collect") or 0)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: events.append("empty_cache"))
    assert nvml_baseline_bytes(nvml) == 700 * MIB
    assert events == ["gc.collect", "empty_cache", "read"]
    assert nvml_baseline_bytes(None) is None and len(events) == 3  # no NVML: nothing to clean for


# ---- the tracker contract (a plugin tracker: tests/test_plugins.py) ------------------------
def test_a_tracker_whose_record_is_not_its_columns_is_refused():
    @dataclass(frozen=True)
    class Record:
        seconds: float

    class Mismatched(PolledTracker):
        pass

    Mismatched.Record = Record  # type: ignore[attr-defined]
    Mismatched.for_run = classmethod(lambda cls, *args: cls())  # type: ignore[attr-defined]
    with pytest.raises(TypeError, match="must be its columns"):
        tracked_cost(CostColumn("cpu_time_s", "s", "CPU s", "process CPU time", reduce="sum"))(Mismatched)
    with pytest.raises(TypeError, match="needs a dataclass `Record`"):
        tracked_cost(CostColumn("x", "s", "x", "x", reduce="sum"))(type("Bare", (PolledTracker,), {}))
    assert "Mismatched" not in TRACKERS


def test_a_column_declared_twice_is_refused_naming_both():
    @dataclass(frozen=True)
    class RssAgain:
        peak_rss_mib: float

    class Again(PolledTracker):
        Record = RssAgain

        @classmethod
        def for_run(cls, device, nvml, baseline_bytes):
            return cls()

    with pytest.raises(
        BenchError, match="'peak_rss_mib' is declared twice: by bench.costs.track_host_memory"
    ):
        tracked_cost(CostColumn("peak_rss_mib", "MiB", "RSS", "again", reduce="max"))(Again)
    assert "Again" not in TRACKERS


# ---- opening NVML ----------------------------------------------------------------------------


def test_device_trackers_poll_the_gpu_as_the_runner_does(monkeypatch):
    """`bench run`'s tracker set-up (a scripted NVML as the GPU's): NVML opened once, the memory
    baseline read before the model exists, and each epoch's fresh tracker polls GPU memory and
    energy through them. With the trackers off, or on the CPU, there is no NVML."""
    fake = FakeNvml(used_mib=(900, 1300))
    monkeypatch.setattr(bench_nvml, "_cuda_device_ids", lambda index: (None, None))
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setattr(trackers, "open_nvml", lambda device: open_nvml(device, module=fake))
    gpu = torch.device("cuda", 0)
    on = trackers.device_trackers(gpu, True)
    assert on.nvml is not None and on.baseline_bytes == 900 * MIB and fake.initialized == 1
    epoch_one, epoch_two = on(), on()
    assert epoch_one is not epoch_two and epoch_one.enabled
    gpu_part, energy_part = epoch_one.parts["GpuMemoryTracker"], epoch_one.parts["EnergyTracker"]
    assert isinstance(gpu_part, GpuMemoryTracker) and isinstance(energy_part, EnergyTracker)
    assert gpu_part.nvml is on.nvml and energy_part.nvml is on.nvml
    assert gpu_part.baseline_bytes == 900 * MIB  # not re-read per epoch, with the model on the GPU
    on.nvml.close()

    off = trackers.device_trackers(gpu, False)
    assert off.nvml is None and not off().enabled and fake.initialized == 0
    cpu = trackers.device_trackers(CPU, True)
    assert cpu.nvml is None
    with cpu() as tracker:
        pass
    assert tracker.record is not None
    assert tracker.record.columns["gpu_mem_method"] is None and tracker.record.columns["peak_rss_mib"] > 0


def test_open_nvml_is_none_on_cpu():
    assert open_nvml(CPU, module=FakeNvml()) is None


def test_open_nvml_is_none_and_silent_when_init_fails(capsys, caplog):
    fake = FakeNvml(init_fails=True)
    with caplog.at_level(logging.DEBUG, logger="bench.costs.nvml"):
        assert open_nvml(torch.device("cuda", 0), module=fake) is None
        assert open_nvml(torch.device("cuda", 0), module=fake) is None
    assert len(caplog.records) <= 1
    assert capsys.readouterr() == ("", "")


def test_open_nvml_is_none_without_pynvml(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)  # makes `import pynvml` fail
    assert open_nvml(torch.device("cuda", 0)) is None


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-driver path")
def test_open_nvml_with_the_real_module_and_no_driver(capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert open_nvml(torch.device("cuda")) is None
    assert capsys.readouterr() == ("", "")


TWO_GPUS = (("00000000:3B:00.0", "GPU-aaaa-0001"), ("00000000:17:00.0", "GPU-bbbb-0002"))


@pytest.mark.parametrize(
    ("torch_ids", "visible", "expected"),
    [
        (("0:17:00.0", None), None, 1),  # bus id, NVML's zero-padded domain normalized
        (("0:3b:00.0", "bbbb-0002"), None, 0),  # bus id wins over UUID, case-insensitive
        ((None, "bbbb-0002"), None, 1),  # UUID without the "GPU-" prefix, as torch gives it
        ((None, None), "1,0", 1),  # index through CUDA_VISIBLE_DEVICES
        ((None, None), "GPU-bbbb", 1),  # CUDA_VISIBLE_DEVICES by UUID prefix
        ((None, None), None, 0),  # plain index, the last resort
    ],
)
def test_open_nvml_matches_the_torch_device(monkeypatch, torch_ids, visible, expected):
    monkeypatch.setattr(bench_nvml, "_cuda_device_ids", lambda index: torch_ids)
    if visible is None:
        monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    else:
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    fake = FakeNvml(devices=TWO_GPUS)
    nvml = open_nvml(torch.device("cuda", 0), module=fake)
    assert nvml is not None
    assert nvml.index == expected
    nvml.close()
    assert fake.initialized == 0


def test_bus_id_normalization():
    assert bench_nvml._normalize_bus_id(b"00000000:3B:00.0") == "0:3b:00.0"
    assert bench_nvml._normalize_bus_id("0000:3b:00.0") == "0:3b:00.0"
    assert bench_nvml._normalize_bus_id("00000001:3B:00.0") == "1:3b:00.0"


def test_gpu_info_skips_unsupported_queries():
    _, nvml = fake_nvml(unsupported={"nvmlDeviceGetMaxClockInfo"}, total_mib=81_559)
    info = gpu_info(nvml)
    assert info == {
        "gpu_name": "NVIDIA H100 80GB HBM3",
        "gpu_total_mem_mib": 81_559,
        "driver_version": "550.54.15",
        "sm_clock_mhz": 1755,
        "mem_clock_mhz": 2619,
        "power_limit_w": 700,
    }
    assert gpu_info(None) == {}


def test_nvml_baseline_bytes():
    _, nvml = fake_nvml(used_mib=(1234,))
    assert nvml_baseline_bytes(nvml) == 1234 * MIB
    assert nvml_baseline_bytes(None) is None


# ---- latency -----------------------------------------------------------------------------


def test_measure_latency_percentiles():
    calls = []

    def fn() -> None:
        calls.append(None)
        time.sleep(0.01)

    start = time.perf_counter()
    record = measure_latency(fn, CPU, warmup=2, repeats=5)
    outside_ms = elapsed_since(start) * 1000
    assert len(calls) == 7
    assert 10 <= record.p50_ms <= outside_ms / 3  # three of the five timed calls last the median or more
    assert record.p90_ms >= record.p50_ms


def test_measure_latency_rejects_no_repeats():
    with pytest.raises(BenchError):
        measure_latency(lambda: None, CPU, repeats=0)


# ---- real GPU ----------------------------------------------------------------------------


@pytest.fixture
def cuda_nvml():
    """NVML on the CUDA device; a CUDA machine without it fails, for a broken `open_nvml` would
    otherwise pass as a machine without NVML."""
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    device = torch.device("cuda")
    torch.zeros(1, device=device)  # create the CUDA context outside the measured window
    torch.cuda.synchronize(device)
    nvml = open_nvml(device)
    if nvml is None:
        pytest.fail("torch sees a CUDA device, but open_nvml gave no NVML (see its debug log)")
    yield device, nvml
    nvml.close()


@pytest.mark.gpu
@needs_cuda
def test_gpu_one_gib_allocation(cuda_nvml):
    device, nvml = cuda_nvml
    torch.cuda.empty_cache()
    with GpuMemoryTracker(device, nvml) as tracker:
        block = torch.ones(256 * MIB, dtype=torch.float32, device=device)  # 1 GiB
        torch.cuda.synchronize(device)
        time.sleep(0.2)
        del block
        torch.cuda.empty_cache()  # returned to the driver: only polling can have seen it
    record = tracker.record
    assert record is not None
    assert record.peak_gpu_mem_nvml_mib == pytest.approx(1024, rel=0.1)
    assert record.peak_torch_allocated_mib == pytest.approx(1024, rel=0.1)
    assert record.peak_torch_reserved_mib == pytest.approx(1024, rel=0.1)
    assert record.gpu_mem_method in ("process", "device-minus-baseline")
    if record.peak_gpu_mem_process_mib is not None:
        assert record.peak_gpu_mem_process_mib >= 1024 * 0.9  # also holds the CUDA context


@pytest.mark.gpu
@needs_cuda
def test_gpu_energy_rises_during_matmuls(cuda_nvml):
    device, nvml = cuda_nvml
    a = torch.randn(4096, 4096, device=device)
    torch.cuda.synchronize(device)
    with CostTracker(device, nvml) as idle:  # the same GPU doing nothing: the baseline
        time.sleep(3.0)
    with CostTracker(device, nvml) as tracker:
        deadline = time.perf_counter() + 3.0
        while time.perf_counter() < deadline:
            for _ in range(20):
                a = torch.tanh(a @ a)  # tanh keeps the values finite
            torch.cuda.synchronize(device)
    record = tracker.record
    assert record is not None
    assert record.columns["energy_method"] in ("nvml-energy-counter", "power-x-time")
    assert record.columns["energy_j"] is not None and record.columns["energy_j"] > 0
    busy_w = record.columns["energy_j"] / record.wall_s
    assert 5 < busy_w < 2000  # average watts of a busy GPU
    assert idle.record is not None and idle.record.columns["energy_method"] == record.columns["energy_method"]
    idle_w = idle.record.columns["energy_j"] / idle.record.wall_s
    assert 0 <= idle_w < busy_w / 1.2, (idle_w, busy_w)  # the matmuls drew more power than idling
    assert (
        record.columns["peak_torch_allocated_mib"] is not None
        and record.columns["peak_torch_allocated_mib"] > 0
    )
