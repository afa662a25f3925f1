"""Plugins from outside the checkout: an installed package's entry points (every kind of extension),
a folder given to --plugins or BENCH_PLUGINS, and the one-line errors of a broken or clashing plugin.
Nothing in `bench`'s own tree is edited: the plugin lives in the test's folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

TINY = Path(__file__).parent / "data" / "tiny.toml"

MODEL = '''
from dataclasses import dataclass

import numpy as np

from bench.modeling import MODELS, EstimatorSpec


@dataclass(frozen=True)
class KeywordParams:
    words: str = "good,great,best"


class Counted:
    def __init__(self, words, n_classes):
        self.words, self.n_classes = words, n_classes

    def predict_proba(self, texts):
        hits = np.array([sum(w in t.lower() for w in self.words) for t in texts], dtype=float)
        positive = 1 / (1 + np.exp(-(hits - 0.5)))
        return np.stack([1 - positive, positive], axis=1)

    n_params = 3
    chosen: dict = {}  # nothing chosen on validation


@MODELS.register("keyword")
class Keyword(EstimatorSpec):
    """Counts a few positive words: a plugin's model."""

    Params = KeywordParams
    summary = "counts positive words (a plugin)"

    def fit(self, train, val, n_classes):
        return Counted(self.params.words.split(","), n_classes)
'''
DATASET = '''
import dataclasses

from bench.data import DATASETS, DataRequest, Dataset, load_dataset


@DATASETS.register("shouting")
def load_shouting(arg: str, request: DataRequest) -> Dataset:
    """The embedded IMDB reviews, in capitals (a plugin's dataset)."""
    data = load_dataset("imdb", request)
    loud = {name: dataclasses.replace(split, texts=[t.upper() for t in split.texts])
            for name, split in (("train", data.train), ("val", data.val), ("test", data.test))}
    return dataclasses.replace(data, name="shouting", **loud)
'''
TRACKER = """
import time
from dataclasses import dataclass

from bench.costs.axes import Axis, cost_axis
from bench.costs.columns import CostColumn, tracked_cost
from bench.costs.polling import PolledTracker

cost_axis(Axis("cpu", "process CPU time", "s", "CPU seconds of the process over training (a plugin)"))


@dataclass(frozen=True)
class ProcessCpuRecord:
    cpu_time_s: float


@tracked_cost(CostColumn("cpu_time_s", "s", "CPU s", "process CPU time", reduce="sum", axis="cpu"))
class ProcessCpuTracker(PolledTracker):
    Record = ProcessCpuRecord

    @classmethod
    def for_run(cls, device, nvml, baseline_bytes):
        return cls()

    def begin(self, poller):
        self._start = time.process_time()

    def end(self):
        self.record = ProcessCpuRecord(time.process_time() - self._start + 1e-6)
"""
COMPARISON = """
from bench.stats.comparisons import CHECKPOINTS, accuracy_comparison
from bench.stats.comparisons.checkpoints import exact_mcnemar, mcnemar_bounds


@accuracy_comparison(
    "mid-p McNemar",
    scope=CHECKPOINTS,
    applies=lambda seeds_a, seeds_b, checkpoints: False,  # listed, never chosen
    order=90,
    described="a plugin's comparison",
    bounds=mcnemar_bounds,
)
def mid_p(a, b, ask):
    return exact_mcnemar(a, b, ask)
"""
FORMAT = '''
from bench.reporting.formats import report_format


@report_format("sentences", extension="txt")
def to_sentences(rep, figures=None, options=None):
    """One verdict sentence a line (a plugin's report format)."""
    return "\\n".join(str(s) for s in rep.pairs["sentence"]) + "\\n"
