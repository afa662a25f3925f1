"""What a test may skip for: here anything missing, under CI=true nothing but a CUDA device.

CI installs the test extra (pyarrow, psycopg, accelerate), has PostgreSQL on PATH and `../shared`
beside its clone, so a skip there would hide a test that should have run.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import NoReturn

import pytest


def on_ci() -> bool:
    return os.environ.get("CI") == "true"


def unavailable(reason: str) -> NoReturn:
    """Skip, or under CI=true fail: CI must run this test."""
    if on_ci():
        pytest.fail(f"CI must run this test: {reason}")
    pytest.skip(reason)


def need_module(name: str, extra: str = "test") -> ModuleType:
    """`pytest.importorskip`, but a failure under CI=true."""
    try:
        return importlib.import_module(name)
    except ImportError:
        unavailable(f"needs {name} (pip install -e '.[{extra}]')")
