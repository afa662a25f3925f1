"""The deployer's bill: prices, a volume and the total cost, worked out by hand; the volume where a
pair's totals cross and its verdict changes; no money without a price; bad prices refused in one line."""

from __future__ import annotations

import io
import math
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from bench.cli import main
from bench.config import CostSettings, ReportSettings, VerdictSettings, load_suite, parse_volume
from bench.costs.axes import axis, axis_names, axis_value
from bench.costs.bill import bill_columns, device_price, total_cost, training_cost, volume_words
from bench.errors import BenchError
from bench.reporting.render_text import to_csv, to_markdown
from bench.reporting.report import build
from bench.stats.crossover import crossover
from bench.stats.fieller import BOUNDED

CPU_ROW = {"device": "cpu", "train_time_s": 3600.0, "serve_s_per_1k": 2.0, "serve_batch": 32, "world_size": 1}
GPU_ROW = {"device": "NVIDIA A100-SXM4-80GB", "train_time_s": 1800.0, "serve_s_per_1k": 0.5, "world_size": 2}


def test_totals_worked_by_hand() -> None:
    priced = CostSettings.parse(["cpu=0.10", "cuda=2.50", "NVIDIA A100-SXM4-80GB=3.00"], "10M")
    # one CPU-hour of training at $0.10; one prediction takes 2 ms: 10 M of them 20,000 s = 5.56 h, $0.556
    assert training_cost(CPU_ROW, priced) == pytest.approx(0.10)
    assert total_cost(CPU_ROW, priced) == pytest.approx(0.10 + 1e7 * 0.002 / 3600 * 0.10)
    assert bill_columns(CPU_ROW, priced) == pytest.approx(
        {"train_usd": 0.10, "serve_usd_per_1m": 2000 / 3600 * 0.10}
    )
    # the GPU's own name wins over cuda's price; two devices trained for half an hour each
    assert device_price(GPU_ROW["device"], priced) == 3.00
    assert training_cost(GPU_ROW, priced) == pytest.approx(2 * 0.5 * 3.00)
    assert total_cost(GPU_ROW, priced) == pytest.approx(3.00 + 1e7 * 0.0005 / 3600 * 3.00)
    assert device_price("NVIDIA H100", priced) == 2.50  # another GPU: the type's price
    # without a price, device-seconds: 3600 + 1e7 x 0.002
    unpriced = CostSettings(volume=1e7)
    assert axis_value(CPU_ROW, "total", unpriced) == pytest.approx(3600 + 20_000)
    assert axis_value(CPU_ROW, "total") is None  # no volume, no total
    assert axis_value(CPU_ROW, "serving") == 2.0
    assert axis_value(CPU_ROW, "serving", CostSettings(serve_batch=16)) is None  # timed at 32, not 16
    # a device without a price has no dollars, never a made-up default
    assert total_cost(GPU_ROW, CostSettings.parse(["cpu=0.10"], "10M")) is None
    assert bill_columns(GPU_ROW, CostSettings()) == {}


def test_the_total_axis_speaks_in_dollars_once_priced() -> None:
    priced = axis("total").settled(CostSettings.parse(["cpu=0.10"], "10M"))
    assert (priced.unit, priced.noun) == ("$", "total cost over 10 M predictions")
    unpriced = axis("total").settled(CostSettings(volume=2500))
    assert (unpriced.unit, unpriced.noun) == ("device-s", "total device time over 2.5 k predictions")
    assert {"latency", "serving", "total"} <= set(axis_names())
    assert [volume_words(v) for v in (999, 2500, 1e7, 1.5e9)] == ["999", "2.5 k", "10 M", "1.5 B"]


@pytest.mark.parametrize(
    ("text", "value"),
    [("10M", 1e7), ("2.5k", 2500), ("1e7", 1e7), ("10_000_000", 1e7), ("1B", 1e9), (300, 300)],
)
def test_volumes_as_people_write_them(text: object, value: float) -> None:
    assert parse_volume(text) == value


