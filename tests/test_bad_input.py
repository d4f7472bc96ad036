"""The bad-input catalogue: every case raises lstmcast's own exception with a message that says
what is wrong and where, through the Python API and through the CLI (exit 1, one line on stderr,
no traceback)."""

from __future__ import annotations

import json
import pickle
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import lstmcast as lc
from lstmcast import cli

HOURS = pd.date_range("2024-01-01", periods=60, freq="h").strftime("%Y-%m-%d %H:%M")
TINY = {"window": 8, "hidden_size": 4, "epochs": 1, "random_state": 0}
TINY_CLI = ["--window", "8", "--hidden-size", "4", "--epochs", "1", "--seed", "0", "--quiet"]


def csv(rows: list[tuple[Any, ...]], header: str = "unique_id,ds,y") -> str:
    return header + "\n" + "".join(",".join(str(v) for v in row) + "\n" for row in rows)


def good_rows(series: str = "a", n: int = 60) -> list[tuple[Any, ...]]:
    return [(series, HOURS[i], np.sin(i / 3)) for i in range(n)]


def with_row(index: int, **changes: Any) -> str:
    rows = good_rows()
    row = dict(zip(("unique_id", "ds", "y"), rows[index], strict=True)) | changes
    rows[index] = tuple(row.values())
    return csv(rows)


@dataclass(frozen=True)
class Case:
    data: str | bytes  # the CSV file's content
    error: type[lc.LstmcastError]
    message: str  # a regular expression the message must match
    options: tuple[str, ...] = ()  # CLI options for `lstmcast train`
    read: dict[str, Any] | None = None  # read_csv keywords matching the options
    model: dict[str, Any] | None = None  # LSTMForecaster settings matching the options


