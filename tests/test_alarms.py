"""The sanity alarms wired in: every fit with a validation tail keeps ``diagnostics_`` (saved
with the model), ``lstmcast train`` and ``backtest`` end with their line, ``inspect`` shows it.

Each alarm fires through a real fit on data built for it and stays quiet on a good model.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner, Result

import lstmcast as lc
from lstmcast import cli
from lstmcast.diagnostics import diagnose

SEASON = 24
H = 24


def seasonal(n_series: int = 4, days: int = 20, seed: int = 0) -> pd.DataFrame:
    """Hourly series with a strong daily cycle and a little noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(SEASON * days)
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "unique_id": f"s{k}",
                    "ds": pd.date_range("2024-01-01", periods=len(t), freq="h"),
                    "y": 10 + 3 * np.sin(2 * np.pi * t / SEASON + k) + rng.normal(0, 0.2, len(t)),
                }
            )
            for k in range(n_series)
        ],
        ignore_index=True,
    )


def random_walks(n_series: int = 4, length: int = 480, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "unique_id": f"w{k}",
                    "ds": np.arange(length),
                    "y": rng.normal(size=length).cumsum(),
                }
            )
            for k in range(n_series)
        ],
        ignore_index=True,
    )


@pytest.fixture(scope="module")
def good() -> lc.LSTMForecaster:
    """The recipe on an easy seasonal series: it learns the cycle."""
    return lc.LSTMForecaster(horizon=H, random_state=0).fit(seasonal())


def test_a_good_model_raises_no_alarm(good: lc.LSTMForecaster) -> None:
    diagnostics = good.diagnostics_
    assert diagnostics is not None
    assert len(diagnostics.series) == 4
    assert not diagnostics.loses_to_seasonal_naive
    assert diagnostics.skill_seasonal > 0.1
    assert not diagnostics.series[["loses_to_seasonal", "flat"]].to_numpy().any()
    assert (diagnostics.series["lag"] == 0).all()
    line = diagnostics.summary()
    assert line.startswith("validation MASE ")
    assert "0 of 4 series lose to seasonal naive, 0 flat, 0 lagged copies" in line


def test_a_model_that_cannot_learn_loses_to_seasonal_naive() -> None:
    model = lc.LSTMForecaster(horizon=H, epochs=1, random_state=0).fit(seasonal())
    assert model.diagnostics_.loses_to_seasonal_naive
    assert model.diagnostics_.series["loses_to_seasonal"].all()
    assert "4 of 4 series lose to seasonal naive" in model.diagnostics_.summary()


def test_an_untrained_model_forecasts_flat() -> None:
    # One epoch at a negligible learning rate: the network's output stays near its constant
    # start, which the window normalisation turns into each window's mean.
    settings = {"horizon": H, "epochs": 1, "lr": 1e-6, "season_length": SEASON}
    model = lc.LSTMForecaster(random_state=0, **settings).fit(seasonal())
    assert model.diagnostics_.series["flat"].all()
    assert "4 flat (s0, s1, s2, ...)" in model.diagnostics_.summary()


def test_a_one_step_model_of_random_walks_is_a_lagged_copy() -> None:
    # The best one-step forecast of a random walk is its last value: the classic "LSTM that
    # repeats what it just saw", one step late on every validation point.
    settings = {"horizon": 1, "window": 24, "val_size": 48, "epochs": 5, "season_length": 1}
    model = lc.LSTMForecaster(random_state=0, **settings).fit(random_walks())
    # (An LSTM that smooths the last few values lags them by one or two steps.)
    assert model.diagnostics_.series["lag"].between(1, 2).all()
    assert "4 lagged copies" in model.diagnostics_.summary()


def test_the_validation_windows_are_a_backtest_of_the_tail() -> None:
    """Three windows of h in each tail score as backtest(n_windows=3) scored by diagnose."""
    df = seasonal(n_series=3, days=16)
    settings = {"horizon": H, "val_size": 3 * H, "epochs": 3, "season_length": SEASON}
    model = lc.LSTMForecaster(random_state=0, **settings).fit(df)
    frames = [
        forecaster.backtest(df, h=H, n_windows=3)
        for forecaster in (model, lc.Naive().fit(df), lc.SeasonalNaive(SEASON).fit(df))
    ]
    keys = ["unique_id", "ds", "cutoff", "y"]
    merged = frames[0].merge(frames[1], on=keys).merge(frames[2], on=keys)
    train = df.groupby("unique_id").head(16 * SEASON - 3 * H)
    expected = diagnose(df, merged, "LSTM", season_length=SEASON, train=train)
    pd.testing.assert_frame_equal(model.diagnostics_.series, expected.series)
    assert model.diagnostics_.summary() == expected.summary()


