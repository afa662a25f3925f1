"""Run and suite settings: dataclasses, TOML loading and validation.

The defaults of a run live here (RunConfig); a model's own options and their defaults live in its
`Params` dataclass (models/), and a suite's TOML file overrides both for its runs.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import tomllib

from bench.errors import BenchError
from bench.registry import plugin_folders

OptionValue = int | float | str | bool
DEVICES = ("auto", "cpu", "cuda")

# What every verdict reads (the report, the end of `bench run`, `bench decide`): their defaults, here only.
ALPHA = 0.05
DEFAULT_MARGIN = 1.0  # points of accuracy: the smallest gain worth a higher cost
DEFAULT_COST_MARGIN = 0.10  # relative: costs this close count as equal, for "equivalent"
# Relative sd of one run's cost from one run to the next, assumed where a side has a single run
# (bench.stats.cost says where 0.10 comes from).
DEFAULT_COST_NOISE = 0.10
# Points: the seed-to-seed sd of a model's test accuracy, assumed where a side has a single seed.
# Measured on the quick suite (8 seeds each, 500 test items, scripts/seed-noise): encoder 1.10
# [0, 4.59], bert 0.00 [0, 1.35]; the larger estimate rounded up to a half point (docs/statistics.md).
DEFAULT_SEED_NOISE = 1.5
DEFAULT_MIN_CLASS_SIZE = 5  # rows of a class in a data file's training split, at least
SELECTIONS = ("best-val", "last")
INITS = ("pretrained", "random")
PRECISIONS = ("auto", "fp32", "tf32", "bf16", "fp16")


def flag(default: Any, help: str | Callable[[], str], choices: tuple[str, ...] | None = None) -> Any:
    """A run setting that the command line sets too (`--max-len`, `--bucket/--no-bucket`): its
    default, and the help text (or a function that writes it when help is shown) and choices that
    `bench run` and `bench sweep` show."""
    return field(default=default, metadata={"help": help, "choices": choices})


def dataset_help() -> str:
    """--dataset's help: the registered loaders (plugins included), as they are written."""
    from bench.data import load_datasets

    datasets = load_datasets()
    return (
        f"Dataset: {', '.join(datasets.usage(n) for n in datasets)} (a file's PATH takes "
        "?text=COL&label=COL&test=PATH&val=PATH); `bench ls datasets` says what each is."
    )


