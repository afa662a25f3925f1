"""What a network run trains on, prepared: its splits tokenized (what it costs to answer with:
bench.runs.inference)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from bench.config import RunConfig
from bench.data import Dataset
from bench.modeling import ModelSpec, Tokenizer
from bench.runs.batching import Tokenized
from bench.runs.tokcache import cached_tokenize
from bench.runs.train import TrainState, setup


@dataclasses.dataclass
class Prepared:
    """A network run's data, tokenized."""

    spec: ModelSpec
    tokenizer: Tokenizer
    dataset: Dataset
    train: Tokenized
    val: Tokenized
    test: Tokenized
    pad_id: int
    truncated_train: float
    truncated_test: float

    def pad_to(self, run: RunConfig) -> int | None:
        """The length every batch is padded to, for a model that needs one (None: the longest)."""
        return run.max_len if self.spec.pad_to_max_len() else None

    def train_state(
        self,
        network: torch.nn.Module,
        run: RunConfig,
        device: torch.device,
        saved: Mapping[str, Any] | None = None,
    ) -> TrainState:
        """The network placed and its optimizer, schedule and batches built over these splits (a
        timed run and a cost repeat train alike); `saved` trainer state resumes a run."""
        return setup(
            network,
            self.train,
            self.test,
            run,
            self.dataset.n_classes,
            self.pad_id,
            device,
            self.pad_to(run),
            val=self.val,
            saved=saved,
        )


def tokenized(spec: ModelSpec, data: Dataset, run: RunConfig) -> Prepared:
    """The run's splits through the model's tokenizer (built on the training texts), cached on disk
    where the run has a cache folder."""
    tokenizer = spec.build_tokenizer(data.train.texts)
    cache = Path(run.cache_dir) if run.cache_dir else None
    train, val, test = (
        cached_tokenize(tokenizer, split.texts, cache) for split in (data.train, data.val, data.test)
    )
    return Prepared(
        spec,
        tokenizer,
        data,
        Tokenized(train.ids, data.train.labels),
        Tokenized(val.ids, data.val.labels),
        Tokenized(test.ids, data.test.labels),
        tokenizer.pad_id,
        train.truncated_share,
        test.truncated_share,
    )
