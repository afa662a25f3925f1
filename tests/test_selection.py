"""Selection reads the validation split, never the test split; the majority reference and its flag;
the classical baseline runs through the same runner."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from sklearn.metrics import log_loss
from sklearn.pipeline import make_pipeline

from bench.config import RunConfig, apply_overrides, load_suite
from bench.errors import BenchError
from bench.modeling import load_models
from bench.runs import executor as executor_module
from bench.runs.executor import Executor
from bench.runs.recorder import Recorder
from bench.runs.train import EpochStats, EvalOutput, scores
from bench.stats.majority import HINT, majority_class, majority_columns, run_warning

VAL_CURVE = [0.50, 0.80, 0.60]  # peaks at epoch 2 ...
TEST_CURVE = [0.90, 0.55, 0.70]  # ... the test split at epoch 1: a test-chosen row would say 0.90


def run_in(out: Path, run: RunConfig) -> dict:
    """One run executed with its rows recorded in `out`; its result row."""
    return Executor(out).execute(run, sink=Recorder(out)).row


def scripted_output(accuracy: float, labels: np.ndarray) -> EvalOutput:
    """Predictions right on the first `accuracy` share of items and wrong (the other class) after."""
    right = np.arange(len(labels)) < round(accuracy * len(labels))
    preds = np.where(right, labels, 1 - labels)
    probs = np.eye(2)[preds] * 0.8 + 0.1
    return scores(probs, labels, 2, 1.0)


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch, tiny_suite: Path):
    """The tiny encoder run, with training replaced by epochs whose curves are scripted."""
    (run,) = apply_overrides(
        load_suite(str(tiny_suite)), {"device": "cpu", "cache_dir": "", "epochs": 3}, ("encoder",)
    )

    def fake_epoch(state, epoch, progress=None, track=None) -> EpochStats:
        val_labels = state.val.dataset.labels if state.val is not None else None
        test_labels = np.asarray(state.test.dataset.labels)
        return EpochStats(
            epoch=epoch,
            train_loss=1.0 / epoch,
            train_accuracy=0.5 + 0.1 * epoch,
            test=scripted_output(TEST_CURVE[epoch - 1], test_labels),
            epoch_time_s=1.0,
            eval_time_s=0.1,
            train_samples=40,
            train_tokens=400,
            val=scripted_output(VAL_CURVE[epoch - 1], np.asarray(val_labels))
            if val_labels is not None
            else None,
            train_steps=3,
            step_times_s=[0.3, 0.35, 0.35],
        )

    monkeypatch.setattr(executor_module, "train_epoch", fake_epoch)
    return run


def test_the_row_reports_the_epoch_best_on_validation_not_on_test(scripted, tmp_path: Path) -> None:
    row = run_in(tmp_path, dataclasses.replace(scripted, trackers=False))
    assert row["status"] == "ok", row.get("error")
    assert row["selected_epoch"] == 2
    assert row["val_accuracy"] == pytest.approx(VAL_CURVE[1], abs=0.11)  # 5 validation items
    assert row["test_accuracy"] == pytest.approx(TEST_CURVE[1], abs=0.03)  # not the test curve's best
    assert "best_test_accuracy" not in row
    predictions = pd.read_csv(tmp_path / "predictions.csv")
    test = predictions[predictions["split"] == "test"]
    assert (test["pred"] == test["label"]).mean() == pytest.approx(row["test_accuracy"])  # epoch 2's
    assert set(predictions["split"]) == {"test", "val"}
    epochs = pd.read_csv(tmp_path / "epochs.csv")
    assert epochs["val_accuracy"].notna().all() and len(epochs) == 3


def test_select_last_and_no_validation_split_report_the_last_epoch(scripted, tmp_path: Path) -> None:
    last = run_in(tmp_path / "last", dataclasses.replace(scripted, trackers=False, select="last"))
    assert last["selected_epoch"] == 3 and last["test_accuracy"] == pytest.approx(TEST_CURVE[2], abs=0.03)
    none = run_in(tmp_path / "none", dataclasses.replace(scripted, trackers=False, val_share=0.0))
    assert none["n_val"] == 0 and none["selected_epoch"] == 3
    assert pd.isna(none["val_accuracy"]) or none["val_accuracy"] is None


def test_step_times_pool_over_epochs(scripted, tmp_path: Path) -> None:
    row = run_in(tmp_path, dataclasses.replace(scripted, trackers=False))
    chunks = np.array([0.3, 0.35, 0.35] * 3)
    assert row["step_time_chunks"] == 9 and row["train_steps"] == 9
    assert row["step_time_s_mean"] == pytest.approx(chunks.mean())
    assert row["step_time_s_sd"] == pytest.approx(chunks.std(ddof=1))


def test_majority_reference_and_paired_p_by_hand() -> None:
    train = np.array([0, 1, 1, 2, 1])  # class 1 is the majority
    test = np.array([1, 1, 0, 2, 1, 0, 1, 2, 1, 0])  # 5 of 10 are class 1
    preds = np.array([1, 1, 0, 2, 1, 0, 1, 2, 0, 1])  # 8 right
    assert majority_class(train) == 1
    found = majority_columns(train, test, preds)
    assert found["majority_accuracy"] == 0.5
    # Paired with the majority predictor on the same items: only the run right on items 2, 3, 5, 7
    # (b = 4), only the predictor on item 8 (c = 1): P(X >= 4) for X ~ Binomial(5, 1/2) = 6 / 32.
    assert found["p_vs_majority"] == pytest.approx(6 / 32)
    assert found["p_vs_majority"] == pytest.approx(sps.binomtest(4, 5, 0.5, alternative="greater").pvalue)
    assert found["warning"] == "not above majority (p = 0.19)"


def test_a_collapsed_run_is_flagged() -> None:
    assert run_warning(np.zeros(20, dtype=int), 0.5) == "predicts a single class"
    assert run_warning(np.array([0, 1] * 10), 0.01) is None
    assert "learning rate" in HINT


def test_tfidf_lr_on_tiny_data_chooses_c_on_validation(tiny_suite: Path, tmp_path: Path) -> None:
    (run,) = apply_overrides(load_suite(str(tiny_suite)), {"cache_dir": ""}, ("tfidf_lr",))
    row = run_in(tmp_path, run)
    assert row["status"] == "ok", row.get("error")
    assert row["n_train"] + row["n_val"] == 48 and row["n_val"] > 0
    assert row["epochs"] == 1 and row["selected_epoch"] == 1
    assert row["device"] == "cpu" and pd.isna(row.get("flops_per_sample"))
    chosen = pd.read_json(pd.io.common.StringIO(row["options"]), typ="series")
    assert chosen["C"] in (1.0, 4.0, 16.0, 64.0)
    assert row["train_time_s"] > 0 and row["peak_rss_mib"] > 0 and row["latency_ms_p50_bs1"] > 0
    assert row["latency_repeats_bs1"] >= 10 and row["latency_repeats_batch"] >= 10
    # coefficients and intercept of a binary logistic regression: one row of weights
    spec = load_models().get("tfidf_lr")(run)
    runner = Executor(tmp_path / "again")
    data = runner.dataset(run)
    fitted = spec.fit(data.train, data.val, data.n_classes)
    assert row["params_total"] == fitted.n_params == fitted.pipeline.named_steps["lr"].coef_.size + 1
    # the chosen C is the one with the lowest validation log-loss, each C fitted on train alone
    losses = {
        c: log_loss(
            data.val.labels,
            make_pipeline(spec.vectorizer(), spec.classifier(c))
            .fit(data.train.texts, data.train.labels)
            .predict_proba(data.val.texts),
        )
        for c in (1.0, 4.0, 16.0, 64.0)
    }
    assert fitted.chosen == {"C": min(losses, key=losses.__getitem__)} == {"C": chosen["C"]}


def test_tfidf_lr_without_validation_needs_a_fixed_c(tiny_suite: Path, tmp_path: Path) -> None:
    (run,) = apply_overrides(load_suite(str(tiny_suite)), {"val_share": 0.0}, ("tfidf_lr",))
    spec = load_models().get("tfidf_lr")(run)
    data = Executor(tmp_path).dataset(run)
    with pytest.raises(BenchError, match="validation split"):
        spec.fit(data.train, data.val, data.n_classes)
    fixed = load_models().get("tfidf_lr")(dataclasses.replace(run, options={"C": 2.0}))
    assert fixed.fit(data.train, data.val, data.n_classes).chosen == {"C": 2.0}
