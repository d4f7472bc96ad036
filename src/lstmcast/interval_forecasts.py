"""The LSTM estimator's prediction intervals: calibrated at fit, bounds at forecast.

A mixin of :class:`~lstmcast.lstm_forecaster.LSTMForecaster` (its methods read the fitted
networks, scaler and calibration): split-conformal calibration on the validation windows after
training, and interval bounds (conformal, learned, or learned and conformalized; see
:mod:`lstmcast.intervals` for the arithmetic) beside every forecast.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from .errors import DataWarning, count, some_of
from .forecasting import (
    WINDOW_FLOOR,
    point_forecast,
    quantile_forecast,
    scaled_forecast,
    scaled_quantiles,
    score_unit,
    seasonal_spread,
)
from .intervals import (
    DEFAULT_LEVEL,
    bounds,
    calibrate,
    check_interval_request,
    check_supported_levels,
    learned_bounds,
    quantile_columns,
    thin_calibration,
)

if TYPE_CHECKING:
    from .data import Panel
    from .windows import Windows


class IntervalForecasts:
    """Intervals for a forecaster with ``networks_``, ``scaler_``, ``quantile_levels`` and the
    calibration fields (see LSTMForecaster)."""

    networks_: Any
    ensemble_combine: Any
    scaler_: Any
    quantile_levels: Any
    horizon: Any
    window: Any
    season_length: Any
    missing: Any
    alias: str
    _state: Any  # the FittedState
    if TYPE_CHECKING:

        def _contexts(
            self, panel: Panel, series: np.ndarray, ends: np.ndarray
        ) -> tuple[torch.Tensor, np.ndarray]: ...

        def _network_quantiles(self) -> tuple[float, ...]: ...

        def _in_user_units(self, values: np.ndarray) -> np.ndarray: ...

    def _calibrate(self, val_windows: Windows | None) -> None:
        """Split-conformal calibration on the validation windows (see intervals.calibrate),
        each window's score unit floored by its series' spread (``val_windows.series_spread``)."""
        if val_windows is None or len(val_windows) == 0:
            return

        def unit(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
            return score_unit(self._window_spread(x), val_windows.spread_of(index))

        self.calibration_, self.calibration_size_ = calibrate(
            val_windows,
            self._point_forecast,
            self._quantile_forecast,
            unit,
            self.quantile_levels,
            self._network_quantiles(),
            self.sharded_,
            self.seed_,
        )
        self.calibration_scale_ = "window"

    @property
    def calibration_caveat_(self) -> str | None:
        """Why this model's intervals may fall short of their level on later data (its
        calibration spans too few whole horizons: intervals.thin_calibration), judged at its
        highest learned level or 95%; None when calibrated on enough, or not calibrated."""
        return self.caveat_at(self.quantile_levels or [DEFAULT_LEVEL])

    def caveat_at(self, levels: Sequence[float]) -> str | None:
        """:attr:`calibration_caveat_` judged at the highest of ``levels`` (percent), the
        intervals a forecast asks for; None when calibrated on enough, or not calibrated."""
        if getattr(self, "calibration_", None) is None or not levels:
            return None
        return thin_calibration(
            max(levels), self.calibration_size_, self._calibrated_series(), self.horizon
        )

    def _calibrated_series(self) -> int:
        """The series the calibration windows came from: all the model was trained on, also
        when this one holds only a share of them (a sharded forecast's rank)."""
        return self._state.trained_series or self.n_series_

    def _window_spread(self, x: torch.Tensor) -> torch.Tensor:
        """The seasonal spread (B,) of input windows ``x`` (B, window[+ horizon], F)."""
        return seasonal_spread(x[:, : self.window], self.season_length, self.missing == "mask")

    def _point_forecast(self, x: torch.Tensor) -> torch.Tensor:
        return point_forecast(self.networks_, x, self.ensemble_combine)

    def _quantile_forecast(self, x: torch.Tensor) -> torch.Tensor:
        return quantile_forecast(self.networks_, x, self.ensemble_combine)

    def _forecast_with_bounds(
        self, panel: Panel, series: np.ndarray, ends: np.ndarray, h: int, levels: list[float]
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        if not levels or h > self.horizon:  # no bounds, or refused by _bounds
            return super()._forecast_with_bounds(panel, series, ends, h, levels)
        # Bounds are made in model units (log(y) with a log target transform: the conformal
        # corrections were measured there) and mapped back with the point forecast; the map
        # is monotone, so it keeps every bound a bound. One pass over the input windows.
        x, rows = self._contexts(panel, series, ends)
        quantiles = None
        if self.quantile_levels:  # the point forecast is the quantile heads' median
            quantiles = scaled_quantiles(self.networks_, x, h, self.ensemble_combine)
            scaled = quantiles[..., quantile_columns(self._network_quantiles()).index(0.5)]
        else:
            scaled = scaled_forecast(
                self.networks_, x, h, self.horizon, self.window, self.ensemble_combine
            )
        values = self.scaler_.inverse(scaled, rows)
        found = self._bounds(panel, series, ends, values, levels, (x, rows, quantiles))
        back = self._in_user_units
        return back(values), {name: back(bound) for name, bound in found.items()}

    def _bounds(
        self,
        panel: Panel,
        series: np.ndarray,
        ends: np.ndarray,
        values: np.ndarray,
        levels: list[float],
        context: tuple[torch.Tensor, np.ndarray, np.ndarray | None] | None = None,
    ) -> dict[str, np.ndarray]:
        """Interval bounds: conformal, learned, or learned and conformalized (intervals.bounds),
        around point forecasts ``values`` (k, h) in model units (de-scaled, not yet mapped
        back by a target transform), in the same units.

        ``context``: the input windows, scaler rows and scaled quantile forecasts of ``values``
        (None: no quantile heads) when the caller has them already (see :meth:`_contexts`).
        Only the ``horizon`` steps the network emits at once have intervals.
        """
        levels = sorted(set(levels))  # each level's bounds are computed once
        if not levels:
            return {}
        h = values.shape[1]
        calibrated = getattr(self, "calibration_", None) is not None
        check_interval_request(levels, h, self.horizon, self.quantile_levels, calibrated)
        if context is None:
            x, rows = self._contexts(panel, series, ends)  # the input windows, (k, window, F)
        else:
            x, rows = context[0], context[1]
        learned = None
        if self.quantile_levels:
            quantiles = context[2] if context is not None else None
            if quantiles is None:
                quantiles = scaled_quantiles(self.networks_, x, h, self.ensemble_combine)
            inverse = functools.partial(self.scaler_.inverse, rows=rows)
            learned = learned_bounds(quantiles, self._network_quantiles(), levels, inverse)

        def unit() -> np.ndarray:
            """Series units per score, (k, 1): the series' scale, times the window's."""
            scale = self.scaler_.scale[rows][:, None]
            if self.calibration_scale_ == "window":
                spread = self._window_spread(x).cpu()
                known = self.scaler_.spread
                floor = None if known is None else torch.from_numpy(known[rows])
                window_unit = score_unit(spread, floor).numpy()
                if not self.quantile_levels:  # the width is the window's unit alone
                    flat = window_unit <= WINDOW_FLOOR  # nothing but the 1e-3 floor
                    warn_on_flat_windows(panel.ids[series[flat]], self.window, self.season_length)
                scale = scale * window_unit[:, None]
            return scale

        calibration = (self.calibration_, self.calibration_size_) if calibrated else None
        return bounds(self.alias, values, levels, learned, calibration, self.quantile_levels, unit)

    def _check_levels(self, level: Sequence[float] | None, h: int) -> list[float]:
        """The levels, refusing any that the conformal calibration cannot support."""
        levels = super()._check_levels(level, h)
        if levels and getattr(self, "calibration_", None) is not None:
            check_supported_levels(
                levels, self.calibration_size_, self._calibrated_series(), self.horizon
            )
        return levels


def warn_on_flat_windows(ids: np.ndarray, window: int, season_length: int) -> None:
    """Warn (DataWarning, one line) when series ``ids`` forecast from input windows of
    ``window`` points that do not change over ``season_length`` steps: their conformal
    intervals, measured in that change, are points."""
    named = list(dict.fromkeys(str(i) for i in ids))
    if not named:
        return
    lag = count(season_length, "step")
    warnings.warn(
        f"{count(len(named), 'series', 'series')} ({some_of(named)}) forecast from an input window "
        f"of {window} points where no value differs from the one {lag} before: the conformal "
        "interval, in units of that difference, has almost no width there and says nothing "
        "of the uncertainty; train with quantile_levels for intervals that do not depend on it",
        DataWarning,
        stacklevel=8,  # the caller of predict or backtest
    )
