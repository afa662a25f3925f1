"""The classical model to beat: TF-IDF of word 1-2-grams and logistic regression, C chosen on validation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.pipeline import Pipeline

from bench.data import Dataset, Split
from bench.errors import BenchError
from bench.modeling import MODELS, Estimator, EstimatorSpec


@dataclass(frozen=True)
class TfidfLrParams:
    C: float | None = None  # inverse regularisation; None: the best of `c_grid` on the validation split
    c_grid: str = "1,4,16,64"
    ngram_max: int = 2  # word n-grams from 1 to this
    min_df: int = 1
    sublinear_tf: bool = True  # 1 + log(tf): long reviews do not drown short ones
    max_iter: int = 1000


@dataclass
class FittedPipeline:
    pipeline: Pipeline
    n_classes: int
    chosen: dict[str, Any] = field(default_factory=dict)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        found = self.pipeline.predict_proba(list(texts))
        probs = np.zeros((len(texts), self.n_classes))
        probs[:, self.pipeline.classes_] = found  # a class absent from training keeps probability 0
        return probs

    @property
    def n_params(self) -> int:
        model = self.pipeline.named_steps["lr"]
        return int(model.coef_.size + model.intercept_.size)  # coefficients and intercepts


@MODELS.register("tfidf_lr", "tfidf")
class TfidfLr(EstimatorSpec):
    Params = TfidfLrParams
    summary = "TF-IDF of word 1-2-grams and logistic regression (scikit-learn), C chosen on validation"
    params: TfidfLrParams

    def vectorizer(self) -> TfidfVectorizer:
        p = self.params
        return TfidfVectorizer(ngram_range=(1, p.ngram_max), min_df=p.min_df, sublinear_tf=p.sublinear_tf)

    def classifier(self, c: float) -> LogisticRegression:
        return LogisticRegression(C=c, max_iter=self.params.max_iter, random_state=self.run.seed)

    def grid(self) -> list[float]:
        if self.params.C is not None:
            return [self.params.C]
        try:
            values = [float(v) for v in self.params.c_grid.split(",") if v.strip()]
        except ValueError:
            raise BenchError(
                f"tfidf_lr: c_grid must be numbers separated by commas, not {self.params.c_grid!r}."
            ) from None
        if not values or min(values) <= 0:
            raise BenchError(f"tfidf_lr: c_grid needs positive values, not {self.params.c_grid!r}.")
        return values

    def check(self) -> None:
        """A bad grid fails before any run starts, not as a failed row after the others trained."""
        self.grid()

    def check_data(self, data: Dataset) -> None:
        """No validation split to choose C on, or no word the vectorizer takes: refused before any
        run starts, not as a failed row."""
        self._check_val(data.val)
        words = self.vectorizer().build_analyzer()
        if not any(words(text) for text in data.train.texts):
            raise BenchError(
                f"tfidf_lr: the {len(data.train.texts)} training reviews hold no word of two letters or "
                "more after cleaning, so its vocabulary would be empty."
            )

    def _check_val(self, val: Split) -> None:
        if len(self.grid()) > 1 and not len(val.texts):
            raise BenchError(
                "tfidf_lr chooses C on the validation split, and there is none: "
                "set --val-share above 0 or --option C=1."
            )

    def fit(self, train: Split, val: Split, n_classes: int) -> Estimator:
        grid = self.grid()
        self._check_val(val)
        # The vectorizer does not depend on C: fit it once, and keep the classifier that won on val
        # (refitting it on the same training rows would give the same model). The criterion is the
        # validation log-loss: on a few hundred reviews accuracy moves in steps of one review and
        # often ties, while the log-loss ranks every C.
        vectorizer = self.vectorizer()
        features = vectorizer.fit_transform(train.texts)
        best: tuple[float, FittedPipeline] | None = None
        for c in grid:  # the first best wins ties
            model = self.classifier(c).fit(features, train.labels)
            candidate = FittedPipeline(Pipeline([("tfidf", vectorizer), ("lr", model)]), n_classes, {"C": c})
            if len(grid) == 1:
                return candidate
            loss = log_loss(val.labels, candidate.predict_proba(val.texts), labels=range(n_classes))
            if best is None or loss < best[0]:
                best = (loss, candidate)
        assert best is not None
        return best[1]
