"""`bench report` against small committed result folders whose numbers were worked out by hand.

tests/data/golden/basic: 10 test items (labels alternate 0, 1); encoder right on items 0-2 (seed 0) and 0-3
(seed 1); bert right on all (seed 0) and 0-8 (seed 1); bert_bilstm right on 0-7 (seed 0), its seed 1 failed
and its seed 0 timed its 200 steps in 10 chunks. Validation accuracies by epoch are in its epochs.csv.
tests/data/golden/sweep: four trials of one model over max_len and lr; on 100 test items trial k is right
on the first 55, 62, 66 and 58, on 100 validation items on the first 50, 60, 58 and 64: validation chooses
trial 3, and against it McNemar's exact test has b = 14, 4 and 6, c = 0.

Set UPDATE_GOLDEN=1 to rewrite the expected files after an intended change; then read the diff.
"""

from __future__ import annotations

import csv
import io
import math
import os
import shutil
from pathlib import Path
from typing import Any

import matplotlib.colors as mcolors
import matplotlib.image as mpimg
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from matplotlib.container import ErrorbarContainer
from scipy import stats as sps
from statsmodels.stats.proportion import proportion_confint

from bench.cli import main
from bench.config import ReportSettings, VerdictSettings
from bench.errors import BenchError
from bench.reporting import plots
from bench.reporting.curves import training_curves
from bench.reporting.data import load, newest_folder
from bench.reporting.render_text import to_csv, to_markdown
from bench.reporting.replicates import load_cost_repeats
from bench.reporting.report import build
from bench.reporting.verdict_plots import VERDICT_COLORS, decisions_plot, pairs_plot
from bench.reporting.write import write_report
from bench.results import STEP_COLUMNS
from bench.stats.budgets import expected_max
from bench.stats.comparisons.models import MODELS_T
from bench.stats.cost import compare_cost
from bench.stats.paired import compare_accuracy
from tests.hand_made import write_decisions

GOLDEN = Path(__file__).parent / "data" / "golden"
BASIC, SWEEP, EXPECTED = GOLDEN / "basic", GOLDEN / "sweep", GOLDEN / "expected"


def check_golden(name: str, text: str) -> None:
    path = EXPECTED / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"{name} differs; UPDATE_GOLDEN=1 rewrites it"


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    """Copies, so that reports and plots land in tmp_path, never in the committed folders."""
    return shutil.copytree(BASIC, tmp_path / "basic"), shutil.copytree(SWEEP, tmp_path / "sweep")


def row(rep_entries: pd.DataFrame, entry: str) -> pd.Series:
    return rep_entries.set_index("entry").loc[entry]


def check_golden_csv(name: str, text: str) -> None:
    """As check_golden, but a number need only agree to 7 significant digits: its 8th moves with the
    numpy and scipy underneath (2.4486731 on the lowest versions pyproject.toml allows, 2.448673 on
    current ones). Every other cell, the header and the row order must be exact."""
    path = EXPECTED / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert_same_csv(name, text, path.read_text(encoding="utf-8"))


def assert_same_csv(name: str, text: str, expected: str) -> None:
    want, got = (list(csv.reader(io.StringIO(t))) for t in (expected, text))
    assert [len(r) for r in got] == [len(r) for r in want] and got[0] == want[0], f"{name}: another shape"
    for line, (mine, theirs) in enumerate(zip(got[1:], want[1:]), start=2):
        for column, a, b in zip(want[0], mine, theirs):
            try:
                same = math.isclose(float(a), float(b), rel_tol=1e-6, abs_tol=1e-12)
            except ValueError:
                same = a == b
            assert same, f"{name}, line {line}, {column}: {a!r} where {b!r} was written"


def test_golden_markdown_and_csv() -> None:
    rep = build([BASIC], ReportSettings("time"))
    check_golden("basic.md", to_markdown(rep))
    check_golden_csv("basic.csv", to_csv(rep))


def test_golden_merged_with_sweep() -> None:
    rep = build([BASIC, SWEEP], ReportSettings("memory"))
    check_golden("basic+sweep.md", to_markdown(rep))


