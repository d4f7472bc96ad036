"""benchmarks/covariates.py: its data, protocol, baselines and metrics, and its LSTM paths."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from benchmarks import covariates as cov
from benchmarks import etth_data

# (file, sha256 of the gzip file, sha256 unpacked): benchmarks/data/README.md.
DATA_FILES = [
    (
        cov.EPF_PATH,
        "cbdef04769a0dfe24019e79221c33c1c4b26dacc2e1abd0b008c3a9e4b6815e7",
        "14bc1b3a41c041b5c26e83cb83d2bf0f81ee928eb8973a9f9f004bcaf10e6c68",
    ),
    (
        cov.EPF_FUTURE_PATH,
        "865fa29e4fce152ea17c8d31edd8242daae97c6584b5e68757bf43333dd70b56",
        "f8db5430643afde233b5bebabeb31a84f96e2455c007b138d066b8dbbfba7caa",
    ),
    (
        cov.M5_PATH,
        "070896bc5d16dba059cba314fe07eb3737e2b9941c919c8059c9cf4e1c385692",
        "c0d257cffbe17aa56863ba8a936b91abf5fc4c243a99d0861013139131833d21",
    ),
]


@pytest.fixture(scope="module")
def epf() -> pd.DataFrame:
    return cov.load_epf()


@pytest.fixture(scope="module")
def m5() -> pd.DataFrame:
    return cov.load_m5()


# -- data --------------------------------------------------------------------------------------
@pytest.mark.parametrize(("path", "packed", "unpacked"), DATA_FILES)
def test_data_files_are_the_credited_ones(path: Path, packed: str, unpacked: str) -> None:
    raw = path.read_bytes()
    assert hashlib.sha256(raw).hexdigest() == packed
    assert hashlib.sha256(gzip.decompress(raw)).hexdigest() == unpacked
    assert path.name in (Path(cov.__file__).parent / "data" / "README.md").read_text()


def test_epf_has_1680_hours_per_market_without_gaps(epf: pd.DataFrame) -> None:
    assert tuple(epf["unique_id"].unique()) == ("BE", "DE", "FR", "NP")
    for _, times in epf.groupby("unique_id")["ds"]:
        assert len(times) == 1680
        assert (times.diff().iloc[1:] == pd.Timedelta(hours=1)).all()
        assert times.iloc[0].hour == 0
    assert not epf.isna().any().any()


def test_epf_test_origins_are_the_last_seven_midnights(epf: pd.DataFrame) -> None:
    ids, values, times = cov.as_panel(epf)
    positions = cov.origins(values.shape[1], cov.EPF_H, cov.EPF_ORIGINS, cov.EPF_H)
    np.testing.assert_array_equal(positions, 1512 + 24 * np.arange(7))
    starts = pd.DatetimeIndex(times[:, positions].reshape(-1))
    assert (starts.hour == 0).all()
    assert (starts.minute == 0).all()
    # The last target is each market's last hour: the test is exactly its last 7 x 24 hours.
    assert positions[-1] + cov.EPF_H == 1680
    assert ids == ["BE", "DE", "FR", "NP"]
    assert pd.Timestamp(times[0, 1512]) == pd.Timestamp("2016-12-24 00:00")


def test_epf_future_file_continues_each_market(epf: pd.DataFrame) -> None:
    future = cov.load_epf_future(history=epf)
    assert future.groupby("unique_id").size().tolist() == [24] * 4
    assert "y" not in future.columns


def test_epf_loader_refuses_a_gap_and_wrong_day_dummies(epf: pd.DataFrame, tmp_path: Path) -> None:
    gap = tmp_path / "gap.csv"
    epf.drop(index=100).to_csv(gap, index=False)
    with pytest.raises(ValueError, match="expected 1680 hours"):
        cov.load_epf(gap)
    days = epf.copy()
    days[["day_0", "day_1"]] = days[["day_1", "day_0"]].to_numpy()
    wrong = tmp_path / "days.csv"
    days.to_csv(wrong, index=False)
    with pytest.raises(ValueError, match="day of the week"):
        cov.load_epf(wrong)
    shifted = epf.copy()
    shifted["ds"] = shifted["ds"] + pd.Timedelta(hours=1)
    late = tmp_path / "late.csv"
    shifted.to_csv(late, index=False)
    with pytest.raises(ValueError, match="midnight"):
        cov.load_epf(late)


def test_m5_has_8_series_of_1969_days_and_leading_missing_prices(m5: pd.DataFrame) -> None:
    assert m5["unique_id"].nunique() == 8
    assert (m5.groupby("unique_id").size() == 1969).all()
    missing = m5["sell_price"].isna()
    assert missing.sum() == 1057
    for _, series in m5.groupby("unique_id"):
        gap = series["sell_price"].isna().to_numpy()
        assert not gap[np.argmin(gap) :].any()  # only before the first price
        assert (series["y"].to_numpy()[gap] == 0).all()
    assert m5["y"].dtype == np.float64


def test_m5_loader_refuses_a_missing_price_after_the_first(
    m5: pd.DataFrame, tmp_path: Path
) -> None:
    holed = m5.copy()
    holed.loc[1000, "sell_price"] = np.nan  # FOODS_1_001 has every price
    path = tmp_path / "m5.csv"
    holed.to_csv(path, index=False)
    with pytest.raises(ValueError, match="after an item's first price"):
        cov.load_m5(path)


def test_etth1_frame_is_ot_with_the_six_loads() -> None:
    frame = cov.load_etth1()
    assert list(frame.columns) == [
        "unique_id",
        "ds",
        "y",
        "HUFL",
        "HULL",
        "MUFL",
        "MULL",
        "LUFL",
        "LULL",
    ]
    assert len(frame) == etth_data.TEST_END
    raw = etth_data.load_etth1()
    np.testing.assert_array_equal(frame["y"], raw["OT"].iloc[: etth_data.TEST_END])


# -- metrics, on examples computed by hand -----------------------------------------------------
def test_mae_and_rmse() -> None:
    actual, forecast = np.array([1.0, 2.0, 3.0]), np.array([2.0, 2.0, 5.0])
    assert cov.mae(actual, forecast) == pytest.approx(1.0)  # (1 + 0 + 2) / 3
    assert cov.rmse(actual, forecast) == pytest.approx(np.sqrt(5 / 3))  # (1 + 0 + 4) / 3


def test_mase_scales_by_the_in_sample_seasonal_difference() -> None:
    insample = np.array([1.0, 3.0, 2.0, 4.0, 3.0, 5.0])  # lag-2 differences: 1, 1, 1, 1
    assert cov.mase([6.0, 7.0], [5.0, 9.0], insample, 2) == pytest.approx(1.5)
    # lag 1: |2|, |-1|, |2|, |-1|, |2| -> 8 / 5
    assert cov.mase([6.0, 7.0], [5.0, 9.0], insample, 1) == pytest.approx(1.5 / 1.6)


def test_rmsse_scales_by_the_one_step_naive_rmse() -> None:
    insample = np.array([0.0, 2.0, 0.0, 2.0])  # one-step differences 2, -2, 2: RMSE 2
    # errors 2, 0: RMSE sqrt(2)
    assert cov.rmsse([1.0, 1.0], [3.0, 1.0], insample) == pytest.approx(np.sqrt(2) / 2)


def test_over_series_averages_each_series_metric() -> None:
    actual = np.array([[1.0, 1.0], [0.0, 0.0]])
    forecast = np.array([[2.0, 2.0], [0.0, 4.0]])
    insample = [np.array([0.0, 1.0]), np.array([0.0, 2.0])]  # scales 1 and 2
    # series 1: RMSE 1 / 1; series 2: RMSE sqrt(8) / 2
    expected = (1.0 + np.sqrt(8) / 2) / 2
    assert cov.over_series(cov.rmsse, actual, forecast, insample) == pytest.approx(expected)


def test_seasonal_naive_repeats_the_last_season() -> None:
    history = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    np.testing.assert_array_equal(cov.seasonal_naive(history, 5, 2), [4, 5, 4, 5, 4])
    np.testing.assert_array_equal(cov.seasonal_naive(history, 2, 4), [2, 3])  # lag 4
    values = np.arange(10.0)[None]
    got = cov.seasonal_naive_forecasts(values, np.array([6, 8]), 2, 3)
    np.testing.assert_array_equal(got, [[[3, 4], [5, 6]]])  # only values before each origin


def test_origins_leave_exactly_h_points_after_the_last() -> None:
    np.testing.assert_array_equal(cov.origins(1969, 28, 1, 28), [1941])
    np.testing.assert_array_equal(cov.origins(10, 2, 3, 1), [6, 7, 8])
    with pytest.raises(ValueError, match="do not fit"):
        cov.origins(10, 5, 2, 5)


# -- the protocol and its baselines ------------------------------------------------------------
def test_epf_seasonal_naive_scores_the_anchors() -> None:
    table = cov.run_epf(variants=()).table
    # ../shared/ANCHORS.md, "Peer LSTM with covariates"
    daily = table.loc["seasonal naive 24 h"]
    weekly = table.loc["seasonal naive 168 h"]
    for market, day, week in zip(
        ("BE", "DE", "FR", "NP"),
        (7.82, 20.65, 8.47, 5.02),
        (12.98, 31.55, 11.85, 7.39),
        strict=True,
    ):
        assert daily[f"MAE {market}"] == pytest.approx(day, abs=5e-3)
        assert weekly[f"MAE {market}"] == pytest.approx(week, abs=5e-3)
    assert daily["MAE mean"] == pytest.approx(10.49, abs=5e-3)
    assert weekly["MAE mean"] == pytest.approx(15.94, abs=5e-3)
    assert (table.filter(like="RMSE").to_numpy() >= table.filter(like="MAE").to_numpy()).all()


def test_m5_seasonal_naive_scores_the_anchors() -> None:
    row = cov.run_m5(variants=()).table.loc["seasonal naive 7"]
    assert row["MASE"] == pytest.approx(1.372, abs=5e-4)
    assert row["RMSSE"] == pytest.approx(1.187, abs=5e-4)
    assert row["RMSSE from first sale"] == pytest.approx(1.1415, abs=5e-4)


def test_etth1_repeat_scores_the_published_ot_figure() -> None:
    outcome = cov.run_etth1(variants=())  # also checks the windows against etth_data
    assert outcome.table.at["Repeat (last value)", "MSE"] == pytest.approx(0.069, abs=1e-3)
    assert "2785 windows" in outcome.notes[0]


def _poisoned(frame: pd.DataFrame, n: int) -> pd.DataFrame:
    """``frame`` with each series' last ``n`` targets replaced by absurd values."""
    frame = frame.copy()
    groups = frame.groupby("unique_id", sort=False)
    last = groups.cumcount() >= groups["ds"].transform("size") - n
    frame.loc[last, "y"] = 1e9
    return frame


