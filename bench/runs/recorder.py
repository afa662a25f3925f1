"""The writer of a results folder's runs: results.csv, epochs.csv, predictions.csv, steps.csv,
cost_repeats.csv and env.json (deciding writes its own decide.json and decisions.csv: bench.decide).

Rows are appended, one write and one fsync per batch of rows, so a growing file is never rewritten
for each new row; a row recorded again (a run resumed, a sweep trial's final state) is appended too
and the last row of each key wins on read (bench.results.ROW_KEYS). `compact` rewrites a file once,
at the end, to drop the rows that lost. A crash can at worst cut the last line short: before the next
append, that line is kept in `<file>.torn` and cut off (bench.runs.tail), or, where it is a complete
row, given its newline. A folder read back (`load`, to resume or decide) keeps every row a rewrite
removes beside its file first, and says so.

Kept weights are optional: a run whose weights cannot be written (a full disk) warns once, keeps its
row and says `weights_kept` False.

The recorder is the executor's RunSink: it takes each epoch row and each finished run as they come.
`merge_workers` writes a folder's rows from its worker folders (bench run --workers, bench sweep).
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from safetensors import SafetensorError

from bench import atomic
from bench.costs.environment import environment
from bench.costs.nvml import gpu_info, open_nvml
from bench.errors import one_line
from bench.notices import warn_once
from bench.readable import is_readable_file
from bench.results import (
    COST_REPEAT_COLUMNS,
    COST_REPEATS_FILE,
    DECISIONS_FILE,
    ENV_FILE,
    EPOCHS_FILE,
    PREDICTION_COLUMNS,
    PREDICTIONS_FILE,
    RESULTS_FILE,
    ROW_KEYS,
    STEP_COLUMNS,
    STEPS_FILE,
    Column,
    epoch_columns,
    latest_rows,
    merged_frames,
    read_rows,
    read_table,
    result_columns,
    worker_folders,
    write_csv,
    write_json,
)
from bench.runs import distributed
from bench.runs.executor import Outcome
from bench.runs.tail import Say, cut_torn, keep, mend
from bench.runs.train import pick_device
from bench.runs.weights import keep_estimator, keep_network


def _cell(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return value


class AppendedCsv:
    """One CSV file that grows by appended rows under a fixed header (schema columns, then extras)."""

    def __init__(self, path: Path, columns: list[Column], say: Say = warn_once) -> None:
        self.path = path
        self.columns = columns
        self.say = say
        self.header = _first_row(path)

    def append(self, rows: Iterable[Mapping[str, Any]]) -> None:
        rows = list(rows)
        if not rows:
            return
        mend(self.path, self.say)  # a last line a crash left: its newline given, or kept and cut
        names = list(dict.fromkeys(k for row in rows for k in row))
        if self.header is None or not set(names) <= set(self.header):
            self._rewrite_with(rows)  # a new column (a class more, say): once, the whole file
            return
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerows([_cell(row.get(name)) for name in self.header] for row in rows)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | getattr(os, "O_BINARY", 0))
        try:
            os.write(fd, buffer.getvalue().encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)

    def _rewrite_with(self, rows: list[Mapping[str, Any]]) -> None:
        frame = read_rows(self.path)
        frame = pd.concat([f for f in (frame, pd.DataFrame(rows)) if len(f)], ignore_index=True)
        self.rewrite(records(frame))

    def rewrite(self, rows: Iterable[Mapping[str, Any]]) -> None:
        write_csv(self.path, rows, self.columns)
        self.header = _first_row(self.path)


def _first_row(path: Path) -> list[str] | None:
    """A file's header as the csv module reads its first line (None for no file or an empty one);
    whether the file is sound is `bench.results.read_table`'s to say."""
    if not is_readable_file(path):
        return None
    with path.open("rb") as handle:
        first = handle.readline().decode("utf-8", errors="replace")
    return next(csv.reader([first]), None)


