"""What `--until-decided` is asked for (`DecideSettings`) and the plan it keeps in the folder (decide.json):
the budget, alpha's spending along it, and the verdict settings. The plan of an earlier start stands:
changing alpha, the margin or the budget midway would spend alpha twice."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

from bench import atomic
from bench.config import VerdictSettings
from bench.errors import BenchError, one_line
from bench.readable import MISSING, what_is_there
from bench.results import read_json_object
from bench.stats.sequential import BudgetPlan

PLAN_FILE = "decide.json"


@dataclass(frozen=True)
class DecideSettings:
    budget_s: float = 1800.0  # training and evaluation after the suite's runs
    max_seeds: int = 5  # seeds of one model at most
    max_repeats: int = 5  # cost repeats of one model at most
    verdicts: VerdictSettings = field(default_factory=VerdictSettings)

    def __post_init__(self) -> None:
        if not self.budget_s >= 0:
            raise BenchError(f"--budget must not be negative, not {self.budget_s:g} s.")
        if self.max_seeds < 1:
            raise BenchError(f"--max-seeds must be at least 1, not {self.max_seeds}.")
        if self.max_repeats < 0:
            raise BenchError(f"--max-repeats must be 0 or more, not {self.max_repeats}.")
        self.verdicts.validate()


def parse_budget(text: str) -> float:
    """`30m`, `1h`, `90s`, `1h30m` or plain seconds, as seconds."""
    units = {"h": 3600.0, "m": 60.0, "s": 1.0}
    rest, total = text.strip().lower(), 0.0
    try:
        if rest and rest[-1].isdigit():
            return float(rest)
        number = ""
        for ch in rest:
            if ch in units:
                total += float(number) * units[ch]
                number = ""
            else:
                number += ch
        if number.strip() or not rest:
            raise ValueError
    except ValueError:
        raise BenchError(f"--budget {text!r} is not a duration; write e.g. 30m, 1h or 90s.") from None
    return total


@dataclass(frozen=True)
class Plan:
    """The budget's alpha spending and the verdict settings, as the first start of deciding fixed them."""

    budget: BudgetPlan
    verdicts: VerdictSettings

    def to_json(self) -> str:
        data = {
            "alpha": self.budget.alpha,
            "budget_s": self.budget.budget_s,
            "suite_s": self.budget.suite_s,
            "gamma": self.budget.gamma,
            "spending": self.budget.spending,
            "verdicts": dataclasses.asdict(self.verdicts),
        }
        return json.dumps(data, indent=2) + "\n"


def load_plan(folder: Path, settings: DecideSettings, suite_s: float) -> tuple[Plan, bool]:
    """The folder's plan, written now from `settings` if it has none; and whether it was there."""
    file = folder / PLAN_FILE
    if what_is_there(file) != MISSING:
        saved = read_json_object(file, "remove it to plan afresh")
        try:
            verdicts = VerdictSettings(**saved["verdicts"])
            verdicts.validate()
            numbers = (float(saved[k]) for k in ("alpha", "budget_s", "suite_s", "gamma"))
            budget = BudgetPlan(*numbers)
        except (ValueError, KeyError, TypeError, BenchError) as exc:  # StatsError is a ValueError
            raise BenchError(
                f"{file} is no plan of `bench decide` ({one_line(exc)}); remove it to plan afresh."
            ) from None
        return Plan(budget, verdicts), True
    verdicts = settings.verdicts
    plan = Plan(BudgetPlan(verdicts.alpha, settings.budget_s, suite_s), verdicts)
    atomic.write_text(file, plan.to_json())
    return plan, False
