"""One registry type for every extension point (models, datasets, cost trackers, cost axes, accuracy
comparisons, report formats), with aliases, did-you-mean errors and plugin loading.

An extension is one file with one decorator. It is found in three places, in this order:
- `bench`'s own folder for its kind (`bench/datasets/`, `bench/costs/track_*.py`...);
- the plugin folders: `bench --plugins DIR` or `BENCH_PLUGINS` (folders separated by `:`), whose
  `*.py` files are imported as they are (a file may register extensions of several kinds);
- installed packages, through the entry-point group of its kind (`bench.models`, `bench.datasets`,
  `bench.trackers`, `bench.axes`, `bench.comparisons`, `bench.formats`), as pytest's `pytest11`.
A plugin that fails to import, or registers a name already taken, stops the command with one line
that names it (exit 2); the built-in extensions are registered first and cannot be replaced.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import importlib.util
import os
import pkgutil
import sys
from collections.abc import Callable, Iterable, Iterator
from importlib.metadata import entry_points
from pathlib import Path
from typing import Generic, TypeVar

from bench.errors import BenchError, one_line

T = TypeVar("T")

PLUGINS_ENV = "BENCH_PLUGINS"  # plugin folders for processes a command starts (workers, repeats)
_IMPORTED: set[tuple[str, str]] = set()
_FOLDERS: list[Path] = []
_FOLDERS_LOADED: set[Path] = set()


def import_modules(package: str, prefix: str = "") -> None:
    """Import every module of `package` whose name starts with `prefix` (none starting with "_"):
    importing runs their registering decorators, so an extension is its own file and nothing else.
    The folder is read once per process: callers on hot paths (each epoch's trackers, each pair's
    bound) find their registry already filled."""
    if (package, prefix) in _IMPORTED:
        return
    _IMPORTED.add((package, prefix))
    for info in pkgutil.iter_modules(importlib.import_module(package).__path__):
        if info.name.startswith(prefix) and not info.name.startswith("_"):
            importlib.import_module(f"{package}.{info.name}")


def use_plugin_folders(folders: Iterable[str | Path]) -> list[Path]:
    """Add plugin folders for this process and the processes it starts (through PLUGINS_ENV); each is
    read when a registry is first needed. Returns every plugin folder in use."""
    for folder in folders:
        path = Path(folder).expanduser().resolve()
        if not path.is_dir():
            raise BenchError(f"Plugin folder {folder} is not a folder.")
        if path not in _FOLDERS:
            _FOLDERS.append(path)
    if _FOLDERS:
        os.environ[PLUGINS_ENV] = os.pathsep.join(str(p) for p in _FOLDERS)
    return list(_FOLDERS)


def plugin_folders_from_env() -> list[Path]:
    """The plugin folders a parent process handed down (PLUGINS_ENV); for a process's own start-up."""
    return use_plugin_folders(p for p in os.environ.get(PLUGINS_ENV, "").split(os.pathsep) if p)


def plugin_folders() -> list[Path]:
    return list(_FOLDERS)


def _load_folders() -> None:
    """Import every plugin folder's `*.py` files (none starting with "_"), once per process."""
    for folder in _FOLDERS:
        if folder in _FOLDERS_LOADED:
            continue
        _FOLDERS_LOADED.add(folder)
        for file in sorted(folder.glob("*.py")):
            if not file.name.startswith("_"):
                name = f"bench_plugin_{abs(hash(str(folder))) % 10**8}_{file.stem}"
                _import_plugin(f"{file}", functools.partial(_import_file, name, file))


def _import_file(name: str, file: Path) -> None:
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise ImportError(f"{file} is not a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise


def _import_plugin(name: str, load: Callable[[], object]) -> None:
    try:
        load()
    except BenchError as exc:
        raise BenchError(f"Plugin {name}: {exc}") from None
    except Exception as exc:  # anything a broken plugin raises is the plugin's, not ours
        raise BenchError(f"Plugin {name} failed to load: {one_line(exc)}") from None


def _load_entry_points(group: str) -> None:
    for ep in entry_points(group=group):
        _import_plugin(f"{ep.name!r} ({ep.value}, entry point {group})", ep.load)


def _origin(obj: object) -> str:
    """Where an object was defined, for an error that names both sides of a clash."""
    module = getattr(obj, "__module__", None) or type(obj).__module__
    return f"{module}.{getattr(obj, '__qualname__', '')}".rstrip(".")


class Registry(Generic[T]):
    """Maps names (and aliases) to registered objects of one kind.

    `package` and `prefix` name the built-in modules that register into it, and `group` the
    entry-point group of installed plugins; `load()` imports them all once, with the plugin folders.
    An entry registered with an `argument` (its metavar, e.g. "PATH") is parametric: it serves
    every name `entry:ARGUMENT` (`hf:/models/roberta-base`), and `split` hands the argument back.
    """

    def __init__(
        self,
        kind: str,
        base: type | None = None,
        *,
        package: str | None = None,
        prefix: str = "",
        group: str | None = None,
    ) -> None:
        self.kind = kind
        self.base = base
        self.package, self.prefix, self.group = package, prefix, group
        self._entries: dict[str, T] = {}
        self._aliases: dict[str, str] = {}
        self._arguments: dict[str, str] = {}  # parametric entry -> the metavar of its argument
        self._origins: dict[str, str] = {}
        self._loaded = self._builtins_loaded = False

    def load_builtins(self) -> None:
        """Import the built-in modules first, so that no plugin can take a built-in name."""
        if not self._builtins_loaded:
            self._builtins_loaded = True
            if self.package is not None:
                import_modules(self.package, self.prefix)

    def load(self) -> Registry[T]:
        """The registry with its built-in modules, the plugin folders and its entry points imported
        (once per process)."""
        if not self._loaded:
            self._loaded = True
            self.load_builtins()
            _load_folders()
            if self.group is not None:
                _load_entry_points(self.group)
        return self

    def register(
        self, name: str, *aliases: str, argument: str | None = None, origin: str | None = None
    ) -> Callable[[T], T]:
        """Decorator: `@MODELS.register("bert")` on a class (or function) registers it under `name`;
        `@MODELS.register("hf", argument="PATH")` registers one that serves every `hf:PATH`.
        `origin` names where it comes from, for the error when a name is taken twice."""

        def decorate(obj: T) -> T:
            self.load_builtins()
            if self.base is not None and not (isinstance(obj, type) and issubclass(obj, self.base)):
                bases = self.base if isinstance(self.base, tuple) else (self.base,)
                raise TypeError(
                    f"{self.kind} {name!r} must subclass {' or '.join(b.__name__ for b in bases)}"
                )
            where = origin or _origin(obj)
            for key in (name, *aliases):
                if key in self._entries or key in self._aliases:
                    first = self._origins[self._aliases.get(key, key)]
                    raise BenchError(
                        f"The {self.kind} name {key!r} is taken twice: by {first} and by {where}."
                    )
                if ":" in key:
                    raise BenchError(f"The {self.kind} name {key!r} ({where}) must not contain ':'.")
            self._entries[name] = obj
            self._origins[name] = where
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
        self.load()
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

    def origin(self, entry: str) -> str:
        """Where a registered entry was defined (a module of `bench`, a plugin folder's file, or an
        installed plugin's module)."""
        return self._origins[self._aliases.get(entry, entry)]

    def so_far(self) -> dict[str, T]:
        """The entries registered so far, loading nothing: for checks made while registering."""
        return dict(self._entries)

    def names(self) -> list[str]:
        self.load()
        return sorted(self._entries)

    def registered(self) -> list[T]:
        """The registered objects in the order they were registered."""
        self.load()
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