DATA_CASES = {
    "empty file": Case("", lc.DataError, r"data.csv is empty"),
    "header only": Case("unique_id,ds,y\n", lc.DataError, r"has a header but no data rows"),
    "wrong delimiter": Case(
        csv(good_rows()).replace(",", ";"), lc.DataError, r"single column.*is the delimiter a comma"
    ),
    "missing time column": Case(
        csv(good_rows(), "unique_id,time,y"), lc.DataError, r"time column 'ds' not found"
    ),
    "missing target column": Case(
        csv(good_rows(), "unique_id,ds,value"), lc.DataError, r"target column 'y' not found"
    ),
    "unknown id column": Case(
        csv(good_rows()),
        lc.DataError,
        r"id column 'store' not found",
        ("--id-col", "store"),
        {"id_col": "store"},
    ),
    "non-numeric cell": Case(
        with_row(5, y="n/a?"), lc.DataError, r"series 'a' has a non-numeric value 'n/a\?' at line 7"
    ),
    "NaN": Case(
        with_row(7, y="nan"), lc.DataError, r"series 'a' has a missing value \(NaN\) at line 9"
    ),
    "empty cell": Case(
        with_row(7, y=""), lc.DataError, r"series 'a' has a missing value \(NaN\) at line 9"
    ),
    "+inf": Case(with_row(3, y="inf"), lc.DataError, r"series 'a' has inf at line 5"),
    "-inf": Case(with_row(3, y="-inf"), lc.DataError, r"series 'a' has -inf at line 5"),
    "unparseable timestamp": Case(
        with_row(4, ds="yesterday"),
        lc.DataError,
        r"cannot read timestamp 'yesterday' of series 'a' at line 6",
    ),
    "mixed timestamp formats": Case(
        with_row(4, ds="01/01/2024 04:00"),
        lc.DataError,
        r"cannot read timestamp '01/01/2024 04:00'.*line 6",
    ),
    "missing timestamp": Case(
        with_row(4, ds=""), lc.DataError, r"series 'a' has a missing timestamp at line 6"
    ),
    "duplicated timestamp": Case(
        with_row(4, ds=HOURS[3]), lc.DataError, r"series 'a' has a duplicated timestamp.*line 6"
    ),
    "unsorted timestamps": Case(
        with_row(4, ds=HOURS[2]),
        lc.DataError,
        r"series 'a' has unsorted timestamps: 2024-01-01 02:00:00 follows 2024-01-01 03:00:00 "
        r"at line 6 of data.csv; sort",
    ),
    "irregular time steps (a gap)": Case(
        csv([r for i, r in enumerate(good_rows()) if i != 30]),
        lc.DataError,
        r"series 'a' has irregular time steps: 2024-01-02 07:00:00 follows 2024-01-02 05:00:00",
    ),
    "single-point series": Case(
        csv([*good_rows(), ("b", HOURS[0], 1.0)]),
        lc.DataError,
        r"series 'b' has 1 point; its time step cannot be inferred",
    ),
    "series shorter than window + horizon": Case(
        csv(good_rows() + good_rows("b", 8)),
        lc.DataError,
        r"series 'b' has 8 points; window 8 \+ horizon 1 needs at least 9",
    ),
    "series too short for the validation tail": Case(
        csv(good_rows()),
        lc.DataError,
        r"series 'a' has 60 points; window 8 \+ horizon 1 \+ validation 55 needs at least 64",
        ("--val-size", "55"),
        None,
        {"val_size": 55},
    ),
    "zero epochs": Case(
        csv(good_rows()),
        lc.ConfigError,
        r"epochs must be >= 1, got 0",
        ("--epochs", "0"),
        None,
        {"epochs": 0},
    ),
    "negative learning rate": Case(
        csv(good_rows()),
        lc.ConfigError,
        r"lr must be > 0, got -0.1",
        ("--lr", "-0.1"),
        None,
        {"lr": -0.1},
    ),
    "learning rate that is not a number": Case(
        csv(good_rows()),
        lc.ConfigError,
        r"lr must be a finite number, got nan",
        ("--lr", "nan"),
        None,
        {"lr": float("nan")},
    ),
    "forget-gate bias out of range": Case(
        csv(good_rows()),
        lc.ConfigError,
        r"forget_bias must be <= 10, got 50.0",
        ("--forget-bias", "50"),
        None,
        {"forget_bias": 50.0},
    ),
    "zero hidden units": Case(
        csv(good_rows()),
        lc.ConfigError,
        r"hidden_size must be >= 1, got 0",
        ("--hidden-size", "0"),
        None,
        {"hidden_size": 0},
    ),
    "segment that does not divide the window": Case(
        csv(good_rows()),
        lc.ConfigError,
        r"segment 3 must divide window 8",
        ("--segment", "3"),
        None,
        {"segment": 3},
    ),
    "calendar features on integer time": Case(
        csv([(i, np.sin(i)) for i in range(40)], "t,y"),
        lc.ConfigError,
        r"calendar features \('hour',\) need dates",
        ("--time-col", "t", "--calendar", "hour"),
        {"time_col": "t"},
        {"calendar": ("hour",)},
    ),
    "boolean target": Case(
        csv([("a", HOURS[i], i % 2 == 0) for i in range(20)]),
        lc.DataError,
        r"target values are booleans",
    ),
}


@pytest.mark.parametrize("name", DATA_CASES)
def test_bad_data_through_the_api(name: str, tmp_path: Path) -> None:
    case = DATA_CASES[name]
    path = tmp_path / "data.csv"
    path.write_text(case.data) if isinstance(case.data, str) else path.write_bytes(case.data)
    with pytest.raises(case.error, match=case.message):
        read_and_fit(path, case)


def read_and_fit(path: Path, case: Case) -> None:
    frame = lc.read_csv(path, **(case.read or {}))
    lc.LSTMForecaster(**(TINY | (case.model or {}))).fit(frame)


runner = CliRunner()


def run_cli(*args: object) -> Any:
    return runner.invoke(cli.app, [str(a) for a in args])


def assert_one_line(result: Any, message: str) -> None:
    assert result.exit_code == 1, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.output
    assert re.search(message, lines[0]), lines[0]


@pytest.mark.parametrize("name", DATA_CASES)
def test_bad_data_through_the_cli(name: str, tmp_path: Path) -> None:
    case = DATA_CASES[name]
    path = tmp_path / "data.csv"
    path.write_text(case.data) if isinstance(case.data, str) else path.write_bytes(case.data)
    result = run_cli("train", path, "-o", tmp_path / "model", *TINY_CLI, *case.options)
    assert_one_line(result, case.message)


