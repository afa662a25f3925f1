"""Is the costlier model worth it? The one verdict rule, the one function that judges a pair, and the
front of models worth their cost. The report, the front, the decide loop's looks (decisions.csv) and
the pictures all read `judge_pair`, so they cannot disagree; the words are bench.stats.wording.

For a pair ordered by mean cost, A the cheaper and B the costlier, with B - A's accuracy interval
[lo, hi] at the pair's level, a margin delta (the smallest gain worth a higher cost) and a cost
margin m (costs this close count as equal):

    worth it       lo > delta, or lo > 0 with the costs shown equal
                   (B better by more than the margin; or better, at a cost within m of A's)
    not worth it   hi < 0, or hi < delta with B shown costlier
                   (B less accurate; or costlier for a gain shown below the margin)
    equivalent     -delta < lo and hi < delta with the costs shown equal
                   (the gain within +-delta, two one-sided tests, and the costs within m: either will do)
    inconclusive   otherwise; what the interval rules out, and what would decide it, are said

in that order where two hold. "Shown costlier": B's cost interval lies above 1 (exact costs: B's
count is higher); "shown equal": it lies inside [1 / (1 + m), 1 + m] (exact: the counts are equal).

Every interval of a pair is at the pair's level: alpha / m for the m pairs of a report (Bonferroni:
unlike Holm's step-down, it gives simultaneous intervals, and a verdict reads an interval against 0
and +-delta, not one p-value), or a look's share of alpha under `--until-decided`. A verdict needs
its accuracy bound and its cost bound both right, each wrong with probability at most level / 2 on
its side, so a pair's verdict errs with probability at most its level, and a report's at most alpha.

Pure functions of their inputs; nothing reads or writes files.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import numpy.typing as npt
import pandas as pd

from bench.config import VerdictSettings
from bench.stats.comparisons import CHECKPOINTS, AccuracyComparison
from bench.stats.cost import (
    CostComparison,
    Replicates,
    as_replicates,
    compare_cost,
    cost_position,
    mean_variance,
)
from bench.stats.fieller import RatioInterval, fieller
from bench.stats.intervals import StatsError
from bench.stats.paired import compare_accuracy
from bench.stats.sizing import Needed, needed

WORTH_IT = "worth it"
NOT_WORTH_IT = "not worth it"
EQUIVALENT = "equivalent"
INCONCLUSIVE = "inconclusive"
VERDICTS = (WORTH_IT, NOT_WORTH_IT, EQUIVALENT, INCONCLUSIVE)
BREAK_EVEN_CONFIDENCE = 0.95  # the break-even price is described, not decided on


def rule(
    low: npt.ArrayLike,
    high: npt.ArrayLike,
    costlier: npt.ArrayLike,
    cost_equal: npt.ArrayLike,
    margin: float,
) -> npt.NDArray[np.str_]:
    """The verdict from B - A's accuracy interval [low, high] (fractions), whether B is shown costlier
    and whether the costs are shown equal, at a `margin` (a fraction: 0.01 is one point). Broadcasts."""
    if not margin >= 0:
        raise StatsError(f"the margin must be zero or more, got {margin}")
    lo, hi = np.asarray(low, dtype=float), np.asarray(high, dtype=float)
    dearer, equal = np.asarray(costlier, dtype=bool), np.asarray(cost_equal, dtype=bool)
    worth = (lo > margin) | ((lo > 0) & equal)
    not_worth = (hi < 0) | ((hi < margin) & dearer)
    same = (lo > -margin) & (hi < margin) & equal
    return np.where(
        worth, WORTH_IT, np.where(not_worth, NOT_WORTH_IT, np.where(same, EQUIVALENT, INCONCLUSIVE))
    )


def cost_decides(low: float, high: float, margin: float, costlier: bool, cost_equal: bool) -> bool:
    """Whether a cost fact not shown yet would decide a pair the rule leaves inconclusive: the costs
    shown equal (worth it where low > 0; equivalent within the margin), or B shown costlier (not worth
    it where high < margin). Then cost repeats, not more accuracy data, are what it needs."""
    equal_would = not cost_equal and (low > 0 or (low > -margin and high < margin))
    costlier_would = not costlier and high < margin
    return equal_would or costlier_would


def reason_of(verdict: str, low: float, high: float, margin: float) -> str:
    """Which clause of the rule decided, for the sentence."""
    if verdict == WORTH_IT:
        return "above the margin" if low > margin else "better at an equal cost"
    if verdict == NOT_WORTH_IT:
        return "less accurate" if high < 0 else "below the margin at a higher cost"
    return ""


@dataclass(frozen=True)
class Judged:
    """One pair judged: A the cheaper model by mean cost, B the costlier; every interval at `level`.
    margin is in points; accuracy's numbers are fractions (0.012 is 1.2 points)."""

    model_a: str
    model_b: str
    accuracy: AccuracyComparison
    cost: CostComparison
    level: float
    margin: float
    cost_margin: float
    costlier: bool  # B shown costlier
    cost_equal: bool  # the costs shown within cost_margin
    verdict: str
    reason: str
    break_even: RatioInterval | None  # B's extra cost per point of accuracy; None where B costs no more
    needed: Needed  # what would decide an inconclusive pair with 80% power at the spread observed
    exact: bool  # the cost is a count (parameters, FLOPs), not a measurement
    seed_noise: float  # points: the seed sd assumed for a side with one seed (NaN: none assumed)

    @property
    def key(self) -> tuple[str, str]:
        return (self.model_a, self.model_b)


