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
from safetensors import safe_open
from safetensors.numpy import save_file as save_numpy
from safetensors.torch import load_file, save_file
from torch import nn

WEIGHTS, STATE = "model.safetensors", "state.pt"


@dataclass
class Checkpoint:
    epoch: int  # the last finished epoch
    trainer: dict[str, dict[str, Any]]  # state_dict() by name: optimizer, scheduler, scaler (fp16)


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

    `trainer` names the objects whose `state_dict()` a resumed run needs (see `bench.train.TrainState`);
    `selection`, the epoch the run reports so far, is saved with them, so the two always agree.
    """
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    # safetensors refuses tensors that share memory (tied weights); contiguous copies are safe.
    weights = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    save_file(weights, str(tmp / WEIGHTS))
    state = {
        "epoch": epoch,
        "trainer": {name: obj.state_dict() for name, obj in trainer.items()},
        "rng": _rng_states(),
    }
    torch.save(state, tmp / STATE)
    if selection is not None:
        _save_selection(tmp / SELECTION, selection)
    old = folder.with_name(folder.name + ".old")
    if folder.exists():
        os.replace(folder, old)
    os.replace(tmp, folder)
    shutil.rmtree(old, ignore_errors=True)


def load_checkpoint(folder: Path, model: nn.Module) -> Checkpoint | None:
    """Load weights into `model` and restore the RNG states; None when there is no checkpoint."""
    if not (folder / STATE).is_file():
        return None
    model.load_state_dict(load_file(str(folder / WEIGHTS)))
    state = torch.load(folder / STATE, weights_only=True)
    _set_rng_states(state["rng"])
    return Checkpoint(int(state["epoch"]), state["trainer"])


SELECTION = "selection.safetensors"


@dataclass
class Selection:
    """The epoch a run reports (best on validation, or the last) and its class probabilities."""

    epoch: int
    test_probs: np.ndarray
    val_probs: np.ndarray | None  # None without a validation split
    val_accuracy: float | None


def _save_selection(path: Path, selection: Selection) -> None:
    """The selected epoch's predictions, so a resumed run still reports them."""
    arrays = {"test_probs": np.ascontiguousarray(selection.test_probs, dtype=np.float32)}
    if selection.val_probs is not None:
        arrays["val_probs"] = np.ascontiguousarray(selection.val_probs, dtype=np.float32)
    metadata = {"epoch": str(selection.epoch), "val_accuracy": repr(selection.val_accuracy)}
    save_numpy(arrays, str(path), metadata=metadata)


def load_selection(folder: Path) -> Selection | None:
    path = folder / SELECTION
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
    shutil.rmtree(folder, ignore_errors=True)
    parent = folder.parent
    if parent.is_dir() and not any(parent.iterdir()):
        parent.rmdir()
