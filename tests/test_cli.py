from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import click
import pandas as pd
import pytest
from click.testing import CliRunner

from bench.cli import main
from bench.results import PREDICTION_COLUMNS, epoch_columns, result_columns


def run_cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False, terminal_width=200)
    return result.exit_code, result.output


def test_run_end_to_end_writes_results(tiny_suite: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, output = run_cli("run", "--suite", str(tiny_suite), "--out", str(out), "-q")
    assert code == 0, output
    results = pd.read_csv(out / "results.csv")
    assert list(results.columns[: len(result_columns())]) == [c.name for c in result_columns()]
    assert results["model"].tolist() == ["encoder", "bert", "bert_bilstm", "tfidf_lr"]
    assert (results["status"] == "ok").all()
    for column in ("test_accuracy", "val_accuracy", "test_macro_f1", "train_accuracy", "majority_accuracy"):
        assert results[column].between(0, 1).all(), column
    assert results["p_vs_majority"].between(0, 1).all()
    assert (results["selected_epoch"].between(1, 2)).all()
    assert (results["params_total"] > 0).all()
    assert (results["train_time_s"] > 0).all()
    assert (results[["n_train", "n_val", "n_test"]] == [43, 5, 24]).all().all()  # 48 asked, 5 held out
    epochs = pd.read_csv(out / "epochs.csv")
    assert list(epochs.columns[: len(epoch_columns())]) == [c.name for c in epoch_columns()]
    assert len(epochs) == 3 * 2 + 1  # three networks, two epochs each, and one fit
    predictions = pd.read_csv(out / "predictions.csv")
    assert list(predictions.columns[: len(PREDICTION_COLUMNS)]) == [c.name for c in PREDICTION_COLUMNS]
    assert {"prob_0", "prob_1"} <= set(predictions.columns)
    assert len(predictions) == 4 * (24 + 5)  # the selected epoch's test and validation predictions
    env = (out / "env.json").read_text()
    assert '"torch"' in env and '"command"' in env
    assert "encoder" in output and "bert_bilstm" in output and "majority class" in output  # the table
    assert "Is it worth it?" in output and "training time of" in output  # the end-of-run verdicts


def test_same_seed_gives_identical_metrics(tiny_suite: Path, tmp_path: Path) -> None:
    frames = []
    for name in ("a", "b"):
        out = tmp_path / name
        args = ["run", "--suite", str(tiny_suite), "--model", "encoder", "--model", "bert"]
        code, output = run_cli(*args, "--out", str(out), "-q")
        assert code == 0, output
        frames.append(pd.read_csv(out / "epochs.csv"))
    metrics = ["train_loss", "train_accuracy", "test_loss", "test_accuracy", "test_macro_f1"]
    pd.testing.assert_frame_equal(frames[0][metrics], frames[1][metrics])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--suite", "quik"], "Did you mean 'quick'"),
        (["run", "--model", "bert_bilstn"], "Did you mean 'bert_bilstm'"),
        (["run", "--epochs", "-1"], "Epochs must be at least 1"),
        (["run", "--batch-size", "0"], "Batch size must be at least 1"),
        (["run", "--max-len", "1"], "Max_len must be at least 2"),
        (["run", "--dataset", "imbd"], "Did you mean 'imdb'"),
        (["run", "--dataset", "kaggle:/nonexistent"], "is not a folder"),
        (["run", "--model", "bert", "--pretrained", "/nonexistent-model"], "not in the local cache"),
        (["run", "--model", "tfidf_lr", "--option", "c_grid=1,x"], "c_grid must be numbers"),
    ],
)
def test_user_errors_are_one_line_exit_2(args: list[str], message: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "o")])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_pretrained_folder_that_is_not_a_model(tmp_path: Path) -> None:
    (tmp_path / "weights").mkdir()
    result = CliRunner().invoke(main, ["run", "--model", "bert", "--pretrained", str(tmp_path / "weights")])
    assert result.exit_code == 2
    assert "is not a model folder" in result.output


def help_of(option: click.Parameter) -> str:
    """An option's help as `--help` shows it (written then, for a help that lists a registry)."""
    record = option.get_help_record(click.Context(main))
    return record[1] if record else ""


