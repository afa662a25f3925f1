"""Text renderers of a built report: markdown, CSV and the terminal's rich tables."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from rich.table import Table

from bench.report_data import COST_METRICS, METRICS, Report
from bench.report_layout import sections


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(headers), "|" + "---|" * len(headers), *(line(r) for r in rows)])


def to_markdown(rep: Report) -> str:
    parts = [f"# Report: {', '.join(str(f.name) for f in rep.loaded.folders)}"]
    for title, note, (headers, rows) in sections(rep, "**{}**", with_ci=True):
        parts += [f"## {title}", note, markdown_table(headers, rows)] if note else [
            f"## {title}", markdown_table(headers, rows)]  # fmt: skip
    return "\n\n".join(parts) + "\n"


def to_csv(rep: Report) -> str:
    """The aggregated entries (mean/std/CI per metric), then every merged run with its source folder."""
    agg = rep.entries.assign(level=np.where(rep.entries["reference"], "reference", "model"))
    if not rep.front.empty:
        front = rep.front.rename(columns={"model": "entry"})[
            ["entry", "on_front", "tied_with", "dominated_by"]
        ]
        agg = agg.merge(front, on="entry", how="left")
    runs = rep.loaded.results.assign(level="run")
    keep = ["level", "source", "entry", "run_id", "model", "seed", "status", "error"]
    runs = runs.reindex(
        columns=[c for c in keep if c in runs.columns] + [m.key for m in METRICS + COST_METRICS]
    )
    out = pd.concat([agg, runs], ignore_index=True).dropna(axis=1, how="all")  # drop what nothing measured
    first = [c for c in keep + ["reference", "device", "seeds", "n_ok", "n_failed"] if c in out.columns]
    out = out[first + [c for c in out.columns if c not in first]]
    return str(out.to_csv(index=False, float_format="%.10g", lineterminator="\n"))


def to_rich(rep: Report) -> list[Table]:
    tables = []
    for title, note, (headers, rows) in sections(rep, "[bold green]{}[/]", with_ci=False):
        table = Table(title=title, caption=note or None, caption_justify="left")
        for i, h in enumerate(headers):
            table.add_column(h, justify="left" if i < 3 else "right", overflow="fold")
        for r in rows:
            table.add_row(*r)
        tables.append(table)
    return tables
