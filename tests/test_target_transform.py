"""``target_transform="log"``: the network learns log(y), and everything a user sees is in y's
units.

The defining property: a model with the log transform fitted on ``y`` is the same model as one
fitted on ``log(y)`` with the same settings and seed, its forecasts and bounds exponentiated.
Then backtests (actuals as given), save and load, bad values, update and cold start, the
command line and the ONNX export.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import lstmcast as lc
from lstmcast import cli
from lstmcast.target_transform import to_model

N_POINTS, WINDOW, H = 96, 12, 4
# Tiny, seeded, with a validation tail so conformal intervals and diagnostics exist.
TINY = {"recipe": "tutorial", "window": WINDOW, "horizon": H, "hidden_size": 8, "epochs": 2,
        "batch_size": 32, "random_state": 0, "val_size": 24, "season_length": 6}  # fmt: skip
QUANTILES = {"quantile_levels": (80,)}  # learned, then conformalized on the validation tail
RTOL = 1e-12  # the same arithmetic on the same numbers: equal but for exp's last bit


def frame(
    n_series: int = 3, n_points: int = N_POINTS, seed: int = 0, first: int = 0
) -> pd.DataFrame:
    """Positive series with a 6-step cycle, levels 1, 10, 100, ... growing e-fold over 96
    steps: multiplicative swings and noise (the recipe's log: Guerrero's lambda near 0)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_points)
    parts = []
    for k in range(n_series):
        level = 10.0 ** (k % 3)
        swings = 0.3 * np.sin(2 * np.pi * t / 6) + rng.normal(0, 0.05, n_points)
        y = level * np.exp(t / 96 + swings)
        ds = pd.date_range("2024-01-01", periods=n_points, freq="h")
        parts.append(pd.DataFrame({"unique_id": chr(ord("a") + first + k), "ds": ds, "y": y}))
    return pd.concat(parts, ignore_index=True)


def logged(df: pd.DataFrame) -> pd.DataFrame:
    return df.assign(y=np.log(df["y"]))


def forecast_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c == "LSTM" or c.startswith("LSTM-")]


def assert_exp_of(got: pd.DataFrame, log_frame: pd.DataFrame) -> None:
    """``got``'s forecast columns are exp of ``log_frame``'s; ids and times the same."""
    assert list(got.columns) == list(log_frame.columns)
    pd.testing.assert_frame_equal(got[["unique_id", "ds"]], log_frame[["unique_id", "ds"]])
    for column in forecast_columns(got):
        np.testing.assert_allclose(
            got[column], np.exp(log_frame[column]), rtol=RTOL, atol=0, err_msg=column
        )


def assert_actuals(backtest: pd.DataFrame, data: pd.DataFrame) -> None:
    """The backtest's ``y`` is the data's value at each row's series and time, as given."""
    keys = pd.MultiIndex.from_frame(backtest[["unique_id", "ds"]])
    np.testing.assert_array_equal(backtest["y"], data.set_index(["unique_id", "ds"])["y"][keys])


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return frame()


@pytest.fixture(scope="module", params=["conformal", "conformalized"])
def pair(request: pytest.FixtureRequest, data: pd.DataFrame) -> tuple:
    """A log-transform model fitted on y, and the same settings fitted on log(y)."""
    settings = TINY | (QUANTILES if request.param == "conformalized" else {})
    log_model = lc.LSTMForecaster(**settings, target_transform="log").fit(data)
    on_logs = lc.LSTMForecaster(**settings).fit(logged(data))
    return log_model, on_logs


# --------------------------------------------------------------------------------------------
# The defining equivalence


