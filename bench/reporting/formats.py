"""The report formats: one registry, one decorator on each renderer; `bench report --format` reads it.

A new format is one function with this decorator in a new module `bench/reporting/render_NAME.py`
(every `render_*` module is imported when the formats are first needed):

    @report_format("json", extension="json")
    def to_json(rep: Report, figures: dict[str, Path], options: RenderOptions) -> str: ...

A format with no extension prints to the terminal: its renderer returns `Printed`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.registry import Registry

RENDERER_PREFIX = "render_"  # bench/reporting/render_*.py: the modules whose renderers register themselves


@dataclass(frozen=True)
class RenderOptions:
    width: int = 80  # the terminal's columns, for a format that prints
    wide: bool = False  # every column of a printed table, however wide the lines


@dataclass(frozen=True)
class Printed:
    """What a terminal format hands back: renderables, and the width to print them at."""

    parts: Sequence[Any]
    width: int


Render = Callable[[Any, dict[str, Path], RenderOptions], "str | Printed"]


@dataclass(frozen=True)
class Format:
    name: str
    render: Render  # (report, {figure name: png}, options) -> the file's text, or what to print
    extension: str | None  # the file's; None: printed to the terminal, plots beside the first folder


FORMATS: Registry[Format] = Registry(
    "report format", package="bench.reporting", prefix=RENDERER_PREFIX, group="bench.formats"
)


def report_format(name: str, extension: str | None = None) -> Callable[[Render], Render]:
    """Decorator: registers a renderer as the format `name`."""

    def decorate(render: Render) -> Render:
        FORMATS.register(name, origin=f"{render.__module__}.{render.__qualname__}")(
            Format(name, render, extension)
        )
        return render

    return decorate


def load_formats() -> Registry[Format]:
    return FORMATS.load()
