"""SIGINT and SIGTERM as exceptions, so a run stops cleanly with everything finished on disk.

Raised at once by default. A sweep defers them outside training: raised inside Optuna's own
bookkeeping, they would leave its study half-updated. A deferred signal is raised when training
next begins (`interruptible`), or read at the end with `take_pending`.

Every signal is also kept as pending until it is acted on: an exception raised while Python runs a
finalizer or a weakref callback (SQLAlchemy has some) is printed and dropped, so the training loop
calls `raise_pending` at each step, and the commands read `take_pending` when they finish.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so the same clean-up runs for both."""


class _State:
    defer = False
    pending: KeyboardInterrupt | None = None


def _on_signal(signum: int, frame: FrameType | None) -> None:
    exc = Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()
    _State.pending = _State.pending or exc
    if not _State.defer:
        raise exc


@contextmanager
def signals_as_interrupts(defer: bool = False) -> Iterator[None]:
    previous = {s: signal.signal(s, _on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    _State.defer, _State.pending = defer, None
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        _State.defer = False


@contextmanager
def interruptible() -> Iterator[None]:
    """Inside, signals raise at once; one held back since the last time raises on entry."""
    before, _State.defer = _State.defer, False
    try:
        pending, _State.pending = _State.pending, None
        if pending is not None:
            raise pending
        yield
    finally:
        _State.defer = before


def raise_pending() -> None:
    """Raise a signal that arrived and was not acted on (see the module's note), unless deferred."""
    if _State.pending is not None and not _State.defer:
        pending, _State.pending = _State.pending, None
        raise pending


def take_pending() -> KeyboardInterrupt | None:
    pending, _State.pending = _State.pending, None
    return pending


def exit_code(exc: KeyboardInterrupt) -> int:
    """The shell's convention: 128 + the signal number."""
    return 128 + (signal.SIGTERM if isinstance(exc, Terminated) else signal.SIGINT)