def test_a_suite_sets_prices_a_volume_and_a_carbon_intensity(tmp_path: Path) -> None:
    suite = tmp_path / "priced.toml"
    suite.write_text(
        'price = { cpu = 0.10, "NVIDIA A100-SXM4-80GB" = 3 }\nvolume = "10M"\ncarbon_intensity = 400\n'
        "[models.tfidf_lr]\n"
    )
    costs = CostSettings.parse(["cpu=0.20"]).with_suite(load_suite(str(suite)))
    assert costs.prices == {"cpu": 0.20, "NVIDIA A100-SXM4-80GB": 3.0}  # the command line's wins
    assert (costs.volume, costs.carbon_intensity) == (1e7, 400.0)
    suite.write_text("price = { cuda = -1 }\n[models.tfidf_lr]\n")
    with pytest.raises(BenchError, match="the price of cuda is USD per hour, a number above 0"):
        load_suite(str(suite))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--price", "cuda=-1"],
            "bench: error: --price: the price of cuda is USD per hour, a number above 0",
        ),
        (["--price", "gpu"], "bench: error: --price takes DEVICE=USD_PER_HOUR"),
        (["--price", "gpu=2"], "bench: error: --price: no device is called 'gpu'"),
        (["--volume", "lots"], "bench: error: --volume is a number of predictions above 0"),
        (["--cost", "total"], "bench: error: --cost total needs --volume N"),
        (["--carbon-intensity", "-3"], "bench: error: --carbon-intensity is grams CO2e per kWh"),
    ],
)
def test_bad_cost_settings_are_one_line_and_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    folder = crossing_folder(tmp_path / "runs")
    done = CliRunner().invoke(main, ["report", str(folder), "--format", "csv", *args])
    assert done.exit_code == 2, done.output
    assert done.stderr.startswith(message) and done.stderr.count("\n") == 1


# --- a pair whose verdict flips with the volume ---------------------------------------------------
# A trains in 100 s and answers in 10 ms; B trains in 1,000 s and answers in 1 ms: their totals are
# equal at (1000 - 100) / (0.010 - 0.001) = 100,000 predictions. They are equally accurate on 500 test
# items (each right alone on 10), so with a 5-point margin the costlier one is not worth it: B below
# 100,000 predictions, A beyond.
STEPS = 100


def crossing_folder(folder: Path) -> Path:
    folder.mkdir(parents=True)
    right = {"A": set(range(400)) | set(range(400, 410)), "B": set(range(400)) | set(range(410, 420))}
    costs = {"A": (1.0, 10.0), "B": (10.0, 1.0)}  # seconds per step, seconds per 1,000 reviews
    rows, preds, repeats = [], [], []
    for model, (step, serve) in costs.items():
        rows.append({"run_id": f"{model}-s0", "model": model, "dataset": "imdb", "n_classes": 2,
                     "n_test": 500, "seed": 0, "device": "cpu", "test_accuracy": len(right[model]) / 500,
                     "train_time_s": step * STEPS, "train_steps": STEPS, "serve_s_per_1k": serve,
                     "serve_batch": 32, "majority_accuracy": 0.5, "status": "ok"})  # fmt: skip
        for i in range(500):
            label = i % 2
            preds.append({"run_id": f"{model}-s0", "model": model, "seed": 0, "split": "test",
                          "example_id": f"imdb-{i}", "label": label,
                          "pred": label if i in right[model] else 1 - label})  # fmt: skip
        for r, scale in enumerate((0.99, 1.0, 1.01)):  # three repeats in fresh processes, 1% apart
            repeats.append({"run_id": f"{model}-s0", "model": model, "seed": 0, "repeat": r + 1,
                            "steps": 20, "step_time_s_mean": step * scale, "device": "cpu",
                            "concurrent_runs": 1, "latency_ms_p50_bs1": 5.0,
                            "serve_s_per_1k": serve * scale, "serve_batch": 32})  # fmt: skip
    pd.DataFrame(rows).to_csv(folder / "results.csv", index=False)
    pd.DataFrame(preds).to_csv(folder / "predictions.csv", index=False)
    pd.DataFrame(repeats).to_csv(folder / "cost_repeats.csv", index=False)
    return folder


def verdict_at(folder: Path, volume: float) -> tuple[str, str, str]:
    settings = ReportSettings(
        "total", verdicts=VerdictSettings(margin=5.0), costing=CostSettings(volume=volume)
    )
    (pair,) = build([folder], settings).pairs.to_dict("records")
    return pair["model_a"], pair["model_b"], pair["verdict"]


