"""Fuzzing corrupted copies of a small results folder (tests/results_folder.py): truncations, a last
line cut by a crash, bytes changed or inserted, columns dropped or doubled, fields added or removed,
files re-saved with ';', as UTF-16 or Latin-1, cells of another kind, empty and doubled rows, garbage
JSON, files deleted or replaced by folders.

`bench report`, `bench decide` and resume each end with a result or a BenchError of one line. The
report changes nothing in the folder; decide and resume lose nothing (a torn line they cut is kept
byte for byte beside its file, and every row the files held is still there). A cell that is not of
its column's declared kind is refused, naming its file, line and column.
"""

from __future__ import annotations

import gc
import io
import math
import tempfile
from collections.abc import Iterator
from pathlib import Path
from random import Random

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from bench.cells import BOOLEAN, JSON_OBJECT, TEXT, Kind
from bench.config import ReportSettings
from bench.decide.local import decide_folder
from bench.decide.plan import DecideSettings
from bench.errors import BenchError
from bench.reporting.render_text import to_csv, to_markdown
from bench.reporting.report import build
from bench.results import ROW_KEYS, file_columns, latest_rows, read_rows, read_table
from bench.runs.recorder import Recorder
from bench.strict_csv import Table
from tests.fuzzing import assert_kept_or_moved, assert_nothing_lost, count, examples, outcome, snapshot
from tests.results_folder import FILES, TAIL_CORRUPTIONS, copy_of_source, corrupt

RANDOMS = st.randoms(use_true_random=True)
CSV_FILES = [f for f in FILES if f.endswith(".csv")]


@pytest.fixture(scope="module", autouse=True)
def _frozen_heap() -> Iterator[None]:
    """The objects of the test session out of the collector's way: statsmodels' Holm adjustment calls
    gc.collect() at every report, which walks the whole heap (torch's included), a third of a second
    each time. What the report computes is unchanged."""
    gc.freeze()
    yield
    gc.unfreeze()


def report(folder: Path) -> str:
    rep = build([folder], ReportSettings("time"))
    return to_markdown(rep) + to_csv(rep)


@examples(ci=20, long=1500)
@given(rng=RANDOMS)
def test_the_report_of_a_corrupted_folder_is_a_report_or_one_line(rng: Random) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = copy_of_source(Path(tmp))
        corrupt(folder, rng)
        before = snapshot(folder)
        outcome("results folder: bench report", lambda: report(folder))
        after = snapshot(folder)
        assert_nothing_lost(before, after)
        assert set(after) == set(before), "the report wrote into the folder it read"


def strictly_read(data: bytes | None, name: str) -> Table | None:
    """What the reading layer makes of `data` as the file `name`; None where it refuses it."""
    if data is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / name).write_bytes(data)
        try:
            return read_table(Path(tmp) / name)
        except BenchError:
            return None


def looks(table: Table | None) -> set[tuple[str, ...]]:
    keys = ["look", "model_a", "model_b", "verdict"]
    if table is None or not set(keys) <= set(table.frame):
        return set()
    return {tuple(map(str, r)) for r in table.frame[keys].itertuples(index=False)}


def assert_torn_kept(before: Table | None, after: dict[str, bytes | None], name: str) -> None:
    if before is not None and before.torn is not None:
        assert after.get(f"{name}.torn") == before.torn.data, f"{name}: the torn line was not kept"


@examples(ci=15, long=800)
@given(rng=RANDOMS)
def test_deciding_a_corrupted_folder_decides_or_says_why_in_one_line(rng: Random) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = copy_of_source(Path(tmp))
        corrupt(folder, rng)
        before = snapshot(folder)
        quiet = Console(file=io.StringIO())
        settings = DecideSettings(budget_s=0.0)  # a look, and no training: the reading is what is tried
        outcome("results folder: bench decide", lambda: decide_folder(folder, settings, quiet))
        after = snapshot(folder)
        # Also after a refusal: deciding compacts the files it read back before it ends, either way.
        assert_kept_or_moved(before, after, rewritten={"decisions.csv", *ROW_KEYS})
        had = strictly_read(before.get("decisions.csv"), "decisions.csv")
        assert looks(had) <= looks(strictly_read(after.get("decisions.csv"), "decisions.csv"))
        assert_torn_kept(had, after, "decisions.csv")
        assert_rows_kept("results folder: bench decide", before, after, folder)