def test_forecasts_and_bounds_are_exp_of_the_model_fitted_on_logs(pair: tuple) -> None:
    log_model, on_logs = pair
    assert log_model.calibration_ is not None
    got = log_model.predict(level=[80, 90] if not log_model.quantile_levels else [80])
    assert_exp_of(got, on_logs.predict(level=[80, 90] if not on_logs.quantile_levels else [80]))
    assert (got[forecast_columns(got)] > 0).all().all()
    lo, hi = got["LSTM-lo-80"], got["LSTM-hi-80"]
    assert ((lo <= got["LSTM"]) & (got["LSTM"] <= hi)).all()
    # Beyond the horizon, recursively (fed back on the log scale), a point forecast.
    assert_exp_of(log_model.predict(3 * H), on_logs.predict(3 * H))


def test_new_history_is_read_in_the_data_units(pair: tuple, data: pd.DataFrame) -> None:
    log_model, on_logs = pair
    history = data[data["ds"] < data["ds"].max() - pd.Timedelta(hours=10)]
    assert_exp_of(
        log_model.predict(df=history, level=[80]), on_logs.predict(df=logged(history), level=[80])
    )


def test_backtest_actuals_are_the_data_and_forecasts_exp_of_the_log_model(
    pair: tuple, data: pd.DataFrame
) -> None:
    log_model, on_logs = pair
    got = log_model.backtest(data, h=H, n_windows=3, level=[80])
    expected = on_logs.backtest(logged(data), h=H, n_windows=3, level=[80])
    assert_actuals(got, data)
    assert_exp_of(got.drop(columns=["y", "cutoff"]), expected.drop(columns=["y", "cutoff"]))


def test_a_refitting_backtest_refits_on_the_data_units(data: pd.DataFrame) -> None:
    settings = TINY | {"val_size": None, "epochs": 1}
    got = lc.LSTMForecaster(**settings, target_transform="log").backtest(data, h=H, refit=True)
    expected = lc.LSTMForecaster(**settings).backtest(logged(data), h=H, refit=True)
    assert_actuals(got, data)
    np.testing.assert_allclose(got["LSTM"], np.exp(expected["LSTM"]), rtol=RTOL)


def test_diagnostics_compare_with_the_baselines_in_the_data_units(
    pair: tuple, data: pd.DataFrame
) -> None:
    """Seasonal naive's MASE depends only on the data and the split: in y's units for the log
    model (as for a model without the transform), not log(y)'s."""
    log_model, on_logs = pair
    untransformed = lc.LSTMForecaster(**TINY | {"epochs": 1}).fit(data)
    got = log_model.diagnostics_.series.set_index("unique_id")["mase_seasonal"]
    in_y = untransformed.diagnostics_.series.set_index("unique_id")["mase_seasonal"]
    in_logs = on_logs.diagnostics_.series.set_index("unique_id")["mase_seasonal"]
    pd.testing.assert_series_equal(got, in_y)
    assert not np.allclose(got, in_logs)


def test_the_model_keeps_its_history_in_the_data_units(pair: tuple, data: pd.DataFrame) -> None:
    log_model, _ = pair
    last = data.groupby("unique_id").tail(WINDOW)["y"].to_numpy()
    np.testing.assert_array_equal(log_model.tail_.y, last)


def test_without_the_transform_the_panel_is_untouched(data: pd.DataFrame) -> None:
    panel = lc.Panel.from_frame(data)
    assert to_model(panel, None) is panel
    np.testing.assert_array_equal(to_model(panel, "log").y, np.log(panel.y))


# --------------------------------------------------------------------------------------------
# Save and load


def test_save_and_load_keep_the_transform(pair: tuple, tmp_path: Path) -> None:
    log_model, _ = pair
    log_model.save(tmp_path / "m")
    loaded = lc.load(tmp_path / "m")
    assert loaded.target_transform == "log"
    pd.testing.assert_frame_equal(loaded.predict(level=[80]), log_model.predict(level=[80]))


def test_a_model_saved_before_the_setting_loads_without_it(
    data: pd.DataFrame, tmp_path: Path
) -> None:
    model = lc.LSTMForecaster(**TINY | {"val_size": None, "epochs": 1}).fit(data)
    model.save(tmp_path / "m")
    config_file = tmp_path / "m" / "config.json"
    config = json.loads(config_file.read_text())
    assert config["params"].pop("target_transform") is None
    config_file.write_text(json.dumps(config))
    loaded = lc.load(tmp_path / "m")
    assert loaded.target_transform is None
    pd.testing.assert_frame_equal(loaded.predict(), model.predict())