@dataclass(frozen=True)
class RunConfig:
    """Everything one model run needs. Suites set these per model; the CLI overrides them."""

    model: str
    suite: str = "custom"
    dataset: str = flag("imdb", lambda: dataset_help())
    data_seed: int = 0  # fixes the train/test split, so seed repeats share their test items
    max_train: int | None = flag(2000, "Training reviews to use (a stratified sample).")
    max_test: int | None = flag(500, "Test reviews to use (a stratified sample).")
    # Held out of the training rows to choose the epoch (and a model's own settings).
    val_share: float = flag(0.1, "Share of the training reviews held out for validation.")
    # A class this small in a data file is nearly always a typo or a stray header row.
    min_class_size: int = flag(
        DEFAULT_MIN_CLASS_SIZE,
        "Fewest rows a class of a data file's training split may have; a smaller class is refused as "
        "a likely typo or stray header (0 accepts any, even a known class with no rows).",
    )
    select: str = "best-val"  # the epoch a run reports: best validation accuracy, or the last
    max_len: int = flag(128, "Tokens per review, special tokens included.")
    lr: float = flag(1e-4, "Peak learning rate.")
    batch_size: int = flag(32, "Reviews per step.")
    epochs: int = flag(1, "Training epochs.")
    max_steps: int | None = flag(None, "Cap on optimizer steps per epoch (for cost-only runs).")
    seed: int = flag(0, "Seed of initialisation and data order.")
    device: str = flag("auto", "auto picks CUDA when present.", DEVICES)
    warmup_ratio: float = 0.0
    weight_decay: float = 0.01
    grad_clip: float | None = 1.0
    label_smoothing: float = 0.0
    # "random" builds the same shapes without weights: a cost-only run.
    init: str = flag("pretrained", "random: same shapes, no weights (cost-only).", INITS)
    pretrained: str | None = flag(
        None, "A local BERT-family folder, or a hub name already in the local cache."
    )
    paper_quirks: bool = False  # reproduce the paper's two quirks (see README)
    trackers: bool = True
    precision: str = flag(
        "auto", "auto: bf16 autocast where the GPU has it, else fp32. fp16 and tf32 need a GPU.", PRECISIONS
    )
    compile: bool = flag(False, "torch.compile the network (pays off on long GPU runs).")
    bucket: bool = flag(False, "Batch reviews of similar length together (less padding).")
    # The batch of the serving axis: inference timed on length-sorted test reviews in batches of this.
    serve_batch: int | None = flag(
        None, "Reviews per batch when serving is timed (--cost serving) [default: the batch size]."
    )
    cache_dir: str = flag(".bench-cache", "Tokenization cache folder; '' turns it off.")
    options: Mapping[str, OptionValue] = field(default_factory=dict)  # the model's own params

    @classmethod
    def from_saved(cls, saved: Mapping[str, Any]) -> RunConfig:
        """A run's settings as they were saved (env.json, a queue's trial, a cost repeat's request):
        the one place a RunConfig is rebuilt from a dict. A folder from before validation splits
        trained on all its training rows (val_share 0), and took every class it found
        (min_class_size 1)."""
        old = {"val_share": 0.0, "min_class_size": 1}
        return cls(**{**old, **saved, "options": saved.get("options") or {}})

    def validate(self) -> RunConfig:
        """Raise a BenchError for values no run can use."""
        checks = [
            (self.epochs >= 1, f"epochs must be at least 1, not {self.epochs}"),
            (self.batch_size >= 1, f"batch size must be at least 1, not {self.batch_size}"),
            (self.max_len >= 2, f"max_len must be at least 2, not {self.max_len}"),
            (self.lr > 0, f"the learning rate must be positive, not {self.lr}"),
            (
                0 <= self.warmup_ratio < 1,
                f"warmup_ratio must be in [0, 1), not {self.warmup_ratio}",
            ),
            (
                0 <= self.label_smoothing < 1,
                f"label_smoothing must be in [0, 1), not {self.label_smoothing}",
            ),
            (0 <= self.val_share < 1, f"val_share must be in [0, 1), not {self.val_share}"),
            (self.min_class_size >= 0, f"min_class_size must be 0 or more, not {self.min_class_size}"),
            (self.max_train is None or self.max_train >= 2, "max_train must be at least 2"),
            (self.max_test is None or self.max_test >= 1, "max_test must be at least 1"),
            (self.max_steps is None or self.max_steps >= 1, "max_steps must be at least 1"),
            (self.serve_batch is None or self.serve_batch >= 1, "serve_batch must be at least 1"),
            (self.select in SELECTIONS, f"select must be one of {', '.join(SELECTIONS)}"),
            (self.device in DEVICES, f"device must be one of {', '.join(DEVICES)}"),
            (self.init in INITS, f"init must be one of {', '.join(INITS)}"),
            (self.precision in PRECISIONS, f"precision must be one of {', '.join(PRECISIONS)}"),
            (self.grad_clip is None or self.grad_clip >= 0, "grad_clip must be 0 (off) or positive"),
        ]
        for ok, message in checks:
            if not ok:
                raise BenchError(message.capitalize() + ".")
        return self


RUN_FIELDS = {f.name: f for f in dataclasses.fields(RunConfig)}
SUITE_RUN_KEYS = set(RUN_FIELDS) - {"model", "suite"}


