"""`bench report`: load results folders, aggregate runs over seeds, compare models, and render.

Everything here reads results files only (see bench/results.py); nothing reaches back into training.
Plots live in bench/plots.py and the self-contained HTML page in bench/html_report.py.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from bench.errors import BenchError
from bench.results import EPOCHS_FILE, PREDICTIONS_FILE, RESULTS_FILE, atomic_write_text, read_folder
from bench.stats import StatsError, mean_std_ci, pairwise_significance, significant_pareto

FORMATS = ("table", "csv", "markdown", "html")
EXTENSIONS = {"csv": "csv", "markdown": "md", "html": "html"}


@dataclass(frozen=True)
class Metric:
    key: str  # a per-run column of results.csv, or one derived in `load`
    header: str
    kind: str  # how to print it: pct, int, s (seconds), f (plain float), f3
    higher_is_better: bool


METRICS = [
    Metric("test_accuracy", "accuracy", "pct", True),
    Metric("test_macro_f1", "macro-F1", "pct", True),
    Metric("params_total", "params", "int", False),
    Metric("train_time_s", "train time s", "s", False),
    Metric("epoch_time_s_mean", "s / epoch", "s", False),
    Metric("peak_gpu_mem_mib", "peak GPU MiB", "f", False),
    Metric("peak_rss_mib", "peak RSS MiB", "f", False),
    Metric("energy_j", "energy J", "f", False),
    Metric("train_samples_per_s", "train reviews/s", "f", True),
]
# Cost-normalized figures, one value per run before aggregation (definitions in `load`).
COST_METRICS = [
    Metric("acc_per_train_hour", "accuracy / train hour", "g", True),
    Metric("acc_per_gib", "accuracy / GiB peak", "g", True),
    Metric("acc_time_auc", "accuracy-time AUC", "f3", True),
]
# Aggregated for the cost axis, not shown: the GPU figure where measured, else RSS.
PEAK_MEM = Metric("peak_mem_mib", "peak memory MiB", "f", False)
COST_AXES = {
    "time": ("train_time_s", "total training time (s)"),
    "memory": ("peak_mem_mib", "peak memory (MiB; GPU where measured, else RSS)"),
    "params": ("params_total", "parameters"),
    "energy": ("energy_j", "energy (J)"),
}

PAPER_DEVICE = "RTX 4060 Laptop GPU"
# Huang (2024), section 4: accuracies are read off Figs 5-7 ("about"), the rest quoted from the text.
# The paper gives no per-epoch time for the encoder.
PAPER_ROWS = {
    "encoder": {"test_accuracy": 0.50, "train_time_s": 1842.54, "params_total": 12_419_331},
    "bert": {
        "test_accuracy": 0.63,
        "train_time_s": 8437.04,
        "epoch_time_s_mean": 421.85,
        "params_total": 109_484_547,
    },
    "bert_bilstm": {
        "test_accuracy": 0.65,
        "train_time_s": 5180.92,
        "epoch_time_s_mean": 518.09,
        "params_total": 67_875_331,
    },
}


@dataclass
class Loaded:
    """Results, epochs and predictions of every folder, each row tagged with `source` and `entry`."""

    folders: list[Path]
    results: pd.DataFrame
    epochs: pd.DataFrame
    predictions: pd.DataFrame


@dataclass
class Report:
    loaded: Loaded
    entries: pd.DataFrame  # one row per compared model (and reference rows), see `aggregate`
    pairwise: pd.DataFrame  # McNemar between every two entries
    front: pd.DataFrame  # significance-aware Pareto front on the chosen cost
    cost: str
    sweep: pd.DataFrame  # sweep-trial rows, if any
    failures: pd.DataFrame


def newest_folder(root: Path = Path("reports")) -> Path:
    found = sorted(root.glob(f"*/{RESULTS_FILE}"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise BenchError(f"no results folder under {root}/; run `bench run` or give a folder.")
    return found[-1].parent


def _col(df: pd.DataFrame, name: str) -> pd.Series:
    return df[name] if name in df.columns else pd.Series(np.nan, index=df.index, dtype=float)


def run_auc(epochs: pd.DataFrame) -> float:
    """Time-averaged test accuracy of one run over its training time.

    The trapezoid of test accuracy over cumulative_train_time_s, from the first epoch's point to the
    last, divided by the total training time (the last point's time). The stretch before the first
    evaluation counts as zero, so a model that is accurate sooner scores higher; at most the final
    accuracy if accuracy only grows. One epoch gives no curve: NaN.
    """
    e = epochs.sort_values("epoch")
    t = e["cumulative_train_time_s"].to_numpy(dtype=float)
    a = e["test_accuracy"].to_numpy(dtype=float)
    if len(t) < 2 or not np.isfinite(t).all() or not np.isfinite(a).all() or t[-1] <= 0:
        return math.nan
    return float(np.sum((a[1:] + a[:-1]) / 2 * np.diff(t)) / t[-1])


def load(folders: Sequence[Path]) -> Loaded:
    """Read and merge folders. A model found in several folders gets one entry per folder."""
    if not folders:
        folders = [newest_folder()]
    frames: dict[str, list[pd.DataFrame]] = {"results": [], "epochs": [], "predictions": []}
    for folder in folders:
        if not folder.is_dir():
            raise BenchError(f"no such results folder: {folder}")
        run = read_folder(folder)
        for key, name in (
            ("results", RESULTS_FILE),
            ("epochs", EPOCHS_FILE),
            ("predictions", PREDICTIONS_FILE),
        ):
            df = run.read(name)
            df.insert(0, "source", folder.name)
            frames[key].append(df)
    res, ep, pred = (
        # Leave out empty frames: a sweep has no predictions, and concat would turn the labels into floats.
        pd.concat([f for f in frames[k] if len(f)] or [pd.DataFrame()], ignore_index=True)
        for k in ("results", "epochs", "predictions")
    )
    if res.empty:
        raise BenchError(f"{folders[0]}/{RESULTS_FILE} holds no runs.")

    trial = _col(res, "trial")
    res["sweep"] = _col(res, "study").notna() | trial.notna()
    per_model_sources = res[~res["sweep"]].groupby("model")["source"].nunique()
    many = set(per_model_sources[per_model_sources > 1].index)
    res["entry"] = [
        f"{m} t{int(t)}" if pd.notna(t) else (f"{m} [{s}]" if m in many else str(m))
        for m, s, t in zip(res["model"], res["source"], trial)
    ]

    # Peak memory: the GPU figure where measured (process, else device-minus-baseline), else host RSS.
    gpu = _col(res, "peak_gpu_mem_process_mib").fillna(_col(res, "peak_gpu_mem_nvml_mib"))
    res["peak_gpu_mem_mib"] = gpu
    res["peak_mem_mib"] = gpu.fillna(_col(res, "peak_rss_mib"))
    acc = _col(res, "test_accuracy")
    res["acc_per_train_hour"] = acc / (_col(res, "train_time_s") / 3600)
    res["acc_per_gib"] = acc / (res["peak_mem_mib"] / 1024)
    auc = {k: run_auc(g) for k, g in ep.groupby(["source", "run_id"])} if not ep.empty else {}
    res["acc_time_auc"] = [auc.get((s, r), math.nan) for s, r in zip(res["source"], res["run_id"])]

    entry_of = res.set_index(["source", "run_id"])["entry"]
    for df in (ep, pred):
        if not df.empty:
            df["entry"] = [entry_of.get((s, r)) for s, r in zip(df["source"], df["run_id"])]
    return Loaded(list(folders), res, ep, pred)


def _summary(values: pd.Series) -> dict[str, float]:
    v = pd.to_numeric(values, errors="coerce").dropna()
    v = v[np.isfinite(v)]
    if v.empty:
        return {"mean": math.nan, "std": math.nan, "ci_low": math.nan, "ci_high": math.nan}
    s = mean_std_ci(v.to_numpy())
    return {"mean": s.mean, "std": s.std, "ci_low": s.ci_low, "ci_high": s.ci_high}


def aggregate(results: pd.DataFrame) -> pd.DataFrame:
    """One row per entry over its ok runs: n, failures, and mean/std/ci_low/ci_high per metric.

    Entries are grouped by model, in the order models first appear; the paper's reference row for a
    model follows our last entry of that model.
    """
    rows: list[dict[str, Any]] = []
    for entry, g in results[~results["sweep"]].groupby("entry", sort=False):
        ok = g[g["status"] == "ok"]
        row: dict[str, Any] = {
            "entry": entry,
            "model": g["model"].iloc[0],
            "source": g["source"].iloc[0],
            "reference": False,
            "device": ", ".join(sorted({str(d) for d in _col(ok, "device").dropna()})),
            "seeds": " ".join(str(int(s)) for s in ok["seed"]),
            "n_ok": len(ok),
            "n_failed": int((g["status"] != "ok").sum()),
        }
        for m in [*METRICS, *COST_METRICS, PEAK_MEM]:
            for stat, value in _summary(_col(ok, m.key)).items():
                row[f"{m.key}_{stat}"] = value
        rows.append(row)
    models = list(dict.fromkeys(r["model"] for r in rows))
    rows.sort(key=lambda r: models.index(r["model"]))  # stable: one model's entries side by side
    out: list[dict[str, Any]] = []
    for i, row in enumerate(rows):
        out.append(row)
        later = [r["model"] for r in rows[i + 1 :]]
        if row["model"] in PAPER_ROWS and row["model"] not in later:
            ref: dict[str, Any] = {
                "entry": f"{row['model']} (paper)",
                "model": row["model"],
                "source": "paper",
                "reference": True,
                "device": PAPER_DEVICE,
                "seeds": "",
                "n_ok": 1,
                "n_failed": 0,
            }
            ref.update({f"{k}_mean": v for k, v in PAPER_ROWS[row["model"]].items()})
            out.append(ref)
    return pd.DataFrame(out)


def significance(loaded: Loaded, entries: Sequence[str]) -> pd.DataFrame:
    """McNemar p-values between every two entries on their shared test items (majority vote over seeds).

    A pair that shares no items, or whose labels disagree, gets an empty p-value and a note.
    """
    pred = loaded.predictions
    if pred.empty or "entry" not in pred.columns:
        return pd.DataFrame()
    ok_runs = loaded.results.loc[loaded.results["status"] == "ok", ["source", "run_id"]]
    pred = pred.merge(ok_runs, on=["source", "run_id"])
    pred = pred[pred["entry"].isin(entries)]
    cols = ["example_id", "label", "pred"]
    votes = pred.assign(model=pred["entry"], seed=pred["source"] + "/" + pred["seed"].astype(str))
    present = [e for e in entries if e in set(votes["model"])]
    rows = []
    for i, a in enumerate(present):
        for b in present[i + 1 :]:
            pair = votes.loc[votes["model"].isin([a, b]), ["model", "seed", *cols]]
            try:
                rows.append(pairwise_significance(pair).iloc[0].to_dict() | {"note": ""})
            except StatsError as exc:
                rows.append({"model_a": a, "model_b": b, "p_value": math.nan, "note": str(exc)})
    return pd.DataFrame(rows)


def pareto(entries: pd.DataFrame, pairwise: pd.DataFrame, cost: str) -> pd.DataFrame:
    """The significance-aware front of our entries with both mean accuracy and mean cost measured."""
    key = COST_AXES[cost][0]
    ours = entries[~entries["reference"]]
    points = pd.DataFrame(
        {"model": ours["entry"], "accuracy": ours["test_accuracy_mean"], "cost": ours[f"{key}_mean"]}
    ).dropna()
    if points.empty:
        return pd.DataFrame(columns=["model", "accuracy", "cost", "on_front", "dominated_by", "tied_with"])
    pv = pairwise if not pairwise.empty else pd.DataFrame(columns=["model_a", "model_b", "p_value"])
    return significant_pareto(points.reset_index(drop=True), pv.dropna(subset=["p_value"]))


def build(folders: Sequence[Path], cost: str = "time") -> Report:
    if cost not in COST_AXES:
        raise BenchError(f"--cost must be one of {', '.join(COST_AXES)}, not {cost!r}.")
    loaded = load(folders)
    entries = aggregate(loaded.results)
    ours = list(entries.loc[~entries["reference"], "entry"]) if not entries.empty else []
    pairwise = significance(loaded, ours)
    front = pareto(entries, pairwise, cost) if ours else pd.DataFrame()
    res = loaded.results
    sweep = res[res["sweep"]]
    bad = ~res["status"].isin(["ok", "pruned"])  # a pruned sweep trial was stopped on purpose
    failures = res.loc[bad, ["entry", "source", "run_id", "status"]].assign(
        error=_col(res, "error")[bad].fillna("")
    )
    return Report(loaded, entries, pairwise, front, cost, sweep, failures)


# --- rendering ------------------------------------------------------------------------------------


def fmt(value: Any, kind: str) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    v = float(value)
    if kind == "pct":
        return f"{100 * v:.1f}"
    if kind == "int":
        return f"{round(v):,}"
    if kind == "s":
        return f"{v:.2f}" if abs(v) < 100 else f"{v:,.1f}"
    if kind == "f3":
        return f"{v:.3f}"
    if kind == "g":
        return f"{v:,.4g}" if abs(v) < 1e4 else f"{v:,.0f}"
    return f"{v:,.1f}"


def cell(row: pd.Series, m: Metric, with_ci: bool = True) -> str:
    """mean ± std [CI] of one metric of one entry; '≈' marks the paper's approximate accuracies."""
    mean = row.get(f"{m.key}_mean")
    text = fmt(mean, m.kind)
    if text == "–" or row["reference"]:
        return ("≈" if row["reference"] and m.key == "test_accuracy" else "") + text
    std, lo, hi = (row.get(f"{m.key}_{s}") for s in ("std", "ci_low", "ci_high"))
    if std is not None and math.isfinite(std) and not (m.kind == "int" and std == 0):
        text += f" ± {fmt(std, m.kind)}"
        if with_ci and lo != hi:
            text += f" [{fmt(lo, m.kind)}, {fmt(hi, m.kind)}]"
    return text


def best(entries: pd.DataFrame, m: Metric) -> set[str]:
    """Entries holding the best mean of a metric among our runs (references never count)."""
    means = entries.loc[~entries["reference"]].set_index("entry")[f"{m.key}_mean"].dropna()
    if means.empty or len(means) < 2:
        return set()
    target = means.max() if m.higher_is_better else means.min()
    return set(means.index[means == target])


def present(entries: pd.DataFrame, metrics: Sequence[Metric]) -> list[Metric]:
    ours = entries[~entries["reference"]] if not entries.empty else entries
    return [m for m in metrics if f"{m.key}_mean" in ours and ours[f"{m.key}_mean"].notna().any()]


def runs_cell(row: pd.Series) -> str:
    if row["reference"]:
        return "reference"
    return f"{row['n_ok']} ok" + (f", {row['n_failed']} failed" if row["n_failed"] else "")


def grid(
    rep: Report, metrics: Sequence[Metric], mark: str, with_ci: bool
) -> tuple[list[str], list[list[str]]]:
    """Headers and cells of the entries table; `mark` wraps the best cell ('**{}**' or rich markup)."""
    shown = present(rep.entries, metrics)
    headers = ["model", "runs", "device"] + [m.header + (" %" if m.kind == "pct" else "") for m in shown]
    winners = {m.key: best(rep.entries, m) for m in shown}
    rows = []
    for _, row in rep.entries.iterrows():
        cells = [str(row["entry"]), runs_cell(row), str(row["device"])]
        for m in shown:
            text = cell(row, m, with_ci)
            cells.append(mark.format(text) if row["entry"] in winners[m.key] else text)
        rows.append(cells)
    return headers, rows


def pairwise_grid(rep: Report) -> tuple[list[str], list[list[str]]]:
    headers = ["model A", "model B", "items", "acc A %", "acc B %", "only A right", "only B right", "p"]
    rows = []
    for _, r in rep.pairwise.iterrows():
        if not math.isfinite(r["p_value"]):
            rows.append([r["model_a"], r["model_b"], "–", "–", "–", "–", "–", f"– ({r['note']})"])
            continue
        p = f"{r['p_value']:.3g}" + (" (significant)" if r["significant"] else "")
        rows.append(
            [r["model_a"], r["model_b"], str(int(r["n_items"])), fmt(r["acc_a"], "pct"),
             fmt(r["acc_b"], "pct"), str(int(r["b"])), str(int(r["c"])), p]
        )  # fmt: skip
    return headers, rows


def front_grid(rep: Report) -> tuple[list[str], list[list[str]]]:
    headers = ["model", "accuracy %", COST_AXES[rep.cost][1], "on front", "tied with", "dominated by"]
    rows = [
        [r["model"], fmt(r["accuracy"], "pct"), fmt(r["cost"], "f"), "yes" if r["on_front"] else "no",
         r["tied_with"] or "–", r["dominated_by"] or "–"]
        for _, r in rep.front.iterrows()
    ]  # fmt: skip
    return headers, rows


def sweep_grid(rep: Report) -> tuple[list[str], list[list[str]]]:
    cols = [
        ("study", "study", ""),
        ("trial", "trial", "int"),
        ("model", "model", ""),
        ("max_len", "max_len", "int"),
        ("lr", "lr", "g"),
        ("truncated_test_share", "truncated test %", "pct"),
        ("test_accuracy", "accuracy %", "pct"),
        ("status", "status", ""),
    ]
    rows = [
        [fmt(r.get(k), kind) if kind else str(r.get(k, "–")) for k, _, kind in cols]
        for _, r in rep.sweep.iterrows()
    ]
    return [h for _, h, _ in cols], rows


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(headers), "|" + "---|" * len(headers), *(line(r) for r in rows)])