def test_aggregates_match_hand_computation() -> None:
    e = build([BASIC]).entries
    enc, bilstm = row(e, "encoder"), row(e, "bert_bilstm")
    assert enc["test_accuracy_mean"] == pytest.approx(0.35)
    assert enc["test_accuracy_std"] == pytest.approx(math.sqrt(2 * 0.05**2))  # sample std of 0.3, 0.4
    # Student t with one degree of freedom: 0.35 ± 12.706 * 0.05 = (-0.285, 0.985), clipped at 0
    low, high = sps.t.interval(0.95, 1, loc=0.35, scale=0.05)
    assert (low, high) == pytest.approx((-0.2853, 0.9853), abs=1e-4)
    assert (enc["test_accuracy_ci_low"], enc["test_accuracy_ci_high"]) == pytest.approx((0.0, high))
    bert = row(e, "bert")  # 0.95 ± 12.706 * 0.05 = (0.315, 1.585), clipped at 1
    bert_ci = (bert["test_accuracy_ci_low"], bert["test_accuracy_ci_high"])
    assert bert_ci == pytest.approx((0.3147, 1.0), abs=1e-4)
    assert (bilstm["n_ok"], bilstm["n_failed"]) == (1, 1)
    # one ok seed: no spread and no interval, never a zero-width one
    assert math.isnan(bilstm["test_accuracy_std"]) and math.isnan(bilstm["test_accuracy_ci_low"])
    assert enc["warning"] == "≤ majority (2 of 2 runs)"


def test_time_to_target_reads_validation() -> None:
    rep = build([BASIC])
    assert rep.target == pytest.approx(0.95 * 1.0)  # the best validation accuracy: bert s0's 1.0
    bert = row(rep.entries, "bert")
    # bert s0 reaches 0.95 at its second epoch (1,000 s), s1 too (0.95 at 1,100 s); the others never
    assert bert["time_to_target_s_mean"] == pytest.approx(1050)
    assert bert["targets_reached"] == 2 and row(rep.entries, "encoder")["targets_reached"] == 0
    assert (
        build([BASIC], ReportSettings(target=0.65))
        .entries.set_index("entry")
        .loc["encoder", "time_to_target_s_mean"]
        == 120
    )


def matrix(right: dict[int, int], seeds: list[int]) -> np.ndarray:
    """Seeds x 10 items, right on items 0 .. right[seed] - 1 (the golden predictions)."""
    return np.array([[i < right[s] for i in range(10)] for s in seeds])


def test_pairs_are_the_models_comparison_at_alpha_over_the_pairs() -> None:
    pairs = build([BASIC]).pairs.set_index(["model_a", "model_b"])
    enc, bert, bilstm = matrix({0: 3, 1: 4}, [0, 1]), matrix({0: 10, 1: 9}, [0, 1]), matrix({0: 8}, [0])
    level = 0.05 / 3  # three pairs share alpha
    expected = {
        ("encoder", "bert"): compare_accuracy(enc, bert, level),
        ("encoder", "bert_bilstm"): compare_accuracy(enc, bilstm, level),
        ("bert", "bert_bilstm"): compare_accuracy(bert, bilstm, level),
    }
    assert set(pairs.index) == set(expected)  # each ordered cheaper first: training time 110, 1,050, 1,500
    for key, comp in expected.items():
        got = pairs.loc[key]
        assert got["acc_diff"] == pytest.approx(comp.diff) and got["acc_method"] == comp.method
        assert (got["acc_diff_ci_low"], got["acc_diff_ci_high"]) == pytest.approx((comp.ci_low, comp.ci_high))
        assert got["pair_alpha"] == pytest.approx(level) and got["p_value"] == pytest.approx(comp.p_value)
        assert got["p_adjusted"] == pytest.approx(min(1.0, 3 * comp.p_value))
        assert got["mde"] == pytest.approx(comp.mde, nan_ok=True)
    # two seeds of bert against one of bert_bilstm: compared, the lone seed's spread assumed, and said
    one = pairs.loc[("bert", "bert_bilstm")]
    assumed = "a seed-to-seed sd of 1.5 points assumed for bert_bilstm (one seed), not measured"
    assert assumed in one["sentence"]
    # cost: bert's two seeds against bert_bilstm's one run, judged against the assumed 10% noise
    by_hand = compare_cost([1000.0, 1100.0], [1500.0], noise=0.1, confidence=1 - level)
    assert one["cost_ratio"] == pytest.approx(1500 / 1050)
    assert (one["cost_ci_low"], one["cost_ci_high"]) == pytest.approx((by_hand.ci_low, by_hand.ci_high))
    assert one["cost_noise"] == 0.1 and "assumed, not measured" in one["sentence"]


