"""The leakage check flags covariates built to hold the target's future, with the right lag and
correlation, and stays quiet on honest ones (drivers, flags, trends, lagged copies)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lstmcast.audit import (
    FINDING_COLUMNS,
    PREDICTIVE_MIN_CORRELATION,
    SHIFTED_MIN_CORRELATION,
    leakage,
)
from lstmcast.errors import ConfigError, DataError

N_SERIES, LENGTH = 4, 500


def _ar(rng: np.random.Generator, n: int, phi: float, sd: float) -> np.ndarray:
    """An AR(1) path (n,): x_t = phi x_{t-1} + e_t, e ~ N(0, sd)."""
    noise = rng.normal(0.0, sd, n)
    out = np.empty(n)
    out[0] = noise[0]
    for t in range(1, n):
        out[t] = phi * out[t - 1] + noise[t]
    return out


def _ahead(values: np.ndarray, k: int) -> np.ndarray:
    """values shifted k steps earlier: at t, the value of t + k (NaN past the end)."""
    return np.r_[values[k:], np.full(k, np.nan)]


def _panel(seed: int = 0, smooth: bool = False) -> pd.DataFrame:
    """N_SERIES hourly series of LENGTH points: y = 2 x + AR noise + promotion + daily cycle (or,
    ``smooth``, a slow weekly sine with little noise), beside honest and leaky covariates."""
    rng = np.random.default_rng(seed)
    t = np.arange(LENGTH)
    frames = []
    for s in range(N_SERIES):
        x = _ar(rng, LENGTH, 0.9, 1.0)
        promo = (t % 30 < 5).astype(np.float64)
        if smooth:
            y = 10 * np.sin(2 * np.pi * t / 168 + s) + rng.normal(0, 0.01, LENGTH)
        else:
            y = 2 * x + _ar(rng, LENGTH, 0.7, 2.0) + 3 * promo + 4 * np.sin(2 * np.pi * t / 24)
        change_sd = np.diff(y).std()
        frames.append(
            pd.DataFrame(
                {
                    "unique_id": f"s{s}",
                    "ds": pd.date_range("2024-01-01", periods=LENGTH, freq="h"),
                    "y": y,
                    "driver": x,
                    "promo": promo,
                    "trend": 0.1 * t + np.cumsum(rng.normal(0, 1, LENGTH)),
                    "y_prev": np.r_[np.nan, y[:-1]],  # honest as past-only
                    "y_next": _ahead(y, 1),
                    "y_lead3": _ahead(y, 3),
                    "y_copy": y + rng.normal(0, 0.01 * y.std(), LENGTH),
                    "y_next_noisy": _ahead(y, 1) + rng.normal(0, 0.3 * change_sd, LENGTH),
                    "y_noisy": y + rng.normal(0, 0.3 * change_sd, LENGTH),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return _panel()


def _only(report, column: str) -> pd.Series:
    assert list(report.findings["column"]) == [column], report.summary()
    return report.findings.iloc[0]


def test_the_target_one_step_ahead_as_a_past_only_column_is_a_shifted_target(panel) -> None:
    row = _only(leakage(panel, hist_cols=["y_next"]), "y_next")
    assert (row["kind"], row["check"], row["lag"]) == ("hist", "shifted_target", 1)
    assert row["correlation"] == pytest.approx(1.0)
    assert row["evidence"] == (
        "past-only column 'y_next' equals the target 1 step ahead "
        "(correlation 1.000 of their changes, pooled over 4 series)"
    )


def test_a_noisy_copy_of_the_target_as_a_future_known_column_is_a_shifted_target(panel) -> None:
    row = _only(leakage(panel, futr_cols=["y_copy"]), "y_copy")
    assert (row["kind"], row["check"], row["lag"]) == ("futr", "shifted_target", 0)
    assert SHIFTED_MIN_CORRELATION < row["correlation"] < 1.0
    assert "equals the target at the same step" in row["evidence"]


@pytest.mark.parametrize("kind", ["futr_cols", "hist_cols"])
def test_a_lead_of_three_steps_is_found_at_lag_three(panel, kind: str) -> None:
    row = _only(leakage(panel, **{kind: ["y_lead3"]}), "y_lead3")
    assert (row["check"], row["lag"]) == ("shifted_target", 3)
    assert row["correlation"] == pytest.approx(1.0)
    assert "3 steps ahead" in row["evidence"]


def test_a_mirrored_copy_is_flagged_with_its_sign() -> None:
    df = _panel()
    df["minus_next"] = -3 * df["y_next"] + 7
    row = _only(leakage(df, hist_cols=["minus_next"]), "minus_next")
    assert (row["check"], row["lag"]) == ("shifted_target", 1)
    assert row["correlation"] == pytest.approx(-1.0)
    assert "equals minus the target 1 step ahead" in row["evidence"]


@pytest.mark.parametrize(
    ("kind", "column", "lag"), [("hist_cols", "y_next_noisy", 1), ("futr_cols", "y_next_noisy", 1)]
)
def test_a_column_far_better_than_the_targets_own_past_is_too_predictive(
    panel, kind: str, column: str, lag: int
) -> None:
    row = _only(leakage(panel, **{kind: [column]}), column)
    assert (row["check"], row["lag"]) == ("too_predictive", lag)
    # Noise of 0.3 the changes' spread: correlation 1 / sqrt(1 + 2 * 0.3^2) = 0.92.
    assert row["correlation"] == pytest.approx(0.92, abs=0.02)
    assert PREDICTIVE_MIN_CORRELATION <= row["correlation"] < SHIFTED_MIN_CORRELATION
    assert row["baseline"] < 0.2  # the target's changes barely predict themselves
    assert f"{row['baseline']:.3f}" in row["evidence"]


def test_honest_covariates_are_not_flagged(panel) -> None:
    report = leakage(
        panel.assign(trend_hist=panel["trend"]),
        futr_cols=["driver", "promo", "trend"],
        hist_cols=["trend_hist", "y_prev"],
    )
    assert report.ok, report.summary()
    assert report.findings.empty
    assert list(report.findings.columns) == list(FINDING_COLUMNS)
    assert report.summary() == "no leakage found in 5 covariates"


def test_a_real_driver_correlates_moderately_and_is_not_flagged(panel) -> None:
    """y = 2 x + noise: x explains half the target's changes; a genuine covariate, kept quiet."""
    dx = panel.groupby("unique_id")["driver"].diff()
    dy = panel.groupby("unique_id")["y"].diff()
    assert 0.3 < dx.corr(dy) < 0.8
    assert leakage(panel, futr_cols=["driver"]).ok


