"""The LSTM forecaster's settings: each one's constraint, and the checks across them.

Checked in ``fit`` (and when a saved model is loaded): a bad setting raises ConfigError named
as the reader wrote it (``window=`` in Python, ``--window`` on the command line).
"""

from __future__ import annotations

from typing import Any

from .checks import Rule, check_level
from .covariates import MISSING, spec_of
from .errors import ConfigError, option, setting
from .forecasting import ENSEMBLE_COMBINES
from .missing import POLICIES
from .model import BASELINES, DECODERS, WINDOW_NORMS
from .precision import PRECISIONS
from .target_transform import TARGET_TRANSFORMS
from .train import INTERVAL_SCALES, LOSSES, LR_SCHEDULES, QUANTILE_TRAININGS
from .windows import CALENDAR, SCALERS

# Where each series' validation points are: its last ones, or the first ones after a window.
VAL_AT = ("end", "start")
# A setting left to the recipe (lstmcast.recipe): chosen from the data at fit.
AUTO = "auto"
RECIPES = ("auto", "tutorial")
# How a network is trained, not what it is: what an update may change (and the training chain
# records for each step).
TRAINING_SETTINGS = (
    "epochs",
    "batch_size",
    "lr",
    "lr_schedule",
    "patience",
    "time_budget",
    "val_size",
    "grad_clip",
)


def is_auto(value: Any) -> bool:
    """``value`` is "auto" (and not, say, an array that compares elementwise)."""
    return isinstance(value, str) and value == AUTO


RULES: dict[str, Rule] = {
    "window": Rule(int, 1),
    "horizon": Rule(int, 1),
    "hidden_size": Rule(int, 1),
    "num_layers": Rule(int, 1),
    "dropout": Rule((int, float), 0, 1, low_open=False),
    "epochs": Rule(int, 1),
    "time_budget": Rule((int, float), 0, low_open=True, optional=True),
    "batch_size": Rule(int, 1),
    "lr": Rule((int, float), 0, low_open=True),
    "val_size": Rule((int, float), 0, low_open=True, optional=True),
    "val_at": Rule(str, choices=VAL_AT),
    "patience": Rule(int, 1, optional=True),
    "scaler": Rule(str, choices=SCALERS),
    "target_transform": Rule(str, choices=TARGET_TRANSFORMS, optional=True),
    "window_norm": Rule(str, choices=WINDOW_NORMS, optional=True),
    "baseline": Rule(str, choices=BASELINES, optional=True),
    "segment": Rule(int, 1),
    "decoder": Rule(str, choices=DECODERS),
    "loss": Rule(str, choices=tuple(LOSSES)),
    "lr_schedule": Rule(str, choices=LR_SCHEDULES, optional=True),
    "grad_clip": Rule((int, float), 0, low_open=True, optional=True),
    "forget_bias": Rule((int, float), -10, 10, low_open=False, optional=True),
    "ensemble_size": Rule(int, 1),
    "ensemble_combine": Rule(str, choices=ENSEMBLE_COMBINES),
    "quantile_training": Rule(str, choices=QUANTILE_TRAININGS),
    "median_weight": Rule((int, float), 0, low_open=True),
    "interval_scale": Rule(str, choices=INTERVAL_SCALES, optional=True),
    "season_length": Rule(int, 1),
    "covariate_missing": Rule(str, choices=MISSING),
    "missing": Rule(str, choices=POLICIES),
    "fill_gaps": Rule(bool),
    "recipe": Rule(str, choices=RECIPES),
    "random_state": Rule(int, 0, optional=True),
    "device": Rule(str, optional=True),
    "precision": Rule(str, choices=PRECISIONS),
}


def calendar_names(calendar: str | tuple[str, ...] | None) -> tuple[str, ...]:
    """The calendar feature names (a lone string counts as one name)."""
    if calendar is None:
        return ()
    return (calendar,) if isinstance(calendar, str) else tuple(calendar)


