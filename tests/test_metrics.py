"""Tests for lstmcast.metrics: hand-computed examples, error messages, and a few properties."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lstmcast.errors import ConfigError, DataError
from lstmcast.metrics import coverage, mae, mase, msis, rmse, smape
from lstmcast.scoring import evaluate

# --------------------------------------------------------------------------------------------
# Array metrics: closed-form values
# --------------------------------------------------------------------------------------------


def test_mae_rmse_hand_computed() -> None:
    # errors 1, 0, 2
    assert mae([1, 2, 3], [2, 2, 5]) == pytest.approx(1.0)
    assert rmse([1, 2, 3], [2, 2, 5]) == pytest.approx(math.sqrt(5 / 3))


def test_metrics_return_python_float() -> None:
    assert type(mae(np.array([1.0]), np.array([2.0]))) is float
    assert type(smape([1.0], [2.0])) is float


def test_metrics_accept_2d_arrays_of_same_shape() -> None:
    y = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert mae(y, y + 1) == pytest.approx(1.0)


def test_smape_hand_computed() -> None:
    # 200*2/4 = 100, 0/0 -> 0, 200*4/4 = 200
    assert smape([1, 0, -2], [3, 0, 2]) == pytest.approx(100.0)
    assert smape([4], [6]) == pytest.approx(40.0)


def test_smape_bounds_and_zero_convention() -> None:
    assert smape([0, 0, 0], [0, 0, 0]) == 0.0
    assert smape([5, -3], [0, 3]) == pytest.approx(200.0)  # opposite sign or one zero: max
    assert smape([0], [7]) == pytest.approx(200.0)


def test_mase_season_1_hand_computed() -> None:
    # in-sample naive errors |3-1|, |2-3|, |5-2| = 2, 1, 3 -> scale 2; forecast MAE 1
    assert mase([4, 6], [5, 5], [1, 3, 2, 5]) == pytest.approx(0.5)


def test_mase_season_24_matches_direct_computation() -> None:
    rng = np.random.default_rng(0)
    t = np.arange(24 * 5)
    y_train = 10 + 5 * np.sin(2 * np.pi * t / 24) + rng.normal(0, 0.5, t.size)
    y_true = 10 + 5 * np.sin(2 * np.pi * np.arange(t.size, t.size + 24) / 24)
    y_pred = y_true + rng.normal(0, 1, 24)
    scale = np.mean([abs(y_train[i] - y_train[i - 24]) for i in range(24, y_train.size)])
    expected = np.mean(np.abs(y_true - y_pred)) / scale
    assert mase(y_true, y_pred, y_train, season=24) == pytest.approx(expected)
    assert mase(y_true, y_pred, y_train, season=24) != pytest.approx(
        mase(y_true, y_pred, y_train, season=1)
    )


def test_coverage_hand_computed_bounds_inclusive() -> None:
    assert coverage([0, 1, 2, 3], [0, 0, 0, 0], [1, 1, 1, 1]) == pytest.approx(0.5)
    assert coverage([5], [5], [5]) == 1.0


def test_msis_hand_computed() -> None:
    # alpha 0.1 -> penalty factor 20. terms: 2; 2 + 20*(5-2) = 62; 2 + 20*(0-(-1)) = 22
    # scale: |2-0|, |1-2| -> 1.5
    value = msis([1, 5, -1], [0, 0, 0], [2, 2, 2], [0, 2, 1], alpha=0.1)
    assert value == pytest.approx((86 / 3) / 1.5)


def test_msis_season_uses_seasonal_scale() -> None:
    # season 2: |3-1|, |6-2| -> scale 3; interval always covers, width 3
    assert msis([1, 1], [0, 0], [3, 3], [1, 2, 3, 6], season=2) == pytest.approx(1.0)


# --------------------------------------------------------------------------------------------
# Array metrics: errors
# --------------------------------------------------------------------------------------------


def test_length_mismatch_message_gives_both_sizes() -> None:
    with pytest.raises(DataError, match=r"y_true has 10 values but y_pred has 12; they must align"):
        mae(np.zeros(10), np.zeros(12))


def test_shape_mismatch_2d() -> None:
    with pytest.raises(DataError, match=r"shape \(2, 2\) but y_pred has shape \(4,\)"):
        rmse(np.zeros((2, 2)), np.zeros(4))


def test_empty_input_rejected() -> None:
    with pytest.raises(DataError, match="y_true is empty"):
        smape([], [])


@pytest.mark.parametrize(
    ("func", "args", "name"),
    [
        (mae, ([1.0, 2.0], [1.0, float("nan")]), "y_pred"),
        (rmse, ([float("inf"), 2.0], [1.0, 2.0]), "y_true"),
        (coverage, ([1.0], [float("nan")], [2.0]), "lo"),
        (mase, ([1.0], [1.0], [0.0, float("nan"), 2.0]), "y_train"),
    ],
)
def test_non_finite_input_names_the_argument(
    func: Callable[..., float], args: tuple[object, ...], name: str
) -> None:
    with pytest.raises(DataError, match=rf"^{name} has 1 NaN or infinite value\(s\) out of"):
        func(*args)


def test_non_numeric_input_rejected() -> None:
    with pytest.raises(DataError, match="y_pred could not be converted to float"):
        mae([1, 2], ["a", "b"])


def test_mase_training_too_short() -> None:
    with pytest.raises(DataError, match=r"y_train has 24 values but season=24 needs at least 25"):
        mase([1.0], [1.0], np.arange(24.0), season=24)


def test_mase_constant_training_series() -> None:
    with pytest.raises(DataError, match=r"MASE is undefined.*constant.*Use mae\(\)"):
        mase([1.0, 2.0], [1.0, 1.0], [5.0, 5.0, 5.0])


def test_mase_season_periodic_training_series() -> None:
    with pytest.raises(DataError, match=r"MASE is undefined.*exactly 2-periodic"):
        mase([1.0], [1.0], [1.0, 2.0, 1.0, 2.0, 1.0], season=2)


def test_msis_constant_training_series() -> None:
    with pytest.raises(DataError, match="MSIS is undefined"):
        msis([1.0], [0.0], [2.0], [3.0, 3.0])


@pytest.mark.parametrize("season", [0, -1, 1.5, True])
def test_bad_season(season: object) -> None:
    with pytest.raises(ConfigError, match="season must be"):
        mase([1.0], [1.0], [1.0, 2.0], season=season)  # type: ignore[arg-type]


@pytest.mark.parametrize("alpha", [0, 1, 1.5, float("nan")])
def test_bad_alpha(alpha: float) -> None:
    with pytest.raises(ConfigError, match="alpha must be"):
        msis([1.0], [0.0], [2.0], [1.0, 2.0], alpha=alpha)


def test_swapped_interval_bounds() -> None:
    with pytest.raises(DataError, match=r"lo is above hi at 1 of 2 points.*lo=3, hi=1"):
        coverage([1.0, 2.0], [0.0, 3.0], [2.0, 1.0])


# --------------------------------------------------------------------------------------------
# evaluate
# --------------------------------------------------------------------------------------------

# Series "a" has 1 forecast row, "b" has 3: pooling rows would weight "b" 3x.
#   a: y 10;      LSTM 0 (error 10);    Naive 10 (error 0)
#   b: y 1, 2, 3; LSTM 2, 3, 4 (1 each); Naive 1, 2, 5 (0, 0, 2)
ACTUALS = pd.DataFrame(
    {
        "unique_id": ["a", "b", "b", "b"],
        "ds": pd.to_datetime(["2020-01-04", "2020-01-06", "2020-01-07", "2020-01-08"]),
        "y": [10.0, 1.0, 2.0, 3.0],
    }
)
FORECASTS = ACTUALS.drop(columns="y").assign(LSTM=[0.0, 2.0, 3.0, 4.0], Naive=[10.0, 1.0, 2.0, 5.0])
# a: naive errors 4, 2 -> scale 3.  b: 0, 1, 0, 1 -> scale 0.5
TRAIN = pd.DataFrame(
    {
        "unique_id": ["a"] * 3 + ["b"] * 5,
        "ds": pd.date_range("2020-01-01", periods=3).append(pd.date_range("2020-01-01", periods=5)),
        "y": [0.0, 4.0, 2.0, 1.0, 1.0, 2.0, 2.0, 3.0],
    }
)


def test_evaluate_averages_per_series_not_pooled() -> None:
    res = evaluate(ACTUALS, FORECASTS, train=TRAIN)
    assert res.index.name == "model"
    assert list(res.index) == ["LSTM", "Naive"]
    assert list(res.columns) == ["MAE", "RMSE", "sMAPE", "MASE"]

    assert res.loc["LSTM", "MAE"] == pytest.approx((10 + 1) / 2)
    assert res.loc["LSTM", "MAE"] != pytest.approx(13 / 4)  # the pooled value
    assert res.loc["LSTM", "RMSE"] == pytest.approx((10 + 1) / 2)
    assert res.loc["LSTM", "RMSE"] != pytest.approx(math.sqrt(103 / 4))
    assert res.loc["Naive", "MAE"] == pytest.approx((0 + 2 / 3) / 2)
    assert res.loc["Naive", "RMSE"] == pytest.approx((0 + math.sqrt(4 / 3)) / 2)

    smape_a = 200.0  # |10 - 0| / (10 + 0)
    smape_b = (200 / 3 + 200 / 5 + 200 / 7) / 3
    assert res.loc["LSTM", "sMAPE"] == pytest.approx((smape_a + smape_b) / 2)
    assert res.loc["Naive", "sMAPE"] == pytest.approx((0 + (200 * 2 / 8) / 3) / 2)

    assert res.loc["LSTM", "MASE"] == pytest.approx((10 / 3 + 1 / 0.5) / 2)
    assert res.loc["Naive", "MASE"] == pytest.approx((0 + (2 / 3) / 0.5) / 2)


def test_evaluate_matches_array_functions_per_series() -> None:
    res = evaluate(ACTUALS, FORECASTS, train=TRAIN, season_length=2)
    for model in ["LSTM", "Naive"]:
        per_series = {"MAE": [], "RMSE": [], "sMAPE": [], "MASE": []}
        for uid in ["a", "b"]:
            y = ACTUALS.loc[ACTUALS.unique_id == uid, "y"]
            f = FORECASTS.loc[FORECASTS.unique_id == uid, model]
            x = TRAIN.loc[TRAIN.unique_id == uid, "y"]
            per_series["MAE"].append(mae(y, f))
            per_series["RMSE"].append(rmse(y, f))
            per_series["sMAPE"].append(smape(y, f))
            per_series["MASE"].append(mase(y, f, x, season=2))
        for metric, values in per_series.items():
            assert res.loc[model, metric] == pytest.approx(np.mean(values)), (model, metric)


def test_evaluate_without_train_has_no_mase() -> None:
    res = evaluate(ACTUALS, FORECASTS)
    assert list(res.columns) == ["MAE", "RMSE", "sMAPE"]


def test_evaluate_interval_columns() -> None:
    fc = FORECASTS.assign(
        **{
            # a: y 10 above hi 8 by 2.  b: y 1, 2, 3 vs [0, 2.5]: last above by 0.5
            "LSTM-lo-80": [2.0, 0.0, 0.0, 0.0],
            "LSTM-hi-80": [8.0, 2.5, 2.5, 2.5],
            # covers everything; width 10 at a, 4 at b
            "LSTM-lo-95": [5.0, 0.0, 0.0, 0.0],
            "LSTM-hi-95": [15.0, 4.0, 4.0, 4.0],
        }
    )
    res = evaluate(ACTUALS, fc, train=TRAIN)
    assert list(res.columns) == [
        "MAE",
        "RMSE",
        "sMAPE",
        "MASE",
        "coverage-80",
        "MSIS-80",
        "coverage-95",
        "MSIS-95",
    ]
    assert list(res.index) == ["LSTM", "Naive"]  # bounds are not models
    assert res.loc["LSTM", "coverage-80"] == pytest.approx(100 * (0 + 2 / 3) / 2)
    assert res.loc["LSTM", "coverage-95"] == pytest.approx(100.0)
    # alpha 0.2 -> factor 10. a: (6 + 10*2)/3.  b: mean(2.5, 2.5, 2.5 + 10*0.5) / 0.5
    msis_a = 26 / 3
    msis_b = (2.5 + 2.5 + 7.5) / 3 / 0.5
    assert res.loc["LSTM", "MSIS-80"] == pytest.approx((msis_a + msis_b) / 2)
    assert res.loc["LSTM", "MSIS-95"] == pytest.approx((10 / 3 + 4 / 0.5) / 2)
    # agrees with the array function
    assert msis([10.0], [2.0], [8.0], [0.0, 4.0, 2.0], alpha=0.2) == pytest.approx(msis_a)
    # Naive has no bounds
    assert res.loc["Naive", ["coverage-80", "MSIS-80", "coverage-95", "MSIS-95"]].isna().all()


def test_evaluate_interval_without_train_has_coverage_only() -> None:
    fc = FORECASTS.assign(**{"LSTM-lo-90": 0.0, "LSTM-hi-90": 20.0})
    res = evaluate(ACTUALS, fc)
    assert list(res.columns) == ["MAE", "RMSE", "sMAPE", "coverage-90"]
    assert res.loc["LSTM", "coverage-90"] == pytest.approx(100.0)


def test_evaluate_pools_cutoffs_within_a_series() -> None:
    # Series "a" forecast from two cutoffs, both reaching 2020-01-04 (same ds twice).
    actuals = pd.DataFrame(
        {
            "unique_id": ["a", "a", "b"],
            "ds": pd.to_datetime(["2020-01-03", "2020-01-04", "2020-01-04"]),
            "y": [1.0, 2.0, 5.0],
        }
    )
    fc = pd.DataFrame(
        {
            "unique_id": ["a", "a", "a", "b"],
            "ds": pd.to_datetime(["2020-01-03", "2020-01-04", "2020-01-04", "2020-01-04"]),
            "cutoff": pd.to_datetime(["2020-01-02", "2020-01-02", "2020-01-03", "2020-01-03"]),
            "M": [2.0, 2.0, 5.0, 5.0],
        }
    )
    res = evaluate(actuals, fc)
    assert list(res.index) == ["M"]  # cutoff is not a model
    # a: errors 1, 0, 3 -> 4/3 ; b: 0
    assert res.loc["M", "MAE"] == pytest.approx((4 / 3 + 0) / 2)


def test_evaluate_duplicate_forecast_rows_without_cutoff() -> None:
    fc = pd.concat([FORECASTS, FORECASTS.iloc[[1]]])
    with pytest.raises(DataError, match=r"forecasts has 1 duplicated \(unique_id, ds\) row"):
        evaluate(ACTUALS, fc)


def test_evaluate_y_in_forecasts() -> None:
    expected = evaluate(ACTUALS, FORECASTS)
    with_y = FORECASTS.assign(y=ACTUALS["y"])
    pd.testing.assert_frame_equal(evaluate(None, with_y), expected)
    pd.testing.assert_frame_equal(evaluate(with_y), expected)
    # both given: the actuals' y wins over a wrong y in forecasts
    wrong_y = FORECASTS.assign(y=-99.0)
    pd.testing.assert_frame_equal(evaluate(ACTUALS, wrong_y), expected)


def test_evaluate_needs_y_somewhere() -> None:
    with pytest.raises(DataError, match="forecasts has no 'y' column"):
        evaluate(None, FORECASTS)


def test_evaluate_missing_actual_names_series_and_ds() -> None:
    actuals = ACTUALS[ACTUALS["ds"] != pd.Timestamp("2020-01-07")]
    with pytest.raises(
        DataError, match=r"no actual value for the forecast at unique_id='b', ds=2020-01-07"
    ):
        evaluate(actuals, FORECASTS)


def test_evaluate_series_missing_from_train() -> None:
    with pytest.raises(DataError, match=r"1 forecast series not in train: 'b'"):
        evaluate(ACTUALS, FORECASTS, train=TRAIN[TRAIN["unique_id"] == "a"])


def test_evaluate_mase_skips_unusable_series() -> None:
    # "b" constant in training: left out of MASE, kept for MAE
    train = TRAIN.assign(y=np.where(TRAIN["unique_id"] == "b", 7.0, TRAIN["y"]))
    res = evaluate(ACTUALS, FORECASTS, train=train)
    assert res.loc["LSTM", "MASE"] == pytest.approx(10 / 3)
    assert res.loc["LSTM", "MAE"] == pytest.approx(5.5)
    # season 3: "a" has only 3 training points (needs 4), "b" is left -> b's MASE alone
    res = evaluate(ACTUALS, FORECASTS, train=TRAIN, season_length=3)
    scale_b = np.mean(np.abs(np.array([2.0, 3.0]) - np.array([1.0, 1.0])))
    assert res.loc["LSTM", "MASE"] == pytest.approx(1 / scale_b)
    # no series qualifies -> NaN, without warnings
    res = evaluate(ACTUALS, FORECASTS, train=TRAIN, season_length=10)
    assert res["MASE"].isna().all()
    assert not res["MAE"].isna().any()


def test_evaluate_train_order_does_not_matter() -> None:
    shuffled = TRAIN.sample(frac=1.0, random_state=0)
    pd.testing.assert_frame_equal(
        evaluate(ACTUALS, FORECASTS, train=shuffled), evaluate(ACTUALS, FORECASTS, train=TRAIN)
    )


def test_evaluate_non_numeric_model_column() -> None:
    fc = FORECASTS.assign(note="x")
    with pytest.raises(DataError, match=r"forecasts column 'note' .* must be numeric"):
        evaluate(ACTUALS, fc)


def test_evaluate_nan_forecast() -> None:
    fc = FORECASTS.assign(LSTM=[0.0, np.nan, 3.0, 4.0])
    with pytest.raises(DataError, match=r"'LSTM' has 1 NaN .* unique_id='b', ds=2020-01-06"):
        evaluate(ACTUALS, fc)


def test_evaluate_no_model_columns() -> None:
    with pytest.raises(DataError, match="forecasts has no model columns"):
        evaluate(ACTUALS, FORECASTS[["unique_id", "ds"]])


def test_evaluate_unpaired_interval_column() -> None:
    with pytest.raises(DataError, match=r"'LSTM-lo-80' but not LSTM-hi-80"):
        evaluate(ACTUALS, FORECASTS.assign(**{"LSTM-lo-80": 0.0}))


def test_evaluate_interval_without_point_forecast() -> None:
    fc = FORECASTS.assign(**{"GRU-lo-80": 0.0, "GRU-hi-80": 1.0})
    with pytest.raises(DataError, match="no point forecast column 'GRU'"):
        evaluate(ACTUALS, fc)


def test_evaluate_swapped_interval_bounds() -> None:
    fc = FORECASTS.assign(**{"LSTM-lo-80": [0.0, 5.0, 0.0, 0.0], "LSTM-hi-80": 4.0})
    with pytest.raises(DataError, match=r"'LSTM-lo-80' is above 'LSTM-hi-80' in 1 row.*'b'"):
        evaluate(ACTUALS, fc)


def test_evaluate_mismatched_ds_dtypes() -> None:
    fc = FORECASTS.assign(ds=[1, 2, 3, 4])
    with pytest.raises(DataError, match=r"cannot match forecasts to actuals on \(unique_id, ds\)"):
        evaluate(ACTUALS, fc)


def test_evaluate_missing_columns() -> None:
    with pytest.raises(DataError, match=r"actuals is missing column\(s\) \['y'\]"):
        evaluate(ACTUALS.drop(columns="y"), FORECASTS)


# --------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------

_values = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
_pairs = st.lists(st.tuples(_values, _values), min_size=1, max_size=30)


@settings(max_examples=50, deadline=None)
@given(_pairs)
def test_mae_at_most_rmse(pairs: list[tuple[float, float]]) -> None:
    y, f = zip(*pairs, strict=True)
    assert mae(y, f) <= rmse(y, f) * (1 + 1e-9) + 1e-9


@settings(max_examples=50, deadline=None)
@given(_pairs)
def test_smape_within_0_and_200(pairs: list[tuple[float, float]]) -> None:
    y, f = zip(*pairs, strict=True)
    assert 0.0 <= smape(y, f) <= 200.0 + 1e-9


@settings(max_examples=50, deadline=None)
@given(st.lists(_values, min_size=1, max_size=30), st.lists(_values, min_size=2, max_size=30))
def test_perfect_forecast_scores_zero(y: list[float], train: list[float]) -> None:
    assert mae(y, y) == 0.0
    assert rmse(y, y) == 0.0
    assert smape(y, y) == 0.0
    assert coverage(y, y, y) == 1.0
    if len(set(train)) > 1:  # MASE needs a non-constant training series
        assert mase(y, y, train) == 0.0


@pytest.mark.parametrize("unit", [1e-300, 1e-12, 1e155, 1e300])
def test_metrics_at_any_magnitude(unit: float) -> None:
    """Every metric scales with the data (or not at all): no square overflows or underflows."""
    rng = np.random.default_rng(0)
    y, f, train = rng.normal(size=30), rng.normal(size=30), rng.normal(size=60)
    assert rmse(unit * y, unit * f) == pytest.approx(unit * rmse(y, f), rel=1e-12)
    assert mae(unit * y, unit * f) == pytest.approx(unit * mae(y, f), rel=1e-12)
    assert mase(unit * y, unit * f, unit * train) == pytest.approx(mase(y, f, train))
    bounds = {"lo": f - 1, "hi": f + 1}
    frame = pd.DataFrame({"unique_id": "a", "ds": np.arange(30), "y": y, "M": f})
    frame = frame.assign(**{f"M-{side}-80": value for side, value in bounds.items()})
    history = pd.DataFrame({"unique_id": "a", "ds": np.arange(-60, 0), "y": train})
    plain = evaluate(frame, train=history)
    scaled = frame.assign(**{c: unit * frame[c] for c in ("y", "M", "M-lo-80", "M-hi-80")})
    scores = evaluate(scaled, train=history.assign(y=unit * history["y"]))
    for column in ("MAE", "RMSE"):
        assert scores.loc["M", column] == pytest.approx(unit * plain.loc["M", column], rel=1e-12)
    for column in ("sMAPE", "MASE", "coverage-80", "MSIS-80"):
        assert scores.loc["M", column] == pytest.approx(plain.loc["M", column], rel=1e-9)