@dataclass(frozen=True)
class SuiteConfig:
    """A named list of model runs, read from one TOML file."""

    name: str
    description: str
    runs: tuple[RunConfig, ...]
    defaults: Mapping[str, Any] = field(default_factory=dict)  # the [run] table
    sweep: Mapping[str, Any] = field(default_factory=dict)  # search spaces, read by bench.sweep.driver
    source: str = ""
    verdicts: Mapping[str, float] = field(default_factory=dict)  # margin, seed_noise...: VerdictSettings
    costs: Mapping[str, Any] = field(default_factory=dict)  # price, volume, carbon_intensity: CostSettings

    @property
    def margin(self) -> float | None:
        """Points: the smallest gain worth a higher cost (None: the default)."""
        return self.verdicts.get("margin")

    def models(self) -> list[str]:
        return [run.model for run in self.runs]


def _suite_files() -> dict[str, Any]:
    """Suite name -> its file: the packaged suites, then the plugin folders' *.toml files."""
    found: dict[str, Any] = {}
    for folder in [resources.files("bench.suites"), *plugin_folders()]:
        for file in sorted(folder.iterdir(), key=lambda p: p.name):
            name = file.name.removesuffix(".toml")
            if not file.name.endswith(".toml"):
                continue
            if name in found:
                raise BenchError(f"The suite name {name!r} is taken twice: by {found[name]} and by {file}.")
            found[name] = file
    return found


def suite_names() -> list[str]:
    return sorted(_suite_files())


def _check_keys(where: str, given: Mapping[str, Any], allowed: set[str]) -> None:
    for key in given:
        if key not in allowed:
            close = difflib.get_close_matches(key, sorted(allowed), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise BenchError(f"{where}: unknown setting {key!r}.{hint}")


def coerce(name: str, value: Any, where: str) -> Any:
    """Check one run setting's type against RunConfig, converting ints to floats where allowed."""
    annotation = str(RUN_FIELDS[name].type)
    if value is None and "None" in annotation:
        return None
    if name == "options":
        if not isinstance(value, Mapping):
            raise BenchError(f"{where}: 'options' must be a table of model settings.")
        return dict(value)
    if annotation.startswith("bool"):
        ok = isinstance(value, bool)
    elif annotation.startswith("int"):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif annotation.startswith("float"):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        value = float(value) if ok else value
    else:
        ok = isinstance(value, str)
    if not ok:
        kind = annotation.split(" ")[0]
        raise BenchError(f"{where}: {name!r} must be {kind}, not {value!r}.")
    return value


def load_suite(name_or_path: str) -> SuiteConfig:
    """Load a packaged suite by name (`quick`) or any suite file by path."""
    path = Path(name_or_path)
    if name_or_path.endswith(".toml") or path.is_file():
        if not path.is_file():
            raise BenchError(f"Suite file {name_or_path} does not exist.")
        text, source, name = path.read_text(encoding="utf-8"), str(path), path.stem
    else:
        names = suite_names()
        if name_or_path not in names:
            close = difflib.get_close_matches(name_or_path, names, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise BenchError(
                f"Unknown suite {name_or_path!r}.{hint} Known: {', '.join(names)}; "
                "or give the path of a .toml file."
            )
        file = _suite_files()[name_or_path]
        text = file.read_text(encoding="utf-8")
        from_plugin = isinstance(file, Path) and file.parent in plugin_folders()
        source, name = (str(file) if from_plugin else f"suites/{name_or_path}.toml"), name_or_path
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BenchError(f"{source} is not valid TOML: {exc}.") from None
    return parse_suite(raw, name=str(raw.get("name", name)), source=source)


def parse_suite(raw: Mapping[str, Any], name: str, source: str) -> SuiteConfig:
    allowed = {"name", "description", "run", "models", "sweep", *SUITE_VERDICT_KEYS, *SUITE_COST_KEYS}
    _check_keys(source, raw, allowed)
    verdicts = {}
    for key in SUITE_VERDICT_KEYS:
        value = raw.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float) or value < 0):
            raise BenchError(f"{source}: {key!r} is {SUITE_VERDICT_KEYS[key]}, zero or more, not {value!r}.")
        if value is not None:
            verdicts[key] = float(value)
    defaults = dict(raw.get("run", {}))
    _check_keys(f"{source} [run]", defaults, SUITE_RUN_KEYS)
    defaults = {k: coerce(k, v, f"{source} [run]") for k, v in defaults.items()}
    models = raw.get("models", {})
    if not isinstance(models, Mapping) or not models:
        raise BenchError(f"{source}: a suite needs at least one [models.NAME] table.")
    runs = []
    for model, overrides in models.items():
        where = f"{source} [models.{model}]"
        _check_keys(where, overrides, SUITE_RUN_KEYS)
        settings = {**defaults, **overrides}
        if "options" in defaults and "options" in overrides:
            settings["options"] = {**defaults["options"], **overrides["options"]}
        values = {k: coerce(k, v, where) for k, v in settings.items()}
        runs.append(RunConfig(model=model, suite=name, **values))
    sweep = raw.get("sweep", {})
    if not isinstance(sweep, Mapping):
        raise BenchError(f"{source}: [sweep] must be a table of search spaces.")
    return SuiteConfig(
        name=name,
        description=str(raw.get("description", "")),
        runs=tuple(runs),
        defaults=defaults,
        sweep=dict(sweep),
        source=source,
        verdicts=verdicts,
        costs=suite_costs(raw, source),
    )


