"""Statistics: intervals, paired comparisons, cost ratios, budgets, the majority floor and verdicts."""
