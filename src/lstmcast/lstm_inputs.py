"""How the LSTM estimator reads data into network inputs: panels, covariates, input windows.

A mixin of :class:`~lstmcast.lstm_forecaster.LSTMForecaster` (its methods read the settings and
the fitted scalers): a long frame -> a :class:`~lstmcast.data.Panel` with its covariates
(static ones encoded), future-known values appended after each series' history, series the
model never saw scaled from their own history (cold start), and the scaled input windows
(k, window, features) the networks read.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from .cold_start import with_series_of
from .covariates import fill_missing, frame_as_given, read_future, read_panel, spec_of, with_future
from .errors import DataError
from .fitting import ahead_mask, network_inputs
from .forecasting import input_windows, refuse_recursion
from .fused_lstm import small_step
from .intervals import network_quantiles
from .missing import Fills, fill_targets, shared, warn_filled_origins
from .precision import resolve, use_precision
from .settings import calendar_names, check_missing
from .target_transform import check_positive, to_model, to_user
from .training_range import warn_far_from_training

if TYPE_CHECKING:
    from .data import Panel


class LSTMInputs:
    """Input reading for a forecaster with the LSTM's settings and fitted state (see
    LSTMForecaster)."""

    quantile_levels: Any
    calendar: Any
    covariate_missing: Any
    missing: Any
    fill_gaps: Any
    precision: Any
    batch_size: Any
    scaler: Any
    target_transform: Any
    horizon: Any
    window: Any
    networks_: Any
    scaler_: Any
    tail_: Any
    columns_: Any
    covariate_scaler_: Any
    static_encoder_: Any
    _state: Any
    if TYPE_CHECKING:

        def _current(self) -> dict[str, Any]: ...

        def get_params(self, deep: bool = True) -> dict[str, Any]: ...

    def _network_quantiles(self) -> tuple[float, ...]:
        """The quantiles the heads learn for ``quantile_levels`` (both ends of each interval)."""
        return network_quantiles(self.quantile_levels)

    def _calendar(self) -> tuple[str, ...]:
        return calendar_names(self.calendar)

    def _inputs(
        self, scaled: np.ndarray, ds: np.ndarray, tz: str | None, covariates: np.ndarray | None
    ) -> torch.Tensor:
        """Network inputs (..., features) for scaled values, their times (...) and their
        scaled covariates (..., C); with ``missing="mask"``, a missing-value indicator last."""
        return network_inputs(scaled, ds, tz, self._calendar(), covariates, self.missing == "mask")

    def _read(self, df: Any, what: str, fitting: bool = False, **columns: str | None) -> Panel:
        """``df`` as a panel: covariates read and filled, gaps and missing target values
        handled as the settings say (:mod:`lstmcast.missing`)."""
        check_missing(self.missing, self.fill_gaps)
        spec = spec_of(self._current())
        saved = None
        if spec.static and not fitting:
            saved = (self.static_encoder_, self.tail_, self.scaler_)
        targets = (self.missing != "error", self.fill_gaps)
        panel, encoder = read_panel(df, what, columns, spec, self.covariate_missing, saved, targets)
        # Before any fill: a fill comes from observed values, so it is above 0 when they are.
        # Training data is checked against the transform as given ("auto": the recipe looks
        # at it next); other data against the model's.
        transform = self.get_params()["target_transform"] if fitting else self.target_transform
        check_positive(panel, transform, what, floored=not fitting and self._log_chosen())
        panel = fill_targets(panel, self.missing, what)
        if fitting:  # learned from the training series; kept by _fit
            self._fitting_static = encoder
            self._fitting_fills = Fills.of(panel, self.missing)
        return panel

    def _log_chosen(self) -> bool:
        """Whether the recipe chose the log target (the user did not): a later value <= 0 is
        then read as its series' smallest above 0, with a warning (:func:`check_positive`)."""
        chosen = self.__dict__.get("_chosen", {})
        return self.target_transform == "log" and "target_transform" in chosen

    def _modelled(self, panel: Panel) -> Panel:
        """``panel`` with its target in the units the scaler and network work in (``log(y)``
        with ``target_transform="log"``; else ``panel`` itself). Panels the model keeps or
        shows (``tail_``, backtest actuals, diagnostics) stay in the user's units."""
        return to_model(panel, self.target_transform, floored=self._log_chosen())

    def _in_user_units(self, values: np.ndarray) -> np.ndarray:
        """De-scaled forecasts or bounds (any shape) back in the data's units."""
        return to_user(values, self.target_transform)

    def _fitted_fills(self, sharded: bool) -> Fills | None:
        """What :meth:`_read` counted in the training data (every process's series when each
        holds its own: ``sharded``)."""
        return shared(self.__dict__.pop("_fitting_fills", None), sharded)

    def _panel_for(self, df: Any, **columns: str | None) -> tuple[Panel, list[Any]]:
        panel, steps = super()._panel_for(df, **columns)  # type: ignore[misc]
        if self.scaler != "none":  # a model trained without scaling keeps no statistics
            # Measured as the scaler measures: in model units (only the last window's).
            last = self._modelled(panel.tail(self.window))
            warn_far_from_training(last, self.scaler_, self.window)
        return panel, steps

    def _forecast_with_bounds(
        self, panel: Panel, series: np.ndarray, ends: np.ndarray, h: int, levels: list[float]
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        # Forecasts from just after filled (or masked) points are made, and said.
        warn_filled_origins(panel, series, ends, self.missing, self.window)
        return super()._forecast_with_bounds(panel, series, ends, h, levels)  # type: ignore[misc]

    def _for_series(self, panel: Panel, cold_start: bool) -> Any:
        if not cold_start:
            return self
        # Their scaling comes from their history in model units, as fit's does.
        state, cold = with_series_of(
            self._state, self._modelled(panel), self.scaler, spec_of(self._current()),
            season_length=self.season_length,
        )  # fmt: skip
        if not cold:
            return self
        model = copy.copy(self)  # the networks are shared, not copied
        model._state, model.cold_started_ = state, cold
        return model

    def _as_given(self, panel: Panel) -> Any:
        # Static columns decoded by the encoding the panel was read with (a refitting backtest
        # reads it as fit would): each copy learns its own.
        return frame_as_given(panel, self.__dict__.get("_fitting_static"))

    def _with_future(self, panel: Panel, futr_df: Any, times: np.ndarray) -> Panel:
        spec = spec_of(self._current())
        futr, h = spec.futr, times.shape[1]
        if not futr:
            return super()._with_future(panel, futr_df, times)
        refuse_recursion(h, self.horizon, self._calendar(), spec)
        if futr_df is None:
            raise DataError(
                f"this model reads future-known covariates {list(futr)}: give futr_df, their "
                f"values at each of the {h} times after every series' history"
            )
        future = read_future(futr_df, self.columns_, futr, spec.hist)
        return fill_missing(with_future(panel, future, futr, times, h), self.covariate_missing,
                            "futr_df")  # fmt: skip

    def _contexts(
        self, panel: Panel, series: np.ndarray, ends: np.ndarray
    ) -> tuple[torch.Tensor, np.ndarray]:
        """Input windows (k, window, features) ending before rows ``ends``, and scaler rows (k,),
        on the networks' device; the networks set to this machine's reading of ``precision``
        (every forecast reads its windows here)."""
        spec = spec_of(self._current())
        covariates = self.covariate_scaler_ if spec else None
        mask = ahead_mask(spec, len(self._calendar()), self.missing == "mask")
        ahead = (self.horizon, mask) if spec.futr else None
        x, rows = input_windows(
            panel, series, ends, self.scaler_, self.window, self.scaler, self._inputs,
            covariates, ahead, self.target_transform, self._log_chosen(),
        )  # fmt: skip
        device = next(self.networks_[0].parameters()).device
        small = small_step(self.batch_size, self.networks_[0].config.hidden_size)  # training's
        resolved = resolve(self.precision, device, training=False, small_step=small)
        use_precision(self.networks_, resolved)
        return x.to(device), rows