def break_even(
    costs_a: Replicates,
    costs_b: Replicates,
    comp: AccuracyComparison,
    exact: bool,
    noise: float | None,
    confidence: float = BREAK_EVEN_CONFIDENCE,
) -> RatioInterval | None:
    """B's extra cost per point of accuracy, (mean_b - mean_a) / (100 diff), and its Fieller interval;
    None where B costs no more than A. The two estimates come from other data (costs, test items), so
    they are taken as independent; df is the smaller of the two."""
    extra = costs_b.mean - costs_a.mean
    if not extra > 0:
        return None
    var_a, df_a = mean_variance(costs_a, exact, noise)
    var_b, df_b = mean_variance(costs_b, exact, noise)
    if not (math.isfinite(var_a) and math.isfinite(var_b)):
        return None
    df = min(df_a, df_b, comp.df if comp.df > 0 else math.inf)
    points, se = 100.0 * comp.diff, 100.0 * comp.se
    return fieller(extra, var_a + var_b, points, se * se, 0.0, confidence, df)


def judge_pair(
    first: str,
    second: str,
    correct_first: npt.ArrayLike,
    correct_second: npt.ArrayLike,
    costs_first: Replicates | npt.ArrayLike,
    costs_second: Replicates | npt.ArrayLike,
    level: float,
    settings: VerdictSettings,
    exact: bool = False,
    with_mde: bool = True,
) -> Judged:
    """The verdict on one pair: its models ordered by mean cost (a tie keeps the given order), B - A's
    accuracy compared on their aligned test items (`correct_*`: (seeds, items) 0/1) and their costs
    compared on their replicates, every interval at `level` (two-sided error), then `rule`."""
    ca, cb = as_replicates(costs_first, first), as_replicates(costs_second, second)
    swap = cb.mean < ca.mean
    a, b = (second, first) if swap else (first, second)
    right_a, right_b = (correct_second, correct_first) if swap else (correct_first, correct_second)
    costs_a, costs_b = (cb, ca) if swap else (ca, cb)
    seed_sd = settings.seed_noise / 100.0
    comp = compare_accuracy(
        right_a, right_b, level, seed_sd=seed_sd, checkpoints=settings.checkpoints, with_mde=with_mde
    )
    cc = compare_cost(costs_a, costs_b, exact=exact, confidence=1.0 - level, noise=settings.cost_noise)
    costlier, equal = cost_position(cc, settings.cost_margin)
    delta = settings.margin / 100.0
    verdict = str(rule(comp.ci_low, comp.ci_high, costlier, equal, delta))
    sizing = (
        needed(comp.spread, comp.diff, costlier, equal, delta, level) if verdict == INCONCLUSIVE else Needed()
    )
    assumed = comp.scope != CHECKPOINTS and (comp.spread.assumed_a or comp.spread.assumed_b)
    return Judged(
        model_a=a,
        model_b=b,
        accuracy=comp,
        cost=cc,
        level=level,
        margin=settings.margin,
        cost_margin=settings.cost_margin,
        costlier=costlier,
        cost_equal=equal,
        verdict=verdict,
        reason=reason_of(verdict, comp.ci_low, comp.ci_high, delta),
        break_even=break_even(costs_a, costs_b, comp, exact, settings.cost_noise),
        needed=sizing,
        exact=exact,
        seed_noise=settings.seed_noise if assumed else math.nan,
    )


