"""`bench run --until-decided` and `bench decide DIR` end to end, on a tiny encoder against tfidf_lr:
kept weights, more test items evaluated from them, decisions.csv, and a budget that ends undecided."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

import bench
from bench.api import report_verdicts
from bench.cli import main
from bench.results import DECISION_COLUMNS

COLUMNS = [c.name for c in DECISION_COLUMNS]

TINY_SUITE = Path(__file__).parent / "data" / "tiny.toml"

SETTINGS = [
    "--model",
    "encoder",
    "--model",
    "tfidf_lr",
    "--max-train",
    "200",
    "--epochs",
    "1",
    "--trackers",
    "off",
]


def run_cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False, terminal_width=200)
    return result.exit_code, " ".join(result.output.split())  # rich wraps at its own width


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A plain `bench run` folder: 40 test reviews, one seed each, nothing decided yet."""
    root = tmp_path_factory.mktemp("finished")
    out = root / "run"
    code, output = run_cli(
        "run", "--suite", str(TINY_SUITE), *SETTINGS, "--max-test", "40",
        "--cache-dir", str(root / "cache"), "--out", str(out), "-q",
    )  # fmt: skip
    assert code == 0, output
    return out


def test_runs_keep_their_selected_weights(finished: Path) -> None:
    assert (finished / "weights" / "encoder-s0.safetensors").is_file()
    assert (finished / "weights" / "tfidf_lr-s0.joblib").is_file()
    assert not (finished / "decisions.csv").exists()


def test_decide_with_no_budget_exits_0_with_what_would_decide(finished: Path, tmp_path: Path) -> None:
    folder = tmp_path / "copy"
    shutil.copytree(finished, folder)
    code, output = run_cli("decide", str(folder), "--budget", "0")
    assert code == 0, output
    decisions = pd.read_csv(folder / "decisions.csv")
    assert list(decisions.columns) == COLUMNS
    assert decisions["look"].tolist() == [1] and decisions["lever"].tolist() == ["suite"]
    assert decisions["pair_alpha"].tolist() == [0.05]  # no budget: the whole alpha at the one look
    if decisions["verdict"].iloc[0] == "inconclusive":
        assert "the budget is spent" in output and "would decide it" in output
    assert "pairs decided; budget left 0 s" in output


def test_decide_reads_the_folder_suite_s_margin_unless_one_is_given(finished: Path, tmp_path: Path) -> None:
    suite = tmp_path / "wide.toml"
    suite.write_text(TINY_SUITE.read_text(encoding="utf-8").replace("[run]", "margin = 4.0\n\n[run]", 1))
    for given, margin in (((), 4.0), (("--margin", "2"), 2.0)):
        folder = tmp_path / f"copy-{margin:g}"
        shutil.copytree(finished, folder)
        env = json.loads((folder / "env.json").read_text(encoding="utf-8"))
        for run in env["runs"]:
            run["suite"] = str(suite)
        (folder / "env.json").write_text(json.dumps(env), encoding="utf-8")
        code, output = run_cli("decide", str(folder), "--budget", "0", *given)
        assert code == 0, output
        plan = json.loads((folder / "decide.json").read_text(encoding="utf-8"))
        assert plan["verdicts"]["margin"] == margin
        assert pd.read_csv(folder / "decisions.csv")["margin"].tolist() == [margin]
        # bench report judges by the same settings: the suite's margin unless one is given.
        assert report_verdicts([folder], {"margin": float(given[1]) if given else None}).margin == margin


def test_decide_adds_test_items_whose_predictions_match_a_fresh_run(
    finished: Path, tmp_path: Path, tiny_suite: Path
) -> None:
    folder = tmp_path / "copy"
    shutil.copytree(finished, folder)
    code, output = run_cli("decide", str(folder), "--budget", "5m", "--margin", "1", "--max-seeds", "1")
    assert code == 0, output
    decisions = pd.read_csv(folder / "decisions.csv")
    assert decisions["look"].tolist() == list(range(1, len(decisions) + 1))  # one pair: a row a look
    # 40 items leave look 1 open (at its small share of alpha); with no seeds to buy, the lever
    # doubles the test items.
    assert len(decisions) > 1 and decisions["lever"].iloc[1] == "items" and decisions["n_items"].iloc[1] == 80
    # The kept weights on the new items predict what a run tested on 80 items from the start does.
    preds = pd.read_csv(folder / "predictions.csv", dtype={"example_id": str})
    fresh = tmp_path / "fresh"
    bench.run(
        str(tiny_suite), ["encoder", "tfidf_lr"], out=fresh, quiet=True, max_train=200, max_test=80,
        epochs=1, trackers=False, cache_dir=str(tmp_path / "cache"),
    )  # fmt: skip
    again = pd.read_csv(fresh / "predictions.csv", dtype={"example_id": str})
    preds, again = (frame[frame["split"] == "test"] for frame in (preds, again))
    cols = ["run_id", "example_id", "label", "pred"]
    preds = preds[preds["example_id"].isin(set(again["example_id"]))]  # the draw's first 80 items
    assert len(preds) == 2 * 80
    pd.testing.assert_frame_equal(
        preds[cols].sort_values(cols).reset_index(drop=True),
        again[cols].sort_values(cols).reset_index(drop=True),
    )


def test_run_until_decided_end_to_end(tiny_suite: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, output = run_cli(
        "run", "--suite", str(tiny_suite), *SETTINGS, "--max-test", "60", "--cache-dir",
        str(tmp_path / "cache"), "--out", str(out), "-q", "--until-decided", "--budget", "3m",
    )  # fmt: skip
    assert code == 0, output
    decisions = pd.read_csv(out / "decisions.csv")
    assert list(decisions.columns) == COLUMNS
    assert "look 1 (" in output and "pair(s) decided after" in output
    last = decisions.iloc[-1]
    # tfidf_lr against a one-layer encoder on 200 reviews: about 30 points apart, decided in a look or two.
    assert last["verdict"] != "inconclusive", output
    assert last["elapsed_s"] > 0 and (decisions["elapsed_s"].diff().dropna() >= 0).all()
    # The report shows each verdict's path and the time spent deciding.
    code, output = run_cli("report", str(out), "--format", "markdown", "--out", str(tmp_path / "r.md"))
    assert code == 0, output
    text = " ".join((tmp_path / "r.md").read_text().split())
    assert "Until decided" in text and "1 of 1 pairs decided in" in text and "s spent deciding" in text
    assert f"{last['verdict']} at look {int(last['look'])}" in text and "suite (60 items, 1+1 seeds," in text
