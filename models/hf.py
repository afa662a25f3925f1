"""Any Hugging Face encoder checkpoint as `hf:PATH`: its AutoModel, a pooled vector, dropout, a linear head.

`hf:PATH` takes a local folder that `AutoModel` loads (BERT, DistilBERT, RoBERTa, ELECTRA,
DeBERTa-v2, ModernBERT, ALBERT, XLM-R, ...: encoders, which have a masked-LM form; decoders and
encoder-decoders are refused) with its tokenizer beside it, or a hub name already in
the local Hugging Face cache (`hf:all-MiniLM-L6-v2` is packaged). Nothing is downloaded and no
code from the checkpoint runs (no `trust_remote_code`).

Pooling (option `pooling`):
  auto    the checkpoint's pooler output (BERT's tanh over [CLS]) where the architecture has a
          pooler and the checkpoint holds its trained weights; a sentence-transformers folder
          whose Pooling module averages tokens, mean; otherwise the first token ([CLS] or <s>:
          RoBERTa, whose checkpoints ship no pooler weights, DistilBERT, ELECTRA, DeBERTa-v2,
          ModernBERT). The pooler's weights are read from the safetensors header or index file
          only; a folder without weights (--init random) keeps the architecture's pooler.
  pooler  the pooler output; an error where the architecture has none
  first   the first token's final hidden state
  mean    the mean of the final hidden states over non-padding tokens
An unused pooler is not built, so it is not counted in params_total.

Dropout (options `dropout` and `attention_dropout`; None keeps the checkpoint's own) is written
into the config under the architecture's own names, every one of them it has:
  dropout            hidden_dropout_prob (BERT, RoBERTa, ELECTRA, DeBERTa-v2, ALBERT, XLM-R),
                     dropout (DistilBERT), embedding_dropout and mlp_dropout (ModernBERT),
                     hidden_dropout (Funnel)
  attention_dropout  attention_probs_dropout_prob (BERT family), attention_dropout (DistilBERT;
                     ModernBERT, where it also drops the attention block's output)
`classifier_dropout` is the dropout before the linear head (hidden size × classes + classes).

FLOPs (see bench/costs/flops.py): `shape()` gives the config's layer count and hidden size and the
network's parameters outside its nn.Embedding tables (word, position and token-type embeddings,
DeBERTa's relative-position table). Two approximations: ModernBERT's sliding-window layers are
counted as global attention, which is what the eager and SDPA paths compute (full score matrices,
masked), and which is the attention itself for reviews of up to 65 tokens (each token sees 64
either side, local_attention // 2); DeBERTa-v2's disentangled attention adds
content-to-position and position-to-content scores over its relative span that the standard
attention term leaves out, so its figure is an underestimate.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from transformers import AutoConfig, AutoModel, AutoTokenizer, PretrainedConfig, PreTrainedModel
from transformers.models.auto.modeling_auto import MODEL_FOR_MASKED_LM_MAPPING, MODEL_MAPPING
from transformers.utils import logging as hf_logging

from bench.errors import BenchError, one_line
from bench.modeling import MODELS, ModelSpec, Shape, Tokenizer, mean_pool, on_meta, resolve_pretrained

POOLINGS = ("auto", "pooler", "first", "mean")
HIDDEN_DROPOUT_NAMES = (
    "hidden_dropout_prob",
    "dropout",
    "embedding_dropout",
    "mlp_dropout",
    "hidden_dropout",
)
ATTENTION_DROPOUT_NAMES = ("attention_probs_dropout_prob", "attention_dropout")
WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)
TOKENIZER_FILES = (
    "tokenizer.json",
    "vocab.txt",
    "vocab.json",
    "spm.model",
    "sentencepiece.bpe.model",
    "tokenizer.model",
)
ENCODERS = "encoder checkpoints such as BERT, RoBERTa, DistilBERT, ELECTRA, DeBERTa-v2 or ModernBERT"
HINT = "give hf: a local model folder (hf:/path/to/folder) or a hub name already in the local cache"


@dataclass(frozen=True)
class HfParams:
    pooling: str = "auto"  # auto, pooler, first or mean (see the module's docstring)
    dropout: float | None = None  # hidden dropout; None: the checkpoint's own
    attention_dropout: float | None = None  # None: the checkpoint's own
    classifier_dropout: float = 0.1  # before the linear head


class HfClassifier(nn.Module):
    def __init__(self, backbone: PreTrainedModel, pooling: str, dropout: float, n_classes: int) -> None:
        super().__init__()
        self.backbone = backbone
        self.config = backbone.config
        self.pooling = pooling  # pooler, first or mean
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(self.config.hidden_size, n_classes)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        out = self.backbone(input_ids=input_ids, attention_mask=attention_mask)
        if self.pooling == "pooler":
            pooled = out.pooler_output
        elif self.pooling == "mean":
            pooled = mean_pool(out.last_hidden_state, attention_mask)
        else:
            pooled = out.last_hidden_state[:, 0]
        return self.head(self.dropout(pooled))


def checkpoint_keys(folder: Path) -> set[str] | None:
    """The weight names of the folder's checkpoint, from a safetensors header or an index file (no
    weights read); None where it has neither."""
    index = next(
        (folder / n for n in WEIGHT_FILES if n.endswith(".index.json") and (folder / n).is_file()), None
    )
    if index is not None:
        return set(json.loads(index.read_text(encoding="utf-8")).get("weight_map", {}))
    single = folder / "model.safetensors"
    if single.is_file():
        from safetensors import safe_open

        with safe_open(str(single), framework="pt") as handle:
            return set(handle.keys())
    return None


def sentence_transformers_pooling(folder: Path) -> str | None:
    """`mean` or `first` where the folder is a sentence-transformers model whose Pooling module
    says so; None otherwise."""
    try:
        modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
        entry = next(m for m in modules if str(m.get("type", "")).endswith("models.Pooling"))
        config = json.loads((folder / entry["path"] / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, StopIteration, KeyError, TypeError, AttributeError):
        return None
    if config.get("pooling_mode_mean_tokens"):
        return "mean"
    if config.get("pooling_mode_cls_token"):
        return "first"
    return None


@MODELS.register("hf", argument="PATH")
class HfModel(ModelSpec):
    Params = HfParams
    summary = (
        "any local Hugging Face encoder (AutoModel): pooler output where the checkpoint has trained "
        "one, else the first token ([CLS]/<s>), or pooling=mean; dropout and a linear head"
    )
    params: HfParams

    # --- the folder, its name and its configuration --------------------------------------------
    @property
    def source(self) -> str:
        assert self.argument is not None  # the registry serves hf: names only with an argument
        return self.argument

    def folder(self) -> Path:
        """The checkpoint's local folder: the path given, or the hub name's folder in the cache."""
        path = Path(self.source).expanduser()
        if not path.exists() and self.source.startswith(("/", ".", "~")):
            raise BenchError(f"hf:{self.source}: there is no folder {path}; {HINT}.")
        return resolve_pretrained(self.source, hint=HINT)

    @property
    def display_name(self) -> str:
        """hf:<the folder's name> (hf:<hub name> for a cached hub model), so checkpoints stay apart."""
        path = Path(self.source).expanduser()
        if not path.exists():
            return f"hf:{self.source}"
        name = path.name if path.name not in ("", ".", "..") else path.resolve().name
        return f"hf:{name}"

    def result_fields(self) -> dict[str, Any]:
        return {**super().result_fields(), "pretrained": self.source}  # the full path or hub name

    def config(self) -> PretrainedConfig:
        """The folder's configuration with the dropout options written into it."""
        folder = self.folder()
        try:
            config = AutoConfig.from_pretrained(folder, local_files_only=True, trust_remote_code=False)
            self.model_class(config)
        except Exception as exc:  # unknown model_type, a config class AutoModel has no model for, bad JSON
            raise BenchError(
                f"{folder} is not a model AutoModel can build ({one_line(exc)}); hf: takes {ENCODERS}."
            ) from None
        # An encoder is what has a masked-LM form: a decoder's first token has seen nothing else, and
        # an encoder-decoder's AutoModel returns its decoder's states.
        if config.is_encoder_decoder or type(config) not in MODEL_FOR_MASKED_LM_MAPPING:
            kind = "an encoder-decoder" if config.is_encoder_decoder else "not an encoder"
            raise BenchError(f"{folder} holds {config.model_type}, {kind}; hf: takes {ENCODERS}.")
        own = config.to_dict()
        for value, names, option in (
            (self.params.dropout, HIDDEN_DROPOUT_NAMES, "dropout"),
            (self.params.attention_dropout, ATTENTION_DROPOUT_NAMES, "attention_dropout"),
        ):
            found = [name for name in names if name in own]
            if value is not None and not found:
                raise BenchError(
                    f"{folder}: its config ({config.model_type}) has none of the settings bench "
                    f"knows for {option} ({', '.join(names)}); leave {option} unset."
                )
            for name in found if value is not None else ():
                setattr(config, name, value)
        return config

    def model_class(self, config: PretrainedConfig) -> type[PreTrainedModel]:
        """The class AutoModel builds for this configuration."""
        found: Any = MODEL_MAPPING[type(config)]
        return found[0] if isinstance(found, tuple | list) else found

    def pooling(self, config: PretrainedConfig) -> str:
        """The pooling in effect: pooler, first or mean (see the module's docstring)."""
        chosen = self.params.pooling
        has_pooler = "add_pooling_layer" in inspect.signature(self.model_class(config).__init__).parameters
        if chosen == "pooler" and not has_pooler:
            raise BenchError(
                f"hf:{self.source}: {config.model_type} has no pooler; use pooling first or mean."
            )
        if chosen != "auto":
            return chosen
        folder = self.folder()
        sentence = sentence_transformers_pooling(folder)
        if sentence:
            return sentence
        if not has_pooler:
            return "first"
        keys = checkpoint_keys(folder)
        if keys is None:  # no weights to look at (--init random without them): the architecture's own
            return "pooler"
        return "pooler" if any("pooler" in key.split(".") for key in keys) else "first"

    # --- ModelSpec ---------------------------------------------------------------------------------
    def check(self) -> None:
        if self.params.pooling not in POOLINGS:
            raise BenchError(
                f"Option 'pooling' of {self.run.model!r} must be one of {', '.join(POOLINGS)}, "
                f"not {self.params.pooling!r}."
            )
        folder = self.folder()
        config = self.config()
        self.pooling(config)
        try:
            on_meta(lambda: self.backbone(config, init="random"))
        except Exception as exc:
            raise BenchError(f"{folder} is not a model AutoModel can build: {one_line(exc)}") from None
        if self.run.init == "pretrained" and not any((folder / n).is_file() for n in WEIGHT_FILES):
            raise BenchError(
                f"{folder} holds no weights ({' or '.join(WEIGHT_FILES[::2])}); --init random "
                "builds the model from its config alone."
            )
        if not any((folder / n).is_file() for n in TOKENIZER_FILES):
            raise BenchError(
                f"{folder} has no tokenizer ({', '.join(TOKENIZER_FILES)}); save the checkpoint's "
                "tokenizer beside it (tokenizer.save_pretrained)."
            )
        vocab = self.build_tokenizer([]).vocab_size
        if vocab > config.vocab_size:
            raise BenchError(
                f"{folder}: its tokenizer has {vocab:,} tokens but the model's vocabulary only "
                f"{config.vocab_size:,}."
            )
        positions = getattr(config, "max_position_embeddings", None)
        absolute = getattr(config, "position_biased_input", True)  # DeBERTa's are relative
        if positions and absolute and self.run.max_len > positions:
            raise BenchError(
                f"max_len {self.run.max_len} is longer than {self.display_name} takes "
                f"({positions} positions)."
            )

    def build_tokenizer(self, train_texts: Sequence[str]) -> Tokenizer:
        """The folder's fast tokenizer, with its special tokens, truncated to max_len."""
        folder = self.folder()
        fast = AutoTokenizer.from_pretrained(
            folder, local_files_only=True, use_fast=True, trust_remote_code=False
        )
        backend = getattr(fast, "backend_tokenizer", None)
        if backend is None:
            raise BenchError(f"{folder}: its tokenizer has no fast (tokenizers) form; bench needs one.")
        pad = fast.pad_token_id if fast.pad_token_id is not None else 0
        return Tokenizer(backend, int(pad), self.run.max_len, f"hf-{folder.name}-{len(fast)}")

    def backbone(self, config: PretrainedConfig, init: str) -> PreTrainedModel:
        """The AutoModel: the folder's weights, or (init random) the same shapes from its config alone."""
        extra: dict[str, Any] = {}
        if "add_pooling_layer" in inspect.signature(self.model_class(config).__init__).parameters:
            extra["add_pooling_layer"] = self.pooling(config) == "pooler"
        if init == "random":
            return AutoModel.from_config(config, dtype=torch.float32, **extra)
        # transformers would draw a progress bar of its own under ours.
        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        return AutoModel.from_pretrained(
            self.folder(),
            config=config,
            local_files_only=True,
            trust_remote_code=False,
            dtype=torch.float32,  # the checkpoint's own may be fp16 or bf16; autocast handles precision
            **extra,
        )

    def build_network(self, n_classes: int, tokenizer: Tokenizer) -> nn.Module:
        config = self.config()
        backbone = self.backbone(config, self.run.init)
        return HfClassifier(backbone, self.pooling(config), self.params.classifier_dropout, n_classes)

    def shape(self, network: nn.Module) -> Shape:
        assert isinstance(network, HfClassifier)
        config = network.config
        total = sum(p.numel() for p in network.parameters())
        # The embedding tables, and the norms beside them (BERT normalises their sum): lookups and
        # element-wise work, not the matrix products 6·N counts.
        embedded = {
            id(p): p.numel()
            for parent in network.modules()
            if any(isinstance(child, nn.Embedding) for child in parent.children())
            for child in parent.children()
            if isinstance(child, nn.Embedding | nn.LayerNorm)
            for p in child.parameters()
        }
        return Shape(config.num_hidden_layers, config.hidden_size, total - sum(embedded.values()))