def test_run_flags_come_from_run_config() -> None:
    """Every RunConfig field marked as a flag is an option of `bench run` and `bench sweep`, with
    its help and choices; no other run setting is."""
    import dataclasses

    from bench.config import RunConfig

    flagged = {f.name: f for f in dataclasses.fields(RunConfig) if "help" in f.metadata}
    assert {"max_len", "dataset", "device", "bucket"} <= set(flagged)
    for command in ("run", "sweep"):
        params = {p.name: p for p in main.commands[command].params}
        for name, field in flagged.items():
            assert name in params, f"bench {command} lacks --{name.replace('_', '-')}"
            written = field.metadata["help"]
            shown = help_of(params[name])
            assert (written if isinstance(written, str) else written()) in shown.replace("\n", " ")
            if field.metadata["choices"]:
                assert list(params[name].type.choices) == list(field.metadata["choices"])
        assert "warmup_ratio" not in params  # a suite setting, not a flag
        epochs, seed = (
            params[n].get_help_record(click.Context(main.commands[command]))[1] for n in ("epochs", "seed")
        )
        assert "else 1]" in epochs and "else 0]" in seed  # numbers, not on and off
        dataset = params["dataset"].get_help_record(click.Context(main.commands[command]))[1]
        assert "kaggle:DIR" in dataset and "tsv:PATH" in dataset  # the registered loaders, as written


ROOT = Path(__file__).resolve().parents[1]
# python3 as CI's script calls it: `-m venv .venv` makes a .venv whose pip succeeds and whose python
# (pytest) exits with the code in PYTEST_EXIT; the script's own lines run for real.
FAKE_PYTHON3 = """#!/usr/bin/env bash
[ "$1 $2 $3" = "-m venv .venv" ] || exit 99
mkdir -p .venv/bin
printf '#!/usr/bin/env bash\\nexit 0\\n' > .venv/bin/pip
printf '#!/usr/bin/env bash\\necho "$CI $*" > ran\\nexit %s\\n' "$PYTEST_EXIT" > .venv/bin/python
chmod +x .venv/bin/pip .venv/bin/python
"""


def test_ci_runs_the_readme_test_command_and_fails_on_no_tests(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    command = readme.split("Run the tests:", 1)[1].strip().splitlines()[0].strip()
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert command in script.splitlines()  # the README's command, exactly
    checkout = tmp_path / "clone"
    (checkout / ".ci").mkdir(parents=True)
    shutil.copy2(ROOT / ".ci" / "run", checkout / ".ci" / "run")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").write_text(FAKE_PYTHON3)
    (bin_dir / "python3").chmod(0o755)
    for code in (0, 1, 5):  # 5: pytest collected no tests, which CI must not pass
        env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "PYTEST_EXIT": str(code)}
        env.pop("CI", None)
        done = subprocess.run(
            ["bash", str(checkout / ".ci" / "run")], env=env, capture_output=True, timeout=60
        )
        assert done.returncode == code, done.stderr
        pytest_args = command.rsplit(".venv/bin/python ", 1)[1]  # -m pytest and its options
        assert (checkout / "ran").read_text() == f"true {pytest_args}\n"  # CI=true, whatever the caller set


def test_a_wheel_carries_every_subpackage(tmp_path: Path) -> None:
    """`pip install .` (not editable) installs every folder of bench/ that is a package, the models
    and the suites: a subpackage missing from pyproject.toml would import only from a checkout."""
    root = Path(__file__).resolve().parents[1]
    source = tmp_path / "source"  # a copy: building writes build/ beside pyproject.toml
    for name in ("bench", "models", "suites"):
        shutil.copytree(root / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(root / name, source / name)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", str(source)],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("bench-*.whl")
    packed = {str(Path(name).parent) for name in zipfile.ZipFile(wheel).namelist() if name.endswith(".py")}
    packages = {str(p.parent.relative_to(root)) for p in (root / "bench").rglob("__init__.py")}
    assert packages and packages <= packed
    assert {"bench/models", "bench/suites"} <= packed | {
        str(Path(n).parent) for n in zipfile.ZipFile(wheel).namelist() if n.endswith(".toml")
    }
