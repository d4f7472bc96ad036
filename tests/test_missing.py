"""Missing target values and gaps in time, handled only when asked (``missing``, ``fill_gaps``).

The default stays strict with the messages it always had; each option works through the API and
the command line; fills are exactly what they are named; ``mask`` lets no NaN into the network
or a gradient (hooks on the parameters and the inputs of the network that trains); every fill is
counted, saved and reported, and a forecast from filled points says so.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner, Result

import lstmcast as lc
from lstmcast import cli, fitting
from lstmcast.data import Panel
from lstmcast.missing import INSERTED, MISSING_VALUE, fill_targets, insert_gaps
from lstmcast.model import LSTMNetwork, NetworkConfig

# Tiny and quick: the tutorial's defaults for what is not given.
FAST = {"recipe": "tutorial", "window": 24, "horizon": 6, "hidden_size": 8, "epochs": 2,
        "random_state": 0}  # fmt: skip
N = 120
runner = CliRunner()


def run(*args: object) -> Result:
    return runner.invoke(cli.app, [str(a) for a in args])


def hourly(n: int = N) -> pd.DataFrame:
    """Two hourly series: a noisy daily sine and a noisy trend, complete."""
    rng = np.random.default_rng(0)
    t = np.arange(n)
    ds = pd.date_range("2024-01-01", periods=n, freq="h")
    return pd.concat(
        [
            pd.DataFrame({"unique_id": "a", "ds": ds, "y": np.sin(2 * np.pi * t / 24)}),
            pd.DataFrame({"unique_id": "b", "ds": ds, "y": 10 + 0.05 * t + rng.normal(0, 0.1, n)}),
        ],
        ignore_index=True,
    )


def gappy(n: int = N) -> pd.DataFrame:
    """``hourly`` with 2 rows of 'a' and 1 of 'b' removed (gaps) and 2 values of 'a' and 1 of 'b'
    missing (NaN): 6 missing points in all, 3 of them in the last 48 hours, none at a series'
    start or end."""
    df = hourly(n)
    df.loc[[20, 90, n + 30], "y"] = np.nan
    return df.drop(index=[40, 100, n + 80]).reset_index(drop=True)


def panel_of(df: pd.DataFrame) -> Panel:
    return Panel.from_data(df, keep_missing=True)


# -- the default: strict, with the messages it always had --------------------------------------


def test_defaults_stay_strict_with_the_same_messages(tmp_path: Path) -> None:
    with_nan = hourly()
    with_nan.loc[5, "y"] = np.nan
    message = (
        "series 'a' has a missing value (NaN) at row 5; fill or remove it before forecasting "
        "(lstmcast drops nothing silently)"
    )
    with pytest.raises(lc.DataError) as caught:
        lc.LSTMForecaster(**FAST).fit(with_nan)
    assert str(caught.value) == message
    with pytest.raises(lc.DataError, match="has irregular time steps: 2024-01-01 02:00:00"):
        lc.LSTMForecaster(**FAST).fit(hourly().drop(index=[1]))
    with pytest.raises(lc.DataError, match="missing value"):
        lc.split(with_nan, test_size=6)
    with_nan.to_csv(tmp_path / "nan.csv", index=False)
    result = run("train", tmp_path / "nan.csv", "-o", tmp_path / "m", "--epochs", "1")
    assert result.exit_code == 1
    assert (
        result.stderr.strip() == "error: series 'a' has a missing value (NaN) at line 7 of "
        "nan.csv; fill or remove it before forecasting (lstmcast drops nothing silently)"
    )


def test_fill_gaps_alone_asks_for_a_missing_option(tmp_path: Path) -> None:
    with pytest.raises(lc.ConfigError, match=r"fill_gaps=True inserts .* missing='interpolate'"):
        lc.LSTMForecaster(fill_gaps=True, **FAST).fit(gappy())
    with pytest.raises(lc.ConfigError, match="missing must be one of"):
        lc.LSTMForecaster(missing="zero", **FAST).fit(hourly())
    with pytest.raises(lc.ConfigError, match="fill_gaps must be bool"):
        lc.LSTMForecaster(fill_gaps="yes", **FAST).fit(hourly())
    gappy().to_csv(tmp_path / "g.csv", index=False)
    result = run("train", tmp_path / "g.csv", "-o", tmp_path / "m", "--fill-gaps")
    assert result.exit_code == 1
    assert "--fill-gaps inserts" in result.stderr
    assert "--missing interpolate" in result.stderr


# -- fill_gaps: the right times ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("times", "removed"),
    [
        (pd.date_range("2024-01-01", periods=30, freq="h"), [3, 4, 17]),
        # Calendar days in a zone: 23 hours across the change to summer time.
        (pd.date_range("2024-03-25", periods=15, freq="D", tz="Europe/Paris"), [6, 7]),
        (np.arange(0, 60, 2), [1, 10, 11]),  # integer time, step 2
        (pd.date_range("2023-01-31", periods=14, freq="ME"), [1, 5]),  # month ends
        (pd.bdate_range("2024-01-01", periods=20), [4, 5]),  # business days: no weekends
    ],
    ids=["hourly", "daily-in-a-zone", "integer", "month-ends", "business-days"],
)
def test_fill_gaps_inserts_the_missing_times(times: object, removed: list[int]) -> None:
    complete = pd.DataFrame(
        {"unique_id": "s", "ds": times, "y": np.arange(len(times), dtype=float)}
    )
    filled = lc.fill_gaps(complete.drop(index=removed))
    expected = lc.to_long(complete)
    pd.testing.assert_series_equal(filled["ds"], expected["ds"])
    assert filled["y"].isna().to_numpy().nonzero()[0].tolist() == removed
    panel = insert_gaps(panel_of(complete.drop(index=removed)))
    assert np.flatnonzero(panel.missing == INSERTED).tolist() == removed


def test_fill_gaps_refuses_a_time_off_the_step() -> None:
    df = hourly(30)
    df.loc[5, "ds"] = pd.Timestamp("2024-01-01 04:30")
    off_step = (
        r"series 'a' has a time off its regular step \(frequency '1h'.*2024-01-01 04:30:00 "
        r"follows 2024-01-01 04:00:00"
    )
    with pytest.raises(lc.DataError, match=off_step):
        lc.fill_gaps(df)


# -- interpolate and ffill: exactly what they are named --------------------------------------


def test_interpolate_is_linear_in_time_and_ffill_carries_the_last_value() -> None:
    df = pd.DataFrame(
        {
            "unique_id": ["a"] * 6 + ["b"] * 4,
            "ds": [
                *pd.date_range("2024-01-01", periods=6, freq="h"),
                *pd.date_range("2024-01-01", periods=4, freq="h"),
            ],
            "y": [1.0, np.nan, np.nan, 4.0, 5.0, np.nan, 2.0, 2.5, np.nan, np.nan],
        }
    )
    interpolated = fill_targets(panel_of(df), "interpolate")
    assert interpolated.y.tolist() == [1.0, 2.0, 3.0, 4.0, 5.0, 5.0, 2.0, 2.5, 2.5, 2.5]
    filled = fill_targets(panel_of(df), "ffill")
    assert filled.y.tolist() == [1.0, 1.0, 1.0, 4.0, 5.0, 5.0, 2.0, 2.5, 2.5, 2.5]
    assert interpolated.missing.tolist() == [0, 1, 1, 0, 0, 1, 0, 0, 1, 1]
    masked = fill_targets(panel_of(df), "mask")
    assert np.isnan(masked.y).sum() == 5
    assert (masked.missing == MISSING_VALUE).sum() == 5
    # Linear in time, not in rows: months of 31 and 29 days (2024), Feb 29 missing.
    monthly = pd.DataFrame(
        {
            "unique_id": "m",
            "ds": pd.to_datetime(["2024-01-31", "2024-02-29", "2024-03-31"]),
            "y": [0.0, np.nan, 60.0],
        }
    )
    assert fill_targets(panel_of(monthly), "interpolate").y[1] == pytest.approx(60 * 29 / 60)


@pytest.mark.parametrize("policy", ["interpolate", "ffill"])
def test_nothing_is_filled_before_a_series_first_value(policy: str) -> None:
    df = hourly(30)
    df.loc[[0, 1], "y"] = np.nan
    with pytest.raises(
        lc.DataError,
        match=rf"series 'a' begins with 2 missing values in the data \(its first value is at "
        rf"2024-01-01 02:00:00\): missing='{policy}' fills from the values before",
    ):
        fill_targets(panel_of(df), policy)
    assert np.isnan(fill_targets(panel_of(df), "mask").y[:2]).all()


# -- each option through the API: trained, reported, saved, warned -------------------------------


@pytest.mark.parametrize("policy", ["interpolate", "ffill", "mask"])
def test_each_option_trains_forecasts_and_round_trips(policy: str, tmp_path: Path) -> None:
    model = lc.LSTMForecaster(missing=policy, fill_gaps=True, val_size=12, **FAST).fit(gappy())
    verb = "masked" if policy == "mask" else "filled"
    assert model.fills_.lines() == [
        "inserted 3 missing timestamps in 2 series",
        f"{verb} 6 missing values in 2 series ({policy})",
    ]
    assert dict(zip(model.fills_.ids, model.fills_.filled, strict=True)) == {"a": 4, "b": 2}
    assert model.network_.config.input_size == (2 if policy == "mask" else 1)
    forecast = model.predict(6)
    assert len(forecast) == 12
    assert np.isfinite(forecast["LSTM"]).all()
    # The recursion feeds forecasts back beside a (zero) missing-value indicator.
    assert np.isfinite(model.predict(15)["LSTM"]).all()
    model.save(tmp_path / "m")
    loaded = lc.load(tmp_path / "m")
    assert loaded.fills_ == model.fills_
    pd.testing.assert_frame_equal(loaded.predict(6), forecast)
    # New history with the same gaps is read the same way.
    pd.testing.assert_frame_equal(loaded.predict(6, df=gappy()), forecast)
    backtest = model.backtest(gappy(), h=6, n_windows=8)
    # Actual values the data does not have are NaN, never the fill.
    assert backtest["y"].isna().sum() == 3
    with pytest.raises(lc.DataError, match="NaN or infinite"):
        lc.evaluate(backtest)
    assert np.isfinite(lc.evaluate(backtest, skip_missing=True).loc["LSTM", "MAE"])


def test_a_forecast_from_filled_points_warns(tmp_path: Path) -> None:
    df = gappy()
    df.loc[df.index[df["unique_id"] == "b"][-2:], "y"] = np.nan  # the last 2 points of 'b'
    model = lc.LSTMForecaster(missing="interpolate", fill_gaps=True, **FAST).fit(df)
    said = (
        r"1 forecast starts right after missing values \(filled by interpolate\): 'b', its last "
        r"2 points of its window of 24"
    )
    with pytest.warns(lc.DataWarning, match=said):
        model.predict(6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.predict(6, df=gappy())  # complete at the end: no warning
    model.save(tmp_path / "m")
    with pytest.warns(lc.DataWarning, match="'b', its last 2 points"):
        lc.load(tmp_path / "m").predict(6)
    masked = lc.LSTMForecaster(missing="mask", fill_gaps=True, **FAST).fit(gappy())
    with pytest.warns(lc.DataWarning, match=r"\(masked\): 'b', its last 2 points"):
        masked.predict(6, df=df)


# -- mask: no NaN in the network or a gradient -----------------------------------------------


def test_mask_lets_no_nan_into_the_network_or_a_gradient(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every network trained (its class replaced by one with hooks) sees finite inputs, and
    every gradient that reaches its parameters or its inputs is finite."""
    gradients: list[bool] = []
    inputs: list[bool] = []

    class Hooked(LSTMNetwork):
        def __init__(self, config: NetworkConfig) -> None:
            super().__init__(config)
            for parameter in self.parameters():
                parameter.register_hook(lambda g: gradients.append(bool(torch.isfinite(g).all())))

        def _encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
            inputs.append(bool(torch.isfinite(x).all()))
            if torch.is_grad_enabled():
                x = x.clone().requires_grad_(True)
                x.register_hook(lambda g: gradients.append(bool(torch.isfinite(g).all())))
            return super()._encode(x)

    monkeypatch.setattr(fitting, "LSTMNetwork", Hooked)
    df = gappy()
    df.loc[df.index[df["unique_id"] == "a"][60:84], "y"] = np.nan  # a whole day missing
    for extra in ({"window_norm": "revin"}, {"window_norm": "last", "loss": "mae"},
                  {"quantile_levels": (80,), "segment": 6}):  # fmt: skip
        settings = {**FAST, **extra, "val_size": 12}
        model = lc.LSTMForecaster(missing="mask", fill_gaps=True, **settings).fit(df)
        assert np.isfinite(model.history_.train_loss).all()
        assert np.isfinite(model.predict(6)["LSTM"]).all()
    assert inputs
    assert all(inputs)
    assert len(gradients) > 100
    assert all(gradients)


