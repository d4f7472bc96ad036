"""Conformal prediction intervals: calibrated on the validation tail, never crossing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import lstmcast as lc
from lstmcast.model import LSTMNetwork

NOISE = 0.3


def covered(frame: pd.DataFrame, level: int) -> float:
    """The share of actual values inside the ``level`` interval of a backtest frame."""
    inside = (frame["y"] >= frame[f"LSTM-lo-{level}"]) & (frame["y"] <= frame[f"LSTM-hi-{level}"])
    return float(inside.mean())


@pytest.fixture(scope="module")
def noisy() -> np.ndarray:
    """A clean daily cycle plus Gaussian noise of known size: the achievable interval is known."""
    t = np.arange(2400)
    return np.sin(2 * np.pi * t / 24) + np.random.default_rng(3).normal(0, NOISE, len(t))


@pytest.fixture(scope="module")
def model(noisy: np.ndarray) -> lc.LSTMForecaster:
    train = noisy[:2000]
    settings = {"window": 48, "horizon": 4, "hidden_size": 16, "epochs": 4, "batch_size": 64}
    return lc.LSTMForecaster(**settings, lr=0.01, val_size=400, random_state=0).fit(train)


def test_coverage_is_near_nominal_on_held_out_data(
    model: lc.LSTMForecaster, noisy: np.ndarray
) -> None:
    frame = model.backtest(noisy, h=4, n_windows=397, step_size=1, level=[80, 95])
    for level in (80, 95):
        assert covered(frame, level) == pytest.approx(level / 100, abs=0.05)
    # With Gaussian noise of sd 0.3 a 95% interval cannot be much narrower than +-1.96 * 0.3.
    half_width = (frame["LSTM-hi-95"] - frame["LSTM-lo-95"]).mean() / 2
    assert 1.96 * NOISE * 0.9 < half_width < 1.96 * NOISE * 1.6
    scores = lc.evaluate(frame, train=lc.to_long(noisy[:2000]))
    assert scores.loc["LSTM", "coverage-95"] == pytest.approx(95, abs=5)


def test_intervals_nest_and_never_cross(model: lc.LSTMForecaster) -> None:
    forecast = model.predict(level=[50, 80, 95])
    assert list(forecast.columns[3:]) == [
        "LSTM-lo-50", "LSTM-hi-50", "LSTM-lo-80", "LSTM-hi-80", "LSTM-lo-95", "LSTM-hi-95",
    ]  # fmt: skip
    assert (forecast["LSTM-lo-95"] <= forecast["LSTM-lo-80"]).all()
    assert (forecast["LSTM-lo-80"] <= forecast["LSTM-lo-50"]).all()
    assert (forecast["LSTM-lo-50"] <= forecast["LSTM"]).all()
    assert (forecast["LSTM"] <= forecast["LSTM-hi-50"]).all()
    assert (forecast["LSTM-hi-80"] <= forecast["LSTM-hi-95"]).all()


def test_intervals_survive_save_and_load(model: lc.LSTMForecaster, tmp_path: Path) -> None:
    model.save(tmp_path / "m")
    pd.testing.assert_frame_equal(
        lc.load(tmp_path / "m").predict(level=[90]), model.predict(level=[90])
    )


def test_interval_errors(model: lc.LSTMForecaster, noisy: np.ndarray) -> None:
    with pytest.raises(lc.ConfigError, match="h=5 is beyond them: train with horizon=5"):
        model.predict(5, level=[80])
    with pytest.raises(lc.ConfigError, match="level must be"):
        model.predict(level=[0])
    with pytest.raises(lc.ConfigError, match="level must be below 100"):
        model.predict(level=[100])
    uncalibrated = lc.LSTMForecaster(recipe="tutorial", window=8, hidden_size=4, epochs=1).fit(
        noisy[:100]
    )
    with pytest.raises(lc.ConfigError, match="trained without val_size"):
        uncalibrated.predict(level=[80])
    with pytest.raises(lc.ConfigError, match="Naive has no prediction intervals"):
        lc.Naive().fit(noisy).predict(3, level=[80])


def test_cli_forecast_with_levels(noisy: np.ndarray, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from lstmcast import cli

    data = tmp_path / "d.csv"
    pd.DataFrame({"ds": np.arange(600), "y": noisy[:600]}).to_csv(data, index=False)
    runner = CliRunner()
    trained = runner.invoke(
        cli.app,
        ["train", str(data), "-o", str(tmp_path / "m"), "--window", "24", "--horizon", "6",
         "--hidden-size", "8", "--epochs", "1", "--val-size", "100", "--quiet"],
    )  # fmt: skip
    assert trained.exit_code == 0, trained.output
    # 95 windows of one series overlap into 16 whole horizons of 6: fewer than a 95% level's 19.
    assert (
        "warning: the 95% intervals are calibrated on 95 validation windows that span 16 "
        "horizons of 1 series without overlap, fewer than the 19 independent ones"
    ) in trained.stderr.replace("\n", " ")
    out = tmp_path / "f.csv"
    result = runner.invoke(
        cli.app, ["forecast", str(tmp_path / "m"), "--level", "80", "--level", "95", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out)
    assert list(frame.columns) == [
        "unique_id", "ds", "LSTM", "LSTM-lo-80", "LSTM-hi-80", "LSTM-lo-95", "LSTM-hi-95",
    ]  # fmt: skip
    assert (frame["LSTM-lo-95"] <= frame["LSTM-lo-80"]).all()
    # The forecast that uses the 95% intervals says it too; 80% needs 4 horizons (16 are there),
    # and a forecast without intervals has nothing to say.
    assert "warning: the 95% intervals are calibrated on 95 " in result.stderr.replace("\n", " ")
    for levels in (["--level", "80"], []):
        quiet = runner.invoke(cli.app, ["forecast", str(tmp_path / "m"), *levels, "-o", str(out)])
        assert quiet.exit_code == 0, quiet.output
        assert "warning" not in quiet.stderr


def test_repeated_levels_give_the_single_levels_band(
    model: lc.LSTMForecaster, noisy: np.ndarray, tmp_path: Path
) -> None:
    """Levels are a set: 80 twice, or 80 and 80.0, is the 80% interval, not a wider one."""
    single = model.predict(level=[80, 95])
    pd.testing.assert_frame_equal(model.predict(level=[80, 80, 80.0, 95, 95.0]), single)
    pd.testing.assert_frame_equal(model.predict(level=[95, 80, 80]), single)
    pd.testing.assert_frame_equal(model.predict(level=[80, 80]), model.predict(level=80))
    backtest = {"h": 4, "n_windows": 3}
    pd.testing.assert_frame_equal(
        model.backtest(noisy, **backtest, level=[80.0, 80, 80]),
        model.backtest(noisy, **backtest, level=[80]),
    )

    from typer.testing import CliRunner

    from lstmcast import cli

    model.save(tmp_path / "m")
    frames = []
    for levels in (["80", "95"], ["80", "80", "80.0", "95"]):
        out = tmp_path / f"f{len(levels)}.csv"
        flags = [arg for level in levels for arg in ("--level", level)]
        result = CliRunner().invoke(
            cli.app, ["forecast", str(tmp_path / "m"), *flags, "-o", str(out)]
        )
        assert result.exit_code == 0, result.output
        frames.append(pd.read_csv(out))
    pd.testing.assert_frame_equal(frames[1], frames[0])


# -- learned quantiles --------------------------------------------------------------------------


def test_quantile_heads_never_cross() -> None:
    import torch

    from lstmcast.model import LSTMNetwork, NetworkConfig

    torch.manual_seed(0)
    quantiles = (0.025, 0.1, 0.9, 0.975)
    network = LSTMNetwork(
        NetworkConfig(hidden_size=8, horizon=3, quantiles=quantiles, window_norm="revin")
    )
    with torch.no_grad():
        for p in network.parameters():
            p.normal_(0, 3)  # wild weights: the ordering must hold by construction
        forecast = network.quantile_forecast(torch.randn(64, 12, 1) * 5)
    assert forecast.shape == (64, 3, 5)
    assert (forecast.diff(dim=-1) >= 0).all()
    x = torch.randn(4, 12, 1)
    with torch.no_grad():
        torch.testing.assert_close(network.quantile_forecast(x)[..., 2], network(x))  # the median


def test_pinball_loss_closed_form() -> None:
    import torch

    from lstmcast.train import pinball_loss

    y = torch.tensor([[1.0]])
    forecast = torch.tensor([[[0.0, 1.0, 3.0]]])  # quantiles 0.1, 0.5, 0.9
    # 0.1 * (1 - 0) + 0 + (0.9 - 1) * (1 - 3) = 0.1 + 0.2
    assert pinball_loss(forecast, y, (0.1, 0.9)).item() == pytest.approx(0.3)


@pytest.fixture(scope="module")
def quantile_model(noisy: np.ndarray) -> lc.LSTMForecaster:
    settings = {"window": 48, "horizon": 4, "hidden_size": 16, "epochs": 6, "batch_size": 64}
    settings["ensemble_size"] = 1
    return lc.LSTMForecaster(**settings, lr=0.01, quantile_levels=(80, 95), random_state=0).fit(
        noisy[:2000]
    )


def test_learned_intervals_cover_held_out_data(
    quantile_model: lc.LSTMForecaster, noisy: np.ndarray
) -> None:
    frame = quantile_model.backtest(noisy, h=4, n_windows=397, step_size=1, level=[80, 95])
    for level in (80, 95):
        assert covered(frame, level) == pytest.approx(level / 100, abs=0.07)
    assert (frame["LSTM-lo-95"] <= frame["LSTM-lo-80"]).all()
    assert (frame["LSTM-lo-80"] <= frame["LSTM"]).all()
    assert (frame["LSTM"] <= frame["LSTM-hi-80"]).all()
    assert (frame["LSTM-hi-80"] <= frame["LSTM-hi-95"]).all()


def test_learned_intervals_errors_and_round_trip(
    quantile_model: lc.LSTMForecaster, noisy: np.ndarray, tmp_path: Path
) -> None:
    with pytest.raises(
        lc.ConfigError, match=r"learned intervals for levels \[80, 95\], not \[90\]"
    ):
        quantile_model.predict(level=[90])
    quantile_model.save(tmp_path / "q")
    pd.testing.assert_frame_equal(
        lc.load(tmp_path / "q").predict(level=[80, 95]), quantile_model.predict(level=[80, 95])
    )
    with pytest.raises(lc.ConfigError, match="quantile_levels must be a list of levels"):
        lc.LSTMForecaster(window=8, quantile_levels=90).fit(noisy[:100])
    with pytest.raises(lc.ConfigError, match="quantile_levels must be"):
        lc.LSTMForecaster(window=8, quantile_levels=(0,)).fit(noisy[:100])


def test_learned_intervals_run_the_network_once(
    quantile_model: lc.LSTMForecaster, noisy: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    point = quantile_model.backtest(noisy, h=4, n_windows=20, step_size=1)
    calls = {"forward": 0, "quantile_forecast": 0}
    for name in calls:
        original = getattr(LSTMNetwork, name)

        def counted(self: LSTMNetwork, x: torch.Tensor, _name=name, _original=original):
            calls[_name] += 1
            return _original(self, x)

        monkeypatch.setattr(LSTMNetwork, name, counted)
    with_levels = quantile_model.backtest(noisy, h=4, n_windows=20, step_size=1, level=[80, 95])
    assert calls == {"forward": 0, "quantile_forecast": 1}
    # The point forecast is the heads' median either way.
    np.testing.assert_allclose(with_levels["LSTM"], point["LSTM"], rtol=0, atol=1e-9)


@pytest.fixture(scope="module")
def conformalized_model(noisy: np.ndarray) -> lc.LSTMForecaster:
    """Quantile heads barely trained (one epoch), then conformalized on a validation tail."""
    settings = {"window": 48, "horizon": 4, "hidden_size": 16, "epochs": 1, "batch_size": 64}
    return lc.LSTMForecaster(
        **settings, lr=0.01, quantile_levels=(80, 95), val_size=400, random_state=0
    ).fit(noisy[:2000])


def test_conformalized_quantiles_hold_their_level(
    conformalized_model: lc.LSTMForecaster, noisy: np.ndarray
) -> None:
    frame = conformalized_model.backtest(noisy, h=4, n_windows=397, step_size=1, level=[80, 95])
    calibration = conformalized_model.calibration_
    conformalized_model.calibration_ = None  # the heads' own intervals, for comparison
    try:
        raw_frame = conformalized_model.backtest(
            noisy, h=4, n_windows=397, step_size=1, level=[80, 95]
        )
    finally:
        conformalized_model.calibration_ = calibration
    for level in (80, 95):
        assert covered(frame, level) == pytest.approx(level / 100, abs=0.05)
        assert not np.allclose(frame[f"LSTM-lo-{level}"], raw_frame[f"LSTM-lo-{level}"])
    assert (frame["LSTM-lo-95"] <= frame["LSTM-lo-80"]).all()
    assert (frame["LSTM-lo-80"] <= frame["LSTM"]).all()
    assert (frame["LSTM"] <= frame["LSTM-hi-80"]).all()
    assert (frame["LSTM-hi-80"] <= frame["LSTM-hi-95"]).all()
    assert conformalized_model.calibration_.shape == (2, 1001, 4)


def test_format_1_calibration_still_loads(model: lc.LSTMForecaster, tmp_path: Path) -> None:
    import json

    from safetensors.numpy import load_file, save_file

    model.save(tmp_path / "m")
    config_file, weights_file = (
        tmp_path / "m" / "config.json",
        tmp_path / "m" / "weights.safetensors",
    )
    config = json.loads(config_file.read_text())
    config["format_version"] = 1
    del config["checksums"]  # format 1 recorded none
    config_file.write_text(json.dumps(config))
    tensors = load_file(str(weights_file))
    tensors["calibration.quantiles"] = tensors["calibration.quantiles"][0]  # format 1's shape
    save_file(tensors, str(weights_file))
    pd.testing.assert_frame_equal(
        lc.load(tmp_path / "m").predict(level=[80, 95]), model.predict(level=[80, 95])
    )


def test_intervals_follow_each_windows_variability(
    model: lc.LSTMForecaster, noisy: np.ndarray
) -> None:
    """Corrections are in units of the input window's variability: twice as wild, twice as wide."""
    calm = model.predict(level=[95], df=noisy[:2000])
    wild = model.predict(level=[95], df=2 * noisy[:2000])
    ratio = (wild["LSTM-hi-95"] - wild["LSTM-lo-95"]) / (calm["LSTM-hi-95"] - calm["LSTM-lo-95"])
    assert ratio.to_numpy() == pytest.approx(2.0, rel=0.01)
    with pytest.raises(lc.ConfigError, match="season_length 48 must be shorter than window 48"):
        lc.LSTMForecaster(window=48, season_length=48, val_size=10).fit(noisy[:200])


