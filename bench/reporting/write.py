"""`bench report`: build the report from results folders and write it in one format, with its plots."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from bench import atomic
from bench.errors import BenchError
from bench.reporting import plots
from bench.reporting.data import build
from bench.reporting.render_html import to_html
from bench.reporting.render_text import to_csv, to_markdown, to_rich
from bench.stats.cost import DEFAULT_COST_NOISE
from bench.stats.verdicts import DEFAULT_MARGIN

FORMATS = ("table", "csv", "markdown", "html")
EXTENSIONS = {"csv": "csv", "markdown": "md", "html": "html"}


def make_report(
    folders: Sequence[Path],
    fmt_name: str = "table",
    out: Path | None = None,
    cost: str = "time",
    target: float | None = None,
    margin: float = DEFAULT_MARGIN,
    cost_noise: float = DEFAULT_COST_NOISE,
) -> Path | None:
    """Build the report, write its plots beside it and render it; the file written (None: table)."""
    if fmt_name not in FORMATS:
        raise BenchError(f"--format must be one of {', '.join(FORMATS)}, not {fmt_name!r}.")
    rep = build(folders, cost, target, margin, cost_noise)
    err = Console(stderr=True)
    if fmt_name == "table":
        plot_dir = out or rep.loaded.folders[0]
        figures = plots.write_all(rep, plot_dir / "plots")
        for table in to_rich(rep):
            Console().print(table)
        err.print(f"wrote {len(figures)} plots to {plot_dir / 'plots'}")
        return None
    file = out or rep.loaded.folders[0] / f"report.{EXTENSIONS[fmt_name]}"
    figures = plots.write_all(rep, file.parent / "plots")
    renderers = {"csv": to_csv, "markdown": to_markdown, "html": lambda r: to_html(r, figures)}
    atomic.write_text(file, renderers[fmt_name](rep))
    err.print(f"wrote {file} and {len(figures)} plots to {file.parent / 'plots'}")
    return file
