"""`--model hf:PATH` (any local Hugging Face encoder) and `--option NAME=VALUE`.

Every checkpoint here is a tiny random model built from a small config (hidden 32, 2 layers, 2
heads, the packaged MiniLM's vocabulary) and saved beside the MiniLM tokenizer: nothing is
downloaded.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import torch
from click.testing import CliRunner
from transformers import (
    AutoModel,
    AutoTokenizer,
    BertConfig,
    DebertaV2Config,
    DistilBertConfig,
    ElectraConfig,
    ModernBertConfig,
    PretrainedConfig,
    RobertaConfig,
    RobertaModel,
)

from bench.cli import main
from bench.config import RunConfig, SuiteConfig
from bench.errors import BenchError
from bench.modeling import (
    MODELS,
    check_display_names,
    load_models,
    parse_value,
    resolve_pretrained,
    with_options,
)
from bench.registry import Registry
from bench.sweep.search_space import resolve_spaces

MINILM = resolve_pretrained("all-MiniLM-L6-v2")
VOCAB = 30522  # the MiniLM tokenizer's (bert-base-uncased's)
SMALL = dict(
    vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64
)
CONFIGS: dict[str, Callable[[], PretrainedConfig]] = {
    "bert": lambda: BertConfig(**SMALL),
    "distilbert": lambda: DistilBertConfig(vocab_size=VOCAB, dim=32, n_layers=2, n_heads=2, hidden_dim=64),
    "roberta": lambda: RobertaConfig(**SMALL, pad_token_id=0),
    "electra": lambda: ElectraConfig(**SMALL, embedding_size=16),
    "deberta": lambda: DebertaV2Config(**SMALL),
    "modernbert": lambda: ModernBertConfig(
        **SMALL, pad_token_id=0, cls_token_id=101, sep_token_id=102, bos_token_id=101, eos_token_id=102
    ),
}
N_CLASSES = 2


def save_checkpoint(folder: Path, model: Any) -> Path:
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(MINILM).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("checkpoints")
    return {
        name: save_checkpoint(root / name, AutoModel.from_config(make())) for name, make in CONFIGS.items()
    }


def backbone_params(folder: Path) -> int:
    return sum(p.numel() for p in AutoModel.from_pretrained(folder).parameters())


def write_suite(path: Path, first: Path, **run: Any) -> Path:
    """A tiny suite whose one [models."hf:..."] table names the first checkpoint."""
    settings = dict(
        dataset="imdb", max_train=32, max_test=16, max_len=16, batch_size=16, epochs=1, lr=1e-3,
        trackers=False, cache_dir="", **run,  # (for sweeps: bench run has --trackers)
    )  # fmt: skip
    lines = ['description = "hf: checkpoints, tiny"', "[run]"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in settings.items()]
    lines += [f'[models."hf:{first}"]', "options = { classifier_dropout = 0.2 }"]
    path.write_text("\n".join(lines) + "\n")
    return path


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), terminal_width=200)
    return result.exit_code, result.output


def spec_for(model: str, **options: Any) -> Any:
    run = RunConfig(model=model, max_len=16, options=options)
    return load_models().get(model)(run)


# --- every architecture end to end, through the CLI ----------------------------------------------
@pytest.fixture(scope="module")
def trained(checkpoints: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One `bench run` of all six tiny checkpoints, with --option dropout=0.25."""
    tmp = tmp_path_factory.mktemp("run")
    suite = write_suite(tmp / "hf.toml", checkpoints["bert"])
    models = [arg for folder in checkpoints.values() for arg in ("--model", f"hf:{folder}")]
    out = tmp / "out"
    code, output = cli(
        "run", "--suite", str(suite), *models, "--option", "dropout=0.25", "--trackers", "off",
        "--out", str(out), "-q",
    )  # fmt: skip
    assert code == 0, output
    return out


