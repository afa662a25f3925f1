"""The serving axes: what one review costs to answer once the model is trained.

- `latency`: the median milliseconds of one review at batch 1 (`latency_ms_p50_bs1`, the column
  that measures it names this axis);
- `serving`: seconds per 1,000 reviews at the serving batch (`serve_s_per_1k`, timed on length-sorted
  test reviews, each batch padded to its longest; `--serve-batch`), derived so that a report asking
  for one serving batch (`CostSettings.serve_batch`) leaves out the runs timed at another.

Replicates are independent runs, as for every axis: each seed's run and each cost repeat, which
times inference in its own fresh process.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bench.config import CostSettings
from bench.costs.axes import Axis, cost_axis
from bench.costs.bill import SERVE_REVIEWS_PER, serving_device_s


def serving_per_1k(row: Mapping[Any, Any], costing: CostSettings) -> float | None:
    """Seconds per 1,000 reviews at the serving batch (at the settings' batch only, where given)."""
    per_review = serving_device_s(row, costing)
    return None if per_review is None else per_review * SERVE_REVIEWS_PER


cost_axis(
    Axis(
        "latency",
        "latency of one review",
        "ms",
        "median inference latency of one review at batch 1 (latency_ms_p50_bs1)",
    )
)
cost_axis(
    Axis(
        "serving",
        "serving time",
        "s / 1k reviews",
        "inference seconds per 1,000 reviews at the serving batch (serve_s_per_1k; --serve-batch)",
        derive=serving_per_1k,
        label="serving s / 1k reviews",
    )
)
