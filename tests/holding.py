"""`bench` in a child process that stops in training until the test lets it go: a file handshake, so
that a test acts while training is under way, not whenever its polling happens to look.

    python tests/holding.py READY RELEASE SKIP -- run --suite ... (bench's own arguments)

The child runs the bench command line. At the first step of its (SKIP + 1)-th network run it writes
the run's settings (model, seed, max_len) to READY as JSON, then waits in that step until the file
RELEASE exists (or a signal ends it, or two minutes pass). Only the hook is test code: the
command, the runs and their signal handling are bench's own.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

HOLD_LIMIT_S = 120.0  # a test that never releases fails on its own asserts, not on a hung child


def hold_in_training(ready: Path, release: Path, skip: int) -> None:
    from bench.runs import train

    real_step = train.train_step
    runs: list[Any] = []  # each TrainState seen, one per network run (kept: an id could be reused)

    def step(state: Any, batch: Any, share: float) -> Any:
        if not any(seen is state for seen in runs):
            runs.append(state)
        if len(runs) == skip + 1 and not ready.exists():
            settings = {"model": state.run.model, "seed": state.run.seed, "max_len": state.run.max_len}
            partial = ready.with_suffix(".partial")
            partial.write_text(json.dumps(settings))
            os.replace(partial, ready)  # whole, or not there at all
            deadline = time.monotonic() + HOLD_LIMIT_S
            while not release.exists() and time.monotonic() < deadline:
                time.sleep(0.01)  # a signal's exception is raised here, inside training
        return real_step(state, batch, share)

    train.train_step = step  # train_epoch looks it up at each step


def main(argv: list[str]) -> None:
    ready, release, skip, separator, *bench_args = argv
    assert separator == "--", argv
    hold_in_training(Path(ready), Path(release), int(skip))
    from bench.cli import main as bench_main

    bench_main(bench_args, prog_name="bench")


if __name__ == "__main__":
    main(sys.argv[1:])
