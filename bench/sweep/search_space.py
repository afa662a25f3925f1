"""Search spaces of `bench sweep`: the suite's [sweep.NAME] tables and inline --param NAME=SPEC specs."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.trial import Trial

from bench.config import RUN_FIELDS, RunConfig, SuiteConfig, coerce
from bench.errors import BenchError
from bench.modeling import MODELS, load_models, option_types, parse_value

if TYPE_CHECKING:
    from bench.runs.executor import Executor


@dataclass(frozen=True)
class Space:
    """One swept setting: a RunConfig field or a model option, with Optuna's distribution."""

    name: str
    distribution: BaseDistribution
    option: bool  # True: a key of RunConfig.options (e.g. dropout)

    def suggest(self, trial: Trial) -> Any:
        d = self.distribution
        if isinstance(d, IntDistribution):
            return trial.suggest_int(self.name, d.low, d.high, step=d.step, log=d.log)
        if isinstance(d, FloatDistribution):
            return trial.suggest_float(self.name, d.low, d.high, step=d.step, log=d.log)
        assert isinstance(d, CategoricalDistribution)
        return trial.suggest_categorical(self.name, d.choices)

    def values(self) -> list[Any]:
        """Every value of a finite space (for the grid sampler and for checking the extremes)."""
        d = self.distribution
        if isinstance(d, CategoricalDistribution):
            return list(d.choices)
        if isinstance(d, IntDistribution) and not d.log:
            return list(range(d.low, d.high + 1, d.step))
        if isinstance(d, FloatDistribution) and d.step is not None:
            n = round((d.high - d.low) / d.step)
            return [float(f"{d.low + i * d.step:.12g}") for i in range(n + 1)]  # no 0.30000000000000004
        raise BenchError(f"--sampler grid needs a finite space for {self.name!r}: A,B,C or LOW:HIGH:STEP.")

    def extremes(self) -> list[Any]:
        d = self.distribution
        if isinstance(d, CategoricalDistribution):
            return list(d.choices)
        assert isinstance(d, IntDistribution | FloatDistribution)
        return [d.low, d.high]

    def __str__(self) -> str:
        d = self.distribution
        if isinstance(d, CategoricalDistribution):
            return f"{self.name} in {list(d.choices)}"
        assert isinstance(d, IntDistribution | FloatDistribution)
        extra = " log" if d.log else f" step {d.step}" if d.step else ""
        return f"{self.name} in [{d.low}, {d.high}]{extra}"