def test_a_bad_setting_is_refused(data: pd.DataFrame) -> None:
    with pytest.raises(lc.ConfigError, match="target_transform"):
        lc.LSTMForecaster(**TINY, target_transform="sqrt").fit(data)


# --------------------------------------------------------------------------------------------
# Values the log cannot take


@pytest.mark.parametrize("value", [0.0, -3.0])
def test_a_value_not_above_zero_is_named_at_fit(data: pd.DataFrame, value: float) -> None:
    bad = data.copy()
    bad.loc[(bad["unique_id"] == "b") & (bad["ds"] == "2024-01-03 05:00"), "y"] = value
    with pytest.raises(lc.DataError) as error:
        lc.LSTMForecaster(**TINY, target_transform="log").fit(bad)
    message = str(error.value)
    assert f"series 'b' has the value {value:g} at 2024-01-03 05:00:00" in message
    assert "target_transform='log' needs every value above 0" in message
    # Without the transform the same data trains.
    lc.LSTMForecaster(**TINY | {"epochs": 1}).fit(bad)


def test_a_value_not_above_zero_is_named_in_new_history(pair: tuple, data: pd.DataFrame) -> None:
    log_model, _ = pair
    bad = data.copy()
    bad.loc[(bad["unique_id"] == "c") & (bad["ds"] == bad["ds"].max()), "y"] = 0.0
    for call in (
        lambda: log_model.predict(df=bad),
        lambda: log_model.backtest(bad, h=H),
        lambda: log_model.update(bad),
    ):
        with pytest.raises(lc.DataError, match="series 'c' has the value 0 at 2024-01-04 23:00"):
            call()


def test_missing_values_stay_missing(data: pd.DataFrame) -> None:
    gappy = data.copy()
    gone = (gappy["unique_id"] == "a") & (gappy["ds"] == gappy["ds"].max() - pd.Timedelta("2h"))
    gappy.loc[gone, "y"] = np.nan
    model = lc.LSTMForecaster(**TINY, target_transform="log", missing="mask").fit(gappy)
    assert (model.predict()["LSTM"] > 0).all()
    backtest = model.backtest(gappy, h=H)
    assert backtest["y"].isna().sum() == 1
    assert np.isfinite(backtest["LSTM"]).all()


# --------------------------------------------------------------------------------------------
# The recipe's log ("auto"): chosen for data above 0; later values <= 0 read, not refused

# Every setting given but the transform (and one network: the recipe would train three).
CHOOSING = {name: value for name, value in TINY.items() if name != "recipe"} | {
    "ensemble_size": 1, "window_norm": None, "loss": "mse", "lr": 1e-3, "lr_schedule": None,
}  # fmt: skip
LATE = "2024-01-04 21:00"  # a time inside the last window of every series


@pytest.fixture(scope="module")
def chosen(data: pd.DataFrame) -> lc.LSTMForecaster:
    return lc.LSTMForecaster(**CHOOSING).fit(data)


def with_value(data: pd.DataFrame, series: str, when: str, value: float) -> pd.DataFrame:
    changed = data.copy()
    changed.loc[(changed["unique_id"] == series) & (changed["ds"] == when), "y"] = value
    return changed


def test_the_recipe_chooses_the_log_for_data_above_zero(
    chosen: lc.LSTMForecaster, data: pd.DataFrame
) -> None:
    assert chosen.target_transform == "log"
    assert chosen.get_params()["target_transform"] == "auto"  # a refit chooses anew
    said = [line for line in chosen.recipe_ if line.startswith("log target:")]
    assert said
    assert said[0].startswith("log target: above 0, the spread grows with the level (Guerrero")
    # The same model as the log given by hand.
    given = lc.LSTMForecaster(**CHOOSING, target_transform="log").fit(data)
    pd.testing.assert_frame_equal(chosen.predict(level=[80]), given.predict(level=[80]))