def quick_like(folder: Path, n: int = 500) -> Path:
    """The issue's case: bert_bilstm 5% slower than bert (one chunk-timed seed each) and 0.2 points less
    accurate on 500 shared test items: both right on items 0-264, only bert on 265-299 (35 items), only
    bert_bilstm on 300-333 (34 items)."""
    folder.mkdir()
    both = set(range(265))
    hits = {"bert": both | set(range(265, 300)), "bert_bilstm": both | set(range(300, 334))}
    rows, preds = [], []
    for model, time in (("bert", 88.9), ("bert_bilstm", 93.6)):
        step = 0.95 * time / 63  # the steps take 95% of the training time; the rest is loading
        rows.append({"run_id": f"{model}-s0", "model": model, "dataset": "imdb", "n_classes": 2, "n_test": n,
                     "seed": 0, "device": "cpu", "test_accuracy": len(hits[model]) / n, "train_time_s": time,
                     "train_steps": 63, "step_time_s_mean": step, "step_time_s_sd": 0.02 * step,
                     "step_time_chunks": 10, "majority_accuracy": 0.5, "status": "ok"})  # fmt: skip
        for i in range(n):
            label = i % 2
            pred = label if i in hits[model] else 1 - label
            preds.append({"run_id": f"{model}-s0", "model": model, "seed": 0, "split": "test",
                          "example_id": f"imdb-{i}", "label": label, "pred": pred})  # fmt: skip
    pd.DataFrame(rows).to_csv(folder / "results.csv", index=False)
    pd.DataFrame(preds).to_csv(folder / "predictions.csv", index=False)
    return folder


def test_one_run_each_cost_is_judged_against_assumed_noise_never_its_chunks(tmp_path: Path) -> None:
    # The case: 1.05x with 2% chunk spread inside each run made "significantly costlier".
    rep = build([quick_like(tmp_path / "quick")])
    (pair,) = rep.pairs.to_dict("records")
    assert (pair["model_a"], pair["model_b"]) == ("bert", "bert_bilstm")
    assert pair["acc_diff"] == pytest.approx(-1 / 500) and pair["p_value"] > 0.5
    by_hand = compare_cost([88.9], [93.6], noise=0.1)  # one run a side: z interval, sd 0.1 sqrt(2)
    assert (pair["cost_ci_low"], pair["cost_ci_high"]) == pytest.approx((by_hand.ci_low, by_hand.ci_high))
    assert pair["cost_significant"] is False and pair["verdict"] == "inconclusive"
    assert "run-to-run noise of 10%, assumed, not measured" in pair["sentence"]
    # -0.2 points: "less accurate" is 0.2 points away, which 1,766 seeds a side on 542,643 items
    # would show: no plan, and the sentence says so rather than print those numbers.
    assert "no feasible amount of data would decide it at the gain observed" in pair["sentence"]
    assert rep.front["on_front"].all()


def _cost_repeats(folder: Path, bert_step: float, ratio: float) -> None:
    """A hand-made cost_repeats.csv: three repeats of each model, 1% apart."""
    rows = [
        {"run_id": f"{model}-s0", "model": model, "seed": 0, "repeat": r, "steps": 20,
         "step_time_s_mean": bert_step * scale * (1 + 0.01 * (r - 1)), "device": "cpu", "concurrent_runs": 1}
        for model, scale in (("bert", 1.0), ("bert_bilstm", ratio)) for r in range(3)
    ]  # fmt: skip
    pd.DataFrame(rows).to_csv(folder / "cost_repeats.csv", index=False)


def test_cost_repeats_are_replicates_of_training_time(tmp_path: Path) -> None:
    folder = quick_like(tmp_path / "quick")
    _cost_repeats(folder, 1.3, 1.053)
    loaded = load_cost_repeats(folder)
    assert len(loaded) == 6 and loaded["step_time_s_mean"].iloc[1] == pytest.approx(1.3)
    rep = build([folder], ReportSettings(verdicts=VerdictSettings(margin=6.0)))
    (pair,) = rep.pairs.to_dict("records")
    # each repeat's seconds per step times the run's 63 optimizer steps
    a, b = (
        [1.3 * 63 * (1 + 0.01 * (r - 1)) for r in range(3)],
        [1.3 * 1.053 * 63 * (1 + 0.01 * (r - 1)) for r in range(3)],
    )
    by_hand = compare_cost(a, b)
    assert pair["cost_ratio"] == pytest.approx(1.053)
    assert (pair["cost_ci_low"], pair["cost_ci_high"]) == pytest.approx((by_hand.ci_low, by_hand.ci_high))
    assert pair["cost_significant"] is True and math.isnan(pair["cost_noise"])
    # costlier, and the gain's upper bound (one seed a side, their spread assumed) below the 6-point margin
    assert pair["acc_diff_ci_high"] < 0.06 and pair["verdict"] == "not worth it"
    assert "costlier for a gain below the 6-point margin" in pair["sentence"]
    front = rep.front.set_index("model")
    assert front.loc["bert", "on_front"] and front.loc["bert_bilstm", "dominated_by"] == "bert"
    csv = pd.read_csv(pd.io.common.StringIO(to_csv(rep)))
    pair_rows = csv[csv["level"] == "pair"]
    assert pair_rows["margin"].tolist() == [6.0] and pair_rows["acc_method"].tolist() == [MODELS_T]
    # at the default 1-point margin 500 items cannot show it: inconclusive, with what would decide it
    (loose,) = build([folder]).pairs.to_dict("records")
    assert loose["verdict"] == "inconclusive" and loose["margin"] == 1.0


