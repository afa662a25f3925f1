"""One small registry for models and datasets, with aliases and did-you-mean errors."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from bench.errors import BenchError

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names (and aliases) to registered objects of one kind."""

    def __init__(self, kind: str, base: type | tuple[type, ...] | None = None) -> None:
        self.kind = kind
        self.base = base
        self._entries: dict[str, T] = {}
        self._aliases: dict[str, str] = {}

    def register(self, name: str, *aliases: str) -> Callable[[T], T]:
        """Decorator: `@MODELS.register("bert")` on a class (or function) registers it under `name`."""

        def decorate(obj: T) -> T:
            if self.base is not None and not (isinstance(obj, type) and issubclass(obj, self.base)):
                bases = self.base if isinstance(self.base, tuple) else (self.base,)
                raise TypeError(
                    f"{self.kind} {name!r} must subclass {' or '.join(b.__name__ for b in bases)}"
                )
            for key in (name, *aliases):
                if key in self._entries or key in self._aliases:
                    raise ValueError(f"{self.kind} name {key!r} is registered twice")
            self._entries[name] = obj
            for alias in aliases:
                self._aliases[alias] = name
            return obj

        return decorate

    def canonical(self, name: str) -> str:
        """The registered name for `name` or one of its aliases; a BenchError with suggestions if unknown."""
        if name in self._entries:
            return name
        if name in self._aliases:
            return self._aliases[name]
        known = [*self._entries, *self._aliases]
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise BenchError(f"Unknown {self.kind} {name!r}.{hint} Known: {', '.join(sorted(self._entries))}.")

    def get(self, name: str) -> T:
        return self._entries[self.canonical(name)]

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __contains__(self, name: object) -> bool:
        return name in self._entries or name in self._aliases
