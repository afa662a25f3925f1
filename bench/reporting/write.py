"""`bench report`: build the report from results folders and write it in one format, with its plots."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from bench import atomic
from bench.config import ReportSettings
from bench.errors import BenchError, one_line
from bench.readable import FOLDER, MISSING, what_is_there
from bench.reporting import max_len, plots
from bench.reporting.formats import Printed, RenderOptions, load_formats
from bench.reporting.report import Report, build


def write_figures(rep: Report, folder: Path) -> dict[str, Path]:
    """Every figure of the report, the answer across max_len of a sweep folder's included."""
    problem = what_is_there(folder)
    if problem not in (MISSING, FOLDER):
        there = "is a file" if problem is None else problem
        raise BenchError(
            f"{folder} {there}; the report writes its plots in a folder there: move it, or give --out."
        )
    try:
        return {**plots.write_all(rep, folder), **max_len.figure(rep, folder)}
    except OSError as exc:  # a read-only folder, a full disk
        raise BenchError(f"cannot write the plots to {folder} ({one_line(exc)}); give --out DIR.") from None


def report_file(out: Path | None, first_folder: Path, extension: str) -> Path:
    """Where a report written to a file goes: `out`, or report.EXT inside it where `out` is a folder
    (as for the printed report's plots), or beside the first results folder's rows."""
    if out is None:
        return first_folder / f"report.{extension}"
    problem = what_is_there(out)
    if problem == FOLDER:
        return out / f"report.{extension}"
    if problem not in (None, MISSING):
        raise BenchError(f"--out {out} {problem}; give a file or a folder to write the report to.")
    return out


def write_report(
    folders: Sequence[Path],
    fmt_name: str = "table",
    out: Path | None = None,
    settings: ReportSettings | None = None,
) -> Path | None:
    """Build the report, write its plots beside it and render it; the file written (None: printed,
    fitted to the terminal's width, or with every column with `settings.wide`)."""
    settings = settings or ReportSettings()
    fmt = load_formats().get(fmt_name)  # an unknown name: a BenchError with did-you-mean
    rep = build(folders, settings)
    err = Console(stderr=True)
    options = RenderOptions(Console().width, settings.wide)
    if fmt.extension is None:
        plot_dir = out or rep.loaded.folders[0]
        figures = write_figures(rep, plot_dir / "plots")
        printed = fmt.render(rep, figures, options)
        assert isinstance(printed, Printed), f"format {fmt.name} prints, so its renderer returns Printed"
        console = Console(width=max(printed.width, options.width))  # --wide: whole lines, maybe wrapped
        for part in printed.parts:
            console.print(part)
        err.print(f"wrote {len(figures)} plots to {plot_dir / 'plots'}")
        return None
    file = report_file(out, rep.loaded.folders[0], fmt.extension)
    figures = write_figures(rep, file.parent / "plots")
    text = fmt.render(rep, figures, options)
    assert isinstance(text, str), f"format {fmt.name} writes a file, so its renderer returns text"
    try:
        atomic.write_text(file, text)
    except OSError as exc:
        raise BenchError(f"cannot write {file} ({one_line(exc)}); give --out FILE.") from None
    err.print(f"wrote {file} and {len(figures)} plots to {file.parent / 'plots'}")
    return file
