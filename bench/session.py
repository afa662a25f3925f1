"""A `bench run` session: a suite's runs in order, or an interrupted results folder resumed."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path
from typing import Any

from bench.config import RunConfig
from bench.errors import BenchError, one_line
from bench.lock import folder_lock
from bench.results import ENV_FILE, RESULTS_FILE
from bench.runner import Runner


def default_out(suite: str, root: Path = Path("reports")) -> Path:
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return root / f"{suite}-{stamp}"


def with_repeats(runs: list[RunConfig], repeats: int) -> list[RunConfig]:
    """Each run with seeds seed, seed+1, ..., seed+repeats-1 (model by model)."""
    if repeats < 1:
        raise BenchError(f"--repeats must be at least 1, not {repeats}.")
    return [dataclasses.replace(r, seed=r.seed + k) for r in runs for k in range(repeats)]


def run_suite(runs: list[RunConfig], runner: Runner) -> list[dict[str, Any]]:
    """Check every run, then train them in order; a failing model does not stop the others."""
    refuse_existing(runner.out)
    runner.check(runs)
    with folder_lock(runner.out, runner.main):
        refuse_existing(runner.out)  # again, under the lock: a run that held it may have finished
        runner.write_env({"runs": [dataclasses.asdict(r) for r in runs]}, runs[0].device)
        return [runner.run(run) for run in runs]


def refuse_existing(out: Path) -> None:
    if (out / RESULTS_FILE).exists():
        raise BenchError(f"{out} already holds results; continue it with --resume {out}.")


def resume_suite(runner: Runner) -> list[dict[str, Any]]:
    """Continue an interrupted folder: finished runs are kept, the others run (from checkpoints)."""
    env = runner.out / ENV_FILE
    if not env.is_file():
        raise BenchError(f"{runner.out} is not a bench run folder (no {ENV_FILE}); nothing to resume.")
    try:
        runs = [RunConfig(**r) for r in json.loads(env.read_text(encoding="utf-8"))["runs"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise BenchError(f"{env} cannot be read back ({one_line(exc)}); start a new run.") from None
    runner.check(runs)
    with folder_lock(runner.out, runner.main):
        runner.load_existing()
        finished = {r["run_id"]: r for r in runner.results if r.get("status") == "ok"}
        rows = []
        for run in runs:
            run_id = f"{run.model}-s{run.seed}"
            if run_id in finished:
                runner.log(f"{run_id}: finished before, kept.")
                rows.append(finished[run_id])
            else:
                rows.append(runner.run(run))
        return rows