@pytest.mark.parametrize("value", [0.0, -2.5])
def test_the_recipe_keeps_the_values_when_one_is_not_above_zero(
    data: pd.DataFrame, value: float
) -> None:
    model = lc.LSTMForecaster(**CHOOSING).plan(with_value(data, "b", LATE, value))
    assert model["target_transform"] is None
    tutorial = lc.LSTMForecaster(**TINY).plan(data)
    assert tutorial["target_transform"] is None  # the tutorial's: the values as they are


def test_a_refit_chooses_anew(data: pd.DataFrame) -> None:
    model = lc.LSTMForecaster(**CHOOSING | {"epochs": 1}).fit(data)
    assert model.target_transform == "log"
    model.fit(with_value(data, "a", LATE, 0.0))  # no warning, no error: the values as they are
    assert model.target_transform is None
    assert any("target as it is: not all above 0 (smallest 0)" in r for r in model.recipe_)


def test_a_later_value_not_above_zero_is_read_as_its_series_smallest(
    chosen: lc.LSTMForecaster, data: pd.DataFrame
) -> None:
    """Under the recipe's log, a 0 in new history is its series' smallest value above 0 in
    that history (said in a DataWarning); the backtest's actuals keep the 0."""
    bad = with_value(data, "c", LATE, 0.0)
    smallest = bad.loc[(bad["unique_id"] == "c") & (bad["y"] > 0), "y"].min()
    stand_in = with_value(data, "c", LATE, smallest)
    message = f"series 'c' has the value 0 at {LATE}:00 in the new data; the model learned log"
    with pytest.warns(lc.DataWarning, match=message):
        got = chosen.predict(df=bad, level=[80])
    pd.testing.assert_frame_equal(got, chosen.predict(df=stand_in, level=[80]))
    with pytest.warns(lc.DataWarning, match="series 'c' has the value 0"):
        backtest = chosen.backtest(bad, h=H, n_windows=2)
    assert_actuals(backtest, bad)  # the 0 itself, not its stand-in
    pd.testing.assert_series_equal(
        backtest["LSTM"], chosen.backtest(stand_in, h=H, n_windows=2)["LSTM"]
    )


def test_the_reading_survives_save_and_load(
    chosen: lc.LSTMForecaster, data: pd.DataFrame, tmp_path: Path
) -> None:
    chosen.save(tmp_path / "model")
    loaded = lc.load(tmp_path / "model")
    assert loaded.get_params()["target_transform"] == "auto"
    bad = with_value(data, "a", LATE, -1.0)
    with pytest.warns(lc.DataWarning, match="series 'a' has the value -1"):
        got = loaded.predict(df=bad)
    with pytest.warns(lc.DataWarning):
        pd.testing.assert_frame_equal(got, chosen.predict(df=bad))
    assert np.isfinite(got["LSTM"]).all()


def test_a_series_with_no_value_above_zero_is_still_refused(
    chosen: lc.LSTMForecaster, data: pd.DataFrame
) -> None:
    bad = data.copy()
    bad.loc[bad["unique_id"] == "b", "y"] = 0.0
    with pytest.raises(lc.DataError, match="series 'b' has no value above 0 in the new data"):
        chosen.predict(df=bad)


def test_an_update_reads_such_values_too(data: pd.DataFrame) -> None:
    model = lc.LSTMForecaster(**CHOOSING | {"val_size": None, "epochs": 1}).fit(data)
    later = frame(n_points=N_POINTS + 24).groupby("unique_id").tail(24)
    later = with_value(later, "a", later["ds"].iloc[3], 0.0)
    with pytest.warns(lc.DataWarning, match="series 'a' has the value 0"):
        model.update(later, epochs=1, random_state=3)
    assert np.isfinite(model.predict()["LSTM"]).all()
    np.testing.assert_array_equal(  # kept as given
        model.tail_.y, later.groupby("unique_id").tail(WINDOW)["y"].to_numpy()
    )


