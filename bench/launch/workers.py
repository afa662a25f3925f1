"""`bench run --workers N`: N worker processes on this machine, each with a device of its own.

On a machine with GPUs, worker i sees only GPU i (CUDA_VISIBLE_DEVICES); N may not exceed the GPUs.
Without GPUs, N > 1 is refused unless `--share-cpu`, since runs that share the cores slow each other
down and their timings then measure the sharing; with it, each worker is pinned to its own share of
the cores (its torch threads follow its affinity). The workers join the run queue (bench.launch.queue)
that this process filled, and each writes its own worker folder.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.errors import BenchError


@dataclass(frozen=True)
class Slot:
    """One worker's device: the GPU it sees, or (on a CPU) the cores it may use."""

    gpu: str | None
    cores: tuple[int, ...] = ()

    def env(self) -> dict[str, str]:
        return {"CUDA_VISIBLE_DEVICES": self.gpu} if self.gpu is not None else {"CUDA_VISIBLE_DEVICES": ""}


def visible_gpus() -> list[str]:
    """The GPUs this process may hand out, as CUDA_VISIBLE_DEVICES names them."""
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    named = [g for g in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if g.strip()]
    return named[:count] if "CUDA_VISIBLE_DEVICES" in os.environ else [str(i) for i in range(count)]


def available_cores() -> list[int]:
    return (
        sorted(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else list(range(os.cpu_count() or 1))
    )


def slots(
    n: int, share_cpu: bool, gpus: Sequence[str] | None = None, cores: Sequence[int] | None = None
) -> list[Slot]:
    """Each worker's device; a BenchError where the machine cannot give N workers one each."""
    if n < 1:
        raise BenchError(f"--workers must be at least 1, not {n}.")
    gpus = visible_gpus() if gpus is None else list(gpus)
    if gpus:
        if n > len(gpus):
            raise BenchError(f"--workers {n} needs a GPU each, and this machine shows {len(gpus)}.")
        return [Slot(gpus[i]) for i in range(n)]
    if n > 1 and not share_cpu:
        raise BenchError(
            f"--workers {n} on a machine without GPUs would share the CPU, and each run's timings "
            "would measure the others; add --share-cpu to run them anyway."
        )
    cores = available_cores() if cores is None else list(cores)
    if n >= len(cores):
        return [Slot(None, (cores[i % len(cores)],)) for i in range(n)]
    size = len(cores) // n  # contiguous shares; the last takes the remainder
    return [
        Slot(None, tuple(cores[i * size : (i + 1) * size if i < n - 1 else len(cores)])) for i in range(n)
    ]


def start(command: list[str], slot: Slot, cwd: Path | None = None) -> subprocess.Popen[bytes]:
    """A worker process on its slot; its stdout (the table a worker prints) is dropped, its stderr
    (errors) passes through."""
    env = {**os.environ, **slot.env()}

    def pin() -> None:
        if slot.cores and hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, slot.cores)

    return subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, preexec_fn=pin)


def worker_command(out: Path, url: str, study: str, n: int, extra: Sequence[str] = ()) -> list[str]:
    """`bench run` joining the queue as one of `n` workers on this machine."""
    return [
        sys.executable,
        "-m",
        "bench",
        "run",
        "--out",
        str(out),
        "--storage",
        url,
        "--study",
        study,
        "--join",
        "--concurrent-runs",
        str(n),
        "-q",
        *extra,
    ]


def wait_all(
    processes: list[subprocess.Popen[bytes]], progress: Callable[[], None], poll_s: float = 2.0
) -> list[int]:
    """Wait for the workers, calling `progress` now and then; on Ctrl-C or SIGTERM, stop them with
    SIGTERM (each records its run as interrupted and queues it again) and wait for them."""
    try:
        while any(p.poll() is None for p in processes):
            progress()
            time.sleep(poll_s)
    except KeyboardInterrupt:
        for p in processes:
            if p.poll() is None:
                p.terminate()
        for p in processes:
            p.wait()
        raise
    progress()
    return [int(p.returncode) for p in processes]
