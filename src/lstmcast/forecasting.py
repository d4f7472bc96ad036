"""From trained networks to forecasts: input windows in, scaled forecasts out.

Sits after training: a panel's windows, scaled by the fitted per-series statistics -> the
networks (their median or mean when an ensemble) -> (k, h) forecasts in scaled units, which
the estimator de-scales. Windows go through the networks in chunks of :data:`FORECAST_CHUNK`, so
forecasting very many series holds one chunk's activations at a time.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch

from .data import Panel
from .errors import ConfigError, option
from .model import LSTMNetwork
from .target_transform import model_values, smallest_positive
from .training_range import check_scaled
from .windows import SeriesScaler

if TYPE_CHECKING:
    from .covariates import CovariateScaler

# Input windows run through the network at once when forecasting: bounds memory for very many
# series.
FORECAST_CHUNK = 16384


# How an ensemble's members' forecasts become one, per step (and per quantile): the median
# resists one member gone astray; the mean averages more of the members' noise away. The mean is
# the default: lower error than the median of the same networks on ETTh1's validation split at
# every horizon and on M4 Hourly's validation hours, points and intervals (E21-E22 in
# benchmarks/RESULTS.md). Quantiles combine quantile by quantile, which keeps them ascending.
ENSEMBLE_COMBINES = ("median", "mean")


def ensemble_output(
    networks: Sequence[LSTMNetwork],
    output: Callable[[LSTMNetwork], torch.Tensor],
    combine: str,
) -> torch.Tensor:
    """``output`` of the one network in evaluation mode, or the ensemble's ``combine`` of them
    ("median" or "mean", element by element)."""
    for network in networks:
        network.eval()
    if len(networks) == 1:
        return output(networks[0])
    members = torch.stack([output(network) for network in networks])
    if combine == "mean":
        return members.mean(dim=0)
    if combine == "median":
        return members.quantile(0.5, dim=0)
    raise ConfigError(f"unknown {option('ensemble_combine', combine)}: use median or mean")


def point_forecast(networks: Sequence[LSTMNetwork], x: torch.Tensor, combine: str) -> torch.Tensor:
    """One block of the horizon, (B, horizon): the network's, or the ensemble's combined."""
    return ensemble_output(networks, lambda network: network(x), combine)


def quantile_forecast(
    networks: Sequence[LSTMNetwork], x: torch.Tensor, combine: str
) -> torch.Tensor:
    """Every learned quantile, (B, horizon, Q + 1): the network's, or the ensemble's combined."""
    return ensemble_output(networks, lambda network: network.quantile_forecast(x), combine)


# The least score unit of an input window, in its series' standard deviations: keeps a flat
# window's interval finite (see score_unit).
WINDOW_FLOOR = 1e-3
# ... and at least this share of its series' mean seasonal difference in training, so a window
# that stopped moving (no sales for weeks, a stuck sensor) keeps an interval of its series'
# kind. A quarter touches 0.05% of M4 Hourly's windows, none of ETTh1 OT's, macro's, Nino's or
# the sine's, and the flat 14% of the M5 extract's (benchmarks/RESULTS.md, V13).
SPREAD_FLOOR = 0.25


def seasonal_spread(x: torch.Tensor, season_length: int, indicator: bool = False) -> torch.Tensor:
    """Each window's mean absolute seasonal difference, (B,), in scaled units (0: flat).

    ``x`` (B, window, features) holds the scaled target first. With ``indicator`` (the last
    feature: 1 where the target is missing), only differences between two observed values
    count; a window without any is given 1, the series' own spread.
    """
    target = x[..., 0].double()
    m = season_length
    differences = (target[:, m:] - target[:, :-m]).abs()
    if not indicator:
        return differences.mean(dim=1)
    observed = 1.0 - x[..., -1].double()
    pairs = observed[:, m:] * observed[:, :-m]
    n = pairs.sum(dim=1)
    mean = (differences * pairs).sum(dim=1) / n.clamp(min=1.0)
    return torch.where(n > 0, mean, torch.ones_like(mean))


def score_unit(spread: torch.Tensor, series_spread: torch.Tensor | None) -> torch.Tensor:
    """The conformal score unit of windows whose :func:`seasonal_spread` is ``spread`` (B,):
    at least SPREAD_FLOOR of their series' own spread in training (``series_spread`` (B,);
    None: a model saved before it), plus WINDOW_FLOOR, in scaled units."""
    if series_spread is not None:
        spread = torch.maximum(spread, SPREAD_FLOOR * series_spread)
    return spread + WINDOW_FLOOR


@torch.no_grad()
def scaled_quantiles(
    networks: Sequence[LSTMNetwork], x: torch.Tensor, h: int, combine: str
) -> np.ndarray:
    """Every learned quantile of windows ``x``, in scaled units: (k, h, Q + 1), ascending."""
    chunks = [quantile_forecast(networks, chunk, combine) for chunk in x.split(FORECAST_CHUNK)]
    return torch.cat(chunks).double().cpu().numpy()[:, :h]


def input_windows(
    panel: Panel,
    series: np.ndarray,
    ends: np.ndarray,
    scaler: SeriesScaler,
    window: int,
    scaler_kind: str,
    inputs: Callable[[np.ndarray, np.ndarray, str | None, np.ndarray | None], torch.Tensor],
    covariates: CovariateScaler | None = None,
    ahead: tuple[int, torch.Tensor] | None = None,
    transform: str | None = None,
    floored: bool = False,
) -> tuple[torch.Tensor, np.ndarray]:
    """Input windows (k, window, features) ending before rows ``ends`` of series ``series``,
    and their scaler rows (k,). ``inputs(scaled, ds, tz, covariates)`` adds the features beside
    the target; ``covariates`` scales the panel's covariate values.

    ``ahead`` = (horizon, mask): the windows go on over the ``horizon`` rows after ``ends``
    (k, window + horizon, features), keeping only the features ``mask`` marks there (the
    future-known covariates); rows past a series' end are zeros. ``transform``: the model's
    target transform, applied to the window's values before scaling (``panel`` is in the
    user's units); ``floored``: a value <= 0 is read as its series' smallest above 0 in
    ``panel`` (the recipe's log, :mod:`lstmcast.target_transform`).
    """
    rows = scaler.rows_of(panel.ids)[series]
    # Only the rows inside the windows are scaled: forecasting 10,000 long series reads
    # 10,000 windows, not every point.
    index = ends[:, None] - window + np.arange(window)[None, :]  # (k, window)
    shift, scale = scaler.shift[rows, None], scaler.scale[rows, None]
    values = panel.y[index]
    floor = None
    if floored and transform == "log" and (values <= 0).any():
        floor = smallest_positive(panel)[series, None]
    with np.errstate(over="ignore"):  # refused just below, with the series named
        scaled = (model_values(values, transform, floor) - shift) / scale
    check_scaled(panel, scaled, index, scaler_kind)
    scaled_covariates = None
    if covariates is not None:
        scaled_covariates = covariates.transform(panel.covariates[index], rows)
    x = inputs(scaled, panel.ds[index], panel.tz, scaled_covariates)
    if ahead is not None:
        horizon, mask = ahead
        later = ends[:, None] + np.arange(horizon)[None, :]  # (k, horizon)
        inside = later < panel.ends[series][:, None]
        later = np.where(inside, later, ends[:, None] - 1)  # any row: zeroed below
        future = None
        if covariates is not None:
            future = covariates.transform(panel.covariates[later], rows)
        x_ahead = inputs(np.zeros(later.shape), panel.ds[later], panel.tz, future)
        x_ahead = x_ahead * mask * torch.from_numpy(inside)[..., None]
        x = torch.cat([x, x_ahead], dim=1)
    return x, rows


@torch.no_grad()
def scaled_forecast(
    networks: Sequence[LSTMNetwork],
    x: torch.Tensor,
    h: int,
    horizon: int,
    window: int,
    combine: str,
) -> np.ndarray:
    """``h`` steps (k, h) in scaled units from windows ``x`` (k, window, features).

    Beyond the networks' ``horizon`` the forecast is recursive: each block is fed back as the
    newest inputs (only for inputs that are the target alone, no calendar features or
    covariates; any other feature, a missing-value indicator, is 0 there: observed).
    """
    # Written in place, block by block: a long recursive forecast keeps no list of blocks.
    scaled = np.empty((len(x), h))
    for first, chunk in zip(itertools.count(0, FORECAST_CHUNK), x.split(FORECAST_CHUNK)):
        out = scaled[first : first + len(chunk)]
        for done in range(0, h, horizon):
            block = point_forecast(networks, chunk, combine)  # (B, horizon)
            out[:, done : done + horizon] = block[:, : h - done].double().cpu().numpy()
            if done + horizon < h:  # recursive: forecasts become the newest inputs
                fed = torch.nn.functional.pad(block[..., None], (0, chunk.shape[-1] - 1))
                chunk = torch.cat([chunk, fed], dim=1)[:, -window:]
    return scaled


def refuse_recursion(h: int, horizon: int, calendar: Sequence[str], covariates: object) -> None:
    """Forecasts past the ``horizon`` are fed back as inputs: not with other inputs beside them
    (``calendar`` features or ``covariates``, a truthy CovariateSpec)."""
    inputs = "calendar features" if calendar else None
    inputs = "covariates" if covariates else inputs
    if inputs and h > horizon:
        raise ConfigError(
            f"{option('h', h)} is beyond the model's horizon {horizon}, and a model with "
            f"{inputs} cannot feed its forecasts back; train with {option('horizon', h)}"
        )