def sections(
    rep: Report, mark: str, with_ci: bool
) -> list[tuple[str, str, tuple[list[str], list[list[str]]]]]:
    """(title, note, table) for each part of the report that has content, in order."""
    out = [
        (
            "Runs",
            "Mean ± std over seeds [95% bootstrap CI of the mean]; best of our runs in bold. "
            f"Reference rows are the paper's numbers, measured on an {PAPER_DEVICE}.",
            grid(rep, METRICS, mark, with_ci),
        )
    ]
    if present(rep.entries, COST_METRICS):
        note = (
            "Accuracy per training hour; accuracy per GiB of peak memory (GPU where measured, else RSS); "
            "accuracy-time AUC: the trapezoid of test accuracy over cumulative training time from the first "
            "epoch to the last, divided by the total training time (time-averaged accuracy, zero before the "
            "first epoch)."
        )
        out.append(("Cost-normalized", note, grid(rep, COST_METRICS, mark, with_ci)))
    if not rep.pairwise.empty:
        note = (
            "McNemar's test on the shared test items, each model's predictions majority-voted over its "
            "seeds (accuracies here are of that vote); significant at p < 0.05."
        )
        out.append(("Paired significance", note, pairwise_grid(rep)))
    if not rep.front.empty:
        note = (
            f"Cost: {COST_AXES[rep.cost][1]}. A model dominates another only when it costs no more and is "
            "significantly more accurate; pairs whose difference is not significant are tied."
        )
        out.append(("Pareto front", note, front_grid(rep)))
    if not rep.sweep.empty:
        out.append(("Sweep", "One row per trial.", sweep_grid(rep)))
    if not rep.failures.empty:
        fails = [
            [r["entry"], r["run_id"], r["status"], r["error"] or "–"] for _, r in rep.failures.iterrows()
        ]
        out.append(("Failures", "", (["model", "run", "status", "error"], fails)))
    return out


