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
    message = r"h=3 is beyond the model's horizon 2.*train with "
    with pytest.raises(lc.ConfigError, match=message + "horizon=3"):
        lc.load(saved_model / "m").predict(3)
    assert_one_line(
        run_cli("forecast", saved_model / "m", "--h", 3, "-o", saved_model / "f.csv"),
        message + "--horizon 3",  # the CLI user's spelling
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


# -- issue 14, reading data ---------------------------------------------------------------------


def numbered(header: str, rows: int, row: Callable[[int], str]) -> str:
    """A CSV file: ``header``, then ``row(i)`` for i in 0 .. rows - 1."""
    return header + "\n" + "".join(row(i) + "\n" for i in range(rows))


@dataclass(frozen=True)
class ReadCase:
    """A file refused while reading it (or inferring its time step), with what each user reads.

    ``api`` is the message a Python user gets, ``cli`` (default: the same) the one on the
    command line: hints name ``time_col=`` for one and ``--time-col`` for the other.
    """

    data: str | bytes
    api: str
    cli: str | None = None
    options: tuple[str, ...] = ()  # CLI options for `lstmcast train`
    read: dict[str, Any] | None = None  # the read_csv keywords matching the options


def _single(i: int) -> str:
    return f"{i},{np.sin(i / 3):.4f}"


def _wide(i: int) -> str:
    return f"{i},{i},{i + 1},{i + 2}"


READ_CASES = {
    "named target column that does not exist": ReadCase(
        numbered("t,y", 30, _single),
        r"target column 'nope' not found; columns are 't', 'y'$",
        None,
        ("--time-col", "t", "--target-col", "nope"),
        {"time_col": "t", "target_col": "nope"},
    ),
    "wide file with a series named like the target": ReadCase(
        numbered("t,x,y,z", 30, _wide),
        r"data.csv is ambiguous: one series 'y' with 'x', 'z' beside it, or wide with 3 series "
        r"'x', 'y', 'z'. Say which: layout='wide', or target_col='y' with ignore_cols=\['x', 'z'\]",
        r"data.csv is ambiguous: .* Say which: --layout wide, or --target-col y with "
        r"--ignore-col x --ignore-col z",
        ("--time-col", "t"),
        {"time_col": "t"},
    ),
    "target named on a wide file": ReadCase(
        numbered("t,x,y,z", 30, _wide),
        r"columns 'y', 'z' would be ignored \(read as one series: time 't', target 'x'\); .* "
        r"ignore_cols=\['y', 'z'\]; to read every column as a series, leave out target_col=",
        r"columns 'y', 'z' would be ignored .* --ignore-col y --ignore-col z; to read every "
        r"column as a series, leave out --target-col",
        ("--time-col", "t", "--target-col", "x"),
        {"time_col": "t", "target_col": "x"},
    ),
    "extra column in a long file": ReadCase(
        csv([(*row, 5) for row in good_rows()], "unique_id,ds,y,price"),
        r"column 'price' would be ignored \(read as long: id 'unique_id', time 'ds', target 'y'\)"
        r"; lstmcast ignores no column silently: .* ignore_cols=\['price'\]",
        r"column 'price' would be ignored .* --ignore-col price",
    ),
    "named id column that does not exist": ReadCase(
        csv(good_rows()),
        r"id column 'store' not found; columns are 'unique_id', 'ds', 'y'; leave out id_col= for "
        r"a single series",
        r"id column 'store' not found; .* leave out --id-col for a single series",
        ("--id-col", "store"),
        {"id_col": "store"},
    ),
    "duplicated header name": ReadCase(
        numbered("t,a,b,a", 30, _wide),
        r"data.csv has two columns named 'a' on its header line; rename one \(lstmcast never "
        r"renames columns\)",
        None,
        ("--time-col", "t"),
        {"time_col": "t"},
    ),
    "unnamed index column written by pandas": ReadCase(
        "," + csv([(i, *row) for i, row in enumerate(good_rows())]),
        r"column 1 of the header line of data.csv has no name; .* index=False",
    ),
    "rows with more fields than the header": ReadCase(
        csv([(*row, 1) for row in good_rows()]),
        r"the data rows of data.csv have more fields than its header line names",
    ),
    "unknown layout": ReadCase(
        csv(good_rows()),
        r"layout must be one of 'long', 'wide', 'single', got 'tall'",
        None,
        ("--layout", "tall"),
        {"layout": "tall"},
    ),
    "missing time column: the hint names the flag or the keyword": ReadCase(
        csv(good_rows(), "unique_id,time,y"),
        r"time column 'ds' not found; columns are 'unique_id', 'time', 'y'. Name it with "
        r"time_col=$",
        r"time column 'ds' not found; .* Name it with --time-col$",
    ),
    "NaN in a wide file names its line": ReadCase(
        numbered("t,a,b", 400, lambda i: f"{i},{i},{'' if i == 5 else i}"),
        r"series 'b' has a missing value \(NaN\) at line 7 of data.csv",
        None,
        ("--time-col", "t"),
        {"time_col": "t"},
    ),
    "bad time in a wide file names its line": ReadCase(
        numbered("t,a,b", 50, lambda i: f"{'x' if i == 20 else HOURS[i]},{i},{i}"),
        r"cannot read timestamp 'x' of series 'a' at line 22 of data.csv",
        None,
        ("--time-col", "t"),
        {"time_col": "t"},
    ),
    "bad value after blank lines names its line": ReadCase(
        "ds,y\n\n0,1\n\n1,2\n   \n2,3\n3,oops\n4,5\n",
        r"series 'y' has a non-numeric value 'oops' at line 8 of data.csv",
    ),
    "bad value after a quoted newline names its line": ReadCase(
        'unique_id,ds,y\n"multi\nline",0,1\n"multi\nline",1,oops\n',
        r"series 'multi\\nline' has a non-numeric value 'oops' at line 4 of data.csv",
    ),
    "row with a field too many names its line": ReadCase(
        'unique_id,ds,y\na,0,1\n\n"multi\nline",0,1\na,1,2,3\n',
        r"line 6 of data.csv has 4 fields, but its header line names 3; every row needs one "
        r"field per column",
    ),
    "duplicated time in a single-series file names its line": ReadCase(
        numbered("t,value", 30, lambda i: _single(i if i != 9 else 8)),
        r"series 'value' has a duplicated timestamp: 8 follows 8 at line 11 of data.csv",
        None,
        ("--time-col", "t"),
        {"time_col": "t"},
    ),
    "empty id cell": ReadCase(
        csv([*good_rows(), ("", HOURS[0], 1.0)]),
        r"the series id \(column 'unique_id'\) is missing at line 62 of data.csv",
    ),
    "byte that is not UTF-8": ReadCase(
        csv(good_rows()).replace("a,", "caf\xe9,", 1).encode("latin-1"),
        r"data.csv is not UTF-8 text: line 2 has the byte 0xe9 at character 4; re-save the file "
        r"as UTF-8",
    ),
    "UTC offsets on some times only": ReadCase(
        csv([(r[0], r[1] + ("+01:00" if i > 3 else ""), r[2]) for i, r in enumerate(good_rows())]),
        r"cannot read timestamp '2024-01-01 04:00\+01:00' of series 'a' at line 6 .* with one UTC "
        r"offset or none",
    ),
    "irregular hourly steps: the usual step in hours": ReadCase(
        csv([r for i, r in enumerate(good_rows()) if i != 30]),
        r"2024-01-02 07:00:00 follows 2024-01-02 05:00:00, but its usual step is 0 days 01:00:00",
    ),
    "monthly dates on varying days": ReadCase(
        numbered("ds,y", 12, lambda i: f"2024-{i + 1:02d}-{15 + i % 2},1"),
        r"series 'y' has irregular time steps: 2024-02-16 00:00:00 follows 2024-01-15",
    ),
}


@pytest.mark.parametrize("name", READ_CASES)
def test_reading_refusals_through_the_api(name: str, tmp_path: Path) -> None:
    case = READ_CASES[name]
    path = tmp_path / "data.csv"
    path.write_text(case.data) if isinstance(case.data, str) else path.write_bytes(case.data)
    with pytest.raises(lc.LstmcastError, match=case.api):
        lc.Naive().fit(lc.read_csv(path, **(case.read or {})))  # Naive: the time step too


@pytest.mark.parametrize("name", READ_CASES)
def test_reading_refusals_through_the_cli(name: str, tmp_path: Path) -> None:
    case = READ_CASES[name]
    path = tmp_path / "data.csv"
    path.write_text(case.data) if isinstance(case.data, str) else path.write_bytes(case.data)
    result = run_cli("train", path, "-o", tmp_path / "model", *TINY_CLI, *case.options)
    assert_one_line(result, case.cli or case.api)


def test_every_reading_command_refuses_an_unused_column(tmp_path: Path) -> None:
    """train, backtest, forecast --data, plot and inspect --data read DATA the same way."""
    good = tmp_path / "good.csv"
    good.write_text(csv(good_rows()))
    model = tmp_path / "m"
    assert run_cli("train", good, "-o", model, *TINY_CLI).exit_code == 0
    bad = tmp_path / "bad.csv"
    bad.write_text(csv([(*row, 5) for row in good_rows()], "unique_id,ds,y,price"))
    message = r"column 'price' would be ignored .* --ignore-col price$"
    fc = tmp_path / "f.csv"
    commands = {
        "train": ("train", bad, "-o", tmp_path / "m2", *TINY_CLI),
        "backtest": ("backtest", bad, "--h", 2, *TINY_CLI),
        "forecast": ("forecast", model, "--data", bad, "-o", fc),
        "plot": ("plot", bad, fc, "-o", tmp_path / "p.png"),
        "inspect": ("inspect", model, "--data", bad, "-o", tmp_path / "g.png"),
    }
    for args in commands.values():
        assert_one_line(run_cli(*args), message)
    assert run_cli("forecast", model, "-o", fc, "--h", 2).exit_code == 0  # for plot
    for args in commands.values():  # said on purpose: accepted, and said how it was read
        loud = [arg for arg in args if arg != "--quiet"]  # --quiet silences it
        result = run_cli(*loud, "--ignore-col", "price")
        assert result.exit_code == 0, result.output
        assert (
            "read bad.csv: long, id 'unique_id', time 'ds', target 'y', 1 series, ignoring "
            "'price' as asked" in result.stderr
        ), args[0]
