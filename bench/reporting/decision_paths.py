"""Each pair's path to its verdict under `--until-decided`, from the folders' decisions.csv: the levers
its looks took, the items and seeds they reached, the level each look judged it at, and the time to
the decision."""

from __future__ import annotations

import pandas as pd

from bench.stats.verdicts import INCONCLUSIVE
from bench.stats.wording import percent


def _step(row: pd.Series) -> str:
    seeds = f"{int(row['seeds_a'])}+{int(row['seeds_b'])} seeds"
    level = percent(float(row["pair_alpha"]))
    return f"{row['lever'] or 'look'} ({int(row['n_items']):,} items, {seeds}, {level})"


def pair_path(rows: pd.DataFrame) -> str:
    """One pair's sentence: its looks up to the decided one, its verdict and when."""
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


def decision_paths(decisions: pd.DataFrame) -> list[str]:
    """Sentences for every pair of every folder in `decisions` (decisions.csv's rows, tagged with their
    folder in `source`), and the time each folder spent deciding."""
    out: list[str] = []
    if decisions.empty or "look" not in decisions:
        return out
    for source, frame in decisions.groupby("source", sort=False):
        frame = frame.assign(lever=frame["lever"].fillna(""))
        first = frame[frame["look"] == frame["look"].min()]
        spent = float(frame["elapsed_s"].max()) - float(first["elapsed_s"].max())
        key = frame[["model_a", "model_b"]].apply(lambda r: tuple(sorted(r)), axis=1)
        last = frame.sort_values("look").groupby(key, sort=False).tail(1)
        decided = int((last["verdict"] != INCONCLUSIVE).sum())
        out.append(
            f"{source}: {decided} of {len(last)} pairs decided in {int(frame['look'].max())} look(s); "
            f"{spent:,.0f} s spent deciding after the runs."
        )
        out.extend(pair_path(rows) for _, rows in frame.groupby(key, sort=False))
    return out
