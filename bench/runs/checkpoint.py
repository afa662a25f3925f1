"""Per-run checkpoints of the last finished epoch, so an interrupted run resumes where it stopped.

Weights go to safetensors; the optimizer's, scheduler's and (fp16) grad scaler's states and the RNG
states to a torch file that is only ever read back with `weights_only=True`. Nothing here unpickles
arbitrary objects from disk.
"""

from __future__ import annotations

import os
import random
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.numpy import save_file as save_numpy
from safetensors.torch import load_file, save_file
from torch import nn

from bench import atomic
from bench.errors import one_line
from bench.notices import warn_once

WEIGHTS, STATE = "model.safetensors", "state.pt"


SELECTION = "selection.safetensors"


@dataclass
class Selection:
    """The epoch a run reports (best on validation, or the last) and its class probabilities."""

    epoch: int
    test_probs: np.ndarray
    val_probs: np.ndarray | None  # None without a validation split
    val_accuracy: float | None


@dataclass
class Checkpoint:
    epoch: int  # the last finished epoch
    trainer: dict[str, dict[str, Any]]  # state_dict() by name: optimizer, scheduler, scaler (fp16)
    selection: Selection | None = None  # the epoch the run reported so far, with its predictions


def checkpoint_dir(out: Path, run_id: str) -> Path:
    return out / "checkpoints" / run_id


def _rng_states() -> dict[str, Any]:
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    states: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": [kind, torch.from_numpy(np.asarray(keys, dtype=np.int64)), pos, has_gauss, gauss],
        "python": [list(x) if isinstance(x, tuple) else x for x in random.getstate()],
    }
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def _set_rng_states(states: dict[str, Any]) -> None:
    torch.set_rng_state(states["torch"])
    kind, keys, pos, has_gauss, gauss = states["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    version, internal, gauss_next = states["python"]
    random.setstate((version, tuple(internal), gauss_next))
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def save_checkpoint(
    folder: Path, epoch: int, model: nn.Module, trainer: dict[str, Any], selection: Selection | None = None
) -> None:
    """Replace the folder's checkpoint with this epoch's; the swap is a rename, never half-done.

    `trainer` names the objects whose `state_dict()` a resumed run needs (see `bench.runs.train.TrainState`);
    `selection`, the epoch the run reports so far, is saved with them, so the two always agree.
    """
    tmp = _tmp(folder)
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir(parents=True)
        # safetensors refuses tensors that share memory (tied weights); contiguous copies are safe.
        weights = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
        with atomic.replacing(tmp / WEIGHTS) as path:
            save_file(weights, str(path))
        state = {
            "epoch": epoch,
            "trainer": {name: obj.state_dict() for name, obj in trainer.items()},
            "rng": _rng_states(),
        }
        with atomic.replacing(tmp / STATE) as path:
            torch.save(state, path)
        if selection is not None:
            with atomic.replacing(tmp / SELECTION) as path:
                _save_selection(path, selection)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # a full disk must not keep half a checkpoint too
        raise
    old = _old(folder)
    if folder.exists():
        os.replace(folder, old)
    os.replace(tmp, folder)
    atomic.fsync_dir(folder.parent)
    shutil.rmtree(old, ignore_errors=True)


def save_checkpoint_or_warn(
    folder: Path, epoch: int, model: nn.Module, trainer: dict[str, Any], selection: Selection | None = None
) -> bool:
    """`save_checkpoint`, except that a checkpoint that cannot be written (a full disk, a read-only
    folder) costs only the resume: a warning, once, and the run goes on. True when written."""
    try:
        save_checkpoint(folder, epoch, model, trainer, selection)
    except (OSError, RuntimeError, SafetensorError) as exc:  # torch reports a failed write as RuntimeError
        warn_once(f"checkpoint not written: {one_line(exc)}; the run goes on without resume")
        return False
    return True


def _tmp(folder: Path) -> Path:
    return folder.with_name(folder.name + ".tmp")


def _old(folder: Path) -> Path:
    return folder.with_name(folder.name + ".old")


def load_checkpoint(folder: Path, model: nn.Module) -> Checkpoint | None:
    """Load weights into `model` and restore the RNG states; None when there is no checkpoint."""
    if not (folder / STATE).is_file():
        # A crash between the two renames of save_checkpoint leaves the previous epoch's as .old.
        folder = _old(folder)
        if not (folder / STATE).is_file():
            return None
    model.load_state_dict(load_file(str(folder / WEIGHTS)))
    state = torch.load(folder / STATE, weights_only=True)
    _set_rng_states(state["rng"])
    return Checkpoint(int(state["epoch"]), state["trainer"], _load_selection(folder / SELECTION))


def _save_selection(path: Path, selection: Selection) -> None:
    """The selected epoch's predictions, so a resumed run still reports them."""
    arrays = {"test_probs": np.ascontiguousarray(selection.test_probs, dtype=np.float32)}
    if selection.val_probs is not None:
        arrays["val_probs"] = np.ascontiguousarray(selection.val_probs, dtype=np.float32)
    metadata = {"epoch": str(selection.epoch), "val_accuracy": repr(selection.val_accuracy)}
    save_numpy(arrays, str(path), metadata=metadata)


def _load_selection(path: Path) -> Selection | None:
    if not path.is_file():
        return None
    with safe_open(str(path), framework="np") as handle:
        metadata = handle.metadata()
        arrays = {k: handle.get_tensor(k) for k in handle.keys()}  # noqa: SIM118 (no __iter__)
    accuracy = metadata["val_accuracy"]
    return Selection(
        int(metadata["epoch"]),
        arrays["test_probs"],
        arrays.get("val_probs"),
        None if accuracy == "None" else float(accuracy),
    )


def remove_checkpoint(folder: Path) -> None:
    for path in (folder, _tmp(folder), _old(folder)):
        shutil.rmtree(path, ignore_errors=True)
    parent = folder.parent
    if parent.is_dir() and not any(parent.iterdir()):
        parent.rmdir()
