"""Runs as jobs: the recorder's appended files, the devices of `--workers`, and workers sharing one
queue in an Optuna storage (SQLite, and PostgreSQL on a throwaway server) — each run exactly once,
the same accuracies as one process, a killed worker's run finished by another, a third call resumes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest
from click.testing import CliRunner
from optuna.trial import TrialState

from bench.cli import main
from bench.launch.cost_repeats import timed_steps
from bench.launch.storage import with_driver
from bench.launch.workers import Slot, slots
from bench.reporting.data import load
from bench.results import COST_REPEAT_COLUMNS, EPOCHS_FILE, RESULTS_FILE, RunFolder, latest_rows, read_rows
from bench.runs.recorder import AppendedCsv, Recorder, merge_workers
from tests import test_postgres

ROOT = Path(__file__).resolve().parents[1]
server = test_postgres.postgres  # the throwaway PostgreSQL server of tests/test_postgres.py, as `server`
TINY = ROOT / "tests" / "data" / "tiny.toml"
SUITE = ["--suite", str(TINY), "--model", "tfidf_lr", "--repeats", "4", "--cache-dir", "", "-q"]


def bench(*args: str) -> list[str]:
    return [sys.executable, "-m", "bench", "run", *SUITE, *args]


def finish(process: subprocess.Popen[bytes], timeout: float = 600) -> str:
    out = process.communicate(timeout=timeout)[0]
    return out.decode() if out else ""


def ok_rows(folder: Path) -> pd.DataFrame:
    frame = RunFolder(folder).read(RESULTS_FILE)
    return frame[frame["status"] == "ok"]


SUITE_RUNS = tuple(f"tfidf_lr-s{s}" for s in range(4))


def each_run_once(out: Path, storage: str, study: str, run_ids: Sequence[str] = SUITE_RUNS) -> None:
    """Every run has one complete trial and one ok row, in one worker folder."""
    trials = optuna.load_study(study_name=study, storage=with_driver(storage)).get_trials()
    complete = sorted(t.user_attrs["index"] for t in trials if t.state == TrialState.COMPLETE)
    assert complete == list(range(len(run_ids)))
    rows = pd.concat([read_rows(p / RESULTS_FILE) for p in out.glob("worker-*")], ignore_index=True)
    ok = rows[rows["status"] == "ok"]
    assert sorted(ok["run_id"]) == sorted(run_ids)  # none twice


@pytest.fixture(scope="module")
def sequential(tmp_path_factory: pytest.TempPathFactory) -> pd.Series:
    """The 4-run suite in one process: test accuracy by run_id."""
    out = tmp_path_factory.mktemp("seq") / "out"
    result = CliRunner().invoke(main, ["run", *SUITE, "--out", str(out)])
    assert result.exit_code == 0, result.output
    return read_rows(out / RESULTS_FILE).set_index("run_id")["test_accuracy"].sort_index()


def accuracies(out: Path) -> pd.Series:
    return ok_rows(out).set_index("run_id")["test_accuracy"].sort_index()


# --- the recorder ------------------------------------------------------------------------------
def test_rows_are_appended_and_the_last_row_of_a_run_wins(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path)
    recorder.record({"run_id": "a", "model": "m", "seed": 0, "status": "interrupted"})
    size = (tmp_path / RESULTS_FILE).stat().st_size
    inode = (tmp_path / RESULTS_FILE).stat().st_ino
    recorder.record({"run_id": "b", "model": "m", "seed": 1, "status": "ok"})
    recorder.record({"run_id": "a", "model": "m", "seed": 0, "status": "ok", "test_accuracy": 0.75})
    assert (tmp_path / RESULTS_FILE).stat().st_ino == inode  # appended to, not replaced
    assert (tmp_path / RESULTS_FILE).stat().st_size > size
    assert len(read_rows(tmp_path / RESULTS_FILE)) == 3
    latest = latest_rows(read_rows(tmp_path / RESULTS_FILE), RESULTS_FILE)
    assert latest["run_id"].tolist() == ["a", "b"]  # in order of first appearance
    assert latest["status"].tolist() == ["ok", "ok"] and latest["test_accuracy"].iloc[0] == 0.75
    recorder.compact()
    assert len(read_rows(tmp_path / RESULTS_FILE)) == 2
    again = Recorder(tmp_path)
    again.load()
    assert again.results["a"]["status"] == "ok"


def test_a_line_cut_short_by_a_crash_is_kept_aside_before_the_next_append(tmp_path: Path) -> None:
    file = AppendedCsv(tmp_path / RESULTS_FILE, [])
    file.append([{"run_id": "a", "model": "m", "seed": 0, "status": "ok"}])
    with (tmp_path / RESULTS_FILE).open("a") as f:
        f.write("b,m,1")  # a crash in the middle of a row
    AppendedCsv(tmp_path / RESULTS_FILE, []).append(
        [{"run_id": "c", "model": "m", "seed": 2, "status": "ok"}]
    )
    assert read_rows(tmp_path / RESULTS_FILE)["run_id"].tolist() == ["a", "c"]
    assert (tmp_path / f"{RESULTS_FILE}.torn").read_bytes() == b"b,m,1"


def test_a_new_column_rewrites_the_file_once(tmp_path: Path) -> None:
    file = AppendedCsv(tmp_path / "p.csv", [])
    file.append([{"run_id": "a", "prob_0": 0.5}])
    file.append([{"run_id": "b", "prob_0": 0.2, "prob_1": 0.8}])  # a third class
    frame = read_rows(tmp_path / "p.csv")
    assert frame.columns.tolist() == ["run_id", "prob_0", "prob_1"] and pd.isna(frame["prob_1"][0])


def test_a_resumed_run_forgets_its_epochs_after_the_checkpoint(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path)
    for epoch in (1, 2, 3):
        recorder.epoch({"run_id": "a", "epoch": epoch, "val_accuracy": 0.1 * epoch}, [])
    recorder.epoch({"run_id": "b", "epoch": 1}, [])
    kept = recorder.restart("a", 1)
    assert [e["epoch"] for e in kept] == [1]
    assert read_rows(tmp_path / EPOCHS_FILE)[["run_id", "epoch"]].values.tolist() == [["a", 1], ["b", 1]]


def test_merging_workers_keeps_the_finished_row_of_a_run_with_its_own_epochs(tmp_path: Path) -> None:
    dead, alive = Recorder(tmp_path / "worker-h-1"), Recorder(tmp_path / "worker-h-2")
    dead.epoch({"run_id": "a", "epoch": 1, "test_accuracy": 0.1}, [])
    dead.record(
        {
            "run_id": "a",
            "model": "m",
            "seed": 0,
            "status": "interrupted",
            "finished_at": "2026-01-01T00:00:02",
        }
    )
    alive.epoch({"run_id": "a", "epoch": 1, "test_accuracy": 0.9}, [])
    alive.record(
        {"run_id": "a", "model": "m", "seed": 0, "status": "ok", "finished_at": "2026-01-01T00:00:01"}
    )
    alive.record(
        {"run_id": "b", "model": "m", "seed": 1, "status": "ok", "finished_at": "2026-01-01T00:00:03"}
    )
    merge_workers(tmp_path)
    results = read_rows(tmp_path / RESULTS_FILE)
    assert results["run_id"].tolist() == ["a", "b"] and (results["status"] == "ok").all()
    assert read_rows(tmp_path / EPOCHS_FILE)["test_accuracy"].tolist() == [0.9]


# --- devices -----------------------------------------------------------------------------------
def test_each_worker_gets_a_gpu_of_its_own() -> None:
    assert slots(2, False, gpus=["3", "5"]) == [Slot("3"), Slot("5")]
    assert slots(2, False, gpus=["3", "5"])[1].env() == {"CUDA_VISIBLE_DEVICES": "5"}
    with pytest.raises(Exception, match="needs a GPU each"):
        slots(3, False, gpus=["0", "1"])


def test_without_gpus_workers_share_the_cpu_only_when_asked(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="--share-cpu"):
        slots(2, False, gpus=[], cores=[0, 1])
    assert slots(1, False, gpus=[], cores=[0, 1]) == [Slot(None, (0, 1))]
    assert slots(2, True, gpus=[], cores=[0, 1, 2, 3, 4]) == [Slot(None, (0, 1)), Slot(None, (2, 3, 4))]
    assert slots(3, True, gpus=[], cores=[0, 1]) == [Slot(None, (0,)), Slot(None, (1,)), Slot(None, (0,))]
    if not __import__("torch").cuda.is_available():  # the CLI refuses in one line, before any run
        result = CliRunner().invoke(main, ["run", *SUITE, "--workers", "2", "--out", str(tmp_path / "o")])
        assert result.exit_code == 2 and result.output.count("\n") == 1 and "--share-cpu" in result.output
        assert not (tmp_path / "o").exists()


# --- workers on one queue ----------------------------------------------------------------------
def test_two_cpu_workers_on_sqlite_run_each_run_once(tmp_path: Path, sequential: pd.Series) -> None:
    out = tmp_path / "out"
    process = subprocess.Popen(
        bench("--workers", "2", "--share-cpu", "--out", str(out)), stdout=subprocess.PIPE
    )
    output = finish(process)
    assert process.returncode == 0, output
    each_run_once(out, f"sqlite:///{out / 'queue.db'}", "out")
    assert len(list(out.glob("worker-*"))) == 2
    merged = read_rows(out / RESULTS_FILE)
    assert (merged["concurrent_runs"] == 2).all() and len(merged) == 4
    pd.testing.assert_series_equal(accuracies(out), sequential)
    entries = load([out]).results["entry"]
    assert sorted(entries) == ["tfidf_lr"] * 4  # one entry for the model, whatever the worker folders
    assert sorted(load(sorted(out.glob("worker-*"))).results["entry"]) == ["tfidf_lr"] * 4


def test_two_workers_on_postgresql_and_a_third_call(
    server: str, tmp_path: Path, sequential: pd.Series
) -> None:
    out = tmp_path / "out"
    command = bench("--storage", server, "--study", "suite", "--out", str(out))
    workers = [subprocess.Popen(command, stdout=subprocess.PIPE) for _ in range(2)]
    outputs = [finish(w) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    each_run_once(out, server, "suite")
    pd.testing.assert_series_equal(accuracies(out), sequential)
    third = subprocess.run(command, capture_output=True, timeout=600)
    assert third.returncode == 0, third.stderr.decode()
    each_run_once(out, server, "suite")  # it ran nothing more


PAUSED_WORKER = """
import pathlib, sys, time
import bench.runs.executor as executor
folder = pathlib.Path(sys.argv[1])
def paused(self, *args, **kwargs):
    (folder / "started").touch()  # the run is claimed: RUNNING in the queue
    while True:
        time.sleep(1)