def test_every_architecture_trains_with_its_own_row(trained: Path, checkpoints: dict[str, Path]) -> None:
    rows = pd.read_csv(trained / "results.csv").set_index("model")
    assert list(rows.index) == [f"hf:{name}" for name in checkpoints]
    assert (rows["status"] == "ok").all(), rows["error"].tolist()
    assert list(rows["run_id"]) == [f"hf:{name}-s0" for name in checkpoints]
    for name, folder in checkpoints.items():
        row = rows.loc[f"hf:{name}"]
        head = 32 * N_CLASSES + N_CLASSES
        assert row["params_total"] == backbone_params(folder) + head, name
        assert row["pretrained"] == str(folder)  # the full path stays here
        assert row["flops_per_sample"] > 0
        options = json.loads(row["options"])
        assert options["dropout"] == 0.25  # from --option
        assert options["attention_dropout"] is None and options["pooling"] == "auto"
        # The suite's [models."hf:..."] table applies to its checkpoint only.
        assert options["classifier_dropout"] == (0.2 if name == "bert" else 0.1)
    epochs = pd.read_csv(trained / "epochs.csv")
    predictions = pd.read_csv(trained / "predictions.csv")
    assert set(epochs["model"]) == set(predictions["model"]) == set(rows.index)


def test_two_checkpoints_stay_apart_in_the_report(trained: Path) -> None:
    code, output = cli("report", str(trained), "--format", "markdown", "--out", str(trained / "r.md"))
    assert code == 0, output
    report = (trained / "r.md").read_text()
    for name in ("hf:bert", "hf:distilbert", "hf:modernbert"):
        assert f"\n| {name} | 1 ok" in report, name
    # The two checkpoints are two models, one seed each, on the 16 test reviews; the cheaper first.
    pair = ("\n| hf:bert | hf:distilbert | 1 + 1 | 16 |", "\n| hf:distilbert | hf:bert | 1 + 1 | 16 |")
    assert any(p in report for p in pair)


def test_flops_shape_leaves_out_the_embeddings(checkpoints: dict[str, Path]) -> None:
    spec = spec_for(f"hf:{checkpoints['bert']}")
    network = spec.build_network(N_CLASSES, spec.build_tokenizer([]))
    shape = spec.shape(network)
    total = sum(p.numel() for p in network.parameters())
    assert (shape.n_layers, shape.d_model) == (2, 32)
    # word, position and token-type tables, and the LayerNorm over their sum
    assert shape.n_dense_params == total - (VOCAB + 512 + 2) * 32 - 2 * 32


# --- pooling, dropout, tokenizer ------------------------------------------------------------------
def test_pooling_suits_the_checkpoint(checkpoints: dict[str, Path], tmp_path: Path) -> None:
    def pooling(model: str, **options: Any) -> str:
        spec = spec_for(model, **options)
        return str(spec.pooling(spec.config()))

    assert pooling(f"hf:{checkpoints['bert']}") == "pooler"
    for name in ("distilbert", "electra", "deberta", "modernbert"):
        assert pooling(f"hf:{checkpoints[name]}") == "first", name
    assert pooling("hf:all-MiniLM-L6-v2") == "mean"  # a sentence-transformers folder that averages
    # RoBERTa as published: the architecture has a pooler, the checkpoint no weights for it.
    backbone = RobertaModel(CONFIGS["roberta"](), add_pooling_layer=False)
    plain = save_checkpoint(tmp_path / "roberta-plain", backbone)
    assert pooling(f"hf:{plain}") == "first"
    spec = spec_for(f"hf:{plain}")
    network = spec.build_network(N_CLASSES, spec.build_tokenizer([]))
    unpooled = sum(p.numel() for p in backbone.parameters())
    assert sum(p.numel() for p in network.parameters()) == unpooled + 32 * N_CLASSES + N_CLASSES
    assert unpooled == backbone_params(checkpoints["roberta"]) - (32 * 32 + 32)  # no pooler built
    assert pooling(f"hf:{checkpoints['bert']}", pooling="first") == "first"
    with pytest.raises(BenchError, match="has no pooler"):
        pooling(f"hf:{checkpoints['distilbert']}", pooling="pooler")
    with pytest.raises(BenchError, match="must be one of auto, pooler, first, mean"):
        spec_for(f"hf:{checkpoints['bert']}", pooling="max").check()


