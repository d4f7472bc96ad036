"""Cold start: forecasting series the model never saw, from the history given for them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import lstmcast as lc

N, H = 200, 12
FAST = {"window": 36, "horizon": H, "hidden_size": 16, "epochs": 20, "ensemble_size": 1,
        "time_budget": None, "random_state": 0}  # fmt: skip


def frame(ids: list[str], seed: int = 0) -> pd.DataFrame:
    """Series with a 12-step cycle at very different levels and spreads."""
    rng = np.random.default_rng(seed)
    parts = []
    for k, uid in enumerate(ids):
        level, spread = 10.0 ** (k % 3), 1.0 + k
        y = level + spread * np.sin(np.arange(N) * 2 * np.pi / 12) + rng.normal(0, 0.05 * spread, N)
        parts.append(pd.DataFrame({"unique_id": uid, "ds": np.arange(N), "y": y}))
    return pd.concat(parts, ignore_index=True)


@pytest.fixture(scope="module")
def model() -> lc.LSTMForecaster:
    return lc.LSTMForecaster(**FAST).fit(frame(["a", "b", "c", "d"]))


def test_an_unseen_series_is_forecast_from_its_history(model: lc.LSTMForecaster) -> None:
    new = frame(["a", "b", "c", "d", "e", "f"])  # e, f were never seen
    with pytest.raises(lc.DataError, match=r"series 'e' was not in the training data .*cold_start"):
        model.predict(H, df=new)  # unless asked: a renamed column is a new series too
    forecast = model.predict(H, df=new, cold_start=True)
    assert forecast.groupby("unique_id")["cold_start"].first().to_dict() == {
        "a": False, "b": False, "c": False, "d": False, "e": True, "f": True,
    }  # fmt: skip
    # The series the model knows are forecast as without the others.
    known = model.predict(H, df=new[new["unique_id"] <= "d"], cold_start=True)
    assert "cold_start" not in known.columns
    np.testing.assert_allclose(forecast["LSTM"][: 4 * H], known["LSTM"], rtol=1e-6)
    # A cold series at its own level and spread, about as well as one the model knows.
    tail = new.groupby("unique_id").tail(H)  # the cycle repeats: a fair target
    errors = (forecast.set_index("unique_id")["LSTM"] - tail.set_index("unique_id")["y"]).abs()
    spread = new.groupby("unique_id")["y"].std()
    scaled = errors.groupby(level=0).mean() / spread
    assert scaled[["e", "f"]].max() < 3 * scaled[["a", "b", "c", "d"]].max() + 0.05
    # The model itself is unchanged: it still knows four series.
    assert model.n_series_ == 4


def test_backtests_and_intervals_cold_start_too(model: lc.LSTMForecaster) -> None:
    new = frame(["e"])
    backtest = model.backtest(new, h=H, n_windows=2, cold_start=True)
    assert len(backtest) == 2 * H
    assert np.isfinite(backtest["LSTM"]).all()


def test_a_cold_series_too_short_is_named(model: lc.LSTMForecaster) -> None:
    short = frame(["e"]).head(20)
    with pytest.raises(lc.DataError, match="series 'e' has 20 points; window 36 needs at least 36"):
        model.predict(H, df=short, cold_start=True)


def test_cold_start_with_covariates_and_statics(tmp_path: Path) -> None:
    df = frame(["a", "b", "c"])
    rng = np.random.default_rng(1)
    df["promo"] = (rng.random(len(df)) < 0.2) * 1.0
    df["region"] = df["unique_id"].map({"a": "n", "b": "s", "c": "n"})
    settings = {**FAST, "epochs": 2, "futr_cols": ["promo"], "static_cols": ["region"]}
    model = lc.LSTMForecaster(**settings).fit(df)
    new = frame(["e"]).assign(promo=0.0, region="s")
    future = pd.DataFrame({"unique_id": "e", "ds": np.arange(N, N + H), "promo": 1.0})
    forecast = model.predict(H, df=new, futr_df=future, cold_start=True)
    assert forecast["cold_start"].all()
    with pytest.raises(lc.DataError, match="series 'e' was not in the training data: give its "
                       r"static covariates \['region'\]"):  # fmt: skip
        model.predict(H, df=new.drop(columns=["region"]), futr_df=future, cold_start=True)


def test_the_command_line_forecasts_new_series(tmp_path: Path, model: lc.LSTMForecaster) -> None:
    from tests.test_cli import run

    model.save(tmp_path / "m")
    data = tmp_path / "new.csv"
    frame(["a", "e"]).to_csv(data, index=False)
    out = tmp_path / "fc.csv"
    refused = run("forecast", tmp_path / "m", "--data", data, "-o", out)
    assert refused.exit_code == 1
    assert "series 'e' was not in the training data" in refused.stderr
    assert "forecast them from their own history with --cold-start" in refused.stderr
    result = run("forecast", tmp_path / "m", "--data", data, "-o", out, "--cold-start")
    assert result.exit_code == 0, result.output
    written = pd.read_csv(out)
    assert written.groupby("unique_id")["cold_start"].first().to_dict() == {"a": False, "e": True}
    assert "cold-started 1 series the model never saw: 'e'" in result.stderr
