"""One daemon thread that samples for a set of trackers, started and stopped with a handshake."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar

from bench.errors import one_line
from bench.notices import warn_once

log = logging.getLogger(__name__)

POLLER_THREAD_NAME = "bench-tracker-poller"  # tests look for leftover threads by this name

OnError = Callable[[Exception], None]


def _warn_stopped(sample: Callable[[], None]) -> OnError:
    name = getattr(sample, "__qualname__", repr(sample))
    return lambda err: warn_once(f"tracker sampler {name} failed and stopped: {one_line(err)}")


class Poller:
    """One daemon thread calling sample functions, each at its own interval, until stopped."""

    def __init__(self) -> None:
        self._samplers: list[tuple[Callable[[], None], float, OnError]] = []
        self._stop = threading.Event()
        self._first_sample = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, sample: Callable[[], None], interval_s: float, on_error: OnError | None = None) -> None:
        """Call `sample` every `interval_s`; if it raises, it is not called again and `on_error` gets
        the exception (without one, a warning says which sampler stopped)."""
        self._samplers.append((sample, interval_s, on_error or _warn_stopped(sample)))

    def start(self) -> None:
        if not self._samplers:
            return  # nothing to poll (CPU, or trackers that read only at the edges)
        self._thread = threading.Thread(target=self._run, name=POLLER_THREAD_NAME, daemon=True)
        self._thread.start()
        # the body must not run before polling has begun, or a short peak goes unseen
        self._first_sample.wait(timeout=5.0)

    def stop(self) -> None:
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join(timeout=30.0)  # a sample is milliseconds; this guards a hung driver
        if self._thread.is_alive():
            log.warning("tracker thread did not stop within 30 s; leaving it as a daemon")
        self._thread = None

    def _run(self) -> None:
        due = [0.0] * len(self._samplers)
        alive = [True] * len(self._samplers)
        try:
            while True:
                for i, (sample, interval_s, on_error) in enumerate(self._samplers):
                    now = time.perf_counter()
                    if not alive[i] or now < due[i]:
                        continue
                    try:
                        sample()
                    except Exception as err:  # a failing query must not kill the other samples
                        alive[i] = False
                        with contextlib.suppress(Exception):
                            on_error(err)
                    due[i] = now + interval_s
                self._first_sample.set()
                pending = [d for d, a in zip(due, alive, strict=True) if a]
                timeout = max(0.0, min(pending) - time.perf_counter()) if pending else None
                if self._stop.wait(timeout):
                    return
        finally:
            self._first_sample.set()  # never leave start() waiting on a dead thread


_Tracker = TypeVar("_Tracker", bound="PolledTracker")


class PolledTracker(ABC):
    """A tracker that registers samplers on a poller: its own, or one shared by CostTracker."""

    def __init__(self) -> None:
        self._poller: Poller | None = None
        # Set by end(): a frozen dataclass whose fields are the columns the tracker registers.
        self.record: Any = None

    @abstractmethod
    def begin(self, poller: Poller) -> None:
        """Take the starting readings and register this tracker's samplers on `poller`."""

    @abstractmethod
    def end(self) -> None:
        """Take the final readings and set `self.record`."""

    def __enter__(self: _Tracker) -> _Tracker:
        self._poller = start_poller([self])
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._poller is not None, "__exit__ without __enter__"
        poller, self._poller = self._poller, None
        stop_poller(poller, [self])


def start_poller(parts: list[PolledTracker]) -> Poller:
    """One poller thread sampling for every part; on failure nothing is left running."""
    poller = Poller()
    begun: list[PolledTracker] = []
    try:
        for part in parts:
            part.begin(poller)
            begun.append(part)
        poller.start()
    except BaseException:
        poller.stop()
        for part in begun:
            with contextlib.suppress(Exception):
                part.end()
        raise
    return poller


def stop_poller(poller: Poller, parts: list[PolledTracker]) -> None:
    """Stop the thread, then let every part take its final readings (also if stopping raised)."""
    try:
        poller.stop()
    finally:
        for part in parts:
            part.end()