def test_mean_pooling_ignores_padding(checkpoints: dict[str, Path]) -> None:
    spec = spec_for(f"hf:{checkpoints['bert']}", pooling="mean")
    network = spec.build_network(N_CLASSES, spec.build_tokenizer([])).eval()
    ids = torch.randint(1000, 2000, (2, 10))
    mask = torch.ones_like(ids)
    mask[1, 6:] = 0
    with torch.no_grad():
        padded = network(ids, mask)[1]
        alone = network(ids[1:, :6], mask[1:, :6])[0]
    assert torch.allclose(padded, alone, atol=1e-5)


@pytest.mark.parametrize(
    ("name", "hidden", "attention"),
    [
        ("bert", ["hidden_dropout_prob"], ["attention_probs_dropout_prob"]),
        ("roberta", ["hidden_dropout_prob"], ["attention_probs_dropout_prob"]),
        ("electra", ["hidden_dropout_prob"], ["attention_probs_dropout_prob"]),
        ("deberta", ["hidden_dropout_prob"], ["attention_probs_dropout_prob"]),
        ("distilbert", ["dropout"], ["attention_dropout"]),
        ("modernbert", ["embedding_dropout", "mlp_dropout"], ["attention_dropout"]),
    ],
)
def test_dropout_uses_each_architectures_own_names(
    checkpoints: dict[str, Path], name: str, hidden: list[str], attention: list[str]
) -> None:
    model = f"hf:{checkpoints[name]}"
    config = spec_for(model, dropout=0.25, attention_dropout=0.15).config()
    assert [getattr(config, n) for n in hidden] == [0.25] * len(hidden)
    assert [getattr(config, n) for n in attention] == [0.15] * len(attention)
    own = spec_for(model).config()  # None keeps the checkpoint's own
    saved = CONFIGS[name]()
    assert [getattr(own, n) for n in hidden + attention] == [getattr(saved, n) for n in hidden + attention]


def test_tokenizer_keeps_special_tokens_and_truncates(checkpoints: dict[str, Path]) -> None:
    tokenizer = spec_for(f"hf:{checkpoints['roberta']}").build_tokenizer([])
    ids = tokenizer.encode(["a review " * 40, "short"])
    assert len(ids[0]) == 16 and ids[0][0] == 101 and ids[0][-1] == 102  # [CLS] ... [SEP]
    assert ids[1] == [101, ids[1][1], 102]
    assert tokenizer.pad_id == 0


# --- --init random, missing and broken folders ------------------------------------------------------
def test_init_random_reads_no_weights(checkpoints: dict[str, Path], tmp_path: Path) -> None:
    folder = shutil.copytree(checkpoints["electra"], tmp_path / "electra")
    (folder / "model.safetensors").unlink()
    run = RunConfig(model=f"hf:{folder}", init="random", max_len=16)
    spec = load_models().get(run.model)(run)
    spec.check()
    network = spec.build_network(N_CLASSES, spec.build_tokenizer([]))
    assert sum(p.numel() for p in network.parameters()) == backbone_params(checkpoints["electra"]) + 66
    with pytest.raises(BenchError, match="holds no weights"):
        load_models().get(run.model)(RunConfig(model=run.model)).check()


def broken_folders(root: Path) -> dict[str, Path]:
    empty = root / "empty"
    empty.mkdir()
    unknown = root / "unknown"
    unknown.mkdir()
    (unknown / "config.json").write_text('{"model_type": "no-such-architecture"}')
    impossible = root / "impossible"
    impossible.mkdir()
    (impossible / "config.json").write_text(
        json.dumps({"model_type": "bert", "hidden_size": 30, "num_attention_heads": 4})
    )
    decoder = root / "decoder"
    decoder.mkdir()
    (decoder / "config.json").write_text(json.dumps({"model_type": "gpt2", "n_embd": 32, "n_layer": 2}))
    return {"empty": empty, "unknown": unknown, "impossible": impossible, "decoder": decoder}