# --------------------------------------------------------------------------------------------
# Update and cold start


def test_update_trains_on_the_log_scale(data: pd.DataFrame) -> None:
    """An update of the log model (new points of known series, and a new series) is the
    update of the model fitted on logs, exponentiated; the history it keeps is the new data,
    as given."""
    settings = TINY | {"val_size": None}
    log_model = lc.LSTMForecaster(**settings, target_transform="log").fit(data)
    on_logs = lc.LSTMForecaster(**settings).fit(logged(data))
    later = frame(n_points=N_POINTS + 24).groupby("unique_id").tail(24)
    # And a series the model never saw: scaled from its own training part, in log units.
    later = pd.concat([later, frame(n_series=1, seed=7, first=10)], ignore_index=True)
    log_model.update(later, epochs=1, random_state=3)
    on_logs.update(logged(later), epochs=1, random_state=3)
    assert_exp_of(log_model.predict(), on_logs.predict())
    assert (log_model.predict()["LSTM"] > 0).all()
    np.testing.assert_array_equal(
        log_model.tail_.y, later.groupby("unique_id").tail(WINDOW)["y"].to_numpy()
    )


def test_cold_start_scales_new_series_on_the_log_scale(pair: tuple) -> None:
    log_model, on_logs = pair
    new = frame(n_series=2, seed=5, first=10)  # series "k" and "l", never seen
    got = log_model.predict(df=new, cold_start=True, level=[80])
    assert got["cold_start"].all()
    expected = on_logs.predict(df=logged(new), cold_start=True, level=[80])
    assert_exp_of(got.drop(columns="cold_start"), expected.drop(columns="cold_start"))
    assert (got[forecast_columns(got)] > 0).all().all()


# --------------------------------------------------------------------------------------------
# The command line

runner = CliRunner()


def test_the_command_line_trains_with_the_transform(data: pd.DataFrame, tmp_path: Path) -> None:
    data.to_csv(tmp_path / "d.csv", index=False)
    args = ["--recipe", "tutorial", "--window", str(WINDOW), "--horizon", str(H),
            "--hidden-size", "8", "--epochs", "1", "--seed", "0"]  # fmt: skip
    result = runner.invoke(
        cli.app,
        ["train", str(tmp_path / "d.csv"), "-o", str(tmp_path / "m"), *args,
         "--target-transform", "log"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert lc.load(tmp_path / "m").target_transform == "log"
    bad = data.copy()
    bad.loc[bad.index[5], "y"] = -1.0
    bad.to_csv(tmp_path / "bad.csv", index=False)
    result = runner.invoke(
        cli.app,
        ["train", str(tmp_path / "bad.csv"), "-o", str(tmp_path / "m2"), *args,
         "--target-transform", "log"],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "series 'a' has the value -1" in result.stderr
    assert "--target-transform log needs every value above 0" in result.stderr


# --------------------------------------------------------------------------------------------
# ONNX


def test_onnx_export_matches_predict(pair: tuple, data: pd.DataFrame, tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    log_model, _ = pair
    contract = log_model.to_onnx(tmp_path / "m.onnx", level=[80])
    ids = contract.series_ids
    windows = np.stack([data.loc[data["unique_id"] == i, "y"].to_numpy()[-WINDOW:] for i in ids])
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    forecast, intervals = session.run(
        None, {"series": np.arange(len(ids), dtype=np.int64), "window": windows}
    )
    expected = log_model.predict(level=[80]).set_index("unique_id").loc[ids]
    # Within 1e-5 relative: the values reach about 135 and the networks run in float32.
    np.testing.assert_allclose(forecast.reshape(-1), expected["LSTM"], rtol=1e-5)
    for k, column in enumerate(contract.interval_columns):
        np.testing.assert_allclose(
            intervals[..., k].reshape(-1), expected[column], rtol=1e-5, err_msg=column
        )
