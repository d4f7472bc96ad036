"""LSTMForecaster and the baselines: the scikit-learn contract, honest splits, forecasts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import lstmcast as lc
from lstmcast.train import Callback, History

TINY = {
    "recipe": "tutorial",
    "window": 12,
    "hidden_size": 8,
    "epochs": 2,
    "batch_size": 16,
    "random_state": 0,
}


def fitted(df: pd.DataFrame, **params: object) -> lc.LSTMForecaster:
    return lc.LSTMForecaster(**(TINY | params)).fit(df)


def test_sklearn_contract(two_series: pd.DataFrame) -> None:
    model = lc.LSTMForecaster(**TINY)
    assert not hasattr(model, "network_")
    assert model.fit(two_series) is model
    assert model.get_params()["window"] == 12
    assert model.set_params(epochs=3) is model
    assert model.epochs == 3
    assert repr(model).startswith("LSTMForecaster(window=12")
    assert len(model.history_.train_loss) == 2
    assert model.n_series_ == 2
    with pytest.raises(lc.ConfigError, match="has no parameter 'windw'"):
        model.set_params(windw=3)


def test_not_fitted_error_names_the_fix() -> None:
    for model in (lc.LSTMForecaster(), lc.Naive(), lc.SeasonalNaive(24)):
        with pytest.raises(lc.NotFittedError, match=r"call fit\(df\) first"):
            model.predict(3)
    with pytest.raises(lc.NotFittedError):
        lc.LSTMForecaster().explain()


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"window": 0}, "window must be >= 1, got 0"),
        ({"lr": -1.0}, "lr must be > 0, got -1.0"),
        ({"epochs": 2.5}, "epochs must be int, got 2.5"),
        ({"dropout": 1.5}, "dropout must be <= 1"),
        ({"scaler": "robust"}, "scaler must be one of standard, none"),
        ({"loss": "huber"}, "loss must be one of mse, mae"),
        ({"patience": 2}, "patience needs validation data: set val_size too"),
        ({"val_size": 1.5}, "fractional val_size must be below 1"),
        ({"batch_size": True}, "batch_size must be int, got True"),
    ],
)
def test_invalid_hyper_parameters(two_series: pd.DataFrame, params: dict, message: str) -> None:
    with pytest.raises(lc.ConfigError, match=message):
        lc.LSTMForecaster(**(TINY | params)).fit(two_series)


def test_too_short_series_says_how_many_points_it_needs() -> None:
    frame = pd.DataFrame(
        {
            "unique_id": ["a"] * 30 + ["b"] * 12,
            "ds": list(range(30)) + list(range(12)),
            "y": np.arange(42.0),
        }
    )
    with pytest.raises(
        lc.DataError, match=r"series 'b' has 12 points; window 20 \+ horizon 1 needs at least 21"
    ):
        lc.LSTMForecaster(recipe="tutorial", window=20).fit(frame)
    with pytest.raises(
        lc.DataError,
        match=r"has 30 points; window 20 \+ horizon 1 \+ validation 10 needs at least 31",
    ):
        lc.LSTMForecaster(recipe="tutorial", window=20, val_size=10).fit(frame)


def test_predict_continues_each_series_time_step(two_series: pd.DataFrame) -> None:
    model = fitted(two_series, horizon=3)
    forecast = model.predict()
    assert list(forecast.columns) == ["unique_id", "ds", "LSTM"]
    assert len(forecast) == 6
    a = forecast[forecast["unique_id"] == "a"]
    assert a["ds"].tolist() == list(pd.date_range("2024-01-06", periods=3, freq="h"))
    assert np.isfinite(forecast["LSTM"]).all()


def test_recursive_beyond_the_horizon_feeds_forecasts_back(two_series: pd.DataFrame) -> None:
    model = fitted(two_series, horizon=2)
    long = model.predict(h=5)
    direct = model.predict(h=2)
    a_long = long[long["unique_id"] == "a"]["LSTM"].to_numpy()
    np.testing.assert_allclose(a_long[:2], direct[direct["unique_id"] == "a"]["LSTM"], rtol=1e-6)
    # Appending the first block to the history and forecasting again gives the next block.
    first_block = direct.rename(columns={"LSTM": "y"})
    extended = pd.concat([two_series, first_block]).sort_values(["unique_id", "ds"], kind="stable")
    again = model.predict(h=2, df=extended)
    np.testing.assert_allclose(a_long[2:4], again[again["unique_id"] == "a"]["LSTM"], rtol=1e-5)


def test_scaler_is_fitted_on_the_training_part_only(two_series: pd.DataFrame) -> None:
    model = fitted(two_series, val_size=20)
    b = two_series[two_series["unique_id"] == "b"]["y"].to_numpy()
    assert model.scaler_.shift[1] == pytest.approx(b[:100].mean())
    assert model.scaler_.scale[1] == pytest.approx(b[:100].std())
    assert model.scaler_.shift[1] != pytest.approx(b.mean())
    assert len(model.history_.val_loss) == 2


def test_validation_drives_early_stopping_and_keeps_best_weights(two_series: pd.DataFrame) -> None:
    model = fitted(two_series, val_size=24, patience=1, epochs=30, lr=0.05)
    history = model.history_
    assert history.stopped_early
    assert len(history.val_loss) < 30
    best = int(np.argmin(history.val_loss)) + 1
    assert history.best_epoch == best
    # The weights in the model are the best epoch's: rerun validation and compare.
    from lstmcast.train import Objective, evaluate_loss
    from lstmcast.windows import Windows, window_starts

    panel = lc.Panel.from_data(two_series)
    scaled = torch.tensor(model.scaler_.transform(panel), dtype=torch.float32)
    n_train = panel.lengths - 24
    starts = window_starts(panel, n_train, panel.lengths, 12, 1)
    val = Windows(scaled[:, None], scaled, torch.from_numpy(starts), 12, 1)
    assert evaluate_loss(model.network_, val, Objective("mse")) == pytest.approx(
        min(history.val_loss), rel=1e-5
    )


def test_same_seed_same_model_and_caller_rng_untouched(two_series: pd.DataFrame) -> None:
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    one = fitted(two_series, dropout=0.2, num_layers=2)
    after = torch.rand(1)
    two = fitted(two_series, dropout=0.2, num_layers=2)
    assert torch.equal(before, after)
    for p, q in zip(one.network_.parameters(), two.network_.parameters(), strict=True):
        assert torch.equal(p, q)
    pd.testing.assert_frame_equal(one.predict(10), two.predict(10))
    other = fitted(two_series, dropout=0.2, num_layers=2, random_state=1)
    assert not torch.equal(next(one.network_.parameters()), next(other.network_.parameters()))


def test_backtest_rolls_the_origin_and_matches_actuals(two_series: pd.DataFrame) -> None:
    train, _ = lc.split(two_series, 10)
    model = fitted(train, horizon=2)
    frame = model.backtest(two_series, h=2, n_windows=5, step_size=2)
    assert list(frame.columns) == ["unique_id", "ds", "cutoff", "y", "LSTM"]
    assert len(frame) == 2 * 5 * 2
    a = frame[frame["unique_id"] == "a"]
    truth = two_series[two_series["unique_id"] == "a"].set_index("ds")["y"]
    np.testing.assert_array_equal(a["y"].to_numpy(), truth.loc[a["ds"]].to_numpy())
    assert a["cutoff"].iloc[0] == truth.index[109]
    # Each origin uses only the past: the first window's forecast equals predict on the past.
    past = two_series.groupby("unique_id").head(110)
    first = model.predict(h=2, df=past)
    np.testing.assert_allclose(frame.groupby("unique_id").head(2)["LSTM"], first["LSTM"], rtol=1e-6)


def test_backtest_with_refit_trains_on_each_origin(two_series: pd.DataFrame) -> None:
    model = lc.LSTMForecaster(**(TINY | {"epochs": 1}))
    frame = model.backtest(two_series, h=3, n_windows=2, refit=True)
    assert len(frame) == 2 * 2 * 3
    assert np.isfinite(frame["LSTM"]).all()
    assert not hasattr(model, "network_")  # refit trains copies, never the caller's model


def test_baselines() -> None:
    y = np.arange(30.0)
    naive = lc.Naive().fit(y).predict(3)
    assert naive["Naive"].tolist() == [29.0] * 3
    assert naive["ds"].tolist() == [30, 31, 32]
    seasonal = lc.SeasonalNaive(4).fit(y).predict(6)
    assert seasonal["SeasonalNaive"].tolist() == [26.0, 27, 28, 29, 26, 27]
    backtest = lc.Naive().fit(y).backtest(y, h=1, n_windows=3, step_size=1)
    np.testing.assert_array_equal(backtest["Naive"], backtest["y"] - 1)
    with pytest.raises(lc.DataError, match="has 3 points; season_length 4 needs at least 4"):
        lc.SeasonalNaive(4).fit(np.arange(3.0))


def test_lstm_learns_a_sine_better_than_naive() -> None:
    t = np.arange(600)
    y = np.sin(2 * np.pi * t / 25) + np.random.default_rng(1).normal(0, 0.05, 600)
    train, _ = lc.split(y, 100)
    model = lc.LSTMForecaster(
        window=25, hidden_size=16, epochs=6, batch_size=32, lr=0.01, random_state=0
    ).fit(train)
    lstm = model.backtest(y, h=1, n_windows=100, step_size=1)
    naive = lc.Naive().fit(train).backtest(y, h=1, n_windows=100, step_size=1)
    scores = lc.evaluate(lstm.merge(naive))
    assert scores.loc["LSTM", "RMSE"] < 0.5 * scores.loc["Naive", "RMSE"]


def test_explain_returns_gates_of_each_series_last_window(two_series: pd.DataFrame) -> None:
    model = fitted(two_series, num_layers=2)
    trace = model.explain()
    assert trace.forget.shape == (2, 2, 12, 8)
    x, _ = model._contexts(model.tail_, np.arange(2), model.tail_.ends)
    with torch.no_grad():
        direct = model.network_(x)
        via_trace, _ = model.network_.trace(x)
    torch.testing.assert_close(via_trace, direct, atol=1e-5, rtol=0)
    # Some series only, in the order asked for: the same gates as in the full trace.
    ids = [str(i) for i in model.tail_.ids]
    one = model.explain(series=ids[1])
    torch.testing.assert_close(one.forget, trace.forget[:, 1:2])
    both = model.explain(series=[ids[1], ids[0]])
    torch.testing.assert_close(both.hidden, trace.hidden[:, [1, 0]])
    with pytest.raises(lc.DataError, match="series 'nope' not found; there are 2 series"):
        model.explain(series="nope")


class Sabotage(Callback):
    """Corrupts the weights after a given batch, or interrupts like Ctrl-C at an epoch's end."""

    def __init__(
        self, model: lc.LSTMForecaster, nan_at: int | None = None, stop_at: int | None = None
    ) -> None:
        self.model, self.nan_at, self.stop_at = model, nan_at, stop_at
        self.batches = 0

    def on_batch_end(self, epoch: int, batch: int, loss: float) -> None:
        self.batches += 1
        if self.batches == self.nan_at:
            with torch.no_grad():
                self.model.network_.head.weight.fill_(float("nan"))

    def on_epoch_end(self, epoch: int, history: History) -> None:
        if epoch == self.stop_at:
            raise KeyboardInterrupt