def test_a_conformalized_model_with_several_levels_saves_and_loads(
    conformalized_model: lc.LSTMForecaster, tmp_path: Path
) -> None:
    # Its calibration table is a transposed view; saving it once failed with "non contiguous".
    conformalized_model.save(tmp_path / "m")
    pd.testing.assert_frame_equal(
        lc.load(tmp_path / "m").predict(level=[80, 95]), conformalized_model.predict(level=[80, 95])
    )


def test_a_calibration_on_few_whole_horizons_is_said() -> None:
    from lstmcast.intervals import independent_horizons, thin_calibration

    # The benchmark sets' shapes: one series' 19 windows of 20 steps, M5's 8 series x 3
    # windows of 28, M4's 414 series x 1 window of 48, fewer windows than series.
    assert independent_horizons(19, 1, 20) == 1
    assert independent_horizons(24, 8, 28) == 8
    assert independent_horizons(414, 414, 48) == 414
    assert independent_horizons(397, 1, 4) == 100
    assert independent_horizons(5, 8, 28) == 5
    assert thin_calibration(95, 414, 414, 48) is None
    assert thin_calibration(80, 24, 8, 28) is None  # 80% needs 4
    said = thin_calibration(95, 24, 8, 28)
    assert said is not None
    assert said.startswith(
        "the 95% intervals are calibrated on 24 validation windows that span 8 horizons of "
        "8 series without overlap, fewer than the 19 independent ones the level needs"
    )


