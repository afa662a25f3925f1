"""Errors a user makes are one line and exit 2, never a traceback; nothing a folder held is lost.

One test (or one parametrized case) for each cause found by fuzzing the landed code: results files
cut, re-encoded or edited, missing columns, text in numeric columns, data files that are unreadable or
not files, a full disk while keeping weights, resume after a crash, and the output paths of a report.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from bench import notices
from bench.cli import main
from bench.config import ReportSettings, RunConfig
from bench.data import DataRequest, load_dataset
from bench.errors import BenchError
from bench.reporting.report import build
from bench.results import DECISION_COLUMNS, read_rows, saved_runs
from bench.runs.executor import Executor
from bench.runs.recorder import Recorder
from tests.fuzzing import snapshot

GOLDEN = Path(__file__).parent / "data" / "golden" / "basic"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return Path(shutil.copytree(GOLDEN, tmp_path / "basic"))


def one_line_exit_2(args: list[str]) -> str:
    """Run `bench ARGS`; it must exit 2 with one line on stderr and no traceback. The line."""
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("bench: error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


def edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, count), encoding="utf-8")


# --- results files a report reads ------------------------------------------------------------------
CUT_MID_FIELD = "encoder-s0,golden,enc"
BROKEN = [  # file, text replaced (its first occurrence), by what, what the one line says
    (
        "results.csv",
        "\nencoder-s1,",
        '\nencoder-s1,"x,',
        "line 3: unexpected end of data (a quote left open?)",
    ),
    (
        "results.csv",
        "\nbert-s0,golden,",
        "\nbert-s0,golden,extra,",
        "line 4: 31 fields where the header has 30",
    ),
    ("results.csv", "\n", "\n" + CUT_MID_FIELD + "\n", "line 2: 3 fields where the header has 30"),
    (
        "results.csv",
        "0.3,0.292929",
        "1.5,0.292929",
        "line 2, column test_accuracy: '1.5' is not a fraction in [0, 1]",
    ),
    (
        "results.csv",
        "0.4,0.4,",
        "-0.5,0.4,",
        "line 3, column test_accuracy: '-0.5' is not a fraction in [0, 1]",
    ),
    ("results.csv", ",2,0,cpu,", ",2,,cpu,", "line 2, column seed: empty, and every row needs one"),
    ("results.csv", ",2,0,cpu,", ",2,zero,cpu,", "line 2, column seed: 'zero' is not an integer"),
    ("results.csv", ",100.0,50.0,", ",abc,50.0,", "line 2, column train_time_s: 'abc' is not a number ≥ 0"),
    ("results.csv", ",12419331.0,", ",abc,", "line 2, column params_total: 'abc' is not a number ≥ 0"),
    ("results.csv", ",imdb,2.0,", ",imdb,abc,", "line 2, column n_classes: 'abc' is not a count"),
    (
        "epochs.csv",
        "encoder-s0,encoder,0,1,",
        "encoder-s0,encoder,0,one,",
        "line 2, column epoch: 'one' is not a",
    ),
    (
        "epochs.csv",
        ",0.5,0.5,0.8,",
        ",0.5,high,0.8,",
        "line 2, column val_accuracy: 'high' is not a fraction",
    ),
    ("predictions.csv", "\nencoder-s0,", "\nencoder-s0,extra,", "line 2: 9 fields where the header has 8"),
    ("predictions.csv", "ex-0,0,0", "ex-0,0,", "line 2, column pred: empty, and every row needs one"),
]


@pytest.mark.parametrize(("name", "old", "new", "message"), BROKEN)
def test_a_broken_results_file_is_one_line_naming_file_line_and_column(
    folder: Path, name: str, old: str, new: str, message: str
) -> None:
    edit(folder / name, old, new)
    before = snapshot(folder)
    line = one_line_exit_2(["report", str(folder)])
    assert f"{name}, {message}" in line, line
    assert snapshot(folder) == before


def test_a_results_file_resaved_with_semicolons_says_so(folder: Path) -> None:
    edit(folder / "results.csv", ",", ";", count=-1)
    line = one_line_exit_2(["report", str(folder)])
    assert "results.csv, line 1: lacks the columns run_id, model, seed, status" in line
    assert "the header reads as one column: is the file separated by ';', not commas?" in line


@pytest.mark.parametrize(
    ("encode", "message"),
    [
        (lambda t: t.encode("utf-16"), "results.csv, line 1: UTF-16 text"),
        (
            lambda t: t.replace("golden", "gold\xe9n", 2).encode("latin-1"),
            "results.csv, line 2, column suite: bytes that are not UTF-8",
        ),
        (
            lambda t: t.encode("utf-8").replace(b"\nbert-s0", b"\nbert\x00-s0"),
            "results.csv, line 4, column run_id: a NUL byte",
        ),
    ],
)
def test_a_results_file_in_another_encoding_is_one_line(folder: Path, encode: object, message: str) -> None:
    path = folder / "results.csv"
    path.write_bytes(encode(path.read_text(encoding="utf-8")))  # type: ignore[operator]
    assert message in one_line_exit_2(["report", str(folder)])


@pytest.mark.parametrize(
    ("name", "column"),
    [
        ("results.csv", "run_id"),
        ("results.csv", "model"),
        ("results.csv", "status"),
        ("results.csv", "seed"),
        ("epochs.csv", "epoch"),
        ("epochs.csv", "run_id"),
        ("predictions.csv", "pred"),
        ("predictions.csv", "label"),
        ("predictions.csv", "example_id"),
        ("predictions.csv", "run_id"),
    ],
)
def test_a_required_column_missing_is_named(folder: Path, name: str, column: str) -> None:
    frame = pd.read_csv(folder / name, dtype=str, keep_default_na=False)
    frame.drop(columns=[column]).to_csv(folder / name, index=False)
    line = one_line_exit_2(["report", str(folder)])
    assert f"{name}, line 1: lacks the column {column}" in line


@pytest.mark.parametrize(
    ("name", "column"), [("results.csv", "device"), ("epochs.csv", "cumulative_train_time_s")]
)
def test_an_optional_column_missing_reads_as_empty(folder: Path, name: str, column: str) -> None:
    frame = pd.read_csv(folder / name, dtype=str, keep_default_na=False)
    frame.drop(columns=[column]).to_csv(folder / name, index=False)
    report = build([folder], ReportSettings("time"))
    frame = report.loaded.results if name == "results.csv" else report.loaded.epochs
    assert frame[column].isna().all() and len(report.pairs) == 3


def test_steps_without_their_step_column_is_named(folder: Path) -> None:
    (folder / "steps.csv").write_text(
        "run_id,model,seed,epoch,chunk,train_loss\nencoder-s0,encoder,0,1,1,0.5\n"
    )
    assert "steps.csv, line 1: lacks the column step" in one_line_exit_2(["report", str(folder)])


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("," * (len(DECISION_COLUMNS) - 1) + "\n", "line 2, column look: empty, and every row needs one"),
        ("not,a,decisions,file\n1,2,3,4\n", "line 1: lacks the columns look, fraction"),
        ('1,a,b,2,2,10,"x\n', "line 2: unexpected end of data"),
    ],
)
def test_a_broken_decisions_file_is_one_line_for_report_and_decide(
    folder: Path, body: str, message: str
) -> None:
    header = ",".join(c.name for c in DECISION_COLUMNS) + "\n"
    (folder / "decisions.csv").write_text(body if body.startswith("not") else header + body)
    assert message in one_line_exit_2(["report", str(folder)])
    assert message in one_line_exit_2(["decide", str(folder), "--budget", "0"])


# --- resume ----------------------------------------------------------------------------------------
WORDS = ["great", "awful", "fine", "dull", "moving", "boring", "superb", "weak"]


def small_reviews(path: Path, n: int = 80) -> Path:
    """A CSV of `n` short reviews whose label follows their words: enough for tfidf_lr in a second."""
    rows = [f"{WORDS[i % 8]} film {WORDS[(3 * i) % 8]} plot,{i % 8 % 2}" for i in range(n)]
    path.write_text("text,label\n" + "\n".join(rows) + "\n")
    return path


@pytest.fixture(scope="module")
def pair_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two finished runs of tfidf_lr (seeds 0 and 1), made once for the resume tests."""
    tmp = tmp_path_factory.mktemp("pair")
    suite = tmp / "pair.toml"
    data = small_reviews(tmp / "reviews.csv")
    suite.write_text(f'description = "two fast runs"\n[run]\ndataset = "csv:{data}"\n[models.tfidf_lr]\n')
    out = tmp / "out"
    args = ["run", "--suite", str(suite), "--repeats", "2", "--out", str(out), "-q"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture
def finished_pair(pair_once: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(pair_once, tmp_path / "out"))


def test_resume_keeps_a_complete_last_row_missing_its_newline(finished_pair: Path) -> None:
    """The landed code took the unterminated last line for a torn write and cut it: the finished
    tfidf_lr-s1 row was lost. It is a complete row: it gets its newline and is kept."""
    results = finished_pair / "results.csv"
    text = results.read_text(encoding="utf-8")
    edit(results, ",ok,", ",failed,")  # the first run failed; the second finished
    results.write_text(results.read_text(encoding="utf-8").rstrip("\n"), encoding="utf-8")
    assert CliRunner().invoke(main, ["run", "--resume", str(finished_pair), "-q"]).exit_code == 0
    rows = read_rows(results).set_index("run_id")
    assert rows.loc["tfidf_lr-s1", "status"] == "ok" and rows.loc["tfidf_lr-s0", "status"] == "ok"
    second = pd.read_csv(pd.io.common.StringIO(text)).set_index("run_id").loc["tfidf_lr-s1"]
    assert rows.loc["tfidf_lr-s1", "finished_at"] == second["finished_at"]  # the row kept, not redone
    replaced = pd.read_csv(finished_pair / "results.csv.replaced")
    assert replaced["status"].tolist() == ["failed"]  # the row the resumed run replaced, kept


def test_resume_keeps_a_torn_last_line_beside_the_file_and_says_so(
    finished_pair: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(notices, "_said", set())
    epochs = finished_pair / "epochs.csv"
    torn = b"tfidf_lr-s1,tfidf_lr,1,2,0.3"  # an append cut short by a crash
    epochs.write_bytes(epochs.read_bytes() + torn)
    with caplog.at_level(logging.WARNING, logger="bench"):
        assert CliRunner().invoke(main, ["run", "--resume", str(finished_pair), "-q"]).exit_code == 0
    assert (finished_pair / "epochs.csv.torn").read_bytes() == torn
    assert not epochs.read_bytes().endswith(torn)
    said = [r.getMessage() for r in caplog.records if "cut short" in r.getMessage()]
    assert said and "kept it in epochs.csv.torn" in said[0]


def test_resume_refuses_a_folder_broken_mid_file_and_changes_nothing(finished_pair: Path) -> None:
    edit(finished_pair / "predictions.csv", "\ntfidf_lr-s0,", "\ntfidf_lr-s0,extra,")
    before = snapshot(finished_pair)
    assert "predictions.csv, line 2: " in one_line_exit_2(["run", "--resume", str(finished_pair)])
    assert snapshot(finished_pair) == before


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ("{", "is not readable JSON"),
        ("[]", "holds a JSON list, not an object"),
        ('{"runs": "x"}', 'lists no runs (a "runs" list of objects)'),
        ('{"runs": [{"seed": 0}]}', "run 1: no model"),
        ('{"runs": [{"model": "encoder", "colour": 1}]}', "run 1: an unknown setting 'colour'"),
        ('{"runs": [{"model": "encoder", "max_len": "abc"}]}', "run 1: 'max_len' must be int, not 'abc'"),
        ('{"runs": [{"model": "encoder", "epochs": 0}]}', "Epochs must be at least 1"),
        ('{"runs": [{"model": "encoder"}], "cost_repeats": "x"}', "cost_repeats must be a count"),
        ("[" * 100_000, "nested too deep"),
    ],
)
def test_a_broken_env_json_is_one_line(tmp_path: Path, env: str, message: str) -> None:
    (tmp_path / "env.json").write_text(env)
    with pytest.raises(BenchError) as info:
        saved_runs(tmp_path)
    assert message in str(info.value) and "\n" not in str(info.value)


