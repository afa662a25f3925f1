"""The terminal report (`bench report`): the layout's sections as rich tables that read at 80 columns.

Rich fits a table that is too wide by wrapping cells, which breaks headers, names and numbers
mid-word ("acc / ura / cy", "8,333,3 / 14"). Here no cell is ever wrapped: a column is as wide as its
widest cell (a header wraps between its words only), long notes in cells become numbered footnotes
under the table, and columns that still do not fit are left out in the order of DROP_ORDER, and the
report says which and how to see them (`--wide`, or the CSV).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rich import box
from rich.cells import cell_len
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from bench.reporting.formats import Printed, RenderOptions, report_format
from bench.reporting.layout import sections
from bench.reporting.report import Report

FOOTNOTE_AT = 16  # a text cell longer than this becomes a footnote under its table, but names stay
NAMES = {"model", "A (cheaper)", "B (costlier)", "dominated by", "settings", "study", "run", "verdict"}
# Columns left out first when a table is wider than the terminal, by header (bench.reporting.layout):
# costs the sentences or other columns already give, then detail. A column not named here goes after
# these, rightmost first; the first column and KEEP never go.
DROP_ORDER = [
    "energy to target J", "time to target s", "rev/s", "s/epoch", "train g CO2e", "CPU energy J",
    "serve s/1k", "device", "runs", "energy J", "macro-F1 %", "task", "GPU MiB", "RSS MiB",  # Runs
    "p", "test items", "interval", "detectable, points", "p (adjusted)", "seeds",  # Pairs
    "cost per point [95% CI]",
    "study", "cut test %", "p vs best (val)", "status",  # Sweep
    "95% band",  # Budget
    "judged among", "dominated by",  # Front
    "run",  # Failures
    "params", "cost B / A [CI]", "serve $ / 1M", "train $",
]  # fmt: skip
KEEP = {"accuracy %", "B (costlier)", "accuracy B − A, points [CI]", "verdict", "val acc %", "warning"}
NUMBER = re.compile(r"^[-+−≈\d.,\[][^A-Za-z]*([A-Za-z][^A-Za-z]*)?$")  # numbers, maybe with a unit ("s")
BOX_EXTRA = 3  # a rich table's padding and rule per column (and one more for the right edge)


@dataclass
class Fitted:
    """A table fitted to a width: the columns kept, their cells with footnote marks, the notes."""

    kept: list[int]
    headers: list[str]
    rows: list[list[str]]
    footnotes: list[str] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)

    def widths(self) -> list[int]:
        """Each column as wide as its widest cell or the longest word of its header."""
        return [
            max([max(cell_len(w) for w in h.split() or [""])] + [cell_len(r[i]) for r in self.rows])
            for i, h in enumerate(self.headers)
        ]

    def width(self) -> int:
        return sum(self.widths()) + BOX_EXTRA * len(self.headers) + 1


def is_note(header: str, text: str) -> bool:
    return cell_len(text) > FOOTNOTE_AT and not NUMBER.match(text) and header not in NAMES


def fit_with(headers: Sequence[str], rows: Sequence[Sequence[str]], kept: list[int]) -> Fitted:
    """The kept columns, each long note replaced by a mark ([1]) in its cell, or after the row's name
    where its column is left out."""
    notes: list[str] = []

    def mark(text: str) -> str:
        if text not in notes:
            notes.append(text)
        return f"[{notes.index(text) + 1}]"

    out = []
    for row in rows:
        cells = {i: row[i] for i in kept}
        moved = []
        for i, text in enumerate(row):
            if i == 0 or not is_note(headers[i], text):
                continue
            if i in cells:
                cells[i] = mark(text)
            elif text.startswith("reference"):  # what a reference row is stays, marked on its name
                moved.append(mark(text))
        out.append([cells[0] + "".join(f" {m}" for m in moved)] + [cells[i] for i in kept[1:]])
    left_out = [h for i, h in enumerate(headers) if i not in kept]
    return Fitted(kept, [headers[i] for i in kept], out, notes, left_out)


def drop_order(headers: Sequence[str]) -> list[int]:
    named = [headers.index(h) for h in DROP_ORDER if h in headers]
    rest = [i for i in reversed(range(1, len(headers))) if i not in named and headers[i] not in KEEP]
    return [i for i in named if i > 0 and headers[i] not in KEEP] + rest


def fit(headers: Sequence[str], rows: Sequence[Sequence[str]], width: int | None) -> Fitted:
    """The table fitted to `width` columns (None: every column). The first column and KEEP stay; the
    others are taken in, most important first (the reverse of `drop_order`), each that still fits."""
    if width is None:
        return fit_with(headers, rows, list(range(len(headers))))
    order = drop_order(headers)
    kept = [i for i in range(len(headers)) if i not in order]
    fitted = fit_with(headers, rows, kept)
    for i in reversed(order):
        if all(is_note(headers[i], r[i]) or r[i] == "–" for r in rows):
            continue  # a column of footnote marks alone says nothing at a glance
        trial = fit_with(headers, rows, sorted([*kept, i]))
        if trial.width() <= width:
            kept, fitted = sorted([*kept, i]), trial
    fitted.left_out = [headers[i] for i in order if i not in kept]  # in the order they are left out
    return fitted


def table(fitted: Fitted) -> Table:
    t = Table(box=box.HEAVY_HEAD, padding=(0, 1), show_edge=True, expand=False)
    for i, (header, w) in enumerate(zip(fitted.headers, fitted.widths())):
        cells = [r[i] for r in fitted.rows if r[i] != "–"]
        numeric = i > 0 and bool(cells) and all(NUMBER.match(c) for c in cells)
        t.add_column(header, justify="right" if numeric else "left", width=w, no_wrap=False, overflow="fold")
    for r in fitted.rows:
        t.add_row(*r)
    return t


def hanging(mark: str, text: str, style: str = "") -> Table:
    """`mark` then `text`, wrapped between words under its own first line."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    grid.add_row(Text(mark, style=style), Text(text, style=style))
    return grid


