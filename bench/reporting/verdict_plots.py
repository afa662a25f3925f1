"""Pictures of the verdicts: every pair's accuracy difference and cost ratio, the price of a point, and
`--until-decided`'s path.

`pairs_plot` draws the report's pair rows (bench.stats.pair_table.VERDICT_COLUMNS): per pair, the
accuracy difference B - A in points with the interval its verdict read (at the pair's alpha, named in
its label), the margin, the verdict as the colour, and beside it the cost ratio B / A with its
interval. `price_plot` draws every pair's break-even price of a point with its 95% interval on one
axis: the prices at which each verdict would flip. `decisions_plot` draws decisions.csv: each pair's
interval at every look, against the margin.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")  # no display on servers and in CI; must precede pyplot

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator  # noqa: E402

from bench.stats.fieller import BOUNDED  # noqa: E402
from bench.stats.wording import percent  # noqa: E402

if TYPE_CHECKING:
    from matplotlib.axes import Axes

VERDICT_COLORS = {
    "worth it": "#1a7f37",
    "not worth it": "#cf222e",
    "equivalent": "#0969da",
    "inconclusive": "#6e7781",
}
MARGIN_COLOR = "#bf8700"
OTHER_COLORS = ["#8250df", "#bf8700", "#1b7c83", "#953800"]  # verdicts this table does not name


def verdict_colors(verdicts: pd.Series) -> dict[str, str]:
    """A colour for every verdict present: the known four fixed, any other from a palette of its own."""
    found = [str(v) for v in dict.fromkeys(verdicts)]
    others = iter(OTHER_COLORS * (1 + len(found) // len(OTHER_COLORS)))
    return {v: VERDICT_COLORS.get(v) or next(others) for v in found}


def margin_points(value: object) -> float | None:
    """The margin of a row in accuracy points, or None where it has none."""
    try:
        m = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return m if math.isfinite(m) and m > 0 else None


def _count(seeds: object) -> str:
    """A look's seeds as a count: a number as it is, a list of seeds ("0 1 2") by its length."""
    text = str(seeds).strip()
    return text if text.isdigit() else str(len(text.replace(",", " ").split()))


def pair_label(a: object, b: object, alpha: object = None) -> str:
    """`B vs A`, with the confidence of the pair's intervals where the rows give it."""
    try:
        level = f" ({percent(float(alpha))})" if alpha is not None and math.isfinite(float(alpha)) else ""  # type: ignore[arg-type]
    except (TypeError, ValueError):
        level = ""
    return f"{b} vs {a}{level}"


def pair_keys(rows: pd.DataFrame) -> pd.Series:
    """Each row's pair, whichever of its models was the cheaper at that look: `A vs B` in name order."""
    return pd.Series(
        [" vs ".join(sorted(p)) for p in zip(rows["model_a"], rows["model_b"])], index=rows.index
    )


def confidences(rows: pd.DataFrame) -> str:
    """The confidence the rows' intervals were taken at: one value, or the range."""
    if "pair_alpha" not in rows or rows.empty:
        return "95%"
    found = sorted(
        {percent(float(x)) for x in rows["pair_alpha"] if pd.notna(x)}, key=lambda t: float(t[:-1])
    )
    return found[0] if len(found) == 1 else f"{found[0]}–{found[-1]}" if found else "95%"


def ratio_ticks(ax: Axes, low: float, high: float) -> None:
    """Tick labels for a log axis of ratios that do not overlap: a few round values, plain numbers."""
    candidates = [0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]
    ticks = [t for t in candidates if low <= t <= high] or [1]
    while len(ticks) > 5:
        ticks = ticks[::2] if 1 not in ticks[::2] else ticks[::2]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}×"))
    ax.xaxis.set_minor_locator(NullLocator())


def _draw_margins(ax: Axes, margins: list[float | None], ys: np.ndarray, vertical: bool) -> bool:
    """± the margin: one line across the axes when every row has the same, else a segment per row."""
    known = [m for m in margins if m is not None]
    if not known:
        return False
    if len(set(known)) == 1 and len(known) == len(margins):
        for sign in (-1, 1):
            line = ax.axvline if vertical else ax.axhline
            line(sign * known[0], color=MARGIN_COLOR, linestyle="--", linewidth=1.2)
        return True
    for m, y in zip(margins, ys):
        if m is not None:
            for sign in (-1, 1):
                segment = ax.vlines if vertical else ax.hlines
                segment(sign * m, y - 0.4, y + 0.4, colors=MARGIN_COLOR, linestyles="--", linewidth=1.2)
    return True


