"""Each pair's path to its verdict under `--until-decided`, from the folders' decisions.csv: the levers
its looks took, the items and seeds they reached, and the time to the decision."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from bench.results import DECISIONS_FILE, read_rows

INCONCLUSIVE = "inconclusive"


def _step(row: pd.Series) -> str:
    seeds = f"{int(row['seeds_a'])}+{int(row['seeds_b'])} seeds"
    return f"{row['lever'] or 'look'} ({int(row['n_items']):,} items, {seeds})"


def pair_path(rows: pd.DataFrame) -> str:
    """One pair's sentence: its looks up to the first decided one, its verdict and when."""
    rows = rows.sort_values("look")
    decided = rows[rows["verdict"] != INCONCLUSIVE]
    upto = rows if decided.empty else rows[rows["look"] <= decided["look"].iloc[0]]
    last = upto.iloc[-1]
    path = " \u2192 ".join(_step(r) for _, r in upto.iterrows())
    a, b = last["model_a"], last["model_b"]
    if decided.empty:
        return f"{b} against {a}: still inconclusive after look {int(last['look'])}; {path}."
    return (
        f"{b} against {a}: {last['verdict']} at look {int(last['look'])}, "
        f"{float(last['elapsed_s']):,.0f} s after the runs began; {path}."
    )


def decision_paths(folders: Sequence[Path]) -> list[str]:
    """Sentences for every pair of every folder that holds a decisions.csv, and the time spent."""
    out = []
    for folder in folders:
        frame = read_rows(folder / DECISIONS_FILE)  # checked: every look, pair and verdict is there
        if frame.empty:
            continue
        frame["lever"] = frame["lever"].fillna("")
        first, last = frame[frame["look"] == frame["look"].min()], frame[frame["look"] == frame["look"].max()]
        spent = float(last["elapsed_s"].max()) - float(first["elapsed_s"].max())
        decided = int((last["verdict"] != INCONCLUSIVE).sum())
        out.append(
            f"{folder}: {decided} of {len(last)} pairs decided in {int(frame['look'].max())} look(s); "
            f"{spent:,.0f} s spent deciding after the runs."
        )
        key = frame[["model_a", "model_b"]].apply(lambda r: tuple(sorted(r)), axis=1)
        out.extend(pair_path(rows) for _, rows in frame.groupby(key, sort=False))
    return out
