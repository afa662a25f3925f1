"""Text renderers of a built report: markdown and CSV (the terminal's tables: render_terminal)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from bench.reporting import max_len
from bench.reporting.data import TARGET_METRICS, metrics
from bench.reporting.formats import RenderOptions, report_format
from bench.reporting.layout import sections
from bench.reporting.report import Report
from bench.reporting.volumes import CROSSOVER_COLUMNS
from bench.stats.pair_table import VERDICT_COLUMNS


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    if not headers:  # a list of sentences
        return "\n".join(f"- {r[0]}" for r in rows)

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(headers), "|" + "---|" * len(headers), *(line(r) for r in rows)])


@report_format("markdown", extension="md")
def to_markdown(
    rep: Report, figures: dict[str, Path] | None = None, options: RenderOptions | None = None
) -> str:
    parts = [f"# Report: {', '.join(str(f.name) for f in rep.loaded.folders)}"]
    for title, note, (headers, rows) in sections(rep, with_ci=True):
        parts += [f"## {title}", *([note] if note else []), markdown_table(headers, rows)]
    return "\n\n".join(parts) + "\n"


@report_format("csv", extension="csv")
def to_csv(rep: Report, figures: dict[str, Path] | None = None, options: RenderOptions | None = None) -> str:
    """One file, a `level` column telling its parts apart: `model` and `reference` rows (mean, std and
    t interval per metric; with on_front and dominated_by), every merged `run`, every `pair` (the
    verdict columns) and the sweeps' `budget` curves."""
    entries = rep.entries.assign(level=[r or "model" for r in rep.entries["reference"]])
    if not rep.front.empty:
        front = rep.front.rename(columns={"model": "entry"})[["entry", "on_front", "dominated_by"]]
        entries = entries.merge(front, on="entry", how="left")
    runs = rep.loaded.results.assign(level="run")
    keep = ["level", "source", "entry", "run_id", "model", "seed", "status", "error", "warning", "task"]
    keys = [m.key for m in metrics() + TARGET_METRICS]
    runs = runs.reindex(columns=[c for c in keep if c in runs.columns] + keys)
    every_pair = pd.concat([p for p in (rep.pairs, max_len.pair_rows(rep)) if not p.empty] or [rep.pairs])
    pair_columns = ["level", *VERDICT_COLUMNS, "group", *CROSSOVER_COLUMNS]
    pairs = every_pair.assign(level="pair").reindex(columns=pair_columns)
    budget = rep.budget.assign(level="budget") if not rep.budget.empty else pd.DataFrame()
    parts = [p for p in (entries, runs, pairs, budget) if not p.empty]
    out = pd.concat(parts, ignore_index=True)
    # Drop what nothing measured, but keep the accuracy columns: one seed's empty interval says so.
    kept = [c for c in out.columns if c.startswith(("test_accuracy_", "test_macro_f1_"))]
    out = out[[c for c in out.columns if c in kept or out[c].notna().any()]]
    first = [c for c in keep + ["reference", "device", "seeds", "n_ok", "n_failed"] if c in out.columns]
    out = out[first + [c for c in out.columns if c not in first]]
    return str(out.to_csv(index=False, float_format="%.8g", lineterminator="\n"))
