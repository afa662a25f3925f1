"""The deployer's bill of one run: training and serving in device-seconds and, where priced, in
dollars; the total at a volume of predictions; grams CO2e of its measured energy. Pure functions of a
results row and the cost settings (bench.config.CostSettings). Nothing is made up: without a price
there are no dollars, without a volume no total, without measured energy no emissions.

- training: train_time_s on world_size devices (device-seconds; evaluation excluded, as the time axis);
- serving: serve_s_per_1k on one device, seconds per 1,000 reviews at the serving batch;
- dollars: device-hours x the device's price per hour (`--price`);
- total at a volume N: training + N x serving per prediction;
- emissions: the energy axis's joules / 3.6e6 (kWh) x the grid's grams CO2e per kWh (`--carbon-intensity`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from bench.config import CostSettings
from bench.costs.columns import device_type

J_PER_KWH = 3.6e6
S_PER_HOUR = 3600.0
SERVE_REVIEWS_PER = 1000  # serve_s_per_1k: seconds per this many reviews
USD_PER = 1e6  # serve_usd_per_1m: dollars per this many predictions


def finite(value: object) -> float | None:
    """`value` as a finite float, or None (missing, empty, NaN, text)."""
    try:
        found = float(value) if value is not None and not isinstance(value, bool) else math.nan  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return found if math.isfinite(found) else None


def number(row: Mapping[Any, Any], key: str) -> float | None:
    """A finite number of the row, or None."""
    return finite(row.get(key))


def device_price(device: object, costing: CostSettings) -> float | None:
    """USD per hour of a run on `device` (a row's device): its name's price, else its type's (cpu,
    cuda); None where neither is priced."""
    prices = {name.strip().lower(): usd for name, usd in costing.prices.items()}
    name = "cpu" if device is None or str(device) in ("", "nan") else str(device).strip()
    found = prices.get(name.lower())
    return found if found is not None else prices.get(device_type(name))


def training_device_s(row: Mapping[Any, Any]) -> float | None:
    """Training in device-seconds: its wall time on each of its world_size devices."""
    seconds = number(row, "train_time_s")
    devices = number(row, "world_size") or 1.0
    return None if seconds is None else seconds * devices


def serving_device_s(row: Mapping[Any, Any], costing: CostSettings) -> float | None:
    """Serving in device-seconds per prediction; None where not timed, or timed at another batch than
    the settings' serve_batch."""
    per_1k = number(row, "serve_s_per_1k")
    if per_1k is None:
        return None
    if costing.serve_batch is not None and number(row, "serve_batch") != costing.serve_batch:
        return None
    return per_1k / SERVE_REVIEWS_PER


def _in_dollars(device_s: float | None, row: Mapping[Any, Any], costing: CostSettings) -> float | None:
    price = device_price(row.get("device"), costing)
    return None if device_s is None or price is None else device_s / S_PER_HOUR * price


def training_cost(row: Mapping[Any, Any], costing: CostSettings) -> float | None:
    """Training's cost: dollars when priced (None for a device without a price), else device-seconds."""
    device_s = training_device_s(row)
    return _in_dollars(device_s, row, costing) if costing.priced else device_s


def serving_cost(row: Mapping[Any, Any], costing: CostSettings) -> float | None:
    """One prediction's cost, in the unit of `training_cost`."""
    device_s = serving_device_s(row, costing)
    return _in_dollars(device_s, row, costing) if costing.priced else device_s


def total_cost(row: Mapping[Any, Any], costing: CostSettings) -> float | None:
    """Training + volume x one prediction: the cost over the model's life; None without a volume."""
    train, serve = training_cost(row, costing), serving_cost(row, costing)
    if costing.volume is None or train is None or serve is None:
        return None
    return train + costing.volume * serve


def emissions_g(energy_j: object, costing: CostSettings) -> float | None:
    """Grams CO2e of `energy_j` joules (a run's energy axis: GPU energy on a GPU, RAPL's on a CPU);
    None without a carbon intensity or a measured energy."""
    joules = finite(energy_j)
    if costing.carbon_intensity is None or joules is None:
        return None
    return joules / J_PER_KWH * costing.carbon_intensity


def bill_columns(
    row: Mapping[Any, Any], costing: CostSettings, energy_j: object = None
) -> dict[str, float | None]:
    """The report's money and emissions columns of one run, only those the settings ask for: training
    in dollars and serving in dollars per million predictions when priced; grams CO2e of training's
    `energy_j` (its energy axis value) with a carbon intensity."""
    found: dict[str, float | None] = {}
    if costing.priced:
        found["train_usd"] = _in_dollars(training_device_s(row), row, costing)
        serve = _in_dollars(serving_device_s(row, costing), row, costing)
        found["serve_usd_per_1m"] = None if serve is None else serve * USD_PER
    if costing.carbon_intensity is not None:
        found["train_co2e_g"] = emissions_g(energy_j, costing)
    return found


def volume_words(volume: float) -> str:
    """A volume as a sentence says it: 2.5 k, 10 M, 1.2 B."""
    for scale, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if volume >= scale:
            return f"{volume / scale:.3g} {suffix}"
    return f"{volume:.3g}"