def test_a_verdict_flips_at_the_volume_where_the_totals_cross(tmp_path: Path) -> None:
    folder = crossing_folder(tmp_path / "runs")
    assert verdict_at(folder, 1e4) == ("A", "B", "not worth it")  # 200 s against 1,010 s
    assert verdict_at(folder, 1e7) == ("B", "A", "not worth it")  # 100,100 s against 11,000 s

    settings = ReportSettings("total", verdicts=VerdictSettings(margin=5.0), costing=CostSettings(volume=1e7))
    rep = build([folder], settings)
    (pair,) = rep.pairs.to_dict("records")
    # the repeats are each run's replicates, training and serving measured together: by hand
    parts = {m: [[step * s * STEPS, serve * s / 1000] for s in (0.99, 1.0, 1.01)]
             for m, (step, serve) in {"A": (1.0, 10.0), "B": (10.0, 1.0)}.items()}  # fmt: skip
    by_hand = crossover(parts["B"], parts["A"])  # the pair row has B first: cheaper at 10 M
    assert pair["crossover_volume"] == pytest.approx(100_000) == pytest.approx(by_hand.volume)
    assert pair["crossover_kind"] == BOUNDED and pair["cheaper_beyond"] == "B"
    assert (pair["crossover_low"], pair["crossover_high"]) == pytest.approx(
        (by_hand.interval.low, by_hand.interval.high)
    )
    assert pair["crossover_low"] < 100_000 < pair["crossover_high"]
    # the front: A alone below the crossing, B alone beyond it, both where the costs are too close to tell
    view = rep.volume
    assert view is not None and view.unit == "device-s"
    assert view.changes[0].before == ("A",) and view.changes[-1].after == ("B",)
    for change in view.changes:
        assert pair["crossover_low"] / 2 < change.volume < pair["crossover_high"] * 2
    text = to_markdown(rep)
    assert "## Cost at a volume" in text and "B costs less in total than A beyond 100 k predictions" in text
    assert "The front changes at about" in text
    assert rep.pairs["cost"].iloc[0] == "total device time over 10 M predictions"


def test_no_money_column_without_a_price(tmp_path: Path) -> None:
    folder = crossing_folder(tmp_path / "runs")
    plain = build([folder], ReportSettings("serving"))
    for text in (to_csv(plain), to_markdown(plain)):
        assert "usd" not in text and "$" not in text and "co2e" not in text.lower()
    priced = build([folder], ReportSettings("serving", costing=CostSettings.parse(["cpu=0.36"])))
    models = pd.read_csv(io.StringIO(to_csv(priced)))
    models = models[models["level"] == "model"].set_index("entry")
    # A: 100 s at $0.36 an hour is $0.01; 10 ms a prediction is 10,000 s per million, $1.00
    assert models.loc["A", "train_usd_mean"] == pytest.approx(0.01)
    assert models.loc["A", "serve_usd_per_1m_mean"] == pytest.approx(1.0)
    assert "train $" in to_markdown(priced) and "serve $ / 1M" in to_markdown(priced)


def test_emissions_only_where_energy_was_measured(tmp_path: Path) -> None:
    intensity = CostSettings(carbon_intensity=400.0)
    measured = {**CPU_ROW, "cpu_energy_j": 3.6e6, "cpu_energy_method": "rapl-powercap"}  # 1 kWh
    assert bill_columns(measured, intensity) == {"train_co2e_g": None}  # the caller passes the energy
    assert bill_columns(measured, intensity, axis_value(measured, "energy")) == {"train_co2e_g": 400.0}
    assert bill_columns(CPU_ROW, intensity, axis_value(CPU_ROW, "energy")) == {"train_co2e_g": None}
    gpu = {**GPU_ROW, "energy_j": 1.8e6, "cpu_energy_j": 9e9}  # a GPU run's energy axis is the GPU's
    assert bill_columns(gpu, intensity, axis_value(gpu, "energy"))["train_co2e_g"] == pytest.approx(200.0)
    rep = build([crossing_folder(tmp_path / "runs")], ReportSettings(costing=intensity))
    assert "train_co2e_g" not in rep.entries or rep.entries["train_co2e_g_mean"].isna().all()
    assert not math.isnan(rep.pairs["cost_ratio"].iloc[0])


def test_the_volume_plot_is_written_with_its_alt_text(tmp_path: Path) -> None:
    from bench.reporting.write import write_report

    folder = crossing_folder(tmp_path / "runs")
    settings = ReportSettings("total", costing=CostSettings.parse(["cpu=0.10"], "10M"))
    page = write_report([folder], "html", None, settings)
    assert page is not None and (folder / "plots" / "volume.png").is_file()
    assert (folder / "plots" / "volume.svg").is_file()
    assert 'alt="Each model&#x27;s total cost (training, plus serving) against the number of predictions' in (
        page.read_text()
    )
