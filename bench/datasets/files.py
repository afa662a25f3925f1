"""Any file of labelled reviews: tsv:PATH, csv:PATH, jsonl:PATH or parquet:PATH."""

from __future__ import annotations

from bench.data import DATASETS, DataRequest, Dataset
from bench.datasets.readers import read_jsonl, read_parquet, read_table
from bench.datasets.rows import load_rows


@DATASETS.register("tsv", argument="PATH")
def load_tsv(arg: str, request: DataRequest) -> Dataset:
    """Any tab-separated file: tsv:PATH?text=COL&label=COL&test=PATH&val=PATH (one file: 80/20)."""
    return load_rows(arg, request, "tsv", lambda path: read_table(path, "\t"))


@DATASETS.register("csv", argument="PATH")
def load_csv(arg: str, request: DataRequest) -> Dataset:
    """Any comma-separated file: csv:PATH?text=COL&label=COL&test=PATH&val=PATH (one file: 80/20)."""
    return load_rows(arg, request, "csv", lambda path: read_table(path, ","))


@DATASETS.register("jsonl", argument="PATH")
def load_jsonl(arg: str, request: DataRequest) -> Dataset:
    """One JSON object per line: jsonl:PATH?text=COL&label=COL&test=PATH&val=PATH (one file: 80/20)."""
    return load_rows(arg, request, "jsonl", read_jsonl)


@DATASETS.register("parquet", argument="PATH")
def load_parquet(arg: str, request: DataRequest) -> Dataset:
    """A Parquet file, with pyarrow: parquet:PATH?text=COL&label=COL&test=PATH&val=PATH (one file: 80/20)."""
    return load_rows(arg, request, "parquet", read_parquet)
