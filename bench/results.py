"""The results schema (one line per column), writing rows and reading run folders back.

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
from bench.config import RunConfig
from bench.costs.axes import load_axes
from bench.costs.columns import REDUCTIONS, CostColumn, cost_columns
from bench.errors import BenchError, one_line
from bench.stats.pair_table import PAIR_COLUMNS


@dataclass(frozen=True)
class Column:
    name: str
    doc: str


def costs_by_name() -> dict[str, CostColumn]:
    """Every cost column (the run's own and each tracker's, declared in the tracker's file) by name."""
    return {c.name: c for c in cost_columns()}


# results.csv: one row per model run. Empty cells mean "not measured here" (e.g. GPU columns on a CPU).
_RESULT_HEAD = [
    Column("run_id", "unique within the folder: model, seed and (in sweeps) trial"),
    Column("suite", "suite name"),
    Column(
        "model",
        "model name: the registered name, or hf:<folder name> for a Hugging Face checkpoint (its path is in pretrained)",
    ),
    Column("dataset", "dataset spec, e.g. imdb or kaggle:DIR"),
    Column("n_classes", "number of classes found in the data"),
    Column("n_train", "training reviews used (the validation rows carved from them not included)"),
    Column(
        "n_val",
        "validation reviews: carved from the training rows (val_share) or a file of their own; 0 without a split",
    ),
    Column("n_test", "test reviews used"),
    Column("max_len", "tokens per review, special tokens included"),
    Column("lr", "peak learning rate of AdamW"),
    Column("batch_size", "reviews per optimizer step"),
    Column("epochs", "epochs asked for"),
    Column("max_steps", "cap on optimizer steps per epoch (empty: every batch)"),
    Column("seed", "seed of initialisation and data order (the split uses data_seed)"),
    Column("data_seed", "seed of the train/test split"),
    Column("max_train", "training reviews asked for (empty: all)"),
    Column("max_test", "test reviews asked for (empty: all)"),
    Column("val_share", "share of the training rows held out for validation (0: none, as the paper)"),
    Column(
        "select",
        "which epoch the row reports: best-val (the best validation accuracy, earliest on a tie) or last",
    ),
    Column("warmup_ratio", "share of the schedule's steps spent warming up"),
    Column("weight_decay", "AdamW weight decay"),
    Column("grad_clip", "gradient-norm clip (empty or 0: none)"),
    Column("label_smoothing", "label smoothing of the cross-entropy"),
    Column("trackers", "False when run with --trackers off"),
    Column("device", "cpu, or cuda with the GPU name"),
    Column("init", "pretrained, or random (cost-only)"),
    Column("pretrained", "the pretrained weights' folder or hub name, if any"),
    Column(
        "options",
        "the model's options in effect (its Params, defaults included, with --option and the suite's options applied, and any setting it chose on validation, e.g. tfidf_lr's C), as a JSON object",
    ),
    Column("paper_quirks", "True when the paper's two quirks were reproduced"),
    Column("precision", "precision trained and evaluated in: fp32, tf32, bf16 or fp16 (autocast)"),
    Column("compile", "True when the network was compiled with torch.compile"),
    Column("bucket", "True when batches were bucketed by review length"),
    Column(
        "serve_batch",
        "reviews per batch when serving was timed (serve_s_per_1k): --serve-batch, else the batch size",
    ),
    Column("cache_dir", "folder of the tokenization cache (empty: no cache)"),
    Column("world_size", "processes that trained the run together (torchrun); 1 without torchrun"),
    Column(
        "concurrent_runs",
        "runs training at once on this machine (bench run --workers N: N; 1: the machine to itself; empty in sweeps)",
    ),
    Column("selected_epoch", "the epoch this row reports (see select); nothing chooses it by the test split"),
    Column(
        "val_accuracy",
        "validation accuracy of the selected epoch, in [0, 1]; empty without a validation split",
    ),
    Column("val_macro_f1", "validation macro-F1 of the selected epoch"),
    Column("test_accuracy", "test accuracy of the selected epoch, in [0, 1]"),
    Column("test_macro_f1", "test macro-F1 of the selected epoch, in [0, 1]"),
    Column("test_loss", "test cross-entropy of the selected epoch"),
    Column("train_accuracy", "training accuracy during the selected epoch"),
    Column("train_loss", "training loss during the selected epoch"),
    Column(
        "majority_accuracy", "test accuracy of always predicting the training split's most frequent class"
    ),
    Column(
        "p_vs_majority",
        "one-sided exact McNemar p-value of the run against the majority predictor on the same test items",
    ),
    Column(
        "warning",
        "why the accuracy should not be credited: predicts a single class, or not above majority (p >= 0.05); empty when neither",
    ),
    Column("train_steps", "optimizer steps over all epochs (empty for a model without steps)"),
    Column(
        "step_time_s_mean",
        "mean training seconds per step, over chunks of about a tenth of an epoch (a sync at each chunk's end)",
    ),
    Column(
        "step_time_s_sd",
        "standard deviation of the chunks' seconds per step: the spread of the time axis within one run",
    ),
    Column("step_time_chunks", "the chunks timed"),
    Column("latency_repeats_bs1", "timed calls behind the batch-1 latency (over 16 test reviews in turn)"),
    Column("latency_repeats_batch", "timed calls behind the batch latency"),
    Column(
        "serve_reviews", "test reviews timed for serve_s_per_1k (the first 256 of the test split, or all)"
    ),
    Column("serve_passes", "timed passes over those reviews behind serve_s_per_1k (their median)"),
    Column("truncated_train_share", "share of training reviews longer than max_len (cut)"),
    Column("truncated_test_share", "share of test reviews longer than max_len (cut)"),
]
_RESULT_TAIL = [
    Column("study", "Optuna study name, for sweep trials"),
    Column("trial", "Optuna trial number, for sweep trials"),
    Column("trial_state", "Optuna trial state: COMPLETE, PRUNED or FAIL"),
    Column("status", "ok, failed, interrupted, or pruned (a sweep trial stopped early)"),
    Column("error", "the error in one line, when the run failed"),
    Column("started_at", "UTC start time, ISO 8601"),
    Column("finished_at", "UTC end time, ISO 8601"),
]


def result_columns() -> list[Column]:
    """results.csv's columns: the run's, every cost column (plugins' trackers included), the tail."""
    return [*_RESULT_HEAD, *(Column(c.name, c.doc) for c in cost_columns()), *_RESULT_TAIL]


# epochs.csv: one row per model run per epoch.
_EPOCH_HEAD = [
    Column("run_id", "the run this epoch belongs to (see results.csv)"),
    Column("model", "model name, as in results.csv"),
    Column("seed", "run seed"),
    Column("epoch", "epoch number, from 1"),
    Column("train_loss", "mean training loss over the epoch"),
    Column("train_accuracy", "training accuracy over the epoch"),
    Column("val_loss", "validation loss after the epoch (empty without a validation split)"),
    Column("val_accuracy", "validation accuracy after the epoch: what selection reads"),
    Column("val_macro_f1", "validation macro-F1 after the epoch"),
    Column("test_loss", "test loss after the epoch"),
    Column("test_accuracy", "test accuracy after the epoch"),
    Column("test_macro_f1", "test macro-F1 after the epoch"),
    Column("epoch_time_s", "training wall time of the epoch, seconds"),
    Column("eval_time_s", "evaluation wall time after the epoch, seconds"),
    Column("cumulative_train_time_s", "training wall time up to and including this epoch"),
    Column("train_steps", "optimizer steps in the epoch"),
    Column("step_time_s_mean", "mean seconds per step over the epoch's timed chunks"),
    Column("step_time_s_sd", "standard deviation of the chunks' seconds per step"),
    Column("step_time_chunks", "chunks timed in the epoch (about ten)"),
    Column("train_samples_per_s", "training reviews per second"),
    Column("train_tokens_per_s", "training non-padding tokens per second"),
    Column("eval_samples_per_s", "evaluation reviews per second"),
]
_EPOCH_TAIL = [
    Column("study", "Optuna study name, for sweep trials"),
    Column("trial", "Optuna trial number, for sweep trials"),
]


def epoch_columns() -> list[Column]:
    """epochs.csv's columns: the epoch's, every tracker's per-epoch column, the tail."""
    tracked = [
        Column(c.name, f"as in results.csv, for this epoch; {REDUCTIONS[c.reduce]}")
        for c in cost_columns()
        if c.reduce
    ]
    return [*_EPOCH_HEAD, *tracked, *_EPOCH_TAIL]


# predictions.csv: one row per run per test and validation example, from the selected epoch; prob_<k>
# columns follow, one per class.
PREDICTION_COLUMNS = [
    Column("run_id", "the run (see results.csv)"),
    Column("model", "model name, as in results.csv"),
    Column("seed", "run seed"),
    Column("split", "test, or val (the validation split, which sweeps compare trials on)"),
    Column("example_id", "the example, stable across runs on the same split"),
    Column("label", "true class id"),
    Column("pred", "predicted class id"),
]

# decisions.csv (`bench run --until-decided`, `bench decide`): one row per undecided pair per look,
# then the pair's row as it was decided; the pair columns are the report's (bench/stats/pair_table.py).
DECISION_COLUMNS = [
    Column("look", "the look, from 1 (the runs the folder had)"),
    Column(
        "fraction", "information fraction of the look: the share of the suite's and the budget's time spent"
    ),
    Column("lever", "what came before this look: suite (the runs there were), items, seeds or cost repeats"),
    Column("elapsed_s", "seconds from the start of the runs to this look, training and evaluation"),
    *(Column(name, doc) for name, doc in PAIR_COLUMNS),
]

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
COST_REPEAT_COLUMNS = [
    Column("run_id", "the run whose configuration was timed again (see results.csv)"),
    Column("model", "model name, as in results.csv"),
    Column("seed", "run seed"),
    Column("repeat", "the repeat's number, from 1; each ran in a new process"),
    Column(
        "steps",
        "optimizer steps timed, after 3 untimed warm-up steps; 1 for a model without steps (tfidf_lr), whose repeat times one whole fit",
    ),
    Column(
        "step_time_s_mean",
        "seconds per optimizer step over the timed steps (per fit where steps is 1 for a model without steps)",
    ),
    Column("device", "cpu, or cuda with the GPU name"),
    Column("concurrent_runs", "runs training at once on this machine when timed (1: the machine to itself)"),
    Column(
        "latency_ms_p50_bs1",
        "median inference latency of one review, ms, timed in the repeat's process after its steps (empty in files from before)",
    ),
    Column(
        "serve_s_per_1k",
        "inference seconds per 1,000 test reviews at serve_batch, timed in the repeat's process as the run timed them (empty in files from before)",
    ),
    Column("serve_batch", "reviews per batch of serve_s_per_1k"),
]

# steps.csv: one row per timed chunk of a network's epoch (about ten an epoch; none for an estimator),
# what the report draws a run of few epochs by.
STEP_COLUMNS = [
    Column("run_id", "the run (see results.csv)"),
    Column("model", "model name, as in results.csv"),
    Column("seed", "run seed"),
    Column("epoch", "epoch number, from 1"),
    Column("chunk", "the chunk within the epoch, from 1"),
    Column("step", "optimizer steps of the run done at the chunk's end, over all epochs"),
    Column("train_loss", "mean training loss over the chunk's reviews"),
    Column("step_time_s", "mean training seconds per step over the chunk"),
    Column("study", "Optuna study name, for sweep trials"),
    Column("trial", "Optuna trial number, for sweep trials"),
]
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


def read_rows(file: Path) -> pd.DataFrame:
    """A results file as written (every appended row), or an empty frame."""
    return pd.read_csv(file) if file.is_file() and file.stat().st_size else pd.DataFrame()


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
    """decisions.csv of `--until-decided` (every look's rows), the one place it is read; an empty frame
    with its columns when the folder has none."""
    names = [c.name for c in DECISION_COLUMNS]
    frame = read_rows(folder / DECISIONS_FILE)
    if frame.empty:
        return pd.DataFrame(columns=names)
    missing = [c for c in names if c not in frame]
    if missing:
        raise BenchError(
            f"{folder / DECISIONS_FILE} lacks the columns {missing}: it was written by another version "
            "of `bench decide`; move it away to decide the folder again."
        )
    return frame


def read_folder(path: Path) -> RunFolder:
    if not (path / RESULTS_FILE).is_file() and not worker_folders(path):
        raise BenchError(f"{path} holds no {RESULTS_FILE}; give a folder written by `bench run`.")
    return RunFolder(path)


def saved_runs(folder: Path) -> tuple[list[RunConfig], dict[str, Any]]:
    """The runs a folder's env.json lists, and the env.json itself."""
    env = folder / ENV_FILE
    if not env.is_file():
        raise BenchError(f"{folder} is not a bench run folder (no {ENV_FILE}); nothing to resume.")
    try:
        data = json.loads(env.read_text(encoding="utf-8"))
        return [RunConfig.from_saved(r) for r in data["runs"]], data
    except (ValueError, KeyError, TypeError) as exc:
        raise BenchError(f"{env} cannot be read back ({one_line(exc)}); start a new run.") from None


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
)


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
        parts.append(f"## `{title}`\n\n| column | meaning |\n|---|---|")
        parts.extend(f"| `{c.name}` | {c.doc} |" for c in columns)
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