def test_the_caveat_follows_the_models_calibration(model: lc.LSTMForecaster) -> None:
    assert model.calibration_caveat_ is None  # 397 windows of 4 steps: 100 whole horizons
    small = lc.LSTMForecaster(
        window=24, horizon=6, hidden_size=8, epochs=1, val_size=30, random_state=0
    ).fit(np.sin(np.arange(300) / 3))
    assert small.calibration_caveat_ is not None
    assert "25 validation windows that span 5 horizons of 1 series" in small.calibration_caveat_
    # At the levels a forecast asks for: 80% needs 4 horizons, 99% needs 99.
    assert small.caveat_at([80]) is None
    assert small.caveat_at([80, 99]).startswith("the 99% intervals are calibrated on 25 ")
    assert small.caveat_at([]) is None
    uncalibrated = lc.LSTMForecaster(
        window=24, horizon=6, hidden_size=8, epochs=1, val_size=None, random_state=0
    ).fit(np.sin(np.arange(300) / 3))
    assert uncalibrated.calibration_caveat_ is None


def _stuck_series() -> pd.DataFrame:
    """Four seasonal series; 's0' stuck at one value for its last 80 points (a sensor stuck,
    an item out of stock): its input window holds no seasonal change."""
    t = np.arange(400)
    rng = np.random.default_rng(0)
    frames = []
    for k in range(4):
        y = 10 + 3 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 1, len(t))
        if k == 0:
            y[-80:] = 10.0
        frames.append(pd.DataFrame({"unique_id": f"s{k}", "ds": t, "y": y}))
    return pd.concat(frames)


