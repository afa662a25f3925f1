"""Processes by pid and start time, so that a live process is told apart from a dead one whose pid
the system has since given to another."""

from __future__ import annotations

import psutil

# Two processes reading one start time may see it differ by up to a second: psutil derives it from
# the boot time, which the kernel recomputes when the clock is adjusted. No pid comes back that fast.
START_TOLERANCE_S = 1.0


def start_time(pid: int) -> float | None:
    """When `pid` started (seconds since the epoch); None when it is gone or a zombie."""
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return None
        return process.create_time()
    except psutil.NoSuchProcess:  # ZombieProcess is one too
        return None


def is_running(pid: int, start: float) -> bool:
    """Whether the process that started at `start` with this pid still runs."""
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        return abs(process.create_time() - start) < START_TOLERANCE_S
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:  # another user's process: it exists, and may be the one
        return True