def test_a_lagged_copy_of_a_smooth_target_is_honest_though_it_matches_a_step_ahead() -> None:
    df = _panel(smooth=True)
    # On a smooth target, y_{t-1}'s changes match y_{t+1}'s closely too: only the peak tells.
    changes = df.groupby("unique_id")[["y", "y_prev"]].diff()
    ahead = changes["y"].groupby(df["unique_id"]).shift(-1)
    assert changes["y_prev"].corr(ahead) > SHIFTED_MIN_CORRELATION
    report = leakage(df, hist_cols=["y_prev", "y_next"])
    row = _only(report, "y_next")
    assert (row["check"], row["lag"]) == ("shifted_target", 1)


def test_a_future_known_daily_shape_the_target_follows_is_not_too_predictive() -> None:
    """A smooth calendar column moves with a smooth target at 0.9+, but so do its earlier values
    and the target's own past: no gain, no finding."""
    rng = np.random.default_rng(3)
    t = np.arange(LENGTH)
    shape = np.sin(2 * np.pi * t / 24)
    frames = [
        pd.DataFrame(
            {"unique_id": s, "ds": t, "y": 10 * shape + _ar(rng, LENGTH, 0.5, 0.6), "hour": shape}
        )
        for s in range(N_SERIES)
    ]
    df = pd.concat(frames, ignore_index=True)
    changes = df.groupby("unique_id")[["y", "hour"]].diff()
    assert PREDICTIVE_MIN_CORRELATION < changes["y"].corr(changes["hour"]) < 0.98
    assert leakage(df, futr_cols=["hour"]).ok


def test_a_strong_future_known_driver_of_its_own_step_is_no_leak(panel) -> None:
    """Explaining the same step's target (0.92 of its changes) is what a future-known input is
    for; only a near copy (0.98) is flagged there."""
    assert leakage(panel, futr_cols=["y_noisy"]).ok


def test_a_smooth_driver_whose_earlier_values_predict_as_well_is_not_too_predictive() -> None:
    """A weather-like column (changes that persist) drives the target at 0.9+ the same step;
    its value a step earlier predicts nearly as well, which no leak does: no finding."""
    rng = np.random.default_rng(0)
    frames = []
    for s in range(N_SERIES):
        temperature = np.cumsum(_ar(rng, LENGTH, 0.95, 0.1))
        y = 10 * temperature + rng.normal(0, 0.95, LENGTH)
        frames.append(
            pd.DataFrame({"unique_id": s, "ds": np.arange(LENGTH), "y": y, "temp": temperature})
        )
    df = pd.concat(frames, ignore_index=True)
    changes = df.groupby("unique_id")[["y", "temp"]].diff()
    assert PREDICTIVE_MIN_CORRELATION < changes["y"].corr(changes["temp"]) < 0.98
    own_past = changes["y"].corr(changes["y"].groupby(df["unique_id"]).shift(1))
    assert own_past < 0.8  # the target's own past alone would leave the column a clear gain
    assert leakage(df, futr_cols=["temp"]).ok