def pairs_plot(pairs: pd.DataFrame) -> Figure:
    """Per pair, the accuracy difference with its interval and the margin, and the cost ratio beside it."""
    n = len(pairs)
    fig, (acc_ax, cost_ax) = plt.subplots(
        1, 2, figsize=(9.5, 1.4 + 0.55 * n), sharey=True, gridspec_kw={"width_ratios": [3, 2]}
    )
    ys = np.arange(n)[::-1].astype(float)  # the first pair on top
    colors = verdict_colors(pairs["verdict"])
    margins: list[float | None] = (
        [margin_points(v) for v in pairs["margin"]] if "margin" in pairs else [None] * n
    )
    for y, (_, r) in zip(ys, pairs.iterrows()):
        color = colors[str(r["verdict"])]
        diff, low, high = (100 * float(r[k]) for k in ("acc_diff", "acc_diff_ci_low", "acc_diff_ci_high"))
        if math.isfinite(low) and math.isfinite(high):
            acc_ax.errorbar(diff, y, xerr=[[diff - low], [high - diff]], fmt="o", color=color, capsize=4,
                            markersize=7, elinewidth=2)  # fmt: skip
        else:  # a pair the statistics refuse to compare (one seed against two): no interval, hollow
            acc_ax.plot(diff, y, "o", markerfacecolor="white", markeredgecolor=color, markersize=7)
        ratio, c_low, c_high = (float(r[k]) for k in ("cost_ratio", "cost_ci_low", "cost_ci_high"))
        if math.isfinite(c_low) and math.isfinite(c_high) and c_low > 0:
            cost_ax.errorbar(ratio, y, xerr=[[ratio - c_low], [c_high - ratio]], fmt="s", color=color,
                             capsize=4, markersize=6, elinewidth=2)  # fmt: skip
        else:  # one replicate: no interval, drawn hollow
            cost_ax.plot(ratio, y, "s", markerfacecolor="white", markeredgecolor=color, markersize=6)
    acc_ax.axvline(0, color="black", linewidth=0.8)
    has_margin = _draw_margins(acc_ax, margins, ys, vertical=True)
    alphas = pairs["pair_alpha"] if "pair_alpha" in pairs else [None] * n
    acc_ax.set_yticks(
        ys, [pair_label(a, b, al) for a, b, al in zip(pairs["model_a"], pairs["model_b"], alphas)]
    )
    acc_ax.set_ylim(-0.7, n - 0.3)
    level = confidences(pairs)
    acc_ax.set_xlabel(f"accuracy B − A, points ({level} intervals, as the verdicts read them)")
    acc_ax.grid(axis="x", alpha=0.3)
    cost_ax.axvline(1, color="black", linewidth=0.8)
    cost_ax.set_xscale("log")
    shown = pd.concat([pairs["cost_ratio"], pairs["cost_ci_low"], pairs["cost_ci_high"]]).astype(float)
    shown = shown[np.isfinite(shown) & (shown > 0)]
    if len(shown):
        low, high = float(shown.min()), float(shown.max())
        cost_ax.set_xlim(low / 1.3, high * 1.3)
        ratio_ticks(cost_ax, low / 1.3, high * 1.3)
    noun = str(pairs["cost"].iloc[0]) if "cost" in pairs and n else "cost"
    cost_ax.set_xlabel(f"{noun}, B / A ({level}; hollow: no interval)")
    cost_ax.grid(axis="x", alpha=0.3, which="both")
    handles = [Line2D([], [], marker="o", linestyle="", color=c, label=v) for v, c in colors.items()]
    if has_margin:
        handles.append(Line2D([], [], color=MARGIN_COLOR, linestyle="--", label="± margin"))
    height = fig.get_figheight()
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8, frameon=False)
    fig.suptitle("Is it worth it? B is the costlier model of each pair", fontsize=10)
    fig.tight_layout(rect=(0, 0.4 / height, 1, 1))
    return fig


