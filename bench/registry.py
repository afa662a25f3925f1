"""One small registry for models and datasets, with aliases and did-you-mean errors."""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from bench.errors import BenchError

T = TypeVar("T")


_IMPORTED: set[tuple[str, str]] = set()


def import_modules(package: str, prefix: str = "") -> None:
    """Import every module of `package` whose name starts with `prefix` (none starting with "_"):
    importing runs their registering decorators, so an extension is its own file and nothing else.
    The folder is read once per process: callers on hot paths (each epoch's trackers, each pair's
    bound) find their registry already filled."""
    if (package, prefix) in _IMPORTED:
        return
    for info in pkgutil.iter_modules(importlib.import_module(package).__path__):
        if info.name.startswith(prefix) and not info.name.startswith("_"):
            importlib.import_module(f"{package}.{info.name}")
    _IMPORTED.add((package, prefix))


class Registry(Generic[T]):
    """Maps names (and aliases) to registered objects of one kind.

    An entry registered with an `argument` (its metavar, e.g. "PATH") is parametric: it serves
    every name `entry:ARGUMENT` (`hf:/models/roberta-base`), and `split` hands the argument back.
    """

    def __init__(self, kind: str, base: type | None = None) -> None:
        self.kind = kind
        self.base = base
        self._entries: dict[str, T] = {}
        self._aliases: dict[str, str] = {}
        self._arguments: dict[str, str] = {}  # parametric entry -> the metavar of its argument

    def register(self, name: str, *aliases: str, argument: str | None = None) -> Callable[[T], T]:
        """Decorator: `@MODELS.register("bert")` on a class (or function) registers it under `name`;
        `@MODELS.register("hf", argument="PATH")` registers one that serves every `hf:PATH`."""

        def decorate(obj: T) -> T:
            if self.base is not None and not (isinstance(obj, type) and issubclass(obj, self.base)):
                bases = self.base if isinstance(self.base, tuple) else (self.base,)
                raise TypeError(
                    f"{self.kind} {name!r} must subclass {' or '.join(b.__name__ for b in bases)}"
                )
            for key in (name, *aliases):
                if key in self._entries or key in self._aliases:
                    raise ValueError(f"{self.kind} name {key!r} is registered twice")
                if ":" in key:
                    raise ValueError(f"{self.kind} name {key!r} must not contain ':'")
            self._entries[name] = obj
            for alias in aliases:
                self._aliases[alias] = name
            if argument is not None:
                self._arguments[name] = argument
            return obj

        return decorate

    def split(self, name: str) -> tuple[str, str | None]:
        """(registered name, argument) of `name`: ("bert_bilstm", None) for `bilstm`, ("hf", "/m/x")
        for `hf:/m/x`. A BenchError with suggestions if unknown, or if the argument is missing or
        not expected."""
        if name in self._entries or name in self._aliases:
            entry = self._aliases.get(name, name)
            if entry in self._arguments:
                raise BenchError(f"{self.kind.capitalize()} {name!r} needs an argument: {self.usage(entry)}.")
            return entry, None
        scheme, colon, argument = name.partition(":")
        if colon and (scheme in self._entries or scheme in self._aliases):
            entry = self._aliases.get(scheme, scheme)
            if entry not in self._arguments:
                raise BenchError(f"{self.kind.capitalize()} {entry!r} takes no argument (':{argument}').")
            if not argument.strip():
                raise BenchError(f"{self.kind.capitalize()} {name!r} needs an argument: {self.usage(entry)}.")
            return entry, argument
        plain = [key for key in (*self._entries, *self._aliases) if key not in self._arguments]
        close = difflib.get_close_matches(name, plain, n=1)
        if not close and colon:
            schemes = [key for key in self._arguments]
            matches = difflib.get_close_matches(scheme, schemes, n=1, cutoff=0.5)  # short names: hg, hf
            close = [f"{s}:{argument}" for s in matches]
        hint = f" Did you mean {close[0]!r}?" if close else ""
        known = ", ".join(self.usage(entry) for entry in self.names())
        raise BenchError(f"Unknown {self.kind} {name!r}.{hint} Known: {known}.")

    def canonical(self, name: str) -> str:
        """The registered name for `name`, one of its aliases or `entry:ARGUMENT`; a BenchError with
        suggestions if unknown."""
        return self.split(name)[0]

    def get(self, name: str) -> T:
        return self._entries[self.canonical(name)]

    def usage(self, entry: str) -> str:
        """How a registered name is written: `bert`, or `hf:PATH` for a parametric entry."""
        return f"{entry}:{self._arguments[entry]}" if entry in self._arguments else entry

    def takes_argument(self, entry: str) -> bool:
        return entry in self._arguments

    def names(self) -> list[str]:
        return sorted(self._entries)

    def registered(self) -> list[T]:
        """The registered objects in the order they were registered, for a registry whose order
        decides (the first accuracy comparison that applies is the one used)."""
        return list(self._entries.values())

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        try:
            self.split(name)
        except BenchError:
            return False
        return True