def test_nan_loss_stops_with_advice_and_keeps_good_weights(two_series: pd.DataFrame) -> None:
    model = lc.LSTMForecaster(**(TINY | {"epochs": 3}))
    advice = r"try a lower learning rate than lr=0.001 or grad_clip=1.0; the last good weights"
    with pytest.raises(lc.TrainingError, match=advice):
        model.fit(two_series, callbacks=[Sabotage(model, nan_at=20)])
    assert all(torch.isfinite(p).all() for p in model.network_.parameters())


def test_ctrl_c_stops_cleanly_with_the_best_weights(two_series: pd.DataFrame) -> None:
    model = lc.LSTMForecaster(**(TINY | {"epochs": 5, "val_size": 24}))
    model.fit(two_series, callbacks=[Sabotage(model, stop_at=2)])
    assert model.history_.interrupted
    assert len(model.history_.train_loss) == 2
    assert np.isfinite(model.predict(3)["LSTM"]).all()


def test_a_forecast_that_overflows_is_refused_not_returned(two_series: pd.DataFrame) -> None:
    model = fitted(two_series)
    with torch.no_grad():  # as a model file edited by hand and re-signed would give
        model.network_.head.bias.fill_(float("inf"))
    named = r"the forecast of series 'a' \(and 1 other series\) is NaN or infinite"
    with pytest.raises(lc.ForecastError, match=named):
        model.predict(3)
    with pytest.raises(lc.ForecastError, match=named):
        model.backtest(two_series, h=3)
    assert isinstance(lc.ForecastError("x"), lc.LstmcastError)