executor.Executor.execute = paused
from bench.cli import main
main(sys.argv[2:], prog_name="bench")
"""


def test_a_killed_worker_s_run_finishes_on_the_other(tmp_path: Path, sequential: pd.Series) -> None:
    out, url = tmp_path / "out", f"sqlite:///{tmp_path / 'queue.db'}"
    args = bench("--storage", url, "--study", "kill", "--out", str(out))
    doomed = subprocess.Popen([sys.executable, "-c", PAUSED_WORKER, str(tmp_path), *args[3:]])
    deadline = time.monotonic() + 600
    while not (tmp_path / "started").exists():  # the handshake: no sleep decides the order
        assert doomed.poll() is None and time.monotonic() < deadline
        time.sleep(0.2)
    os.kill(doomed.pid, signal.SIGKILL)
    doomed.wait()
    survivor = subprocess.run(args, capture_output=True, timeout=600)
    assert survivor.returncode == 0, survivor.stderr.decode()
    trials = optuna.load_study(study_name="kill", storage=url).get_trials()
    failed = [t for t in trials if t.state == TrialState.FAIL]
    assert [t.user_attrs["index"] for t in failed] == [0]  # the killed worker's claim
    each_run_once(out, url, "kill")
    pd.testing.assert_series_equal(accuracies(out), sequential)


# --- cost repeats ------------------------------------------------------------------------------
def test_cost_repeats_run_in_fresh_processes_and_land_in_their_file(tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["run", "--suite", str(TINY), "--model", "tfidf_lr", "--cache-dir", "", "-q", "--out", str(out)]
    result = CliRunner().invoke(main, [*args, "--cost-repeats", "2"])
    assert result.exit_code == 0, result.output
    frame = read_rows(out / "cost_repeats.csv")
    assert frame.columns.tolist() == [c.name for c in COST_REPEAT_COLUMNS]
    assert frame["repeat"].tolist() == [1, 2] and (frame["run_id"] == "tfidf_lr-s0").all()
    assert (frame["steps"] == 1).all() and (frame["step_time_s_mean"] > 0).all()
    assert (frame["device"] == "cpu").all() and (frame["concurrent_runs"] == 1).all()


def test_a_network_s_timed_steps(tmp_path: Path) -> None:
    from bench.config import apply_overrides, load_suite

    (run,) = apply_overrides(load_suite(str(TINY)), {"cache_dir": "", "device": "cpu"}, ("encoder",))
    measured = timed_steps(run, steps=4, warmup=1)
    assert measured["steps"] == 4 and measured["device"] == "cpu" and 0 < measured["step_time_s_mean"] < 10


# --- --until-decided over the queue ------------------------------------------------------------
def coin_flip_reviews(path: Path) -> str:
    """150 real reviews with labels drawn at random (fixed seed): no model beats chance, so the pair
    stays undecided; one file is split 80/20, and a max_test of all 30 test rows leaves no items to
    add, so the loop's one lever is seeds."""
    from bench.data import DataRequest, load_dataset

    reviews = load_dataset("imdb", DataRequest(max_train=150, max_test=10, val_share=0.0)).train.texts
    labels = np.random.default_rng(7).integers(0, 2, len(reviews))
    pd.DataFrame({"text": reviews, "label": labels}).to_csv(path, index=False)
    return f"csv:{path}"


