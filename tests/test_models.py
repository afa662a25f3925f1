from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from torch import nn
from transformers import AutoModel, AutoTokenizer, BertConfig

from bench.cli import main
from bench.config import RunConfig
from bench.data import Split
from bench.modeling import EstimatorSpec, ModelSpec, Spec, count_params, load_models, resolve_pretrained
from bench.runs.batching import Collate

PAPER_COUNTS = {"encoder": 12_419_331, "bert": 109_484_547, "bert_bilstm": 67_875_331}


def test_paper_parameter_counts_are_exact() -> None:
    models = load_models()
    for name, expected in PAPER_COUNTS.items():
        assert count_params(models.get(name).paper_network()) == (expected, expected)


def test_ls_models_prints_the_paper_counts() -> None:
    result = CliRunner().invoke(main, ["ls", "models"], terminal_width=200)
    assert result.exit_code == 0, result.output
    for name, expected in PAPER_COUNTS.items():
        line = next(ln for ln in result.output.splitlines() if f" {name} " in ln)
        assert f"{expected:,}" in line


def test_aliases_and_did_you_mean() -> None:
    models = load_models()
    assert models.canonical("bilstm") == "bert_bilstm"
    try:
        models.get("bert_bilstn")
    except Exception as exc:
        assert "Did you mean 'bert_bilstm'" in str(exc)
    else:
        raise AssertionError("an unknown model must raise")


def _tiny_batch(vocab: int = 100) -> tuple[torch.Tensor, torch.Tensor]:
    ids = torch.randint(5, vocab, (3, 10))
    mask = torch.ones_like(ids)
    mask[1, 6:] = 0  # a shorter review
    return ids, mask


def test_bilstm_reads_true_ends_unless_quirk() -> None:
    """Correct form: padding after a review does not change its logits; the quirk's form does."""
    spec_cls = load_models().get("bert_bilstm")
    outputs = {}
    for quirk in (False, True):
        run = RunConfig(
            model="bert_bilstm",
            pretrained="all-MiniLM-L6-v2",
            paper_quirks=quirk,
            options={"num_layers": 1, "lstm_hidden": 8},
        )
        spec = spec_cls(run)
        torch.manual_seed(0)
        net = spec.build_network(3, spec.build_tokenizer([])).eval()
        ids, mask = _tiny_batch()
        short_ids, short_mask = ids[1:2, :6], mask[1:2, :6]
        with torch.no_grad():
            padded = net(ids, mask)[1]
            alone = net(short_ids, short_mask)[0]
        outputs[quirk] = torch.allclose(padded, alone, atol=1e-5)
    assert outputs[False] is True
    assert outputs[True] is False


def test_encoder_tokenizer_is_word_level_with_sos() -> None:
    run = RunConfig(model="encoder", max_len=5)
    spec = load_models().get("encoder")(run)
    tokenizer = spec.build_tokenizer(["good film good", "bad film bad", "good bad film"])
    ids = tokenizer.encode(["good film bad plot twist again"])[0]
    vocab = tokenizer.backend.get_vocab()
    assert len(ids) == 5  # [SOS] + the first 4 words
    assert ids[0] == vocab["[SOS]"]
    assert ids[4] == vocab["[UNK]"]  # "plot" was never seen twice
    tokenizer.backend.no_truncation()
    assert len(tokenizer.encode(["good film bad plot twist again"])[0]) == 7  # [SOS] + 6 words, uncut


def test_embedding_rows_pin_the_paper_shape_on_small_data() -> None:
    """paper-cost's encoder has the paper's 30,000-row embedding however few words the data has."""
    spec = load_models().get("encoder")(RunConfig(model="encoder", options={"embedding_rows": 30_000}))
    tokenizer = spec.build_tokenizer(["good film", "good film", "bad film", "bad film"])
    assert tokenizer.vocab_size < 10
    assert count_params(spec.build_network(3, tokenizer))[0] == PAPER_COUNTS["encoder"]


# Small settings per model, so that each builds and runs in about a second. A model registered later
# without an entry here is still covered: its own defaults, with random weights where it would load some.
TINY: dict[str, dict[str, Any]] = {
    "encoder": {"options": {"d_model": 16, "n_layers": 1, "n_heads": 2, "ff_dim": 32, "vocab_size": 200}},
    "bert": {"pretrained": "all-MiniLM-L6-v2", "options": {"num_layers": 1}},
    "bert_bilstm": {"pretrained": "all-MiniLM-L6-v2", "options": {"num_layers": 1, "lstm_hidden": 8}},
}
TEXTS = [
    "a good film with a good cast",
    "a bad film with a bad plot",
    "good acting , bad writing",
    "the plot is thin but the film is good",
    "bad",
]


