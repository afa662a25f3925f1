"""`--cost-repeats K`: after a run, K short timed runs of the same configuration, each in a fresh
process, each measuring seconds per optimizer step, then the latency of one review and the serving
time per 1,000 reviews. They are independent replicates of the run's costs (a new process, new
allocator and caches, whatever else the machine does at that moment), which the step-time chunks
inside one run are not.

A network repeat builds the run's network and training state as the run did, takes WARMUP_STEPS
steps untimed (first calls, allocator growth, kernel choice), then times `steps` steps with one device
sync at each end, then times inference as the run did (bench.runs.inference) on the network it has.
A model that is no network (tfidf_lr) has no steps: its repeat times one whole fit and reports it as
one step, then times the fitted model's inference.

The child process is `python -m bench.launch.cost_repeats`, the run's settings as JSON on stdin and
its measurement as JSON on stdout.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.config import RunConfig
from bench.errors import BenchError, one_line
from bench.modeling import MODELS, EstimatorSpec, ModelSpec

TIMED_STEPS = 20  # steps timed per repeat: a few seconds for the quick suite's models on a CPU
WARMUP_STEPS = 3
TIMEOUT_S = 3600  # one repeat that hangs must not hang the suite


def timed_steps(run: RunConfig, steps: int = TIMED_STEPS, warmup: int = WARMUP_STEPS) -> dict[str, Any]:
    """Seconds per optimizer step of `run`'s training, in this process (see the module's note)."""
    import torch

    from bench.runs.batching import to_device
    from bench.runs.executor import Executor
    from bench.runs.inference import estimator_inference, network_inference
    from bench.runs.train import pick_device, seed_everything, synchronize, train_step

    with tempfile.TemporaryDirectory(prefix="bench-cost-") as tmp:
        executor = Executor(Path(tmp))
        spec = MODELS.get(run.model)(run)
        seed_everything(run.seed)
        if isinstance(spec, EstimatorSpec):
            data = executor.dataset(run)
            start = time.perf_counter()
            fitted = spec.fit(data.train, data.val, data.n_classes)
            fit_s = time.perf_counter() - start
            served = estimator_inference(fitted, data.test.texts, run, batch_latency=False)
            return {"steps": 1, "step_time_s_mean": fit_s, "device": "cpu", **inference_part(served)}
        assert isinstance(spec, ModelSpec)
        device = pick_device(run.device)
        prepared = executor.prepare(run)
        network = spec.build_network(prepared.dataset.n_classes, prepared.tokenizer)
        state = prepared.train_state(network, run, device)
        state.model.train()

        def batches() -> Any:
            epoch = 0
            while True:  # as many epochs of the training batches as the steps need
                epoch += 1
                state.sampler.reshuffle(run.seed * 1000 + epoch)
                yield from state.batches

        stream = batches()
        for _ in range(warmup):
            train_step(state, to_device(next(stream), device), 1.0)
        synchronize(device)
        start = time.perf_counter()
        for _ in range(steps):
            train_step(state, to_device(next(stream), device), 1.0)
        synchronize(device)
        seconds = time.perf_counter() - start
        name = device.type if device.type == "cpu" else torch.cuda.get_device_name(device)
        served = network_inference(state.model, prepared, run, device, batch_latency=False)
        return {"steps": steps, "step_time_s_mean": seconds / steps, "device": name, **inference_part(served)}


INFERENCE_COLUMNS = ("latency_ms_p50_bs1", "serve_s_per_1k", "serve_batch")  # a repeat's, beside its steps'


def inference_part(measured: dict[str, Any]) -> dict[str, Any]:
    """The inference columns cost_repeats.csv keeps of what bench.runs.inference measured."""
    return {key: measured[key] for key in INFERENCE_COLUMNS}


def measure_in_fresh_process(
    run: RunConfig, steps: int = TIMED_STEPS, warmup: int = WARMUP_STEPS
) -> dict[str, Any]:
    """`timed_steps` in a new Python process."""
    request = json.dumps({"run": dataclasses.asdict(run), "steps": steps, "warmup": warmup})
    try:
        done = subprocess.run(
            [sys.executable, "-m", "bench.launch.cost_repeats"],
            input=request,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise BenchError(f"a cost repeat of {run.model} took over {TIMEOUT_S} s") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise BenchError(f"a cost repeat of {run.model} failed: {last}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def repeat_rows(
    run: RunConfig, row: dict[str, Any], repeats: range, concurrent_runs: int, steps: int = TIMED_STEPS
) -> list[dict[str, Any]]:
    """cost_repeats.csv's rows of the finished run whose result row is `row`: one per repeat number."""
    found = []
    for repeat in repeats:
        measured = measure_in_fresh_process(run, steps)
        found.append(
            {
                "run_id": row["run_id"],
                "model": row["model"],
                "seed": row["seed"],
                "repeat": repeat,
                "steps": measured["steps"],
                "step_time_s_mean": measured["step_time_s_mean"],
                "device": measured["device"],
                "concurrent_runs": concurrent_runs,
                **{key: measured.get(key) for key in INFERENCE_COLUMNS},
            }
        )
    return found


def _child() -> None:
    request = json.loads(sys.stdin.read())
    saved = request["run"]
    run = RunConfig.from_saved(saved)
    from bench.modeling import load_models
    from bench.registry import plugin_folders_from_env

    plugin_folders_from_env()  # the plugin folders of the command that started this process
    load_models()
    try:
        print(json.dumps(timed_steps(run, int(request["steps"]), int(request["warmup"]))))
    except BenchError as exc:
        print(one_line(exc), file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    _child()