def test_a_cost_repeats_file_without_its_columns_is_an_error(tmp_path: Path) -> None:
    folder = quick_like(tmp_path / "quick")
    pd.DataFrame({"model": ["bert"], "repeat": [0]}).to_csv(folder / "cost_repeats.csv", index=False)
    with pytest.raises(BenchError, match="lacks the columns"):
        build([folder])


def test_one_seed_reports_have_empty_interval_cells(tmp_path: Path) -> None:
    csv = pd.read_csv(pd.io.common.StringIO(to_csv(build([quick_like(tmp_path / "quick")]))))
    models = csv[csv["level"] == "model"]
    assert models["test_accuracy_ci_low"].isna().all() and models["test_accuracy_ci_high"].isna().all()


def test_memory_never_mixes_gpu_and_host_on_one_axis(tmp_path: Path) -> None:
    folder = quick_like(tmp_path / "mixed")
    results = pd.read_csv(folder / "results.csv")
    results["peak_rss_mib"] = [1500.0, 1600.0]
    results.loc[1, "device"] = "NVIDIA H200"  # bert_bilstm ran on a GPU
    results.loc[1, "peak_gpu_mem_nvml_mib"] = 3000.0
    results.to_csv(folder / "results.csv", index=False)
    rep = build([folder], ReportSettings("memory"))
    assert set(rep.front["group"]) == {"peak_rss_mib", "peak_gpu_mem_nvml_mib"}  # two fronts
    assert rep.pairs.empty  # no pair spans the two: GPU MiB and host MiB are not one axis
    assert any("never one axis" in note for note in rep.notes)


def test_majority_and_paper_references_name_their_task() -> None:
    md = to_markdown(build([BASIC]))
    majority = "| majority class | reference: always the training split's most frequent class | – |"
    assert f"{majority} 2-class embedded IMDB | 50.0 |" in md
    assert "| bert (paper) | reference: the paper (3-class Kaggle IMDB), not comparable |" in md
    assert "3-class Kaggle IMDB (not comparable)" in md


def test_sweep_compares_on_validation_and_confirms_the_best_on_test_once() -> None:
    sweep = build([SWEEP]).sweep.set_index("trial")
    # Validation chooses trial 3 (64%), where the test split would have chosen trial 2 (66%).
    assert sweep["is_best"].tolist() == [False, False, False, True]
    # Against trial 3 on 100 validation items: only trial 3 right on 14, 4 and 6 items, never the other way.
    raw = [2 * 0.5**14, 2 * 0.5**4, 2 * 0.5**6]
    assert sweep.loc[[0, 1, 2], "p_vs_best"].tolist() == pytest.approx(raw)
    assert sweep.loc[[0, 1, 2], "p_vs_best_adjusted"].tolist() == pytest.approx(
        [3 * raw[0], 0.125, 2 * raw[2]]
    )
    assert math.isnan(sweep.loc[3, "p_vs_best"])
    low, high = proportion_confint(58, 100, method="wilson")  # the chosen trial's test accuracy, read once
    assert (sweep.loc[3, "test_ci_low"], sweep.loc[3, "test_ci_high"]) == pytest.approx((low, high))
    assert sweep.loc[[0, 1, 2], "test_ci_low"].isna().all()


def test_budget_curve_of_a_sweep() -> None:
    budget = build([SWEEP]).budget
    values = [0.50, 0.60, 0.58, 0.64]
    assert budget["n"].tolist() == [1, 2, 3, 4]
    assert budget["expected_max"].tolist() == pytest.approx([expected_max(values, n) for n in (1, 2, 3, 4)])
    assert budget["expected_max"].iloc[0] == pytest.approx(np.mean(values))
    assert budget["cumulative_cost"].tolist() == pytest.approx([22.5, 45.0, 67.5, 90.0])  # n x mean time


