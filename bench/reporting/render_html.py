"""The HTML report: one self-contained file (inline CSS, plots as base64 PNG) that opens offline."""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from bench.reporting.data import Report
from bench.reporting.formats import report_format
from bench.reporting.layout import sections
from bench.stats.metrics import confusion_matrix

STYLE = """
body { font-family: system-ui, -apple-system, Segoe UI, sans-serif; margin: 2rem auto; max-width: 72rem;
       color: #1d1d1f; padding: 0 1rem; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; font-size: 0.85rem; }
th, td { padding: 0.3rem 0.6rem; border-bottom: 1px solid #eee; text-align: right; }
th { background: #f5f5f7; } td:first-child, th:first-child { text-align: left; }
tr.reference td { color: #6e6e73; font-style: italic; }
p.note { color: #555; font-size: 0.85rem; max-width: 60rem; }
figure { display: inline-block; margin: 0.5rem; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.8rem; color: #555; }
.cm td { width: 3.5rem; text-align: center; }
"""


def table_html(
    headers: Sequence[str], rows: Sequence[Sequence[str]], ref_rows: set[int] | None = None
) -> str:
    if not headers:  # a list of sentences
        return "<ul>" + "".join(f"<li>{html.escape(r[0])}</li>" for r in rows) + "</ul>"

    def esc(text: str) -> str:
        return html.escape(text)

    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        f"<tr{' class=reference' if ref_rows and i in ref_rows else ''}>"
        + "".join(f"<td>{esc(c)}</td>" for c in r)
        + "</tr>"
        for i, r in enumerate(rows)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


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
            f'</figcaption><table class="cm"><tr><th></th>{head}</tr>{"".join(cells)}</table></figure>'
        )
    return "".join(parts)


def image_html(name: str, png: Path) -> str:
    data = base64.b64encode(png.read_bytes()).decode("ascii")
    return (
        f'<figure><img alt="{html.escape(name)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{html.escape(name)}</figcaption></figure>"
    )


@report_format("html", extension="html")
def to_html(rep: Report, figures: dict[str, Path]) -> str:
    title = "Report: " + ", ".join(f.name for f in rep.loaded.folders)
    refs = {i for i, r in enumerate(rep.entries["reference"]) if r} if not rep.entries.empty else set()
    body = [f"<h1>{html.escape(title)}</h1>"]
    for name, note, (headers, rows) in sections(rep, with_ci=True):
        body.append(f"<h2>{html.escape(name)}</h2>")
        if note:
            body.append(f'<p class="note">{html.escape(note)}</p>')
        body.append(table_html(headers, rows, refs if name == "Runs" else None))
    cms = confusion_html(rep)
    if cms:
        body += ["<h2>Confusion matrices</h2>", '<p class="note">Summed over seeds.</p>', cms]
    if figures:
        body.append("<h2>Plots</h2>")
        body += [image_html(name, png) for name, png in figures.items()]
    sources = pd.unique(rep.loaded.results["source"])
    body.append(f'<p class="note">Sources: {html.escape(", ".join(map(str, sources)))}.</p>')
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>"
        f"<body>{''.join(body)}</body></html>\n"
    )
