from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TINY_SUITE = ROOT / "tests" / "data" / "tiny.toml"
# The real 2,000-row sample of the paper's data format lives beside the repository, for tests only.
SHARED_KAGGLE = ROOT.parent / "shared" / "data" / "kaggle-imdb-3class" / "reviews.tsv"


@pytest.fixture
def tiny_suite() -> Path:
    return TINY_SUITE


@pytest.fixture
def shared_kaggle() -> Path:
    if not SHARED_KAGGLE.is_file():
        pytest.skip(f"needs the shared Kaggle sample at {SHARED_KAGGLE}")
    return SHARED_KAGGLE