def test_a_folder_of_sweep_trials_alone_reports_in_every_format(tmp_path: Path) -> None:
    sweep = shutil.copytree(SWEEP, tmp_path / "sweep")
    for fmt_name, ext in (("markdown", "md"), ("csv", "csv"), ("html", "html")):
        assert write_report([sweep], fmt_name) == sweep / f"report.{ext}"
    runs = pd.read_csv(sweep / "report.csv").query("level == 'run'")
    assert (
        runs[["run_id", "test_accuracy"]].values.tolist()
        == pd.read_csv(SWEEP / "results.csv")[["run_id", "test_accuracy"]].values.tolist()
    )
    html = (sweep / "report.html").read_text(encoding="utf-8")
    assert "len-lr" in html and "max_len=128, lr=0.0001" in html
    md = (sweep / "report.md").read_text(encoding="utf-8")
    assert "## Runs" not in md
    assert "| len-lr | 1 | encoder | max_len=128, lr=0.0001 | 50.0 | 60.0 | 0.125 | 0.125 | – | ok |" in md


def test_a_cost_no_run_measured_says_so_instead_of_a_front() -> None:
    rep = build([BASIC], ReportSettings("energy"))  # the golden runs measured no energy, as on a CPU
    assert rep.front.empty and rep.pairs.empty
    md = to_markdown(rep)
    assert "No front: fewer than two runs measured energy" in md and "Left out of the verdicts" in md


def test_failed_run_renders_with_its_error(folders: tuple[Path, Path]) -> None:
    basic, _ = folders
    md = to_markdown(build([basic]))
    assert "| bert_bilstm | 1 ok, 1 failed |" in md
    assert "| bert_bilstm | bert_bilstm-s1 | failed | RuntimeError: CUDA out of memory." in md
    html = write_report([basic], "html")
    assert html is not None and "CUDA out of memory" in html.read_text(encoding="utf-8")


def test_every_plot_is_written_and_readable(folders: tuple[Path, Path]) -> None:
    basic, sweep = folders
    out = write_report([basic, sweep], "html", None, ReportSettings("params"))
    assert out == basic / "report.html"
    plots = basic / "plots"
    names = {p.stem for p in plots.glob("*.png")}
    assert names == {
        "pairs",
        "price",
        "curves-encoder",
        "curves-bert",
        "curves-bert_bilstm",
        "cost-params",
        "sweep-max_len",
        "sweep-lr",
        "budget",
    }
    for name in names:
        png, svg = plots / f"{name}.png", plots / f"{name}.svg"
        image = mpimg.imread(png)
        assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
        assert image.std() > 0  # not a blank canvas
        assert "<svg" in svg.read_text(encoding="utf-8")[:2000]
    page = out.read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") == len(names)
    # The verdicts' picture comes first, under "Is it worth it?", before the sentences.
    assert page.index("<h2>Is it worth it?</h2>") < page.index('alt="For each pair') < page.index("<li>")
    assert "http://" not in page.replace("http://www.w3.org", "") and "https://" not in page  # offline
    assert "Confusion matrices" in page and "<table" in page


def test_two_copies_of_a_multi_seed_model_compare_as_equal(tmp_path: Path) -> None:
    """The same two seeds in two folders: no difference and no spread between them. Rounding once
    left a seed variance of 1e-17 here, a df of 1e-31 and an interval of +-1e129."""
    a = shutil.copytree(BASIC, tmp_path / "a")
    b = shutil.copytree(BASIC, tmp_path / "b")
    pairs = build([a, b]).pairs.set_index(["model_a", "model_b"])
    same = pairs.loc[("encoder [a]", "encoder [b]")]
    assert (same["acc_diff"], same["acc_diff_ci_low"], same["acc_diff_ci_high"]) == (0, 0, 0)
    assert same["p_value"] == 1 and same["acc_method"] == MODELS_T


def test_merge_keeps_sources_and_separates_same_model_in_two_folders(tmp_path: Path) -> None:
    a = shutil.copytree(BASIC, tmp_path / "a")
    b = shutil.copytree(BASIC, tmp_path / "b")
    loaded = load([a, b, SWEEP])
    assert set(loaded.results["source"]) == {"a", "b", "sweep"}
    entries = list(build([a, b]).entries["entry"])
    # Each folder's runs stay one entry; the paper's row follows our last run of that model.
    assert entries[:2] == ["encoder [a]", "encoder [b]"]
    assert entries[-4:] == ["majority class", "encoder (paper)", "bert (paper)", "bert_bilstm (paper)"]
    assert len(entries) == 10
    assert set(loaded.results.loc[loaded.results["sweep"], "entry"]) == {f"encoder t{i}" for i in range(4)}


