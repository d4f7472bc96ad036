"""The modelling options: window normalisation, segments, calendar features, channels,
learning-rate schedules and ensembles."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import lstmcast as lc
from lstmcast.model import LSTMNetwork, NetworkConfig
from lstmcast.optim import schedule_at
from lstmcast.windows import calendar_features

TINY = {
    "recipe": "tutorial",
    "window": 12,
    "hidden_size": 8,
    "epochs": 1,
    "batch_size": 16,
    "random_state": 0,
}


def network(**config: object) -> LSTMNetwork:
    torch.manual_seed(0)
    return LSTMNetwork(NetworkConfig(**({"hidden_size": 8, "horizon": 3} | config))).eval()


def test_revin_forecasts_move_with_the_window() -> None:
    """Instance normalisation: scaling and shifting a window scales and shifts its forecast."""
    net = network(window_norm="revin")
    x = torch.randn(5, 12, 1)
    with torch.no_grad():
        torch.testing.assert_close(net(3 * x + 7), 3 * net(x) + 7, atol=1e-4, rtol=1e-4)
        plain = network()
        assert not torch.allclose(plain(3 * x + 7), 3 * plain(x) + 7, atol=1e-2)


def test_last_value_normalisation_is_shift_equivariant() -> None:
    net = network(window_norm="last")
    x = torch.randn(4, 12, 1)
    with torch.no_grad():
        torch.testing.assert_close(net(x + 100), net(x) + 100, atol=1e-4, rtol=0)
    flat = torch.full((2, 12, 1), 5.0)  # a constant window must not divide by zero
    assert torch.isfinite(network(window_norm="revin")(flat)).all()


def test_segments_shorten_the_recurrence() -> None:
    net = network(segment=4, input_size=3)
    x = torch.randn(2, 12, 3)
    with torch.no_grad():
        direct = net(x)
        via_trace, gates = net.trace(x)
    assert gates.cell.shape == (1, 2, 3, 8)  # 12 steps / 4 per segment = 3 LSTM steps
    torch.testing.assert_close(via_trace, direct, atol=1e-5, rtol=0)
    assert net.embed.in_features == 12


def test_segment_must_divide_the_window(two_series: pd.DataFrame) -> None:
    with pytest.raises(lc.ConfigError, match="segment 5 must divide window 12; try window=10"):
        lc.LSTMForecaster(**TINY, segment=5).fit(two_series)


def test_segmented_revin_model_fits_and_explains(two_series: pd.DataFrame) -> None:
    model = lc.LSTMForecaster(**TINY, horizon=6, segment=4, window_norm="revin").fit(two_series)
    assert len(model.predict()) == 12
    assert model.explain().forget.shape == (1, 2, 3, 8)


def test_calendar_features() -> None:
    ds = pd.date_range("2024-01-01", periods=48, freq="h").to_numpy()  # a Monday
    features = calendar_features(ds, ("hour", "dayofweek"))
    assert features.shape == (48, 4)
    np.testing.assert_allclose(features[0], [0, 1, 0, 1], atol=1e-6)
    np.testing.assert_allclose(features[6, :2], [1, 0], atol=1e-6)  # 06:00: a quarter turn
    np.testing.assert_allclose(features[24, :2], features[0, :2], atol=1e-6)
    with pytest.raises(lc.ConfigError, match="need dates in the time column"):
        calendar_features(np.arange(5), ("hour",))


def test_forecaster_with_calendar_features(two_series: pd.DataFrame) -> None:
    model = lc.LSTMForecaster(**TINY, horizon=4, calendar=("hour", "dayofweek")).fit(two_series)
    assert model.network_.config.input_size == 5
    assert len(model.predict(4)) == 8
    with pytest.raises(
        lc.ConfigError, match="cannot feed its forecasts back; train with horizon=5"
    ):
        model.predict(5)
    with pytest.raises(lc.ConfigError, match="calendar must list some of hour, dayofweek"):
        lc.LSTMForecaster(**TINY, calendar=("minute",)).fit(two_series)
    with pytest.raises(lc.ConfigError, match="need dates"):
        lc.LSTMForecaster(**TINY, calendar="hour").fit(np.arange(50.0))


def test_wide_multivariate_frame_is_channel_independent() -> None:
    rng = np.random.default_rng(0)
    index = pd.date_range("2024-01-01", periods=100, freq="h")
    wide = pd.DataFrame(
        rng.normal(size=(100, 3)).cumsum(axis=0), index=index, columns=["HUFL", "MUFL", "OT"]
    )
    model = lc.LSTMForecaster(**TINY, horizon=2).fit(wide)
    forecast = model.predict()
    assert forecast["unique_id"].unique().tolist() == ["HUFL", "MUFL", "OT"]
    assert model.n_series_ == 3
    assert len(model.networks_) == 1  # one network shared by every channel
    # Each channel keeps its own scaling.
    np.testing.assert_allclose(model.scaler_.shift, wide.mean().to_numpy())


@pytest.mark.parametrize("schedule", ["cosine", "onecycle"])
def test_lr_schedules(schedule: str) -> None:
    rates = [schedule_at(schedule, step, 100, 0.01)[0] for step in range(100)]
    assert max(rates) == pytest.approx(0.01, rel=1e-3)
    assert rates[-1] < 0.001
    if schedule == "onecycle":
        assert rates[0] < 0.001
        assert int(np.argmax(rates)) == pytest.approx(30, abs=1)
    assert schedule_at(None, 5, 100, 0.01) == (0.01, None)


def test_forecaster_trains_with_a_schedule(two_series: pd.DataFrame) -> None:
    model = lc.LSTMForecaster(**(TINY | {"epochs": 2}), lr_schedule="onecycle", lr=0.01).fit(
        two_series
    )
    assert len(model.history_.train_loss) == 2
    with pytest.raises(lc.ConfigError, match="lr_schedule must be one of cosine, onecycle"):
        lc.LSTMForecaster(**TINY, lr_schedule="step").fit(two_series)


@pytest.mark.parametrize("combine", ["median", "mean"])
def test_ensemble_forecasts_the_median_or_mean_of_its_members(
    two_series: pd.DataFrame, tmp_path: Path, combine: str
) -> None:
    model = lc.LSTMForecaster(**TINY, horizon=2, ensemble_size=3, ensemble_combine=combine)
    model.fit(two_series)
    assert len(model.networks_) == len(model.histories_) == 3
    first = [p.detach().clone() for p in model.networks_[0].parameters()]
    assert not torch.equal(first[0], next(model.networks_[1].parameters()))
    forecast = model.predict(4)["LSTM"].to_numpy()
    members = []
    networks = model.networks_
    for member in networks:
        model.networks_ = [member]
        members.append(model.predict(4)["LSTM"].to_numpy())
    model.networks_ = networks
    # Recursion feeds the ensemble's forecast back, so compare the direct part (first 2 steps).
    direct = np.stack(members)[:, [0, 1, 4, 5]]
    combined = np.median(direct, axis=0) if combine == "median" else direct.mean(axis=0)
    np.testing.assert_allclose(forecast[[0, 1, 4, 5]], combined, rtol=1e-5)
    # Three distinct members: their mean and median differ, so the test tells them apart.
    assert not np.allclose(np.median(direct, axis=0), direct.mean(axis=0), rtol=1e-5)
    # Member k is the model a single fit with seed + k would give.
    single = lc.LSTMForecaster(**(TINY | {"random_state": 1}), horizon=2).fit(two_series)
    torch.testing.assert_close(next(single.network_.parameters()), next(networks[1].parameters()))
    model.save(tmp_path / "ensemble")
    loaded = lc.load(tmp_path / "ensemble")
    assert loaded.ensemble_combine == combine
    pd.testing.assert_frame_equal(loaded.predict(4), model.predict(4))


def test_ensemble_mean_of_quantiles_and_old_models_median(
    two_series: pd.DataFrame, tmp_path: Path
) -> None:
    """By default every quantile of quantile heads is the members' mean (still ascending), and
    the conformal calibration measures that combined forecast; a model saved before the
    setting existed forecast the members' median."""
    settings = TINY | {"horizon": 2, "ensemble_size": 3, "quantile_levels": (80,), "val_size": 24}
    model = lc.LSTMForecaster(**settings).fit(two_series)
    assert model.ensemble_combine == "mean"
    x = torch.randn(5, 12, 1)
    with torch.no_grad():
        members = torch.stack([network.quantile_forecast(x) for network in model.networks_])
        combined = model._quantile_forecast(x)
    torch.testing.assert_close(combined, members.mean(dim=0))
    assert (combined.diff(dim=-1) >= 0).all()
    intervals = model.predict(level=[80])
    assert (intervals["LSTM-lo-80"] <= intervals["LSTM"]).all()
    assert (intervals["LSTM"] <= intervals["LSTM-hi-80"]).all()
    median = lc.LSTMForecaster(**settings, ensemble_combine="median").fit(two_series)
    assert median.calibration_ is not None
    assert model.calibration_ is not None
    assert not np.allclose(median.calibration_, model.calibration_)  # measured on each's own
    model.save(tmp_path / "m")
    config_file = tmp_path / "m" / "config.json"
    config = json.loads(config_file.read_text())
    del config["params"]["ensemble_combine"]
    config_file.write_text(json.dumps(config))
    old = lc.load(tmp_path / "m")
    assert old.ensemble_combine == "median"
    with torch.no_grad():
        torch.testing.assert_close(old._quantile_forecast(x), members.quantile(0.5, dim=0))
    with pytest.raises(lc.ConfigError, match="ensemble_combine must be one of median, mean"):
        lc.LSTMForecaster(**settings, ensemble_combine="average").fit(two_series)