def _kind(name: str, model: str) -> tuple[str, bool]:
    """(the type as text, e.g. int or float | None; whether it is a model option) of a sweepable setting."""
    if name in RUN_FIELDS:
        kind = str(RUN_FIELDS[name].type)
        if kind.split(" ")[0] not in ("int", "float"):
            raise BenchError(f"--param {name}: only numeric run settings can be swept, and {name} is {kind}.")
        return kind, False
    options = option_types(MODELS.get(model).Params)
    if name in options:
        return options[name], True
    numeric = [n for n, f in RUN_FIELDS.items() if str(f.type).startswith(("int", "float"))]
    from difflib import get_close_matches

    close = get_close_matches(name, numeric + list(options), n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise BenchError(
        f"--param {name}: neither a numeric run setting nor an option of {model!r}.{hint} "
        f"Options of {model}: {', '.join(options)}."
    )


def _spec_table(name: str, spec: str | Mapping[str, Any], kind: str) -> dict[str, Any]:
    """An inline spec (LOW:HIGH, LOW:HIGH:STEP, LOW:HIGH:log, A,B,C) as the TOML table it stands for;
    each value read by bench.modeling.parse_value, as --option values are."""
    if not isinstance(spec, str):
        unknown = set(spec) - {"low", "high", "step", "log", "choices", "grid"}
        if unknown:
            raise BenchError(
                f"[sweep.{name}]: unknown key(s) {sorted(unknown)}; use low, high, step, log, choices "
                "or grid."
            )
        return dict(spec)
    if ":" not in spec:
        parts = [part for part in spec.split(",") if part.strip()]
        return {"choices": [parse_value(part, kind, f"--param {name}") for part in parts]}
    parts = spec.split(":")
    if len(parts) not in (2, 3):
        raise BenchError(f"--param {name}={spec}: expected LOW:HIGH, LOW:HIGH:STEP or LOW:HIGH:log.")
    table: dict[str, Any] = {
        "low": parse_value(parts[0], kind, f"--param {name}"),
        "high": parse_value(parts[1], kind, f"--param {name}"),
    }
    if len(parts) == 3:
        if parts[2].strip().lower() == "log":
            table["log"] = True
        else:
            table["step"] = parse_value(parts[2], kind, f"--param {name}")
    return table


def parse_space(name: str, spec: str | Mapping[str, Any], model: str, grid: bool = False) -> Space:
    """One search space from the suite's [sweep.NAME] table or an inline --param NAME=SPEC.

    A table's `grid` list is the points a grid sampler takes (`grid`: True) instead of every value of
    the range, so that a suite can give a short grid next to a wide range for the other samplers."""
    kind, option = _kind(name, model)
    table = _spec_table(name, spec, kind)
    where = f"--param {name}"
    points = table.pop("grid", None)
    if points is not None and (not isinstance(points, list) or not points):
        raise BenchError(f"[sweep.{name}]: grid must be a non-empty list of values.")
    if grid and points is not None:
        table = {"choices": points}
    try:
        if "choices" in table:
            if set(table) != {"choices"} or not isinstance(table["choices"], list) or not table["choices"]:
                raise BenchError(f"{where}: give either a non-empty list of choices or low and high.")
            choices = [coerce(name, v, where) if not option else v for v in table["choices"]]
            return Space(name, CategoricalDistribution(choices), option)
        kind = kind.split(" ")[0]  # a range has no None
        if kind not in ("int", "float") or "low" not in table or "high" not in table:
            raise BenchError(f"{where}: a range needs low and high, and {name} must be numeric.")
        low, high = table["low"], table["high"]
        step, log = table.get("step"), bool(table.get("log", False))
        if kind == "int":
            if not all(isinstance(v, int) and not isinstance(v, bool) for v in (low, high, step or 1)):
                raise BenchError(f"{where}: {name} takes whole numbers.")
            return Space(name, IntDistribution(low, high, log=log, step=step or 1), option)
        step = None if step is None else float(step)
        return Space(name, FloatDistribution(float(low), float(high), log=log, step=step), option)
    except (ValueError, TypeError) as exc:  # Optuna's own checks: low <= high, log needs low > 0, ...
        raise BenchError(f"{where}: {exc}") from None


def resolve_spaces(specs: Sequence[str], suite: SuiteConfig, model: str, grid: bool = False) -> list[Space]:
    """The spaces named by --param, from inline specs or else the suite's [sweep] table (its `grid`
    points where `grid` is True: the sampler is a grid)."""
    load_models()
    spaces: dict[str, Space] = {}
    for text in specs:
        name, has_spec, inline = (part.strip() for part in text.partition("="))
        if name in spaces:
            raise BenchError(f"--param {name} is given twice.")
        _kind(name, model)  # an unknown name says so, rather than that the suite lacks its space
        if has_spec:
            spaces[name] = parse_space(name, inline, model)
        elif name in suite.sweep:
            spaces[name] = parse_space(name, suite.sweep[name], model, grid)
        else:
            declared = ", ".join(suite.sweep) or "none"
            raise BenchError(
                f"No search space for {name!r} in {suite.source or suite.name} (it declares: {declared}); "
                f"give one inline: --param {name}=LOW:HIGH[:STEP|:log] or --param {name}=A,B,C."
            )
    if not spaces:
        raise BenchError("Give at least one --param to sweep, e.g. --param max_len.")
    return list(spaces.values())


def trial_run(base: RunConfig, spaces: Sequence[Space], values: Mapping[str, Any]) -> RunConfig:
    fields = {s.name: values[s.name] for s in spaces if not s.option}
    options = {**base.options, **{s.name: values[s.name] for s in spaces if s.option}}
    return dataclasses.replace(base, **fields, options=options).validate()


def check_spaces(base: RunConfig, spaces: Sequence[Space], executor: Executor) -> None:
    """Fail before the first trial on values no run can take (e.g. warmup_ratio 1.0, a bad option)."""
    runs = [base]
    for space in spaces:
        for value in space.extremes():
            try:
                runs.append(trial_run(base, [space], {space.name: value}))
            except BenchError as exc:
                raise BenchError(f"--param {space.name}: {exc}") from None
    executor.check(runs)