def test_newest_folder_by_results_mtime(tmp_path: Path) -> None:
    old, new = (shutil.copytree(BASIC, tmp_path / "reports" / n) for n in ("old", "new"))
    os.utime(old / "results.csv", (1_000, 1_000))
    os.utime(new / "results.csv", (2_000, 2_000))
    assert newest_folder(tmp_path / "reports") == new


def test_cli_writes_each_format(folders: tuple[Path, Path], tmp_path: Path) -> None:
    basic, _ = folders
    runner = CliRunner()
    for fmt, ext in (("markdown", "md"), ("csv", "csv")):
        result = runner.invoke(
            main, ["report", str(basic), "--format", fmt, "--out", str(tmp_path / f"r.{ext}")]
        )
        assert result.exit_code == 0, result.output
        expected = (EXPECTED / f"basic.{ext}").read_text(encoding="utf-8")
        written = (tmp_path / f"r.{ext}").read_text(encoding="utf-8")
        if ext == "csv":
            assert_same_csv("basic.csv", written, expected)
        else:
            assert written == expected
    table = runner.invoke(main, ["report", str(basic)], env={"COLUMNS": "250"})
    assert (
        table.exit_code == 0 and "bert_bilstm (paper)" in table.output and "Is it worth it?" in table.output
    )


