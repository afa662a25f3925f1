"""`bench sweep --param max_len` with no --model: every model of the suite, one study each over the
same grid, with two workers on one storage; its answer across max_len in `bench report`; and sweep
trials of two studies of one model kept apart in a report."""

from __future__ import annotations

import datetime
import subprocess
import sys
from pathlib import Path

import optuna
import pandas as pd
import pytest
from click.testing import CliRunner
from optuna.distributions import CategoricalDistribution, IntDistribution
from optuna.trial import TrialState

from bench.cli import main
from bench.config import SweepSettings, load_suite
from bench.errors import BenchError
from bench.reporting import max_len
from bench.reporting.data import aggregate, load
from bench.reporting.pairs import judge
from bench.reporting.report import build
from bench.sweep.across import Overall, Plan, plan
from bench.sweep.search_space import resolve_spaces

ROOT = Path(__file__).resolve().parents[1]
ACROSS = ROOT / "tests" / "data" / "tiny_across.toml"
TINY = ROOT / "tests" / "data" / "tiny_sweep.toml"
STUDIES = ("tiny_across-encoder-max_len", "tiny_across-bert-max_len")


def across_args(out: Path, *extra: str) -> list[str]:
    return ["sweep", "--suite", str(ACROSS), "--param", "max_len", "--out", str(out), "-q", *extra]


# --- the plan and the grid (no training) -------------------------------------------------------
def test_no_model_means_every_network_of_the_suite_on_the_suites_grid() -> None:
    suite = load_suite(str(ACROSS))
    p = plan(suite, (), SweepSettings(("max_len",)), trials_given=False, out=None)
    assert p.models == ("encoder", "bert") and p.left_out == ("tfidf_lr",)  # tfidf_lr reads whole reviews
    assert p.studies == STUDIES
    assert (p.settings.sampler, p.settings.trials, p.settings.prune) == ("grid", 2, False)  # every point
    assert p.out == Path("reports") / "sweep-tiny_across-max_len"

    narrowed = plan(suite, ("bert",), SweepSettings(("max_len",), trials=1, study="s"), True, None)
    assert (narrowed.models, narrowed.studies, narrowed.settings.trials) == (("bert",), ("s-bert",), 1)
    assert narrowed.out == Path("reports") / "sweep-s"
    tpe = plan(suite, (), SweepSettings(("max_len",), sampler="tpe"), False, None)
    assert (tpe.settings.sampler, tpe.settings.trials, tpe.settings.prune) == ("tpe", 10, True)
    with pytest.raises(BenchError, match="nothing to sweep"):
        plan(suite, ("tfidf_lr",), SweepSettings(("max_len",)), False, None)


def test_a_suites_grid_points_serve_the_grid_sampler_and_its_range_the_others() -> None:
    suite = load_suite(str(ACROSS))
    assert resolve_spaces(["max_len"], suite, "encoder", grid=True)[0].values() == [16, 32]
    ranged = resolve_spaces(["max_len"], suite, "encoder")[0]
    assert ranged.distribution == IntDistribution(16, 64, step=16)
    inline = resolve_spaces(["max_len=8,24"], suite, "encoder", grid=True)[0]  # inline: its own points
    assert inline.distribution == CategoricalDistribution([8, 24])
    quick = load_suite("quick")
    assert resolve_spaces(["max_len"], quick, "bert", grid=True)[0].values() == [24, 48, 96]
    bad = {**suite.sweep, "max_len": {"low": 16, "high": 64, "grid": []}}
    with pytest.raises(BenchError, match="grid must be a non-empty list"):
        resolve_spaces(["max_len"], type(suite)(suite.name, "", suite.runs, sweep=bad), "encoder", grid=True)


