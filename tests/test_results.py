from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd

from bench.results import result_columns, schema_markdown, write_csv

DOC = Path(__file__).resolve().parents[1] / "docs" / "results-schema.md"


def test_schema_doc_is_what_the_command_writes() -> None:
    written = subprocess.run(
        [sys.executable, "-m", "bench.results"], capture_output=True, text=True, check=True
    ).stdout
    assert written == schema_markdown()
    assert DOC.read_text() == written, "regenerate: python -m bench.results > docs/results-schema.md"


def test_column_names_are_unique() -> None:
    names = [c.name for c in result_columns()]
    assert len(names) == len(set(names))


def test_write_csv_orders_schema_columns_first(tmp_path: Path) -> None:
    path = tmp_path / "results.csv"
    write_csv(path, [{"status": "ok", "extra": 1, "model": "bert"}], result_columns())
    frame = pd.read_csv(path)
    assert frame.columns[1:3].tolist() == ["suite", "model"]
    assert frame.columns[-1] == "extra"
    assert frame.loc[0, "model"] == "bert"