@pytest.mark.parametrize("window_norm", [None, "revin", "last"])
@pytest.mark.parametrize(
    ("factor", "offset"),
    [(1e-12, 0.0), (1e155, 0.0), (1e300, 0.0), (1e200, -3e201), (1.0, 1e9), (1e-300, 1e-298)],
)
def test_forecasts_follow_the_series_at_any_magnitude(
    factor: float, offset: float, window_norm: str | None
) -> None:
    """Scaling a series by any finite factor (or shifting it far) scales its forecasts and
    intervals the same way: the statistics, not an absolute threshold, set the units."""
    t = np.arange(160)
    y = 1.5 + np.sin(t / 4) + 0.1 * np.cos(t)
    settings = TINY | {"val_size": 40, "window_norm": window_norm, "season_length": 4}
    unit = lc.LSTMForecaster(**settings).fit(y).predict(level=[80])
    moved = lc.LSTMForecaster(**settings).fit(offset + factor * y).predict(level=[80])
    for column in ("LSTM", "LSTM-lo-80", "LSTM-hi-80"):
        # In the units of y: float32 arithmetic in the network on the same scaled values.
        back = (moved[column].to_numpy() - offset) / factor
        np.testing.assert_allclose(back, unit[column], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("offset", "factor"), [(1e12, 1.0), (1.0, 1e-13), (-1e9, 1e-3)])