def test_time_left_is_each_models_remaining_trials_at_its_own_mean() -> None:
    storage = optuna.storages.InMemoryStorage()
    suite = load_suite(str(ACROSS))
    the_plan = Plan(suite, ("a", "b"), ("s-a", "s-b"), (), SweepSettings(("max_len",), trials=3), Path())
    overall = Overall(the_plan, storage)
    assert overall() == "2 models · time left: after the first trial"
    study = optuna.create_study(storage=storage, study_name="s-a")
    start = datetime.datetime(2026, 1, 1)
    for seconds in (10, 20):
        trial = optuna.trial.create_trial(value=0.5, state=TrialState.COMPLETE)
        trial.datetime_start, trial.datetime_complete = start, start + datetime.timedelta(seconds=seconds)
        study.add_trial(trial)
    # a: one trial left at its mean of 15 s; b: not begun, three trials at the mean of all, 15 s.
    assert overall() == "4 trial(s) left in all · about 60 s left"


# --- a whole sweep across models, two workers on one storage -----------------------------------
@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("across")
    storage = f"sqlite:///{out / 'shared.db'}"
    cmd = [sys.executable, "-m", "bench", *across_args(out, "--storage", storage)]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for _ in "ab"]
    outputs = [p.communicate(timeout=600)[0].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    return out


def test_every_model_is_measured_once_at_every_grid_point(swept: Path) -> None:
    storage = f"sqlite:///{swept / 'shared.db'}"
    assert not (swept / "study.db").exists()  # --storage, not the default file
    for name in STUDIES:
        trials = optuna.load_study(study_name=name, storage=storage).get_trials()
        ran = [t for t in trials if "skipped" not in t.user_attrs]
        assert [t.state for t in ran] == [TrialState.COMPLETE] * 2, name
        assert sorted(t.params["max_len"] for t in ran) == [16, 32], name
    table = pd.read_csv(swept / "trials.csv")  # every study, with its name
    assert sorted(table.groupby("study")["max_len"].apply(sorted).items()) == sorted(
        (name, [16, 32]) for name in STUDIES
    )
    rows = pd.read_csv(swept / "results.csv")  # every worker folder's rows, merged
    assert sorted(zip(rows["model"], rows["max_len"])) == [
        ("bert", 16),
        ("bert", 32),
        ("encoder", 16),
        ("encoder", 32),
    ]
    assert (rows["status"] == "ok").all() and rows["run_id"].is_unique  # no trial run twice


def test_running_it_again_resumes_and_runs_nothing(swept: Path) -> None:
    before = pd.read_csv(swept / "results.csv")
    storage = f"sqlite:///{swept / 'shared.db'}"
    result = CliRunner().invoke(main, across_args(swept, "--storage", storage))
    assert result.exit_code == 0, result.output
    assert "`bench report" in " ".join(result.output.split()).replace("` bench", "`bench")
    after = pd.read_csv(swept / "results.csv")
    assert len(after) == len(before) and set(after["run_id"]) == set(before["run_id"])


def test_the_report_answers_across_max_len_with_the_pair_rule(swept: Path, tmp_path: Path) -> None:
    rep = build([swept])
    answers = {a.model: a for a in max_len.answer(rep)}
    assert set(answers) == {"encoder", "bert"}
    trials = pd.read_csv(swept / "trials.csv")
    for model, a in answers.items():
        mine = trials[trials["study"] == f"tiny_across-{model}-max_len"].sort_values("max_len")
        assert a.points["max_len"].tolist() == [16, 32]
        assert a.points["val_accuracy"].tolist() == pytest.approx(mine["val_accuracy"].tolist())
        assert a.points["truncated_test_share"].tolist() == pytest.approx(
            mine["truncated_test_share"].tolist()
        )
        # chosen on validation; on a tie, the cheaper to train
        best = mine.sort_values(["val_accuracy", "cost_time"], ascending=[False, True], kind="stable").iloc[0]
        assert a.best["val_accuracy"] == pytest.approx(best["val_accuracy"])
        assert a.best["test_accuracy"] == pytest.approx(best["test_accuracy"])
        assert int(a.shortest["max_len"]) == 16
        if int(a.best["max_len"]) == 16:
            assert a.pair is None and "also the best on validation" in a.headline
            continue
        # The same verdict as the report's own judge gives two ordinary entries on those two runs.
        loaded = load([swept])
        res = loaded.results
        keep = (res["model"] == model) & res["max_len"].isin([16, 32])
        res = res[keep].copy()
        res["sweep"], res["entry"] = False, [f"{model} {n}" for n in res["max_len"]]
        entry_of = dict(zip(res["run_id"], res["entry"]))
        pred = loaded.predictions[loaded.predictions["run_id"].isin(entry_of)]
        pred = pred.assign(entry=pred["run_id"].map(entry_of))
        loaded = type(loaded)(loaded.folders, res, loaded.epochs[:0], pred)
        pairs, _, _ = judge(loaded, aggregate(res), "time")
        assert a.pair is not None
        assert (a.pair["verdict"], a.pair["p_value"]) == (pairs["verdict"].iloc[0], pairs["p_value"].iloc[0])
        assert a.pair["cost_ratio"] == pytest.approx(pairs["cost_ratio"].iloc[0])

    result = CliRunner().invoke(
        main, ["report", str(swept), "--format", "markdown", "--out", str(tmp_path / "r.md")]
    )
    assert result.exit_code == 0, result.output
    text = (tmp_path / "r.md").read_text()
    assert "## Across max_len" in text and "## Is a longer input worth it?" in text
    assert all(a.headline in text for a in answers.values())
    assert (tmp_path / "plots" / "across-max_len.png").stat().st_size > 10_000
    # Every format carries every verdict: the CSV's pair rows hold the ones across max_len too.
    result = CliRunner().invoke(
        main, ["report", str(swept), "--format", "csv", "--out", str(tmp_path / "r.csv")]
    )
    assert result.exit_code == 0, result.output
    rows = pd.read_csv(tmp_path / "r.csv")
    pairs = rows[rows["level"] == "pair"]
    # The best max_len is chosen on validation, on a tie by measured cost: where every model's best
    # is its shortest there is no pair row at all, nor a group column.
    across = pairs[pairs["group"] == "across max_len"] if "group" in pairs else pairs
    decided = [a for a in answers.values() if a.pair is not None]
    assert len(across) == len(decided)
    assert sorted(across.get("verdict", [])) == sorted(str(a.pair["verdict"]) for a in decided)


# --- issue: two studies of one model ------------------------------------------------------------
def test_trials_of_two_studies_of_one_model_are_two_entries(tmp_path: Path) -> None:
    for name in ("first", "second"):
        args = ["sweep", "--suite", str(TINY), "--model", "encoder", "--param", "max_len=16", "--trials", "1"]
        result = CliRunner().invoke(main, [*args, "--study", name, "--out", str(tmp_path / name), "-q"])
        assert result.exit_code == 0, result.output
    one = load([tmp_path / "first"]).results
    assert one["entry"].tolist() == ["encoder t0"]  # one study: the short name
    both = load([tmp_path / "first", tmp_path / "second"])
    assert sorted(both.results["entry"]) == ["encoder t0 [first]", "encoder t0 [second]"]
    assert set(both.predictions["entry"]) == {"encoder t0 [first]", "encoder t0 [second]"}
    rep = build([tmp_path / "first", tmp_path / "second"])
    assert len(rep.sweep) == 2 and rep.sweep["is_best"].tolist() == [True, True]  # each its study's best


# --- tox's min environment ----------------------------------------------------------------------
def test_min_env_pins_every_lower_bound_of_pyproject_but_torch(tmp_path: Path) -> None:
    import importlib.machinery
    import importlib.util

    loader = importlib.machinery.SourceFileLoader(
        "pip_install_lowest", str(ROOT / "scripts" / "pip-install-lowest")
    )
    spec = importlib.util.spec_from_loader(loader.name, loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[project]\ndependencies = ["torch>=2.4,<2.14", "pandas>=2.0", "Scikit_Learn >= 1.3", "plain"]\n'
        '[project.optional-dependencies]\na = ["psycopg[binary]>=3.1.4", "pytest>=8"]\nb = ["pytest>=8.1"]\n'
    )
    pins = module.lowest_pins(pyproject)
    assert pins == {"pandas": "2.0", "scikit-learn": "1.3", "psycopg": "3.1.4", "pytest": "8.1"}
    assert "torch" not in module.lowest_pins() and module.lowest_pins()["optuna"] == "4.9"
