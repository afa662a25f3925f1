"""Speed benchmarks on this machine's GPU, or its CPU without one. Run with
`pytest benchmarks --benchmark-only`; the default test run (testpaths = tests) leaves them out."""

from __future__ import annotations

import pytest
import torch

from bench.runs.train import pick_device, use_all_cores


@pytest.fixture(scope="session")
def device() -> torch.device:
    use_all_cores()
    return pick_device("auto")