# -- models, forecasts and metrics -----------------------------------------------------------


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("model")
    frame = lc.to_long(
        pd.DataFrame({"a": np.sin(np.arange(60) / 3)}, index=pd.DatetimeIndex(HOURS))
    )
    lc.LSTMForecaster(**TINY, calendar=("hour",), horizon=2).fit(frame).save(directory / "m")
    (directory / "data.csv").write_text(csv(good_rows()))
    return directory


def _corrupt(change: Callable[[Path], None]) -> Callable[[Path], Path]:
    def make(base: Path) -> Path:
        target = base.parent / f"case-{len(list(base.parent.iterdir()))}"
        shutil.copytree(base / "m", target)
        change(target)
        return target

    return make


class Exploit:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (print, ("pickle code ran",))


MODEL_CASES: dict[str, tuple[Callable[[Path], Path], str]] = {
    "model directory missing": (lambda base: base / "nowhere", r"model directory .* not found"),
    "not a model directory": (
        _corrupt(lambda d: (d / "config.json").unlink()),
        r"is not an lstmcast model: it has no config.json",
    ),
    "weights file missing": (
        _corrupt(lambda d: (d / "weights.safetensors").unlink()),
        r"incomplete: weights.safetensors is missing",
    ),
    "truncated weights": (
        _corrupt(
            lambda d: (d / "weights.safetensors").write_bytes(
                (d / "weights.safetensors").read_bytes()[:100]
            )
        ),
        r"corrupt or truncated",
    ),
    "pickle in place of the weights": (
        _corrupt(lambda d: (d / "weights.safetensors").write_bytes(pickle.dumps(Exploit()))),
        r"not a readable safetensors file",
    ),
    "corrupt config": (
        _corrupt(lambda d: (d / "config.json").write_text('{"format": ')),
        r"config.json is not valid JSON",
    ),
    "config from a newer lstmcast": (
        _corrupt(
            lambda d: (d / "config.json").write_text(
                json.dumps(json.loads((d / "config.json").read_text()) | {"format_version": 7})
            )
        ),
        r"model format 7; this lstmcast .* reads format 2 at most: upgrade lstmcast",
    ),
}


