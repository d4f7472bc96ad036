"""What a fitted LSTMForecaster has learned, in one object: the networks and everything beside them.

Where it sits: ``fit`` (windows -> model) produces a :class:`FittedState`; ``predict`` reads it
(model -> forecast); ``io`` writes it to a model directory and reads it back. The estimator owns
it (``LSTMForecaster._state``) and shows its fields as the fitted attributes ``networks_``,
``scaler_``, ``tail_``, ... (:class:`StateField`), so neither side reaches into the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .data import Panel
from .model import LSTMNetwork
from .train import History
from .windows import SeriesScaler

# The column names of a long frame, as fit's keywords, of a model fitted without names (or saved
# before models kept them). None: found as the reader finds them (``unique_id``, ``ds``, ``y``
# where present; see to_long).
DEFAULT_COLUMNS: dict[str, str | None] = dict.fromkeys(("id_col", "time_col", "target_col"))


@dataclass
class FittedState:
    """Everything ``LSTMForecaster.fit`` learns (and ``lstmcast.load`` restores).

    Per series (n of them, in ``tail``'s order): the scaler's statistics, the last ``window``
    points and the time step. Calibration: ``calibration`` (intervals, CALIBRATION_GRID,
    horizon) quantiles of the conformity scores, their count and unit ("window": each input
    window's mean seasonal difference; "series": the series' standard deviation, format 1).
    """

    networks: list[LSTMNetwork]  # the ensemble, trained or being trained
    histories: list[History]  # one per network
    scaler: SeriesScaler  # per-series shift and scale from the training part
    tail: Panel  # each series' last points: the default history to forecast from
    steps: list[Any]  # each series' time step: an int, or a pandas offset
    columns: dict[str, str | None]  # the id/time/target column names fit was given
    seed: int  # the seed actually used (member m trained with seed + m)
    layout: str | None = None  # the layout the command line read the data in (--layout)
    sharded: bool = False  # trained in a process group with each rank's own series
    calibration: np.ndarray | None = None
    calibration_size: int = 0
    # The series the model was trained (and calibrated) on when ``tail`` holds only a share of
    # them (io.load(part=...), a sharded forecast's rank); None: ``tail`` holds them all.
    trained_series: int | None = None
    calibration_scale: str = "window"
    # The settings the recipe chose ("chosen": names) and why ("reasons"); None: all given, or
    # a model saved before recipes.
    recipe: dict[str, list[str]] | None = None
    # The sanity alarms on the validation tail (a diagnostics.Diagnostics, not imported here:
    # it imports the forecasters, which import this module); None: no validation tail, or a
    # model saved before them.
    diagnostics: Any = None
    # Per series (n, C) scaling of the covariates (a covariates.CovariateScaler); None: none.
    covariate_scaler: Any = None
    # How static covariates are encoded (a covariates.StaticEncoder); None: none.
    static_encoder: Any = None
    # What the model learned from (card.training_data); None: a model saved before.
    data: dict[str, Any] | None = None
    # Each network's Adam state at the end of its training, what an update continues from
    # (torch.optim.Adam's state-dict layout); None for a network saved without it.
    optimizers: list[dict[str, Any] | None] = field(default_factory=list)
    # How the networks came to be, in order: the fit, then each update (updating.chain_step):
    # the data's fingerprint and facts, the seed and the training settings of each.
    chain: list[dict[str, Any]] = field(default_factory=list)
    # The missing target values it filled or masked, per series (a missing.Fills); None: with
    # missing="error", or a model saved before.
    fills: Any = None

    @property
    def n_series(self) -> int:
        return len(self.tail)


@dataclass(frozen=True)
class StateSpec:
    """What an estimator's settings fix about its fitted state: ``io`` checks a saved state
    against it before building anything, so a file cannot disagree with its own settings."""

    network: dict[str, Any]  # NetworkConfig fields the settings determine
    window: int  # points kept per series
    horizon: int
    ensemble_size: int  # most networks there may be
    intervals: int  # calibration rows: one per quantile level, or one
    device: str | None  # where the networks go


class StateField:
    """A fitted attribute (``networks_``) that reads and writes a FittedState field.

    Reading it before the estimator has a state raises AttributeError, so
    ``getattr(model, "networks_", None)`` tells a fitted model from an unfitted one.
    """

    def __init__(self, name: str | None = None) -> None:
        self.name = name  # the FittedState field; default: the attribute without its "_"

    def __set_name__(self, owner: type, attribute: str) -> None:
        self.attribute = attribute
        if self.name is None:
            self.name = attribute.removesuffix("_")

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        state = obj.__dict__.get("_state")
        if state is None:
            raise AttributeError(f"{type(obj).__name__} has no {self.attribute} until it is fitted")
        return getattr(state, str(self.name))

    def __set__(self, obj: Any, value: Any) -> None:
        state = obj.__dict__.get("_state")
        if state is None:
            raise AttributeError(
                f"{type(obj).__name__} has no fitted state to set {self.attribute} in"
            )
        setattr(state, str(self.name), value)


def state_spec(
    settings: dict[str, Any], calendar_features: int, quantiles: tuple[float, ...]
) -> StateSpec:
    """What an LSTMForecaster's ``settings`` (every one resolved) fix about its fitted state;
    ``calendar_features`` names and the heads' ``quantiles`` are derived from them."""
    from .covariates import spec_of

    spec = spec_of(settings)
    masked = settings["missing"] == "mask"  # the network reads a missing-value indicator
    return StateSpec(
        network={
            "horizon": settings["horizon"],
            "hidden_size": settings["hidden_size"],
            "num_layers": settings["num_layers"],
            "segment": settings["segment"],
            "decoder": settings["decoder"],
            "window_norm": settings["window_norm"],
            "hist_size": len(spec.hist),
            "futr_size": len(spec.futr),
            "baseline_season": (
                settings["season_length"] if settings["baseline"] == "seasonal" else 0
            ),
            "input_size": 1 + len(spec.names) + 2 * calendar_features + masked,
            "quantiles": quantiles,
            "missing_indicator": masked,
        },
        window=settings["window"],
        horizon=settings["horizon"],
        ensemble_size=settings["ensemble_size"],
        intervals=len(settings["quantile_levels"]) if settings["quantile_levels"] else 1,
        device=settings["device"],
    )
