"""`bench report` against small committed result folders whose numbers were worked out by hand.

tests/data/golden/basic: 10 test items (labels alternate 0, 1); encoder right on items 0-2 (seed 0) and 0-3
(seed 1); bert right on all (seed 0) and 0-8 (seed 1); bert_bilstm right on 0-7 (seed 0), its seed 1 failed.
Majority vote breaks ties toward class 0, so the voted encoder is right on 0-2 and the voted bert on 0-8.
tests/data/golden/sweep: four trials of one model over max_len and lr; on 100 test items trial k is right
on the first 55, 62, 66 and 58, so against the best (trial 2) McNemar's exact test has b = 11, 4 and 8, c = 0.

Set UPDATE_GOLDEN=1 to rewrite the expected files after an intended change; then read the diff.
"""

from __future__ import annotations

import math
import os
import shutil
from pathlib import Path

import matplotlib.image as mpimg
import pandas as pd
import pytest
from click.testing import CliRunner

from bench.cli import main
from bench.render_text import to_csv, to_markdown
from bench.report_data import build, load, newest_folder, run_auc
from bench.reporting import make_report
from bench.stats import mcnemar, plain_pareto

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


def test_golden_markdown_and_csv() -> None:
    rep = build([BASIC], "time")
    check_golden("basic.md", to_markdown(rep))
    check_golden("basic.csv", to_csv(rep))


def test_golden_merged_with_sweep() -> None:
    rep = build([BASIC, SWEEP], "memory")
    check_golden("basic+sweep.md", to_markdown(rep))


def test_aggregates_match_hand_computation() -> None:
    e = build([BASIC]).entries
    enc, bert, bilstm = row(e, "encoder"), row(e, "bert"), row(e, "bert_bilstm")
    assert enc["test_accuracy_mean"] == pytest.approx(0.35)
    assert enc["test_accuracy_std"] == pytest.approx(math.sqrt(2 * 0.05**2))  # sample std of 0.3, 0.4
    # With two seeds the bootstrap means are a, (a+b)/2 or b with chances 1/4, 1/2, 1/4: CI = [a, b].
    assert (enc["test_accuracy_ci_low"], enc["test_accuracy_ci_high"]) == pytest.approx((0.3, 0.4))
    assert enc["acc_per_train_hour_mean"] == pytest.approx((0.3 * 36 + 0.4 * 30) / 2)  # 0.3/(100/3600)...
    assert bert["acc_per_gib_mean"] == pytest.approx((1.0 + 0.9) / 2 / 2)  # 2048 MiB = 2 GiB
    # AUC: encoder s0 (0.2+0.3)/2*50/100 = 0.125, s1 (0.3+0.4)/2*60/120 = 0.175.
    assert enc["acc_time_auc_mean"] == pytest.approx(0.15)
    assert (bilstm["n_ok"], bilstm["n_failed"]) == (1, 1)
    assert math.isnan(bilstm["test_accuracy_std"])  # one ok seed: no spread, not a zero spread


def test_run_auc_definition() -> None:
    two = pd.DataFrame({"epoch": [2, 1], "cumulative_train_time_s": [4.0, 1.0], "test_accuracy": [0.5, 0.9]})
    assert run_auc(two) == pytest.approx((0.9 + 0.5) / 2 * 3 / 4)  # order by epoch, divide by total time
    assert math.isnan(run_auc(two.iloc[:1]))


def test_significance_hand_computed() -> None:
    pw = build([BASIC]).pairwise.set_index(["model_a", "model_b"])
    enc_bert = pw.loc[("encoder", "bert")]
    # Only bert right on items 3-8, never only the encoder: exact two-sided binomial 2 * 0.5**6.
    assert (enc_bert["b"], enc_bert["c"]) == (0, 6)
    assert enc_bert["p_value"] == pytest.approx(2 * 0.5**6)
    assert enc_bert["significant"]
    assert pw.loc[("encoder", "bert_bilstm"), "p_value"] == pytest.approx(2 * 0.5**5)
    assert pw.loc[("bert", "bert_bilstm"), "p_value"] == pytest.approx(1.0)
    # The large-sample branch: b=10, c=30 gives chi2 = (|10-30|-1)^2/40, p = erfc(sqrt(chi2/2)).
    res = mcnemar([True] * 10 + [False] * 30, [False] * 10 + [True] * 30)
    assert res.p_value == pytest.approx(math.erfc(math.sqrt(361 / 40 / 2)), rel=1e-9)


def test_pareto_keeps_tied_models_and_drops_significantly_beaten_ones() -> None:
    front = build([BASIC], "time").front.set_index("model")
    # bert is cheaper and more accurate than bert_bilstm, but not significantly: tied, both on the front.
    assert front.loc["bert_bilstm", "on_front"] and "bert" in front.loc["bert_bilstm", "tied_with"]
    assert not plain_pareto(front.reset_index()).iloc[2]  # the classical front would drop it
    mem = build([BASIC], "memory").front.set_index("model")
    # bert uses less memory (2 vs 3 GiB) and is significantly more accurate than the encoder.
    assert not mem.loc["encoder", "on_front"] and mem.loc["encoder", "dominated_by"] == "bert"


