"""The cost axes every run has: training time, peak memory, parameters and FLOPs. Each reads the
column that names it (bench.costs.columns): memory is GPU memory on a GPU and peak RSS on a CPU.
This module is the first `axis_*` by name, so these come first in `--cost`'s choices."""

from __future__ import annotations

from bench.costs.axes import Axis, cost_axis

cost_axis(Axis("time", "training time", "s", "training wall time summed over epochs (train_time_s)"))
cost_axis(Axis("memory", "peak memory", "MiB", "peak GPU memory on a GPU, peak host RSS on a CPU"))
cost_axis(Axis("params", "parameter count", "", "parameters in the network (params_total)", exact=True))
cost_axis(
    Axis("flops", "training FLOPs", "FLOPs", "training FLOPs per review (flops_per_sample)", exact=True)
)
