"""Error control when a pair is looked at again and again: a group-sequential alpha-spending plan.

`bench run --until-decided` adds test items or seeds to an inconclusive pair and judges it again.
Judging every look at the full alpha would let noise decide: the chance that one of several looks
excludes a true difference of zero grows with the looks (the naive repeated test). Instead the
overall alpha is spent over a fixed number of planned looks with the Lan-DeMets O'Brien-Fleming-type
spending function

    alpha(t) = 2 - 2 Phi(z_{1 - alpha/2} / sqrt(t)),   t = look / looks,

and look k is judged at its increment alpha_k = alpha(t_k) - alpha(t_{k-1}): little early, when a
pair has few items or seeds, most of it at the last look. Across looks the increments are combined
by the union bound (sum alpha_k = alpha), not by the exact recursive boundaries of a Brownian-motion
statistic. That costs some power but holds whatever the dependence between looks, so it stays valid
when a look adds seeds (which changes the variance's make-up and its degrees of freedom) as well as
when it adds items, and it needs no planned information, which a budget-driven loop cannot know.
Across the pairs of one look the increment is split evenly (Bonferroni), so that each pair's
interval is the one its verdict reads.

Why spending rather than an anytime-valid confidence sequence (Howard et al. 2021): a confidence
sequence is built for a stream of i.i.d. items, while here a look may add training runs, whose
randomness is a second, small-sample component of the variance; and the spending plan lets every
look reuse the same paired comparison as a single report (exact McNemar's table with one seed each,
the t test over items and seeds with several), only at a smaller alpha.

Pure functions of arrays; nothing reads or writes files.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats as sps

from bench.stats.intervals import StatsError, check_level
from bench.stats.paired import _compare_many

WORTH_IT = "worth it"
NOT_WORTH_IT = "not worth it"
INCONCLUSIVE = "inconclusive"

SPENDING = "Lan-DeMets O'Brien-Fleming-type alpha spending over planned looks, union bound across looks"


def obf_spending(t: npt.ArrayLike, alpha: float = 0.05) -> npt.NDArray[np.float64]:
    """The O'Brien-Fleming-type spending function of Lan & DeMets (1983), two-sided:
    alpha(t) = 2 - 2 Phi(z_{1-alpha/2} / sqrt(t)) for information fraction t in (0, 1]; alpha(0) = 0."""
    check_level(alpha, "alpha")
    frac = np.asarray(t, dtype=float)
    if np.any((frac < 0) | (frac > 1)):
        raise StatsError(f"information fractions must be in [0, 1], got {frac.tolist()}")
    z = sps.norm.isf(alpha / 2.0)
    with np.errstate(divide="ignore"):
        spent = 2.0 * sps.norm.sf(z / np.sqrt(frac))
    return np.where(frac > 0, spent, 0.0)


@dataclass(frozen=True)
class SequentialPlan:
    """`alpha` spent over `looks` planned looks (look 1 is the suite's own runs)."""

    alpha: float = 0.05
    looks: int = 5

    def __post_init__(self) -> None:
        check_level(self.alpha, "alpha")
        if self.looks < 1:
            raise StatsError(f"a plan needs at least one look, not {self.looks}")

    def levels(self) -> npt.NDArray[np.float64]:
        """alpha_k for looks 1..looks; they sum to alpha."""
        spent = obf_spending(np.arange(self.looks + 1) / self.looks, self.alpha)
        return np.diff(spent)

    def level(self, look: int, pairs: int = 1) -> float:
        """The two-sided level one pair's interval is taken at in look `look` (1-based), with the
        look's increment split over `pairs` pairs."""
        if not 1 <= look <= self.looks:
            raise StatsError(f"look {look} is outside the plan's {self.looks} looks")
        return float(self.levels()[look - 1]) / max(pairs, 1)


def three_way(
    ci_low: npt.ArrayLike,
    ci_high: npt.ArrayLike,
    b_costlier: npt.ArrayLike,
    margin: float,
) -> npt.NDArray[np.str_]:
    """The verdict on B (the costlier side) against A from B - A's interval at the look's level:
      worth it      the interval lies above 0 (B significantly more accurate);
      not worth it  it lies below 0, or B is costlier and its upper bound is below `margin`
                    (the gain is shown to be smaller than worth paying for: non-superiority);
      inconclusive  otherwise.
    `margin` is a fraction (0.01 is one point); the arguments broadcast."""
    if margin < 0:
        raise StatsError(f"the margin must be non-negative, got {margin}")
    lo, hi = np.asarray(ci_low, dtype=float), np.asarray(ci_high, dtype=float)
    costlier = np.asarray(b_costlier, dtype=bool)
    worse = (hi < 0) | (costlier & (hi < margin))
    return np.where(lo > 0, WORTH_IT, np.where(worse, NOT_WORTH_IT, INCONCLUSIVE))


def batch_intervals(
    correct_a: npt.ArrayLike, correct_b: npt.ArrayLike, alpha: float
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """(diff, ci_low, ci_high) of B - A at two-sided level `alpha` for a batch of experiments:
    `correct_a` is (..., seeds_a, items), `correct_b` (..., seeds_b, items), 0/1 or bool. The same
    paired comparison as `compare_accuracy`, vectorised (for simulations of the plan)."""
    check_level(alpha, "alpha")
    a, b = np.asarray(correct_a), np.asarray(correct_b)
    r = _compare_many(a, b, alpha, 0.8, with_mde=False)
    return r.diff, r.ci_low, r.ci_high
