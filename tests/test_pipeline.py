"""The input pipeline and the speed options: tokenization cache, batch plans, loaders, precision."""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from bench.cli import main
from bench.config import RunConfig, apply_overrides, load_suite
from bench.errors import BenchError
from bench.modeling import MODELS, Tokenizer
from bench.runs import tokcache
from bench.runs.batching import Collate, PlannedBatches, loader, make_loader, plan_batches
from bench.runs.distributed import World
from bench.runs.executor import Executor, Prepared
from bench.runs.train import TrainState, evaluate, resolve_precision, seed_everything, train_epoch
from bench.runs.train import setup as train_setup  # not `setup`: pytest would call it per module

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[RunConfig, Prepared]:
    """The tiny encoder run of tests/data/tiny.toml, prepared once (without a cache)."""
    suite = Path(__file__).parent / "data" / "tiny.toml"
    (run,) = apply_overrides(load_suite(str(suite)), {"device": "cpu", "cache_dir": ""}, ("encoder",))
    return run, Executor(tmp_path_factory.mktemp("out")).prepare(run)


def tokenizer_for(run: RunConfig, texts: list[str], max_len: int | None = None) -> Tokenizer:
    run = dataclasses.replace(run, max_len=max_len or run.max_len)
    return MODELS.get(run.model)(run).build_tokenizer(texts)


# --- tokenization cache ------------------------------------------------------------------------
def test_cache_miss_then_hit_gives_the_same_tokens(tiny, tmp_path: Path) -> None:
    run, prepared = tiny
    texts = prepared.dataset.train.texts
    first = tokcache.cached_tokenize(prepared.tokenizer, texts, tmp_path)
    second = tokcache.cached_tokenize(prepared.tokenizer, texts, tmp_path)
    assert (first.hit, second.hit) == (False, True)
    assert second.ids == first.ids == prepared.tokenizer.encode(texts)
    assert np.array_equal(second.truncated, first.truncated)
    assert len(list(tmp_path.rglob("*.safetensors"))) == 1


def test_truncation_flags_match_an_untruncated_pass(tiny) -> None:
    run, prepared = tiny
    texts = prepared.dataset.train.texts
    tokenizer = tokenizer_for(run, texts, max_len=160)  # long enough that some reviews are not cut
    tokens = tokcache.tokenize(tokenizer, texts)
    tokenizer.backend.no_truncation()  # the untruncated token counts
    full = np.array([len(ids) for ids in tokenizer.encode(texts)])
    assert np.array_equal(tokens.truncated, full > 160)
    assert 0 < tokens.truncated_share < 1
    assert tokens.truncated_share == np.mean(full > 160)


