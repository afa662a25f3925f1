"""Resident memory of this process and its descendants, from /proc or, lacking it, from rusage."""

from __future__ import annotations

import contextlib
import resource
import sys
from pathlib import Path


def _vmrss_bytes(status: Path) -> int | None:
    try:
        for line in status.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024  # the kernel reports kB
    except (OSError, ValueError, IndexError):
        return None  # the process ended, or is a zombie without VmRSS
    return None


def _child_pids(pid: str) -> list[str]:
    children: list[str] = []
    for path in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            children.extend(path.read_text().split())
    return children


def rss_bytes() -> int | None:
    """RSS of this process plus all its descendants from /proc, or None without /proc.

    Forked children (DataLoader workers) share copy-on-write pages with the parent, which the
    sum counts twice: an upper bound, which is what matters for "will it fit".
    """
    own = _vmrss_bytes(Path("/proc/self/status"))
    if own is None:
        return None
    total, seen = own, set()
    stack = _child_pids("self")
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen.add(pid)
        total += _vmrss_bytes(Path(f"/proc/{pid}/status")) or 0
        stack.extend(_child_pids(pid))
    return total


def max_rss_bytes_from_rusage() -> int:
    """Lifetime peak RSS (not just this window) where /proc is missing, e.g. macOS."""
    unit = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, kB on Linux
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return (own + children) * unit