# The deciding process with the seeds lever taken wherever it is open: which lever narrows more is
# tests/test_levers.py's to check; here, that a seed the loop asks for goes through the queue.
SEEDS_FIRST = """
import sys
import bench.decide.actions as actions
from bench.stats.levers import SEEDS, LeverChoice

chosen = actions.choose_lever
def seeds_first(options):
    if options.seed_s_a is not None and options.seed_s_b is not None:
        return LeverChoice(SEEDS, 1, 1, seconds=options.seed_s_a + options.seed_s_b)
    return chosen(options)
actions.choose_lever = seeds_first
from bench.cli import main
main(sys.argv[1:], prog_name="bench")
"""


def deciding(data: str, out: Path, *extra: str) -> list[str]:
    suite = ["--suite", str(TINY), "--model", "encoder", "--model", "tfidf_lr", "--dataset", data]
    sizes = ["--max-train", "120", "--max-test", "30", "--epochs", "1", "--trackers", "off", "--repeats", "2"]
    decide = ["--until-decided", "--max-seeds", "3", "--max-repeats", "0", "--budget", "10m"]
    where = ["--cache-dir", "", "--out", str(out), "-q"]
    return [sys.executable, "-c", SEEDS_FIRST, "run", *suite, *sizes, *decide, *where, *extra]