def test_key_follows_content_max_len_and_tokenizer(tiny) -> None:
    run, prepared = tiny
    texts = list(prepared.dataset.train.texts)
    key = tokcache.cache_key(texts, prepared.tokenizer)
    # The word-level vocabulary is learnt from the training split; rebuilt alike, it hits.
    assert tokcache.cache_key(texts, tokenizer_for(run, texts)) == key
    edited = [texts[0] + "!"] + texts[1:]
    assert tokcache.cache_key(edited, prepared.tokenizer) != key
    assert tokcache.cache_key(texts[:-1], prepared.tokenizer) != key
    assert tokcache.cache_key(texts, tokenizer_for(run, texts, max_len=run.max_len + 1)) != key
    other_vocab = tokenizer_for(run, texts[: len(texts) // 2])
    assert other_vocab.name != prepared.tokenizer.name
    assert tokcache.cache_key(texts, other_vocab) != key


def test_unreadable_entry_is_rebuilt(tiny, tmp_path: Path) -> None:
    run, prepared = tiny
    texts = prepared.dataset.test.texts
    path = tokcache.entry_path(tmp_path, tokcache.cache_key(texts, prepared.tokenizer))
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a safetensors file")
    rebuilt = tokcache.cached_tokenize(prepared.tokenizer, texts, tmp_path)
    assert not rebuilt.hit and rebuilt.ids == prepared.test.ids
    assert tokcache.cached_tokenize(prepared.tokenizer, texts, tmp_path).hit


def test_the_cache_drops_its_least_recently_used_entries_past_its_limit(tiny, tmp_path: Path) -> None:
    run, prepared = tiny
    texts = prepared.dataset.train.texts
    paths = []
    for i in range(3):  # three entries, the first written first
        tokcache.cached_tokenize(prepared.tokenizer, texts[i:], tmp_path)
        paths.append(tokcache.entry_path(tmp_path, tokcache.cache_key(texts[i:], prepared.tokenizer)))
    for age, path in zip((30, 20, 10), paths):  # distinct mtimes, whatever the clock's resolution
        os.utime(path, (time.time() - age, time.time() - age))
    assert tokcache.cached_tokenize(prepared.tokenizer, texts, tmp_path).hit  # a hit makes the first recent
    sizes = [p.stat().st_size for p in paths]
    removed = tokcache.prune(tmp_path, keep=paths[2], limit=sizes[0] + sizes[2])
    assert removed == [paths[1]] and [p.exists() for p in paths] == [True, False, True]
    assert tokcache.prune(tmp_path, keep=paths[2], limit=0) == [paths[0]]  # never the one just written


def test_runner_loads_the_cache_on_a_later_run(tiny, tmp_path: Path, monkeypatch) -> None:
    run, prepared = tiny
    run = dataclasses.replace(run, cache_dir=str(tmp_path / "cache"))
    first = Executor(tmp_path / "a").prepare(run)
    assert len(list((tmp_path / "cache").rglob("*.safetensors"))) == 3  # train, validation and test

    def no_tokenizing(*args: object) -> None:
        raise AssertionError("tokenized again despite the cache")

    monkeypatch.setattr(tokcache, "tokenize", no_tokenizing)
    again = Executor(tmp_path / "b").prepare(run)
    assert again.train.ids == first.train.ids == prepared.train.ids
    assert again.test.ids == prepared.test.ids
    assert (again.truncated_train, again.truncated_test) == (first.truncated_train, first.truncated_test)


# --- batch plans -------------------------------------------------------------------------------
LENGTHS = np.random.default_rng(0).integers(5, 200, size=1000)


@pytest.mark.parametrize("bucket", [False, True])
def test_plan_is_a_seeded_partition(bucket: bool) -> None:
    plan = plan_batches(LENGTHS, 16, seed=5, bucket=bucket)
    again = plan_batches(LENGTHS, 16, seed=5, bucket=bucket)
    other = plan_batches(LENGTHS, 16, seed=6, bucket=bucket)
    assert all(np.array_equal(a, b) for a, b in zip(plan, again))
    assert not all(np.array_equal(a, b) for a, b in zip(plan, other))
    assert np.array_equal(np.sort(np.concatenate(plan)), np.arange(len(LENGTHS)))
    assert [len(b) for b in plan].count(16) == len(plan) - 1


def test_unbucketed_order_is_the_dataloader_shuffle_of_before() -> None:
    # Runs resumed from checkpoints of older versions must see the same order.
    plan = plan_batches(LENGTHS, 16, seed=1003)
    expected = torch.randperm(len(LENGTHS), generator=torch.Generator().manual_seed(1003)).numpy()
    assert np.array_equal(np.concatenate(plan), expected)


def test_bucketing_cuts_padding() -> None:
    def padded(plan: list[np.ndarray]) -> int:
        return sum(len(b) * int(LENGTHS[b].max()) for b in plan)

    plain = padded(plan_batches(LENGTHS, 16, seed=1))
    bucketed = padded(plan_batches(LENGTHS, 16, seed=1, bucket=True))
    assert bucketed < 0.7 * plain


def test_rank_shares_make_up_each_global_batch() -> None:
    lengths = LENGTHS[:33]  # 16 + 16 + 1: the single last review joins the batch before it
    ranks = [PlannedBatches(lengths, 16, True, World(r, 2), seed=3) for r in (0, 1)]
    assert ranks[0].global_sizes() == [16, 17] or ranks[0].global_sizes() == [17, 16]
    for batch, *shares in zip(ranks[0].plan, *ranks):
        assert all(shares)
        assert sorted(shares[0] + shares[1]) == sorted(batch.tolist())


# --- loaders -----------------------------------------------------------------------------------
def test_collate_pads_to_the_longest_with_a_mask() -> None:
    batch = Collate(pad_id=1, pad_to=None)([(7, [5, 6, 7], 0), (2, [5, 6, 7, 8, 9], 1)])
    assert batch["input_ids"].tolist() == [[5, 6, 7, 1, 1], [5, 6, 7, 8, 9]]
    assert batch["attention_mask"].sum(dim=1).tolist() == [3, 5]
    assert batch["index"].tolist() == [7, 2] and batch["labels"].tolist() == [0, 1]
    assert Collate(pad_id=1, pad_to=8)([(0, [5], 0)])["input_ids"].shape == (1, 8)


def test_loader_workers_per_device(tiny) -> None:
    run, prepared = tiny
    on_cpu = loader(prepared.train, 16, prepared.pad_id, None, 0, CPU)
    assert (on_cpu.num_workers, on_cpu.pin_memory) == (0, False)
    sampler = PlannedBatches(prepared.train.lengths(), 16, False, World())
    on_gpu = make_loader(prepared.train, sampler, prepared.pad_id, None, torch.device("cuda"))
    assert (on_gpu.num_workers, on_gpu.pin_memory, on_gpu.persistent_workers) == (2, True, True)


# --- the loop ----------------------------------------------------------------------------------
def train_once(run: RunConfig, prepared: Prepared, **changes: object) -> list:
    run = dataclasses.replace(run, **changes)  # type: ignore[arg-type]
    seed_everything(run.seed)
    network = prepared.spec.build_network(2, prepared.tokenizer)
    state = train_setup(network, prepared.train, prepared.test, run, 2, prepared.pad_id, CPU)
    stats = [train_epoch(state, epoch) for epoch in range(1, run.epochs + 1)]
    return [stats, state, network]


def test_bucketed_training_is_deterministic_per_seed(tiny) -> None:
    run, prepared = tiny
    first, _, _ = train_once(run, prepared, bucket=True)
    again, _, _ = train_once(run, prepared, bucket=True)
    plain, _, _ = train_once(run, prepared)
    assert [s.train_loss for s in first] == [s.train_loss for s in again]
    assert np.array_equal(first[-1].test.probs, again[-1].test.probs)
    assert [s.train_loss for s in first] != [s.train_loss for s in plain]  # other batches, other steps


def test_evaluation_keeps_the_data_order_when_bucketed(tiny) -> None:
    run, prepared = tiny
    seed_everything(0)
    network = prepared.spec.build_network(2, prepared.tokenizer)
    plain = evaluate(network, loader(prepared.test, 8, prepared.pad_id, None, None, CPU), CPU, 2)
    bucketed = loader(prepared.test, 8, prepared.pad_id, None, None, CPU, bucket=True)
    sorted_ = evaluate(network, bucketed, CPU, 2)
    assert np.allclose(plain.probs, sorted_.probs, atol=1e-5)
    assert np.array_equal(plain.preds, sorted_.preds) and plain.accuracy == sorted_.accuracy


def test_max_steps_still_caps_each_epoch(tiny) -> None:
    run, prepared = tiny
    stats, state, _ = train_once(run, prepared, max_steps=2)
    assert [s.train_samples for s in stats] == [2 * run.batch_size] * run.epochs
    assert state.scheduler.last_epoch == 2 * run.epochs


def test_bf16_on_the_cpu_trains_under_autocast(tiny) -> None:
    run, prepared = tiny
    seen: list[torch.dtype] = []
    seed_everything(0)
    network = prepared.spec.build_network(2, prepared.tokenizer)
    network.head.register_forward_hook(lambda module, args, out: seen.append(out.dtype))
    bf16 = dataclasses.replace(run, precision="bf16", epochs=1)
    stats = train_epoch(train_setup(network, prepared.train, prepared.test, bf16, 2, prepared.pad_id, CPU), 1)
    assert set(seen) == {torch.bfloat16}
    assert np.isfinite(stats.train_loss) and np.allclose(stats.test.probs.sum(axis=1), 1, atol=1e-3)


# --- precision options -------------------------------------------------------------------------
def test_precision_on_the_cpu() -> None:
    assert resolve_precision("auto", CPU) == "fp32"
    assert resolve_precision("bf16", CPU) == "bf16"
    for name in ("fp16", "tf32"):
        with pytest.raises(BenchError, match=f"--precision {name} needs a CUDA GPU"):
            resolve_precision(name, CPU)
    with pytest.raises(BenchError, match="Precision must be one of"):
        RunConfig(model="encoder", precision="fp8").validate()


def test_fp16_on_the_cpu_is_refused_before_training(tiny_suite: Path, tmp_path: Path) -> None:
    args = ["run", "--suite", str(tiny_suite), "--model", "encoder", "--device", "cpu"]
    result = CliRunner().invoke(main, [*args, "--precision", "fp16", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "bench: error: --precision fp16 needs a CUDA GPU; on the CPU use fp32 or bf16."
    ]
    assert not (tmp_path / "o" / "results.csv").exists()


SCALER_STEP = ["scale", "unscale_", "clip", "step", "update"]  # unscaled before the clip and the step


def spy_on_scaler(scaler: torch.amp.GradScaler, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the scaler's methods, and "clip" for the gradient clipping, in the order the
    loop calls them."""
    calls: list[str] = []

    def spy(name: str, real: Any) -> Any:
        def called(*args: object, **kwargs: object) -> object:
            calls.append(name)
            return real(*args, **kwargs)

        return called

    for name in ("scale", "unscale_", "step", "update"):
        monkeypatch.setattr(scaler, name, spy(name, getattr(scaler, name)))
    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", spy("clip", torch.nn.utils.clip_grad_norm_))
    return calls


def test_a_grad_scaler_scales_every_step_and_unscales_before_the_clip(tiny, monkeypatch) -> None:
    """The fp16 path of the loop, on the CPU: fp16 itself needs a GPU, but a CPU GradScaler drives
    the same calls. Scaling by a power of two and unscaling before the clip is exact, so the steps
    match those without a scaler."""
    run, prepared = tiny
    run = dataclasses.replace(run, epochs=1, grad_clip=0.5)

    def trained(scaled: bool) -> tuple[TrainState, list[str], float]:
        seed_everything(0)
        network = prepared.spec.build_network(2, prepared.tokenizer)
        state = train_setup(network, prepared.train, prepared.test, run, 2, prepared.pad_id, CPU)
        calls: list[str] = []
        if scaled:
            state.scaler = torch.amp.GradScaler("cpu", init_scale=2.0**10)
            calls = spy_on_scaler(state.scaler, monkeypatch)
        loss = train_epoch(state, 1).train_loss
        return state, list(calls), loss

    state, calls, loss = trained(scaled=True)
    plain, _, plain_loss = trained(scaled=False)
    assert calls == SCALER_STEP * state.steps_per_epoch and state.steps_per_epoch > 1
    assert state.scaler is not None and state.scaler.get_scale() == 2.0**10  # no step overflowed
    assert "scaler" in state.trainer_objects()  # a resumed run gets its scale back
    assert loss == pytest.approx(plain_loss, rel=1e-5)
    for scaled_p, plain_p in zip(state.model.parameters(), plain.model.parameters()):
        assert torch.allclose(scaled_p, plain_p, atol=1e-6)


@pytest.mark.gpu
def test_fp16_on_a_gpu_uses_a_grad_scaler(tiny, monkeypatch) -> None:
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    run, prepared = tiny
    run = dataclasses.replace(run, precision="fp16", device="cuda", epochs=1)
    seed_everything(0)
    network = prepared.spec.build_network(2, prepared.tokenizer)
    gpu = torch.device("cuda")
    state = train_setup(network, prepared.train, prepared.test, run, 2, prepared.pad_id, gpu)
    assert isinstance(state.scaler, torch.amp.GradScaler) and state.scaler.is_enabled()
    calls = spy_on_scaler(state.scaler, monkeypatch)
    stats = train_epoch(state, 1)
    assert calls == SCALER_STEP * state.steps_per_epoch  # every step scaled, unscaled, stepped, updated
    # update() moved the scale off its initial 2**16 (halved on an overflow, or counted a good step)
    assert state.scaler.get_scale() < 2.0**16 or state.scaler._get_growth_tracker() > 0
    assert np.isfinite(stats.train_loss) and torch.backends.cuda.matmul.allow_tf32


def test_the_epoch_tracker_covers_training_and_not_evaluation(tiny, monkeypatch) -> None:
    """An epoch's energy and memory peaks cover what its time covers: the training steps only."""
    import contextlib

    from bench.runs import train

    run, prepared = tiny
    seed_everything(0)
    network = prepared.spec.build_network(2, prepared.tokenizer)
    state = train_setup(
        network, prepared.train, prepared.test, run, 2, prepared.pad_id, CPU, val=prepared.val
    )
    inside = []  # whether the tracker was open at each evaluation and each step
    tracking = [False]

    @contextlib.contextmanager
    def tracker():  # type: ignore[no-untyped-def]
        tracking[0] = True
        yield
        tracking[0] = False

    real_evaluate, real_step = train.evaluate, train.train_step
    monkeypatch.setattr(
        train, "evaluate", lambda *a, **k: (inside.append(("eval", tracking[0])), real_evaluate(*a, **k))[1]
    )
    monkeypatch.setattr(
        train, "train_step", lambda *a, **k: (inside.append(("step", tracking[0])), real_step(*a, **k))[1]
    )
    train_epoch(state, 1, track=tracker)
    assert {kind for kind, _ in inside} == {"eval", "step"}
    assert all(on for kind, on in inside if kind == "step")
    assert not any(on for kind, on in inside if kind == "eval")