STUCK = {"horizon": 12, "window": 48, "hidden_size": 8, "epochs": 1, "random_state": 0}


def _widths(forecast: pd.DataFrame) -> pd.Series:
    width = forecast["LSTM-hi-95"] - forecast["LSTM-lo-95"]
    return width.groupby(forecast["unique_id"]).mean()


def test_a_flat_input_window_keeps_an_interval_of_its_series_kind(tmp_path: Path) -> None:
    from lstmcast.forecasting import SPREAD_FLOOR

    df = _stuck_series()
    model = lc.LSTMForecaster(**STUCK, val_size=30).fit(df)
    # Each series' mean seasonal difference in training, in its standard deviations.
    spread = model.scaler_.spread
    train = df.groupby("unique_id")["y"].apply(lambda y: y.to_numpy()[:-30])
    for i, series_id in enumerate(model.scaler_.ids):
        values = train[series_id]
        expected = np.abs(values[12:] - values[:-12]).mean() / values.std()
        assert spread[i] == pytest.approx(expected, rel=1e-9)
    widths = _widths(model.predict(level=[95]))  # no warning: the floor holds
    others = widths[["s1", "s2", "s3"]]
    # The stuck series' unit is its floor, a quarter of its usual change (the others' units
    # are their windows' own change, about their usual one).
    assert 0.5 * SPREAD_FLOOR * others.min() < widths["s0"] < 2 * SPREAD_FLOOR * others.max()
    # Saved and loaded, the spreads and bounds are the same.
    model.save(tmp_path / "m")
    loaded = lc.load(tmp_path / "m")
    np.testing.assert_array_equal(loaded.scaler_.spread, spread)
    pd.testing.assert_frame_equal(loaded.predict(level=[95]), model.predict(level=[95]))