def test_the_masked_loss_skips_missing_targets_exactly() -> None:
    from lstmcast.train import Objective, output_loss

    network = LSTMNetwork(NetworkConfig(input_size=2, hidden_size=4, horizon=3))
    x = torch.randn(2, 5, 2)
    y = torch.tensor([[1.0, float("nan"), 3.0], [float("nan")] * 3])
    output = network(x)
    masked = output_loss(output, y, network, Objective("mse"))
    assert masked.item() == pytest.approx(((output[0, [0, 2]] - y[0, [0, 2]]) ** 2).mean().item())
    masked.backward()
    assert all(torch.isfinite(p.grad).all() for p in network.parameters())


def test_mask_statistics_and_window_norm_read_observed_values_only() -> None:
    df = hourly(48)
    df.loc[[3, 10, 47], "y"] = np.nan
    panel = fill_targets(panel_of(df), "mask")
    from lstmcast.windows import SeriesScaler

    scaler = SeriesScaler.fit(panel, panel.lengths)
    observed = df.dropna().groupby("unique_id")["y"]
    np.testing.assert_allclose(scaler.shift, observed.mean().to_numpy())
    np.testing.assert_allclose(scaler.scale, observed.std(ddof=0).to_numpy())
    x = torch.tensor([[1.0, 0.0, 3.0, 0.0], [0.0, 1.0, 0.0, 1.0]]).T[None]  # value, indicator
    for norm, level in (("revin", 2.0), ("last", 3.0)):
        network = LSTMNetwork(NetworkConfig(input_size=2, window_norm=norm, missing_indicator=True))
        found, spread = network._window_level(x)
        assert found.item() == pytest.approx(level)
        if norm == "revin":
            assert spread.item() == pytest.approx(np.sqrt(1.0 + 1e-5))