def apply_overrides(
    suite: SuiteConfig, overrides: Mapping[str, Any], models: tuple[str, ...] = ()
) -> list[RunConfig]:
    """The suite's runs, narrowed to `models` (in that order) and with CLI overrides applied.

    A model the suite does not list runs with the suite's [run] settings.
    """
    by_model = {run.model: run for run in suite.runs}
    chosen = [
        by_model.get(m) or RunConfig(model=m, suite=suite.name, **suite.defaults)
        for m in models or tuple(by_model)
    ]
    _check_keys("run settings", overrides, SUITE_RUN_KEYS)  # bench.run(...) takes them as keywords
    set_values = {k: coerce(k, v, "command line") for k, v in overrides.items() if v is not None}
    return [dataclasses.replace(run, **set_values).validate() for run in chosen]


# The verdict settings a suite may set, and what each is.
SUITE_VERDICT_KEYS = {
    "margin": "a gain in accuracy points",
    "cost_margin": "a relative difference of cost (0.1: 10%)",
    "seed_noise": "a seed-to-seed sd of accuracy in points",
    "cost_noise": "a relative run-to-run sd of cost",
}


@dataclass(frozen=True)
class VerdictSettings:
    """What every verdict reads, whoever judges (the report, the end of `bench run`, `bench decide`).

    margin and seed_noise are in accuracy points, cost_margin and cost_noise relative (0.1: 10%).
    checkpoints: compare the trained checkpoints (one seed each, exact McNemar), not the models.
    """

    margin: float = DEFAULT_MARGIN
    cost_margin: float = DEFAULT_COST_MARGIN
    cost_noise: float = DEFAULT_COST_NOISE
    seed_noise: float = DEFAULT_SEED_NOISE
    checkpoints: bool = False
    alpha: float = ALPHA

    def validate(self) -> VerdictSettings:
        m, cm, cn, sn = self.margin, self.cost_margin, self.cost_noise, self.seed_noise
        checks = [
            (
                math.isfinite(m) and 0 <= m < 100,
                f"--margin is a gain in accuracy points in [0, 100), not {m:g}",
            ),
            (
                math.isfinite(cm) and 0 <= cm < 1,
                f"--cost-margin is relative, in [0, 1), e.g. 0.1, not {cm:g}",
            ),
            (0 < cn < 1, f"--cost-noise is a relative sd in (0, 1), e.g. 0.1, not {cn:g}"),
            (
                math.isfinite(sn) and 0 <= sn < 50,
                f"--seed-noise is a sd in accuracy points in [0, 50), not {sn:g}",
            ),
            (0 < self.alpha < 1, f"alpha must be in (0, 1), not {self.alpha:g}"),
        ]
        for ok, message in checks:
            if not ok:
                raise BenchError(message + ".")
        return self

    def with_suite(self, suite: SuiteConfig | None, given: Mapping[str, float | None]) -> VerdictSettings:
        """These settings with the suite's where the command line gave none (`given`: None = not given)."""
        chosen: dict[str, Any] = {
            **(suite.verdicts if suite is not None else {}),
            **{k: v for k, v in given.items() if v is not None},
        }
        return dataclasses.replace(self, **chosen).validate()