def test_a_series_that_varies_in_its_last_digits_is_not_scaled_as_constant(
    offset: float, factor: float
) -> None:
    """1e12 + sin varies by 1e-12 of its level: float64 holds that, so its standard deviation,
    not its level, is its unit (scaled by its level, a forecast missed by half of 1e12)."""
    t = np.arange(160)
    y = np.sin(t / 4) + 0.1 * np.cos(t)
    unit = lc.LSTMForecaster(**TINY).fit(y).predict(3)["LSTM"].to_numpy()
    model = lc.LSTMForecaster(**TINY).fit(offset + factor * y)
    assert model.scaler_.scale[0] == pytest.approx(factor * y[:160].std(), rel=1e-3)
    back = (model.predict(3)["LSTM"].to_numpy() - offset) / factor
    np.testing.assert_allclose(back, unit, atol=1e-2)


def test_a_model_reads_new_data_by_the_column_names_it_was_fitted_with(
    two_series: pd.DataFrame,
) -> None:
    named = two_series.rename(columns={"unique_id": "store", "ds": "hour", "y": "sales"})
    model = lc.LSTMForecaster(**(TINY | {"epochs": 1})).fit(
        named, id_col="store", time_col="hour", target_col="sales"
    )
    assert model.columns_ == {"id_col": "store", "time_col": "hour", "target_col": "sales"}
    expected = model.predict(3)
    pd.testing.assert_frame_equal(model.predict(3, df=named), expected)
    assert model.explain(named, series="b").forget.shape[1] == 1
    assert len(model.backtest(named, h=2, n_windows=3)) == 2 * 2 * 3
    # Names given to predict win: a frame in the library's own layout, named so.
    canonical = {"id_col": "unique_id", "time_col": "ds", "target_col": "y"}
    pd.testing.assert_frame_equal(model.predict(3, df=two_series, **canonical), expected)
    message = r"time column 'hour' not found; columns are 'unique_id', 'ds', 'sales'"
    with pytest.raises(lc.DataError, match=message):
        model.predict(3, df=two_series.rename(columns={"y": "sales"}))


def test_a_month_step_is_named_in_months_when_new_data_has_another() -> None:
    fifteenths = pd.date_range("2020-01-01", periods=40, freq="MS") + pd.Timedelta(days=14)
    frame = pd.DataFrame({"unique_id": "a", "ds": fifteenths, "y": np.sin(np.arange(40))})
    model = lc.LSTMForecaster(**(TINY | {"epochs": 1})).fit(frame)
    daily = frame.assign(ds=pd.date_range("2020-01-01", periods=40, freq="D"))
    message = r"has frequency '24h', but the model was trained on a step of 1 month for it"
    with pytest.raises(lc.DataError, match=message):
        model.predict(2, df=daily)
