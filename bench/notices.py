"""Messages said once however often their cause repeats: warnings the user must see (a checkpoint
not written, a tracker that stopped), and debug lines about what a machine does not support."""

from __future__ import annotations

import logging
import threading

log = logging.getLogger("bench")

_said: set[str] = set()
_said_debug: set[tuple[str, str]] = set()
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


def debug_once(logger: logging.Logger, message: str) -> None:
    """Log `message` on `logger` at debug level the first time only."""
    with _lock:
        if (logger.name, message) in _said_debug:
            return
        _said_debug.add((logger.name, message))
    logger.debug(message)