def left_out_note(title: str, left_out: list[str], width: int) -> str:
    names = ", ".join(f'"{h}"' for h in left_out)
    return (
        f"{title}: left out at {width} columns, in this order: {names}. `bench report --wide` shows "
        "every column; `bench report --format csv` writes them all."
    )


def terminal_report(rep: Report, width: int, wide: bool = False) -> tuple[list[RenderableType], int]:
    """The report's parts to print, and the console width to print them at: `width`, or with `wide`
    the widest table's where that is wider (every column shown; the terminal may wrap the lines)."""
    parts: list[RenderableType] = []
    needed = width
    for title, note, (headers, rows) in sections(rep, with_ci=False):
        parts.append(Text(title, style="bold"))
        if not headers:  # a list of sentences
            parts.append(Group(*(hanging("•", r[0]) for r in rows)))
        else:
            fitted = fit(headers, rows, None if wide else width)
            needed = max(needed, fitted.width())
            parts.append(table(fitted))
            notes = [hanging(f"[{k}]", text) for k, text in enumerate(fitted.footnotes, 1)]
            if fitted.left_out:
                notes.append(hanging("*", left_out_note(title, fitted.left_out, width), "italic"))
            if notes:
                parts.append(Group(*notes))
        if note:
            parts.append(Text(note, style="dim"))
        parts.append(Text(""))
    return parts, needed


@report_format("table")
def to_terminal(
    rep: Report, figures: dict[str, Path] | None = None, options: RenderOptions | None = None
) -> Printed:
    """The terminal's report: fitted to `options.width`, or every column with `options.wide`."""
    options = options or RenderOptions()
    parts, width = terminal_report(rep, options.width, options.wide)
    return Printed(parts, width)
