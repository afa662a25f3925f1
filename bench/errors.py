"""The one exception type for errors a user can cause; the CLI prints it as one line, exit code 2."""

from __future__ import annotations


class BenchError(Exception):
    """A mistake in the user's input or environment, with a message that says what to do."""


def one_line(exc: BaseException) -> str:
    """An exception as one line for a results row or a message: its type and its words, 500 at most."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}"[:500]
