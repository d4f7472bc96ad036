"""interval_scale="seasonal": the interval bounds' loss terms in units of each window's seasonal
differences, the median's in its own."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

import lstmcast as lc
from lstmcast.model import LSTMNetwork, NetworkConfig
from lstmcast.train import Objective, batch_loss, bound_weights, pinball_terms
from tests.test_quantile_training import SETTINGS as QUANTILE_SETTINGS

# test_quantile_training's small model, with an 80% interval and a season inside its window.
SETTINGS: dict[str, Any] = QUANTILE_SETTINGS | {"season_length": 6, "quantile_levels": (80,)}
# The seasonal unit with season 2, for network_and_batch's windows.
SEASONAL = Objective("mae", interval_scale="seasonal", season_length=2)


def network_and_batch() -> tuple[LSTMNetwork, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    network = LSTMNetwork(NetworkConfig(hidden_size=6, horizon=3, quantiles=(0.1, 0.9)))
    # Windows whose seasonal differences (season 2) differ tenfold from one to the next.
    x = torch.randn(8, 12, 1) * torch.tensor([0.1, 1.0] * 4)[:, None, None]
    return network, x, torch.randn(8, 3)


def test_weights_are_the_inverse_seasonal_scale_over_its_batch_mean() -> None:
    network, x, _ = network_and_batch()
    weights = bound_weights(network, x, SEASONAL)
    assert weights is not None
    scale = (x[:, 2:, 0] - x[:, :-2, 0]).abs().mean(dim=1) + 1e-3
    expected = (1 / scale) / (1 / scale).mean()
    torch.testing.assert_close(weights, expected)
    assert weights.mean().item() == pytest.approx(1.0)
    assert bound_weights(network, x, Objective(season_length=2)) is None


def test_a_flat_window_weighs_no_more_than_its_series_floor_allows() -> None:
    """A window that stopped moving (a stuck sensor) is weighed in the unit its interval is
    calibrated in (forecasting.score_unit), not at 1 / 1e-3."""
    from lstmcast.forecasting import SPREAD_FLOOR, WINDOW_FLOOR

    network, x, _ = network_and_batch()
    x[0] = 0.7
    unfloored = bound_weights(network, x, SEASONAL)
    assert unfloored is not None
    assert unfloored[0] > 50 * unfloored[1:].max()  # the batch's bound terms are all its
    series_spread = torch.linspace(0.5, 1.5, len(x), dtype=torch.float64)
    weights = bound_weights(network, x, SEASONAL, series_spread)
    assert weights is not None
    spread = (x[:, 2:, 0] - x[:, :-2, 0]).abs().mean(dim=1).double()
    unit = torch.maximum(spread, SPREAD_FLOOR * series_spread) + WINDOW_FLOOR
    torch.testing.assert_close(weights, ((1 / unit) / (1 / unit).mean()).float())
    assert weights[0] < 2 * weights[1:].max()  # beside the others, not above them all
    _, _, y = network_and_batch()
    plain = batch_loss(network, x, y, SEASONAL)
    assert batch_loss(network, x, y, SEASONAL, series_spread=series_spread) != plain


def test_fit_windows_carry_their_series_spread(two_series: pd.DataFrame) -> None:
    """Training and validation windows know their series' spread: the loss and the
    calibration floor each window's unit with it."""
    from lstmcast.data import Panel
    from lstmcast.fitting import fit_windows, training_points
    from lstmcast.windows import SeriesScaler

    panel = Panel.from_data(two_series)
    n_train = training_points(panel, 12, 3, 20)
    scaler = SeriesScaler.fit(panel, n_train)
    common = {"window": 12, "horizon": 3, "scaler_kind": "standard", "calendar": ()}
    cpu = torch.device("cpu")
    train, val, _ = fit_windows(panel, scaler, n_train, cpu, validate=True, **common)
    assert train.series_spread is None
    assert train.spread_of(torch.arange(2)) is None
    scaler = scaler.with_spread(panel, n_train, 2)
    assert scaler.spread is not None
    assert scaler.spread[0] != scaler.spread[1]
    train, val, _ = fit_windows(panel, scaler, n_train, cpu, validate=True, **common)
    for windows in (train, val):
        assert windows is not None
        series = np.searchsorted(panel.starts, windows.starts.numpy(), "right") - 1
        assert set(series.tolist()) == {0, 1}
        index = torch.arange(len(windows))
        torch.testing.assert_close(
            windows.spread_of(index), torch.from_numpy(scaler.spread[series])
        )


def test_only_the_bounds_terms_are_weighted() -> None:
    network, x, y = network_and_batch()
    forecast = network.quantile_forecast(x)
    weights = torch.linspace(0.5, 2.0, len(x))
    plain = pinball_terms(forecast, y, (0.1, 0.9), median_weight=2.0)
    weighted = pinball_terms(forecast, y, (0.1, 0.9), median_weight=2.0, bound_weights=weights)
    median = 2.0 * pinball_terms(forecast[..., 1:2], y, ())  # the median's own term (level 0.5)
    torch.testing.assert_close(weighted - median, (plain - median) * weights[:, None])


def test_the_loss_with_the_seasonal_unit_differs_and_trains(two_series: pd.DataFrame) -> None:
    network, x, y = network_and_batch()
    plain = batch_loss(network, x, y, Objective("mae"))
    seasonal = batch_loss(network, x, y, SEASONAL)
    assert seasonal.item() != pytest.approx(plain.item())
    model = lc.LSTMForecaster(**SETTINGS, interval_scale="seasonal").fit(two_series)
    forecast = model.predict(4, level=[80])
    assert (forecast["LSTM-lo-80"] <= forecast["LSTM"]).all()
    assert (forecast["LSTM"] <= forecast["LSTM-hi-80"]).all()
    other = lc.LSTMForecaster(**SETTINGS).fit(two_series).predict(4, level=[80])
    assert not np.allclose(forecast["LSTM-hi-80"], other["LSTM-hi-80"])


def test_settings_it_does_not_go_with_are_refused(two_series: pd.DataFrame) -> None:
    settings = SETTINGS | {"quantile_levels": None}
    with pytest.raises(lc.ConfigError, match="quantile_levels"):
        lc.LSTMForecaster(**settings, interval_scale="seasonal").fit(two_series)
    yearly = SETTINGS | {"season_length": 24}  # not shorter than the window
    with pytest.raises(lc.ConfigError, match="season_length"):
        lc.LSTMForecaster(**yearly, interval_scale="seasonal").fit(two_series)
    with pytest.raises(lc.ConfigError, match="interval_scale"):
        lc.LSTMForecaster(**SETTINGS, interval_scale="window").fit(two_series)
