from __future__ import annotations

import torch
from click.testing import CliRunner

from bench.cli import main
from bench.config import RunConfig
from bench.modeling import count_params, load_models

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
    assert tokenizer.full_lengths(["good film bad plot twist again"]) == [7]


def test_embedding_rows_pin_the_paper_shape_on_small_data() -> None:
    """paper-cost's encoder has the paper's 30,000-row embedding however few words the data has."""
    spec = load_models().get("encoder")(RunConfig(model="encoder", options={"embedding_rows": 30_000}))
    tokenizer = spec.build_tokenizer(["good film", "good film", "bad film", "bad film"])
    assert tokenizer.vocab_size < 10
    assert count_params(spec.build_network(3, tokenizer))[0] == PAPER_COUNTS["encoder"]