# --- a full disk ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("model", "writer"), [("tfidf_lr", "joblib.dump"), ("encoder", "bench.runs.weights.save_file")]
)
def test_weights_that_cannot_be_written_cost_only_the_weights(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, model: str, writer: str
) -> None:
    def disk_full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(writer, disk_full)
    monkeypatch.setattr(notices, "_said", set())
    options = (
        {"d_model": 16, "n_layers": 1, "n_heads": 2, "ff_dim": 32, "vocab_size": 500}
        if model == "encoder"
        else {}
    )
    data = f"csv:{small_reviews(tmp_path / 'reviews.csv')}"
    run = RunConfig(model=model, dataset=data, max_len=16, epochs=1, options=options)
    out = tmp_path / "out"
    with caplog.at_level(logging.WARNING, logger="bench"):
        Executor(out, keep_weights=True).execute(run, sink=Recorder(out))
    row = read_rows(out / "results.csv").iloc[0]
    assert row["status"] == "ok" and not row["weights_kept"]
    warned = [r.getMessage() for r in caplog.records if r.getMessage().startswith("weights not kept")]
    assert len(warned) == 1 and "No space left on device" in warned[0]
    assert not list(out.glob("weights/*"))  # nothing half-written


# --- data files that are no files, or unreadable -------------------------------------------------------
REVIEWS = "text,label\n" + "".join(f"review {i},{i % 2}\n" for i in range(20))