def test_forget_bias_starts_every_layer_remembering() -> None:
    lstm = lc.LSTM(2, 5, num_layers=2, forget_bias=1.0)
    for k in range(2):
        gate_bias = (getattr(lstm, f"bias_ih_l{k}") + getattr(lstm, f"bias_hh_l{k}")).detach()
        input_gate, forget, candidate, output = gate_bias.view(4, 5)
        assert (forget == 1.0).all()
        for other in (input_gate, candidate, output):
            assert not other.any()
    # Weights keep torch's initialisation; without the option, so do the biases.
    assert lc.LSTM(2, 5).bias_ih_l0.abs().sum() > 0


def test_forget_bias_changes_the_start_not_the_network(two_series: pd.DataFrame) -> None:
    torch_start = lc.LSTMForecaster(**TINY, forget_bias=None).fit(two_series)
    remembering = lc.LSTMForecaster(**TINY, forget_bias=1.0).fit(two_series)
    assert torch_start.network_.config.forget_bias is None
    assert remembering.network_.config.forget_bias == 1.0
    assert not torch_start.predict()["LSTM"].equals(remembering.predict()["LSTM"])


def test_forget_bias_auto_follows_the_recipe(two_series: pd.DataFrame, tmp_path: Path) -> None:
    """The tutorial's Keras LSTM starts its forget gates at 1; the data-driven recipe keeps
    torch's initialisation (what its settings were chosen with). A model saved before the
    setting existed started from torch's."""
    tutorial = lc.LSTMForecaster(**TINY).fit(two_series)
    assert tutorial.forget_bias == tutorial.network_.config.forget_bias == 1.0
    tutorial.save(tmp_path / "m")
    config_file = tmp_path / "m" / "config.json"
    config = json.loads(config_file.read_text())
    del config["params"]["forget_bias"]
    config_file.write_text(json.dumps(config))
    assert lc.load(tmp_path / "m").forget_bias is None
    auto = lc.LSTMForecaster(**(TINY | {"recipe": "auto", "ensemble_size": 1})).fit(two_series)
    assert auto.forget_bias is None
    assert auto.network_.config.forget_bias is None


def test_every_option_survives_save_and_load(two_series: pd.DataFrame, tmp_path: Path) -> None:
    model = lc.LSTMForecaster(
        **TINY,
        horizon=3,
        segment=3,
        window_norm="last",
        calendar=("hour",),
        lr_schedule="cosine",
        forget_bias=1.0,
    ).fit(two_series)
    model.save(tmp_path / "m")
    loaded = lc.load(tmp_path / "m")
    assert loaded.get_params() == model.get_params()
    pd.testing.assert_frame_equal(loaded.predict(), model.predict())
    pd.testing.assert_frame_equal(
        loaded.backtest(two_series, n_windows=2), model.backtest(two_series, n_windows=2)
    )
