"""One look of `--until-decided`: the undecided pairs judged at the look's level by the one verdict
function (bench.stats.verdicts.judge_pair), and their rows of decisions.csv (the report's pair rows
and the look's own columns). Pure functions of the models' evidence; the loop writes the rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import combinations

import pandas as pd

from bench.config import VerdictSettings
from bench.decide.evidence import ModelRuns
from bench.stats.pair_table import pair_row
from bench.stats.verdicts import INCONCLUSIVE, Judged, judge_pair
from bench.stats.wording import Room

TIME_NOUN, TIME_UNIT = "training time", "s"  # the loop decides on training time


def pair_key(a: str, b: str) -> tuple[str, str]:
    """A pair whichever of its models is the cheaper at a look (new runs can swap them)."""
    return (a, b) if a <= b else (b, a)


def model_pairs(models: Sequence[str]) -> list[tuple[str, str]]:
    return [pair_key(a, b) for a, b in combinations(models, 2)]


def judge_look(
    models: Mapping[str, ModelRuns],
    pairs: Sequence[tuple[str, str]],
    level: float,
    settings: VerdictSettings,
    with_mde: bool = True,
) -> list[Judged]:
    """Each of `pairs` judged on its models' shared items and training-time replicates at `level`."""
    judged = []
    for x, y in pairs:
        right_x, right_y = models[x].aligned(models[y])
        costs_x, costs_y = models[x].costs, models[y].costs
        judged.append(judge_pair(x, y, right_x, right_y, costs_x, costs_y, level, settings, False, with_mde))
    return judged


def room_of(j: Judged, models: Mapping[str, ModelRuns], pool: int, max_seeds: int) -> Room:
    """What the loop knows that a report does not, for an undecided pair's sentence."""
    return Room(pool, models[j.model_a].run_s, models[j.model_b].run_s, max_seeds)


def look_rows(
    look: int,
    fraction: float,
    judged: Sequence[Judged],
    levers: Mapping[tuple[str, str], str],
    elapsed: float,
    rooms: Mapping[tuple[str, str], Room],
    alpha: float,
) -> list[dict[str, object]]:
    """decisions.csv's rows of one look: each judged pair's row (the report's columns) and the look's."""
    rows = []
    for j in judged:
        key = pair_key(j.model_a, j.model_b)
        row = pair_row(j, TIME_NOUN, TIME_UNIT, alpha, rooms.get(key) if j.verdict == INCONCLUSIVE else None)
        rows.append(
            {
                "look": look,
                "fraction": round(fraction, 6),
                "lever": levers.get(key, ""),
                "elapsed_s": round(elapsed, 1),
                **row,
            }
        )
    return rows


def decided_pairs(history: pd.DataFrame) -> dict[tuple[str, str], str]:
    """Each pair's verdict at its decided look in decisions.csv: a decided pair keeps it."""
    out: dict[tuple[str, str], str] = {}
    for a, b, verdict in zip(history["model_a"], history["model_b"], history["verdict"]):
        if verdict != INCONCLUSIVE:
            out.setdefault(pair_key(str(a), str(b)), str(verdict))
    return out
