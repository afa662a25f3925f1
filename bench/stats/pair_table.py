"""The pair rows: every judged pair as one row of the report's pair table (and of `--format csv`), with
its verdict, the numbers behind it and its sentence. One builder, so that every format carries every
verdict the same way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from bench.stats.verdicts import Judged
from bench.stats.wording import Room, sentence

# Every pair row's columns and what each holds: the report's pair table, `--format csv`'s pair rows
# and decisions.csv (bench/results.py documents them from here).
PAIR_COLUMNS = [
    ("model_a", "the cheaper model of the pair, by mean cost"),
    ("model_b", "the costlier model"),
    ("cost", "the cost axis, in words (training time, peak host memory...)"),
    ("cost_unit", "its unit"),
    ("cost_ratio", "B's mean cost over A's"),
    ("cost_ci_low", "lower bound of the cost ratio, at the pair's alpha (from replicates, or the assumed noise)"),
    ("cost_ci_high", "upper bound"),
    ("cost_significant", "True when B is shown costlier (the cost interval above 1; for exact costs, a higher count)"),
    ("cost_equal", "True when the costs are shown within cost_margin of each other"),
    ("acc_diff", "accuracy of B minus A, a fraction (0.012 is 1.2 points)"),
    ("acc_diff_ci_low", "lower bound, at the pair's alpha"),
    ("acc_diff_ci_high", "upper bound"),
    ("pair_alpha", "the pair's share of alpha: the two-sided error of its intervals (alpha over the report's pairs, or a look's share)"),
    ("p_value", "two-sided p-value of B - A = 0"),
    ("p_adjusted", "min(1, p * alpha / pair_alpha): below alpha exactly when the interval excludes 0"),
    ("mde", "difference detectable with 80% power at the pair's alpha, a fraction (empty where none is reliable)"),
    ("margin", "points: the smallest gain worth a higher cost"),
    ("cost_margin", "relative: costs this close count as equal"),
    ("scope", "models (recipes, seed-to-seed variance included) or checkpoints (--checkpoints)"),
    ("acc_method", "the accuracy comparison used (bench ls comparisons)"),
    ("cost_method", "how the cost interval was computed"),
    ("cost_noise", "relative run-to-run sd assumed for a side with one run (empty where measured)"),
    ("seed_noise", "points: seed-to-seed sd assumed for a side with one seed (empty where none was assumed)"),
    ("seeds_a", "seeds of model_a compared"),
    ("seeds_b", "seeds of model_b compared"),
    ("n_items", "test items both models' runs predicted"),
    ("break_even", "B's extra cost per point of accuracy, in cost_unit (empty where B costs no more)"),
    ("break_even_low", "its 95% Fieller interval's lower end (see break_even_kind)"),
    ("break_even_high", "its upper end"),
    ("break_even_kind", "bounded; two rays (the price lies outside [low, high]: the gain may be 0); or whole line"),
    ("items_to_decide", "test items in all that would decide an inconclusive pair with 80% power, at the spread observed"),
    ("seeds_to_decide", "seeds a side that would decide it with 80% power"),
    ("verdict", "worth it, not worth it, equivalent or inconclusive (the rule: bench/stats/verdicts.py)"),
    ("sentence", "the verdict in words"),
]  # fmt: skip
VERDICT_COLUMNS = [name for name, _ in PAIR_COLUMNS]


def pair_row(j: Judged, noun: str, unit: str, alpha: float, room: Room | None = None) -> dict[str, object]:
    comp, cc, be = j.accuracy, j.cost, j.break_even
    return {
        "model_a": j.model_a,
        "model_b": j.model_b,
        "cost": noun,
        "cost_unit": unit,
        "cost_ratio": cc.ratio,
        "cost_ci_low": cc.ci_low,
        "cost_ci_high": cc.ci_high,
        "cost_significant": cc.significant,
        "cost_equal": j.cost_equal,
        "acc_diff": comp.diff,
        "acc_diff_ci_low": comp.ci_low,
        "acc_diff_ci_high": comp.ci_high,
        "pair_alpha": j.level,
        "p_value": comp.p_value,
        "p_adjusted": min(1.0, comp.p_value * alpha / j.level) if math.isfinite(comp.p_value) else math.nan,
        "mde": comp.mde,
        "margin": j.margin,
        "cost_margin": j.cost_margin,
        "scope": comp.scope,
        "acc_method": comp.method,
        "cost_method": cc.method,
        "cost_noise": cc.noise,
        "seed_noise": j.seed_noise,
        "seeds_a": comp.seeds_a,
        "seeds_b": comp.seeds_b,
        "n_items": comp.n_items,
        "break_even": be.ratio if be is not None else math.nan,
        "break_even_low": be.low if be is not None else math.nan,
        "break_even_high": be.high if be is not None else math.nan,
        "break_even_kind": be.kind if be is not None else "",
        "items_to_decide": j.needed.items,
        "seeds_to_decide": j.needed.seeds,
        "verdict": j.verdict,
        "sentence": sentence(j, noun, unit, room),
    }


def pair_table(judged: Sequence[Judged], noun: str, unit: str, alpha: float) -> pd.DataFrame:
    """VERDICT_COLUMNS, one row per judged pair, in the order given."""
    rows = [pair_row(j, noun, unit, alpha) for j in judged]
    # object dtype, so cost_significant holds True, False or None whatever the mix of rows.
    return pd.DataFrame(rows, columns=VERDICT_COLUMNS).astype({"cost_significant": object})