def decisions_plot(decisions: pd.DataFrame, margins: Mapping[tuple[str, str], float | None]) -> Figure:
    """Each pair's accuracy interval at every look of `--until-decided`, against the margin."""
    groups = [
        ((str(g["model_a"].iloc[-1]), str(g["model_b"].iloc[-1])), g.sort_values("look"))
        for _, g in decisions.groupby(pair_keys(decisions), sort=False)
    ]
    n = len(groups)
    cols = min(n, 2)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.8 * cols, 3.0 * rows), squeeze=False)
    colors = verdict_colors(decisions["verdict"])
    has_margin = False
    for ax, ((a, b), g) in zip(axes.flat, groups):
        g = g.sort_values("look")
        looks = g["look"].to_numpy(dtype=float)
        diff, low, high = (
            100 * g[k].to_numpy(dtype=float) for k in ("acc_diff", "acc_diff_ci_low", "acc_diff_ci_high")
        )
        ax.plot(looks, diff, "-", color="#aaaaaa", linewidth=1, zorder=1)
        for x, d, lo, hi, v in zip(looks, diff, low, high, g["verdict"]):
            ax.errorbar(x, d, yerr=[[d - lo], [hi - d]], fmt="o", color=colors[str(v)], capsize=4,
                        markersize=5, elinewidth=2, zorder=2)  # fmt: skip
        ax.axhline(0, color="black", linewidth=0.8)
        margin = margins.get((str(a), str(b)))
        if margin is None and "margin" in g:
            margin = margin_points(g["margin"].iloc[-1])
        has_margin |= _draw_margins(ax, [margin], looks, vertical=False)
        seeds = [
            f"{int(x)}\n{_count(sa)}+{_count(sb)}" for x, sa, sb in zip(looks, g["seeds_a"], g["seeds_b"])
        ]
        ax.set_xticks(looks, seeds, fontsize=7)
        ax.set_xlabel("look (seeds of A + B)", fontsize=8)
        ax.set_ylabel("accuracy B − A, points", fontsize=8)
        ax.set_title(pair_label(a, b), fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    handles = [Line2D([], [], marker="o", linestyle="", color=c, label=v) for v, c in colors.items()]
    if has_margin:
        handles.append(Line2D([], [], color=MARGIN_COLOR, linestyle="--", label="± margin"))
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8, frameon=False)
    fig.suptitle(
        f"The decision path: each pair's interval at every look, at its level ({confidences(decisions)})",
        fontsize=10,
    )
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig


def price_plot(pairs: pd.DataFrame) -> Figure:
    """Every pair's break-even price of a point (B's extra cost per point of accuracy it gains) with its
    95% Fieller interval, on one log axis: worth it to whoever values a point above the price. An
    interval that reaches zero gain is unbounded, drawn as an arrow to the axis' end."""
    rows = pairs[:0]
    if "break_even" in pairs:
        rows = pairs[pd.to_numeric(pairs["break_even"], errors="coerce") > 0]
    n = len(rows)
    fig, ax = plt.subplots(figsize=(8.5, 1.4 + 0.5 * max(n, 1)))
    colors = verdict_colors(rows["verdict"]) if n else {}
    ys = np.arange(n)[::-1].astype(float)
    unit = str(rows["cost_unit"].iloc[0]) if n and "cost_unit" in rows else ""
    noun = str(rows["cost"].iloc[0]) if n and "cost" in rows else "cost"
    values = pd.to_numeric(rows["break_even"], errors="coerce") if n else pd.Series(dtype=float)
    top = float(values.max()) * 50 if n else 10.0
    for y, (_, r) in zip(ys, rows.iterrows()):
        price = float(r["break_even"])
        color = colors[str(r["verdict"])]
        if r.get("break_even_kind") == BOUNDED and float(r["break_even_low"]) > 0:
            low, high = float(r["break_even_low"]), float(r["break_even_high"])
            ax.errorbar(price, y, xerr=[[price - low], [high - price]], fmt="o", color=color, capsize=4)
        else:  # unbounded: the gain may be 0, so no price is high enough to be sure
            ax.plot(price, y, "o", color=color)
            ax.annotate("", xy=(top, y), xytext=(price, y), arrowprops={"arrowstyle": "->", "color": color})
    ax.set_xscale("log")
    ax.set_yticks(ys, [pair_label(a, b) for a, b in zip(rows["model_a"], rows["model_b"])] if n else [])
    ax.set_ylim(-0.7, max(n, 1) - 0.3)
    ax.set_xlabel(f"{noun} per point of accuracy ({unit or 'count'}; 95% Fieller intervals)")
    ax.grid(axis="x", alpha=0.3, which="both")
    if not n:
        ax.text(0.5, 0.5, "no pair in which the costlier model is more accurate", ha="center",
                transform=ax.transAxes)  # fmt: skip
    handles = [Line2D([], [], marker="o", linestyle="", color=c, label=v) for v, c in colors.items()]
    if handles:
        fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8, frameon=False)
    fig.suptitle(
        "The price of a point: B is worth it to whoever values a point of accuracy above it", fontsize=10
    )
    fig.tight_layout(rect=(0, 0.4 / fig.get_figheight(), 1, 1))
    return fig
