"""The serving axes: inference sorted by length gives the predictions of padded inference, in the
data's order; serving time measured on a model of known latency; a verdict on the serving axis for
two models that sleep a known time per batch (a plugin folder's models), and two copies of one model
found costlier no more than 5% of the time."""

from __future__ import annotations

import dataclasses
import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from bench.config import apply_overrides, load_suite
from bench.costs.trackers import serving_columns, serving_passes
from bench.launch.cost_repeats import timed_steps
from bench.reporting.replicates import repeat_row
from bench.runs.batching import by_length, inference_loader, loader, plan_batches
from bench.runs.executor import Executor
from bench.runs.train import evaluate, seed_everything
from bench.stats.cost import compare_cost

CPU = torch.device("cpu")
TINY = Path(__file__).parent / "data" / "tiny.toml"


def test_the_inference_plan_is_every_review_once_longest_first() -> None:
    lengths = np.array([5, 9, 2, 9, 7, 1, 3])
    (plan,) = [np.concatenate(plan_batches(lengths, 3, seed=4, sort=True))]
    assert sorted(plan.tolist()) == list(range(7)) and plan.tolist() == by_length(lengths).tolist()
    assert plan.tolist() == [1, 3, 4, 0, 6, 2, 5]  # ties in their order
    assert [len(b) for b in plan_batches(lengths, 3, seed=None, sort=True)] == [3, 3, 1]


@pytest.mark.parametrize(
    ("model", "options"),
    [
        ("encoder", {"d_model": 32, "n_layers": 1, "n_heads": 2, "ff_dim": 64, "vocab_size": 2000}),
        ("bert", {"num_layers": 1}),
        ("bert_bilstm", {"num_layers": 1, "lstm_hidden": 16}),
    ],
)
def test_length_sorted_inference_predicts_as_padded_inference(
    model: str, options: dict[str, object], tmp_path: Path
) -> None:
    """Real test reviews at up to 256 tokens (their lengths vary): evaluated longest first, each batch
    padded to its longest, and in their order, each padded to max_len. The same predictions, in the
    data's order, with far less padding."""
    (run,) = apply_overrides(
        load_suite(str(TINY)), {"device": "cpu", "cache_dir": "", "max_len": 256, "max_test": 24}, (model,)
    )
    run = dataclasses.replace(run, options={**run.options, **options})
    prepared = Executor(tmp_path).prepare(run)
    assert len(set(prepared.test.lengths().tolist())) > 5  # lengths that differ, or nothing is tested
    seed_everything(0)
    network = prepared.spec.build_network(2, prepared.tokenizer).eval()
    sorted_batches = inference_loader(prepared.test, 4, prepared.pad_id, None, CPU)
    padded_batches = loader(prepared.test, 4, prepared.pad_id, run.max_len, None, CPU)
    by_length_ = evaluate(network, sorted_batches, CPU, 2)
    padded = evaluate(network, padded_batches, CPU, 2)
    assert np.allclose(by_length_.probs, padded.probs, atol=1e-5)
    assert np.array_equal(by_length_.preds, padded.preds) and by_length_.accuracy == padded.accuracy
    widths = [b["input_ids"].shape[1] for b in sorted_batches]
    assert widths == sorted(widths, reverse=True) and sum(widths) < run.max_len * len(widths)


def test_serving_time_of_a_model_of_known_latency() -> None:
    """Four batches of 10 reviews, 5 ms each: 20 ms per 40 reviews is 0.5 s per 1,000 (sleep can
    only overrun, so the bound above is loose for a loaded machine)."""
    found = serving_columns(lambda i: time.sleep(0.005), batches=4, reviews=40, device=CPU)
    assert 0.5 <= found["serve_s_per_1k"] < 1.0
    assert found["serve_passes"] == serving_passes(0.02) == 20  # 20 ms a pass: 20 fit in about a second
    assert serving_passes(5.0) == 1 and serving_passes(2.5) == 2 and serving_passes(1.5) == 3  # 6 s at most


def test_two_copies_of_one_model_are_costlier_at_most_5_percent_of_the_time() -> None:
    """Serving measured 40 times on one model that sleeps 1 ms a batch: experiments of three
    replicates a side, drawn from those measurements, compared by `compare_cost` as the report does.
    The copies differ by noise alone, so "significantly costlier" must come out at most 5% of the
    time (within Monte-Carlo error); a model twice as slow must come out costlier nearly always."""
    measured = np.array(
        [serving_columns(lambda i: time.sleep(0.001), 2, 16, CPU)["serve_s_per_1k"] for _ in range(40)]
    )
    rng = np.random.default_rng(5)
    experiments = 2000
    costlier = 0
    for _ in range(experiments):
        a, b = rng.choice(measured, 3), rng.choice(measured, 3)
        found = compare_cost(a, b)
        costlier += bool(found.significant and found.ratio > 1)
    rate = costlier / experiments
    assert rate <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / experiments), rate
    slower = [compare_cost(rng.choice(measured, 3), 2 * rng.choice(measured, 3)) for _ in range(200)]
    assert np.mean([bool(c.significant and c.ratio > 1) for c in slower]) > 0.9