def test_without_a_validation_tail_there_are_no_diagnostics() -> None:
    model = lc.LSTMForecaster(recipe="tutorial", epochs=1, random_state=0).fit(seasonal(2, 5))
    assert model.val_size is None
    assert model.diagnostics_ is None


def test_alarms_that_fail_leave_the_fit_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    import lstmcast.diagnostics

    def broken(*args: object) -> None:
        raise ValueError("broken on purpose")

    monkeypatch.setattr(lstmcast.diagnostics, "_judge", broken)
    with pytest.warns(RuntimeWarning, match="broken on purpose"):
        model = lc.LSTMForecaster(horizon=H, epochs=1, random_state=0).fit(seasonal(2, 10))
    assert model.diagnostics_ is None
    assert len(model.predict()) == 2 * H


def test_diagnostics_are_saved_with_the_model(good: lc.LSTMForecaster, tmp_path: Path) -> None:
    good.save(tmp_path / "m")
    saved = json.loads((tmp_path / "m" / "config.json").read_text())["diagnostics"]
    assert saved["summary"] == good.diagnostics_.summary()
    loaded = lc.load(tmp_path / "m").diagnostics_
    assert loaded.summary() == good.diagnostics_.summary()
    pd.testing.assert_frame_equal(loaded.series, good.diagnostics_.series)

    # A model saved before the alarms has none; a doctored entry is refused.
    config = tmp_path / "m" / "config.json"
    without = json.loads(config.read_text())
    del without["diagnostics"]
    config.write_text(json.dumps(without))
    assert lc.load(tmp_path / "m").diagnostics_ is None
    without["diagnostics"] = saved | {"series": saved["series"] | {"lag": ["one"] * 4}}
    config.write_text(json.dumps(without))
    with pytest.raises(lc.ModelFileError, match="diagnostics"):
        lc.load(tmp_path / "m")


# --------------------------------------------------------------------------------------------
# The command line

runner = CliRunner()


def run(*args: object) -> Result:
    return runner.invoke(cli.app, [str(a) for a in args])


def test_train_ends_with_the_alarms_line_and_warns_when_it_loses(tmp_path: Path) -> None:
    data = tmp_path / "data.csv"
    seasonal().to_csv(data, index=False)
    common = ["--horizon", H, "--seed", 0, "--quiet"]
    result = run("train", data, "-o", tmp_path / "bad", *common, "--epochs", 1)
    assert result.exit_code == 0, result.output
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith("validation MASE ")
    assert "4 of 4 series lose to seasonal naive" in last
    warning = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    # The alarm's warning, then the intervals' (4 series' tails: too few whole horizons).
    assert len(warning) == 2
    assert "seasonal naive" in warning[0]
    assert "lstmcast tune" in warning[0]
    assert warning[1].startswith("warning: the 95% intervals are calibrated on ")

    result = run("train", data, "-o", tmp_path / "good", *common)
    assert result.exit_code == 0, result.output
    assert "0 of 4 series lose" in result.stdout.strip().splitlines()[-1]
    assert "seasonal naive" not in result.stderr

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # inspect's plot
        result = run("inspect", tmp_path / "good", "-o", tmp_path / "gates.png")
    assert result.exit_code == 0, result.output
    assert lc.load(tmp_path / "good").diagnostics_.summary() in result.stdout


def test_backtest_prints_the_alarms_line_for_its_windows(tmp_path: Path) -> None:
    data = tmp_path / "data.csv"
    seasonal(n_series=2, days=12).to_csv(data, index=False)
    options = ["--h", H, "--n-windows", 2, "--epochs", 2, "--seed", 0, "--quiet"]
    result = run("backtest", data, *options, "-o", tmp_path / "backtest.csv")
    assert result.exit_code == 0, result.output
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("backtest ")]
    merged = pd.read_csv(tmp_path / "backtest.csv", parse_dates=["ds", "cutoff"])
    df = pd.read_csv(data, parse_dates=["ds"])
    train = df.groupby("unique_id").head(12 * SEASON - 2 * H)
    expected = diagnose(df, merged, "LSTM", season_length=SEASON, train=train)
    assert line == expected.summary("backtest")