def test_baselines_skip_masked_values() -> None:
    df = hourly(48)
    df.loc[[46, 47, 10], "y"] = np.nan  # 'a' ends with 2 missing values
    naive = lc.Naive(missing="mask").fit(df).predict(2)
    assert naive["Naive"].iloc[0] == df["y"].iloc[45]
    seasonal = lc.SeasonalNaive(24, missing="mask").fit(df).predict(24)
    # Hours 22 and 23 of the last day are missing: the day before's are repeated.
    assert seasonal["SeasonalNaive"].iloc[22] == df["y"].iloc[22]
    assert seasonal["SeasonalNaive"].iloc[23] == df["y"].iloc[23]
    df.loc[23, "y"] = np.nan  # hour 23 missing on both days: nothing to repeat
    with pytest.raises(lc.DataError, match="series 'a' has no observed value to repeat"):
        lc.SeasonalNaive(24, missing="mask").fit(df).predict(24)
    with pytest.raises(lc.DataError, match="missing value"):
        lc.Naive().fit(df)


# -- the command line ----------------------------------------------------------------------------


@pytest.mark.parametrize("policy", ["interpolate", "ffill", "mask"])
def test_each_option_through_the_command_line(policy: str, tmp_path: Path) -> None:
    df = gappy()
    df.loc[df.index[-1], "y"] = np.nan  # 'b' ends with a missing value
    df.to_csv(tmp_path / "g.csv", index=False)
    model = tmp_path / "m"
    result = run("train", tmp_path / "g.csv", "-o", model, "--missing", policy, "--fill-gaps",
                 "--window", 24, "--horizon", 6, "--hidden-size", 8, "--epochs", 1,
                 "--recipe", "tutorial", "--seed", 0)  # fmt: skip
    assert result.exit_code == 0, result.output
    verb = "masked" if policy == "mask" else "filled"
    assert "missing       inserted 3 missing timestamps in 2 series" in result.stdout
    assert f"missing       {verb} 7 missing values in 2 series ({policy})" in result.stdout
    info = run("info", model)
    assert f"missing       inserted 3 missing timestamps in 2 series; {verb} 7" in info.stdout
    assert "most in 'a' 4, 'b' 3" in info.stdout
    forecast = run("forecast", model, "--data", tmp_path / "g.csv", "-o", tmp_path / "f.csv")
    assert forecast.exit_code == 0, forecast.output
    assert "warning: 1 forecast starts right after missing values" in forecast.stderr
    assert "'b', its last point of its window of 24" in forecast.stderr
    assert np.isfinite(pd.read_csv(tmp_path / "f.csv")["LSTM"]).all()