SLEEPY = '''
import time
from dataclasses import dataclass

import numpy as np

from bench.modeling import MODELS, EstimatorSpec


@dataclass(frozen=True)
class NapParams:
    nap_ms: float = 2.0


@dataclass(frozen=True)
class DozeParams:
    nap_ms: float = 10.0


class Napping:
    n_params = 2
    chosen: dict = {}

    def __init__(self, seconds):
        self.seconds = seconds

    def predict_proba(self, texts):
        time.sleep(self.seconds)  # a fixed time per batch, whatever its size
        good = np.array([0.9 if "good" in t.lower() else 0.2 for t in texts])
        return np.stack([1 - good, good], axis=1)


@MODELS.register("nap")
class Nap(EstimatorSpec):
    """Sleeps 2 ms a batch (a test's model)."""

    Params = NapParams
    summary = "sleeps a fixed time per batch"

    def fit(self, train, val, n_classes):
        return Napping(self.params.nap_ms / 1000)


@MODELS.register("doze")
class Doze(Nap):
    """Sleeps 10 ms a batch (a test's model)."""

    Params = DozeParams
'''
RUN_AND_REPORT = """
import sys
import bench
from bench.registry import use_plugin_folders

folder, suite, out = sys.argv[1:]
use_plugin_folders([folder])
bench.run(suite, out=out, quiet=True, repeats=3)
bench.report([out], format="csv", cost="serving", margin=20)
"""


def test_a_serving_verdict_on_two_models_of_known_latency(tmp_path: Path) -> None:
    """nap answers a batch in 2 ms and doze in 10 ms, with the same predictions: three seeds each,
    24 test reviews in 3 batches of 8. doze costs about 5x the serving time, significantly, and with
    a 20-point margin is not worth it."""
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "sleepy.py").write_text(SLEEPY)
    suite = tmp_path / "sleepy.toml"
    suite.write_text("[run]\nmax_train = 48\nmax_test = 24\nbatch_size = 8\n[models.nap]\n[models.doze]\n")
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-c", RUN_AND_REPORT, str(plugins), str(suite), str(out)],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = pd.read_csv(out / "results.csv")
    assert (
        (rows["status"] == "ok").all()
        and (rows["serve_batch"] == 8).all()
        and (rows["serve_reviews"] == 24).all()
    )
    per_model = rows.groupby("model")["serve_s_per_1k"].min()
    assert per_model["nap"] >= 3 * 2 / 24 and per_model["doze"] >= 3 * 10 / 24  # 3 batches, per 1,000
    report = pd.read_csv(out / "report.csv")
    (pair,) = report[report["level"] == "pair"].to_dict("records")
    assert (pair["model_a"], pair["model_b"], pair["cost"]) == ("nap", "doze", "serving time")
    assert 3 <= pair["cost_ratio"] <= 6 and pair["cost_ci_low"] > 1  # 10 ms against 2 ms, and overheads
    assert pair["cost_significant"] and pair["verdict"] == "not worth it"


def test_a_cost_repeat_times_inference_in_its_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (run,) = apply_overrides(load_suite(str(TINY)), {"device": "cpu", "serve_batch": 4}, ("encoder",))
    measured = timed_steps(run, steps=2, warmup=1)
    assert measured["steps"] == 2 and measured["serve_batch"] == 4
    assert measured["latency_ms_p50_bs1"] > 0 and measured["serve_s_per_1k"] > 0


def test_a_repeat_is_read_as_its_runs_row() -> None:
    network = {"run_id": "bert-s0", "device": "cpu", "train_steps": 63, "train_time_s": 90.0,
               "peak_rss_mib": 1300.0, "serve_s_per_1k": 4.0, "serve_batch": 16}  # fmt: skip
    repeat = {"steps": 20, "step_time_s_mean": 1.5, "latency_ms_p50_bs1": 9.0, "serve_s_per_1k": 4.4,
              "serve_batch": 16}  # fmt: skip
    row = repeat_row(network, repeat)
    assert row["train_time_s"] == pytest.approx(1.5 * 63) and row["serve_s_per_1k"] == 4.4
    assert "peak_rss_mib" not in row  # what the repeat did not measure has no value there
    estimator = {"run_id": "tfidf_lr-s0", "device": "cpu", "train_time_s": 5.0}  # no optimizer steps
    assert repeat_row(estimator, {"steps": 1, "step_time_s_mean": 4.0})["train_time_s"] == 4.0  # one fit


@pytest.mark.gpu
def test_serving_on_a_gpu_is_timed_with_its_kernels_waited_for(tmp_path: Path) -> None:
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    from bench.runs.inference import network_inference

    (run,) = apply_overrides(load_suite(str(TINY)), {"device": "cuda", "cache_dir": ""}, ("encoder",))
    prepared = Executor(tmp_path).prepare(run)
    network = prepared.spec.build_network(2, prepared.tokenizer).to("cuda")
    found = network_inference(network, prepared, run, torch.device("cuda"))
    assert found["serve_s_per_1k"] > 0 and found["serve_batch"] == run.batch_size
    assert found["latency_ms_p50_bs1"] > 0 and found["serve_reviews"] == len(prepared.test)