@pytest.mark.parametrize("name", MODEL_CASES)
def test_bad_model_directories(
    name: str, saved_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make, message = MODEL_CASES[name]
    directory = make(saved_model)
    with pytest.raises(lc.ModelFileError, match=message):
        lc.load(directory)
    assert_one_line(run_cli("forecast", directory, "--h", 2, "-o", saved_model / "f.csv"), message)
    assert "pickle code ran" not in capsys.readouterr().out


def test_horizon_beyond_what_the_model_supports(saved_model: Path) -> None:
    message = r"h=3 is beyond the model's horizon 2.*train with horizon=3"
    with pytest.raises(lc.ConfigError, match=message):
        lc.load(saved_model / "m").predict(3)
    assert_one_line(
        run_cli("forecast", saved_model / "m", "--h", 3, "-o", saved_model / "f.csv"), message
    )


def test_forecast_data_whose_ids_do_not_match(saved_model: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.csv"
    other.write_text(csv(good_rows("zz")))
    message = r"series 'zz' was not in the training data"
    with pytest.raises(lc.DataError, match=message):
        lc.load(saved_model / "m").predict(2, df=lc.read_csv(other))
    result = run_cli(
        "forecast", saved_model / "m", "--data", other, "--h", 2, "-o", tmp_path / "f.csv"
    )
    assert_one_line(result, message)


def test_forecast_data_whose_columns_do_not_match(saved_model: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.csv"
    other.write_text(csv(good_rows(), "unique_id,timestamp,y"))
    result = run_cli(
        "forecast", saved_model / "m", "--data", other, "--h", 2, "-o", tmp_path / "f.csv"
    )
    assert_one_line(
        result, r"time column 'ds' not found; columns are 'unique_id', 'timestamp', 'y'"
    )


def test_ids_that_look_like_paths_are_just_names(tmp_path: Path) -> None:
    """Series ids never become file names: '../../x' is data, and nothing is written elsewhere."""
    data = tmp_path / "work" / "data.csv"
    data.parent.mkdir()
    data.write_text(csv(good_rows("../../x")))
    model = tmp_path / "work" / "m"
    assert run_cli("train", data, "-o", model, *TINY_CLI).exit_code == 0
    out = tmp_path / "work" / "f.csv"
    assert run_cli("forecast", model, "--h", 2, "-o", out).exit_code == 0
    assert pd.read_csv(out)["unique_id"].unique().tolist() == ["../../x"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["work"]


def test_constant_and_huge_series_stay_finite() -> None:
    frame = pd.DataFrame(
        {"flat": np.full(60, 3.0), "huge": 1e30 * (1 + np.sin(np.arange(60) / 3))},
        index=pd.DatetimeIndex(HOURS),
    )
    model = lc.LSTMForecaster(**TINY).fit(frame)
    forecast = model.predict(3)
    assert np.isfinite(forecast["LSTM"]).all()
    flat = forecast[forecast["unique_id"] == "flat"]["LSTM"]
    assert np.allclose(flat, 3.0, atol=0.5)
    assert model.scaler_.scale[0] == 1.0  # zero variance: no division by zero


def test_metrics_on_zero_actuals_and_constant_training() -> None:
    assert lc.smape(np.zeros(4), np.zeros(4)) == 0.0
    assert lc.smape(np.zeros(4), np.ones(4)) == 200.0
    with pytest.raises(lc.DataError, match="MASE is undefined"):
        lc.mase(np.zeros(4), np.ones(4), y_train=np.zeros(10))


def test_bad_forecast_requests(saved_model: Path) -> None:
    model = lc.load(saved_model / "m")
    with pytest.raises(lc.ConfigError, match="h must be >= 1, got 0"):
        model.predict(0)
    with pytest.raises(lc.DataError, match=r"has 60 points; window 8 \+ a backtest of 60 window"):
        model.backtest(lc.read_csv(saved_model / "data.csv"), h=1, n_windows=60)
    with pytest.raises(lc.ConfigError, match="season_length must be >= 1, got 0"):
        lc.SeasonalNaive(0).fit(np.arange(10.0))
    with pytest.raises(lc.NotFittedError, match=r"call fit\(df\) first"):
        lc.LSTMForecaster().predict(3)


# -- issue 14, forecasting from saved models, plots, shards and the README's examples ---------


def history_file(tmp_path: Path, name: str, rows: list[tuple[Any, ...]]) -> Path:
    path = tmp_path / name
    path.write_text(csv(rows))
    return path


DAYS = pd.date_range("2024-01-01", periods=60, freq="D").strftime("%Y-%m-%d")


def test_forecast_data_at_another_frequency(saved_model: Path, tmp_path: Path) -> None:
    """An hourly model given daily history: refused, naming the series and both steps."""
    daily = [(series, DAYS[i], y) for i, (series, _, y) in enumerate(good_rows())]
    message = r"series 'a' has frequency '24h', but the model was trained on frequency '1h'"
    with pytest.raises(lc.DataError, match=message):
        lc.load(saved_model / "m").predict(
            2, df=pd.read_csv(history_file(tmp_path, "d.csv", daily))
        )
    with pytest.raises(lc.DataError, match=message):
        lc.load(saved_model / "m").backtest(pd.read_csv(tmp_path / "d.csv"), h=2)
    for command in ("forecast", "inspect"):
        result = run_cli(
            command, saved_model / "m", "--data", tmp_path / "d.csv", "-o", tmp_path / "x"
        )
        assert_one_line(result, message)
    assert not (tmp_path / "x").exists()


def test_forecast_data_at_another_integer_step(tmp_path: Path) -> None:
    steps = pd.DataFrame({"unique_id": "s", "ds": np.arange(0, 60), "y": np.sin(np.arange(60.0))})
    model = lc.LSTMForecaster(**TINY).fit(steps)
    every_other = steps.assign(ds=steps["ds"] * 2)
    with pytest.raises(lc.DataError, match=r"'s' has integer step 2, .* trained on integer step 1"):
        model.predict(2, df=every_other)
    dates = steps.assign(ds=pd.date_range("2024-01-01", periods=60, freq="h"))
    with pytest.raises(lc.DataError, match=r"'s' has frequency '1h', .* on integer step 1"):
        model.predict(2, df=dates)
    assert len(model.predict(2, df=steps.assign(ds=steps["ds"] + 1000))) == 2  # same step


def test_forecast_data_far_outside_the_training_values_warns(
    saved_model: Path, tmp_path: Path
) -> None:
    """Values 1000x the training ones are forecast, but not silently: one warning, named."""
    model = lc.load(saved_model / "m")
    in_grams = [(series, ds, 1000 * y) for series, ds, y in good_rows()]
    with pytest.warns(lc.DataWarning, match=r"1 series have values far outside .*: 'a' at [\d,]+ "):
        forecast = model.predict(2, df=pd.read_csv(history_file(tmp_path, "g.csv", in_grams)))
    assert np.isfinite(forecast["LSTM"]).all()
    # Ten times the training values is a change of level, not of units: no warning.
    tenfold = pd.read_csv(
        history_file(tmp_path, "t.csv", [(s, d, 10 * y) for s, d, y in good_rows()])
    )
    model.predict(2, df=tenfold)  # the suite turns warnings into errors

    out = tmp_path / "f.csv"
    result = run_cli("forecast", saved_model / "m", "--data", tmp_path / "g.csv", "-o", out)
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    (line,) = result.stderr.splitlines()
    assert re.match(r"warning: 1 series have values far outside .*'a' at [\d,]+ training", line)
    assert len(pd.read_csv(out)) == 2


def forecast_file(tmp_path: Path, frame: pd.DataFrame) -> Path:
    path = tmp_path / "forecast.csv"
    frame.to_csv(path, index=False)
    return path


def test_plot_a_forecast_of_other_series(saved_model: Path, tmp_path: Path) -> None:
    history = lc.read_csv(saved_model / "data.csv")
    forecast = lc.load(saved_model / "m").predict(2).assign(unique_id="b")
    message = r"share no series: the forecast has 'b' \(1 series\), the history 'a' \(1 series\)"
    with pytest.raises(lc.DataError, match=message):
        lc.plot_forecast(history, forecast)
    result = run_cli(
        "plot",
        saved_model / "data.csv",
        forecast_file(tmp_path, forecast),
        "-o",
        tmp_path / "p.png",
    )
    assert_one_line(result, message)
    assert not (tmp_path / "p.png").exists()


def test_plot_a_forecast_inside_the_history(saved_model: Path, tmp_path: Path) -> None:
    """A forecast made from a shorter history is not a forecast past the end of this one."""
    history = lc.read_csv(saved_model / "data.csv")
    forecast = lc.load(saved_model / "m").predict(2, df=history.iloc[:40])
    message = (
        r"forecast of series 'a' starts at 2024-01-02 16:00:00, not after the end of its "
        r"history \(2024-01-03 11:00:00\)"
    )
    with pytest.raises(lc.DataError, match=message):
        lc.plot_forecast(history, forecast)
    result = run_cli(
        "plot",
        saved_model / "data.csv",
        forecast_file(tmp_path, forecast),
        "-o",
        tmp_path / "p.png",
    )
    assert_one_line(result, message)


def test_plot_a_backtest_row_not_after_its_cutoff(saved_model: Path, tmp_path: Path) -> None:
    history = lc.read_csv(saved_model / "data.csv")
    backtest = lc.Naive().fit(history).backtest(history, h=3, n_windows=2)
    # A backtest lies inside the history, each row after its cutoff: drawn.
    lc.plot_forecast(history, backtest)
    shifted = backtest.assign(cutoff=backtest["cutoff"] + pd.Timedelta(hours=1))
    message = r"forecast row 0 \(series 'a'\) is for ds 2024-01-03 06:00:00, not after its cutoff"
    with pytest.raises(lc.DataError, match=message):
        lc.plot_forecast(history, shifted)
    result = run_cli(
        "plot", saved_model / "data.csv", forecast_file(tmp_path, shifted), "-o", tmp_path / "p.png"
    )
    assert_one_line(result, message)


def test_a_refitted_model_checks_new_data_against_its_new_steps() -> None:
    hourly = pd.DataFrame({"a": np.sin(np.arange(60) / 3)}, index=pd.DatetimeIndex(HOURS))
    daily = hourly.set_axis(pd.DatetimeIndex(DAYS))
    model = lc.LSTMForecaster(**TINY).fit(hourly)
    model.predict(2, df=hourly)
    model.fit(daily)
    assert model.predict(2, df=daily)["ds"].iloc[0] == pd.Timestamp("2024-03-01")
    with pytest.raises(lc.DataError, match=r"'1h', but the model was trained on frequency '24h'"):
        model.predict(2, df=hourly)