def to_markdown(rep: Report) -> str:
    parts = [f"# Report: {', '.join(str(f.name) for f in rep.loaded.folders)}"]
    for title, note, (headers, rows) in sections(rep, "**{}**", with_ci=True):
        parts += [f"## {title}", note, markdown_table(headers, rows)] if note else [
            f"## {title}", markdown_table(headers, rows)]  # fmt: skip
    return "\n\n".join(parts) + "\n"


def to_csv(rep: Report) -> str:
    """The aggregated entries (mean/std/CI per metric), then every merged run with its source folder."""
    agg = rep.entries.assign(level=np.where(rep.entries["reference"], "reference", "model"))
    if not rep.front.empty:
        front = rep.front.rename(columns={"model": "entry"})[
            ["entry", "on_front", "tied_with", "dominated_by"]
        ]
        agg = agg.merge(front, on="entry", how="left")
    runs = rep.loaded.results.assign(level="run")
    keep = ["level", "source", "entry", "run_id", "model", "seed", "status", "error"]
    runs = runs.reindex(
        columns=[c for c in keep if c in runs.columns] + [m.key for m in METRICS + COST_METRICS]
    )
    out = pd.concat([agg, runs], ignore_index=True).dropna(axis=1, how="all")  # drop what nothing measured
    first = [c for c in keep + ["reference", "device", "seeds", "n_ok", "n_failed"] if c in out.columns]
    out = out[first + [c for c in out.columns if c not in first]]
    return str(out.to_csv(index=False, float_format="%.10g", lineterminator="\n"))


