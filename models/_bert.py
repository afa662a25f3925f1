"""What the two BERT models share: configuration, weights and tokenizer from a local folder."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tokenizers
from transformers import (
    AutoConfig,
    AutoModel,
    AutoTokenizer,
    BertConfig,
    PretrainedConfig,
    PreTrainedModel,
)
from transformers.utils import logging as hf_logging

from bench.config import RunConfig
from bench.modeling import PACKAGED_MINILM_NAMES, ModelSpec, Tokenizer, resolve_pretrained

DEFAULT_PRETRAINED = "bert-base-uncased"

# bert-base-uncased's config.json, so that parameter counts and `--init random` need no download.
BERT_BASE_UNCASED: dict[str, Any] = dict(
    vocab_size=30522,
    hidden_size=768,
    num_hidden_layers=12,
    num_attention_heads=12,
    intermediate_size=3072,
    hidden_act="gelu",
    max_position_embeddings=512,
    type_vocab_size=2,
    layer_norm_eps=1e-12,
    pad_token_id=0,
)


@dataclass(frozen=True)
class BertParams:
    hidden_dropout: float = 0.2  # embeddings and feed-forward (paper §2.2.2)
    attention_dropout: float = 0.3
    classifier_dropout: float = 0.2
    num_layers: int | None = None  # keep only the first N encoder layers; None keeps all


def bert_config(run: RunConfig, p: BertParams) -> PretrainedConfig:
    """The configuration of `run.pretrained` (bert-base-uncased's when random and unset)."""
    if run.init == "random" and run.pretrained is None:
        config: PretrainedConfig = BertConfig(**BERT_BASE_UNCASED)
    else:
        path = resolve_pretrained(run.pretrained or DEFAULT_PRETRAINED)
        config = AutoConfig.from_pretrained(path, local_files_only=True)
    config.hidden_dropout_prob = p.hidden_dropout
    config.attention_probs_dropout_prob = p.attention_dropout
    if p.num_layers is not None:
        config.num_hidden_layers = min(p.num_layers, config.num_hidden_layers)
    return config


def bert_backbone(run: RunConfig, p: BertParams) -> PreTrainedModel:
    """AutoModel with its pooler: pretrained weights, or the same shapes at random (`--init random`)."""
    config = bert_config(run, p)
    if run.init == "random":
        return AutoModel.from_config(config)
    path = resolve_pretrained(run.pretrained or DEFAULT_PRETRAINED)
    # Dropping layers leaves weights unused, and transformers would list each of them and draw a
    # progress bar of its own under ours.
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    return AutoModel.from_pretrained(path, config=config, local_files_only=True)


def bert_tokenizer(run: RunConfig) -> Tokenizer:
    """The WordPiece tokenizer of the pretrained folder ([CLS] ... [SEP], truncated to max_len).

    A random init with no folder uses the packaged MiniLM's: it is bert-base-uncased's vocabulary.
    """
    if run.init == "random" and run.pretrained is None:
        source = resolve_pretrained(PACKAGED_MINILM_NAMES[0])
    else:
        source = resolve_pretrained(run.pretrained or DEFAULT_PRETRAINED)
    fast = AutoTokenizer.from_pretrained(source, local_files_only=True, use_fast=True)
    backend: tokenizers.Tokenizer = fast.backend_tokenizer
    name = f"wordpiece-{Path(source).name}-{fast.vocab_size}"
    return Tokenizer(backend, int(fast.pad_token_id or 0), run.max_len, name)


def paper_config(num_layers: int | None) -> BertConfig:
    config = BertConfig(**BERT_BASE_UNCASED)
    if num_layers is not None:
        config.num_hidden_layers = num_layers
    return config


def embedding_params(backbone: PreTrainedModel) -> int:
    return sum(p.numel() for n, p in backbone.named_parameters() if n.startswith("embeddings"))


class BertSpec(ModelSpec):
    """What a BERT-family model spec shares: the pretrained weights' default and their tokenizer."""

    default_pretrained = DEFAULT_PRETRAINED

    def build_tokenizer(self, train_texts: Sequence[str]) -> Tokenizer:
        return bert_tokenizer(self.run)
