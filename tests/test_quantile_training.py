"""quantile_training="separate": one training gives the point model's forecast and the intervals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import lstmcast as lc
from lstmcast.model import LSTMNetwork, NetworkConfig
from lstmcast.train import Objective, TrainingOutput, output_loss, pinball_terms

SETTINGS = {
    "recipe": "tutorial",
    "window": 24,
    "horizon": 4,
    "hidden_size": 8,
    "epochs": 2,
    "batch_size": 32,
    "lr": 0.01,
    "loss": "mae",
    "random_state": 0,
}


@pytest.fixture(scope="module")
def series() -> np.ndarray:
    t = np.arange(400)
    return np.sin(2 * np.pi * t / 12) + np.random.default_rng(5).normal(0, 0.3, len(t))


def gradients(network: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {
        name: torch.zeros_like(p) if p.grad is None else p.grad.clone()
        for name, p in network.named_parameters()
    }


@pytest.mark.parametrize("loss", ["mae", "mse"])
def test_separate_median_gradient_is_the_point_loss_gradient(loss: str) -> None:
    """Every weight but the gap head gets exactly the gradient of the point loss of the median:
    the 2.5% / 97.5% pinball terms reach the gap head only (and under "joint" they do not)."""
    torch.manual_seed(0)
    network = LSTMNetwork(
        NetworkConfig(input_size=1, hidden_size=6, horizon=3, quantiles=(0.1, 0.9))
    )
    x, y = torch.randn(16, 10, 1), torch.randn(16, 3)

    network.zero_grad()
    lc_loss = {"mae": torch.nn.functional.l1_loss, "mse": torch.nn.functional.mse_loss}[loss]
    lc_loss(network(x), y).backward()
    point = gradients(network)

    grads = {}
    for training in ("separate", "joint"):
        network.zero_grad()
        output = TrainingOutput(network, training)(x)
        output_loss(output, y, network, Objective(loss, training)).backward()
        grads[training] = gradients(network)

    for name, grad in point.items():
        if name.startswith("quantile_gaps"):
            assert grad.abs().sum() == 0  # the point loss never reaches the gap head
            assert grads["separate"][name].abs().sum() > 0  # the pinball terms train it
        else:
            torch.testing.assert_close(grads["separate"][name], grad, rtol=0, atol=0)
    # Joint training: the quantile terms pull the median's own head too.
    assert not torch.equal(grads["joint"]["head.weight"], point["head.weight"])


def test_separate_loss_closed_form() -> None:
    """The median's column is scored with the point loss, the others with their pinball terms."""
    y = torch.tensor([[1.0]])
    forecast = torch.tensor([[[0.0, 3.0, 4.0]]])  # quantiles 0.1, 0.5, 0.9
    # 0.1 * (1 - 0) + |3 - 1| + (0.9 - 1) * (1 - 4)
    assert pinball_terms(forecast, y, (0.1, 0.9), "mae").item() == pytest.approx(0.1 + 2 + 0.3)
    assert pinball_terms(forecast, y, (0.1, 0.9), "mse").item() == pytest.approx(0.1 + 4 + 0.3)
    # Joint: the median's term is its pinball term, half the absolute error.
    assert pinball_terms(forecast, y, (0.1, 0.9)).item() == pytest.approx(0.1 + 1 + 0.3)


def test_separate_masked_loss_skips_missing_targets() -> None:
    """With missing targets (missing="mask") the separate loss is that of the observed ones."""
    torch.manual_seed(0)
    network = LSTMNetwork(
        NetworkConfig(input_size=1, hidden_size=4, horizon=2, quantiles=(0.1, 0.9))
    )
    output = torch.randn(3, 2, 3)
    y = torch.tensor([[0.5, np.nan], [1.0, -1.0], [np.nan, 0.2]])
    observed = ~torch.isnan(y)
    expected = pinball_terms(output[observed][:, None], y[observed][:, None], (0.1, 0.9), "mae")
    masked = output_loss(output, y, network, Objective("mae", "separate"))
    assert masked.item() == pytest.approx(expected.mean().item())


def test_separate_point_forecast_is_the_point_models(series: np.ndarray) -> None:
    """With the same seed, the median of quantile heads trained "separate" is the forecast of the
    model without them, to the bit; joint training changes it."""
    point = lc.LSTMForecaster(**SETTINGS).fit(series).predict(4)
    separate = lc.LSTMForecaster(**SETTINGS, quantile_levels=(90,), quantile_training="separate")
    forecast = separate.fit(series).predict(4, level=[90])
    np.testing.assert_array_equal(forecast["LSTM"].to_numpy(), point["LSTM"].to_numpy())
    assert (forecast["LSTM-lo-90"] < forecast["LSTM"]).all()
    assert (forecast["LSTM"] < forecast["LSTM-hi-90"]).all()
    joint = lc.LSTMForecaster(**SETTINGS, quantile_levels=(90,)).fit(series).predict(4)
    assert not np.array_equal(joint["LSTM"].to_numpy(), point["LSTM"].to_numpy())


