"""What the tuner searches: the settings around the recipe, as Optuna parameters.

Sits between the recipe and the tuner (``recipe`` -> *search space* -> ``tune``): the recipe's
settings for the data are one point of the space (the first trial), and every trial is a full
set of :class:`~lstmcast.LSTMForecaster` settings. The parameters keep the same distributions
for the whole study (Optuna refuses a categorical whose choices change between trials), so the
window's grid and the segment's choices depend only on the data and the fixed settings.

Optuna is imported by the caller; nothing here needs it at import time.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .recipe import MAX_SEASONS, MIN_SEASONS, choose_segment, decoder_segment

if TYPE_CHECKING:
    import optuna

# The shortest window tried when the window is not in whole seasons.
MIN_WINDOW = 8
# The values tried of the other settings (the recipe's are among them).
HIDDEN_SIZES = (32, 64, 128, 256)
LAYERS = (1, 2)
LR_RANGE = (3e-4, 1e-2)  # searched on a log scale
WINDOW_NORMS = ("revin", "last", "none")
DECODERS = ("linear", "segments")
LOSSES = ("mae", "mse")
DROPOUT_RANGE = (0.0, 0.5)
# How the segment is chosen for a trial's window: the recipe's rule, a whole season, one step.
SEGMENT_RULES = ("auto", "season", "step")
# The settings a trial may change, in the order they are shown.
SEARCHED = (
    "window",
    "segment",
    "decoder",
    "hidden_size",
    "num_layers",
    "lr",
    "window_norm",
    "loss",
    "dropout",
)


def validation_tail(val_size: int | float | None, horizon: int, shortest: int) -> int:
    """Points of the shortest series that fit holds out to validate (as the recipe counts them)."""
    if val_size is None:
        return 0
    points = val_size if isinstance(val_size, int) else round(shortest * val_size)
    return max(points, horizon)


@dataclass(frozen=True)
class SearchSpace:
    """The settings a trial tries: ``base`` (the recipe's and the fixed ones, every setting)
    with the names in ``searched`` drawn by Optuna.

    ``window_grid`` is (low, high, step) of the window tried: whole seasons when the series hold
    at least :data:`~lstmcast.recipe.MIN_SEASONS` of them, else any length from
    :data:`MIN_WINDOW` (a log scale); a multiple of a fixed segment. ``segment_rules``: the
    ways a trial's segment is chosen (:data:`SEGMENT_RULES`; "season" only for seasonal windows).
    """

    base: Mapping[str, Any]
    searched: tuple[str, ...]
    window_grid: tuple[int, int, int] | None
    segment_rules: tuple[str, ...]

    @classmethod
    def around(
        cls, base: Mapping[str, Any], fixed: Mapping[str, Any], shortest: int
    ) -> SearchSpace:
        """The space around ``base`` for series whose training part is at least ``shortest``
        points; settings in ``fixed`` are not searched, and a window is tried only where the
        training windows, their horizon and the validation tail fit in ``shortest``."""
        season, horizon = base["season_length"], base["horizon"]
        longest = shortest - horizon - validation_tail(base["val_size"], horizon, shortest)
        seasonal = season > 1 and longest >= MIN_SEASONS * season
        grid = None
        if "window" not in fixed:
            unit = season if seasonal else 1
            if "segment" in fixed:
                unit = math.lcm(unit, fixed["segment"])
            low, high = (
                (MIN_SEASONS * season, min(MAX_SEASONS * season, longest))
                if seasonal
                else (min(MIN_WINDOW, longest), longest)
            )
            if base["val_size"] is not None and season > 1:
                low = max(low, season + 1)  # interval calibration needs a season in the window
            low, high = math.ceil(low / unit) * unit, high // unit * unit
            if high > low:
                grid = (low, high, unit)
        unsearched = set(fixed)
        if grid is None:
            unsearched.add("window")
        if base.get("quantile_levels") and base.get("quantile_training") == "joint":
            unsearched.add("loss")  # joint quantile heads train on the pinball loss instead
        searched = tuple(name for name in SEARCHED if name not in unsearched)
        # A season per segment only where every window tried is whole seasons.
        whole_seasons = season > 1 and (
            grid[0] % season == grid[2] % season == 0 if grid else base["window"] % season == 0
        )
        rules = tuple(rule for rule in SEGMENT_RULES if rule != "season" or whole_seasons)
        if base["decoder"] == "segments":  # fixed: it decodes in segments of more than a step
            rules = tuple(rule for rule in rules if rule != "step")
        return cls(dict(base), searched, grid, rules)

    def suggest(self, trial: optuna.Trial | optuna.trial.FixedTrial) -> dict[str, Any]:
        """Every setting of one trial: ``base`` with the searched ones drawn by ``trial``."""
        settings = dict(self.base)
        searched = set(self.searched)
        if "window" in searched and self.window_grid is not None:
            low, high, step = self.window_grid
            settings["window"] = trial.suggest_int("window", low, high, step=step, log=step == 1)
        if "segment" in searched:
            rule = trial.suggest_categorical("segment", self.segment_rules)
            settings["segment"] = self._segment(rule, settings["window"])
        if "decoder" in searched and settings["segment"] > 1:  # segments need segments
            settings["decoder"] = trial.suggest_categorical("decoder", DECODERS)
        if "hidden_size" in searched:
            settings["hidden_size"] = trial.suggest_categorical("hidden_size", HIDDEN_SIZES)
        if "num_layers" in searched:
            settings["num_layers"] = trial.suggest_int("num_layers", *LAYERS)
        if "lr" in searched:
            settings["lr"] = trial.suggest_float("lr", *LR_RANGE, log=True)
        if "window_norm" in searched:
            norm = trial.suggest_categorical("window_norm", WINDOW_NORMS)
            settings["window_norm"] = None if norm == "none" else norm
        if "loss" in searched:
            settings["loss"] = trial.suggest_categorical("loss", LOSSES)
        if "dropout" in searched:
            settings["dropout"] = trial.suggest_float("dropout", *DROPOUT_RANGE)
        return settings

    def _segment(self, rule: str, window: int) -> int:
        season = self.base["season_length"]
        if rule == "season":
            return season
        segment = choose_segment(window, season) if rule == "auto" else 1
        if segment == 1 and self.base["decoder"] == "segments":
            return decoder_segment(window, season)
        return segment

    def base_params(self) -> dict[str, Any]:
        """``base`` as Optuna parameters of this space: the recipe's trial, enqueued first."""
        base = self.base
        # The recipe's segment is its rule's ("auto"); a rule giving the same segment will do.
        window = base["window"]
        same = [
            rule for rule in self.segment_rules if self._segment(rule, window) == base["segment"]
        ]
        params: dict[str, Any] = {
            "window": window,
            "segment": same[0] if same else "auto",
            "decoder": base["decoder"],
            "hidden_size": base["hidden_size"],
            "num_layers": base["num_layers"],
            "lr": base["lr"],
            "window_norm": base["window_norm"] or "none",
            "loss": base["loss"],
            "dropout": float(base["dropout"]),
        }
        return {name: value for name, value in params.items() if name in self.searched}

    def tried(self, settings: Mapping[str, Any]) -> dict[str, Any]:
        """The searched settings of a trial, by name, as flags spell them (None: "none"): what
        the trials table shows."""
        return {
            name: "none" if settings[name] is None else settings[name] for name in self.searched
        }


def describe(settings: Mapping[str, Any]) -> str:
    """``window=336, segment=24, lr=0.003, window_norm='revin'``: settings on one line."""

    def shown(value: Any) -> str:
        return f"{value:.3g}" if isinstance(value, float) else repr(value)

    return ", ".join(f"{name}={shown(value)}" for name, value in settings.items())