def to_rich(rep: Report) -> list[Table]:
    tables = []
    for title, note, (headers, rows) in sections(rep, "[bold green]{}[/]", with_ci=False):
        table = Table(title=title, caption=note or None, caption_justify="left")
        for i, h in enumerate(headers):
            table.add_column(h, justify="left" if i < 3 else "right", overflow="fold")
        for r in rows:
            table.add_row(*r)
        tables.append(table)
    return tables


def default_out(rep: Report, fmt_name: str) -> Path:
    return rep.loaded.folders[0] / f"report.{EXTENSIONS[fmt_name]}"


def make_report(
    folders: Sequence[Path], fmt_name: str = "table", out: Path | None = None, cost: str = "time"
) -> Path | None:
    """The `bench report` command: build, write plots beside the report, render. Returns the file."""
    from bench import plots  # matplotlib is slow to import; the table alone should not wait for it

    if fmt_name not in FORMATS:
        raise BenchError(f"--format must be one of {', '.join(FORMATS)}, not {fmt_name!r}.")
    rep = build(folders, cost)
    err = Console(stderr=True)
    if fmt_name == "table":
        plot_dir = out or rep.loaded.folders[0]
        figures = plots.write_all(rep, plot_dir / "plots")
        for table in to_rich(rep):
            Console().print(table)
        err.print(f"wrote {len(figures)} plots to {plot_dir / 'plots'}")
        return None
    target = out or default_out(rep, fmt_name)
    figures = plots.write_all(rep, target.parent / "plots")
    if fmt_name == "csv":
        text = to_csv(rep)
    elif fmt_name == "markdown":
        text = to_markdown(rep)
    else:
        from bench.html_report import to_html

        text = to_html(rep, figures)
    atomic_write_text(target, text)
    err.print(f"wrote {target} and {len(figures)} plots to {target.parent / 'plots'}")
    return target
