"""The cost columns: the run's own (sizes, times, throughput, latency) and each tracker's.

A tracker owns its columns in its own file: a module `bench/costs/track_NAME.py` with one class and
one decorator (every `track_*` module is imported when the columns are first needed),

    @tracked_cost(CostColumn("peak_rss_mib", "MiB", "RSS MiB", "...", reduce="max", axis="memory"))
    class HostMemoryTracker(PolledTracker):
        Record = HostMemoryRecord  # a frozen dataclass whose fields are exactly those columns
        @classmethod
        def for_run(cls, device, nvml, baseline_bytes): ...

`CostTracker` runs every registered tracker around each epoch; the executor, the report's metrics
and cost axes, the sweep's objectives, `--cost`, the console table and the schema document read
`cost_columns()`. Nothing here imports torch: the CLI reads this table at start-up.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from bench.errors import BenchError
from bench.registry import Registry

if TYPE_CHECKING:
    from bench.costs.polling import PolledTracker

MIB = 1024 * 1024
TRACKER_PREFIX = "track_"  # bench/costs/track_*.py: the modules whose trackers register themselves


@dataclass(frozen=True)
class CostColumn:
    """One cost column of results.csv (and of epochs.csv when `reduce` is set)."""

    name: str
    unit: str
    label: str  # table header
    doc: str
    reduce: str | None = None  # a run's value from its epochs': max, sum or first; None: the runner's
    axis: str | None = None  # the cost axis it measures (declared in bench.costs.axes or a tracker's file)
    device: str | None = None  # the device type whose axis it is (cuda or cpu); None: any
    exact: bool = False  # a count, not a measurement: it has no spread
    console: bool = False  # a column of `bench run`'s table
    report: bool = False  # a column of the report's table of runs
    noun: str = ""  # what an axis column measures, in words ("training time")
    method: str | None = None  # the column saying how it was measured: "failed" there empties it

    @property
    def higher_is_better(self) -> bool:
        return self.unit.endswith("/s")  # throughput; every other cost is better lower


REDUCTIONS = {
    "max": "the run's is the highest epoch's",
    "sum": "the run's is the sum over epochs",
    "first": "the run's is the first epoch's that has one",
}

# What the executor measures itself, around the trackers' columns.
SIZE_AND_TIME_COLUMNS = [
    CostColumn("params_total", "", "params", "parameters in the network (coefficients and intercepts of a linear model)", axis="params", exact=True, console=True, report=True, noun="parameter count"),
    CostColumn("params_trainable", "", "trainable params", "parameters with gradients", exact=True),
    CostColumn("flops_per_sample", "FLOPs", "train FLOPs / review", "estimated training FLOPs per review (see bench/costs/flops.py); empty where no formula applies", axis="flops", exact=True, noun="training FLOPs"),
    CostColumn("train_time_s", "s", "train time s", "training wall time summed over epochs, seconds (evaluation excluded)", axis="time", report=True, noun="training time"),
    CostColumn("epoch_time_s_mean", "s", "s/epoch", "mean training wall time per epoch, seconds", console=True, report=True),
    CostColumn("eval_time_s", "s", "eval time s", "evaluation wall time summed over epochs, seconds"),
]  # fmt: skip
SPEED_COLUMNS = [
    CostColumn("train_samples_per_s", "reviews/s", "rev/s", "training reviews per second", console=True, report=True),
    CostColumn("train_tokens_per_s", "tokens/s", "tokens/s", "training non-padding tokens per second"),
    CostColumn("eval_samples_per_s", "reviews/s", "eval rev/s", "evaluation reviews per second"),
    CostColumn("latency_ms_p50_bs1", "ms", "latency p50 bs1 ms", "inference latency of one review, median, ms", axis="latency", noun="latency of one review"),
    CostColumn("latency_ms_p90_bs1", "ms", "latency p90 bs1 ms", "inference latency of one review, 90th percentile, ms"),
    CostColumn("latency_ms_p50_batch", "ms", "latency p50 batch ms", "inference latency of one batch of batch_size, median, ms"),
    CostColumn("latency_ms_p90_batch", "ms", "latency p90 batch ms", "inference latency of one batch of batch_size, p90, ms"),
    CostColumn("serve_s_per_1k", "s", "serve s/1k", "inference seconds per 1,000 test reviews at the serving batch (serve_batch): length-sorted, each batch padded to its longest; the median of serve_passes passes after one warm-up batch", report=True),
    CostColumn("mfu", "", "MFU", "model FLOPs utilisation against the GPU's peak, in [0, 1]; empty on a CPU"),
]  # fmt: skip


def device_type(device: object) -> str:
    """cpu, or cuda for a row whose device names a GPU."""
    return "cpu" if device is None or str(device) in ("cpu", "nan", "") else "cuda"


@dataclass(frozen=True)
class Tracked:
    name: str  # the tracker class's
    columns: tuple[CostColumn, ...]
    for_run: Callable[[Any, Any, int | None], PolledTracker]  # (device, nvml, baseline bytes)


TRACKERS: Registry[Tracked] = Registry(
    "cost tracker", package="bench.costs", prefix=TRACKER_PREFIX, group="bench.trackers"
)
_Class = TypeVar("_Class", bound=type)


def tracked_cost(*columns: CostColumn) -> Callable[[_Class], _Class]:
    """Decorator: registers a tracker class and the columns its record fills, in their order."""

    def decorate(tracker: _Class) -> _Class:
        record: Any = getattr(tracker, "Record", None)
        if record is None or not dataclasses.is_dataclass(record) or not hasattr(tracker, "for_run"):
            raise TypeError(f"{tracker.__name__} needs a dataclass `Record` and a classmethod `for_run`")
        fields = [f.name for f in dataclasses.fields(record)]
        if fields != [c.name for c in columns]:
            raise TypeError(f"{tracker.__name__}.Record's fields {fields} must be its columns, in order")
        if any(c.reduce is None for c in columns):  # measured per epoch, so each needs a reduction
            raise TypeError(f"every column of {tracker.__name__} needs `reduce` (max, sum or first)")
        origin = f"{tracker.__module__}.{tracker.__qualname__}"
        TRACKERS.load_builtins()  # so that a plugin's clash names the built-in tracker it clashes with
        owners = {c.name: "the run's own columns" for c in (*SIZE_AND_TIME_COLUMNS, *SPEED_COLUMNS)}
        for name, known in TRACKERS.so_far().items():
            owners.update({c.name: TRACKERS.origin(name) for c in known.columns})
        for column in columns:
            if column.name in owners:  # one would silently overwrite the other in every row
                raise BenchError(
                    f"The cost column {column.name!r} is declared twice: by {owners[column.name]} and by {origin}."
                )
        entry = Tracked(tracker.__name__, columns, tracker.for_run)
        TRACKERS.register(tracker.__name__, origin=origin)(entry)
        return tracker

    return decorate


def load_trackers() -> list[Tracked]:
    """Every registered tracker (its module imported on first use), in name order."""
    TRACKERS.load()
    return [TRACKERS.get(name) for name in TRACKERS.names()]


def cost_columns() -> list[CostColumn]:
    """Every cost column, in results.csv's order."""
    tracked = [column for t in load_trackers() for column in t.columns]
    return [*SIZE_AND_TIME_COLUMNS, *tracked, *SPEED_COLUMNS]
