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
from safetensors.torch import load_file, save_file

from bench import atomic
from bench.errors import BenchError, one_line
from bench.results import worker_folders

WEIGHTS_DIR = "weights"


def network_path(out: Path, run_id: str) -> Path:
    return out / WEIGHTS_DIR / f"{run_id}.safetensors"


def estimator_path(out: Path, run_id: str) -> Path:
    return out / WEIGHTS_DIR / f"{run_id}.joblib"


def state_on_cpu(network: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A copy of the network's tensors on the CPU, taken at the selected epoch while training goes
    on. Each is its own contiguous copy, so tied weights are saved under both names."""
    return {k: v.detach().to("cpu", copy=True).contiguous() for k, v in network.state_dict().items()}


def keep_network(out: Path, run_id: str, state: dict[str, torch.Tensor]) -> Path:
    """Write a network's tensors (from `state_on_cpu`) atomically."""
    path = network_path(out, run_id)
    with atomic.replacing(path) as tmp:
        save_file(state, str(tmp))
    return path


def keep_estimator(out: Path, run_id: str, fitted: Any) -> Path:
    import joblib

    path = estimator_path(out, run_id)
    with atomic.replacing(path) as tmp:
        joblib.dump(fitted, tmp)
    return path


def _find(out: Path, name: str) -> Path | None:
    """The file in the folder's weights/ or, for runs of `--workers`, in a worker folder's."""
    for folder in (out, *worker_folders(out)):
        if (folder / WEIGHTS_DIR / name).is_file():
            return folder / WEIGHTS_DIR / name
    return None


def load_network(out: Path, run_id: str, network: torch.nn.Module) -> torch.nn.Module:
    path = _find(out, network_path(out, run_id).name)
    if path is None:
        raise BenchError(f"{run_id} kept no weights in {out / WEIGHTS_DIR}; its run predates kept weights.")
    try:
        network.load_state_dict(load_file(str(path)), strict=True)
    except RuntimeError as exc:
        raise BenchError(f"{path} does not fit {run_id}'s network: {one_line(exc)}") from None
    return network


def load_estimator(out: Path, run_id: str) -> Any:
    import joblib

    path = _find(out, estimator_path(out, run_id).name)
    if path is None:
        raise BenchError(
            f"{run_id} kept no fitted model in {out / WEIGHTS_DIR}; its run predates kept weights."
        )
    return joblib.load(path)