def test_backtest_through_the_command_line(tmp_path: Path) -> None:
    gappy().to_csv(tmp_path / "g.csv", index=False)
    result = run("backtest", tmp_path / "g.csv", "--h", 6, "--n-windows", 2, "--missing", "mask",
                 "--fill-gaps", "--window", 24, "--hidden-size", 8, "--epochs", 1,
                 "--season-length", 24, "--recipe", "tutorial",
                 "-o", tmp_path / "bt.csv")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "inserted 3 missing timestamps in 2 series" in result.stderr
    assert "training part: masked" in result.stderr
    table = pd.read_csv(tmp_path / "bt.csv")
    assert {"LSTM", "Naive", "SeasonalNaive"} <= set(table.columns)
    assert np.isfinite(table[["LSTM", "Naive", "SeasonalNaive"]].to_numpy()).all()


def test_tune_through_the_command_line(tmp_path: Path) -> None:
    pytest.importorskip("optuna")
    gappy().to_csv(tmp_path / "g.csv", index=False)
    result = run("tune", tmp_path / "g.csv", "--horizon", 6, "-o", tmp_path / "t", "--n-trials", 1,
                 "--missing", "mask", "--fill-gaps", "--window", 24, "--epochs", 1,
                 "--hidden-size", 8)  # fmt: skip
    assert result.exit_code == 0, result.output
    tuned = lc.load(tmp_path / "t" / "model")
    assert tuned.fills_.lines()[1] == "masked 6 missing values in 2 series (mask)"


