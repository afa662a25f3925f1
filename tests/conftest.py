from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.configuration import set_hypothesis_home_dir

from tests.ci import unavailable
from tests.fuzzing import tally_file, write_tally

ROOT = Path(__file__).resolve().parents[1]

# The fuzz tests' profiles (tests/test_fuzz_*.py): seeded, so every run tries the same inputs, and
# with no example database in the checkout. `ci` keeps the suite fast; `long` (tox -e fuzz) runs on
# demand. Each test sets its own number of examples per profile (tests.fuzzing.examples).
_FUZZ = {
    "derandomize": True,
    "database": None,
    "deadline": None,
    "print_blob": False,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
}
# Hypothesis keeps what it learns of the code under a folder of its own: outside the checkout.
set_hypothesis_home_dir(str(Path(tempfile.gettempdir()) / "bench-hypothesis"))
settings.register_profile("ci", max_examples=25, **_FUZZ)
settings.register_profile("long", max_examples=1000, **_FUZZ)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
TINY_SUITE = ROOT / "tests" / "data" / "tiny.toml"
# The real 2,000-row sample of the paper's data format lives beside the repository, for tests only.
SHARED_KAGGLE = ROOT.parent / "shared" / "data" / "kaggle-imdb-3class" / "reviews.tsv"


@pytest.fixture
def tiny_suite() -> Path:
    return TINY_SUITE


@pytest.fixture
def shared_kaggle() -> Path:
    if not SHARED_KAGGLE.is_file():
        unavailable(f"needs the shared Kaggle sample at {SHARED_KAGGLE}")
    return SHARED_KAGGLE


@pytest.fixture(scope="session", autouse=True)
def _out_of_the_checkout(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Module and session fixtures, set up before any test's own folder, run outside the checkout too."""
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path_factory.mktemp("session-cwd"))
        yield


@pytest.fixture(autouse=True)
def _working_folder_of_its_own(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every test runs in an empty folder of its own, as do the commands it starts: what lands in the
    working folder by default (the tokenization cache `.bench-cache`, `reports/`) never reaches the
    checkout, and nothing carries over from one test to the next."""
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))


# --- the checkout is left as it was found --------------------------------------------------------
# Folders that tools, not tests, write into (pytest-benchmark's storage is made at start-up), and
# the virtualenv, too large to walk.
_BEFORE = pytest.StashKey[set[str]]()
TOOL_FOLDERS = {
    ".git",
    ".venv",
    "venv",
    ".tox",
    "__pycache__",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".benchmarks",
}


def checkout_paths(root: Path = ROOT) -> set[str]:
    """Every file and folder of the checkout, relative, less the tools' own."""
    found: set[str] = set()
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in TOOL_FOLDERS and not d.endswith(".egg-info")]
        base = Path(folder).relative_to(root)
        found.update(str(base / name) for name in (*dirs, *files))
    return found


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[_BEFORE] = checkout_paths()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the session when a test left a file in the checkout, or took one away; write the fuzz
    tests' tally where BENCH_FUZZ_TALLY asks."""
    tally = tally_file()
    if tally is not None:
        write_tally(tally)
    before = session.config.stash.get(_BEFORE, None)
    if before is None:
        return
    after = checkout_paths()
    added, removed = sorted(after - before), sorted(before - after)
    if added or removed:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        message = f"the tests changed the checkout: added {added[:10]}, removed {removed[:10]}"
        if reporter is not None:
            reporter.ensure_newline()
            reporter.write_sep("=", f"ERROR: {message}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist, each worker (and every process it starts) keeps to its own share of the
    cores: torch starts a thread per core it may use, and two workers' threads on the same cores
    spin against each other."""
    worker, count = (
        os.environ.get("PYTEST_XDIST_WORKER"),
        int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")),
    )
    if worker is None or count < 2 or not hasattr(os, "sched_setaffinity"):
        return
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) >= count:
        os.sched_setaffinity(0, cores[int(worker.removeprefix("gw")) % count :: count])
