"""The one exception type for errors a user can cause; the CLI prints it as one line, exit code 2."""

from __future__ import annotations


class BenchError(Exception):
    """A mistake in the user's input or environment, with a message that says what to do."""
