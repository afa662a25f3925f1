"""What `bench ls` prints: registered models, suites and datasets."""

from __future__ import annotations

from rich.table import Table

from bench.config import load_suite, suite_names
from bench.data import load_datasets
from bench.modeling import count_params, load_models


def listing(what: str) -> Table:
    if what == "models":
        registry = load_models()
        table = Table(title="models (parameters: the paper's configuration, 3 classes)")
        for column in ("model", "parameters", "description"):
            table.add_column(column, justify="right" if column == "parameters" else "left")
        for name in registry:
            spec = registry.get(registry.usage(name))
            network = spec.paper_network()
            count = f"{count_params(network)[0]:,}" if network is not None else "–"
            table.add_row(registry.usage(name), count, spec.summary)
        return table
    if what == "suites":
        table = Table(title="suites")
        table.add_column("suite")
        table.add_column("models")
        table.add_column("description")
        for name in suite_names():
            suite = load_suite(name)
            table.add_row(name, ", ".join(suite.models()), suite.description)
        return table
    table = Table(title="datasets")
    table.add_column("dataset")
    table.add_column("description")
    datasets = load_datasets()
    for name in datasets:
        doc = (datasets.get(name).__doc__ or "").strip().splitlines()[0]
        table.add_row(name, doc)
    return table
