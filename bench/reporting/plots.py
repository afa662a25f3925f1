"""Report figures with matplotlib's Agg backend: the verdicts, training curves, accuracy against cost,
total cost against volume, sweeps (the figures themselves in bench.reporting.curves, verdict_plots and
volume_plot for the first two and the volume's).

Each figure is written as PNG and SVG; `write_all` returns the PNG paths by figure name.
"""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on servers and in CI; must precede pyplot

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from bench.costs.axes import group_axis  # noqa: E402
from bench.reporting.curves import COLORS, training_curves  # noqa: E402
from bench.reporting.data import PAPER_DEVICE, PAPER_TASK  # noqa: E402
from bench.reporting.report import Report  # noqa: E402
from bench.reporting.verdict_plots import (  # noqa: E402
    decisions_plot,
    margin_points,
    pair_keys,
    pairs_plot,
    price_plot,
)
from bench.reporting.volume_plot import volume_plot  # noqa: E402


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "model"


def save(fig: Figure, folder: Path, name: str) -> Path:
    """PNG and SVG side by side; metadata pinned so reruns give the same bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    png = folder / f"{name}.png"
    fig.savefig(png, dpi=120, bbox_inches="tight", metadata={"Software": None})
    fig.savefig(folder / f"{name}.svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    return png


def _interval(row: pd.Series, key: str, at: float) -> np.ndarray | None:
    """An error bar around `at` from an entry's 95% t interval of `key`; none from one seed."""
    low, high = row.get(f"{key}_ci_low"), row.get(f"{key}_ci_high")
    if low is None or high is None or not (np.isfinite(low) and np.isfinite(high)):
        return None
    return np.array([[max(at - low, 0.0)], [max(high - at, 0.0)]])


