"""Results files written by hand, for tests that read them back (the report, its plots, the browser)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from bench.results import DECISION_COLUMNS
from bench.stats.comparisons.models import MODELS_T

Look = tuple[
    str, str, int, float, float, float, str
]  # model_a, model_b, look, diff, low, high (points), verdict


def write_decisions(folder: Path, looks: Sequence[Look]) -> pd.DataFrame:
    """decisions.csv of `--until-decided` with the given looks (each seed count the look's number), every
    column the schema has; the frame written."""
    frame = pd.DataFrame(
        [
            {"look": look, "fraction": 0.2 * look, "lever": "seeds", "elapsed_s": 60.0 * look,
             "model_a": a, "model_b": b, "cost": "training time", "cost_unit": "s", "cost_ratio": 9.5,
             "cost_ci_low": 5.2, "cost_ci_high": 17.6, "cost_significant": True, "cost_equal": False,
             "acc_diff": d / 100, "acc_diff_ci_low": lo / 100, "acc_diff_ci_high": hi / 100,
             "pair_alpha": 0.001 * look, "p_value": 0.5, "p_adjusted": 1.0, "mde": math.nan, "margin": 1.0,
             "cost_margin": 0.1, "scope": "models", "acc_method": MODELS_T, "cost_method": "exact",
             "cost_noise": math.nan, "seed_noise": math.nan, "seeds_a": look, "seeds_b": look,
             "n_items": 10, "break_even": math.nan, "break_even_low": math.nan, "break_even_high": math.nan,
             "break_even_kind": "", "items_to_decide": None, "seeds_to_decide": None, "verdict": v,
             "sentence": f"{b} against {a} at look {look}: {v}."}
            for a, b, look, d, lo, hi, v in looks
        ],
        columns=[c.name for c in DECISION_COLUMNS],
    )  # fmt: skip
    frame.to_csv(folder / "decisions.csv", index=False)
    return frame