@pytest.mark.parametrize(
    ("which", "message"),
    [
        ("missing", "there is no folder"),
        ("empty", "is not a model folder (no config.json)"),
        ("unknown", "is not a model AutoModel can build"),
        ("impossible", "is not a model AutoModel can build"),
        ("decoder", "holds gpt2, not an encoder"),
        ("no-weights", "holds no weights"),
        ("no-tokenizer", "has no tokenizer"),
    ],
)
def test_bad_folders_are_one_line_exit_2(
    which: str, message: str, checkpoints: dict[str, Path], tmp_path: Path
) -> None:
    folders = broken_folders(tmp_path)
    folders["missing"] = tmp_path / "nowhere" / "model"
    folders["no-weights"] = shutil.copytree(checkpoints["bert"], tmp_path / "no-weights")
    (folders["no-weights"] / "model.safetensors").unlink()
    folders["no-tokenizer"] = tmp_path / "no-tokenizer"
    AutoModel.from_config(CONFIGS["bert"]()).save_pretrained(folders["no-tokenizer"])
    suite = write_suite(tmp_path / "hf.toml", checkpoints["bert"])
    folder = folders[which]
    code, output = cli("run", "--suite", str(suite), "--model", f"hf:{folder}", "--out", str(tmp_path / "o"))
    assert code == 2, output
    assert message in output and str(folder) in output
    assert len(output.strip().splitlines()) == 1 and "Traceback" not in output
    assert not (tmp_path / "o").exists()  # before any training


def test_hub_names_resolve_from_the_local_cache_only() -> None:
    spec = spec_for("hf:all-MiniLM-L6-v2")  # packaged
    assert spec.display_name == "hf:all-MiniLM-L6-v2"
    assert (spec.folder() / "config.json").is_file()
    with pytest.raises(BenchError, match="not in the local cache") as info:
        spec_for("hf:nobody-here/no-such-model").check()
    assert "nobody-here/no-such-model" in str(info.value) and "BERT-family" not in str(info.value)


def test_two_folders_with_one_name_are_refused(checkpoints: dict[str, Path], tmp_path: Path) -> None:
    other = shutil.copytree(checkpoints["bert"], tmp_path / "bert")
    runs = [RunConfig(model=f"hf:{checkpoints['bert']}"), RunConfig(model=f"hf:{other}")]
    with pytest.raises(BenchError, match="would both be named 'hf:bert'"):
        check_display_names(runs)
    check_display_names([runs[0], runs[0]])  # one model twice (seeds) is fine


# --- --option ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("option", "message"),
    [
        (
            "dropuot=0.1",
            "Did you mean 'dropout'? Options: pooling, dropout, attention_dropout, classifier_dropout",
        ),
        ("dropout=abc", "--option dropout: 'abc' is not a number"),
        ("classifier_dropout=none", "--option classifier_dropout: 'none' is not a number"),
        ("pooling=max", "must be one of auto, pooler, first, mean"),
        ("dropout", "expected NAME=VALUE"),
    ],
)
def test_bad_options_are_one_line_exit_2(
    option: str, message: str, checkpoints: dict[str, Path], tmp_path: Path
) -> None:
    suite = write_suite(tmp_path / "hf.toml", checkpoints["bert"])
    code, output = cli("run", "--suite", str(suite), "--option", option, "--out", str(tmp_path / "o"))
    assert code == 2, output
    assert message in output
    assert len(output.strip().splitlines()) == 1


def test_options_are_typed_by_the_models_params() -> None:
    run = with_options(
        RunConfig(model="encoder"), ["n_layers=2", "lowercase=false", "embedding_rows=none", "dropout=0"]
    )
    assert run.options == {"n_layers": 2, "lowercase": False, "embedding_rows": None, "dropout": 0.0}
    assert isinstance(run.options["dropout"], float)
    with pytest.raises(BenchError, match="--option n_layers: takes whole numbers"):
        with_options(RunConfig(model="encoder"), ["n_layers=2.5"])
    with pytest.raises(BenchError, match="expected true or false"):
        with_options(RunConfig(model="encoder"), ["lowercase=maybe"])
    with pytest.raises(BenchError, match="Model 'bert' has no option 'pooling_mode'"):
        with_options(RunConfig(model="bert"), ["pooling_mode=mean"])
    assert with_options(RunConfig(model="bert"), ["pooling=mean"]).options == {"pooling": "mean"}
    with pytest.raises(BenchError, match="'hidden_dropout' of 'bert': must be float"):
        load_models().get("bert")(RunConfig(model="bert", options={"hidden_dropout": "high"}))


