"""``baseline="seasonal"``: the network forecasts a correction to each window's seasonal naive
forecast, starting from none, so an untrained network is seasonal naive; both LSTM paths, the
quantile heads and save/load keep it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import lstmcast as lc
from lstmcast.model import LSTMNetwork, NetworkConfig

SEASON = 12


def seasonal_frame(n: int = 120) -> pd.DataFrame:
    t = np.arange(n)
    rng = np.random.default_rng(0)
    frames = []
    for uid, level in (("a", 10.0), ("b", 200.0)):
        y = level + 3 * np.sin(2 * np.pi * t / SEASON) + 0.05 * t + rng.normal(0, 0.3, n)
        frames.append(pd.DataFrame({"unique_id": uid, "ds": t, "y": y}))
    return pd.concat(frames, ignore_index=True)


@pytest.mark.parametrize("window_norm", [None, "revin", "last"])
def test_an_untrained_network_is_seasonal_naive(window_norm: str | None) -> None:
    torch.manual_seed(0)
    config = NetworkConfig(
        hidden_size=8, horizon=30, window_norm=window_norm, baseline_season=SEASON
    )
    network = LSTMNetwork(config).eval()
    x = torch.randn(5, 36, 1)
    expected = x[:, -SEASON:, 0].repeat(1, 3)[:, :30]  # the last season, repeated
    torch.testing.assert_close(network(x), expected)
    traced, _ = network.trace(x)
    torch.testing.assert_close(traced, expected)


def test_the_correction_is_added_to_the_baseline_on_both_paths() -> None:
    torch.manual_seed(1)
    config = NetworkConfig(
        hidden_size=8, horizon=7, window_norm="revin", segment=4, baseline_season=4
    )
    network = LSTMNetwork(config).eval()
    torch.nn.init.normal_(network.head.weight)  # a trained correction, not zero
    x = torch.randn(3, 16, 1)
    fused = network(x)
    traced, _ = network.trace(x)
    torch.testing.assert_close(fused, traced)
    plain = LSTMNetwork(NetworkConfig(**{**config.to_dict(), "baseline_season": 0})).eval()
    plain.load_state_dict(network.state_dict())
    baseline = x[:, -4:, 0][:, torch.arange(7) % 4]
    level = x[..., 0].mean(dim=1, keepdim=True)
    torch.testing.assert_close(fused - baseline, plain(x) - level)


def test_quantile_heads_are_centred_on_the_baseline_too() -> None:
    torch.manual_seed(2)
    config = NetworkConfig(hidden_size=8, horizon=5, baseline_season=3, quantiles=(0.1, 0.9))
    network = LSTMNetwork(config).eval()
    x = torch.randn(4, 9, 1)
    stacked = network.quantile_forecast(x)  # (B, horizon, 3): 0.1, median, 0.9
    torch.testing.assert_close(stacked[..., 1], network(x))
    torch.testing.assert_close(stacked[..., 1], x[:, -3:, 0][:, torch.arange(5) % 3])
    assert bool((stacked[..., 0] <= stacked[..., 1]).all())
    assert bool((stacked[..., 2] >= stacked[..., 1]).all())


def test_a_model_that_barely_trains_forecasts_seasonal_naive() -> None:
    """The whole pipeline (scaling, windows, de-scaling): with a learning rate of 1e-12 the
    correction stays at zero and the forecast is seasonal naive's, in the series' units."""
    df = seasonal_frame()
    model = lc.LSTMForecaster(
        recipe="tutorial", window=24, horizon=18, hidden_size=8, epochs=1, lr=1e-12,
        baseline="seasonal", season_length=SEASON, window_norm="revin", random_state=0,
    ).fit(df)  # fmt: skip
    naive = lc.SeasonalNaive(SEASON).fit(df).predict(18)
    np.testing.assert_allclose(model.predict(18)["LSTM"], naive["SeasonalNaive"], rtol=1e-5)


def test_seasonal_baseline_learns_and_round_trips(tmp_path: Path) -> None:
    df = seasonal_frame()
    model = lc.LSTMForecaster(
        window=36, horizon=12, hidden_size=16, epochs=30, baseline="seasonal",
        season_length=SEASON, ensemble_size=1, random_state=0,
    ).fit(df)  # fmt: skip
    assert model.settings_["baseline"] == "seasonal"
    assert model.network_.config.baseline_season == SEASON
    model.save(tmp_path / "m")
    loaded = lc.load(tmp_path / "m")
    pd.testing.assert_frame_equal(loaded.predict(24), model.predict(24))
    assert loaded.get_params()["baseline"] == "seasonal"


def test_a_season_longer_than_the_window_is_refused() -> None:
    model = lc.LSTMForecaster(
        recipe="tutorial", window=10, baseline="seasonal", season_length=SEASON, epochs=1
    )
    with pytest.raises(lc.ConfigError, match="season_length 12 must not exceed window 10"):
        model.fit(seasonal_frame())


def test_the_command_line_takes_the_baseline(tmp_path: Path) -> None:
    from tests.test_cli import run

    data = tmp_path / "d.csv"
    seasonal_frame().to_csv(data, index=False)
    options = ["--window", "24", "--horizon", "6", "--hidden-size", "4", "--epochs", "1"]
    options += ["--baseline", "seasonal", "--season-length", "12", "--quiet"]
    result = run("train", data, "-o", tmp_path / "m", *options)
    assert result.exit_code == 0, result.output
    assert lc.load(tmp_path / "m").settings_["baseline"] == "seasonal"
