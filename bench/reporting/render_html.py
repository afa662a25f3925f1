"""The HTML report: one self-contained file (inline CSS, plots as base64 PNG) that opens offline."""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from bench.reporting.formats import RenderOptions, report_format
from bench.reporting.layout import sections
from bench.reporting.report import Report
from bench.stats.metrics import confusion_matrix

# On a phone the text wraps and never scrolls sideways: a wide table scrolls inside its own box, and
# figures shrink to the page.
STYLE = """
body { font-family: system-ui, -apple-system, Segoe UI, sans-serif; margin: 2rem auto; max-width: 72rem;
       color: #1d1d1f; padding: 0 1rem; overflow-wrap: anywhere; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #ddd; }
.scroll { max-width: 100%; overflow-x: auto; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; font-size: 0.85rem; overflow-wrap: normal; }
th, td { padding: 0.3rem 0.6rem; border-bottom: 1px solid #eee; text-align: right; }
td.num { white-space: nowrap; }
th { background: #f5f5f7; } td:first-child, th:first-child { text-align: left; }
tr.reference td { color: #6e6e73; font-style: italic; }
p.note { color: #555; font-size: 0.85rem; max-width: 60rem; }
.plots { display: flex; flex-wrap: wrap; gap: 0.5rem 1rem; align-items: flex-start; }
figure { margin: 0.5rem 0; max-width: 100%; min-width: 0; }
figure img { display: block; max-width: 100%; height: auto; border: 1px solid #eee; }
figure.verdicts img { max-width: min(100%, 60rem); }
figcaption { font-size: 0.8rem; color: #555; }
.cm td { width: 3.5rem; text-align: center; }
"""
NUMERIC = re.compile(r"^[-+−≈\d.,\[][^A-Za-z]*([A-Za-z][^A-Za-z]*)?$")  # numbers, maybe with a unit
# Figures drawn under "Is it worth it?" rather than among the plots.
VERDICT_FIGURES = ("pairs", "price", "decisions")


def table_html(
    headers: Sequence[str], rows: Sequence[Sequence[str]], ref_rows: set[int] | None = None
) -> str:
    if not headers:  # a list of sentences
        return "<ul>" + "".join(f"<li>{html.escape(r[0])}</li>" for r in rows) + "</ul>"

    def esc(text: str) -> str:
        return html.escape(text)

    def td(text: str) -> str:  # a number (with its spread and interval) never wraps inside
        return f"<td class=num>{esc(text)}</td>" if NUMERIC.match(text) else f"<td>{esc(text)}</td>"

    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        f"<tr{' class=reference' if ref_rows and i in ref_rows else ''}>"
        + "".join(td(c) for c in r)
        + "</tr>"
        for i, r in enumerate(rows)
    )
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def confusion_html(rep: Report) -> str:
    """Per entry, counts summed over the ok runs' predictions (rows: true class, columns: predicted)."""
    pred = rep.loaded.predictions
    if pred.empty or "entry" not in pred:
        return ""
    ok = rep.loaded.results.loc[rep.loaded.results["status"] == "ok", ["source", "run_id"]]
    pred = pred.merge(ok, on=["source", "run_id"])
    pred = pred[pred["split"] == "test"]
    n_classes = int(max(pred["label"].max(), pred["pred"].max())) + 1 if len(pred) else 0
    parts = []
    for entry, g in pred.groupby("entry", sort=False):
        if g["entry"].isna().all():
            continue
        cm = confusion_matrix(
            g["label"].to_numpy(dtype=np.int64), g["pred"].to_numpy(dtype=np.int64), n_classes
        )
        share = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
        cells = []
        for t in range(n_classes):
            row = "".join(
                f'<td style="background: rgba(10,125,50,{0.8 * share[t, p]:.2f})">{cm[t, p]}</td>'
                for p in range(n_classes)
            )
            cells.append(f"<tr><th>true {t}</th>{row}</tr>")
        head = "".join(f"<th>pred {p}</th>" for p in range(n_classes))
        runs = g["run_id"].nunique()
        parts.append(
            f"<figure><figcaption>{html.escape(str(entry))} ({runs} run{'s' if runs != 1 else ''})"
            f'</figcaption><div class="scroll"><table class="cm"><tr><th></th>{head}</tr>'
            f"{''.join(cells)}</table></div></figure>"
        )
    return "".join(parts)


def describe(name: str) -> str:
    """What a figure shows, from its name (see bench.reporting.plots.write_all): its alt text."""
    kind, _, rest = name.partition("-")
    return {
        "pairs": "For each pair of models: the accuracy difference with the interval its verdict read (at "
        "the pair's alpha) and the margin, coloured by the verdict, and the cost ratio with its interval",
        "price": "For each pair whose costlier model is more accurate: its extra cost per point of accuracy, "
        "with its 95% interval: the price of a point above which it is worth it",
        "decisions": "For each pair: the accuracy difference's interval at each look, at the look's level, "
        "and the margin",
        "curves": f"Training curves of {rest}: loss and accuracy during training",
        "cost": f"Test accuracy against {rest} per model, with the front",
        "budget": "Expected best validation accuracy against the training time of n sweep trials",
        "volume": "Each model's total cost (training, plus serving) against the number of predictions "
        "served, on log scales, with the volumes where the front of models worth their cost changes",
        "sweep": f"Sweep: validation accuracy against {rest}",
    }.get(kind, name)


def image_html(name: str, png: Path, css: str = "") -> str:
    data = base64.b64encode(png.read_bytes()).decode("ascii")
    klass = f' class="{css}"' if css else ""
    return (
        f'<figure{klass}><img alt="{html.escape(describe(name))}" src="data:image/png;base64,{data}">'
        f"<figcaption>plots/{html.escape(name)}.png (.svg beside it)</figcaption></figure>"
    )


@report_format("html", extension="html")
def to_html(rep: Report, figures: dict[str, Path], options: RenderOptions | None = None) -> str:
    title = "Report: " + ", ".join(f.name for f in rep.loaded.folders)
    refs = {i for i, r in enumerate(rep.entries["reference"]) if r} if not rep.entries.empty else set()
    body = [f"<h1>{html.escape(title)}</h1>"]
    shown: list[str] = []  # the verdicts' figures, drawn under their section
    for name, note, (headers, rows) in sections(rep, with_ci=True):
        body.append(f"<h2>{html.escape(name)}</h2>")
        if name == "Is it worth it?":
            shown = [f for f in VERDICT_FIGURES if f in figures]
            body += [image_html(f, figures[f], "verdicts") for f in shown]
        if note:
            body.append(f'<p class="note">{html.escape(note)}</p>')
        body.append(table_html(headers, rows, refs if name == "Runs" else None))
    cms = confusion_html(rep)
    if cms:
        body += ["<h2>Confusion matrices</h2>", '<p class="note">Summed over seeds.</p>', cms]
    plots = {name: png for name, png in figures.items() if name not in shown}
    if plots:
        body.append("<h2>Plots</h2>")
        body += ['<div class="plots">', *(image_html(name, png) for name, png in plots.items()), "</div>"]
    sources = pd.unique(rep.loaded.results["source"])
    body.append(f'<p class="note">Sources: {html.escape(", ".join(map(str, sources)))}.</p>')
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>"
        f"<body>{''.join(body)}</body></html>\n"
    )
