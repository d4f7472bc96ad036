"""Cold start: forecasting series the model never saw, from the history given for them.

A model keeps per-series statistics from training (the target's scaling, the covariates'). A
series not in training gets them from its own history, as training would have computed them
from its training part; the network is global and needs nothing else (window normalisation makes
it read shapes, not levels). Where it sits: new history -> **these statistics** -> forecast.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .covariates import CovariateScaler, CovariateSpec
from .data import Panel
from .fitted import FittedState
from .windows import SeriesScaler


def with_series_of(
    state: FittedState,
    panel: Panel,
    scaler_kind: str,
    spec: CovariateSpec,
    n_fit: np.ndarray | None = None,
    season_length: int = 1,
) -> tuple[FittedState, tuple[str, ...]]:
    """``state`` extended by the series of ``panel`` it does not know (scaled from all their
    points in ``panel``, or the first ``n_fit`` (n,) of each), and their ids; ``state`` itself
    when it knows them all. ``spec``: the model's covariates (static ones are encoded already,
    not scaled); ``season_length``: the model's, for their spread (SeriesScaler.with_spread)."""
    known = np.isin(panel.ids.astype(str), state.scaler.ids.astype(str))
    if known.all():
        return state, ()
    cold = panel.series(np.flatnonzero(~known))
    fit_on = cold.lengths if n_fit is None else n_fit[~known]
    scaler = SeriesScaler.fit(cold, fit_on, scaler_kind)
    if state.scaler.spread is not None:
        scaler = scaler.with_spread(cold, fit_on, season_length)
    joined = SeriesScaler.joined(state.scaler, scaler)
    covariates = state.covariate_scaler
    if covariates is not None:
        fitted = CovariateScaler.fit(cold, fit_on, scaler_kind, len(spec.static))
        covariates = CovariateScaler(
            np.concatenate([covariates.shift, fitted.shift]),
            np.concatenate([covariates.scale, fitted.scale]),
        )
    extended = dataclasses.replace(state, scaler=joined, covariate_scaler=covariates)
    return extended, tuple(str(i) for i in cold.ids)
