"""The kept weights of a run's selected epoch, in its results folder: what lets `--until-decided`
evaluate a finished run on more test items without training it again.

A network's go in `weights/<run_id>.safetensors` (safetensors: tensors only, no code to run on
load); a model that is no network (an sklearn pipeline) has no tensors to keep, so it goes in
`weights/<run_id>.joblib`, scikit-learn's own persistence (load only folders you trust).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_model, save_model

from bench import atomic
from bench.errors import BenchError

WEIGHTS_DIR = "weights"


def network_path(out: Path, run_id: str) -> Path:
    return out / WEIGHTS_DIR / f"{run_id}.safetensors"


def estimator_path(out: Path, run_id: str) -> Path:
    return out / WEIGHTS_DIR / f"{run_id}.joblib"


def state_on_cpu(network: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A copy of the network's tensors on the CPU, to keep while training goes on."""
    return {k: v.detach().to("cpu", copy=True) for k, v in network.state_dict().items()}


def keep_network(
    out: Path, run_id: str, network: torch.nn.Module, state: dict[str, torch.Tensor] | None = None
) -> Path:
    """Write the network's weights (or `state`, a copy taken at the selected epoch) atomically."""
    path = network_path(out, run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    if state is not None:
        network.load_state_dict(state)
    with atomic.replacing(path) as tmp:
        save_model(network, str(tmp))  # save_model, not save_file: it drops tied (shared) tensors
    return path


def keep_estimator(out: Path, run_id: str, fitted: Any) -> Path:
    import joblib

    path = estimator_path(out, run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic.replacing(path) as tmp:
        joblib.dump(fitted, tmp)
    return path


def load_network(out: Path, run_id: str, network: torch.nn.Module) -> torch.nn.Module:
    path = network_path(out, run_id)
    if not path.is_file():
        raise BenchError(f"{run_id} kept no weights in {path.parent}; its runs predate kept weights.")
    missing, unexpected = load_model(network, str(path), strict=False, device="cpu")
    if unexpected or any(not _tied(network, k) for k in missing):
        raise BenchError(
            f"{path} does not fit {run_id}'s network ({len(missing)} missing, {len(unexpected)} unexpected)."
        )
    return network


def _tied(network: torch.nn.Module, name: str) -> bool:
    """Whether `name` is a tensor save_model left out because another name shares its storage."""
    params = dict(network.state_dict())
    target = params.get(name)
    return target is not None and any(
        other != name and v.data_ptr() == target.data_ptr() for other, v in params.items()
    )


def load_estimator(out: Path, run_id: str) -> Any:
    import joblib

    path = estimator_path(out, run_id)
    if not path.is_file():
        raise BenchError(f"{run_id} kept no fitted model in {path.parent}; its runs predate kept weights.")
    return joblib.load(path)