def seeds_once(out: Path, storage: str, study: str) -> pd.DataFrame:
    """Every run of the queue, the suite's four and the two seeds deciding added, complete once and ok
    once in a worker folder; the decisions, one row a look: the suite's, the seeds', and the last look
    that spends the alpha left once nothing more can be bought."""
    ok = [f"{m}-s{s}" for m in ("encoder", "tfidf_lr") for s in range(3)]
    each_run_once(out, storage, study, ok)
    merged = read_rows(out / RESULTS_FILE)
    assert sorted(merged["run_id"]) == ok  # the folder's own files hold the seeds deciding added
    decisions = pd.read_csv(out / "decisions.csv")
    assert decisions["look"].tolist() == [1, 2, 3]
    assert decisions["lever"].fillna("").tolist() == ["suite", "seeds", ""]
    assert decisions["seeds_a"].tolist() == [2, 3, 3] and decisions["seeds_b"].tolist() == [2, 3, 3]
    return decisions


def test_until_decided_queues_its_seeds_for_the_workers(tmp_path: Path) -> None:
    out = tmp_path / "out"
    command = deciding(coin_flip_reviews(tmp_path / "coin.csv"), out, "--workers", "2", "--share-cpu")
    done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    seeds_once(out, f"sqlite:///{out / 'queue.db'}", "out")
    assert "pair(s) decided after 3 look" in " ".join(done.stdout.split())