def test_separate_intervals_cover_and_survive_save_and_load(
    series: np.ndarray, tmp_path: Path
) -> None:
    """Conformalized separate quantiles hold their level on held-out data; the setting is saved."""
    settings = SETTINGS | {"epochs": 4, "val_size": 60, "season_length": 12}
    model = lc.LSTMForecaster(**settings, quantile_levels=(80,), quantile_training="separate")
    model.fit(series[:340])
    frame = model.backtest(series, h=4, n_windows=57, step_size=1, level=[80])
    inside = (frame["y"] >= frame["LSTM-lo-80"]) & (frame["y"] <= frame["LSTM-hi-80"])
    assert float(inside.mean()) == pytest.approx(0.8, abs=0.12)
    model.save(tmp_path / "m")
    loaded = lc.load(tmp_path / "m")
    assert loaded.quantile_training == "separate"
    pd.testing.assert_frame_equal(loaded.predict(level=[80]), model.predict(level=[80]))


def test_a_model_saved_before_the_setting_trained_jointly(
    series: np.ndarray, tmp_path: Path
) -> None:
    """Such a model's heads were trained jointly (the only way then), whatever today's default."""
    settings = SETTINGS | {"epochs": 1, "quantile_training": "separate"}
    model = lc.LSTMForecaster(**settings, quantile_levels=(80,))
    model.fit(series).save(tmp_path / "m")
    config_file = tmp_path / "m" / "config.json"
    config = json.loads(config_file.read_text())
    del config["params"]["quantile_training"]
    config_file.write_text(json.dumps(config))
    assert lc.load(tmp_path / "m").quantile_training == "joint"


def test_an_unknown_quantile_training_is_refused(series: np.ndarray) -> None:
    with pytest.raises(lc.ConfigError, match="quantile_training"):
        lc.LSTMForecaster(**SETTINGS, quantile_training="together").fit(series)


@pytest.mark.parametrize(("training", "searched"), [("joint", False), ("separate", True)])
def test_tune_searches_the_loss_unless_the_heads_replace_it(training: str, searched: bool) -> None:
    """Jointly trained quantile heads train on the pinball loss whatever ``loss`` says; separate
    ones train the median on it, so it is worth searching."""
    from lstmcast.train import training_loss
    from lstmcast.tuning_space import SearchSpace

    base = lc.LSTMForecaster(**SETTINGS).get_params() | {
        "quantile_levels": (90,),
        "quantile_training": training,
        "val_size": 24,
        "season_length": 12,
    }
    assert ("loss" in SearchSpace.around(base, {}, 400).searched) is searched
    assert training_loss("mae", (90,), training) == ("mae+pinball" if searched else "pinball")
    assert training_loss("mae", None, training) == "mae"


def test_validation_at_the_start_trains_on_the_latest_points(series: np.ndarray) -> None:
    """val_at="start": the windows whose targets are each series' first val_size points after
    its first window validate (and calibrate); every later target trains."""
    from lstmcast.data import Panel
    from lstmcast.fitting import fit_windows, scaled_points, training_points
    from lstmcast.windows import SeriesScaler

    panel = Panel.from_data(lc.to_long(series))
    n_train = training_points(panel, 24, 4, 40)
    n_fit = scaled_points(panel, n_train, "start")
    assert n_fit.tolist() == [400]  # the whole series: its oldest points validate
    scaler = SeriesScaler.fit(panel, n_fit)
    common = {"window": 24, "horizon": 4, "scaler_kind": "standard", "calendar": ()}
    windows = {
        at: fit_windows(
            panel, scaler, n_train, torch.device("cpu"), validate=True, val_at=at, **common
        )
        for at in ("end", "start")
    }
    train_end, val_end, _ = windows["end"]
    train_start, val_start, _ = windows["start"]
    # The same numbers of windows, at opposite ends: targets 24..63 validate, 64..399 train.
    assert len(train_start) == len(train_end) == 400 - 40 - 24 - 4 + 1
    assert len(val_start) == len(val_end) == 40 - 4 + 1
    assert val_start.starts.tolist() == list(range(0, 37))
    assert train_start.starts.min().item() == 40
    assert train_start.starts.max().item() == 400 - 24 - 4


