"""The model options: one row per ``LSTMForecaster`` setting, given to every command that trains.

The model step of the data flow (input frame -> windows -> *model* -> forecast ->
metrics/plots) on the command line. :data:`MODEL_OPTIONS` maps every option to the estimator
setting it sets (flag, help, type, conversion); the default is the estimator's own (its
signature's, read from the source). :func:`model_options` gives a command (train, backtest) all
of them and hands it one :class:`ModelSettings`. A new setting is one row of the table.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import inspect
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

import lstmcast as lc
from lstmcast.cli.options import Command, in_place_of

# An estimator default the recipe resolves at fit (lstmcast.settings.AUTO; not imported, so
# --help stays fast).
AUTO = "auto"

if TYPE_CHECKING:
    from lstmcast.lstm_forecaster import LSTMForecaster


def parse_size(text: str | None) -> int | float | None:
    """``"20"`` -> 20 points, ``"0.2"`` -> a fraction, ``"none"``: no validation tail; the
    library checks the range."""
    value = _count_or_none(text)
    if not isinstance(value, str):
        return value
    try:
        return float(value)
    except ValueError:
        raise lc.ConfigError(
            f"--val-size must be a number of points (e.g. 20) or a fraction (e.g. 0.2), "
            f"got {text!r}"
        ) from None


def _text_or_none(text: str | None) -> str | None:
    """``"none"`` turns a setting off (no window normalisation, no schedule)."""
    return None if text is not None and text.lower() == "none" else text


def _number_or_none(text: str | None, kind: type = float) -> int | float | str | None:
    """``"none"`` turns a setting off (no early stopping, torch's initialisation); a number
    stays a number of ``kind``."""
    if text is None or text.lower() == "none":
        return None
    try:
        return kind(text)
    except ValueError:
        return text  # the library refuses it with the flag's name


def _count_or_none(text: str | None) -> int | str | None:
    return _number_or_none(text, int)


# A duration: hours, minutes and seconds in that order, each optional (1h30m, 15m, 90s, 2.5h).
_DURATION = re.compile(
    r"(?:(?P<h>\d+(?:\.\d*)?)h)?(?:(?P<m>\d+(?:\.\d*)?)m(?:in)?)?(?:(?P<s>\d+(?:\.\d*)?)s)?"
)
_SECONDS_PER = {"h": 3600.0, "m": 60.0, "s": 1.0}


def parse_duration(text: str | None, flag: str = "--time-budget") -> float | None:
    """Seconds in ``text``: a number of seconds (``300``) or a duration (``90s``, ``15m``,
    ``1h``, ``1h30m``); the library checks the range. ``flag`` names the option in errors."""
    if text is None or text.strip().lower() == "none":
        return None
    spelled = text.strip().lower().replace(" ", "")
    try:
        return float(spelled)
    except ValueError:
        pass
    match = _DURATION.fullmatch(spelled)
    if spelled and match is not None and any(match.groupdict().values()):
        return sum(float(v) * _SECONDS_PER[unit] for unit, v in match.groupdict().items() if v)
    raise lc.ConfigError(
        f"{flag} must be seconds (e.g. 300) or a duration such as 90s, 15m or 1h30m, got {text!r}"
    )


def _as_tuple(values: list[Any] | None) -> tuple[Any, ...] | None:
    """A repeatable option's values as the estimator takes them (none given: None)."""
    return tuple(values) if values else None


def _as_given(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class ModelOption:
    """One ``LSTMForecaster`` setting as a command-line option; its default is the estimator's."""

    setting: str  # the estimator's keyword
    flag: str  # "--window"
    help: str
    kind: Any  # what typer parses: int, float | None, list[str] | None, ...
    parse: Callable[[Any], Any] = _as_given  # the parsed value -> the setting's value
    parameter: str = ""  # the commands' parameter name ("" : the setting's)

    def __post_init__(self) -> None:
        if not self.parameter:
            object.__setattr__(self, "parameter", self.setting)

    def annotation(self, auto: bool = False) -> Any:
        """The parameter annotation that makes typer read this option; ``auto``: a setting the
        recipe chooses when the option is not given."""
        help = f"{self.help} Default: chosen from the data." if auto else self.help
        kind = self.kind if not auto or self.kind is not int else int | None
        kind = float | None if auto and self.kind is float else kind
        return Annotated[kind, typer.Option(self.flag, help=help)]


# In the order the options are listed in --help.
MODEL_OPTIONS = (
    ModelOption("window", "--window", "Input length (lookback) in time steps.", int),
    ModelOption(
        "horizon",
        "--horizon",
        "Steps the network emits at once (longer forecasts are recursive).",
        int,
    ),
    ModelOption("hidden_size", "--hidden-size", "LSTM units per layer.", int),
    ModelOption("num_layers", "--layers", "Stacked LSTM layers.", int, parameter="layers"),
    ModelOption("dropout", "--dropout", "Dropout between layers and before the head, 0..1.", float),
    ModelOption("epochs", "--epochs", "Training epochs (passes over the data).", int),
    ModelOption(
        "time_budget",
        "--time-budget",
        "Training time at most, all ensemble members together: seconds (300) or a duration "
        "(90s, 15m, 1h30m). Training stops between epochs, keeping the best weights. "
        "Default: no limit.",
        str | None,
        parse=parse_duration,
    ),
    ModelOption("batch_size", "--batch-size", "Windows per training batch.", int),
    ModelOption("lr", "--lr", "Adam learning rate.", float),
    ModelOption(
        "val_size",
        "--val-size",
        "Validation tail of each series, held out of training: points (e.g. 20) or a fraction "
        "(e.g. 0.2), or none. The epoch with the lowest validation loss is kept.",
        str | None,
        parse=parse_size,
    ),
    ModelOption(
        "val_at",
        "--val-at",
        "Where each series' --val-size points are: end (its last) or start (those right after "
        "its first window; training then keeps the latest points).",
        str,
    ),
    ModelOption(
        "patience",
        "--patience",
        "Stop after this many epochs without validation improvement (needs --val-size), or none.",
        str | None,
        parse=_count_or_none,
    ),
    ModelOption(
        "window_norm",
        "--window-norm",
        "Normalise each input window by itself: 'revin' (mean and std) or 'last' (last value); "
        "the forecast is de-normalised. For series whose level drifts. 'none': off.",
        str | None,
        parse=_text_or_none,
    ),
    ModelOption(
        "baseline",
        "--baseline",
        "'seasonal': the network forecasts the correction to each window's seasonal naive "
        "forecast (its last --season-length values repeated), starting from none. 'none': off.",
        str | None,
        parse=_text_or_none,
    ),
    ModelOption(
        "segment",
        "--segment",
        "Time steps per LSTM step (segment-wise input; must divide --window).",
        int,
    ),
    ModelOption(
        "decoder",
        "--decoder",
        "'linear': one head emits the whole horizon; 'segments': one more LSTM step per output "
        "segment of --segment steps, in parallel (needs --segment above 1).",
        str,
    ),
    ModelOption(
        "calendar",
        "--calendar",
        "Calendar feature of each input step: hour, dayofweek or dayofyear (repeatable).",
        list[str] | None,
        parse=_as_tuple,
    ),
    ModelOption(
        "futr_cols",
        "--futr-col",
        "A future-known covariate column of DATA (repeatable): known for every step of the "
        "horizon; forecast then needs --futr-data.",
        list[str] | None,
        parse=_as_tuple,
    ),
    ModelOption(
        "hist_cols",
        "--hist-col",
        "A past-only covariate column of DATA (repeatable): read up to the forecast origin only.",
        list[str] | None,
        parse=_as_tuple,
    ),
    ModelOption(
        "static_cols",
        "--static-col",
        "A static covariate column of DATA (repeatable): one value per series, a number or a "
        "category.",
        list[str] | None,
        parse=_as_tuple,
    ),
    ModelOption(
        "covariate_missing",
        "--covariate-missing",
        "A missing covariate value: error, ffill (the series' last value) or zero.",
        str,
    ),
    ModelOption(
        "missing",
        "--missing",
        "A missing target value: error (naming series and row), interpolate (linear in time), "
        "ffill (the last value before it) or mask (left out of the loss and scores, an "
        "indicator input tells the network). Every fill is counted and reported.",
        str,
    ),
    ModelOption(
        "fill_gaps",
        "--fill-gaps",
        "Insert each series' missing timestamps (at its most common step) as missing values, "
        "handled by --missing.",
        bool,
    ),
    ModelOption("loss", "--loss", "Training loss: mse or mae.", str),
    ModelOption(
        "lr_schedule",
        "--lr-schedule",
        "Learning-rate schedule: cosine, onecycle or none.",
        str | None,
        parse=_text_or_none,
    ),
    ModelOption(
        "ensemble_size",
        "--ensemble-size",
        "Networks trained with consecutive seeds; forecasts are their median or mean "
        "(--ensemble-combine).",
        int,
    ),
    ModelOption(
        "ensemble_combine",
        "--ensemble-combine",
        "How an ensemble's forecasts (every quantile, with quantile heads) become one: mean "
        "(default; averages more noise away) or median (robust to one network gone astray).",
        str,
    ),
    ModelOption(
        "quantile_levels",
        "--quantile-level",
        "Learn a prediction interval of this level (percent) with quantile heads and the pinball "
        "loss (repeatable); with --val-size too they are conformalized on the validation points; "
        "without it, --level intervals are conformal (needs --val-size).",
        list[float] | None,
        parse=_as_tuple,
    ),
    ModelOption(
        "quantile_training",
        "--quantile-training",
        "How quantile heads train: joint (every quantile, the median too, on the pinball loss) "
        "or separate (the median on --loss as without quantile heads, the other quantiles on "
        "the pinball loss through their own head).",
        str,
    ),
    ModelOption(
        "median_weight",
        "--median-weight",
        "With quantile heads: the median's loss term counts this many times each other "
        "quantile's (e.g. 4: the point forecast leads what the shared network learns).",
        float,
    ),
    ModelOption(
        "interval_scale",
        "--interval-scale",
        "With quantile heads: seasonal weighs each window's interval-bound terms in the loss by "
        "1 / its mean absolute seasonal difference (MSIS's unit; --season-length), the median "
        "keeping its own; none (default): one unit for all.",
        str | None,
        parse=_text_or_none,
    ),
    ModelOption(
        "season_length",
        "--season-length",
        "Seasonal period (e.g. 24 for hourly data): interval calibration measures errors in units "
        "of each window's mean absolute seasonal difference.",
        int,
    ),
    ModelOption(
        "forget_bias",
        "--forget-bias",
        "Initial forget-gate bias, other biases starting at zero (1.0 is Keras's default), or "
        "none for torch's initialisation: the recipe takes 1.0 with --recipe tutorial (the "
        "tutorial's Keras LSTM), none otherwise.",
        str | None,
        parse=_number_or_none,
    ),
    ModelOption(
        "grad_clip",
        "--grad-clip",
        "Clip the global gradient norm to this. Default: no clipping.",
        float | None,
    ),
    ModelOption(
        "scaler",
        "--scaler",
        "Per-series scaling fitted on the training part: standard (mean and standard deviation) "
        "or none.",
        str,
    ),
    ModelOption(
        "target_transform",
        "--target-transform",
        "log: the network learns log(y) and forecasts and intervals are exponentiated back, for "
        "positive data whose errors matter relative to its level (sales, traffic; every value "
        "must be above 0); none: the values as they are; auto (default): log when every "
        "training value is above 0 and the spread grows with the level (Guerrero's lambda <= "
        "0.25; a later value <= 0 is then read as its series' smallest above 0, with a "
        "warning), else none.",
        str | None,
        parse=_text_or_none,
    ),
    ModelOption(
        "recipe",
        "--recipe",
        "Where the settings you do not give come from: auto (chosen from the data, printed "
        "before training) or tutorial (the classic tutorial's: window 20, horizon 1, LSTM(50), "
        "MSE, 10 epochs of batch 32).",
        str,
    ),
    ModelOption(
        "random_state",
        "--seed",
        "Random seed; the same seed gives the same model. Default: random.",
        int | None,
        parameter="seed",
    ),
    ModelOption(
        "device", "--device", "cpu, cuda, cuda:1, mps, ... Default: CUDA when present.", str | None
    ),
    ModelOption(
        "precision",
        "--precision",
        "The LSTM's matrix products: fp32, bf16 (bfloat16, only on a CPU that has it natively; "
        "cell state and forecasts stay float32) or auto (bf16 where native and measured as "
        "accurate).",
        str,
    ),
)

# The model options by estimator keyword.
MODEL_OPTION = {option.setting: option for option in MODEL_OPTIONS}
# The learning rate as other commands take it (experiment adding), with a default of their own.
LearningRate = MODEL_OPTION["lr"].annotation()

# The module that defines the estimator the table configures, read (not imported) for defaults.
ESTIMATOR_MODULE = "lstmcast.lstm_forecaster"


@functools.cache
def estimator_defaults() -> dict[str, Any]:
    """``LSTMForecaster``'s keyword defaults, read from its source without importing it.

    Taken from the estimator so the two cannot drift; read with :mod:`ast` because every command
    (even ``--help``) builds the options, and importing the estimator loads torch (a second).
    tests/test_cli.py checks the result against ``inspect.signature``.
    """
    spec = importlib.util.find_spec(ESTIMATOR_MODULE)
    if spec is None or spec.origin is None:
        raise ImportError(f"cannot find the source of {ESTIMATOR_MODULE}")
    tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    (estimator,) = [
        node
        for node in tree.body
        if isinstance(node, ast.ClassDef) and node.name == "LSTMForecaster"
    ]
    (init,) = [
        node
        for node in estimator.body
        if isinstance(node, ast.FunctionDef) and node.name == "__init__"
    ]
    arguments = init.args.args[len(init.args.args) - len(init.args.defaults) :]
    pairs = [*zip(arguments, init.args.defaults, strict=True)]
    pairs += zip(init.args.kwonlyargs, init.args.kw_defaults, strict=True)
    return {arg.arg: _literal(value) for arg, value in pairs if value is not None}


def _literal(node: ast.expr) -> Any:
    """A default's value: a literal, or the name AUTO (the recipe's setting)."""
    if isinstance(node, ast.Name) and node.id == "AUTO":
        return AUTO
    return ast.literal_eval(node)


@dataclass(frozen=True)
class ModelSettings:
    """The model options one command was given, by estimator keyword, as typer parsed them."""

    given: Mapping[str, Any]

    def __getitem__(self, setting: str) -> Any:
        return self.given[setting]

    def keywords(self) -> dict[str, Any]:
        """The estimator's keyword arguments (``--val-size``'s text as a number, ...)."""
        defaults = estimator_defaults()
        return {
            option.setting: option.parse(self.given[option.setting])
            for option in MODEL_OPTIONS
            # Not given, and the recipe's to choose: the estimator's "auto" stays.
            if not (
                self.given[option.setting] is None
                and defaults[option.setting] == AUTO
                and option.setting != "recipe"
            )
        }

    def changed(self) -> dict[str, Any]:
        """The settings given a value other than the estimator's default, as keywords."""
        defaults = estimator_defaults()
        return {name: v for name, v in self.keywords().items() if v != defaults[name]}

    def estimator(self) -> LSTMForecaster:
        """A new, unfitted estimator; the library checks every value in ``fit``."""
        return lc.LSTMForecaster(**self.keywords())

    def covariate_cols(self) -> tuple[str, ...]:
        """The time-varying covariate columns DATA must hold (past-only, then future-known)."""
        from lstmcast.covariates import spec_of

        return spec_of(self.keywords()).dynamic

    def static_cols(self) -> tuple[str, ...]:
        """The static covariate columns DATA must hold."""
        from lstmcast.covariates import spec_of

        return spec_of(self.keywords()).static


def model_options(command: Command) -> Command:
    """Give ``command`` every option of :data:`MODEL_OPTIONS` in place of its keyword-only
    parameter ``settings``, which receives them as one :class:`ModelSettings`.

    An option the command declares itself (backtest's ``--season-length``, which also sets its
    baseline) keeps the command's declaration and still reaches the settings.
    """
    defaults = estimator_defaults()
    options = [
        inspect.Parameter(
            option.parameter,
            inspect.Parameter.KEYWORD_ONLY,
            default=None if auto else defaults[option.setting],
            annotation=option.annotation(auto),
        )
        for option in MODEL_OPTIONS
        for auto in [defaults[option.setting] == AUTO and option.setting != "recipe"]
    ]
    return in_place_of("settings", options, collect)(command)


def collect(parameters: Mapping[str, Any]) -> ModelSettings:
    """The model settings among a command's parsed ``parameters`` (by parameter name)."""
    return ModelSettings({option.setting: parameters[option.parameter] for option in MODEL_OPTIONS})
