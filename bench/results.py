"""The results schema (one line per column, with the kind of its cells), writing rows and reading run
folders back: every file of a folder is read through `read_table`, which checks it against its columns
(bench.strict_csv), so that a folder that fails is one line naming the file, line and column.

`python -m bench.results > docs/results-schema.md` writes the schema's document; a test keeps the two
equal."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from bench import atomic
from bench.cells import (
    BOOLEAN,
    COUNT,
    FRACTION,
    INTEGER,
    JSON_OBJECT,
    NON_NEGATIVE,
    TEXT,
    Column,
    number,
    one_of,
)
from bench.config import RUN_FIELDS, RunConfig, coerce
from bench.costs.axes import load_axes
from bench.costs.columns import REDUCTIONS, CostColumn, cost_columns
from bench.errors import BenchError
from bench.notices import warn_once
from bench.readable import MISSING, read_bytes, what_is_there
from bench.stats.pair_table import PAIR_COLUMNS
from bench.strict_csv import Table, Torn
from bench.strict_csv import read_table as read_checked

LOSS = number(low=0, finite=False)  # a cross-entropy: infinite where a model gave the truth no mass
RATIO = number(low=0, finite=False)  # a ratio's interval may be unbounded
STATUS = one_of("ok", "failed", "interrupted", "pruned")
SPLIT = one_of("test", "val")


def costs_by_name() -> dict[str, CostColumn]:
    """Every cost column (the run's own and each tracker's, declared in the tracker's file) by name."""
    return {c.name: c for c in cost_columns()}


# results.csv: one row per model run. Empty cells mean "not measured here" (e.g. GPU columns on a CPU).
# fmt: off
_RESULT_HEAD = [
    Column("run_id", "unique within the folder: model, seed and (in sweeps) trial", TEXT, required=True),
    Column("suite", "suite name"),
    Column("model", "model name: the registered name, or hf:<folder name> for a Hugging Face checkpoint (its path is in pretrained)", TEXT, required=True),
    Column("dataset", "dataset spec, e.g. imdb or kaggle:DIR"),
    Column("n_classes", "number of classes found in the data", COUNT),
    Column("n_train", "training reviews used (the validation rows carved from them not included)", COUNT),
    Column("n_val", "validation reviews: carved from the training rows (val_share) or a file of their own; 0 without a split", COUNT),
    Column("n_test", "test reviews used", COUNT),
    Column("max_len", "tokens per review, special tokens included", COUNT),
    Column("lr", "peak learning rate of AdamW", NON_NEGATIVE),
    Column("batch_size", "reviews per optimizer step", COUNT),
    Column("epochs", "epochs asked for", COUNT),
    Column("max_steps", "cap on optimizer steps per epoch (empty: every batch)", COUNT),
    Column("seed", "seed of initialisation and data order (the split uses data_seed)", INTEGER, required=True),
    Column("data_seed", "seed of the train/test split", INTEGER),
    Column("max_train", "training reviews asked for (empty: all)", COUNT),
    Column("max_test", "test reviews asked for (empty: all)", COUNT),
    Column("min_class_size", "training rows a class must have in the data file (fewer is refused as a likely typo or stray header)", COUNT),
    Column("val_share", "share of the training rows held out for validation (0: none, as the paper)", FRACTION),
    Column("select", "which epoch the row reports: best-val (the best validation accuracy, earliest on a tie) or last"),
    Column("warmup_ratio", "share of the schedule's steps spent warming up", FRACTION),
    Column("weight_decay", "AdamW weight decay", NON_NEGATIVE),
    Column("grad_clip", "gradient-norm clip (empty or 0: none)", NON_NEGATIVE),
    Column("label_smoothing", "label smoothing of the cross-entropy", FRACTION),
    Column("trackers", "False when run with --trackers off", BOOLEAN),
    Column("device", "cpu, or cuda with the GPU name"),
    Column("init", "pretrained, or random (cost-only)"),
    Column("pretrained", "the pretrained weights' folder or hub name, if any"),
    Column("options", "the model's options in effect (its Params, defaults included, with --option and the suite's options applied, and any setting it chose on validation, e.g. tfidf_lr's C), as a JSON object", JSON_OBJECT),
    Column("paper_quirks", "True when the paper's two quirks were reproduced", BOOLEAN),
    Column("precision", "precision trained and evaluated in: fp32, tf32, bf16 or fp16 (autocast)"),
    Column("compile", "True when the network was compiled with torch.compile", BOOLEAN),
    Column("bucket", "True when batches were bucketed by review length", BOOLEAN),
    Column("serve_batch", "reviews per batch when serving was timed (serve_s_per_1k): --serve-batch, else the batch size", COUNT),
    Column("cache_dir", "folder of the tokenization cache (empty: no cache)"),
    Column("world_size", "processes that trained the run together (torchrun); 1 without torchrun", COUNT),
    Column("concurrent_runs", "runs training at once on this machine (bench run --workers N: N; 1: the machine to itself; empty in sweeps)", COUNT),
    Column("selected_epoch", "the epoch this row reports (see select); nothing chooses it by the test split", COUNT),
    Column("val_accuracy", "validation accuracy of the selected epoch, in [0, 1]; empty without a validation split", FRACTION),
    Column("val_macro_f1", "validation macro-F1 of the selected epoch", FRACTION),
    Column("test_accuracy", "test accuracy of the selected epoch, in [0, 1]", FRACTION),
    Column("test_macro_f1", "test macro-F1 of the selected epoch, in [0, 1]", FRACTION),
    Column("test_loss", "test cross-entropy of the selected epoch", LOSS),
    Column("train_accuracy", "training accuracy during the selected epoch", FRACTION),
    Column("train_loss", "training loss during the selected epoch", LOSS),
    Column("majority_accuracy", "test accuracy of always predicting the training split's most frequent class", FRACTION),
    Column("p_vs_majority", "one-sided exact McNemar p-value of the run against the majority predictor on the same test items", FRACTION),
    Column("warning", "why the accuracy should not be credited: predicts a single class, or not above majority (p >= 0.05); empty when neither"),
    Column("train_steps", "optimizer steps over all epochs (empty for a model without steps)", COUNT),
    Column("step_time_s_mean", "mean training seconds per step, over chunks of about a tenth of an epoch (a sync at each chunk's end)", NON_NEGATIVE),
    Column("step_time_s_sd", "standard deviation of the chunks' seconds per step: the spread of the time axis within one run", NON_NEGATIVE),
    Column("step_time_chunks", "the chunks timed", COUNT),
    Column("latency_repeats_bs1", "timed calls behind the batch-1 latency (over 16 test reviews in turn)", COUNT),
    Column("latency_repeats_batch", "timed calls behind the batch latency", COUNT),
    Column("serve_reviews", "test reviews timed for serve_s_per_1k (the first 256 of the test split, or all)", COUNT),
    Column("serve_passes", "timed passes over those reviews behind serve_s_per_1k (their median)", COUNT),
    Column("truncated_train_share", "share of training reviews longer than max_len (cut)", FRACTION),
    Column("truncated_test_share", "share of test reviews longer than max_len (cut)", FRACTION),
    Column("weights_kept", "True when the selected epoch's weights are kept in weights/ (for --until-decided's more test items); False when they could not be written (a full disk, say); empty when not asked for", BOOLEAN),
]
# fmt: on
# fmt: off
_RESULT_TAIL = [
    Column("study", "Optuna study name, for sweep trials"),
    Column("trial", "Optuna trial number, for sweep trials", COUNT),
    Column("trial_state", "Optuna trial state: COMPLETE, PRUNED or FAIL"),
    Column("status", "ok, failed, interrupted, or pruned (a sweep trial stopped early)", STATUS, required=True),
    Column("error", "the error in one line, when the run failed"),
    Column("started_at", "UTC start time, ISO 8601"),
    Column("finished_at", "UTC end time, ISO 8601"),
]
# fmt: on


def result_columns() -> list[Column]:
    """results.csv's columns: the run's, every cost column (plugins' trackers included), the tail."""
    return [*_RESULT_HEAD, *(cost_column(c) for c in cost_columns()), *_RESULT_TAIL]


def cost_column(cost: CostColumn, doc: str | None = None) -> Column:
    """A cost column in a results file: a method's words ("first" of the epochs'), else a measure."""
    return Column(
        cost.name, cost.doc if doc is None else doc, TEXT if cost.reduce == "first" else NON_NEGATIVE
    )


# epochs.csv: one row per model run per epoch.
# fmt: off
_EPOCH_HEAD = [
    Column("run_id", "the run this epoch belongs to (see results.csv)", TEXT, required=True),
    Column("model", "model name, as in results.csv"),
    Column("seed", "run seed", INTEGER),
    Column("epoch", "epoch number, from 1", COUNT, required=True),
    Column("train_loss", "mean training loss over the epoch", LOSS),
    Column("train_accuracy", "training accuracy over the epoch", FRACTION),
    Column("val_loss", "validation loss after the epoch (empty without a validation split)", LOSS),
    Column("val_accuracy", "validation accuracy after the epoch: what selection reads", FRACTION),
    Column("val_macro_f1", "validation macro-F1 after the epoch", FRACTION),
    Column("test_loss", "test loss after the epoch", LOSS),
    Column("test_accuracy", "test accuracy after the epoch", FRACTION),
    Column("test_macro_f1", "test macro-F1 after the epoch", FRACTION),
    Column("epoch_time_s", "training wall time of the epoch, seconds", NON_NEGATIVE),
    Column("eval_time_s", "evaluation wall time after the epoch, seconds", NON_NEGATIVE),
    Column("cumulative_train_time_s", "training wall time up to and including this epoch", NON_NEGATIVE),
    Column("train_steps", "optimizer steps in the epoch", COUNT),
    Column("step_time_s_mean", "mean seconds per step over the epoch's timed chunks", NON_NEGATIVE),
    Column("step_time_s_sd", "standard deviation of the chunks' seconds per step", NON_NEGATIVE),
    Column("step_time_chunks", "chunks timed in the epoch (about ten)", COUNT),
    Column("train_samples_per_s", "training reviews per second", NON_NEGATIVE),
    Column("train_tokens_per_s", "training non-padding tokens per second", NON_NEGATIVE),
    Column("eval_samples_per_s", "evaluation reviews per second", NON_NEGATIVE),
]
# fmt: on
# fmt: off
_EPOCH_TAIL = [
    Column("study", "Optuna study name, for sweep trials"),
    Column("trial", "Optuna trial number, for sweep trials", COUNT),
]
# fmt: on


def epoch_columns() -> list[Column]:
    """epochs.csv's columns: the epoch's, every tracker's per-epoch column, the tail."""
    tracked = [
        cost_column(c, f"as in results.csv, for this epoch; {REDUCTIONS[c.reduce]}")
        for c in cost_columns()
        if c.reduce
    ]
    return [*_EPOCH_HEAD, *tracked, *_EPOCH_TAIL]


# predictions.csv: one row per run per test and validation example, from the selected epoch; prob_<k>
# columns follow, one per class.
# fmt: off
PREDICTION_COLUMNS = [
    Column("run_id", "the run (see results.csv)", TEXT, required=True),
    Column("model", "model name, as in results.csv"),
    Column("seed", "run seed", INTEGER),
    Column("split", "test, or val (the validation split, which sweeps compare trials on)", SPLIT),
    Column("example_id", "the example, stable across runs on the same split", TEXT, required=True),
    Column("label", "true class id", COUNT, required=True),
    Column("pred", "predicted class id", COUNT, required=True),
]
# fmt: on

# decisions.csv (`bench run --until-decided`, `bench decide`): one row per undecided pair per look,
# then the pair's row as it was decided; the pair columns are the report's (bench/stats/pair_table.py).
# fmt: off
DECISION_COLUMNS = [
    Column("look", "the look, from 1 (the runs the folder had)", COUNT, required=True),
    Column("fraction", "information fraction of the look: the share of the suite's and the budget's time spent", FRACTION, required=True),
    Column("lever", "what came before this look: suite (the runs there were), items, seeds or cost repeats"),
    Column("elapsed_s", "seconds from the start of the runs to this look, training and evaluation", NON_NEGATIVE, required=True),
    *PAIR_COLUMNS,
]
# fmt: on

DECISIONS_FILE = "decisions.csv"
RESULTS_FILE, EPOCHS_FILE, PREDICTIONS_FILE, ENV_FILE = (
    "results.csv",
    "epochs.csv",
    "predictions.csv",
    "env.json",
)
COST_REPEATS_FILE = "cost_repeats.csv"

# cost_repeats.csv: `bench run --cost-repeats K`: K short timed runs of each finished run's
# configuration, each in a fresh process (see bench/runs/cost_repeats.py): independent replicates of
# its cost, which the step-time chunks inside one run are not.
# fmt: off
COST_REPEAT_COLUMNS = [
    Column("run_id", "the run whose configuration was timed again (see results.csv)", TEXT, required=True),
    Column("model", "model name, as in results.csv", TEXT, required=True),
    Column("seed", "run seed", INTEGER),
    Column("repeat", "the repeat's number, from 1; each ran in a new process", COUNT, required=True),
    Column("steps", "optimizer steps timed, after 3 untimed warm-up steps; 1 for a model without steps (tfidf_lr), whose repeat times one whole fit", COUNT),
    Column("step_time_s_mean", "seconds per optimizer step over the timed steps (per fit where steps is 1 for a model without steps)", NON_NEGATIVE, required=True),
    Column("device", "cpu, or cuda with the GPU name"),
    Column("concurrent_runs", "runs training at once on this machine when timed (1: the machine to itself)", COUNT),
    Column("latency_ms_p50_bs1", "median inference latency of one review, ms, timed in the repeat's process after its steps (empty in files from before)", NON_NEGATIVE),
    Column("serve_s_per_1k", "inference seconds per 1,000 test reviews at serve_batch, timed in the repeat's process as the run timed them (empty in files from before)", NON_NEGATIVE),
    Column("serve_batch", "reviews per batch of serve_s_per_1k", COUNT),
]
# fmt: on

# steps.csv: one row per timed chunk of a network's epoch (about ten an epoch; none for an estimator),
# what the report draws a run of few epochs by.
# fmt: off
STEP_COLUMNS = [
    Column("run_id", "the run (see results.csv)", TEXT, required=True),
    Column("model", "model name, as in results.csv"),
    Column("seed", "run seed", INTEGER),
    Column("epoch", "epoch number, from 1", COUNT, required=True),
    Column("chunk", "the chunk within the epoch, from 1", COUNT, required=True),
    Column("step", "optimizer steps of the run done at the chunk's end, over all epochs", COUNT, required=True),
    Column("train_loss", "mean training loss over the chunk's reviews", LOSS),
    Column("step_time_s", "mean training seconds per step over the chunk", NON_NEGATIVE),
    Column("study", "Optuna study name, for sweep trials"),
    Column("trial", "Optuna trial number, for sweep trials", COUNT),
]
# fmt: on
STEPS_FILE = "steps.csv"


def frame_with_schema(rows: Iterable[Mapping[str, Any]], columns: list[Column]) -> pd.DataFrame:
    """Rows as a frame: schema columns first and in order, any extra columns after them."""
    frame = pd.DataFrame(list(rows))
    names = [c.name for c in columns]
    extra = [c for c in frame.columns if c not in names]
    return frame.reindex(columns=names + extra)


def write_csv(path: Path, rows: Iterable[Mapping[str, Any]], columns: list[Column]) -> None:
    atomic.write_text(path, frame_with_schema(rows, columns).to_csv(index=False))


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    atomic.write_text(path, json.dumps(data, indent=2, default=str) + "\n")


# The files' keys. Files grow by appended rows, so a row written again (a resumed or re-recorded run)
# follows the old one: readers keep the last row of each key.
ROW_KEYS = {
    RESULTS_FILE: ("run_id",),
    EPOCHS_FILE: ("run_id", "epoch"),
    PREDICTIONS_FILE: ("run_id", "split", "example_id"),
    COST_REPEATS_FILE: ("run_id", "repeat"),
    STEPS_FILE: ("run_id", "epoch", "chunk"),
}
WORKER_GLOB = "worker-*"  # a worker's own folder inside a results folder (bench run --workers, sweeps)


def file_columns(name: str) -> list[Column]:
    """The declared columns of a results folder's file `name` (none for a file the schema lacks)."""
    declared = {
        RESULTS_FILE: result_columns,
        EPOCHS_FILE: epoch_columns,
        PREDICTIONS_FILE: lambda: PREDICTION_COLUMNS,
        STEPS_FILE: lambda: STEP_COLUMNS,
        COST_REPEATS_FILE: lambda: COST_REPEAT_COLUMNS,
        DECISIONS_FILE: lambda: DECISION_COLUMNS,
    }
    return declared[name]() if name in declared else []


def read_table(file: Path) -> Table:
    """A results file checked against its columns (chosen by its name), its torn last line apart (see
    bench.strict_csv); an empty table where there is no file."""
    columns = file_columns(file.name)
    table = Table(pd.DataFrame()) if what_is_there(file) == MISSING else read_checked(file, columns)
    if not len(table.frame.columns):  # no file, or not even a header: no rows, with every column
        table.frame = pd.DataFrame(
            {c.name: pd.Series(dtype=float if c.cells.numeric else object) for c in columns}
        )
    return table


def torn_notice(file: Path, torn: Torn, what_was_done: str) -> str:
    return (
        f"{file}: its last line (line {torn.line}, {len(torn.data)} bytes) was cut short by an "
        f"interrupted write; {what_was_done}"
    )


def read_rows(file: Path) -> pd.DataFrame:
    """A results file as written (every appended row), checked; a torn last line is left out, with a
    warning. An empty frame where there is no file."""
    table = read_table(file)
    if table.torn is not None:
        warn_once(torn_notice(file, table.torn, "read without it"))
    return table.frame


def latest_rows(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """The last row of each key of file `name` (see ROW_KEYS), in the order the keys first appeared."""
    key = [k for k in ROW_KEYS.get(name, ()) if k in frame.columns]
    if frame.empty or not key:
        return frame
    repeated = frame.duplicated(key, keep="last")
    if not repeated.any():
        return frame
    first_seen = frame.groupby(key, sort=False, dropna=False).ngroup()  # numbered in order of appearance
    last = frame[~repeated]
    return last.iloc[first_seen[~repeated].argsort(kind="stable")].reset_index(drop=True)


def _winner_rank(frame: pd.DataFrame) -> pd.Series:
    """Which of a run's rows from several worker folders counts: a finished one, then the latest."""
    ok = frame["status"].eq("ok") if "status" in frame else pd.Series(False, index=frame.index)
    finished = frame["finished_at"].fillna("") if "finished_at" in frame else pd.Series("", index=frame.index)
    return ok.astype(int).astype(str) + "|" + finished.astype(str)


def merged_frames(folders: Sequence[Path]) -> dict[str, pd.DataFrame]:
    """The rows of several worker folders as one folder's: each run_id once, from the folder whose
    row for it wins (finished ok before failed or interrupted, then the latest), with its epochs and
    predictions from that same folder."""
    results = []
    for i, folder in enumerate(folders):
        frame = latest_rows(read_rows(folder / RESULTS_FILE), RESULTS_FILE)
        if not frame.empty:
            results.append(frame.assign(_folder=i, _rank=_winner_rank(frame)))
    if not results:
        return {name: pd.DataFrame() for name in ROW_KEYS}
    every = pd.concat(results, ignore_index=True)
    winners = every.sort_values("_rank", kind="stable").drop_duplicates("run_id", keep="last")
    winners = winners.sort_values(["started_at", "_folder"] if "started_at" in winners else "_folder")
    owner = dict(zip(winners["run_id"], winners["_folder"]))
    merged = {RESULTS_FILE: winners.drop(columns=["_folder", "_rank"]).reset_index(drop=True)}
    for name in (EPOCHS_FILE, PREDICTIONS_FILE, COST_REPEATS_FILE, STEPS_FILE):
        parts = []
        for i, folder in enumerate(folders):
            frame = latest_rows(read_rows(folder / name), name)
            if not frame.empty:
                parts.append(frame[[owner.get(r) == i for r in frame["run_id"]]])
        parts = [p for p in parts if len(p)]  # empty frames would turn the labels into floats
        merged[name] = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    return merged


def worker_folders(path: Path) -> list[Path]:
    return sorted(p for p in path.glob(WORKER_GLOB) if (p / RESULTS_FILE).is_file())


@dataclass
class RunFolder:
    """A results folder: results.csv, epochs.csv, predictions.csv, steps.csv and env.json. A folder
    with worker folders (bench run --workers or --storage, bench sweep) reads as its workers' rows
    merged, also while workers still run and before any of them merged the folder's own files."""

    path: Path

    def read(self, name: str) -> pd.DataFrame:
        workers = worker_folders(self.path)
        if workers and name in ROW_KEYS:  # a file each worker writes (decisions.csv is the folder's own)
            return merged_frames(workers)[name]
        return latest_rows(read_rows(self.path / name), name)


def read_decisions(folder: Path) -> pd.DataFrame:
    """decisions.csv of `--until-decided` (every look's rows), the one place it is read: checked
    against DECISION_COLUMNS, with every one of them (empty where the file lacked an optional one)."""
    frame = read_rows(folder / DECISIONS_FILE)
    return frame if len(frame) else pd.DataFrame(columns=[c.name for c in DECISION_COLUMNS])


def read_folder(path: Path) -> RunFolder:
    problem = what_is_there(path / RESULTS_FILE)
    if problem not in (None, MISSING):
        raise BenchError(f"{path / RESULTS_FILE} {problem}.")
    if problem == MISSING and not worker_folders(path):
        raise BenchError(f"{path} holds no {RESULTS_FILE}; give a folder written by `bench run`.")
    return RunFolder(path)


def saved_runs(folder: Path) -> tuple[list[RunConfig], dict[str, Any]]:
    """The runs a folder's env.json lists, each checked as a suite's run is, and the env.json itself."""
    env = folder / ENV_FILE
    if what_is_there(env) == MISSING:
        raise BenchError(f"{folder} is not a bench run folder (no {ENV_FILE}); nothing to resume.")
    data = read_json_object(env, "start a new run")
    runs = data.get("runs")
    if not isinstance(runs, list) or not runs or not all(isinstance(r, dict) for r in runs):
        raise BenchError(f'{env} lists no runs (a "runs" list of objects); start a new run.')
    repeats = data.get("cost_repeats")
    if repeats is not None and (not isinstance(repeats, int) or isinstance(repeats, bool) or repeats < 0):
        raise BenchError(f"{env}: cost_repeats must be a count, not {repeats!r}; start a new run.")
    queue = data.get("queue")
    if queue is not None and not (isinstance(queue, dict) and isinstance(queue.get("study"), str)):
        raise BenchError(f"{env}: queue must name its study; start a new run.")
    return [_saved_run(run, f"{env}, run {i}") for i, run in enumerate(runs, start=1)], data


def read_json_object(file: Path, remedy: str) -> dict[str, Any]:
    """A JSON file of a results folder (env.json, decide.json) that must hold one object; a BenchError
    saying what is wrong, and `remedy`, otherwise."""
    try:
        data = json.loads(read_bytes(file).decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # RecursionError: nested past the parser's depth
        reason = "nested too deep" if isinstance(exc, RecursionError) else " ".join(str(exc).split())[:200]
        raise BenchError(f"{file} is not readable JSON ({reason}); {remedy}.") from None
    if not isinstance(data, dict):
        raise BenchError(f"{file} holds a JSON {type(data).__name__}, not an object; {remedy}.")
    return data


def _saved_run(saved: dict[str, Any], where: str) -> RunConfig:
    unknown = [k for k in saved if k not in RUN_FIELDS]
    if unknown or "model" not in saved:
        what = f"an unknown setting {unknown[0]!r}" if unknown else "no model"
        raise BenchError(f"{where}: {what}; was env.json written by this version of bench?")
    checked = {k: coerce(k, v, where) for k, v in saved.items()}
    return RunConfig.from_saved(checked).validate()


def run_costs(epochs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A run's tracker columns from its epochs', each reduced as the table says."""
    found: dict[str, Any] = {}
    columns = cost_columns()
    for column in columns:
        values = [e[column.name] for e in epochs if e.get(column.name) is not None]
        if column.reduce == "max":
            found[column.name] = max(values) if values else None
        elif column.reduce == "sum":
            found[column.name] = sum(values) if values else None
        elif column.reduce == "first":  # a method column: one failed epoch makes the run's failed
            found[column.name] = "failed" if "failed" in values else next(iter(values), None)
    for column in columns:
        if column.method and found.get(column.method) == "failed":
            found[column.name] = None  # a sum that misses epochs is no run's figure
    return found


SCHEMA_INTRO = (
    "# Results schema\n\nEvery file that `bench run` writes, column by column. Empty cells mean *not "
    "measured here* (the GPU columns on a CPU, say). Written by `python -m bench.results > "
    "docs/results-schema.md` from `bench/results.py`; `tests/test_results.py` keeps the two equal.\n\n"
    "*cells*: what a cell may hold; `bench report`, `bench decide` and `bench run --resume` refuse a file "
    "with a cell that is not, in one line naming the file, line and column. A *required* column must be "
    "in the header and filled in every row; any other may be missing or empty. Columns not listed "
    "(`prob_<k>` of predictions.csv, a plugin's) are read as numbers or text.\n\n"
)


def cells_words(column: Column) -> str:
    return column.cells.words + (", required" if column.required else "")


def schema_markdown() -> str:
    """The schema as markdown: the whole of docs/results-schema.md."""
    parts = [SCHEMA_INTRO.rstrip("\n") + "\n"]
    for title, columns in (
        (RESULTS_FILE, result_columns()),
        (EPOCHS_FILE, epoch_columns()),
        (PREDICTIONS_FILE, PREDICTION_COLUMNS),
        (STEPS_FILE, STEP_COLUMNS),
        (COST_REPEATS_FILE, COST_REPEAT_COLUMNS),
        (DECISIONS_FILE, DECISION_COLUMNS),
    ):
        parts.append(f"## `{title}`\n\n| column | cells | meaning |\n|---|---|---|")
        parts.extend(f"| `{c.name}` | {cells_words(c)} | {c.doc} |" for c in columns)
        parts.append("")
    parts.append(
        "## Cost columns\n\nThe table in `bench/costs/columns.py` (the run's own columns) and the "
        "`bench/costs/track_*.py` files (each tracker's) that the runner, the report, the sweep and the CLI read. *reduce*: how a run's value comes from its epochs'; *axis*: the cost axis it "
        "measures (memory is the GPU figure on a GPU and peak RSS on a CPU); *exact*: a count with no "
        "spread.\n\n| column | unit | reduce | axis | exact |\n|---|---|---|---|---|"
    )
    parts.extend(
        f"| `{c.name}` | {c.unit or '–'} | {c.reduce or '–'} | "
        f"{(c.axis or '–') + (f' ({c.device})' if c.device else '')} | {'yes' if c.exact else '–'} |"
        for c in cost_columns()
    )
    parts.append(
        "\n## Cost axes\n\nWhat `--cost` judges pairs on (`bench ls axes`), declared beside what measures "
        "them (`bench/costs/axes.py`, a tracker's file, or a plugin). *exact*: a count, any difference "
        "counts.\n\n| axis | measures | unit | exact |\n|---|---|---|---|"
    )
    parts.extend(
        f"| `{a.name}` | {a.doc} | {a.unit or '–'} | {'yes' if a.exact else '–'} |"
        for a in load_axes().registered()
    )
    parts.append("")
    return "\n".join(parts)


if __name__ == "__main__":
    print(schema_markdown(), end="")