def family_level(alpha: float, pairs: int) -> float:
    """Each pair's level in a family of `pairs` pairs judged together (Bonferroni)."""
    return alpha / max(pairs, 1)


def judge_all(
    models: Sequence[str],
    correct: Mapping[tuple[str, str], tuple[npt.ArrayLike, npt.ArrayLike]],
    costs: Mapping[str, Replicates | npt.ArrayLike],
    settings: VerdictSettings,
    exact: bool = False,
) -> list[Judged]:
    """Every pair of `models` judged at alpha / m, m the number of pairs. `correct[(x, y)]` holds x's
    and y's (seeds, items) correctness on their shared items, each unordered pair once in `models`
    order; `costs[m]` each model's cost replicates on one axis."""
    names = [str(m) for m in models]
    if len(set(names)) != len(names):
        raise StatsError(f"models has duplicates: {names}")
    absent = [m for m in names if m not in costs]
    if absent:
        raise StatsError(f"costs lacks the models {absent}")
    keys = list(combinations(names, 2))
    missing = [k for k in keys if k not in correct]
    if missing:  # without a comparison there is no evidence either way, and m would be wrong
        raise StatsError(f"correct lacks the pairs {missing}")
    level = family_level(settings.alpha, len(keys))
    return [judge_pair(x, y, *correct[(x, y)], costs[x], costs[y], level, settings, exact) for x, y in keys]


def verdict_front(models: Sequence[str], judged: pd.DataFrame) -> pd.DataFrame:
    """The models worth their cost: those no other model dominates, from the pairs' verdicts.

    In a pair (A cheaper, B costlier), A dominates B when B is "not worth it"; B dominates A when B is
    "worth it" at a cost shown equal to A's (better, for no more). "Worth it" for more (a real
    trade-off), "equivalent" and "inconclusive" keep both. `judged` has model_a, model_b, verdict and
    cost_equal columns (the pair rows). Returns model, on_front, dominated_by (comma-separated)."""
    names = [str(m) for m in models]
    pos = {m: i for i, m in enumerate(names)}
    missing_cols = [c for c in ("model_a", "model_b", "verdict", "cost_equal") if c not in judged]
    if missing_cols:
        raise StatsError(f"the pairs lack the columns {missing_cols}")
    dom = np.zeros((len(names), len(names)), dtype=bool)  # dom[i, j]: i dominates j
    for a, b, verdict, equal in zip(
        judged["model_a"], judged["model_b"], judged["verdict"], judged["cost_equal"]
    ):
        if a not in pos or b not in pos:
            raise StatsError(f"the pairs have ({a!r}, {b!r}), not a pair of {names}")
        if verdict == NOT_WORTH_IT:
            dom[pos[a], pos[b]] = True
        elif verdict == WORTH_IT and bool(equal):
            dom[pos[b], pos[a]] = True
    return pd.DataFrame(
        {
            "model": names,
            "on_front": ~dom.any(axis=0),
            "dominated_by": [
                ",".join(names[i] for i in np.flatnonzero(dom[:, j])) for j in range(len(names))
            ],
        },
        columns=["model", "on_front", "dominated_by"],
    )
