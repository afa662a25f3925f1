"""Fine-tuned BERT (§2.2.2): the [CLS] output through the tanh pooler, dropout, a linear head.

The option `pooling = "mean"` averages the last layer over the review's tokens instead: the pooling
that sentence-transformers checkpoints such as all-MiniLM-L6-v2 were trained with (the quick suite
uses it). The pooler stays in the network either way, so the parameter count is the paper's.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from transformers import AutoModel, PreTrainedModel

from bench.errors import BenchError
from bench.modeling import MODELS, Shape, Tokenizer, mean_pool, on_meta
from bench.models._bert import (
    BertParams,
    BertSpec,
    bert_backbone,
    embedding_params,
    paper_config,
)

POOLINGS = ("cls", "mean")


@dataclass(frozen=True)
class BertClassifierParams(BertParams):
    pooling: str = "cls"  # cls: the tanh pooler over [CLS], as the paper; mean: over the tokens

    def __post_init__(self) -> None:
        if self.pooling not in POOLINGS:
            raise BenchError(f"bert's pooling must be one of {', '.join(POOLINGS)}, not {self.pooling!r}.")


class BertClassifier(nn.Module):
    def __init__(
        self, backbone: PreTrainedModel, dropout: float, n_classes: int, pooling: str = "cls"
    ) -> None:
        super().__init__()
        self.bert = backbone
        self.config = backbone.config
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(self.config.hidden_size, n_classes)
        self.pooling = pooling

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        out = self.bert(input_ids=input_ids, attention_mask=attention_mask)
        pooled = (
            mean_pool(out.last_hidden_state, attention_mask) if self.pooling == "mean" else out.pooler_output
        )
        return self.head(self.dropout(pooled))


@MODELS.register("bert")
class Bert(BertSpec):
    Params = BertClassifierParams
    summary = "pretrained BERT fine-tuned, pooled [CLS] and a linear head (paper §2.2.2)"
    params: BertClassifierParams

    def build_network(self, n_classes: int, tokenizer: Tokenizer) -> nn.Module:
        backbone = bert_backbone(self.run, self.params)
        return BertClassifier(backbone, self.params.classifier_dropout, n_classes, self.params.pooling)

    def shape(self, network: nn.Module) -> Shape:
        assert isinstance(network, BertClassifier)
        config = network.config
        total = sum(p.numel() for p in network.parameters())
        dense = total - embedding_params(network.bert)
        return Shape(config.num_hidden_layers, config.hidden_size, dense)

    @classmethod
    def paper_network(cls) -> nn.Module:
        p = BertParams()
        return on_meta(
            lambda: BertClassifier(AutoModel.from_config(paper_config(None)), p.classifier_dropout, 3)
        )
