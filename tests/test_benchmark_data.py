"""Tests for the benchmark data helpers (benchmarks/m4_data.py, benchmarks/etth_data.py).

The end-to-end checks use the copies in benchmarks/data and must reproduce published figures:
a scorer or protocol that does not is wrong, whatever the model results look like.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from benchmarks import etth_data, m4_data
from benchmarks.etth_data import (
    CHANNELS,
    fit_scaler,
    load_etth1,
    mse_mae,
    repeat_forecast,
    standard_splits,
    windows,
)
from benchmarks.m4_data import (
    HORIZON,
    PUBLISHED,
    SEASON,
    load_m4_hourly,
    load_official_results,
    mase_m4,
    naive,
    naive2,
    score,
    seasonal_indices,
    seasonal_naive,
    seasonality_test,
    smape_m4,
)


@pytest.fixture(scope="module")
def m4() -> tuple[list[np.ndarray], np.ndarray, list[str]]:
    return load_m4_hourly()


@pytest.fixture(scope="module")
def etth1() -> pd.DataFrame:
    return load_etth1()


# --------------------------------------------------------------------------------------------
# Repository copies load
# --------------------------------------------------------------------------------------------


def test_m4_hourly_loads(m4: tuple[list[np.ndarray], np.ndarray, list[str]]) -> None:
    train, test, ids = m4
    assert len(train) == 414
    assert ids == [f"H{i}" for i in range(1, 415)]
    assert {len(x) for x in train} <= set(range(700, 961))
    assert min(len(x) for x in train) == 700
    assert max(len(x) for x in train) == 960
    assert all(x.dtype == np.float64 and np.isfinite(x).all() for x in train)
    assert test.shape == (414, HORIZON)
    assert np.isfinite(test).all()


def test_data_dir_is_the_repo_copy() -> None:
    # A clone must work without ../shared: the defaults point inside benchmarks/.
    assert m4_data.DATA_DIR.parent.name == "benchmarks"
    assert etth_data.DATA_PATH.is_relative_to(m4_data.DATA_DIR)
    assert (m4_data.DATA_DIR / "README.md").is_file()


def test_etth1_loads(etth1: pd.DataFrame) -> None:
    assert etth1.shape == (17_420, 8)
    assert list(etth1.columns) == ["date", *CHANNELS]
    assert etth1["date"].iloc[0] == pd.Timestamp("2016-07-01 00:00")
    assert etth1["date"].iloc[-1] == pd.Timestamp("2018-06-26 19:00")
    # Hourly with no gaps, so row offsets are hours.
    assert (etth1["date"].diff().iloc[1:] == pd.Timedelta(hours=1)).all()
    assert etth1[list(CHANNELS)].notna().all().all()


def test_published_figures_match_the_official_table() -> None:
    table = load_official_results().set_index("method")
    for method, key in [
        ("Naive", "Naive"),
        ("Naive2", "Naive2"),
        ("sNaive", "sNaive"),
        ("RNN", "RNN"),
        ("118", "ES-RNN"),
        ("238", "No. 238"),
    ]:
        row = table.loc[method]
        expected = (row["sMAPE_Hourly"], row["MASE_Hourly"], row["OWA_Hourly"])
        assert PUBLISHED[key] == pytest.approx(expected, abs=1e-9), key


# --------------------------------------------------------------------------------------------
# The scorer reproduces the official M4 benchmark figures
# --------------------------------------------------------------------------------------------


def test_seasonality_test_fires_for_413_of_414(
    m4: tuple[list[np.ndarray], np.ndarray, list[str]],
) -> None:
    train, _, ids = m4
    not_seasonal = [i for i, x in zip(ids, train, strict=True) if not seasonality_test(x, SEASON)]
    # H272 cycles every 18 hours, not 24.
    assert not_seasonal == ["H272"]


@pytest.mark.parametrize(
    ("name", "method", "smape", "mase", "owa"),
    [
        ("Naive", lambda x: naive(x, HORIZON), 43.003, 11.608, 3.593),
        ("sNaive", lambda x: seasonal_naive(x, HORIZON, SEASON), 13.912, 1.193, 0.6275),
        ("Naive2", lambda x: naive2(x, HORIZON, SEASON), 18.383, 2.395, 1.0),
    ],
)
def test_scorer_reproduces_official_benchmarks(
    m4: tuple[list[np.ndarray], np.ndarray, list[str]],
    name: str,
    method: Callable[[np.ndarray], np.ndarray],
    smape: float,
    mase: float,
    owa: float,
) -> None:
    train, test, _ = m4
    forecasts = np.stack([method(x) for x in train])
    s = score(forecasts, train, test)
    assert round(s["smape"], 3) == smape, name
    assert round(s["mase"], 3) == mase, name
    # The table's OWA (4 decimals) seems computed from the rounded sMAPE and MASE: Naive's
    # unrounded OWA is 3.5929, published 3.593. Both agree to 3 decimals.
    assert s["owa"] == pytest.approx(owa, abs=5e-4), name
    assert 0.5 * (round(s["smape"], 3) / 18.383 + round(s["mase"], 3) / 2.395) == pytest.approx(
        owa, abs=5e-5
    )
    assert round(s["naive2_smape"], 3) == 18.383
    assert round(s["naive2_mase"], 3) == 2.395


def test_score_of_perfect_forecasts_is_zero(
    m4: tuple[list[np.ndarray], np.ndarray, list[str]],
) -> None:
    train, test, _ = m4
    s = score(test.copy(), train, test)
    assert s["smape"] == 0.0
    assert s["mase"] == 0.0
    assert s["owa"] == 0.0


def test_score_rejects_bad_forecasts(m4: tuple[list[np.ndarray], np.ndarray, list[str]]) -> None:
    train, test, _ = m4
    with pytest.raises(ValueError, match="do not match"):
        score(test[:, :24], train, test)
    bad = test.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        score(bad, train, test)


# --------------------------------------------------------------------------------------------
# Metric and decomposition units, on hand-made series
# --------------------------------------------------------------------------------------------


def test_smape_hand_computed() -> None:
    # 200*2/4 = 100 at both steps; 200*10/210 and 200*20/380 for the second series.
    assert smape_m4([1.0, 3.0], [3.0, 1.0]) == pytest.approx(100.0)
    assert smape_m4([100.0, 200.0], [110.0, 180.0]) == pytest.approx((2000 / 210 + 4000 / 380) / 2)
    # Vectorised over leading axes: one value per series.
    both = smape_m4(np.array([[1.0, 3.0], [5.0, 5.0]]), np.array([[3.0, 1.0], [5.0, 5.0]]))
    np.testing.assert_allclose(both, [100.0, 0.0])


def test_mase_hand_computed() -> None:
    # Seasonal (m = 2) differences of the training part are all 2; test errors are 1 and 2.
    insample = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    assert mase_m4(insample, [7.0, 8.0], [8.0, 10.0], m=2) == pytest.approx(1.5 / 2)
    # m = 1 is the non-seasonal MASE: differences of 1.
    assert mase_m4(insample, [7.0, 8.0], [8.0, 10.0], m=1) == pytest.approx(1.5)


def test_seasonal_indices_hand_computed_even_season() -> None:
    # 2x2 moving average: 0.25 x[t-1] + 0.5 x[t] + 0.25 x[t+1] = 2, 2, 2, 2.5 at t = 1..4, so
    # ratios 1.5, 0.5, 1.5, 0.4; position means 0.45 (even t) and 1.5 (odd t); mean 0.975.
    x = np.array([1.0, 3.0, 1.0, 3.0, 1.0, 5.0])
    np.testing.assert_allclose(seasonal_indices(x, 2), [0.45 / 0.975, 1.5 / 0.975])


def test_seasonal_indices_odd_season_and_alignment() -> None:
    pattern = np.array([0.5, 1.0, 1.5])
    x = 4.0 * np.tile(pattern, 5)
    np.testing.assert_allclose(seasonal_indices(x, 3), pattern)
    # Positions count from the first value of the series.
    np.testing.assert_allclose(seasonal_indices(x[1:], 3), np.roll(pattern, -1))


def test_seasonal_indices_needs_two_seasons() -> None:
    with pytest.raises(ValueError, match="2 full seasons"):
        seasonal_indices(np.ones(7), 4)


def test_seasonality_test_rules() -> None:
    pattern = np.array([0.8, 1.2, 0.9, 1.1])
    assert seasonality_test(10 * np.tile(pattern, 10), 4)
    assert not seasonality_test(10 * np.tile(pattern, 2), 4)  # shorter than 3 seasons
    assert not seasonality_test(np.full(40, 5.0), 4)  # constant: no autocorrelation
    assert not seasonality_test(np.arange(40.0), 1)
    # R's acf() stops at lag floor(10 log10 n) = 23 for n = 200 < 252: not seasonal at m = 24.
    daily = 10 + np.sin(2 * np.pi * np.arange(300) / 24)
    assert seasonality_test(daily, 24)
    assert not seasonality_test(daily[:200], 24)


def test_benchmarks_on_a_perfectly_seasonal_series() -> None:
    pattern = np.array([0.8, 1.2, 0.9, 1.1])
    x = 10 * np.tile(pattern, 10)[:-1]  # ends one step into a cycle
    expected = 10 * np.roll(np.tile(pattern, 2), 1)[:6]
    np.testing.assert_allclose(naive2(x, 6, 4), expected)
    np.testing.assert_allclose(seasonal_naive(x, 6, 4), expected)
    np.testing.assert_allclose(naive(x, 3), [x[-1]] * 3)
    # Not seasonal (too short): Naive2 falls back to naive.
    np.testing.assert_allclose(naive2(x[:8], 3, 4), [x[7]] * 3)


# --------------------------------------------------------------------------------------------
# ETTh1 protocol
# --------------------------------------------------------------------------------------------


def test_standard_splits_row_ranges() -> None:
    rows = np.arange(17_420)[:, None]
    s = standard_splits(rows, lookback=96)
    assert (s["train"][0, 0], s["train"][-1, 0], len(s["train"])) == (0, 8639, 8640)
    assert (s["val"][0, 0], s["val"][-1, 0]) == (8640 - 96, 11519)
    assert (s["test"][0, 0], s["test"][-1, 0]) == (11520 - 96, 14399)
    with pytest.raises(ValueError, match="lookback"):
        standard_splits(rows, lookback=0)


def test_fit_scaler_uses_population_std() -> None:
    mean, std = fit_scaler(np.array([[1.0, 10.0], [3.0, 10.0]]))
    np.testing.assert_allclose(mean, [2.0, 10.0])
    np.testing.assert_allclose(std, [1.0, 0.0])


def test_windows_are_zero_copy_and_aligned() -> None:
    block = np.arange(20.0).reshape(10, 2)  # row r holds 2r, 2r + 1
    x, y = windows(block, lookback=3, horizon=2)
    assert x.shape == (6, 3, 2)
    assert y.shape == (6, 2, 2)
    assert np.shares_memory(x, block)
    assert np.shares_memory(y, block)
    np.testing.assert_array_equal(x[4], block[4:7])
    np.testing.assert_array_equal(y[4], block[7:9])
    np.testing.assert_array_equal(repeat_forecast(x, 2)[4], block[[6, 6]])
    x, y = windows(block, lookback=3, horizon=2, drop_last=True, batch_size=4)
    assert len(x) == len(y) == 4
    with pytest.raises(ValueError, match="too few"):
        windows(block, lookback=8, horizon=3)


@pytest.mark.parametrize(
    ("horizon", "mse", "mae"),
    [(96, 1.295, 0.713), (192, 1.325, 0.733), (336, 1.323, 0.744), (720, 1.339, 0.756)],
)
def test_repeat_baseline_reproduces_ltsf_linear(
    etth1: pd.DataFrame, horizon: int, mse: float, mae: float
) -> None:
    # LTSF-Linear Table 2, "Repeat" row, ETTh1 multivariate, standardised, test drop_last=True.
    values = etth1[list(CHANNELS)].to_numpy(dtype=np.float64)
    splits = standard_splits(values, lookback=96)
    mean, std = fit_scaler(splits["train"])
    test = (splits["test"] - mean) / std
    x, y = windows(test, 96, horizon, drop_last=True)
    got = mse_mae(y, repeat_forecast(x, horizon))
    assert (round(got[0], 3), round(got[1], 3)) == (mse, mae)
    # Keeping every window (our benchmark's choice) moves the figures only slightly.
    x, y = windows(test, 96, horizon)
    assert len(x) == len(test) - 96 - horizon + 1
    kept = mse_mae(y, repeat_forecast(x, horizon))
    assert kept == pytest.approx(got, abs=0.007)
