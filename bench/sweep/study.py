"""`bench sweep`'s own trial bookkeeping in a shared study: which trials must not run, and the counts
the progress line shows. The storage itself is bench.launch.storage."""

from __future__ import annotations

from collections import Counter

import optuna
from optuna.trial import TrialState

from bench.launch.storage import LIVE


def skip_reason(study: optuna.Study, number: int, total: int) -> str | None:
    """Why trial `number` must not run ("surplus" or "duplicate"), or None when it should.

    Workers that finish together each start one more trial, as Optuna's ask is not atomic with any
    count of trials; the storage numbers trials in the order it creates them, so the live trials
    before this one decide. Nor is a grid point run twice while an earlier live trial holds it.
    """
    trials = study.get_trials(deepcopy=False, states=LIVE)
    ahead = [t for t in trials if t.number < number]
    if len(ahead) >= total:
        return "surplus"
    grid_id = next(t for t in trials if t.number == number).system_attrs.get("grid_id")
    if grid_id is not None and any(t.system_attrs.get("grid_id") == grid_id for t in ahead):
        return "duplicate"
    return None


def mark_skipped(trial: optuna.Trial, reason: str) -> None:
    """Tag a trial that will fail unrun, and give its grid point back (a failed grid trial holds it)."""
    trial.set_user_attr("skipped", reason)
    if "grid_id" in trial.storage.get_trial_system_attrs(trial._trial_id):
        # GridSampler ignores trials of another search space, so a later trial gets the point.
        trial.storage.set_trial_system_attr(trial._trial_id, "search_space", {})


def counted(study: optuna.Study) -> tuple[int, int, int, int]:
    """(complete, pruned, failed, running) trials in the whole study, all workers together."""
    n = Counter(t.state for t in study.get_trials(deepcopy=False) if "skipped" not in t.user_attrs)
    return n[TrialState.COMPLETE], n[TrialState.PRUNED], n[TrialState.FAIL], n[TrialState.RUNNING]