NEW_ROWS = {
    "results.csv": {"run_id": "extra-s9", "model": "extra", "seed": 9, "status": "ok", "test_accuracy": 0.5},
    "epochs.csv": {"run_id": "extra-s9", "model": "extra", "seed": 9, "epoch": 1, "val_accuracy": 0.5},
    "steps.csv": {"run_id": "extra-s9", "model": "extra", "seed": 9, "epoch": 1, "chunk": 1, "step": 3},
    "predictions.csv": {
        "run_id": "extra-s9",
        "model": "extra",
        "seed": 9,
        "split": "test",
        "example_id": "ex-0",
        "label": 0,
        "pred": 1,
    },
    "cost_repeats.csv": {
        "run_id": "extra-s9",
        "model": "extra",
        "seed": 9,
        "repeat": 1,
        "steps": 20,
        "step_time_s_mean": 0.1,
    },
}


def resume(folder: Path) -> None:
    """What `bench run --resume` does to the files: read them back, append rows, compact at the end."""
    recorder = Recorder(folder, main=True, say=lambda line: None)
    recorder.load()
    recorder.epoch(NEW_ROWS["epochs.csv"], [NEW_ROWS["steps.csv"]])
    recorder.predictions([NEW_ROWS["predictions.csv"]])
    recorder.cost_repeats([NEW_ROWS["cost_repeats.csv"]])
    recorder.record(NEW_ROWS["results.csv"])
    recorder.compact()


def same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(a == b) or str(a) == str(b)


