"""Error control when pairs are looked at again and again, for as long as the budget lasts: alpha spent
by the fraction of the budget used.

`bench run --until-decided` judges every undecided pair at each look, then buys more test items,
seeds or cost repeats and looks again. Judging every look at the full alpha would let noise decide
(the naive repeated test). Instead the information fraction of a look is the share of the time the
plan allows that has been spent,

    t = (suite seconds + seconds spent deciding) / (suite seconds + budget),

so the suite's own runs are the first look's information, and the overall alpha is spent along t
with the Hwang-Shih-DeCani spending function (Hwang, Shih and DeCani 1990)

    alpha(t) = alpha (1 - exp(-gamma t)) / (1 - exp(-gamma)),

gamma < 0 keeping most of alpha for the end, when the pairs that are left have the most data (gamma
-4 is close to O'Brien-Fleming's shape, 1 to Pocock's). Look k is judged at its increment
alpha(t_k) - alpha(t_(k-1)), split evenly over the pairs still undecided there (Bonferroni), and
across looks the increments are combined by the union bound (they sum to alpha(t_last) <= alpha).
That holds whatever the dependence between looks, so whatever the levers did: a look may add
training runs (a second, small-sample component of the variance) as well as items. The looks are
not planned in number: there is one after every round of levers, and a last one at t = 1 when the
budget or the levers run out, which spends what is left. Simulated with equal models, stopping at
the first decided look keeps the error under alpha (tests/test_decide_truth.py).

Pure functions; nothing reads or writes files.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bench.stats.intervals import StatsError, check_level

GAMMA = -2.0  # the spending function's shape (chosen by simulation: tests/test_decide_truth.py)
SPENDING = "Hwang-Shih-DeCani alpha spending over the budget used (gamma {gamma:g}), union bound across looks"


def spent(t: float, alpha: float, gamma: float = GAMMA) -> float:
    """alpha(t): the alpha spent by information fraction t in [0, 1]."""
    check_level(alpha, "alpha")
    if not 0.0 <= t <= 1.0:
        raise StatsError(f"an information fraction must be in [0, 1], not {t}")
    if gamma == 0:
        return alpha * t
    return alpha * (1.0 - math.exp(-gamma * t)) / (1.0 - math.exp(-gamma))


@dataclass(frozen=True)
class BudgetPlan:
    """`alpha` spent along the budget: the suite's own runs took `suite_s` seconds, deciding may take
    `budget_s` more."""

    alpha: float = 0.05
    budget_s: float = 1800.0
    suite_s: float = 0.0
    gamma: float = GAMMA

    def __post_init__(self) -> None:
        check_level(self.alpha, "alpha")
        if not math.isfinite(self.gamma):
            raise StatsError(f"the spending function's gamma must be a number, not {self.gamma}")
        seconds = (self.budget_s, self.suite_s)
        if not all(math.isfinite(s) and s >= 0 for s in seconds) or sum(seconds) <= 0:
            raise StatsError("a plan needs a positive total of suite and budget seconds")

    @property
    def spending(self) -> str:
        return SPENDING.format(gamma=self.gamma)

    def fraction(self, spent_s: float) -> float:
        """The information fraction after `spent_s` seconds of deciding."""
        return min(1.0, (self.suite_s + max(spent_s, 0.0)) / (self.suite_s + self.budget_s))

    def increment(self, t_before: float, t_now: float) -> float:
        """The alpha a look at t_now may spend, the last look having been at t_before."""
        if t_now < t_before:
            raise StatsError(f"a look at t = {t_now} comes after one at t = {t_before}")
        return spent(t_now, self.alpha, self.gamma) - spent(t_before, self.alpha, self.gamma)

    def left(self, t: float, pairs: int) -> float:
        """One pair's share of the alpha not spent by t: the level a last look there would judge at."""
        return (self.alpha - spent(t, self.alpha, self.gamma)) / max(pairs, 1)

    def level(self, t_before: float, t_now: float, pairs: int) -> float:
        """One pair's two-sided level at a look at t_now, its increment split over `pairs` pairs."""
        return self.increment(t_before, t_now) / max(pairs, 1)