def test_no_change_spans_two_series() -> None:
    """Series at levels 0, 100, 200, ...: target and covariate jump together between series, so
    differences across the boundaries would correlate; within each series they are unrelated."""
    rng = np.random.default_rng(1)
    n_series, n = 6, 80
    ids = np.repeat(np.arange(n_series), n)
    level = 100.0 * ids
    df = pd.DataFrame(
        {
            "unique_id": ids,
            "ds": np.tile(np.arange(n), n_series),
            "y": level + rng.normal(0, 1, n * n_series),
            "c": level + rng.normal(0, 1, n * n_series),
        }
    )
    across = np.corrcoef(np.diff(df["y"]), np.diff(df["c"]))[0, 1]
    assert across > 0.5  # what differencing across boundaries would see
    report = leakage(df, futr_cols=["c"], max_lag=5)
    assert report.ok, report.summary()
    assert report.n_series == n_series


def test_no_lag_pairs_rows_of_two_series() -> None:
    """Each series' covariate is the next series' target: pairing rows LENGTH apart across a
    boundary would see an exact copy; within a series there is nothing."""
    rng = np.random.default_rng(2)
    n_series, n = 8, 60
    targets = [np.cumsum(rng.normal(0, 1, n)) for _ in range(n_series + 1)]
    df = pd.DataFrame(
        {
            "unique_id": np.repeat(np.arange(n_series), n),
            "ds": np.tile(np.arange(n), n_series),
            "y": np.concatenate(targets[:-1]),
            "c": np.concatenate(targets[1:]),
        }
    )
    report = leakage(df, hist_cols=["c"], max_lag=n)
    assert report.ok, report.summary()


def test_pooled_over_series_whatever_their_row_order(panel) -> None:
    """Series interleaved row by row (each still in time order) give the same findings."""
    interleaved = panel.sort_values(["ds", "unique_id"], kind="stable", ignore_index=True)
    columns = {"futr_cols": ["y_copy", "driver"], "hist_cols": ["y_next", "y_prev"]}
    grouped, mixed = leakage(panel, **columns), leakage(interleaved, **columns)
    pd.testing.assert_frame_equal(grouped.findings, mixed.findings)
    assert mixed.n_series == N_SERIES


def test_nan_rows_are_dropped_pair_by_pair(panel) -> None:
    df = panel.copy()
    df.loc[df.index[::7], "y_next"] = np.nan
    df.loc[df.index[3::11], "y"] = np.nan
    row = _only(leakage(df, hist_cols=["y_next", "driver"]), "y_next")
    assert (row["check"], row["lag"]) == ("shifted_target", 1)
    assert row["correlation"] == pytest.approx(1.0)


def test_boolean_and_nullable_integer_columns_are_read(panel) -> None:
    df = panel.assign(
        promo_flag=panel["promo"] > 0,
        next_int=pd.array(panel["y_next"].round(0) * 100, dtype="Int64"),  # NaN -> pd.NA
    )
    report = leakage(df, futr_cols=["promo_flag"], hist_cols=["next_int"])
    assert list(report.findings["column"]) == ["next_int"]


def test_columns_with_constant_changes_are_skipped(panel) -> None:
    df = panel.assign(const=5.0, step=np.tile(np.arange(LENGTH, dtype=np.float64), N_SERIES))
    report = leakage(df, futr_cols=["const", "step", "driver"])
    assert report.ok
    assert report.skipped == ("const", "step")
    assert report.summary() == (
        "no leakage found in 1 covariate; not checked (constant changes): 'const', 'step'"
    )


def test_summary_names_each_flagged_column(panel) -> None:
    report = leakage(panel, futr_cols=["driver", "y_lead3"], hist_cols=["y_next"])
    assert not report.ok
    assert report.summary() == (
        "2 of 3 covariates look like leakage: "
        "'y_lead3' (the target 3 steps ahead, correlation 1.000); "
        "'y_next' (the target 1 step ahead, correlation 1.000)"
    )


def test_default_max_lag_is_two_seasons_within_a_quarter_of_the_shortest_series(panel) -> None:
    assert leakage(panel, futr_cols=["driver"]).max_lag == 48  # hourly: 2 x 24
    short = panel.groupby("unique_id").head(100)
    assert leakage(short, futr_cols=["driver"]).max_lag == 25
    integer_times = panel.assign(ds=panel.groupby("unique_id").cumcount(), y=panel["trend"])
    assert leakage(integer_times, futr_cols=["driver"]).max_lag == 48  # no season: 48


def test_bad_arguments_raise_clear_errors(panel) -> None:
    with pytest.raises(DataError, match="'nope' is not in the data"):
        leakage(panel, futr_cols=["nope"])
    with pytest.raises(ConfigError, match="'driver' is declared twice"):
        leakage(panel, futr_cols=["driver"], hist_cols=["driver"])
    with pytest.raises(ConfigError, match="'y' is the series id, time or target"):
        leakage(panel, hist_cols=["y"])
    with pytest.raises(DataError, match="no rows"):
        leakage(panel.iloc[:0], futr_cols=["driver"])
    with pytest.raises(ConfigError, match="max_lag=0"):
        leakage(panel, futr_cols=["driver"], max_lag=0)
