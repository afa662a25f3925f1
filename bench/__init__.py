"""bench: measure the accuracy-cost trade-offs of text classifiers.

`bench.run(...)` trains a suite's models and returns their results rows; `bench.report(...)` compares
results folders (both in bench/api.py); `bench.use_plugins(DIR)` adds a folder of plugin files, as
`bench --plugins DIR` does.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    """`bench.run` and `bench.report` (bench/api.py), imported on first use: `import bench` and
    `bench --help` stay fast, without torch."""
    if name in ("run", "report"):
        from bench import api

        return getattr(api, name)
    if name == "use_plugins":
        from bench.registry import use_plugin_folders

        return lambda *folders: use_plugin_folders(folders)
    raise AttributeError(f"module 'bench' has no attribute {name!r}")
