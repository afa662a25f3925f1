"""A small results folder with every file `bench` writes (results, epochs, predictions, steps, cost
repeats, decisions, env.json, decide.json), made once from the committed golden folder, and the ways
a careless or unlucky user corrupts a copy of it: for the fuzz tests of the reading layer, the report,
`bench decide` and resume."""

from __future__ import annotations

import atexit
import csv
import dataclasses
import io
import shutil
import tempfile
from collections.abc import Callable
from functools import cache
from pathlib import Path
from random import Random

import pandas as pd

from bench.config import RunConfig, VerdictSettings
from bench.decide.plan import Plan
from bench.results import (
    COST_REPEAT_COLUMNS,
    PREDICTION_COLUMNS,
    STEP_COLUMNS,
    write_csv,
    write_json,
)
from bench.stats.sequential import BudgetPlan
from tests.hand_made import write_decisions

GOLDEN = Path(__file__).parent / "data" / "golden" / "basic"
FILES = [
    "results.csv",
    "epochs.csv",
    "predictions.csv",
    "steps.csv",
    "cost_repeats.csv",
    "decisions.csv",
    "env.json",
    "decide.json",
]


@cache
def source_folder() -> Path:
    """The folder, made once per session in a temporary folder that lives as long as the process."""
    root = Path(tempfile.mkdtemp(prefix="bench-fuzz-source-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    folder = root / "run"
    folder.mkdir()
    for name in ("results.csv", "epochs.csv"):
        shutil.copy(GOLDEN / name, folder / name)
    predictions = pd.read_csv(GOLDEN / "predictions.csv").assign(split="test")
    write_csv(folder / "predictions.csv", predictions.to_dict("records"), PREDICTION_COLUMNS)
    steps = [
        {
            "run_id": "encoder-s0",
            "model": "encoder",
            "seed": 0,
            "epoch": e,
            "chunk": c,
            "step": 2 * (e - 1) + c,
            "train_loss": 1.0 / (2 * e + c),
            "step_time_s": 0.5,
        }
        for e in (1, 2)
        for c in (1, 2)
    ]
    write_csv(folder / "steps.csv", steps, STEP_COLUMNS)
    repeats = [
        {
            "run_id": f"{m}-s0",
            "model": m,
            "seed": 0,
            "repeat": k,
            "steps": 20,
            "step_time_s_mean": t * (1 + k / 10),
            "device": "cpu",
            "concurrent_runs": 1,
        }
        for m, t in (("encoder", 0.5), ("bert", 5.0))
        for k in (1, 2)
    ]
    write_csv(folder / "cost_repeats.csv", repeats, COST_REPEAT_COLUMNS)
    looks = [("encoder", "bert", 1, 60.0, 20.0, 90.0, "inconclusive"),
             ("encoder", "bert_bilstm", 1, 45.0, -10.0, 80.0, "inconclusive")]  # fmt: skip
    write_decisions(folder, looks)
    runs = [
        dataclasses.asdict(
            RunConfig(model=m, suite="golden", seed=s, max_train=48, max_test=10, min_class_size=1)
        )
        for m in ("encoder", "bert", "bert_bilstm")
        for s in (0, 1)
    ]
    write_json(folder / "env.json", {"runs": runs, "cost_repeats": 2})
    plan = Plan(BudgetPlan(alpha=0.05, budget_s=0.0, suite_s=3000.0), VerdictSettings())
    (folder / "decide.json").write_text(plan.to_json(), encoding="utf-8")
    return folder


def copy_of_source(into: Path) -> Path:
    return Path(shutil.copytree(source_folder(), into / "run"))


# --- corruptions: each takes the file's bytes and a Random, and gives the new bytes (None: delete) ---
def _records(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8", errors="replace"), newline="")))


def _written(records: list[list[str]], sep: str = ",") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=sep, lineterminator="\n").writerows(records)
    return buffer.getvalue().encode("utf-8")


def truncate(data: bytes, rng: Random) -> bytes:
    return data[: rng.randrange(len(data) + 1)]


def cut_last_line(data: bytes, rng: Random) -> bytes:
    """A crash in the middle of an append: the last line loses its end, and its newline."""
    body = data.rstrip(b"\n")
    start = body.rfind(b"\n") + 1
    return body[: rng.randint(start, len(body))]


def drop_final_newline(data: bytes, rng: Random) -> bytes:
    return data.rstrip(b"\r\n")


def flip_byte(data: bytes, rng: Random) -> bytes:
    if not data:
        return data
    at = rng.randrange(len(data))
    return (
        data[:at]
        + bytes([rng.choice([0, 0xFF, 0xC3, ord(","), ord('"'), ord("\n"), rng.randrange(256)])])
        + data[at + 1 :]
    )


def insert_bytes(data: bytes, rng: Random) -> bytes:
    at = rng.randint(0, len(data))
    junk = rng.choice(
        [b"\x00\x00\x00", b"\xff\xfe", b'"', b",,", b"\n", b"\r\n", "caf\xe9".encode("latin-1")]
    )
    return data[:at] + junk + data[at:]


def drop_column(data: bytes, rng: Random) -> bytes:
    records = _records(data)
    if not records or not records[0]:
        return data
    k = rng.randrange(len(records[0]))
    return _written([r[:k] + r[k + 1 :] for r in records])


def duplicate_column(data: bytes, rng: Random) -> bytes:
    records = _records(data)
    if not records or not records[0]:
        return data
    k = rng.randrange(len(records[0]))
    return _written([r + [r[k]] if len(r) > k else r for r in records])


def extra_field(data: bytes, rng: Random) -> bytes:
    records = _records(data)
    if len(records) < 2:
        return data
    row = records[rng.randint(1, len(records) - 1)]
    row.insert(rng.randint(0, len(row)), rng.choice(["", "x", "1"]))
    return _written(records)


def missing_field(data: bytes, rng: Random) -> bytes:
    records = _records(data)
    if len(records) < 2 or not records[1]:
        return data
    row = records[rng.randint(1, len(records) - 1)]
    if row:
        row.pop(rng.randrange(len(row)))
    return _written(records)


def resave_with_semicolons(data: bytes, rng: Random) -> bytes:
    return _written(_records(data), ";")


def resave_utf16(data: bytes, rng: Random) -> bytes:
    return data.decode("utf-8", errors="replace").encode(rng.choice(["utf-16", "utf-16-le"]))


def resave_latin1(data: bytes, rng: Random) -> bytes:
    return data.decode("utf-8", errors="replace").replace("e", "\xe9", 1).encode("latin-1", errors="replace")


ODD_CELLS = [
    "",
    "abc",
    "1.5",
    "-0.5",
    "-1",
    "inf",
    "nan",
    "1e400",
    "0x10",
    "True",
    "None",
    "[]",
    "{",
    "\u00e9",
    "ok",
    "test",
    "2.5",
]


def odd_cell(data: bytes, rng: Random) -> bytes:
    """One cell set to a value of another kind, or out of range, or empty."""
    records = _records(data)
    if len(records) < 2 or not records[0]:
        return data
    row = records[rng.randint(1, len(records) - 1)]
    if row:
        row[rng.randrange(len(row))] = rng.choice(ODD_CELLS)
    return _written(records)


def empty_row(data: bytes, rng: Random) -> bytes:
    records = _records(data)
    if not records:
        return data
    records.insert(rng.randint(1, len(records)), [""] * len(records[0]))
    return _written(records)


def duplicate_row(data: bytes, rng: Random) -> bytes:
    records = _records(data)
    if len(records) < 2:
        return data
    records.insert(rng.randint(1, len(records)), list(records[rng.randint(1, len(records) - 1)]))
    return _written(records)


def header_only(data: bytes, rng: Random) -> bytes:
    return data.split(b"\n", 1)[0] + b"\n"


def empty(data: bytes, rng: Random) -> bytes:
    return b""


def garbage_json(data: bytes, rng: Random) -> bytes:
    return rng.choice(
        [
            b"{",
            b"[]",
            b"null",
            b'{"runs": "x"}',
            b'{"runs": [{"model": 3}]}',
            b"[" * 100_000,
            b'{"alpha": "x"}',
        ]
    )


CORRUPTIONS: dict[str, Callable[[bytes, Random], bytes]] = {
    f.__name__.replace("_", " "): f
    for f in (
        truncate,
        cut_last_line,
        drop_final_newline,
        flip_byte,
        insert_bytes,
        drop_column,
        duplicate_column,
        extra_field,
        missing_field,
        resave_with_semicolons,
        resave_utf16,
        resave_latin1,
        odd_cell,
        empty_row,
        duplicate_row,
        header_only,
        empty,
        garbage_json,
    )
}
TAIL_CORRUPTIONS = ["cut last line", "drop final newline", "truncate"]  # what a crash leaves


def corrupt(folder: Path, rng: Random, names: list[str] | None = None, how: list[str] | None = None) -> str:
    """Corrupt one file of `folder` (or delete it, or put a folder in its place); what was done."""
    name = rng.choice(names or FILES)
    path = folder / name
    what = rng.choice(how or [*CORRUPTIONS, "delete", "a folder in its place"])
    if what == "delete":
        path.unlink()
    elif what == "a folder in its place":
        path.unlink()
        path.mkdir()
    else:
        path.write_bytes(CORRUPTIONS[what](path.read_bytes(), rng))
    return f"{name}: {what}"