def test_a_model_saved_before_series_spreads_loads_and_warns_of_a_flat_window(
    tmp_path: Path,
) -> None:
    import json

    from safetensors.numpy import load_file, save_file

    from lstmcast.files import sha256

    df = _stuck_series()
    lc.LSTMForecaster(**STUCK, val_size=30).fit(df).save(tmp_path / "m")
    weights = tmp_path / "m" / "weights.safetensors"
    tensors = load_file(str(weights))
    del tensors["scaler.spread"]  # as saved before spreads
    save_file(tensors, str(weights), metadata={"format": "lstmcast"})
    config_file = tmp_path / "m" / "config.json"
    config = json.loads(config_file.read_text())
    config["checksums"]["weights.safetensors"] = sha256(weights)
    config["format_version"] = 2  # the format before spreads
    config_file.write_text(json.dumps(config))
    old = lc.load(tmp_path / "m")
    assert old.scaler_.spread is None
    said = r"1 series \('s0'\) forecast from an input window of 48 points where no value"
    with pytest.warns(lc.DataWarning, match=said) as caught:
        forecast = old.predict(level=[95])
    assert caught[0].filename == __file__  # the line that asked for the intervals
    widths = _widths(forecast)
    assert widths["s0"] < 0.05 * widths[["s1", "s2", "s3"]].min()  # a point, as it was
    with pytest.warns(lc.DataWarning, match=said):
        old.backtest(df, 12, n_windows=2, level=[95])
    old.predict()  # no interval asked: nothing to say


def test_new_series_get_their_own_spread_in_cold_start_and_update() -> None:
    df = _stuck_series()
    known = df[df["unique_id"] != "s3"]
    model = lc.LSTMForecaster(**STUCK, val_size=30).fit(known)
    assert list(model.scaler_.ids) == ["s0", "s1", "s2"]
    # s3, new: from its own history (all of it, as its scaling), at forecast time ...
    cold = model._for_series(model._panel_for(df)[0], cold_start=True)
    s3 = df.loc[df["unique_id"] == "s3", "y"].to_numpy()
    expected = np.abs(s3[12:] - s3[:-12]).mean() / s3.std()
    assert cold.scaler_.spread[3] == pytest.approx(expected, rel=1e-9)
    forecast = model.predict(df=df, level=[95], cold_start=True)
    assert _widths(forecast)["s3"] > 0.1 * _widths(forecast)[["s1", "s2"]].min()
    # ... and from its training points when an update adds it (the others keep theirs).
    before = model.scaler_.spread.copy()
    model.update(df, epochs=1)
    assert list(model.scaler_.ids) == ["s0", "s1", "s2", "s3"]
    np.testing.assert_array_equal(model.scaler_.spread[:3], before)
    trained = s3[: -model.settings_["val_size"]]
    expected = np.abs(trained[12:] - trained[:-12]).mean() / trained.std()
    assert model.scaler_.spread[3] == pytest.approx(expected, rel=1e-9)
