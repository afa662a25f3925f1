"""The volume at which two models' total costs cross. Each model costs T to train and S per
prediction, so at N predictions A costs T_A + N S_A and B costs T_B + N S_B; they cost the same at

    N* = (T_B - T_A) / (S_A - S_B),

a ratio of two differences of uncertain means, whose interval is Fieller's (bench.stats.fieller).
Beyond N* the model that serves more cheaply is the cheaper one; N* <= 0 means one model is cheaper
at every volume.

Each side's replicates are pairs (T_i, S_i) measured by one run (a seed's run, or a cost repeat in
a fresh process): their means' variances and covariance are the pairs' own, s^2 / n. A side with a
single run has no spread to measure: each part takes the assumed relative run-to-run noise
(var = (noise x value)^2), the parts independent. Degrees of freedom as compare_cost's: Hsu's, the
smaller measured side's n - 1; infinite when every spread is assumed.

Pure functions of arrays; nothing reads or writes files.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from bench.stats.fieller import RatioInterval, fieller
from bench.stats.intervals import StatsError

MEASURED = "Fieller, replicates' spread"
ASSUMED = "Fieller, run-to-run noise assumed"


@dataclass(frozen=True)
class Side:
    """One model's training and serving costs: their means, the means' variances and covariance."""

    train: float
    serve: float
    var_train: float
    var_serve: float
    cov: float
    n: int
    measured: bool  # False: a single run, the spread assumed

    @classmethod
    def of(cls, parts: npt.ArrayLike, noise: float | None = None) -> Side:
        """From replicates as rows (training cost, serving cost per prediction)."""
        arr = np.asarray(parts, dtype=float).reshape(-1, 2)
        if not len(arr) or not np.all(np.isfinite(arr)) or np.any(arr < 0):
            raise StatsError(f"costs must be finite and non-negative, got {arr.tolist()}")
        n = len(arr)
        train, serve = (float(x) for x in arr.mean(axis=0))
        if n >= 2:
            c = np.cov(arr, rowvar=False, ddof=1) / n
            return cls(train, serve, float(c[0, 0]), float(c[1, 1]), float(c[0, 1]), n, True)
        if noise is None or not (math.isfinite(noise) and noise > 0):
            raise StatsError("a single run's costs need an assumed run-to-run noise (a positive relative sd)")
        return cls(train, serve, (noise * train) ** 2, (noise * serve) ** 2, 0.0, 1, False)


@dataclass(frozen=True)
class Crossover:
    """Where B's total cost meets A's. `volume` is N* (NaN where they never cross at a positive
    volume); `interval` is Fieller's set of the ratio (of any sign); `b_cheaper_beyond`: B is the
    cheaper one at volumes above N* (it serves more cheaply), None when both serve alike."""

    volume: float
    interval: RatioInterval
    b_cheaper_beyond: bool | None
    method: str


def crossover(
    parts_a: npt.ArrayLike | Side,
    parts_b: npt.ArrayLike | Side,
    noise: float | None = None,
    confidence: float = 0.95,
) -> Crossover:
    """N* = (T_B - T_A) / (S_A - S_B) and its Fieller interval at `confidence` (see the module's note);
    each side as replicate rows (training cost, serving cost per prediction) or a `Side`."""
    a = parts_a if isinstance(parts_a, Side) else Side.of(parts_a, noise)
    b = parts_b if isinstance(parts_b, Side) else Side.of(parts_b, noise)
    top, bottom = b.train - a.train, a.serve - b.serve
    var_top, var_bottom = a.var_train + b.var_train, a.var_serve + b.var_serve
    cov = -(a.cov + b.cov)  # cov(T_B - T_A, S_A - S_B): each model's own parts covary, the models do not
    measured = [s.n for s in (a, b) if s.measured]
    df = min(measured) - 1 if measured else math.inf
    interval = fieller(top, var_top, bottom, var_bottom, cov, confidence, df)
    ratio = interval.ratio
    volume = ratio if math.isfinite(ratio) and ratio > 0 else math.nan
    beyond = None if bottom == 0 else bottom > 0
    return Crossover(volume, interval, beyond, MEASURED if len(measured) == 2 else ASSUMED)