def test_until_decided_across_two_calls_is_led_by_one(tmp_path: Path) -> None:
    """Two calls of one command on one storage, as two machines would: one leads the deciding, the
    other trains whatever it queues; the looks are written once."""
    out, url = tmp_path / "out", f"sqlite:///{tmp_path / 'queue.db'}"
    command = deciding(coin_flip_reviews(tmp_path / "coin.csv"), out, "--storage", url, "--study", "both")
    calls = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in "ab"
    ]
    outputs = [call.communicate(timeout=900) for call in calls]
    assert [call.returncode for call in calls] == [0, 0], outputs
    seeds_once(out, url, "both")
    said = [" ".join(stdout.split()) for stdout, _ in outputs]
    assert sum("pair(s) decided after 3 look" in s for s in said) == 1  # the leader's summary, once
    assert sum("deciding is led by pid" in s for s in said) == 1


def test_until_decided_adds_test_items_in_the_workers_folders(tmp_path: Path) -> None:
    """More test items for runs that workers trained: evaluated from the kept weights in each run's
    own worker folder, and written there, so the merged folder holds them once."""
    out = tmp_path / "out"
    suite = ["--suite", str(TINY), "--model", "encoder", "--model", "tfidf_lr", "--max-train", "200"]
    decide = ["--until-decided", "--max-seeds", "1", "--max-repeats", "0", "--margin", "1", "--budget", "1m"]
    command = [sys.executable, "-m", "bench", "run", *suite, "--epochs", "1", "--trackers", "off"]
    command += ["--max-test", "40", *decide, "--cache-dir", "", "--out", str(out), "-q"]
    done = subprocess.run(
        [*command, "--workers", "2", "--share-cpu"], capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stderr
    decisions = pd.read_csv(out / "decisions.csv")
    # 40 items leave look 1 open (as in tests/test_decide_cli.py); with no seeds to buy, the lever
    # doubles them.
    assert decisions["lever"].iloc[1] == "items" and decisions["n_items"].iloc[1] == 80
    reached = int(decisions["n_items"].max())
    merged = read_rows(out / "predictions.csv")
    test = merged[merged["split"] == "test"]
    assert sorted(test.groupby("run_id").size().items()) == [
        ("encoder-s0", reached),
        ("tfidf_lr-s0", reached),
    ]
    for run_id in ("encoder-s0", "tfidf_lr-s0"):
        held = {p: read_rows(p / "predictions.csv") for p in out.glob("worker-*")}  # a worker may run none
        holding = [p for p, rows in held.items() if not rows.empty and run_id in set(rows["run_id"])]
        assert len(holding) == 1  # the worker folder that trained it, and no other


def test_an_sqlite_queue_claims_under_a_lock_beside_its_file(tmp_path: Path) -> None:
    """SQLite cannot lock a waiting trial's row: two workers could both take one trial. The claim
    is made under an exclusive lock beside the database; a server database locks the row itself."""
    import fcntl
    import os

    from bench.launch.queue import ClaimLock, claim_lock_path

    path = claim_lock_path(f"sqlite:///{tmp_path / 'queue.db'}")
    assert path == tmp_path / "queue.db.claim"
    assert claim_lock_path("postgresql+psycopg://bench@127.0.0.1/db") is None
    with ClaimLock(path) as claim:
        other = os.open(path, os.O_RDWR)
        with pytest.raises(BlockingIOError):  # another worker's claim waits
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        claim.release()  # the objective started: the trial is this worker's
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.close(other)
