"""Fine-tuned BERT (§2.2.2): the [CLS] output through the tanh pooler, dropout, a linear head."""

from __future__ import annotations

import torch
from torch import nn
from transformers import AutoModel, PreTrainedModel

from bench.modeling import MODELS, Shape, Tokenizer, on_meta
from bench.models._bert import (
    BertParams,
    BertSpec,
    bert_backbone,
    embedding_params,
    paper_config,
)


class BertClassifier(nn.Module):
    def __init__(self, backbone: PreTrainedModel, dropout: float, n_classes: int) -> None:
        super().__init__()
        self.bert = backbone
        self.config = backbone.config
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(self.config.hidden_size, n_classes)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        pooled = self.bert(input_ids=input_ids, attention_mask=attention_mask).pooler_output
        return self.head(self.dropout(pooled))


@MODELS.register("bert")
class Bert(BertSpec):
    Params = BertParams
    summary = "pretrained BERT fine-tuned, pooled [CLS] and a linear head (paper §2.2.2)"
    params: BertParams

    def build_network(self, n_classes: int, tokenizer: Tokenizer) -> nn.Module:
        backbone = bert_backbone(self.run, self.params)
        return BertClassifier(backbone, self.params.classifier_dropout, n_classes)

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