# The cost settings a suite may set (`price = { cpu = 0.10 }`, `volume = "10M"`, `carbon_intensity = 400`).
SUITE_COST_KEYS = ("price", "volume", "carbon_intensity")
# --volume's suffixes, case aside: 2.5k, 10M, 1B (a billion; G too).
VOLUME_SUFFIXES = {"k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9}
PRICE_FORM = "DEVICE=USD_PER_HOUR (cpu=0.10, cuda=2.50, or a device name as results.csv records it)"


def parse_volume(value: object, where: str = "--volume") -> float:
    """Predictions as a number: 10000000, 1e7, 10_000_000, 10M, 2.5k, 1B."""
    text = str(value).strip().replace("_", "").replace(",", "")
    scale = (
        VOLUME_SUFFIXES.get(text[-1:].lower(), 1.0) if text and not isinstance(value, int | float) else 1.0
    )
    number = text[:-1] if scale != 1.0 else text
    try:
        volume = float(number) * scale if not isinstance(value, bool) else math.nan
    except ValueError:
        volume = math.nan
    if not (math.isfinite(volume) and volume > 0):
        raise BenchError(f"{where} is a number of predictions above 0, e.g. 10M, 2.5k or 1e7, not {value!r}.")
    return volume


def parse_price(text: str, where: str = "--price") -> tuple[str, float]:
    """(device, USD per hour) of `DEVICE=USD_PER_HOUR`; the device is the text before the last '='."""
    device, equals, usd = str(text).rpartition("=")
    if not equals or not device.strip():
        raise BenchError(f"{where} takes {PRICE_FORM}, not {text!r}.")
    return device.strip(), check_price(device.strip(), usd.strip(), where)


def check_price(device: str, usd: object, where: str = "--price") -> float:
    """A price in USD per device-hour: a positive finite number."""
    try:
        value = float(usd) if not isinstance(usd, bool) else math.nan  # type: ignore[arg-type]
    except (TypeError, ValueError):
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise BenchError(f"{where}: the price of {device} is USD per hour, a number above 0, not {usd!r}.")
    if device.lower() == "gpu":  # torch names the type cuda; a GPU's own name is as results.csv has it
        raise BenchError(f"{where}: no device is called 'gpu'; price GPUs as cuda={usd}, or by their name.")
    return value


def suite_costs(raw: Mapping[str, Any], source: str) -> dict[str, Any]:
    """A suite's cost settings, checked (the price table, the volume, the carbon intensity)."""
    found: dict[str, Any] = {}
    price = raw.get("price")
    if price is not None:
        if not isinstance(price, Mapping) or not price:
            raise BenchError(f"{source}: 'price' is a table of USD per device-hour, e.g. {{ cpu = 0.10 }}.")
        found["prices"] = {str(d): check_price(str(d), usd, f"{source}: price") for d, usd in price.items()}
    if raw.get("volume") is not None:
        found["volume"] = parse_volume(raw["volume"], f"{source}: 'volume'")
    intensity = raw.get("carbon_intensity")
    if intensity is not None:
        found["carbon_intensity"] = check_intensity(intensity, f"{source}: 'carbon_intensity'")
    return found


def check_intensity(value: object, where: str = "--carbon-intensity") -> float:
    """Grams CO2e per kWh: a finite number, zero or more."""
    try:
        number = float(value) if not isinstance(value, bool) else math.nan  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = math.nan
    if not (math.isfinite(number) and number >= 0):
        raise BenchError(f"{where} is grams CO2e per kWh, zero or more (e.g. 400), not {value!r}.")
    return number


@dataclass(frozen=True)
class CostSettings:
    """What the cost axes read besides a run's row: prices, a volume, the serving batch, a carbon
    intensity. Without prices there is no money anywhere (never a made-up default).

    prices: USD per device-hour, by device type (cpu, cuda) or by a device's name as results.csv
    records it (a name's price wins over its type's). volume: predictions over a model's life (the
    axis total). serve_batch: the serving batch the serving axis reads, runs timed at another left
    out (None: each run's own). carbon_intensity: grams CO2e per kWh, for rows with measured energy.
    """

    prices: Mapping[str, float] = field(default_factory=dict)
    volume: float | None = None
    serve_batch: int | None = None
    carbon_intensity: float | None = None

    @property
    def priced(self) -> bool:
        return bool(self.prices)

    def validate(self) -> CostSettings:
        for device, usd in self.prices.items():
            check_price(device, usd)
        if self.volume is not None:
            parse_volume(self.volume)
        batch = self.serve_batch
        if batch is not None and (isinstance(batch, bool) or not isinstance(batch, int) or batch < 1):
            raise BenchError(f"--serve-batch is a number of reviews, 1 or more, not {batch!r}.")
        if self.carbon_intensity is not None:
            check_intensity(self.carbon_intensity)
        return self

    @classmethod
    def parse(
        cls,
        prices: Iterable[str] | Mapping[str, float] = (),
        volume: object = None,
        serve_batch: int | None = None,
        carbon_intensity: object = None,
    ) -> CostSettings:
        """Settings from the command line's text (`--price cpu=0.10 --volume 10M`) or from Python
        values (`prices={"cpu": 0.1}`, `volume=1e7`); a BenchError in one line for a bad one."""
        if isinstance(prices, Mapping):
            table = {str(d): check_price(str(d), usd) for d, usd in prices.items()}
        else:
            table = dict(parse_price(p) for p in prices)
        return cls(
            table,
            None if volume is None else parse_volume(volume),
            serve_batch,
            None if carbon_intensity is None else check_intensity(carbon_intensity),
        ).validate()

    def with_suite(self, suite: SuiteConfig | None) -> CostSettings:
        """These settings with the suite's where these have none (a price per device: the suite's for
        the devices these do not price)."""
        costs = suite.costs if suite is not None else {}
        return dataclasses.replace(
            self,
            prices={**costs.get("prices", {}), **self.prices},
            volume=self.volume if self.volume is not None else costs.get("volume"),
            carbon_intensity=(
                self.carbon_intensity if self.carbon_intensity is not None else costs.get("carbon_intensity")
            ),
        )


@dataclass(frozen=True)
class ReportSettings:
    """What `bench report` was asked for, apart from the folders, the format and the output file."""

    cost: str = "time"  # the cost axis of the verdicts and the front (bench.costs.axes)
    target: float | None = None  # the validation accuracy of time to target (None: 95% of the best)
    verdicts: VerdictSettings = field(default_factory=VerdictSettings)
    wide: bool = False  # the terminal's tables with every column, however wide
    costing: CostSettings = field(default_factory=CostSettings)  # prices, volume... (the cost axes')


@dataclass(frozen=True)
class SweepSettings:
    """What `bench sweep` was asked for, apart from the run settings and the output folder."""

    params: tuple[str, ...]  # NAME or NAME=SPEC, as given to --param
    trials: int = 10  # finished (complete or pruned) trials the study should hold in total
    study: str | None = None
    storage: str | None = None
    objective: str = "accuracy"
    costs: tuple[str, ...] = ("time",)  # minimised next to accuracy when objective is pareto
    sampler: str | None = None  # default: tpe for accuracy, nsga2 for pareto
    timeout: float | None = None
    prune: bool = True
