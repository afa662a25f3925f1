"""What `bench ls` prints: every kind of extension, read from its registry (plugins included)."""

from __future__ import annotations

from collections.abc import Callable

from rich.table import Table

KINDS = ("models", "suites", "datasets", "trackers", "axes", "comparisons", "formats")


def _first_line(obj: object) -> str:
    return ((getattr(obj, "__doc__", None) or "").strip().splitlines() or [""])[0]


def _table(title: str, columns: list[str], rows: list[list[str]]) -> Table:
    table = Table(title=title)
    for column in columns:
        table.add_column(column, justify="right" if column == "parameters" else "left")
    for row in rows:
        table.add_row(*row)
    return table


def _models() -> Table:
    from bench.modeling import count_params, load_models

    registry = load_models()
    rows = []
    for name in registry:
        spec = registry.get(registry.usage(name))
        network = spec.paper_network()
        count = f"{count_params(network)[0]:,}" if network is not None else "–"
        rows.append([registry.usage(name), count, spec.summary, registry.origin(name)])
    title = "models (parameters: the paper's configuration, 3 classes)"
    return _table(title, ["model", "parameters", "description", "from"], rows)


def _suites() -> Table:
    from bench.config import load_suite, suite_names

    rows = []
    for name in suite_names():
        suite = load_suite(name)
        rows.append([name, ", ".join(suite.models()), suite.description, suite.source])
    return _table("suites", ["suite", "models", "description", "from"], rows)


def _datasets() -> Table:
    from bench.data import load_datasets

    datasets = load_datasets()
    rows = [
        [datasets.usage(n), _first_line(datasets.get(datasets.usage(n))), datasets.origin(n)]
        for n in datasets
    ]
    return _table("datasets (--dataset)", ["dataset", "description", "from"], rows)


def _trackers() -> Table:
    from bench.costs.columns import TRACKERS, load_trackers

    rows = [[t.name, ", ".join(c.name for c in t.columns), TRACKERS.origin(t.name)] for t in load_trackers()]
    return _table("cost trackers (run around every epoch)", ["tracker", "columns", "from"], rows)


def _axes() -> Table:
    from bench.costs.axes import load_axes

    axes = load_axes()
    rows = [
        [a.name, a.doc, a.unit or "–", "exact" if a.exact else "measured", axes.origin(a.name)]
        for a in axes.registered()
    ]
    return _table("cost axes (--cost)", ["axis", "measures", "unit", "kind", "from"], rows)


def _comparisons() -> Table:
    from bench.stats.comparisons import COMPARISONS, in_order

    rows = [[c.method, c.described, COMPARISONS.origin(c.method)] for c in in_order()]
    return _table("accuracy comparisons (in the order they are tried)", ["method", "when", "from"], rows)


def _formats() -> Table:
    from bench.reporting.formats import FORMATS, load_formats

    rows = [[f.name, f.extension or "(prints)", FORMATS.origin(f.name)] for f in load_formats().registered()]
    return _table("report formats (bench report --format)", ["format", "file", "from"], rows)


LISTINGS: dict[str, Callable[[], Table]] = {
    "models": _models,
    "suites": _suites,
    "datasets": _datasets,
    "trackers": _trackers,
    "axes": _axes,
    "comparisons": _comparisons,
    "formats": _formats,
}


def listing(what: str) -> Table:
    return LISTINGS[what]()