@pytest.mark.parametrize("scheme", ["csv", "tsv", "jsonl", "kaggle"])
def test_a_folder_given_as_a_data_file_says_so(tmp_path: Path, scheme: str) -> None:
    (tmp_path / "data.x").mkdir()
    (tmp_path / "data.x" / "train.tsv").mkdir()
    with pytest.raises(BenchError, match=r"is a folder, not a file\.$"):
        load_dataset(f"{scheme}:{tmp_path / 'data.x'}", DataRequest(None, None))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_fifo_and_dev_null_are_no_data_files(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.csv")
    with pytest.raises(BenchError, match=r"pipe\.csv is a named pipe \(FIFO\), not a file"):
        load_dataset(f"csv:{tmp_path / 'pipe.csv'}", DataRequest(None, None))  # and does not block
    with pytest.raises(BenchError, match=r"/dev/null is a device, not a file"):
        load_dataset("jsonl:/dev/null", DataRequest(None, None))


@pytest.mark.parametrize("scheme", ["csv", "tsv", "jsonl", "kaggle"])
@pytest.mark.parametrize(
    "error", [PermissionError(errno.EACCES, "Permission denied"), OSError(errno.EIO, "Input/output error")]
)
def test_a_data_file_that_cannot_be_read_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scheme: str, error: OSError
) -> None:
    (tmp_path / "train.tsv").write_text(
        REVIEWS.replace(",", "\t").replace("text\tlabel", "review\tsentiment")
    )
    (tmp_path / "test.tsv").write_text((tmp_path / "train.tsv").read_text())
    (tmp_path / "data.csv").write_text(REVIEWS)

    def unreadable(self: Path) -> bytes:
        raise error

    monkeypatch.setattr(Path, "read_bytes", unreadable)  # tests run as root, who may read any file
    target = tmp_path if scheme == "kaggle" else tmp_path / "data.csv"
    with pytest.raises(BenchError) as info:
        load_dataset(f"{scheme}:{target}", DataRequest(None, None))
    assert f"cannot be read: {error.strerror}." in str(info.value)