def test_validation_never_reads_the_test_part(
    epf: pd.DataFrame, m5: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    honest = [run(validate=True, variants=()).table for run in (cov.run_epf, cov.run_m5)]
    monkeypatch.setattr(cov, "load_epf", lambda: _poisoned(epf, 7 * 24))
    monkeypatch.setattr(cov, "load_m5", lambda: _poisoned(m5, 28))
    poisoned = [run(validate=True, variants=()).table for run in (cov.run_epf, cov.run_m5)]
    for table, other in zip(honest, poisoned, strict=True):
        pd.testing.assert_frame_equal(table, other)
    # ...whereas the test run reads it.
    assert cov.run_m5(variants=()).table.to_numpy().max() > 1e6


def test_etth1_validation_reads_no_row_of_the_test_months(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = etth_data.load_etth1()
    poisoned = raw.copy()
    poisoned.loc[etth_data.VAL_END :, list(etth_data.CHANNELS)] = np.nan
    monkeypatch.setattr(cov.etth_data, "load_etth1", lambda: poisoned)
    outcome = cov.run_etth1(validate=True, variants=())
    assert np.isfinite(outcome.table.to_numpy()).all()
    assert "trained on rows [0, 5760), validation [5760, 8640)" in outcome.notes[0]
    assert "targets from row 8640" in outcome.notes[0]


# -- the LSTM paths, with a stand-in model: what each call is given ----------------------------
class Oracle:
    """A stand-in LSTMForecaster: records its calls and forecasts the true values (looked up
    in ``truth``), so that a benchmark scoring it finds zero error if it aligns them right."""

    def __init__(self, truth: pd.DataFrame, **settings: Any) -> None:
        self.truth = truth.set_index(["unique_id", "ds"])["y"]
        self.settings = settings
        self.fitted: pd.DataFrame | None = None
        self.calls: list[dict[str, Any]] = []
        self.seed_, self.recipe_ = 0, ["a reason"]
        self.scaler_: Any = None

    def get_params(self) -> dict[str, Any]:
        return {"window": "auto", **self.settings}

    @property
    def settings_(self) -> dict[str, Any]:
        return {"window": 7, **self.settings}

    def fit(self, df: pd.DataFrame) -> Oracle:
        self.fitted = df
        return self

    def _truth_after(self, df: pd.DataFrame, h: int, step: pd.Timedelta) -> pd.DataFrame:
        parts = []
        for uid, end in df.groupby("unique_id", sort=False)["ds"].max().items():
            times = pd.date_range(end + step, periods=h, freq=step)
            values = self.truth.loc[[(uid, t) for t in times]].to_numpy()
            parts.append(pd.DataFrame({"unique_id": uid, "ds": times, "LSTM": values}))
        return pd.concat(parts, ignore_index=True)

    def predict(
        self, h: int, df: pd.DataFrame, futr_df: pd.DataFrame | None = None
    ) -> pd.DataFrame:
        self.calls.append({"h": h, "df": df, "futr_df": futr_df})
        step = df["ds"].iloc[1] - df["ds"].iloc[0]
        return self._truth_after(df, h, step)


def _oracles(monkeypatch: pytest.MonkeyPatch, truth: pd.DataFrame) -> list[Oracle]:
    made: list[Oracle] = []

    def make_model(horizon: int, seed: int, smoke: bool, **settings: Any) -> Oracle:
        made.append(Oracle(truth, horizon=horizon, **settings))
        return made[-1]

    monkeypatch.setattr(cov, "make_model", make_model)
    return made


def test_epf_lstm_calls_get_the_history_and_only_the_future_covariates(
    epf: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = _oracles(monkeypatch, epf)
    outcome = cov.run_epf()
    with_, without = made
    assert with_.settings == {"horizon": 24, "futr_cols": cov.EPF_FUTR}
    assert without.settings == {"horizon": 24}
    assert with_.fitted is not None
    assert without.fitted is not None
    assert list(with_.fitted.columns) == ["unique_id", "ds", "y", *cov.EPF_FUTR]
    assert list(without.fitted.columns) == ["unique_id", "ds", "y"]
    assert (with_.fitted.groupby("unique_id").size() == 1512).all()  # before the first origin
    assert len(with_.calls) == len(without.calls) == 7
    for k, call in enumerate(with_.calls):
        origin = 1512 + 24 * k
        assert (call["df"].groupby("unique_id").size() == origin).all()
        future = call["futr_df"]
        assert list(future.columns) == ["unique_id", "ds", *cov.EPF_FUTR]  # never the prices
        assert (future.groupby("unique_id").size() == 24).all()
        assert (future.groupby("unique_id")["ds"].min().dt.hour == 0).all()
        expected = epf.groupby("unique_id").nth(list(range(origin, origin + 24)))
        np.testing.assert_array_equal(future["ds"], expected["ds"])
    assert all(call["futr_df"] is None for call in without.calls)
    lstm = outcome.table.loc[[f"lstmcast {cov.WITH}", f"lstmcast {cov.WITHOUT}"]]
    assert lstm.to_numpy() == pytest.approx(0.0)  # the true values, aligned
    assert not outcome.errors
    assert "window=7*" in outcome.fitted[cov.WITH].settings


def test_m5_lstm_declares_the_missing_price_policy(
    m5: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = _oracles(monkeypatch, m5)
    outcome = cov.run_m5()
    with_, without = made
    expected = {"horizon": 28, "loss": "mse"}  # M5's metric, RMSSE, asks for the mean
    assert with_.settings == expected | {"futr_cols": cov.M5_FUTR, "covariate_missing": "zero"}
    assert without.settings == expected
    (call,) = with_.calls
    assert (call["df"].groupby("unique_id").size() == 1941).all()
    assert list(call["futr_df"].columns) == ["unique_id", "ds", *cov.M5_FUTR]
    assert not call["futr_df"].isna().any().any()
    assert outcome.table.loc[f"lstmcast {cov.WITH}"].to_numpy() == pytest.approx(0.0)
    assert outcome.table.loc[f"lstmcast {cov.WITHOUT}"].to_numpy() == pytest.approx(0.0)
    assert any("target: RMSSE below the peer's 0.948" in note for note in outcome.notes)


class BacktestOracle(Oracle):
    """An Oracle that also backtests (the true values) and holds the scaler of the rows before
    its validation tail, as LSTMForecaster does."""

    def fit(self, df: pd.DataFrame) -> Oracle:
        train = df["y"].to_numpy()[: len(df) - self.settings["val_size"]]
        self.scaler_ = SimpleNamespace(
            shift=np.array([train.mean()]), scale=np.array([train.std()])
        )
        return super().fit(df)

    def backtest(self, df: pd.DataFrame, h: int, n_windows: int, step_size: int) -> pd.DataFrame:
        self.calls.append({"h": h, "df": df, "n_windows": n_windows, "step_size": step_size})
        first = len(df) - h - step_size * (n_windows - 1)
        rows = (first + step_size * np.arange(n_windows))[:, None] + np.arange(h)
        ds = df["ds"].to_numpy()[rows.reshape(-1)]
        y = df["y"].to_numpy()[rows.reshape(-1)]
        return pd.DataFrame({"unique_id": "OT", "ds": ds, "y": y, "LSTM": y})


def test_etth1_lstm_reads_the_loads_up_to_each_origin_only_through_backtest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made: list[Oracle] = []

    def make_model(horizon: int, seed: int, smoke: bool, **settings: Any) -> Oracle:
        made.append(BacktestOracle(cov.load_etth1(), horizon=horizon, **settings))
        return made[-1]

    monkeypatch.setattr(cov, "make_model", make_model)
    outcome = cov.run_etth1()
    with_, without = made
    protocol = {"horizon": 96, "window": 96, "val_size": 2880}
    assert with_.settings == protocol | {"hist_cols": cov.ETTH1_LOADS}
    assert without.settings == protocol
    assert with_.fitted is not None
    assert len(with_.fitted) == etth_data.VAL_END  # training and validation months only
    assert list(with_.fitted.columns) == ["unique_id", "ds", "y", *cov.ETTH1_LOADS]
    (call,) = with_.calls
    assert (call["n_windows"], call["step_size"], call["h"]) == (2785, 1, 96)
    assert len(call["df"]) == etth_data.TEST_END
    assert list(call["df"].columns) == ["unique_id", "ds", "y", *cov.ETTH1_LOADS]
    assert list(without.calls[0]["df"].columns) == ["unique_id", "ds", "y"]
    lstm = outcome.table.loc[[f"lstmcast {cov.WITH}", f"lstmcast {cov.WITHOUT}"]]
    assert lstm.to_numpy() == pytest.approx(0.0)
    assert "target: with the loads no worse than OT alone (MSE): met" in outcome.notes


def test_a_failing_model_is_reported_and_the_others_still_run() -> None:
    def run(covariates: bool, **kwargs: Any) -> cov.Fitted:
        if covariates:
            raise TypeError("unexpected keyword argument 'futr_cols'")
        return cov.Fitted(np.zeros((1, 1, 1)), 1.0, 2.0, "window=7", 0)

    fitted, errors = cov.run_lstms(run, cov.VARIANTS)
    assert list(fitted) == [cov.WITHOUT]
    assert "TypeError: unexpected keyword argument 'futr_cols'" in errors[cov.WITH]


def test_report_tables() -> None:
    table = pd.DataFrame(
        {"MSE": [0.05, 0.06, 0.07], "MAE": [0.1, 0.2, 0.3]},
        index=[f"lstmcast {cov.WITH}", f"lstmcast {cov.WITHOUT}", "Repeat (last value)"],
    )
    fitted = {v: cov.Fitted(np.zeros((1, 1, 1)), 10.0, 1.0, "window=96", 0) for v in cov.VARIANTS}
    outcome = cov.Outcome("etth1", "ETTh1", table, "MSE", fitted, notes=["a note"], load="1, 1, 1")
    text = cov.details(outcome)
    assert "| model | MSE | MAE |" in text
    assert "| lstmcast with covariates | 0.0500 | 0.1000 |" in text
    assert "training 10.0 s" in text
    summary = cov.summary([outcome])
    assert (
        "| etth1 | MSE | 0.0500 | 0.0600 | -16.7% | Repeat (last value) 0.0700 | 10.0 / 10.0 |"
        in summary
    )


# -- the real LSTM, in smoke mode --------------------------------------------------------------
@pytest.mark.parametrize(
    "run", [cov.run_epf, cov.run_m5, cov.run_etth1], ids=["epf", "m5", "etth1"]
)
def test_smoke_without_covariates(run: Any) -> None:
    outcome = run(seed=0, smoke=True, variants=(cov.WITHOUT,))
    assert not outcome.errors, outcome.errors
    fitted = outcome.fitted[cov.WITHOUT]
    assert np.isfinite(fitted.forecast).all()
    assert "epochs=1" in fitted.settings
    assert "hidden_size=8" in fitted.settings
    assert np.isfinite(outcome.table.loc[f"lstmcast {cov.WITHOUT}"]).all()


def test_smoke_with_covariates(capsys: pytest.CaptureFixture[str]) -> None:
    status = cov.main(["--smoke", "--threads", "1"])
    printed = capsys.readouterr().out
    assert status == 0, printed
    assert "FAILED" not in printed
    assert "futr_cols=" in printed
    assert "hist_cols=" in printed
    assert "covariate_missing='zero'" in printed
    assert printed.count("| lstmcast with covariates |") == 3


def test_unknown_data_set_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cov.main(["--only", "epf,ettm1"])
    assert "--only takes some of epf,m5,etth1" in capsys.readouterr().err
