"""CPU energy from RAPL's powercap counters, against a fake /sys/class/powercap in a temporary folder:
this machine, like most containers and virtual machines, has none to read."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import pytest

from bench import notices
from bench.costs.track_cpu_energy import RAPL, CpuEnergyRecord, CpuEnergyTracker, package_zones
from bench.results import run_costs

WRAP = 262_143_328_850  # a real package's max_energy_range_uj


def count(counter: Path, energy_uj: int) -> None:
    """Set a fake counter in one step, as the kernel's is read: never half-written under the poller."""
    staged = counter.with_name("energy_uj.new")
    staged.write_text(f"{energy_uj}\n")
    os.replace(staged, counter)


def zone(root: Path, name: str, kind: str, energy_uj: int, wraps_at: int = WRAP) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "name").write_text(f"{kind}\n")
    (folder / "energy_uj").write_text(f"{energy_uj}\n")
    (folder / "max_energy_range_uj").write_text(f"{wraps_at}\n")
    return folder / "energy_uj"


def test_packages_are_summed_and_nothing_else(tmp_path: Path) -> None:
    first = zone(tmp_path, "intel-rapl:0", "package-0", 1_000_000)
    second = zone(tmp_path, "intel-rapl:1", "package-1", 7_000_000)
    core = zone(tmp_path, "intel-rapl:0:0", "core", 50)  # a sub-zone: its package counts it already
    psys = zone(tmp_path, "intel-rapl:2", "psys", 10)  # the whole platform: packages included
    with CpuEnergyTracker(tmp_path, interval_s=60) as tracker:
        count(first, 3_500_000)  # 2.5 J
        count(second, 8_000_000)  # 1 J
        count(core, 999_999_999)
        count(psys, 999_999_999)
    assert tracker.record == CpuEnergyRecord(3.5, RAPL)


def test_a_counter_that_wraps_is_read_across_its_wrap(tmp_path: Path) -> None:
    counter = zone(tmp_path, "intel-rapl:0", "package-0", 9_000_000, wraps_at=10_000_000)
    (found,), why = package_zones(tmp_path)
    assert why is None and found.last == 9_000_000
    count(counter, 9_500_000)
    found.read()
    count(counter, 500_000)  # wrapped at 10 J: 0.5 J to the wrap, 0.5 J after it
    found.read()
    assert found.total_uj == 1_500_000

    # The same through the tracker, its poller reading every 10 ms between the two writes.
    count(counter, 9_000_000)
    with CpuEnergyTracker(tmp_path, interval_s=0.01) as tracker:
        count(counter, 9_500_000)
        deadline = time.monotonic() + 10
        while tracker._zones[0].last != 9_500_000 and time.monotonic() < deadline:
            time.sleep(0.01)  # until a sample has seen it, however loaded the machine
        count(counter, 500_000)
    assert tracker.record == CpuEnergyRecord(1.5, RAPL)


def test_no_powercap_folder_is_no_figure_and_says_why(tmp_path: Path) -> None:
    with CpuEnergyTracker(tmp_path / "absent") as tracker:
        pass
    assert tracker.record is not None and tracker.record.cpu_energy_j is None
    assert tracker.record.cpu_energy_method.startswith("unavailable: no ")
    with CpuEnergyTracker(tmp_path) as empty:  # a folder with no package zone
        pass
    assert empty.record == CpuEnergyRecord(None, f"unavailable: no RAPL package zone under {tmp_path}")


def test_counters_readable_by_root_only_are_no_figure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    zone(tmp_path, "intel-rapl:0", "package-0", 1_000)
    read = Path.read_text

    def denied(self: Path, *args: object, **kwargs: object) -> str:
        if self.name == "energy_uj":
            raise PermissionError(13, "Permission denied", str(self))
        return read(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "read_text", denied)  # root reads anything: the denial is simulated
    with CpuEnergyTracker(tmp_path) as tracker:
        pass
    assert tracker.record == CpuEnergyRecord(
        None, f"unavailable: {tmp_path / 'intel-rapl:0' / 'energy_uj'} is readable by root only"
    )


def test_a_counter_that_vanishes_mid_run_says_failed_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(notices, "_said", set())
    caplog.set_level(logging.WARNING, logger="bench")
    counter = zone(tmp_path, "intel-rapl:0", "package-0", 1_000)
    with CpuEnergyTracker(tmp_path, interval_s=60) as tracker:
        counter.unlink()
    assert tracker.record == CpuEnergyRecord(None, "failed")
    said = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(said) == 1 and "CPU energy tracking failed" in said[0]
    # a run with a failed epoch has no figure: a sum that misses an epoch is no run's
    epochs = [
        {"cpu_energy_j": 2.0, "cpu_energy_method": RAPL},
        {"cpu_energy_j": None, "cpu_energy_method": "failed"},
    ]
    costs = run_costs(epochs)
    assert (costs["cpu_energy_j"], costs["cpu_energy_method"]) == (None, "failed")
    assert run_costs(epochs[:1])["cpu_energy_j"] == 2.0
