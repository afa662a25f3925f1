"""Nothing lost: interrupted runs resume exactly, signals stop cleanly, failures stay contained."""

from __future__ import annotations

import errno
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from bench.cli import main
from bench.config import RunConfig
from bench.modeling import MODELS, load_models

DATA = Path(__file__).parent / "data"
METRICS = [
    "epoch",
    "train_loss",
    "train_accuracy",
    "val_accuracy",
    "test_loss",
    "test_accuracy",
    "test_macro_f1",
]
# Three epochs of a tiny encoder on 300 reviews: a few seconds, long enough to interrupt.
SUITE = """
description = "resume test"
[run]
dataset = "imdb"
max_train = 300
max_test = 40
max_len = 32
batch_size = 16
epochs = 3
[models.encoder]
lr = 1e-3
options = { d_model = 32, n_layers = 1, n_heads = 2, ff_dim = 64, vocab_size = 2000 }
"""


@pytest.fixture
def suite(tmp_path: Path) -> Path:
    path = tmp_path / "resume.toml"
    path.write_text(SUITE)
    return path


def start(suite: Path, out: Path, *extra: str) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "bench", "run", "--suite", str(suite), "--out", str(out), "-q", *extra]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def wait_for(path: Path, process: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def test_killed_mid_epoch_then_resumed_equals_uninterrupted(suite: Path, tmp_path: Path) -> None:
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    assert start(suite, whole).wait(timeout=300) == 0
    process = start(suite, killed)
    wait_for(killed / "checkpoints" / "encoder-s0" / "state.pt", process)
    process.send_signal(signal.SIGKILL)  # a crash: no clean-up at all
    process.wait(timeout=30)
    assert not (killed / "results.csv").exists() or "ok" not in (killed / "results.csv").read_text()
    resumed = subprocess.run(
        [sys.executable, "-m", "bench", "run", "--resume", str(killed), "-q"],
        capture_output=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr
    expected = pd.read_csv(whole / "epochs.csv")[METRICS]
    got = pd.read_csv(killed / "epochs.csv")[METRICS]
    pd.testing.assert_frame_equal(expected, got)
    assert pd.read_csv(killed / "results.csv")["status"].tolist() == ["ok"]
    # the selected epoch, maybe one from before the kill, and its predictions survive the resume
    chosen = ["selected_epoch", "val_accuracy", "test_accuracy"]
    pd.testing.assert_frame_equal(
        pd.read_csv(whole / "results.csv")[chosen], pd.read_csv(killed / "results.csv")[chosen]
    )
    pd.testing.assert_frame_equal(
        pd.read_csv(whole / "predictions.csv"), pd.read_csv(killed / "predictions.csv")
    )
    assert not (killed / "checkpoints").exists()  # removed once the run succeeded


def test_sigterm_marks_interrupted_and_exits_143(suite: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    process = start(suite, out, "--keep-checkpoints")
    wait_for(out / "checkpoints" / "encoder-s0" / "state.pt", process)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 143
    assert f"Resume with: bench run --resume {out}" in stderr.decode()
    row = pd.read_csv(out / "results.csv").iloc[0]
    assert row["status"] == "interrupted"
    assert f"bench run --resume {out}" in row["error"]
    assert (out / "epochs.csv").exists()


def test_keep_checkpoints_keeps_the_last_epoch_only(tiny_suite: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["run", "--suite", str(tiny_suite), "--model", "encoder", "--epochs", "3", "--keep-checkpoints"]
    result = CliRunner().invoke(main, [*args, "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["encoder-s0"]
    assert sorted(p.name for p in (out / "checkpoints" / "encoder-s0").iterdir()) == [
        "model.safetensors",
        "selection.safetensors",  # the selected epoch's predictions
        "state.pt",
    ]


def test_a_checkpoint_that_cannot_be_written_costs_only_the_resume(
    tiny_suite: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from bench import notices
    from bench.runs import checkpoint

    def disk_full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint, "save_file", disk_full)
    monkeypatch.setattr(notices, "_said", set())
    out = tmp_path / "out"
    args = ["run", "--suite", str(tiny_suite), "--model", "encoder", "--epochs", "3", "--keep-checkpoints"]
    with caplog.at_level(logging.WARNING, logger="bench"):
        result = CliRunner().invoke(main, [*args, "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    assert pd.read_csv(out / "results.csv")["status"].tolist() == ["ok"]
    assert len(pd.read_csv(out / "epochs.csv")) == 3  # training went on after each failed save
    warned = [r.getMessage() for r in caplog.records if "checkpoint not written" in r.getMessage()]
    assert warned == [
        "checkpoint not written: OSError: [Errno 28] No space left on device; the run goes on without resume"
    ]  # two saves failed, one warning
    assert not list(out.glob("checkpoints/*"))  # no half-written checkpoint left behind


class Exploding(MODELS.get("encoder") if "encoder" in load_models() else object):  # type: ignore[misc]
    """The encoder, except that building its network raises: a model that fails on purpose."""

    def build_network(self, n_classes, encoder):  # type: ignore[no-untyped-def]
        raise RuntimeError("CUDA out of memory (on purpose)\nsecond line")


def test_a_failing_model_does_not_sink_the_suite(tiny_suite: Path, tmp_path: Path) -> None:
    if "exploding" not in MODELS:
        MODELS.register("exploding")(Exploding)
    out = tmp_path / "out"
    args = [
        "run",
        "--suite",
        str(tiny_suite),
        "--model",
        "encoder",
        "--model",
        "exploding",
        "--model",
        "bert",
    ]
    result = CliRunner().invoke(main, [*args, "--out", str(out), "-q", "--epochs", "1"])
    assert result.exit_code == 1
    results = pd.read_csv(out / "results.csv").set_index("model")
    assert results.loc["exploding", "status"] == "failed"
    assert results.loc["exploding", "error"] == "RuntimeError: CUDA out of memory (on purpose) second line"
    assert results.loc["encoder", "status"] == "ok" and results.loc["bert", "status"] == "ok"
    assert 0 <= results.loc["bert", "test_accuracy"] <= 1


def test_existing_folder_needs_resume(tiny_suite: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["run", "--suite", str(tiny_suite), "--model", "encoder", "--epochs", "1", "--out", str(out), "-q"]
    assert CliRunner().invoke(main, args).exit_code == 0
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 2
    assert f"continue it with --resume {out}" in again.stderr


def test_resume_of_a_finished_folder_keeps_it(tiny_suite: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["run", "--suite", str(tiny_suite), "--model", "encoder", "--epochs", "1", "--out", str(out), "-q"]
    assert CliRunner().invoke(main, args).exit_code == 0
    before = (out / "results.csv").read_text()
    result = CliRunner().invoke(main, ["run", "--resume", str(out)])
    assert result.exit_code == 0
    assert "finished before, kept" in result.output
    assert pd.read_csv(out / "results.csv").equals(pd.read_csv(pd.io.common.StringIO(before)))


def test_checkpoint_files_load_without_pickle(tmp_path: Path) -> None:
    import torch

    from bench.runs.checkpoint import load_checkpoint, save_checkpoint

    spec = load_models().get("encoder")(
        RunConfig(model="encoder", options={"d_model": 8, "n_layers": 1, "n_heads": 2})
    )
    net = spec.build_network(2, spec.build_tokenizer(["a b", "a b"]))
    opt = torch.optim.AdamW(net.parameters())
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1.0)
    scaler = torch.amp.GradScaler("cpu", init_scale=1024.0)  # as fp16 runs keep one (on CUDA)
    scaler.scale(torch.ones(()))  # the scale exists from the first scaled loss on
    scaler.update(new_scale=256.0)  # a scale the run has learned, which a resume must not reset
    save_checkpoint(tmp_path / "ck", 2, net, {"optimizer": opt, "scheduler": sched, "scaler": scaler})
    state = torch.load(tmp_path / "ck" / "state.pt", weights_only=True)  # raises on any pickle
    assert state["epoch"] == 2
    before = torch.get_rng_state()
    torch.rand(5)
    restored = load_checkpoint(tmp_path / "ck", net)
    assert restored is not None and restored.epoch == 2
    assert sorted(restored.trainer) == ["optimizer", "scaler", "scheduler"]
    fresh = torch.amp.GradScaler("cpu")
    fresh.load_state_dict(restored.trainer["scaler"])
    assert fresh.get_scale() == 256.0
    assert torch.equal(torch.get_rng_state(), before)
    assert os.listdir(tmp_path) == ["ck"]  # no temporary folder left behind


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_signal_whose_exception_a_finalizer_swallows_is_still_acted_on() -> None:
    from bench.runs.interrupts import Terminated, raise_pending, signals_as_interrupts, take_pending

    class Finalized:
        def __del__(self) -> None:  # as in SQLAlchemy's weakref callbacks, which a signal can land in
            signal.raise_signal(signal.SIGTERM)

    with signals_as_interrupts():
        Finalized()  # the handler raises inside __del__; Python prints the exception and drops it
        with pytest.raises(Terminated):
            raise_pending()  # what the training loop calls at every step
        assert take_pending() is None  # acted on once
