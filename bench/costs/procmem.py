"""Resident memory of this process and its descendants (DataLoader workers), through psutil."""

from __future__ import annotations

import contextlib
import time

import psutil


class TreeRss:
    """Call it for the RSS of this process plus all its descendants, in bytes.

    Forked children share copy-on-write pages with the parent, which the sum counts twice: an
    upper bound, which is what matters for "will it fit". psutil finds children by reading every
    process's stat file (milliseconds), so the list of children is refreshed at most every
    `refresh_s`; their memory is read at every call.
    """

    def __init__(self, refresh_s: float = 1.0) -> None:
        self.refresh_s = refresh_s
        self._me = psutil.Process()
        self._children: list[psutil.Process] = []
        self._found_at = float("-inf")

    def __call__(self) -> int:
        now = time.monotonic()
        if now - self._found_at >= self.refresh_s:
            with contextlib.suppress(psutil.Error):
                self._children = self._me.children(recursive=True)
            self._found_at = now
        total = self._me.memory_info().rss
        for child in self._children:
            with contextlib.suppress(psutil.Error):  # it ended, or is not ours to read
                total += child.memory_info().rss
        return total
