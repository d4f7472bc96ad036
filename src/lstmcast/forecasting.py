"""From trained networks to forecasts: input windows in, scaled forecasts out.

Sits after training: a panel's windows, scaled by the fitted per-series statistics -> the
networks (their median when an ensemble) -> (k, h) forecasts in scaled units, which the
estimator de-scales. Windows go through the networks in chunks of :data:`FORECAST_CHUNK`, so
forecasting very many series holds one chunk's activations at a time.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import numpy as np
import torch

from .data import Panel
from .model import LSTMNetwork
from .training_range import check_scaled
from .windows import SeriesScaler

# Input windows run through the network at once when forecasting: bounds memory for very many
# series.
FORECAST_CHUNK = 16384


def ensemble_output(
    networks: Sequence[LSTMNetwork], output: Callable[[LSTMNetwork], torch.Tensor]
) -> torch.Tensor:
    """``output`` of the one network in evaluation mode, or its median over the ensemble."""
    for network in networks:
        network.eval()
    if len(networks) == 1:
        return output(networks[0])
    return torch.stack([output(network) for network in networks]).quantile(0.5, dim=0)


def median_forecast(networks: Sequence[LSTMNetwork], x: torch.Tensor) -> torch.Tensor:
    """One block of the horizon, (B, horizon): the network's, or the ensemble's median."""
    return ensemble_output(networks, lambda network: network(x))


def quantile_forecast(networks: Sequence[LSTMNetwork], x: torch.Tensor) -> torch.Tensor:
    """Every learned quantile, (B, horizon, Q + 1): the network's, or the ensemble's median."""
    return ensemble_output(networks, lambda network: network.quantile_forecast(x))


def window_scale(x: torch.Tensor, season_length: int) -> torch.Tensor:
    """Each window's mean absolute seasonal difference, (B,), in scaled units.

    ``x`` (B, window, features) holds the scaled target first. The floor keeps a flat window's
    interval from collapsing to a point: 1e-3 of the series' standard deviation.
    """
    target = x[..., 0].double()
    m = season_length
    return (target[:, m:] - target[:, :-m]).abs().mean(dim=1) + 1e-3


@torch.no_grad()
def scaled_quantiles(networks: Sequence[LSTMNetwork], x: torch.Tensor, h: int) -> np.ndarray:
    """Every learned quantile of windows ``x``, in scaled units: (k, h, Q + 1), ascending."""
    chunks = [quantile_forecast(networks, chunk) for chunk in x.split(FORECAST_CHUNK)]
    return torch.cat(chunks).double().cpu().numpy()[:, :h]


def input_windows(
    panel: Panel,
    series: np.ndarray,
    ends: np.ndarray,
    scaler: SeriesScaler,
    window: int,
    scaler_kind: str,
    inputs: Callable[[np.ndarray, np.ndarray, str | None], torch.Tensor],
) -> tuple[torch.Tensor, np.ndarray]:
    """Input windows (k, window, features) ending before rows ``ends`` of series ``series``,
    and their scaler rows (k,). ``inputs(scaled, ds, tz)`` adds the features beside the target.
    """
    rows = scaler.rows_of(panel.ids)[series]
    # Only the rows inside the windows are scaled: forecasting 10,000 long series reads
    # 10,000 windows, not every point.
    index = ends[:, None] - window + np.arange(window)[None, :]  # (k, window)
    shift, scale = scaler.shift[rows, None], scaler.scale[rows, None]
    with np.errstate(over="ignore"):  # refused just below, with the series named
        scaled = (panel.y[index] - shift) / scale
    check_scaled(panel, scaled, index, scaler_kind)
    return inputs(scaled, panel.ds[index], panel.tz), rows


@torch.no_grad()
def scaled_forecast(
    networks: Sequence[LSTMNetwork], x: torch.Tensor, h: int, horizon: int, window: int
) -> np.ndarray:
    """``h`` steps (k, h) in scaled units from windows ``x`` (k, window, features).

    Beyond the networks' ``horizon`` the forecast is recursive: each block is fed back as the
    newest inputs (only for inputs that are the target alone: no calendar features).
    """
    # Written in place, block by block: a long recursive forecast keeps no list of blocks.
    scaled = np.empty((len(x), h))
    for first, chunk in zip(itertools.count(0, FORECAST_CHUNK), x.split(FORECAST_CHUNK)):
        out = scaled[first : first + len(chunk)]
        for done in range(0, h, horizon):
            block = median_forecast(networks, chunk)  # (B, horizon)
            out[:, done : done + horizon] = block[:, : h - done].double().cpu().numpy()
            if done + horizon < h:  # recursive: forecasts become the newest inputs
                chunk = torch.cat([chunk, block[..., None]], dim=1)[:, -window:]
    return scaled