WHY_REMOVED = {
    "replaced": "that later rows of the same run replace",
    "redone": "of epochs past the checkpoint, which are trained again",
}


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    frame = frame.astype(object)
    return [{str(k): v for k, v in r.items()} for r in frame.where(frame.notna(), None).to_dict("records")]


class Recorder:
    """Owns one results folder's files; keeps its result and epoch rows in memory for lookups."""

    def __init__(self, out: Path, main: bool | None = None, say: Say = warn_once) -> None:
        self.out = out
        self.main = distributed.is_main() if main is None else main  # under torchrun only rank 0 writes
        self.say = say
        self.keeping = False  # a folder read back keeps what a rewrite removes (see `load`)
        self.results: dict[str, dict[str, Any]] = {}  # by run_id, in order of first appearance
        self.epochs: list[dict[str, Any]] = []
        self._files = {
            RESULTS_FILE: AppendedCsv(out / RESULTS_FILE, result_columns(), say),
            EPOCHS_FILE: AppendedCsv(out / EPOCHS_FILE, epoch_columns(), say),
            PREDICTIONS_FILE: AppendedCsv(out / PREDICTIONS_FILE, PREDICTION_COLUMNS, say),
            COST_REPEATS_FILE: AppendedCsv(out / COST_REPEATS_FILE, COST_REPEAT_COLUMNS, say),
            STEPS_FILE: AppendedCsv(out / STEPS_FILE, STEP_COLUMNS, say),
        }
        self._repeats: dict[str, int] | None = None  # timed repeats per run_id, read when first asked

    @property
    def rows(self) -> list[dict[str, Any]]:
        return list(self.results.values())

    def load(self) -> None:
        """Read the folder's rows back, to resume it or add to it. Every file is checked first (a
        BenchError names what fails before anything is written); a torn last line is kept in
        `<file>.torn` and cut; from here on, what a rewrite removes is kept beside its file."""
        paths = {
            **{name: file.path for name, file in self._files.items()},
            DECISIONS_FILE: self.out / DECISIONS_FILE,
        }
        tables = {name: read_table(path) for name, path in paths.items()}
        self.keeping = True
        for name, table in tables.items():
            if table.torn is not None and self.main:
                cut_torn(paths[name], table.torn, self.say)
        self.results = {
            str(r["run_id"]): r for r in records(latest_rows(tables[RESULTS_FILE].frame, RESULTS_FILE))
        }
        self.epochs = records(latest_rows(tables[EPOCHS_FILE].frame, EPOCHS_FILE))

    def _latest(self, name: str) -> pd.DataFrame:
        return latest_rows(read_rows(self.out / name), name)

    def _append(self, name: str, rows: list[dict[str, Any]]) -> None:
        if self.main:
            self._files[name].append(rows)

    # --- the executor's sink -----------------------------------------------------------------
    def restart(self, run_id: str, after_epoch: int) -> list[dict[str, Any]]:
        ours = [e for e in self.epochs if e["run_id"] == run_id]
        kept = [e for e in ours if e["epoch"] <= after_epoch]
        if len(kept) < len(ours):  # epochs past the checkpoint are redone: drop them (resumes only)
            self.epochs = [e for e in self.epochs if e["run_id"] != run_id or e["epoch"] <= after_epoch]
            if self.main:
                frame = read_rows(self.out / EPOCHS_FILE)
                redone = (frame["run_id"] == run_id) & (frame["epoch"] > after_epoch)
                self._rewrite(EPOCHS_FILE, frame[~redone], frame[redone], "redone")
        return kept

    def epoch(self, row: dict[str, Any], steps: list[dict[str, Any]]) -> None:
        self.epochs.append(row)
        if steps:  # a redone epoch's chunks replace its earlier ones: the last row of a key wins
            self._append(STEPS_FILE, steps)
        self._append(EPOCHS_FILE, [row])

    def finish(self, outcome: Outcome) -> None:
        if outcome.weights is not None and self.main:  # before the row: an ok row has its weights
            outcome.row["weights_kept"] = self.keep(outcome.row["run_id"], outcome.weights)
        if outcome.predictions is not None:  # first, so an ok row always has its predictions on disk
            self._append(PREDICTIONS_FILE, outcome.predictions)
        self.record(outcome.row)

    def keep(self, run_id: str, weights: Any) -> bool:
        """The selected epoch's weights: a network's tensors (a dict) or a fitted estimator; whether
        they were written. They are optional: a full disk costs them, never the run's row."""
        try:
            if isinstance(weights, dict):
                keep_network(self.out, run_id, weights)
            else:
                keep_estimator(self.out, run_id, weights)
        except (OSError, RuntimeError, SafetensorError) as exc:  # torch and safetensors wrap OS errors
            warn_once(
                f"weights not kept: {one_line(exc)}; the runs keep their rows (weights_kept False), "
                "and deciding cannot evaluate them on more test items"
            )
            return False
        return True

    def predictions(self, rows: list[dict[str, Any]]) -> None:
        """More prediction rows of finished runs (their test items past those they had)."""
        self._append(PREDICTIONS_FILE, rows)

    def record(self, row: dict[str, Any]) -> None:
        """Write `row` into results.csv; it replaces the row with the same run_id."""
        self.results[row["run_id"]] = row
        self._append(RESULTS_FILE, [row])

    def cost_repeats(self, rows: list[dict[str, Any]]) -> None:
        """Rows of cost_repeats.csv: a run's timed repeats (bench.launch.cost_repeats)."""
        counts = self._repeat_counts()
        for row in rows:
            counts[row["run_id"]] = max(counts.get(row["run_id"], 0), int(row["repeat"]))
        self._append(COST_REPEATS_FILE, rows)

    def cost_repeats_of(self, run_id: str) -> int:
        """How many timed repeats of the run the folder holds (numbered 1..n)."""
        return self._repeat_counts().get(run_id, 0)

    def _repeat_counts(self) -> dict[str, int]:
        if self._repeats is None:
            frame = self._latest(COST_REPEATS_FILE)
            most = frame.groupby("run_id")["repeat"].max() if len(frame) else pd.Series(dtype=int)
            self._repeats = {str(k): int(v) for k, v in most.items()}
        return self._repeats

    # --- whole files -------------------------------------------------------------------------
    def compact(self) -> None:
        """Rewrite each file without the rows that later rows replaced (once, at the end of a session)."""
        if not self.main:
            return
        for name, file in self._files.items():
            frame = read_rows(file.path)
            key = [k for k in ROW_KEYS.get(name, ()) if k in frame.columns]
            if frame.empty or not key:
                continue
            replaced = frame.duplicated(key, keep="last")
            if replaced.any():
                self._rewrite(name, latest_rows(frame, name), frame[replaced], "replaced")

    def _rewrite(self, name: str, rows: pd.DataFrame, removed: pd.DataFrame, why: str) -> None:
        """Rewrite file `name` with `rows`; in a folder read back, the rows it loses are kept first in
        `<file>.<why>`, and the user is told."""
        file = self._files[name]
        if self.keeping and len(removed):
            kept = keep(file.path, removed.to_csv(index=False).encode("utf-8"), why)
            self.say(
                f"{file.path}: {len(removed)} row(s) {WHY_REMOVED[why]}; kept them in {kept.name} before "
                f"rewriting {name}"
            )
        file.rewrite(records(rows))

    def write_env(self, extra: dict[str, Any] | None = None, device: str = "auto") -> None:
        nvml = open_nvml(pick_device(device))
        info = gpu_info(nvml)
        if nvml:
            nvml.close()
        if self.main:
            write_json(self.out / ENV_FILE, environment({**info, **(extra or {})}))


def merge_workers(out: Path) -> None:
    """OUT/results.csv etc.: the rows of every worker folder, each run once, so `bench report OUT` sees
    the whole suite or study (see bench.results.merged_frames for which row of a run counts)."""
    folders = worker_folders(out)
    if not folders:
        return
    for name, frame in merged_frames(folders).items():
        if not frame.empty:
            atomic.write_text(out / name, frame.to_csv(index=False))
