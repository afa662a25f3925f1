"""Warnings the user must see (a checkpoint not written, a tracker that stopped), each said once."""

from __future__ import annotations

import logging
import threading

log = logging.getLogger("bench")

_said: set[str] = set()
_lock = threading.Lock()  # trackers warn from their sampling thread


def warn_once(message: str) -> None:
    """Log `message` at warning level the first time only: an epoch loop or a sampler repeats it.

    Without logging set up, Python prints warnings to stderr by themselves, as plain lines.
    """
    with _lock:
        if message in _said:
            return
        _said.add(message)
    log.warning(message)