def test_a_model_validated_at_the_start_calibrates_there(series: np.ndarray) -> None:
    settings = SETTINGS | {"val_size": 60, "season_length": 12, "val_at": "start"}
    model = lc.LSTMForecaster(**settings, quantile_levels=(80,)).fit(series)
    assert model.histories_[0].val_windows == 60 - 4 + 1
    assert model.histories_[0].train_windows == 400 - 60 - 24 - 4 + 1
    assert model.calibration_size_ == 60 - 4 + 1
    assert model.diagnostics_ is None  # no tail to judge the latest forecasts on
    forecast = model.predict(4, level=[80])
    assert (forecast["LSTM-lo-80"] <= forecast["LSTM"]).all()
    with pytest.raises(lc.ConfigError, match="val_at"):
        lc.LSTMForecaster(**(settings | {"val_at": "middle"})).fit(series)


def test_validation_at_the_start_keeps_the_last_epoch(series: np.ndarray) -> None:
    """The oldest points calibrate; they do not choose the epoch (nor stop training early)."""
    settings = SETTINGS | {"epochs": 3, "val_size": 60, "season_length": 12}
    start = lc.LSTMForecaster(**settings, val_at="start").fit(series)
    assert start.history_.best_epoch == 3
    assert len(start.history_.val_loss) == 3  # still recorded
    with pytest.raises(lc.ConfigError, match="patience"):
        lc.LSTMForecaster(**settings, val_at="start", patience=2).fit(series)


def test_an_update_of_a_model_validated_at_the_start_still_keeps_its_best(
    series: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An update validates on the tail of its new points, as for any model: it keeps the best
    of its epochs and its starting weights there, not the last epoch."""
    import lstmcast.updating

    configs = []
    original = lstmcast.updating.train_members

    def spy(state, config, train_config, *args, **kwargs):  # type: ignore[no-untyped-def]
        configs.append(train_config)
        return original(state, config, train_config, *args, **kwargs)

    monkeypatch.setattr(lstmcast.updating, "train_members", spy)
    settings = SETTINGS | {"epochs": 2, "val_size": 60, "season_length": 12, "val_at": "start"}
    model = lc.LSTMForecaster(**settings).fit(series[:340])
    model.update(lc.to_long(series)[340:].reset_index(drop=True), val_size=8)
    margin = lstmcast.updating.START_MARGIN
    assert [(c.select_epoch, c.keep_start, c.start_margin) for c in configs] == [
        (True, True, margin)
    ]


def test_median_weight_scales_the_median_term_only() -> None:
    """median_weight multiplies the median's term (pinball, or the point loss when separate);
    the others keep theirs, and 1 is the plain sum."""
    y = torch.tensor([[1.0]])
    forecast = torch.tensor([[[0.0, 3.0, 4.0]]])  # quantiles 0.1, 0.5, 0.9
    quantiles = (0.1, 0.9)
    assert pinball_terms(forecast, y, quantiles, None, 4.0).item() == pytest.approx(0.1 + 4 + 0.3)
    assert pinball_terms(forecast, y, quantiles, "mae", 0.5).item() == pytest.approx(0.1 + 1 + 0.3)
    assert torch.equal(
        pinball_terms(forecast, y, quantiles, None, 1.0), pinball_terms(forecast, y, quantiles)
    )


def test_median_weight_moves_the_training_toward_the_point_loss(
    series: np.ndarray, tmp_path: Path
) -> None:
    """A heavier median changes what joint heads learn; the weight is validated and saved, and a
    model saved before it existed weighed the median as the others (1)."""
    settings = SETTINGS | {"epochs": 1, "quantile_levels": (80,)}
    plain = lc.LSTMForecaster(**settings).fit(series).predict(4)
    weighted = lc.LSTMForecaster(**settings, median_weight=4.0).fit(series)
    assert not np.array_equal(weighted.predict(4)["LSTM"].to_numpy(), plain["LSTM"].to_numpy())
    assert weighted.history_.train_loss[0] > 0
    weighted.save(tmp_path / "m")
    assert lc.load(tmp_path / "m").median_weight == 4.0
    config_file = tmp_path / "m" / "config.json"
    config = json.loads(config_file.read_text())
    del config["params"]["median_weight"]
    config_file.write_text(json.dumps(config))
    assert lc.load(tmp_path / "m").median_weight == 1.0
    with pytest.raises(lc.ConfigError, match="median_weight"):
        lc.LSTMForecaster(**settings, median_weight=0).fit(series)