def test_sweep_trials_against_the_best_hand_computed() -> None:
    sweep = build([SWEEP]).sweep.set_index("trial")
    assert sweep["p_vs_best"].tolist()[:2] == pytest.approx([2 * 0.5**11, 2 * 0.5**4])
    assert math.isnan(sweep.loc[2, "p_vs_best"]) and sweep.loc[3, "p_vs_best"] == pytest.approx(2 * 0.5**8)


def test_a_folder_of_sweep_trials_alone_reports_in_every_format(tmp_path: Path) -> None:
    sweep = shutil.copytree(SWEEP, tmp_path / "sweep")
    for fmt_name in ("markdown", "csv", "html"):
        assert make_report([sweep], fmt_name) is not None
    md = (sweep / "report.md").read_text(encoding="utf-8")
    assert "## Runs" not in md and "| len-lr | 1 | encoder | 128 | 0.0001 | 50.0 | 62.0 | ok | 0.125 |" in md


def test_a_cost_no_run_measured_says_so_instead_of_a_front() -> None:
    md = to_markdown(build([BASIC], "energy"))  # the golden runs measured no energy, as on a CPU
    assert "No front: no run measured energy (energy J)" in md and "Choose another --cost." in md
    assert "| encoder | 35.0 | – |" in md


def test_failed_run_renders_with_its_error(folders: tuple[Path, Path]) -> None:
    basic, _ = folders
    md = to_markdown(build([basic]))
    assert "| bert_bilstm | 1 ok, 1 failed |" in md
    assert "| bert_bilstm | bert_bilstm-s1 | failed | RuntimeError: CUDA out of memory." in md
    html = make_report([basic], "html")
    assert html is not None and "CUDA out of memory" in html.read_text(encoding="utf-8")


def test_reference_rows_beside_our_models_never_best() -> None:
    md = to_markdown(build([BASIC]))
    lines = md.splitlines()
    ours = next(i for i, line in enumerate(lines) if line.startswith("| bert |"))
    assert lines[ours + 1].startswith("| bert (paper) | reference | RTX 4060 Laptop GPU | ≈63.0 |")
    assert "| 109,484,547 | 8,437.0 | 421.9 |" in lines[ours + 1]
    assert "**" not in lines[ours + 1]  # the paper's rows are context, not contestants
    assert (
        "| encoder (paper) | reference | RTX 4060 Laptop GPU | ≈50.0 | – | 12,419,331 | 1,842.5 | – |" in md
    )


def test_every_plot_is_written_and_readable(folders: tuple[Path, Path]) -> None:
    basic, sweep = folders
    out = make_report([basic, sweep], "html", cost="params")
    assert out == basic / "report.html"
    plots = basic / "plots"
    names = {p.stem for p in plots.glob("*.png")}
    assert names == {
        "curves-encoder",
        "curves-bert",
        "curves-bert_bilstm",
        "cost-params",
        "sweep-max_len",
        "sweep-lr",
    }
    for name in names:
        png, svg = plots / f"{name}.png", plots / f"{name}.svg"
        image = mpimg.imread(png)
        assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
        assert image.std() > 0  # not a blank canvas
        assert "<svg" in svg.read_text(encoding="utf-8")[:2000]
    page = out.read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") == len(names)
    assert "http://" not in page.replace("http://www.w3.org", "") and "https://" not in page  # offline
    assert "Confusion matrices" in page and "<table" in page


def test_merge_keeps_sources_and_separates_same_model_in_two_folders(tmp_path: Path) -> None:
    a = shutil.copytree(BASIC, tmp_path / "a")
    b = shutil.copytree(BASIC, tmp_path / "b")
    loaded = load([a, b, SWEEP])
    assert set(loaded.results["source"]) == {"a", "b", "sweep"}
    entries = list(build([a, b]).entries["entry"])
    # Each folder's runs stay one entry; the paper's row follows our last run of that model.
    assert entries[:3] == ["encoder [a]", "encoder [b]", "encoder (paper)"]
    assert len(entries) == 9
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
        assert (tmp_path / f"r.{ext}").read_text(encoding="utf-8") == expected
    table = runner.invoke(main, ["report", str(basic)], env={"COLUMNS": "250"})
    assert table.exit_code == 0 and "bert_bilstm (paper)" in table.output and "Pareto front" in table.output


@pytest.mark.parametrize("args", [["report", "no/such/folder"], ["report", "--cost", "time"]])
def test_cli_missing_folder_is_one_line_exit_2(
    args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no reports/ here: the default finds nothing
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and result.output.startswith("bench: error:")
    assert "Traceback" not in result.output
