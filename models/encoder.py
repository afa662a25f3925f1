"""The paper's encoder (§2.2.1): a 6-layer transformer encoder trained from scratch."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass

import tokenizers
import torch
from tokenizers import normalizers, pre_tokenizers, processors
from tokenizers.models import WordLevel
from tokenizers.trainers import WordLevelTrainer
from torch import nn

from bench.modeling import MODELS, ModelSpec, Shape, Tokenizer, on_meta

SPECIALS = ["[UNK]", "[PAD]", "[SOS]", "[EOS]"]


@dataclass(frozen=True)
class EncoderParams:
    vocab_size: int = 30_000  # the cap; the paper's 12,419,331 parameters pin it
    min_frequency: int = 2
    lowercase: bool = True
    d_model: int = 256
    n_layers: int = 6
    n_heads: int = 8
    ff_dim: int = 1024
    dropout: float = 0.1
    embedding_rows: int | None = None  # None: the learned vocabulary's size; paper-cost pins 30,000


class SinusoidalPositions(nn.Module):
    """PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) = cos(...) (paper eq. 1-2)."""

    def __init__(self, d_model: int, max_len: int = 4096) -> None:
        super().__init__()
        pos = torch.arange(max_len).unsqueeze(1)
        freq = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
        table = torch.zeros(max_len, d_model)
        table[:, 0::2] = torch.sin(pos * freq)
        table[:, 1::2] = torch.cos(pos * freq)
        self.table: torch.Tensor
        self.register_buffer("table", table, persistent=False)  # a buffer: not a parameter

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.table[: x.size(1)]


class EncoderClassifier(nn.Module):
    def __init__(self, p: EncoderParams, vocab_size: int, n_classes: int, pad_id: int) -> None:
        super().__init__()
        self.scale = math.sqrt(p.d_model)
        self.embed = nn.Embedding(vocab_size, p.d_model, padding_idx=pad_id)
        self.positions = SinusoidalPositions(p.d_model)
        self.dropout = nn.Dropout(p.dropout)
        layer = nn.TransformerEncoderLayer(p.d_model, p.n_heads, p.ff_dim, p.dropout, batch_first=True)
        # No nested tensors: they only pay off with much padding, and they break on the meta device.
        self.encoder = nn.TransformerEncoder(layer, p.n_layers, enable_nested_tensor=False)
        self.head = nn.Linear(p.d_model, n_classes)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        x = self.dropout(self.positions(self.embed(input_ids) * self.scale))
        x = self.encoder(x, src_key_padding_mask=attention_mask == 0)
        return self.head(x[:, 0])  # the [SOS] position


@MODELS.register("encoder", "transformer")
class Encoder(ModelSpec):
    Params = EncoderParams
    summary = "6-layer transformer encoder from scratch, word-level vocabulary (paper §2.2.1)"
    params: EncoderParams

    def build_tokenizer(self, train_texts: Sequence[str]) -> Tokenizer:
        p = self.params
        backend = tokenizers.Tokenizer(WordLevel(unk_token="[UNK]"))
        if p.lowercase:
            backend.normalizer = normalizers.Lowercase()
        backend.pre_tokenizer = pre_tokenizers.Whitespace()
        trainer = WordLevelTrainer(
            vocab_size=p.vocab_size, min_frequency=p.min_frequency, special_tokens=SPECIALS
        )
        backend.train_from_iterator(train_texts, trainer=trainer)
        sos = backend.token_to_id("[SOS]")
        backend.post_processor = processors.TemplateProcessing(
            single="[SOS] $A", special_tokens=[("[SOS]", sos)]
        )
        digest = hashlib.sha1(backend.to_str().encode()).hexdigest()[:12]
        pad_id = SPECIALS.index("[PAD]")  # the trainer puts special tokens first, in order
        return Tokenizer(backend, pad_id, self.run.max_len, f"wordlevel-{digest}")

    def build_network(self, n_classes: int, tokenizer: Tokenizer) -> nn.Module:
        rows = max(tokenizer.vocab_size, self.params.embedding_rows or 0)
        return EncoderClassifier(self.params, rows, n_classes, tokenizer.pad_id)

    def shape(self, network: nn.Module) -> Shape:
        assert isinstance(network, EncoderClassifier)
        dense = sum(p.numel() for n, p in network.named_parameters() if not n.startswith("embed"))
        return Shape(self.params.n_layers, self.params.d_model, dense)

    @classmethod
    def paper_network(cls) -> nn.Module:
        p = EncoderParams()
        return on_meta(lambda: EncoderClassifier(p, p.vocab_size, 3, SPECIALS.index("[PAD]")))