def test_a_folder_that_cannot_be_looked_into_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bench.readable

    def denied(path: object) -> os.stat_result:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(bench.readable.os, "stat", denied)
    with pytest.raises(BenchError, match=r"data\.csv cannot be looked at \(Permission denied\)"):
        load_dataset(f"csv:{tmp_path / 'data.csv'}", DataRequest(None, None))


def test_a_file_name_of_300_characters_is_one_line(tmp_path: Path) -> None:
    long = tmp_path / ("r" * 300 + ".csv")
    with pytest.raises(BenchError, match="its name is too long for the file system"):
        load_dataset(f"csv:{long}", DataRequest(None, None))
    assert "name is too long" in one_line_exit_2(["report", str(tmp_path / ("f" * 300))])


# --- before training -----------------------------------------------------------------------------------
def test_tfidf_lr_without_a_validation_split_stops_before_training(tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["run", "--model", "tfidf_lr", "--max-train", "60", "--max-test", "20", "--val-share", "0"]
    assert "chooses C on the validation split" in one_line_exit_2([*args, "--out", str(out)])
    assert not out.exists()


def test_an_empty_vocabulary_stops_before_training(tmp_path: Path) -> None:
    data = tmp_path / "short.csv"
    data.write_text("text,label\n" + "".join(f"{'!?'[i % 2]},{i % 2}\n" for i in range(30)))
    args = ["run", "--model", "tfidf_lr", "--dataset", f"csv:{data}", "--out", str(tmp_path / "out")]
    assert "its vocabulary would be empty" in one_line_exit_2(args)


def test_reviews_empty_after_cleaning_are_empty_reviews(tmp_path: Path) -> None:
    data = tmp_path / "br.csv"
    data.write_text(REVIEWS + "<br /><br />,1\n")
    with pytest.raises(BenchError, match=r"br\.csv, line 22: empty review; fix it or pass --skip-bad-rows"):
        load_dataset(f"csv:{data}", DataRequest(None, None))


def test_a_class_too_small_names_the_flag_that_keeps_it(tmp_path: Path) -> None:
    data = tmp_path / "typo.csv"
    data.write_text(REVIEWS + "one more,l\n")
    args = ["run", "--model", "tfidf_lr", "--dataset", f"csv:{data}", "--out", str(tmp_path / "out")]
    line = one_line_exit_2(args)
    assert "line 22: the class 'l' has 1 training row, fewer than 5" in line and "--min-class-size 1" in line


# --- where a report and a run write ----------------------------------------------------------------------
def test_a_report_to_a_folder_writes_its_file_inside(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "reports"
    out.mkdir()
    result = CliRunner().invoke(main, ["report", str(folder), "--format", "csv", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "report.csv").is_file() and (out / "plots" / "pairs.png").is_file()


def test_a_file_named_plots_in_the_folder_is_one_line(folder: Path) -> None:
    (folder / "plots").write_text("not a folder")
    assert "plots is a file; the report writes its plots in a folder there" in one_line_exit_2(
        ["report", str(folder)]
    )
    assert (folder / "plots").read_text() == "not a folder"


def test_a_lock_that_is_a_folder_is_one_line(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / ".bench.lock").mkdir(parents=True)
    args = ["run", "--model", "tfidf_lr", "--max-train", "60", "--max-test", "20", "--out", str(out)]
    assert ".bench.lock cannot be read as the folder's lock" in one_line_exit_2(args)


@pytest.mark.parametrize("where", ["f" * 300, "a-file/out"])
def test_an_out_folder_that_cannot_be_made_is_one_line(tmp_path: Path, where: str) -> None:
    (tmp_path / "a-file").write_text("")
    args = [
        "run",
        "--model",
        "tfidf_lr",
        "--max-train",
        "60",
        "--max-test",
        "20",
        "--out",
        str(tmp_path / where),
    ]
    assert "Cannot make the results folder" in one_line_exit_2(args)
