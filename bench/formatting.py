"""How numbers are printed, in every table and line: one formatter, so a percentage reads alike everywhere."""

from __future__ import annotations

import math
from typing import Any


def fmt(value: Any, kind: str = "") -> str:
    """`value` as text of `kind`: pct (a share as a percentage, without the sign: headers say %),
    int, s (seconds), f (one decimal), f3, p (a p-value), g (four significant digits); '' is str().
    Missing values (None, NaN) are '–'."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if not kind:
        return str(value)
    v = float(value)
    if kind == "pct":
        return f"{100 * v:.1f}"
    if kind == "int":
        return f"{round(v):,}"
    if kind == "s":
        return f"{v:.2f}" if abs(v) < 100 else f"{v:,.1f}"
    if kind == "f3":
        return f"{v:.3f}"
    if kind == "p":
        return f"{v:.3g}"
    if kind == "g":
        return f"{v:,.4g}" if abs(v) < 1e4 else f"{v:,.0f}"
    return f"{v:,.1f}"