@pytest.mark.parametrize("policy", ["interpolate", "mask"])
def test_an_update_reads_missing_values_as_the_model_does(policy: str, tmp_path: Path) -> None:
    df = gappy()
    first = df[df["ds"] < pd.Timestamp("2024-01-04 12:00")]  # 84 hours: 20 and 40, 30 and 80
    model = lc.LSTMForecaster(missing=policy, fill_gaps=True, **FAST).fit(first)
    assert model.fills_.filled == (2, 2)
    model.update(df)  # all of it again: only the new points count, 'a' misses 90 and 100
    assert dict(zip(model.fills_.ids, model.fills_.filled, strict=True)) == {"a": 4, "b": 2}
    assert np.isfinite(model.predict(6)["LSTM"]).all()
    model.save(tmp_path / "m")
    assert lc.load(tmp_path / "m").fills_ == model.fills_


@pytest.mark.parametrize("settings", [{"window_norm": "revin"}, {"window_norm": "last"}])
def test_an_exported_masked_model_reads_nan_as_predict_does(settings: dict, tmp_path: Path) -> None:
    """onnxruntime, given windows with NaN where values are missing, gives predict's numbers:
    the point forecast, conformal intervals (their window scale skips missing values) and the
    recursion past the horizon (the indicator 0 there)."""
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    df = gappy()
    df.loc[df.index[df["unique_id"] == "b"][[-1, -3]], "y"] = np.nan  # in the last window
    model = lc.LSTMForecaster(
        missing="mask", fill_gaps=True, val_size=30, season_length=12, **FAST | settings
    ).fit(df)
    windows = np.stack([s.to_numpy()[-24:] for _, s in lc.fill_gaps(df).groupby("unique_id")["y"]])
    for h, level in ((6, [80]), (15, None)):
        path = tmp_path / f"m{h}.onnx"
        model.to_onnx(path, h=h, level=level)
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        outputs = session.run(None, {"series": np.arange(2, dtype=np.int64), "window": windows})
        with pytest.warns(lc.DataWarning, match="'b', its last point"):
            expected = model.predict(h, level=level)
        np.testing.assert_allclose(outputs[0].reshape(-1), expected["LSTM"], atol=1e-5)
        if level:
            np.testing.assert_allclose(
                outputs[1][..., 0].reshape(-1), expected["LSTM-lo-80"], atol=1e-5
            )