def cost_plot(rep: Report) -> Figure:
    """Mean test accuracy against cost, with each front; with two or more seeds, each point carries
    its 95% t interval on both axes."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    entries = rep.entries.set_index("entry")
    styles = ["-", "--", ":"]
    for g, (group, front) in enumerate(rep.front.groupby("group", sort=False)):
        on = front[front["on_front"]].sort_values("cost")
        several = rep.front["group"].nunique() > 1
        label = f"front ({group_axis(str(group), rep.costing).header})" if several else "front"
        ax.plot(on["cost"], on["accuracy"], styles[g % 3], color="black", linewidth=1, alpha=0.5, label=label)
    for i, (_, r) in enumerate(rep.front.iterrows()):
        row = entries.loc[r["model"]]
        err = _interval(row, "test_accuracy", r["accuracy"])
        xerr = _interval(row, f"axis_{rep.cost}", r["cost"])  # seeds' t interval of the cost
        ax.errorbar(
            r["cost"], r["accuracy"], yerr=err, xerr=xerr, fmt="o" if r["on_front"] else "x",
            color=COLORS[i % len(COLORS)], capsize=3, markersize=7, label=r["model"],
        )  # fmt: skip
    for _, r in rep.entries[rep.entries["reference"] == "majority"].iterrows():
        ax.axhline(r["test_accuracy_mean"], color="grey", linestyle=":", linewidth=1, label=r["entry"])
    papers = rep.entries[rep.entries["reference"] == "paper"].dropna(subset=[f"axis_{rep.cost}_mean"])
    if len(papers):
        comparable = bool(papers["comparable"].all())
        label = f"paper ({PAPER_TASK}, {PAPER_DEVICE})" + (
            "" if comparable else ": not comparable, another task"
        )
        ax.scatter(papers[f"axis_{rep.cost}_mean"], papers["test_accuracy_mean"], marker="s",
                   facecolors="none", edgecolors="grey", label=label)  # fmt: skip
        for _, r in papers.iterrows():
            ax.annotate(
                r["entry"], (r[f"axis_{rep.cost}_mean"], r["test_accuracy_mean"]), fontsize=7, color="grey"
            )
    costs = pd.concat([rep.front["cost"], papers[f"axis_{rep.cost}_mean"]]).dropna()
    if len(costs) and costs.min() > 0 and costs.max() / costs.min() > 20:
        ax.set_xscale("log")  # the paper's GPU hours and a CPU smoke run differ by orders of magnitude
    axes = [group_axis(g, rep.costing) for g in rep.front["group"]]
    ax.set_xlabel(" / ".join(dict.fromkeys(f"{a.noun} ({a.unit})" for a in axes)))
    ax.set_ylabel("test accuracy")
    ax.grid(alpha=0.3)
    ax.set_title("Accuracy against cost (o on the front, x dominated)", fontsize=10)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig


def budget_plot(budget: pd.DataFrame) -> Figure:
    """Expected best validation accuracy after n trials against the training time they took."""
    fig, ax = plt.subplots(figsize=(7, 4))
    for i, ((study, model), g) in enumerate(budget.groupby(["study", "model"], sort=False)):
        color = COLORS[i % len(COLORS)]
        ax.plot(g["cumulative_cost"], g["expected_max"], "o-", color=color, label=f"{model} ({study})")
        ax.fill_between(
            g["cumulative_cost"], g["band_low"], g["band_high"], color=color, alpha=0.15, linewidth=0
        )
    ax.set_xlabel("training time of n trials (s)")
    ax.set_ylabel("expected best validation accuracy")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("Budget: expected best of n trials (Dodge et al. 2019; band: bootstrap 95%)", fontsize=10)
    fig.tight_layout()
    return fig


def sweep_plot(sweep: pd.DataFrame, x: str) -> Figure:
    """Validation accuracy against one swept setting per model; with max_len, the truncated share too."""
    fig, ax = plt.subplots(figsize=(7, 4))
    ok = sweep[sweep["status"] == "ok"].sort_values(x)
    for i, (model, g) in enumerate(ok.groupby("model", sort=False)):
        color = COLORS[i % len(COLORS)]
        # Other settings vary too: every trial as a dot, the line through the best trial at each value.
        ax.scatter(g[x], g["val_accuracy"], color=color, alpha=0.5, s=20)
        top = g.groupby(x)["val_accuracy"].max()
        ax.plot(top.index, top.to_numpy(), "o-", color=color, label=f"{model} (best trial per value)")
    ax.set_xlabel(x)
    ax.set_ylabel("validation accuracy")
    ax.grid(alpha=0.3)
    if x == "lr":
        ax.set_xscale("log")
    if x == "max_len" and "truncated_test_share" in ok and ok["truncated_test_share"].notna().any():
        share = ok.groupby("max_len")["truncated_test_share"].mean()
        twin = ax.twinx()
        twin.plot(share.index, 100 * share.to_numpy(), "s--", color="grey", label="truncated test reviews")
        twin.set_ylabel("truncated test reviews (%)", color="grey")
        twin.set_ylim(0, 100)
        twin.legend(fontsize=8, loc="lower right")
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title(f"Sweep: accuracy against {x}", fontsize=10)
    fig.tight_layout()
    return fig


def write_all(rep: Report, folder: Path) -> dict[str, Path]:
    """Every figure the report has data for, as `folder/<name>.png` and `.svg`."""
    written: dict[str, Path] = {}
    if not rep.pairs.empty:
        written["pairs"] = save(pairs_plot(rep.pairs), folder, "pairs")
        if (pd.to_numeric(rep.pairs["break_even"], errors="coerce") > 0).any():
            written["price"] = save(price_plot(rep.pairs), folder, "price")
    decisions = rep.loaded.decisions
    if not decisions.empty and decisions.groupby(pair_keys(decisions))["look"].nunique().max() > 1:
        margins = {
            (str(r["model_a"]), str(r["model_b"])): margin_points(r.get("margin"))
            for _, r in rep.pairs.iterrows()
        }
        written["decisions"] = save(decisions_plot(decisions, margins), folder, "decisions")
    ep = rep.loaded.epochs
    if not ep.empty and "entry" in ep:
        ours = ep[ep["entry"].isin(set(rep.entries["entry"]))]
        steps = rep.loaded.steps
        for entry, g in ours.groupby("entry", sort=False):
            mine = steps[steps["entry"] == entry] if "entry" in steps else steps
            fig = training_curves(g, mine, str(entry))
            if fig is not None:  # none where every series would be one point
                name = f"curves-{slug(str(entry))}"
                written[name] = save(fig, folder, name)
    if not rep.front.empty:
        written[f"cost-{rep.cost}"] = save(cost_plot(rep), folder, f"cost-{rep.cost}")
    if rep.volume is not None and len(rep.volume.grid) and len(rep.volume.lines) >= 2:
        written["volume"] = save(volume_plot(rep.volume), folder, "volume")
    if not rep.budget.empty:
        written["budget"] = save(budget_plot(rep.budget), folder, "budget")
    sweep = rep.sweep
    for x in ("max_len", "lr"):
        if not sweep.empty and x in sweep and sweep.loc[sweep["status"] == "ok", x].nunique() > 1:
            written[f"sweep-{x}"] = save(sweep_plot(sweep, x), folder, f"sweep-{x}")
    return written
