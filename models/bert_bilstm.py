"""BERT+BiLSTM (§2.2.3): every BERT output feeds a one-layer BiLSTM, whose last output is classified."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence
from transformers import AutoModel, PreTrainedModel

from bench.modeling import MODELS, Shape, Tokenizer, on_meta
from bench.models._bert import (
    BertParams,
    BertSpec,
    bert_backbone,
    embedding_params,
    paper_config,
)


@dataclass(frozen=True)
class BertBiLstmParams(BertParams):
    num_layers: int | None = 6  # the paper's 67,875,331 parameters pin six of BERT's twelve
    lstm_hidden: int = 128  # per direction
    head_dropout: float = 0.2


class BertBiLstmClassifier(nn.Module):
    def __init__(
        self, backbone: PreTrainedModel, p: BertBiLstmParams, n_classes: int, padded_end: bool
    ) -> None:
        super().__init__()
        self.bert = backbone
        self.config = backbone.config
        self.lstm = nn.LSTM(self.config.hidden_size, p.lstm_hidden, batch_first=True, bidirectional=True)
        self.dropout = nn.Dropout(p.head_dropout)
        self.head = nn.Linear(2 * p.lstm_hidden, n_classes)
        self.padded_end = padded_end

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        states = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        if self.padded_end:
            # The paper's quirk: the output at position max_len, padding or not.
            last = self.lstm(states)[0][:, -1]
        else:
            # Packed, so each direction ends at the review's true last token.
            lengths = attention_mask.sum(dim=1).cpu()
            packed = pack_padded_sequence(states, lengths, batch_first=True, enforce_sorted=False)
            h_n = self.lstm(packed)[1][0]  # (2, batch, hidden): forward end, backward end
            last = torch.cat([h_n[0], h_n[1]], dim=1)
        return self.head(self.dropout(last))


@MODELS.register("bert_bilstm", "bert-bilstm", "bilstm")
class BertBiLstm(BertSpec):
    Params = BertBiLstmParams
    summary = "BERT's first 6 layers feeding a BiLSTM(128) and a linear head (paper §2.2.3)"
    params: BertBiLstmParams

    def build_network(self, n_classes: int, tokenizer: Tokenizer) -> nn.Module:
        backbone = bert_backbone(self.run, self.params)
        return BertBiLstmClassifier(backbone, self.params, n_classes, self.run.paper_quirks)

    def pad_to_max_len(self) -> bool:
        return self.run.paper_quirks  # the quirk reads position max_len, so it must exist

    def shape(self, network: nn.Module) -> Shape:
        assert isinstance(network, BertBiLstmClassifier)
        config = network.config
        lstm = sum(p.numel() for p in network.lstm.parameters())
        dense = sum(p.numel() for p in network.parameters()) - embedding_params(network.bert) - lstm
        return Shape(
            config.num_hidden_layers,
            config.hidden_size,
            dense,
            lstm_input=config.hidden_size,
            lstm_hidden=self.params.lstm_hidden,
        )

    @classmethod
    def paper_network(cls) -> nn.Module:
        p = BertBiLstmParams()
        return on_meta(
            lambda: BertBiLstmClassifier(
                AutoModel.from_config(paper_config(p.num_layers)), p, 3, padded_end=True
            )
        )