def tiny_name(name: str, folder: Path) -> str:
    """The registered name as a run names it: a model that takes an argument (hf:PATH) gets a tiny
    random BERT checkpoint saved in `folder`, with the packaged MiniLM's tokenizer."""
    if ":" not in load_models().usage(name):
        return name
    small = BertConfig(
        vocab_size=30522, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32
    )
    AutoModel.from_config(small).save_pretrained(folder)
    AutoTokenizer.from_pretrained(resolve_pretrained("all-MiniLM-L6-v2")).save_pretrained(folder)
    return f"{name}:{folder}"


def tiny_spec(name: str, folder: Path) -> Spec:
    model = tiny_name(name, folder)
    spec_cls = load_models().get(model)
    init = "random" if spec_cls.default_pretrained else "pretrained"
    settings = {"max_len": 16, **TINY.get(name, {})}
    return spec_cls(RunConfig(model=model, init=init, **settings))


def embedding_block_params(network: nn.Module) -> int:
    """Parameters of every nn.Embedding and of the norms beside them (BERT normalises the sum of its
    embeddings): what the FLOPs formula leaves out of the dense count, as lookups and not matmuls."""
    found: dict[int, int] = {}
    for parent in network.modules():
        children = list(parent.children())
        if any(isinstance(child, nn.Embedding) for child in children):
            for child in children:
                if isinstance(child, nn.Embedding | nn.LayerNorm):
                    found.update((id(p), p.numel()) for p in child.parameters())
    return sum(found.values())


def check_shape(spec: ModelSpec, network: nn.Module) -> None:
    """The Shape the FLOPs estimate uses agrees with the network: dense + embedding + LSTM = total."""
    shape = spec.shape(network)
    lstms = [m for m in network.modules() if isinstance(m, nn.LSTM)]
    lstm_params = sum(p.numel() for m in lstms for p in m.parameters())
    total, _ = count_params(network)
    assert shape.n_dense_params + embedding_block_params(network) + lstm_params == total
    assert 0 < shape.n_dense_params < total
    assert shape.n_layers >= 1
    widths = {m.embedding_dim for m in network.modules() if isinstance(m, nn.Embedding)}
    assert shape.d_model in widths  # the width the attention term counts is the model's
    expected_lstm = [(shape.lstm_input, shape.lstm_hidden)] if shape.lstm_hidden else []
    assert [(m.input_size, m.hidden_size) for m in lstms] == expected_lstm


@pytest.mark.parametrize("name", load_models().names())
def test_every_registered_model_runs_and_knows_its_shape(name: str, tmp_path: Path) -> None:
    spec = tiny_spec(name, tmp_path)
    if isinstance(spec, EstimatorSpec):  # no network: it fits, and gives every class a probability
        labels = np.array([0, 1, 2, 0, 1])
        split = Split(TEXTS, labels, [str(i) for i in range(len(TEXTS))])
        fitted = spec.fit(split, split, 3)
        probs = fitted.predict_proba(TEXTS)
        assert probs.shape == (len(TEXTS), 3) and np.allclose(probs.sum(axis=1), 1)
        assert fitted.n_params > 0
        return
    assert isinstance(spec, ModelSpec)
    tokenizer = spec.build_tokenizer(TEXTS)
    torch.manual_seed(0)
    network = spec.build_network(3, tokenizer).eval()
    pad_to = spec.run.max_len if spec.pad_to_max_len() else None
    batch = Collate(tokenizer.pad_id, pad_to)([(i, ids, 0) for i, ids in enumerate(tokenizer.encode(TEXTS))])
    with torch.no_grad():
        logits = network(batch["input_ids"], batch["attention_mask"])
    assert logits.shape == (len(TEXTS), 3)
    assert torch.isfinite(logits).all()
    check_shape(spec, network)


@pytest.mark.parametrize("name", load_models().names())
def test_every_paper_network_knows_its_shape(name: str) -> None:
    spec_cls = load_models().get(load_models().usage(name))  # hf as hf:PATH
    network = spec_cls.paper_network()
    if name not in PAPER_COUNTS:  # not one of the paper's models: nothing to build
        assert network is None
        return
    spec = spec_cls(RunConfig(model=name, init="random"))
    assert isinstance(spec, ModelSpec) and network is not None
    check_shape(spec, network)


def test_models_and_suites_install_inside_the_bench_namespace(tmp_path: Path) -> None:
    # Run from an empty folder, so the checkout is not on sys.path: only what the install put there.
    probe = (
        "import bench.models, bench.suites\n"
        "try:\n    import models\nexcept ModuleNotFoundError:\n    print('no models')"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "no models"
