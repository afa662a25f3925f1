"""Every malformed input file gives one line on stderr, exit code 2 and no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from bench.cli import main
from bench.data import DataRequest, load_dataset

MALFORMED = Path(__file__).parent / "data" / "malformed"
EXPECTED = {
    "empty-file": "is empty; it needs a header row",
    "empty-review": "line 3: empty review; fix it or pass --skip-bad-rows",
    "label-after-multiline-review": "train.tsv, line 6: label 'x' is not one of 0 to 2",  # file lines
    "label-negative": "line 2: label '-1' is not one of 0 to 2",
    "label-not-integer": "line 3: label 'zero' is not one of 0 to 2",
    "missing-train": "train.tsv does not exist",
    "not-utf8": "line 2: bytes that are not UTF-8; re-save as UTF-8",
    "ragged": "line 2: 3 fields, more than the header's 2",
    "single-class": "the training split has a single class (neutral)",
    "unbalanced-quote": "check for an unbalanced quote",
    "utf16": "train.tsv, line 1: UTF-16 text (a UTF-16 byte-order mark); re-save as UTF-8",
    "wrong-columns": "missing column(s) 'review'",
}


def test_every_malformed_case_is_listed() -> None:
    assert sorted(p.name for p in MALFORMED.iterdir() if p.is_dir()) == sorted(EXPECTED)


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_malformed_file_is_one_line_exit_2(case: str, tmp_path: Path) -> None:
    args = ["run", "--dataset", f"kaggle:{MALFORMED / case}", "--model", "encoder"]
    result = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert EXPECTED[case] in lines[0]
    assert lines[0].startswith("bench: error: ")
    assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists()  # nothing half-made


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    """What a user sees with --debug: Python's traceback, down to the BenchError, not one line."""
    folder = MALFORMED / "not-utf8"
    args = ["--debug", "run", "--dataset", f"kaggle:{folder}", "--out", str(tmp_path / "o")]
    result = subprocess.run(
        [sys.executable, "-m", "bench", *args], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[0] == "Traceback (most recent call last):", result.stderr
    assert any(line.strip().startswith('File "') and "bench" in line for line in lines)  # frames shown
    assert lines[-1].startswith("bench.errors.BenchError: ") and "not UTF-8" in lines[-1]
    assert not any(line.startswith("bench: error:") for line in lines)


def test_a_utf8_byte_order_mark_and_crlf_line_ends_load() -> None:
    folder = Path(__file__).parent / "data" / "bom-crlf"
    assert all((folder / n).read_bytes().startswith(b"\xef\xbb\xbf") for n in ("train.tsv", "test.tsv"))
    data = load_dataset(f"kaggle:{folder}", DataRequest(None, None, val_share=0.0, min_class_size=0))
    assert data.train.texts == ["fine", "bad"] and data.train.labels.tolist() == [0, 1]
    assert data.test.texts == ["great, really", "awful"]
    assert np.array_equal(data.test.labels, [2, 0])


def test_skip_bad_rows_reports_what_it_skipped(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    body = "sentiment\treview\n0\tawful film\n2\t  \n2\tgreat film\n1\tfine film\n"
    for name in ("train.tsv", "test.tsv"):
        (folder / name).write_text(body)
    suite = Path(__file__).parent / "data" / "tiny.toml"
    args = ["run", "--suite", str(suite), "--model", "encoder", "--dataset", f"kaggle:{folder}"]
    result = CliRunner().invoke(
        main,
        [*args, "--epochs", "1", "--skip-bad-rows", "--min-class-size", "0", "--out", str(tmp_path / "o")],
    )
    assert result.exit_code == 0, result.output
    assert "skipped 2 empty review(s)" in result.output
