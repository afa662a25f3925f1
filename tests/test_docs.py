"""The documentation site builds with MkDocs and the Material theme, strictly: a page in the nav that
is missing, a broken link or a broken anchor fails it (as `tox -e docs` does)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_docs_site_builds_strictly(tmp_path: Path) -> None:
    site = tmp_path / "site"
    config = ROOT / "mkdocs.yml"
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config), "-d", str(site)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    pages = [p.stem for p in (ROOT / "docs").glob("*.md")]
    assert pages and all((site / ("" if p == "index" else p) / "index.html").is_file() for p in pages)
