"""bench.run and bench.report from Python, and the docs' example run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

import bench
from bench.errors import BenchError
from bench.results import result_columns

EXTENDING = Path(__file__).resolve().parents[1] / "docs" / "extending.md"


def test_run_returns_the_results_rows_and_report_writes(tiny_suite: Path, tmp_path: Path) -> None:
    out = tmp_path / "api"
    rows = bench.run(
        str(tiny_suite), models=["tfidf_lr", "encoder"], out=out, quiet=True, epochs=1, cache_dir=""
    )
    assert isinstance(rows, pd.DataFrame)
    assert rows["model"].tolist() == ["tfidf_lr", "encoder"] and (rows["status"] == "ok").all()
    assert list(rows.columns[: len(result_columns())]) == [c.name for c in result_columns()]
    assert rows["epochs"].tolist() == [1, 1]  # a keyword is a run setting
    written_rows = pd.read_csv(out / "results.csv")  # pandas reads every digit written back exactly
    for column in ("run_id", "model", "test_accuracy", "val_accuracy", "train_time_s", "options"):
        assert rows[column].tolist() == written_rows[column].tolist(), column
    written = bench.report([out], format="markdown")
    assert written == out / "report.md" and "## Is it worth it?" in written.read_text(encoding="utf-8")


def test_run_refuses_an_unknown_setting_with_a_suggestion(tiny_suite: Path, tmp_path: Path) -> None:
    with pytest.raises(BenchError, match="Did you mean 'epochs'"):
        bench.run(str(tiny_suite), out=tmp_path / "x", epoch=1)


def test_the_docs_python_example_runs_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = re.findall(r"```python\n(.*?)```", EXTENDING.read_text(encoding="utf-8"), re.S)
    (code,) = [b for b in blocks if "bench.run(" in b]
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "docs/extending.md", "exec"), {})  # noqa: S102 (the docs' own example)
    report = next(tmp_path.glob("reports/*/report.md"))
    assert "## Is it worth it?" in report.read_text(encoding="utf-8")


def test_a_three_class_jsonl_dataset_runs(tiny_suite: Path, tmp_path: Path) -> None:
    words = ("awful dull", "fine okay", "superb moving")  # one vocabulary per class: learnable
    lines = [{"text": f"{words[i % 3]} review number {i}", "label": i % 3} for i in range(90)]
    path = tmp_path / "three.jsonl"
    pd.DataFrame(lines).to_json(path, orient="records", lines=True)
    rows = bench.run(
        str(tiny_suite), models=["tfidf_lr"], dataset=f"jsonl:{path}", out=tmp_path / "out", quiet=True
    )
    (row,) = rows.to_dict("records")
    assert row["status"] == "ok" and row["n_classes"] == 3 and row["dataset"] == f"jsonl:{path}"
    # one file, split 80/20 (18 test rows); the tiny suite trains on 48 of the other 72, 5 held out
    assert (row["n_train"], row["n_val"], row["n_test"]) == (43, 5, 18) and row["test_accuracy"] == 1.0
