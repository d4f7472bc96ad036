"""Sanity alarms fire on the failures they are built for and stay quiet on a good forecast."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from lstmcast.diagnostics import diagnose

SEASON = 24
H = 24


def _series(n: int = 24 * 30, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 10 + 3 * np.sin(2 * np.pi * t / SEASON) + 0.2 * rng.normal(size=n)


def _frames(
    forecast: Callable[[np.ndarray, int], np.ndarray], n_windows: int = 5, step: int = H
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Data of two series, a backtest of ``n_windows`` windows made by ``forecast(values,
    origin)`` beside the two naive baselines, and the training part before the first window."""
    data, rows = [], []
    for name, seed in (("a", 0), ("b", 1)):
        y = _series(seed=seed)
        data.append(pd.DataFrame({"unique_id": name, "ds": np.arange(len(y)), "y": y}))
        for w in range(n_windows):
            origin = len(y) - H - (n_windows - 1 - w) * step
            ds = np.arange(origin, origin + H)
            rows.append(
                pd.DataFrame(
                    {
                        "unique_id": name,
                        "ds": ds,
                        "cutoff": origin - 1,
                        "LSTM": forecast(y, origin),
                        "Naive": np.repeat(y[origin - 1], H),
                        "SeasonalNaive": y[origin - SEASON + np.arange(H) % SEASON],
                    }
                )
            )
    frame = pd.concat(data, ignore_index=True)
    forecasts = pd.concat(rows, ignore_index=True)
    first = forecasts["ds"].min()
    return frame, forecasts, frame[frame["ds"] < first]


def _good(y: np.ndarray, origin: int) -> np.ndarray:
    t = np.arange(origin, origin + H)
    return 10 + 3 * np.sin(2 * np.pi * t / SEASON)


def test_a_good_forecast_raises_no_alarm() -> None:
    data, forecasts, train = _frames(_good)
    result = diagnose(data, forecasts, "LSTM", season_length=SEASON, train=train)
    assert not result.series[["loses_to_seasonal", "flat"]].to_numpy().any()
    assert (result.series["lag"] == 0).all()
    assert result.skill_seasonal > 0.2
    assert not result.loses_to_seasonal_naive
    line = result.summary()
    assert line.startswith("validation MASE ")
    assert "0 of 2 series lose to seasonal naive, 0 flat, 0 lagged copies" in line


def test_a_flat_forecast_is_flagged_and_loses() -> None:
    data, forecasts, train = _frames(lambda y, origin: np.repeat(y[:origin].mean(), H))
    result = diagnose(data, forecasts, "LSTM", season_length=SEASON, train=train)
    assert result.series["flat"].all()
    assert result.series["loses_to_seasonal"].all()
    assert result.loses_to_seasonal_naive
    assert "2 flat (a, b)" in result.summary()


@pytest.mark.parametrize("lag", [1, 2])
def test_a_lagged_copy_is_flagged(lag: int) -> None:
    # One-step forecasts from every origin that repeat the value `lag` steps back.
    data, forecasts, train = _frames(
        lambda y, origin: y[origin - lag : origin - lag + H], n_windows=5
    )
    result = diagnose(data, forecasts, "LSTM", season_length=SEASON, train=train)
    assert (result.series["lag"] == lag).all()
    assert "2 lagged copies (a, b)" in result.summary()


def test_the_seasonal_naive_forecast_itself_is_no_lagged_copy() -> None:
    data, forecasts, train = _frames(lambda y, origin: y[origin - SEASON : origin - SEASON + H])
    result = diagnose(data, forecasts, "LSTM", season_length=SEASON, train=train)
    assert (result.series["lag"] == 0).all()
    assert not result.series["flat"].any()


def test_without_training_values_skill_comes_from_mae() -> None:
    data, forecasts, _ = _frames(_good)
    result = diagnose(data, forecasts, "LSTM", season_length=SEASON)
    assert result.mase is None
    assert result.skill_seasonal > 0.2
    assert result.summary().startswith("validation: against seasonal naive, skill +")


def test_skill_is_undefined_where_seasonal_naive_is_exact() -> None:
    data, forecasts, train = _frames(_good)
    for frame in (data, forecasts, train):
        for column in ("y", "LSTM", "Naive", "SeasonalNaive"):
            if column in frame:
                frame[column] = 5.0
    forecasts["LSTM"] = 5.001
    result = diagnose(data, forecasts, "LSTM", season_length=SEASON)
    assert not result.series["loses_to_seasonal"].any()
    assert "skill undefined: seasonal naive is exact" in result.summary()
