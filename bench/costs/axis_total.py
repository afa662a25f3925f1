"""The axis `total`: a model's cost over its life, training once and serving `--volume N`
predictions, in dollars where priced (`--price`) and device-seconds otherwise (bench.costs.bill)."""

from __future__ import annotations

import dataclasses

from bench.config import CostSettings
from bench.costs.axes import Axis, cost_axis
from bench.costs.bill import total_cost, volume_words


def settle_total(axis: Axis, costing: CostSettings) -> Axis:
    """Dollars once priced, device-seconds before; the noun names the volume: "total cost over 10 M
    predictions"."""
    over = f" over {volume_words(costing.volume)} predictions" if costing.volume is not None else ""
    if costing.priced:
        return dataclasses.replace(axis, noun=f"total cost{over}", unit="$", label=f"total ${over}")
    return dataclasses.replace(
        axis, noun=f"total device time{over}", unit="device-s", label=f"total device-s{over}"
    )


cost_axis(
    Axis(
        "total",
        "total cost",
        "device-s",
        "training + N x serving one prediction at --volume N; in $ with --price, else device-seconds",
        derive=total_cost,
        settle=settle_total,
    )
)
