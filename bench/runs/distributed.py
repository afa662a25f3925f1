"""Data parallelism under torchrun: the one place that reads torchrun's variables and owns the group.

`torchrun --nproc-per-node N -m bench run ...` starts N copies of `bench run`; each trains a
DistributedDataParallel replica on its shard of every batch, and only rank 0 writes and prints.
"""

from __future__ import annotations

import atexit
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0
    local_size: int = 1  # processes on this machine

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1


def world() -> World:
    """This process's place, from the variables torchrun sets (one process without them)."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return World()
    return World(
        int(os.environ["RANK"]),
        size,
        int(os.environ.get("LOCAL_RANK", "0")),
        int(os.environ.get("LOCAL_WORLD_SIZE", "1")),
    )


def is_main() -> bool:
    return world().main


def setup(device: torch.device) -> torch.device:
    """Join the process group once (nccl on CUDA, gloo on the CPU); the device this rank trains on."""
    place = world()
    if not place.distributed:
        return device
    if device.type == "cuda":
        device = torch.device("cuda", place.local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        kwargs = {"device_id": device} if device.type == "cuda" else {}
        dist.init_process_group(backend, **kwargs)  # type: ignore[arg-type]
        atexit.register(_teardown)
    return device


def _teardown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def all_sum(*values: torch.Tensor) -> list[torch.Tensor]:
    """Sums over ranks in one collective (each value a 0-d tensor); unchanged without a group."""
    if not dist.is_initialized() or dist.get_world_size() == 1:
        return list(values)
    packed = torch.stack([v.to(torch.float64) for v in values])
    dist.all_reduce(packed)
    return [p.to(v.dtype) for p, v in zip(packed, values)]


def gather_rows(rows: torch.Tensor, index: torch.Tensor, total: int) -> torch.Tensor:
    """Every rank's `rows` (one per example, numbered by `index`) put together in example order."""
    if not dist.is_initialized() or dist.get_world_size() == 1:
        if len(rows) == total and bool((index == torch.arange(total, device=index.device)).all()):
            return rows  # already in order
        out = torch.empty((total, *rows.shape[1:]), dtype=rows.dtype, device=rows.device)
        out[index.to(rows.device)] = rows  # inference sorts reviews by length: put them back
        return out
    size = dist.get_world_size()
    longest = torch.tensor([len(index)], device=rows.device)
    dist.all_reduce(longest, op=dist.ReduceOp.MAX)
    width = int(longest)
    padded = torch.zeros((width, *rows.shape[1:]), dtype=rows.dtype, device=rows.device)
    padded[: len(rows)] = rows
    where = torch.full((width,), -1, dtype=torch.long, device=rows.device)
    where[: len(index)] = index
    all_rows = [torch.empty_like(padded) for _ in range(size)]
    all_where = [torch.empty_like(where) for _ in range(size)]
    dist.all_gather(all_rows, padded)
    dist.all_gather(all_where, where)
    out = torch.empty((total, *rows.shape[1:]), dtype=rows.dtype, device=rows.device)
    for part, at in zip(all_rows, all_where):
        keep = at >= 0
        out[at[keep]] = part[keep]
    return out
