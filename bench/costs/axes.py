"""The cost axes: what `--cost` judges a pair on, what a sweep's Pareto front minimises and what the
report's front is drawn against. One registry; an axis is declared once, in the file of what measures
it, with `cost_axis(Axis(...))`:

- a measured column names its axis (`CostColumn(..., axis="memory", device="cpu")`), so the axis
  reads that column on its device type: memory is GPU memory on a GPU and peak RSS on a CPU;
- a derived cost gives `derive(row, costing)`, its value from a results row and the report's cost
  settings (prices, a volume: `bench.config.CostSettings`), in `bench/costs/axis_NAME.py` or a
  plugin's file; `settle(axis, costing)`, where given, is the axis as those settings make it (a unit
  in dollars once priced, a noun that names the volume).

`--cost`'s choices, `bench ls axes`, the schema document and the report read this registry. Nothing
here imports torch.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from bench.config import CostSettings
from bench.costs.columns import CostColumn, cost_columns, device_type, load_trackers
from bench.errors import BenchError
from bench.registry import Registry

AXIS_PREFIX = "axis_"  # bench/costs/axis_*.py: derived costs that declare their axes


@dataclass(frozen=True)
class Axis:
    """One cost axis. A measured axis is read from the columns that name it (`CostColumn.axis`);
    a derived one from `derive(row, costing)`, None where the row (or the settings) lack what it needs."""

    name: str  # what --cost takes
    noun: str  # in the verdicts' words: "B costs 1.5x the training time of A"
    unit: str
    doc: str
    exact: bool = False  # a count, not a measurement: it has no spread, any difference counts
    higher_is_better: bool = False
    derive: Callable[[Mapping[str, Any], CostSettings], float | None] | None = None
    label: str = ""  # a table header or legend; "" for "NAME UNIT"
    # The axis as the cost settings make it (unit, noun, label); None: the same whatever the settings.
    settle: Callable[[Axis, CostSettings], Axis] | None = None

    def settled(self, costing: CostSettings | None = None) -> Axis:
        """This axis with the unit and noun that `costing` gives it (itself for most axes)."""
        return self.settle(self, costing or CostSettings()) if self.settle is not None else self

    @property
    def header(self) -> str:
        return self.label or f"{self.name} {self.unit}".strip()


AXES: Registry[Axis] = Registry("cost axis", package="bench.costs", prefix=AXIS_PREFIX, group="bench.axes")


def cost_axis(axis: Axis) -> Axis:
    """Register an axis (call it at a module's top level, beside what measures it)."""
    origin = sys._getframe(1).f_globals.get("__name__", "")  # the declaring module, for `bench ls axes`
    return AXES.register(axis.name, origin=origin)(axis)


def load_axes() -> Registry[Axis]:
    """Every axis: the `axis_*` modules' (axis_core first: time, memory, parameters, FLOPs), the
    trackers' (whose files declare theirs) and the plugins'."""
    load_trackers()
    return AXES.load()


def axis_names() -> list[str]:
    """The axes in the order they were declared (time first: axis_core is the first `axis_*`)."""
    return [a.name for a in load_axes().registered()]


def axis(name: str) -> Axis:
    return load_axes().get(name)


def axis_column(name: str, device: object = "cpu") -> CostColumn | None:
    """The column that measures axis `name` for a run on `device` (a row's device value); None for a
    derived axis. A BenchError for an unknown axis or a measured one with no column on that device."""
    found = axis(name)
    if found.derive is not None:
        return None
    kind = device_type(device)
    for column in cost_columns():
        if column.axis == name and column.device in (None, kind):
            return column
    raise BenchError(f"The cost axis {name!r} has no column on a {kind} run.")


def axis_value(row: Mapping[Any, Any], name: str, costing: CostSettings | None = None) -> Any:
    """A run's value on a cost axis: its column on the run's device, or the value derived with the
    cost settings (none given: no prices, no volume)."""
    found = axis(name)
    if found.derive is not None:
        return found.derive(row, costing or CostSettings())
    column = axis_column(name, row.get("device"))
    return None if column is None else row.get(column.name)


def on_device(name: str, device: object = "cpu") -> Axis:
    """The axis as a run on `device` measures it: its column's noun, unit, label and exactness."""
    found, column = axis(name), axis_column(name, device)
    if column is None:
        return found
    return replace(
        found, noun=column.noun or found.noun, unit=column.unit, exact=column.exact, label=column.label
    )


def axis_group(name: str, device: object = "cpu") -> str:
    """What the runs judged together on an axis share: its column (memory is a column per device
    type, judged apart), or the axis itself for a derived one."""
    column = axis_column(name, device)
    return column.name if column is not None else name


def group_axis(group: str, costing: CostSettings | None = None) -> Axis:
    """The axis of an `axis_group`, as measured by that group's column (a derived one as `costing`
    settles it: the total in dollars once priced)."""
    for column in cost_columns():
        if column.name == group and column.axis is not None:
            return on_device(column.axis, column.device or "cpu")
    return axis(group).settled(costing)


def check_axes() -> None:
    """Every column's axis is declared (a column naming an unknown axis is refused, naming both)."""
    known = set(load_axes().names())
    for column in cost_columns():
        if column.axis is not None and column.axis not in known:
            raise BenchError(
                f"The cost column {column.name!r} names the axis {column.axis!r}, which no file declares; "
                f"known: {', '.join(sorted(known))}."
            )