@pytest.mark.parametrize("args", [["report", "no/such/folder"], ["report", "--cost", "time"]])
def test_cli_missing_folder_is_one_line_exit_2(
    args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no reports/ here: the default finds nothing
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and result.output.startswith("bench: error:")
    assert "Traceback" not in result.output


def test_three_seeds_from_the_cli_give_their_student_t_interval(tiny_suite: Path, tmp_path: Path) -> None:
    out = tmp_path / "seeds"
    args = ["run", "--suite", str(tiny_suite), "--model", "encoder", "--epochs", "1", "--repeats", "3"]
    args += ["--max-train", "200", "--max-test", "60"]  # enough that the seeds' accuracies differ
    assert CliRunner().invoke(main, [*args, "--out", str(out), "-q"]).exit_code == 0
    report = CliRunner().invoke(main, ["report", str(out), "--format", "csv", "--out", str(out / "r.csv")])
    assert report.exit_code == 0, report.output
    accuracies = pd.read_csv(out / "results.csv")["test_accuracy"].to_numpy()
    assert len(accuracies) == 3
    low, high = sps.t.interval(0.95, 2, loc=accuracies.mean(), scale=accuracies.std(ddof=1) / math.sqrt(3))
    csv = pd.read_csv(out / "r.csv")
    (encoder,) = csv[(csv["level"] == "model") & (csv["model"] == "encoder")].to_dict("records")
    assert encoder["test_accuracy_ci_low"] == pytest.approx(max(low, 0.0))
    assert encoder["test_accuracy_ci_high"] == pytest.approx(min(high, 1.0))


def test_margin_and_cost_noise_flags_reach_the_verdicts(tmp_path: Path) -> None:
    folder = quick_like(tmp_path / "quick")
    _cost_repeats(folder, 1.3, 1.053)
    out = tmp_path / "r.csv"
    args = ["report", str(folder), "--format", "csv", "--out", str(out)]
    result = CliRunner().invoke(main, [*args, "--margin", "6"])
    assert result.exit_code == 0, result.output
    pairs = pd.read_csv(out).query("level == 'pair'")
    assert pairs["margin"].tolist() == [6.0] and pairs["verdict"].tolist() == ["not worth it"]
    bad = CliRunner().invoke(main, [*args, "--margin", "-1"])
    assert bad.exit_code == 2 and "--margin is a gain in accuracy points" in bad.output
    # Without cost repeats a single run a side is judged against the assumed noise given.
    (folder / "cost_repeats.csv").unlink()
    result = CliRunner().invoke(main, [*args, "--cost-noise", "0.01"])
    assert result.exit_code == 0, result.output
    pair = pd.read_csv(out).query("level == 'pair'").iloc[0]
    assert pair["cost_noise"] == 0.01 and bool(pair["cost_significant"]) is True  # 1.05x beyond 1% noise
    assert "run-to-run noise of 1%, assumed, not measured" in pair["sentence"]


def test_suite_margin_sets_the_end_of_run_verdicts(tmp_path: Path) -> None:
    from bench.api import end_of_run_verdicts, suite_verdicts
    from bench.config import load_suite

    suite = tmp_path / "s.toml"
    suite.write_text("margin = 6.0\n[models.bert]\n[models.bert_bilstm]\n", encoding="utf-8")
    assert load_suite(str(suite)).margin == 6.0
    suite_bad = tmp_path / "bad.toml"
    suite_bad.write_text('margin = "big"\n[models.bert]\n', encoding="utf-8")
    with pytest.raises(BenchError, match="'margin' is a gain"):
        load_suite(str(suite_bad))
    folder = quick_like(tmp_path / "quick")
    _cost_repeats(folder, 1.3, 1.053)
    (sentence,) = end_of_run_verdicts(folder, suite_verdicts(str(suite), {"margin": None}))
    assert sentence.endswith("below the 6-point margin.")
    (sentence,) = end_of_run_verdicts(folder, suite_verdicts(str(suite), {"margin": 1.0}))  # --margin wins
    assert "inconclusive" in sentence


def decisions_by_hand(folder: Path) -> pd.DataFrame:
    """decisions.csv of `--until-decided` written by hand: encoder vs bert over three looks, its interval
    narrowing until it lies above the margin; encoder vs bert_bilstm decided at its second look."""
    return write_decisions(
        folder,
        [
            ("encoder", "bert", 1, -5.0, -30.0, 20.0, "inconclusive"),
            ("encoder", "bert", 2, 4.0, -12.0, 20.0, "inconclusive"),
            ("encoder", "bert", 3, 8.0, 3.0, 13.0, "worth it"),
            ("encoder", "bert_bilstm", 1, -2.0, -25.0, 21.0, "inconclusive"),
            ("encoder", "bert_bilstm", 2, -10.0, -18.0, -2.0, "not worth it"),
        ],
    )


def errorbars(ax: Any) -> list[tuple[str, float, float, float]]:
    """Each error bar of `ax` as (colour, centre, low, high) along its bar's direction."""
    found = []
    for container in ax.containers:
        if not isinstance(container, ErrorbarContainer):
            continue
        (x,), (y,) = container.lines[0].get_data()
        segment = container.lines[2][0].get_segments()[0]
        horizontal = segment[0][1] == segment[1][1]
        centre, ends = (x, segment[:, 0]) if horizontal else (y, segment[:, 1])
        found.append(
            (mcolors.to_hex(container.lines[0].get_color()), float(centre), *map(float, sorted(ends)))
        )
    return found


def rules(ax: Any, at: str) -> list[float]:
    """Where `ax` has lines across it (axvline: `at` x; axhline: `at` y)."""
    found = []
    for line in ax.lines:
        x, y = line.get_xdata(), line.get_ydata()
        values, across = (x, y) if at == "x" else (y, x)
        if len(values) == 2 and values[0] == values[1] and list(across) == [0, 1]:
            found.append(float(values[0]))
    return found


def test_pairs_plot_draws_each_interval_the_margin_and_the_verdict(folders: tuple[Path, Path]) -> None:
    basic, _ = folders
    pairs = build([basic]).pairs.assign(margin=2.0)  # the margin column, in accuracy points
    fig = pairs_plot(pairs)
    acc_ax, cost_ax = fig.axes
    bars = errorbars(acc_ax)
    assert len(bars) == len(pairs)  # every pair compared as models, one seed against two included
    for (_, r), (color, centre, low, high) in zip(pairs.iterrows(), bars):
        assert color == VERDICT_COLORS[r["verdict"]]
        assert (centre, low, high) == pytest.approx(
            (100 * r["acc_diff"], 100 * r["acc_diff_ci_low"], 100 * r["acc_diff_ci_high"])
        )
    assert sorted(rules(acc_ax, "x")) == [-2.0, 0.0, 2.0]  # ± the margin, and no difference
    ratios = errorbars(cost_ax)
    assert [(c, lo, hi) for c, _, lo, hi in ratios] == [
        (VERDICT_COLORS[r["verdict"]], pytest.approx(r["cost_ci_low"]), pytest.approx(r["cost_ci_high"]))
        for _, r in pairs.iterrows()
    ]
    on_top_first = sorted(
        zip(acc_ax.get_yticks(), (t.get_text() for t in acc_ax.get_yticklabels())), reverse=True
    )
    assert [label for _, label in on_top_first] == [
        f"{b} vs {a} (98.3%)"
        for a, b in zip(pairs["model_a"], pairs["model_b"])  # 0.05 over 3 pairs
    ]
    assert "98.3% intervals" in acc_ax.get_xlabel()
    plt.close(fig)
    no_margin = pairs_plot(build([basic]).pairs.drop(columns="margin"))  # no margin column: no lines
    assert rules(no_margin.axes[0], "x") == [0.0]
    plt.close(no_margin)


def test_decisions_plot_draws_every_look_of_every_pair(folders: tuple[Path, Path]) -> None:
    basic, _ = folders
    frame = decisions_by_hand(basic)
    rep = build([basic])
    assert len(rep.loaded.decisions) == len(frame)
    # The report gives the plan's verdicts and intervals (the last look), not a fresh test.
    decided = rep.pairs.set_index(["model_a", "model_b"])
    assert decided.loc[("encoder", "bert"), "verdict"] == "worth it"
    assert decided.loc[("encoder", "bert"), "pair_alpha"] == pytest.approx(0.003)
    assert (
        decided.loc[("encoder", "bert_bilstm"), "sentence"]
        == "bert_bilstm against encoder at look 2: not worth it."
    )
    assert any("decided by `--until-decided`" in note for note in rep.notes)
    fig = decisions_plot(rep.loaded.decisions, {("encoder", "bert"): 2.0})
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in axes] == ["bert vs encoder", "bert_bilstm vs encoder"]
    for ax, (_, g) in zip(axes, frame.groupby("model_b", sort=False)):
        bars = errorbars(ax)
        assert [b[2:] for b in bars] == [
            pytest.approx((100 * lo, 100 * hi)) for lo, hi in zip(g["acc_diff_ci_low"], g["acc_diff_ci_high"])
        ]
        assert [b[0] for b in bars] == [VERDICT_COLORS[v] for v in g["verdict"]]
    assert sorted(rules(axes[0], "y")) == [-2.0, 0.0, 2.0]
    assert sorted(rules(axes[1], "y")) == [-1.0, 0.0, 1.0]  # its rows' own margin
    plt.close(fig)
    written = plots.write_all(rep, basic / "plots")
    assert {"pairs", "decisions"} <= set(written)
    for name in ("pairs", "decisions"):
        assert mpimg.imread(written[name]).std() > 0 and (basic / "plots" / f"{name}.svg").is_file()


