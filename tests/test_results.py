from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from bench.results import RESULT_COLUMNS, atomic_write_text, schema_markdown, write_csv

DOC = Path(__file__).resolve().parents[1] / "docs" / "results-schema.md"


def test_schema_doc_matches_the_code() -> None:
    assert DOC.read_text().endswith(schema_markdown())


def test_column_names_are_unique() -> None:
    names = [c.name for c in RESULT_COLUMNS]
    assert len(names) == len(set(names))


def test_write_csv_orders_schema_columns_first(tmp_path: Path) -> None:
    path = tmp_path / "results.csv"
    write_csv(path, [{"status": "ok", "extra": 1, "model": "bert"}], RESULT_COLUMNS)
    frame = pd.read_csv(path)
    assert frame.columns[1:3].tolist() == ["suite", "model"]
    assert frame.columns[-1] == "extra"
    assert frame.loc[0, "model"] == "bert"


def test_atomic_write_leaves_the_old_file_when_writing_fails(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "results.csv"
    atomic_write_text(path, "old\n")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        atomic_write_text(path, "new\n")
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["results.csv"]  # no temporary file left
