"""How tokenized reviews become padded batches: the epoch's plan (shuffled, optionally bucketed by
length, sharded across ranks; for inference, sorted by length), collation with attention masks, and
the DataLoader."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from bench.runs.distributed import World

BUCKET_POOL = 50  # batches' worth of reviews sorted by length together when bucketing


@dataclass
class Tokenized:
    """A tokenized split: token ids per example (unpadded) and labels."""

    ids: list[list[int]]
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    def lengths(self) -> np.ndarray:
        return np.fromiter((len(ids) for ids in self.ids), dtype=np.int64, count=len(self.ids))


def by_length(lengths: np.ndarray) -> np.ndarray:
    """Indices of the reviews, longest first (ties in their order): inference's order, so that each
    batch pads to about its own length, and the longest batch, which needs most memory, comes first."""
    return np.argsort(-np.asarray(lengths), kind="stable")


def plan_batches(
    lengths: np.ndarray,
    batch_size: int,
    seed: int | None,
    bucket: bool = False,
    min_size: int = 1,
    sort: bool = False,
) -> list[np.ndarray]:
    """The global batches of one epoch, as index arrays: in order (seed None) or shuffled by seed.

    With `bucket`, reviews of similar length are batched together (less padding): each pool of
    BUCKET_POOL batches' worth is sorted by length, cut into batches, and the batches are shuffled.
    With `sort` (inference), every review is sorted by length, longest first, and nothing shuffled.
    A last batch smaller than `min_size` (the number of ranks) joins the one before it, so that no
    rank is ever left without examples.
    """
    n = len(lengths)
    generator = torch.Generator().manual_seed(seed) if seed is not None and not sort else None
    # torch.randperm with this generator is what DataLoader(shuffle=True) drew before bucketing
    # existed, so unbucketed runs keep their order.
    order = torch.randperm(n, generator=generator).numpy() if generator else np.arange(n)
    if sort:
        order = by_length(lengths)
    elif bucket:
        pool = batch_size * BUCKET_POOL
        order = np.concatenate(
            [c[np.argsort(lengths[c], kind="stable")] for c in np.split(order, range(pool, n, pool))]
        )
    batches = np.split(order, range(batch_size, n, batch_size))
    if len(batches) > 1 and len(batches[-1]) < min_size:
        batches[-2:] = [np.concatenate(batches[-2:])]
    if bucket and generator is not None:
        batches = [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]
    return batches


class PlannedBatches(Sampler[list[int]]):
    """This rank's share (every `size`-th review, from its rank on) of each planned global batch.

    One sampler serves every epoch: `reshuffle(seed)` draws the next epoch's plan, so a DataLoader
    with persistent workers can live across epochs.
    """

    def __init__(
        self,
        lengths: np.ndarray,
        batch_size: int,
        bucket: bool,
        place: World,
        seed: int | None = None,
        sort: bool = False,
    ) -> None:
        self.lengths, self.batch_size, self.bucket, self.place = lengths, batch_size, bucket, place
        self.sort = sort  # inference: sorted by length, longest first (see plan_batches)
        self.reshuffle(seed)

    def reshuffle(self, seed: int | None) -> None:
        self.plan = plan_batches(
            self.lengths, self.batch_size, seed, self.bucket, self.place.size, sort=self.sort
        )

    def global_sizes(self) -> list[int]:
        return [len(b) for b in self.plan]

    def __iter__(self) -> Iterator[list[int]]:
        for batch in self.plan:
            yield batch[self.place.rank :: self.place.size].tolist()

    def __len__(self) -> int:
        return len(self.plan)


class Examples(Dataset[tuple[int, list[int], int]]):
    def __init__(self, data: Tokenized) -> None:
        self.ids, self.labels = data.ids, data.labels.tolist()

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> tuple[int, list[int], int]:
        return i, self.ids[i], self.labels[i]


class Collate:
    """Pad each batch to its longest member (or to `pad_to`), with an attention mask and the
    reviews' indices. A class, not a closure, so that worker processes can receive it."""

    def __init__(self, pad_id: int, pad_to: int | None) -> None:
        self.pad_id, self.pad_to = pad_id, pad_to

    def __call__(self, items: Sequence[tuple[int, list[int], int]]) -> dict[str, torch.Tensor]:
        lengths = np.fromiter((len(ids) for _, ids, _ in items), dtype=np.int64, count=len(items))
        width = self.pad_to or int(lengths.max())
        input_ids = np.full((len(items), width), self.pad_id, dtype=np.int64)
        for row, (_, ids, _) in enumerate(items):
            input_ids[row, : len(ids)] = ids
        mask = (np.arange(width) < lengths[:, None]).astype(np.int64)
        return {
            "input_ids": torch.from_numpy(input_ids),
            "attention_mask": torch.from_numpy(mask),
            "labels": torch.tensor([label for _, _, label in items], dtype=torch.long),
            "index": torch.tensor([i for i, _, _ in items], dtype=torch.long),
        }


def make_loader(
    data: Tokenized, sampler: PlannedBatches, pad_id: int, pad_to: int | None, device: torch.device
) -> DataLoader:
    # CPU: no worker processes, which would take cores from torch's own threads. GPU: two
    # persistent workers collate ahead into pinned memory while the device computes.
    workers = 2 if device.type == "cuda" else 0
    return DataLoader(
        Examples(data),
        batch_sampler=sampler,
        collate_fn=Collate(pad_id, pad_to),
        num_workers=workers,
        persistent_workers=workers > 0,
        pin_memory=device.type == "cuda",
    )


def loader(
    data: Tokenized,
    batch_size: int,
    pad_id: int,
    pad_to: int | None,
    shuffle_seed: int | None,
    device: torch.device,
    bucket: bool = False,
    place: World | None = None,
    sort: bool = False,
) -> DataLoader:
    """Batches of `data`, in order or shuffled by `shuffle_seed`, or with `sort` longest first (for
    inference; each batch's `index` says which reviews it holds); this rank's share under torchrun."""
    sampler = PlannedBatches(data.lengths(), batch_size, bucket, place or World(), shuffle_seed, sort)
    return make_loader(data, sampler, pad_id, pad_to, device)


def inference_loader(
    data: Tokenized,
    batch_size: int,
    pad_id: int,
    pad_to: int | None,
    device: torch.device,
    place: World | None = None,
) -> DataLoader:
    """Batches for inference, as most serving stacks make them: the reviews sorted by length, longest
    first, each batch padded to its longest (or to `pad_to`, for a model that needs it). Whoever reads
    the outputs puts them back in the data's order by the batches' `index` (bench.runs.train.evaluate
    does)."""
    return loader(data, batch_size, pad_id, pad_to, None, device, place=place, sort=True)


def to_device(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}