def test_a_run_of_one_epoch_is_drawn_by_step_and_seeds_give_cost_intervals(
    tiny_suite: Path, tmp_path: Path
) -> None:
    out = tmp_path / "one-epoch"
    args = ["run", "--suite", str(tiny_suite), "--model", "encoder", "--model", "tfidf_lr", "--epochs", "1"]
    assert CliRunner().invoke(main, [*args, "--repeats", "2", "--out", str(out), "-q"]).exit_code == 0
    steps = pd.read_csv(out / "steps.csv")
    assert list(steps.columns) == [c.name for c in STEP_COLUMNS]
    assert set(steps["model"]) == {"encoder"}  # an estimator's one fit has no steps
    results = pd.read_csv(out / "results.csv").set_index("run_id")
    epochs = pd.read_csv(out / "epochs.csv").set_index("run_id")
    for run_id, g in steps.groupby("run_id"):
        n_steps, n_train = int(epochs.loc[run_id, "train_steps"]), int(results.loc[run_id, "n_train"])
        assert g["step"].tolist() == list(range(1, n_steps + 1))  # under ten steps: a chunk each
        # Each chunk's mean loss, weighted by its batch's reviews, gives the epoch's mean loss.
        sizes = [16] * (n_steps - 1) + [n_train - 16 * (n_steps - 1)]
        assert np.average(g["train_loss"], weights=sizes) == pytest.approx(epochs.loc[run_id, "train_loss"])
        assert g["step_time_s"].mean() == pytest.approx(epochs.loc[run_id, "step_time_s_mean"])
    rep = build([out])
    ep, st = rep.loaded.epochs, rep.loaded.steps
    assert training_curves(ep[ep["entry"] == "tfidf_lr"], st[st["entry"] == "tfidf_lr"], "tfidf_lr") is None
    fig = training_curves(ep[ep["entry"] == "encoder"], st[st["entry"] == "encoder"], "encoder")
    assert fig is not None
    for ax in fig.axes:  # no plot is a single point per series
        assert max(len(ln.get_xdata()) for ln in ax.lines) >= n_steps
        assert ax.get_xlabel() == "optimizer step"
    plt.close(fig)
    fig = plots.cost_plot(rep)
    bars = {c.get_label(): c for c in fig.axes[0].containers if isinstance(c, ErrorbarContainer)}
    for model in ("encoder", "tfidf_lr"):  # two seeds: an interval on both axes
        assert bars[model].has_xerr and bars[model].has_yerr
    plt.close(fig)
    fig = plots.cost_plot(build([BASIC]))
    bars = {c.get_label(): c for c in fig.axes[0].containers if isinstance(c, ErrorbarContainer)}
    assert bars["bert"].has_xerr and bars["bert"].has_yerr
    assert not bars["bert_bilstm"].has_xerr and not bars["bert_bilstm"].has_yerr  # one seed ok: none
    plt.close(fig)
