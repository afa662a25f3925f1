"""The pair rows: every judged pair as one row of the report's pair table (and of `--format csv`), with
its verdict, the numbers behind it and its sentence. One builder, so that every format carries every
verdict the same way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from bench.cells import BOOLEAN, COUNT, FRACTION, NON_NEGATIVE, NUMBER, TEXT, Column, number, one_of
from bench.stats.verdicts import VERDICTS, Judged
from bench.stats.wording import Room, sentence

RATIO = number(low=0, finite=False)  # a ratio's interval may be unbounded
DIFFERENCE = number(low=-1, high=1)  # of two accuracies

# Every pair row's columns and what each holds: the report's pair table, `--format csv`'s pair rows
# and decisions.csv (bench/results.py documents them from here).
PAIR_COLUMNS = [
    Column("model_a", "the cheaper model of the pair, by mean cost", TEXT, required=True),
    Column("model_b", "the costlier model", TEXT, required=True),
    Column("cost", "the cost axis, in words (training time, peak host memory...)", TEXT),
    Column("cost_unit", "its unit", TEXT),
    Column("cost_ratio", "B's mean cost over A's", RATIO),
    Column("cost_ci_low", "lower bound of the cost ratio, at the pair's alpha (from replicates, or the assumed noise)", RATIO),
    Column("cost_ci_high", "upper bound", RATIO),
    Column("cost_significant", "True when B is shown costlier (the cost interval above 1; for exact costs, a higher count)", BOOLEAN),
    Column("cost_equal", "True when the costs are shown within cost_margin of each other", BOOLEAN),
    Column("acc_diff", "accuracy of B minus A, a fraction (0.012 is 1.2 points)", DIFFERENCE),
    Column("acc_diff_ci_low", "lower bound, at the pair's alpha", DIFFERENCE),
    Column("acc_diff_ci_high", "upper bound", DIFFERENCE),
    Column("pair_alpha", "the pair's share of alpha: the two-sided error of its intervals (alpha over the report's pairs, or a look's share)", FRACTION),
    Column("p_value", "two-sided p-value of B - A = 0", FRACTION),
    Column("p_adjusted", "min(1, p * alpha / pair_alpha): below alpha exactly when the interval excludes 0", FRACTION),
    Column("mde", "difference detectable with 80% power at the pair's alpha, a fraction (empty where none is reliable)", NON_NEGATIVE),
    Column("margin", "points: the smallest gain worth a higher cost", NON_NEGATIVE),
    Column("cost_margin", "relative: costs this close count as equal", NON_NEGATIVE),
    Column("scope", "models (recipes, seed-to-seed variance included) or checkpoints (--checkpoints)", one_of("models", "checkpoints")),
    Column("acc_method", "the accuracy comparison used (bench ls comparisons)", TEXT),
    Column("cost_method", "how the cost interval was computed", TEXT),
    Column("cost_noise", "relative run-to-run sd assumed for a side with one run (empty where measured)", NON_NEGATIVE),
    Column("seed_noise", "points: seed-to-seed sd assumed for a side with one seed (empty where none was assumed)", NON_NEGATIVE),
    Column("seeds_a", "seeds of model_a compared", COUNT),
    Column("seeds_b", "seeds of model_b compared", COUNT),
    Column("n_items", "test items both models' runs predicted", COUNT),
    Column("break_even", "B's extra cost per point of accuracy, in cost_unit (empty where B costs no more)", NUMBER),
    Column("break_even_low", "its 95% Fieller interval's lower end (see break_even_kind)", NUMBER),
    Column("break_even_high", "its upper end", NUMBER),
    Column("break_even_kind", "bounded; two rays (the price lies outside [low, high]: the gain may be 0); or whole line", TEXT),
    Column("items_to_decide", "test items in all that would decide an inconclusive pair with 80% power, at the spread observed", COUNT),
    Column("seeds_to_decide", "seeds a side that would decide it with 80% power", COUNT),
    Column("verdict", "worth it, not worth it, equivalent or inconclusive (the rule: bench/stats/verdicts.py)", one_of(*VERDICTS), required=True),
    Column("sentence", "the verdict in words", TEXT),
]  # fmt: skip
VERDICT_COLUMNS = [c.name for c in PAIR_COLUMNS]


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