@pytest.mark.parametrize(
    ("model", "name", "text", "expected"),
    [
        ("hf:all-MiniLM-L6-v2", "dropout", "0.25", 0.25),
        ("hf:all-MiniLM-L6-v2", "dropout", "none", None),
        ("hf:all-MiniLM-L6-v2", "dropout", "1", 1.0),
        ("hf:all-MiniLM-L6-v2", "pooling", "mean", "mean"),
        ("encoder", "n_layers", "3", 3),
        ("encoder", "lowercase", "False", False),
        ("encoder", "embedding_rows", "none", None),
    ],
)
def test_the_sweep_and_option_parse_alike(model: str, name: str, text: str, expected: Any) -> None:
    suite = SuiteConfig("s", "", ())
    by_option = with_options(RunConfig(model=model), [f"{name}={text}"]).options[name]
    (space,) = resolve_spaces([f"{name}={text}"], suite, model)
    assert by_option == expected and type(by_option) is type(expected)
    assert space.option and space.values() == [by_option]
    assert type(space.values()[0]) is type(expected)


@pytest.mark.parametrize(("text", "error"), [("abc", "'abc' is not a number"), ("2.5", "whole numbers")])
def test_the_sweep_and_option_refuse_alike(text: str, error: str) -> None:
    suite = SuiteConfig("s", "", ())
    with pytest.raises(BenchError, match=error):
        with_options(RunConfig(model="encoder"), [f"n_layers={text}"])
    with pytest.raises(BenchError, match=error):
        resolve_spaces([f"n_layers={text}"], suite, "encoder")
    with pytest.raises(BenchError, match=error):
        parse_value(text, "int", "here")


def test_sweep_runs_an_hf_checkpoint(checkpoints: dict[str, Path], tmp_path: Path, monkeypatch) -> None:
    suite = write_suite(tmp_path / "hf.toml", checkpoints["bert"])
    monkeypatch.chdir(tmp_path)  # the default sweep folder lands under reports/
    model = f"hf:{checkpoints['distilbert']}"
    args = ["sweep", "--suite", str(suite), "--model", model, "--param", "classifier_dropout=0.0,0.3"]
    code, output = cli(*args, "--sampler", "grid", "--trials", "1", "--option", "dropout=0.05", "-q")
    assert code == 0, output
    folder = tmp_path / "reports" / "sweep-hf-hf:distilbert-classifier_dropout"
    assert folder.is_dir(), list((tmp_path / "reports").iterdir())
    (results,) = folder.glob("worker-*/results.csv")
    row = pd.read_csv(results).iloc[0]
    assert row["model"] == "hf:distilbert" and row["status"] == "ok"
    options = json.loads(row["options"])
    assert options["dropout"] == 0.05 and options["classifier_dropout"] in (0.0, 0.3)


# --- the registry ----------------------------------------------------------------------------------
def test_the_registry_resolves_scheme_argument_names() -> None:
    things: Registry[type] = Registry("thing")
    things.register("plain", "alias")(int)
    things.register("hf", argument="PATH")(str)
    assert things.split("alias") == ("plain", None)
    assert things.split("hf:/m/x:y") == ("hf", "/m/x:y")
    assert things.get("hf:org/name") is str and "hf:anything" in things and "hf" not in things
    assert [things.usage(n) for n in things] == ["hf:PATH", "plain"]
    for name, message in [
        ("hf", "needs an argument: hf:PATH"),
        ("hf:", "needs an argument"),
        ("plain:x", "takes no argument"),
        ("hg:/m/x", "Did you mean 'hf:/m/x'?"),
        ("plian", "Did you mean 'plain'?"),
    ]:
        with pytest.raises(BenchError, match=message):
            things.split(name)
    assert MODELS.split(f"hf:{MINILM}") == ("hf", str(MINILM))


def test_ls_models_lists_hf_without_a_paper_count() -> None:
    code, output = cli("ls", "models")
    assert code == 0, output
    line = next(ln for ln in output.splitlines() if " hf:PATH " in ln)
    assert "–" in line and "Hugging Face" in line