def check_together(settings: dict[str, Any]) -> None:
    """Refuse settings that are each valid but do not go together (``patience`` without
    ``val_size``, a ``segment`` that does not divide ``window``, ...)."""
    window, segment = settings["window"], settings["segment"]
    val_size, season = settings["val_size"], settings["season_length"]
    if isinstance(val_size, float) and val_size >= 1:
        raise ConfigError(f"a fractional {setting('val_size')} must be below 1, got {val_size}")
    if settings["patience"] is not None and val_size is None:
        raise ConfigError(
            f"{setting('patience')} needs validation data: set {setting('val_size')} too"
        )
    if settings["patience"] is not None and settings["val_at"] == "start":
        raise ConfigError(
            f"{setting('patience')} stops on the validation loss, which "
            f"{option('val_at', 'start')} does not choose epochs by (its points are each "
            f"series' oldest): use {option('val_at', 'end')} or {option('patience', None)}"
        )
    # Only interval calibration (on the val_size tail) reads season_length: it measures
    # errors in units of each input window's seasonal differences.
    if val_size is not None and season >= window:
        raise ConfigError(
            f"{setting('season_length')} {season} must be shorter than {setting('window')} "
            f"{window} when {setting('val_size')} calibrates intervals (their unit is each "
            f"input window's mean seasonal difference): use {option('window', season + 1)} or "
            f"more, or a {setting('season_length')} below {window}"
        )
    if settings["interval_scale"] is not None and not settings["quantile_levels"]:
        raise ConfigError(
            f"{setting('interval_scale')} sets the unit of the quantile heads' loss: set "
            f"{setting('quantile_levels')} too, or {option('interval_scale', None)}"
        )
    if settings["interval_scale"] is not None and season >= window:
        raise ConfigError(
            f"{option('interval_scale', 'seasonal')} measures each window's seasonal "
            f"differences: {setting('season_length')} {season} must be shorter than "
            f"{setting('window')} {window}"
        )
    if settings["baseline"] == "seasonal" and season > window:
        raise ConfigError(
            f"{setting('baseline')} 'seasonal' repeats the window's last season: "
            f"{setting('season_length')} {season} must not exceed {setting('window')} {window}"
        )
    if window % segment:
        raise ConfigError(
            f"{setting('segment')} {segment} must divide {setting('window')} {window}; try "
            f"{option('window', window // segment * segment or segment)}"
        )
    if settings["decoder"] == "segments" and segment < 2:
        raise ConfigError(
            f"{option('decoder', 'segments')} decodes the horizon in segments of "
            f"{setting('segment')} steps: give a {setting('segment')} above 1 (e.g. the season, "
            f"{option('segment', 24)} for hourly data), or {option('decoder', 'linear')}"
        )
    levels = settings["quantile_levels"]
    if levels is not None:
        if isinstance(levels, int | float) or not levels:
            raise ConfigError(
                f"{setting('quantile_levels')} must be a list of levels, e.g. (80, 95); got "
                f"{levels!r}"
            )
        for level in levels:
            check_level("quantile_levels", level)
    spec_of(settings)  # each covariate column once, in one kind
    check_missing(settings["missing"], settings["fill_gaps"])
    calendar = settings["calendar"]
    names = calendar_names(calendar)
    if calendar is not None and (not names or any(n not in CALENDAR for n in names)):
        raise ConfigError(f"calendar must list some of {', '.join(CALENDAR)}; got {calendar!r}")


def check_missing(missing: str, fill_gaps: bool) -> None:
    """``fill_gaps`` inserts times without a value: it needs a ``missing`` that says what they
    become (any forecaster with both settings: the LSTM and the baselines)."""
    if fill_gaps and missing == "error":
        raise ConfigError(
            f"{option('fill_gaps', True)} inserts each series' missing timestamps without a "
            f"value: choose what they become with {option('missing', 'interpolate')}, "
            f"{option('missing', 'ffill')} or {option('missing', 'mask')}"
        )