'''
ENTRY_POINTS = """
[bench.models]
keyword = benchdemo.model
[bench.datasets]
shouting = benchdemo.data
[bench.trackers]
cpu = benchdemo.tracker
[bench.axes]
cpu = benchdemo.tracker
[bench.comparisons]
mid_p = benchdemo.comparison
[bench.formats]
sentences = benchdemo.fmt
"""
LIST_ALL = """
from rich.console import Console
from bench.listing import KINDS, listing

from bench.results import schema_markdown

console = Console(width=400, record=True)
for kind in KINDS:
    console.print(listing(kind))
print(schema_markdown())
"""


def installed_plugin(root: Path) -> dict[str, str]:
    """A package with its dist-info on a folder of the path, as `pip install` would leave it: the
    environment in which bench finds it through its entry points alone."""
    package = root / "benchdemo"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    for name, text in (("model", MODEL), ("data", DATASET), ("tracker", TRACKER), ("comparison", COMPARISON),
                       ("fmt", FORMAT)):  # fmt: skip
        (package / f"{name}.py").write_text(text)
    info = root / "benchdemo-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: benchdemo\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}


def bench(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bench", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=600
    )


def test_an_installed_plugin_adds_every_kind_of_extension(tmp_path: Path) -> None:
    env = installed_plugin(tmp_path / "site")
    listed = subprocess.run(
        [sys.executable, "-c", LIST_ALL], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300
    )
    assert listed.returncode == 0, listed.stderr
    for name in ("keyword", "shouting", "ProcessCpuTracker", "cpu", "mid-p McNemar", "sentences"):
        assert name in listed.stdout, name
    assert "benchdemo.model" in listed.stdout  # where each extension comes from
    assert "| `cpu_time_s` |" in listed.stdout and "| `cpu` |" in listed.stdout  # the schema document

    out = tmp_path / "out"
    args = ["run", "--suite", str(TINY), "--model", "keyword", "--model", "tfidf_lr", "--dataset", "shouting"]
    done = bench([*args, "--out", str(out), "-q"], env, tmp_path)
    assert done.returncode == 0, done.stderr
    rows = pd.read_csv(out / "results.csv")
    assert set(rows["model"]) == {"keyword", "tfidf_lr"} and (rows["dataset"] == "shouting").all()
    assert (rows["status"] == "ok").all() and (rows["cpu_time_s"] > 0).all()  # the plugin's tracker ran
    epochs = pd.read_csv(out / "epochs.csv").groupby("run_id")["cpu_time_s"].sum()
    assert rows.set_index("run_id")["cpu_time_s"].to_dict() == epochs.to_dict()  # summed, as declared

    report = bench(["report", str(out), "--format", "sentences", "--cost", "cpu"], env, tmp_path)
    assert report.returncode == 0, report.stderr
    sentences = (out / "report.txt").read_text()
    assert "process CPU time of" in sentences and sentences.count("\n") == 1  # one pair, one line


def test_a_plugin_folder_adds_models_and_suites_and_reaches_started_processes(tmp_path: Path) -> None:
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "keyword.py").write_text(MODEL)
    (folder / "demo.toml").write_text(
        '[run]\nmax_train = 48\nmax_test = 24\n\n[models.keyword]\noptions = { words = "good,fine" }\n'
    )
    listed = bench(["--plugins", str(folder), "ls", "suites"], dict(os.environ), tmp_path)
    assert listed.returncode == 0 and "demo" in listed.stdout and "keyword" in listed.stdout, listed.stderr
    # BENCH_PLUGINS as well, and --cost-repeats starts a fresh process that must find the model too.
    env = {**os.environ, "BENCH_PLUGINS": str(folder)}
    done = bench(
        ["run", "--suite", "demo", "--out", str(tmp_path / "out"), "--cost-repeats", "1", "-q"], env, tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert pd.read_csv(tmp_path / "out" / "results.csv")["status"].tolist() == ["ok"]
    assert len(pd.read_csv(tmp_path / "out" / "cost_repeats.csv")) == 1


def test_a_broken_or_clashing_plugin_is_one_line_naming_it(tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "oops.py").write_text("import nothing_of_the_kind\n")
    done = bench(["--plugins", str(broken), "ls", "models"], dict(os.environ), tmp_path)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "oops.py" in done.stderr and "nothing_of_the_kind" in done.stderr

    clash = tmp_path / "clash"
    clash.mkdir()
    (clash / "mine.py").write_text(MODEL.replace('register("keyword")', 'register("bert")'))
    done = bench(["--plugins", str(clash), "ls", "models"], dict(os.environ), tmp_path)
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "'bert' is taken twice" in done.stderr and "bench.models.bert" in done.stderr


DERIVED_AXIS = '''
import dataclasses

from bench.costs.axes import Axis, cost_axis
from bench.costs.bill import training_cost


def training_dollars(row, costing):
    """Training in dollars: the settings' prices are what this axis needs (None without them)."""
    return training_cost(row, costing) if costing.priced else None


def in_dollars(axis, costing):
    return dataclasses.replace(axis, unit="$" if costing.priced else "(needs --price)")


cost_axis(Axis("train_dollars", "training bill", "$", "training in dollars (a plugin's derived axis)",
               derive=training_dollars, settle=in_dollars))
'''
LIST_AND_REPORT = """
import sys
from rich.console import Console
import bench
from bench.listing import listing
from bench.registry import use_plugin_folders

plugins, folder = sys.argv[1:]
use_plugin_folders([plugins])
Console(width=300).print(listing("axes"))
bench.report([folder], format="csv", cost="train_dollars", price={"cpu": 0.36})
"""


def test_a_derived_axis_from_a_plugin_folder_reads_the_cost_settings(tmp_path: Path) -> None:
    """An axis declared outside the package, derived from a row and the report's prices: listed with
    where it comes from, chosen with --cost, judged as every axis is."""
    from tests.test_bill import crossing_folder

    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "bill_axis.py").write_text(DERIVED_AXIS)
    folder = crossing_folder(tmp_path / "runs")
    done = subprocess.run(
        [sys.executable, "-c", LIST_AND_REPORT, str(plugins), str(folder)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    line = next(ln for ln in done.stdout.splitlines() if "train_dollars" in ln)
    assert "bench_plugin_" in line and "bill_axis" in line  # from the plugin's file
    report = pd.read_csv(folder / "report.csv")
    (pair,) = report[report["level"] == "pair"].to_dict("records")
    # A trained for 100 s, B for 1,000 s (three repeats each, 1% apart): B costs 10x A's dollars
    assert (pair["model_a"], pair["model_b"], pair["cost"]) == ("A", "B", "training bill")
    assert pair["cost_ratio"] == pytest.approx(10.0) and pair["cost_significant"]
    models = report[report["level"] == "model"].set_index("entry")
    assert models.loc["A", "axis_train_dollars_mean"] == pytest.approx(100 / 3600 * 0.36)