@examples(ci=25, long=1500)
@given(rng=RANDOMS, crash=st.booleans())
def test_resume_of_a_corrupted_folder_loses_no_row(rng: Random, crash: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = copy_of_source(Path(tmp))
        corrupt(folder, rng, CSV_FILES, TAIL_CORRUPTIONS if crash else None)
        before = snapshot(folder)
        result = outcome("results folder: resume", lambda: resume(folder))
        after = snapshot(folder)
        if isinstance(result, BenchError):
            assert after == before, "a resume that refused the folder changed it"
            return
        assert_kept_or_moved(before, after, rewritten=set(ROW_KEYS))
        assert_rows_kept("results folder: resume", before, after, folder)


def assert_rows_kept(
    kind: str, before: dict[str, bytes | None], after: dict[str, bytes | None], folder: Path
) -> None:
    """Every row the reading layer read from a file before is in it after (the last of its key, as
    before), a torn line cut is in `<file>.torn`, and the rows a rewrite dropped as replaced by later
    rows of their key are in `<file>.replaced`."""
    for name in ROW_KEYS:
        table = strictly_read(before.get(name), name)
        if table is None:
            continue
        assert_torn_kept(table, after, name)
        rows = latest_rows(table.frame, name)
        keys = list(ROW_KEYS[name])
        replaced = int(table.frame.duplicated(keys, keep="last").sum()) if len(table.frame) else 0
        if replaced and after.get(name) != before.get(name):
            kept = strictly_read(after.get(f"{name}.replaced"), name)
            assert kept is not None and len(kept.frame) == replaced, f"{name}: replaced rows not kept"
        now = latest_rows(read_rows(folder / name), name).set_index(keys, drop=False)
        for row in rows.to_dict("records"):
            key = tuple(row[k] for k in keys)
            key = key if len(key) > 1 else key[0]
            assert key in now.index, f"{name}: the row {key} was lost"
            found = now.loc[key]
            assert all(same(v, found[c]) for c, v in row.items()), f"{name}: the row {key} changed"
        count(kind, "rows read back and kept", len(rows))


# --- a cell of another kind than its column's is named by file, line and column ------------------
NOT_OF_KIND = {"a count (an integer ≥ 0)": "-1", "an integer": "1.5", "a fraction in [0, 1]": "1.5"}


def not_of(kind: Kind, rng: Random) -> str:
    if kind is BOOLEAN:
        return "maybe"
    if kind is JSON_OBJECT:
        return "{not json"
    if kind.words.startswith("one of"):
        return "other"
    return rng.choice(
        ["abc", NOT_OF_KIND.get(kind.words, "abc"), "1e400" if "fraction" in kind.words else "x1"]
    )


@examples(ci=40, long=3000)
@given(rng=RANDOMS)
def test_a_cell_not_of_its_columns_kind_is_refused_by_file_line_and_column(rng: Random) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = copy_of_source(Path(tmp))
        name = rng.choice(CSV_FILES)
        lines = (folder / name).read_text(encoding="utf-8").splitlines(keepends=True)
        header = lines[0].rstrip("\n").split(",")
        declared = {c.name: c for c in file_columns(name)}
        checked = [
            i
            for i, col in enumerate(header)
            if col in declared and (declared[col].cells is not TEXT or declared[col].required)
        ]
        line = rng.randint(2, len(lines))
        column = rng.choice(checked)
        kind = declared[header[column]]
        value = (
            "" if kind.required and (kind.cells is TEXT or rng.random() < 0.3) else not_of(kind.cells, rng)
        )
        frame = pd.read_csv(folder / name, dtype=str, keep_default_na=False)
        frame.iloc[line - 2, column] = value
        (folder / name).write_text(frame.to_csv(index=False), encoding="utf-8")
        result = outcome("results folder: a cell of another kind", lambda: read_rows(folder / name))
        where = f"{name}, line {line}, column {header[column]}"
        assert isinstance(result, BenchError), f"{where}: {value!r} was accepted"
        assert f"{where}:" in str(result)


# --- minimal failing inputs the fuzzing found, kept as regression tests ---------------------------
def test_an_empty_predictions_file_is_no_predictions_to_decide_on(tmp_path: Path) -> None:
    """Found with another seed stream: an empty predictions.csv (no header) read as a frame without
    columns, and deciding then looked for its example_id column (a KeyError)."""
    folder = copy_of_source(tmp_path)
    (folder / "predictions.csv").write_bytes(b"")
    with pytest.raises(BenchError, match="0 model\\(s\\) have finished runs"):
        decide_folder(folder, DecideSettings(budget_s=0.0), Console(file=io.StringIO()))
    assert list(read_rows(folder / "predictions.csv").columns[:3]) == ["run_id", "model", "seed"]


def test_deciding_keeps_the_rows_its_compaction_drops(tmp_path: Path) -> None:
    """Found by the long profile: a row written twice in steps.csv was dropped when deciding compacted
    the folder at its end. It is replaced by its later copy, and kept in steps.csv.replaced."""
    folder = copy_of_source(tmp_path)
    lines = (folder / "steps.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    (folder / "steps.csv").write_text("".join([*lines, lines[1]]), encoding="utf-8")
    decide_folder(folder, DecideSettings(budget_s=0.0), Console(file=io.StringIO()))
    assert len(read_rows(folder / "steps.csv")) == len(lines) - 1
    assert (folder / "steps.csv.replaced").read_text(encoding="utf-8").splitlines()[1] == lines[1].strip()


def test_deciding_that_refuses_a_folder_still_keeps_what_its_compaction_drops(tmp_path: Path) -> None:
    """Found by the long profile: deciding compacts the files it read back also when it then refuses
    the folder (here for its plan of looks); the row it drops is kept."""
    folder = copy_of_source(tmp_path)
    lines = (folder / "predictions.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    (folder / "predictions.csv").write_text("".join([*lines, lines[3]]), encoding="utf-8")
    (folder / "decide.json").write_text('{"alpha": "x"}')
    with pytest.raises(BenchError, match="is no plan of `bench decide`"):
        decide_folder(folder, DecideSettings(budget_s=0.0), Console(file=io.StringIO()))
    assert (folder / "predictions.csv.replaced").read_text(encoding="utf-8").splitlines()[1] == lines[
        3
    ].strip()
