"""Two gloo processes under torchrun agree with one process on the same data.

What "agree" means here: both runs see the same global batches (each rank a fixed share of each),
and DDP's averaged gradient is the global batch's mean gradient, so the two trainings differ only
by float rounding (dropout is off: each rank would draw its own masks). Hence counts, predictions
and accuracies must be identical; losses and probabilities equal to within rounding.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from bench.cli import main

SUITE = """
description = "DDP agreement test"
[run]
dataset = "imdb"
max_train = 60
max_test = 30
max_len = 24
batch_size = 16
epochs = 2
device = "cpu"
trackers = false
cache_dir = ""
[models.encoder]
lr = 1e-3
options = { d_model = 32, n_layers = 1, n_heads = 2, ff_dim = 64, vocab_size = 2000, dropout = 0.0 }
"""
TORCHRUN = [sys.executable, "-m", "torch.distributed.run"]
EXACT = [
    "n_train",
    "n_val",
    "n_test",
    "test_accuracy",
    "val_accuracy",
    "train_accuracy",
    "selected_epoch",
    "precision",
]
CLOSE = ["train_loss", "test_loss", "test_macro_f1"]


def torchrun(suite: Path, out: Path, processes: int) -> subprocess.CompletedProcess[str]:
    launcher = [*TORCHRUN, "--standalone", f"--nproc-per-node={processes}"]
    return subprocess.run(
        [*launcher, "-m", "bench", "run", "--suite", str(suite), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )


@pytest.mark.slow
def test_two_gloo_ranks_agree_with_one_process(tmp_path: Path) -> None:
    suite = tmp_path / "ddp.toml"
    suite.write_text(SUITE)
    single = CliRunner().invoke(main, ["run", "--suite", str(suite), "--out", str(tmp_path / "single")])
    assert single.exit_code == 0, single.output
    double = torchrun(suite, tmp_path / "double", 2)
    assert double.returncode == 0, double.stderr
    assert double.stdout.count("ddp: ") == 1  # the results table, from rank 0 alone

    one = pd.read_csv(tmp_path / "single" / "results.csv").iloc[0]
    two = pd.read_csv(tmp_path / "double" / "results.csv").iloc[0]
    assert (one["world_size"], two["world_size"]) == (1, 2)
    assert one[EXACT].tolist() == two[EXACT].tolist()
    assert np.allclose(one[CLOSE].astype(float), two[CLOSE].astype(float), rtol=1e-5)

    epochs = [pd.read_csv(tmp_path / name / "epochs.csv") for name in ("single", "double")]
    assert epochs[0]["test_accuracy"].tolist() == epochs[1]["test_accuracy"].tolist()
    assert epochs[0]["train_accuracy"].tolist() == epochs[1]["train_accuracy"].tolist()

    preds = [pd.read_csv(tmp_path / name / "predictions.csv") for name in ("single", "double")]
    preds = [p[p["split"] == "test"] for p in preds]
    assert preds[0]["example_id"].tolist() == preds[1]["example_id"].tolist()
    assert preds[0]["pred"].tolist() == preds[1]["pred"].tolist()
    assert np.allclose(preds[0]["prob_1"], preds[1]["prob_1"], atol=1e-5)
    assert one["n_test"] == len(preds[1])  # every test review, gathered from both ranks
