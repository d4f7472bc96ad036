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
import torch
from typer.testing import CliRunner

import lstmcast as lc
from lstmcast import cli

HOURS = pd.date_range("2024-01-01", periods=60, freq="h").strftime("%Y-%m-%d %H:%M")
# The tutorial's settings where not given: these tests are about input, not the recipe.
TINY = {"recipe": "tutorial", "window": 8, "hidden_size": 4, "epochs": 1, "random_state": 0}
TINY_CLI = [
    "--recipe",
    "tutorial",
    "--window",
    "8",
    "--hidden-size",
    "4",
    "--epochs",
    "1",
    "--seed",
    "0",
    "--quiet",
]


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
        r"(forget_bias|--forget-bias) must be <= 10, got 50.0",
        ("--forget-bias", "50"),
        None,
        {"forget_bias": 50.0},
    ),
    "zero hidden units": Case(
        csv(good_rows()),
        lc.ConfigError,
        r"(hidden_size|--hidden-size) must be >= 1, got 0",
        ("--hidden-size", "0"),
        None,
        {"hidden_size": 0},
    ),
    "segment that does not divide the window": Case(
        csv(good_rows()),
        lc.ConfigError,
        r"(segment|--segment) 3 must divide (window|--window) 8",
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
        r"model format 7; this lstmcast .* reads format 4 at most: upgrade lstmcast",
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
    message = r"is beyond the model's horizon 2.*train with "
    with pytest.raises(lc.ConfigError, match="h=3 " + message + "horizon=3"):
        lc.load(saved_model / "m").predict(3)
    assert_one_line(
        run_cli("forecast", saved_model / "m", "--h", 3, "-o", saved_model / "f.csv"),
        "--h 3 " + message + "--horizon 3",  # the CLI user's spelling
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
    assert model.scaler_.scale[0] == 3.0  # zero variance: scaled by its own magnitude


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


# -- issue 14, files and model directories ---


def tree(root: Path) -> dict[str, bytes | None]:
    """Every file under ``root`` (links not followed) with its bytes; directories map to None.

    The lock file that saving a model leaves beside it (``.<name>.lock``, empty) is left out.
    """
    return {
        str(p.relative_to(root)): None if p.is_dir() else p.read_bytes()
        for p in sorted(root.rglob("*"))
        if not p.is_symlink() and not (p.name.startswith(".") and p.name.endswith(".lock"))
    }


@pytest.fixture
def workdir(saved_model: Path, tmp_path: Path) -> Path:
    """A fresh copy of the saved model (``m``) and its data (``data.csv``), plus a forecast."""
    shutil.copytree(saved_model / "m", tmp_path / "m")
    shutil.copy(saved_model / "data.csv", tmp_path / "data.csv")
    assert run_cli("forecast", tmp_path / "m", "--h", 2, "-o", tmp_path / "fc.csv").exit_code == 0
    (tmp_path / "dir").mkdir()
    shutil.copy(saved_model / "data.csv", tmp_path / "dir" / "data.csv")
    return tmp_path


# Commands whose output is (or links to) an input, or lies inside a directory being read, and the
# message: the paths are relative to the work directory.
OUTPUT_IS_INPUT: dict[str, tuple[list[str], str]] = {
    "forecast over its data": (
        ["forecast", "m", "--data", "data.csv", "-o", "data.csv"],
        r"--output '.*data.csv' is the data '.*data.csv', which this command reads; writing it",
    ),
    "forecast into the model": (
        ["forecast", "m", "-o", "m/config.json"],
        r"--output '.*m/config.json' lies inside the model directory '.*m', which this command "
        r"reads; write the output outside it",
    ),
    "forecast into a data directory": (
        ["forecast", "m", "--data", "dir", "-o", "dir/fc.csv"],
        r"--output '.*dir/fc.csv' lies inside the data '.*dir'",
    ),
    "forecast over a symlink to its data": (
        ["forecast", "m", "--data", "data.csv", "-o", "soft.csv"],
        r"--output '.*soft.csv' is the data '.*data.csv' \(the same file, through a link\)",
    ),
    "forecast over a hard link to its data": (
        ["forecast", "m", "--data", "data.csv", "-o", "hard.csv"],
        r"--output '.*hard.csv' is the data '.*data.csv' \(the same file, through a link\)",
    ),
    "backtest over its data": (
        ["backtest", "data.csv", "--h", "2", "-o", "data.csv", *TINY_CLI],
        r"--output '.*data.csv' is the data",
    ),
    "plot over its history": (
        ["plot", "data.csv", "fc.csv", "-o", "data.csv"],
        r"--output '.*data.csv' is the history '.*data.csv'",
    ),
    "plot over its forecast": (
        ["plot", "data.csv", "fc.csv", "-o", "fc.csv"],
        r"--output '.*fc.csv' is the forecasts '.*fc.csv'",
    ),
    "inspect into the model": (
        ["inspect", "m", "-o", "m/gates.png"],
        r"--output '.*m/gates.png' lies inside the model directory",
    ),
    "train over its data file": (
        ["train", "data.csv", "-o", "data.csv", *TINY_CLI],
        r"--output '.*data.csv' is the data '.*data.csv'",
    ),
    "train over its data directory": (
        ["train", "dir", "-o", "dir", *TINY_CLI],
        r"--output '.*dir' is the data '.*dir'",
    ),
    "train into a directory holding its data": (
        ["train", "dir/data.csv", "-o", "dir", *TINY_CLI],
        r"--output '.*dir' would replace the directory holding the data '.*dir/data.csv'",
    ),
    "train into its data directory": (
        ["train", "dir", "-o", "dir/model", *TINY_CLI],
        r"--output '.*dir/model' lies inside the data '.*dir'",
    ),
}


@pytest.mark.parametrize("name", OUTPUT_IS_INPUT)
def test_an_output_that_is_an_input_is_refused(name: str, workdir: Path) -> None:
    args, message = OUTPUT_IS_INPUT[name]
    (workdir / "soft.csv").symlink_to(workdir / "data.csv")
    (workdir / "hard.csv").hardlink_to(workdir / "data.csv")
    before = tree(workdir)
    result = run_cli(*(str(workdir / a) if (workdir / a.split("/")[0]).exists() else a
                       for a in args))  # fmt: skip
    assert_one_line(result, message)
    assert tree(workdir) == before  # nothing read was touched, nothing was written


def test_an_output_that_is_an_input_is_refused_before_training(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_training(*args: object, **kwargs: object) -> None:
        raise AssertionError("trained before checking the output")

    monkeypatch.setattr(lc.LSTMForecaster, "fit", no_training)
    result = run_cli("backtest", workdir / "data.csv", "--h", 2, "-o", workdir / "data.csv")
    assert_one_line(result, "is the data")


# Unusable output paths: for every command writing a file, the message and nothing else.
UNUSABLE_OUTPUTS: dict[str, tuple[str, str]] = {
    "an existing directory": ("dir", r"--output '.*dir' is a directory; give a file path, e.g. "),
    "empty": ("", r"--output is empty \(or '.'\); give a file name, e.g. "),
    "below a file": (
        "data.csv/out.x",
        r"cannot write --output '.*data.csv/out.x': '.*data.csv' is a file, not a directory",
    ),
    "an unknown suffix": (
        "out.txt",
        r"--output '.*out.txt' has suffix '.txt'; the .*format is chosen by the suffix: ",
    ),
    "no suffix": ("out", r"--output '.*out' has no suffix; the .*format is chosen by the suffix: "),
}
WRITING_COMMANDS: dict[str, list[str]] = {
    "forecast": ["forecast", "m"],
    "backtest": ["backtest", "data.csv", "--h", "2", *TINY_CLI],
    "plot": ["plot", "data.csv", "fc.csv"],
    "inspect": ["inspect", "m"],
    "demo": ["demo", "--quiet"],
    "experiment adding": ["experiment", "adding", "-T", "4", "--steps", "2", "--quiet"],
}


@pytest.mark.parametrize("command", WRITING_COMMANDS)
@pytest.mark.parametrize("case", UNUSABLE_OUTPUTS)
def test_unusable_output_paths_say_why(case: str, command: str, workdir: Path) -> None:
    output, message = UNUSABLE_OUTPUTS[case]
    if case.endswith("suffix"):  # each command names its own formats
        formats = r"\.csv, \.parquet" if command in ("forecast", "backtest") else r"\.eps, .*\.png"
        message += formats
    args = [str(workdir / a) if (workdir / a).exists() else a for a in WRITING_COMMANDS[command]]
    before = tree(workdir)
    result = run_cli(*args, "-o", workdir / output if output else "")
    assert_one_line(result, message)
    assert tree(workdir) == before


def test_a_model_directory_output_that_cannot_be_one(workdir: Path) -> None:
    data = workdir / "data.csv"
    assert_one_line(
        run_cli("train", data, "-o", "", *TINY_CLI),
        r"--output is empty \(or '.'\); give a directory name",
    )
    assert_one_line(
        run_cli("train", data, "-o", workdir / "fc.csv", *TINY_CLI),
        r"--output '.*fc.csv' is a file, not a directory",
    )
    assert_one_line(
        run_cli("train", data, "-o", workdir / "fc.csv" / "m", *TINY_CLI),
        r"'.*fc.csv' is a file, not a directory",
    )
    model = lc.load(workdir / "m")
    with pytest.raises(lc.ConfigError, match=r"model directory '.*fc.csv' is a file, not a dir"):
        model.save(workdir / "fc.csv")
    with pytest.raises(lc.ConfigError, match=r"'.*fc.csv' is a file, not a directory"):
        model.save(workdir / "fc.csv" / "m")


def test_unusable_plot_paths_through_the_api(workdir: Path) -> None:
    history, forecast = lc.read_csv(workdir / "data.csv"), pd.read_csv(workdir / "fc.csv")
    forecast["ds"] = pd.to_datetime(forecast["ds"])
    cases = {
        workdir / "dir.png": r"output '.*dir.png' is a directory; give a file path",
        workdir / "data.csv" / "p.png": r"'.*data.csv' is a file, not a directory",
        workdir / "p.txt": r"path '.*p.txt' has suffix '.txt'; the image format is chosen by the "
        r"suffix: .*\.pdf, .*\.png, .*\.svg",
    }
    (workdir / "dir.png").mkdir()
    for path, message in cases.items():
        with pytest.raises(lc.ConfigError, match=message):
            lc.plot_forecast(history, forecast, path=path)


def test_parquet_without_pyarrow_says_what_to_install(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "pyarrow" else find_spec(name)
    )
    result = run_cli("forecast", workdir / "m", "-o", workdir / "f.parquet")
    assert_one_line(
        result, r"writing f.parquet needs pyarrow, which is not installed: pip install "
        r"'lstmcast\[parquet\]'"
    )  # fmt: skip
    assert not (workdir / "f.parquet").exists()


def test_retraining_keeps_files_lstmcast_did_not_write(
    workdir: Path, two_series: pd.DataFrame
) -> None:
    model = workdir / "m"
    (model / "forecast.csv").write_text("mine\n")
    (model / "notes").mkdir()
    (model / "notes" / "todo.txt").write_text("keep me\n")
    before = tree(workdir)
    message = (
        r"model directory '.*m' holds 2 file\(s\) lstmcast did not write \(forecast.csv, notes/\);"
        r" saving replaces the whole directory, so move them out or choose another path"
    )
    result = run_cli("train", workdir / "data.csv", "-o", model, *TINY_CLI)
    assert_one_line(result, message)

    class Started(lc.Callback):
        def on_train_begin(self, epochs: int, batches_per_epoch: int) -> None:
            raise AssertionError("training started before the directory was checked")

    forecaster = lc.LSTMForecaster(**TINY)
    with pytest.raises(lc.ModelFileError, match=message):
        forecaster.fit(two_series, checkpoint=model, callbacks=[Started()])
    with pytest.raises(lc.ModelFileError, match=message):
        lc.LSTMForecaster(**TINY).fit(two_series).save(model)
    assert tree(workdir) == before


LOCK_HOLDER = """
import sys, time
import numpy as np
import lstmcast as lc

class Hold(lc.Callback):
    def on_epoch_end(self, epoch, history):
        print("training", flush=True)
        time.sleep(120)

lc.LSTMForecaster(window=8, hidden_size=4, epochs=2, random_state=0).fit(
    np.sin(np.arange(60) / 3), checkpoint=sys.argv[1], callbacks=[Hold()]
)
"""


def test_a_second_training_into_a_directory_is_refused_until_the_first_ends(
    tmp_path: Path, two_series: pd.DataFrame
) -> None:
    import select
    import signal
    import subprocess
    import sys

    model = tmp_path / "m"
    data = tmp_path / "data.csv"
    data.write_text(csv(good_rows()))
    holder = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER, str(model)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        ready, _, _ = select.select([holder.stdout], [], [], 120)  # never hang the suite
        assert ready, "the first training did not start within 120 s"
        assert holder.stdout.readline() == "training\n"  # the first process holds the lock
        message = (
            r"another process is writing the model directory '.*m' \(it holds '.*\.m\.lock'\); "
            r"wait for it to finish or choose another directory"
        )
        assert_one_line(run_cli("train", data, "-o", model, *TINY_CLI), message)
        assert_one_line(run_cli("train", data, "-o", tmp_path / "." / "m", *TINY_CLI), message)
        with pytest.raises(lc.ModelFileError, match=message):
            lc.LSTMForecaster(**TINY).fit(two_series, checkpoint=model)
        with pytest.raises(lc.ModelFileError, match=message):
            lc.LSTMForecaster(**TINY).fit(two_series).save(model)
    finally:
        holder.send_signal(signal.SIGKILL)  # a killed holder leaves no stale lock
        holder.wait()
        holder.stdout.close()  # type: ignore[union-attr]
    assert (tmp_path / ".m.lock").exists()
    assert run_cli("train", data, "-o", model, *TINY_CLI).exit_code == 0
    assert lc.load(model).n_series_ == 1


def test_training_into_a_symlink_writes_through_it(workdir: Path) -> None:
    link = workdir / "link"
    link.symlink_to("m")
    result = run_cli("train", workdir / "data.csv", "-o", link, *TINY_CLI, "--window", "6")
    assert result.exit_code == 0, result.output
    assert link.is_symlink()
    assert json.loads((workdir / "m" / "config.json").read_text())["params"]["window"] == 6
    model = lc.load(link)
    model.save(link)
    assert link.is_symlink()
    assert lc.load(workdir / "m").window == 6


def test_weights_of_another_model_are_refused(workdir: Path, two_series: pd.DataFrame) -> None:
    """Same shape: the checksum in config.json; another shape without a checksum: the names."""
    twin = workdir / "twin"
    lc.LSTMForecaster(**(TINY | {"random_state": 1}), calendar=("hour",), horizon=2).fit(
        lc.read_csv(workdir / "data.csv")
    ).save(twin)
    shutil.copy(twin / "weights.safetensors", workdir / "m" / "weights.safetensors")
    message = (
        r"m/weights.safetensors does not belong to .*m/config.json: its SHA-256 differs from the "
        r"one recorded when the model was saved \(the file was changed, or copied from another "
        r"model\)"
    )
    assert_one_line(run_cli("forecast", workdir / "m", "-o", workdir / "f.csv"), message)
    with pytest.raises(lc.ModelFileError, match=message):
        lc.load(workdir / "m")

    # A model saved before checksums, given the weights of one with interval calibration.
    calibrated = workdir / "calibrated"
    lc.LSTMForecaster(**TINY, val_size=10).fit(two_series).save(calibrated)
    old = workdir / "old"
    lc.LSTMForecaster(**TINY).fit(two_series).save(old)
    config = json.loads((old / "config.json").read_text())
    del config["checksums"]
    (old / "config.json").write_text(json.dumps(config))
    shutil.copy(calibrated / "weights.safetensors", old / "weights.safetensors")
    message = (
        r"old/weights.safetensors does not match .*old/config.json: it holds "
        r"calibration.quantiles, which the config does not describe; the weights come from "
        r"another model or were changed"
    )
    assert_one_line(run_cli("forecast", old, "-o", workdir / "f.csv"), message)
    with pytest.raises(lc.ModelFileError, match=message):
        lc.load(old)


def test_a_forecast_directory_may_hold_its_data_but_not_lie_in_it(tmp_path: Path) -> None:
    """Under torchrun, forecast -o names a directory of part files; only the parts are written."""
    from lstmcast.files import check_output

    out = tmp_path / "forecasts"
    (out / "data").mkdir(parents=True)
    check_output(out, [("the data", out / "data")], directory=True)
    with pytest.raises(lc.ConfigError, match=r"would replace the directory holding the data"):
        check_output(out, [("the data", out / "data")], directory=True, replaced=True)
    with pytest.raises(lc.ConfigError, match=r"lies inside the data"):
        check_output(out / "parts", [("the data", out)], directory=True)


def test_a_parquet_forecast_that_cannot_be_read(workdir: Path) -> None:
    (workdir / "bad.parquet").write_text("not parquet\n")
    result = run_cli("plot", workdir / "data.csv", workdir / "bad.parquet", "-o", workdir / "p.png")
    assert_one_line(result, r"bad.parquet is not a readable Parquet forecast: .*magic bytes")
    result = run_cli("plot", workdir / "data.csv", workdir / "no.parquet", "-o", workdir / "p.png")
    assert_one_line(result, r"forecast file '.*no.parquet' not found")


# -- issue 14, numbers, intervals and settings ---


def _write_series(path: Path, values: np.ndarray) -> Path:
    """One series ``a`` of hourly values, as a long CSV."""
    times = pd.date_range("2024-01-01", periods=len(values), freq="h")
    pd.DataFrame({"unique_id": "a", "ds": times, "y": values}).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model whose conformal intervals rest on 12 validation windows, and its data."""
    directory = tmp_path_factory.mktemp("calibrated")
    data = _write_series(directory / "data.csv", np.sin(np.arange(60) / 3))
    result = run_cli("train", data, "-o", directory / "m", *TINY_CLI, "--val-size", 12)
    assert result.exit_code == 0, result.output
    return directory


def test_levels_beyond_what_the_calibration_supports(calibrated: Path) -> None:
    """12 windows calibrate a 90% interval (9 needed), not a 95% one (19) or 99.9% (999)."""
    model = lc.load(calibrated / "m")
    assert model.calibration_size_ == 12
    model.predict(level=[80, 90])
    data = lc.read_csv(calibrated / "data.csv")
    for level, needed in ((95, 19), (99.9, 999)):
        message = (
            rf"a {level}% interval needs at least {needed} validation windows .* calibrated on "
            rf"12: train it with val_size={needed} or more"
        )
        cli_message = message.replace(f"val_size={needed}", f"--val-size {needed}")
        with pytest.raises(lc.ConfigError, match=message):
            model.predict(level=[80, level])
        with pytest.raises(lc.ConfigError, match=message):
            model.backtest(data, h=1, n_windows=3, level=[level])
        result = run_cli("forecast", calibrated / "m", "--level", level, "-o", calibrated / "f.csv")
        assert_one_line(result, cli_message)
    result = run_cli(
        "backtest", calibrated / "data.csv", "--h", 1, "--n-windows", 3, *TINY_CLI,
        "--val-size", 12, "--level", 95,
    )  # fmt: skip
    assert_one_line(result, r"a 95% interval needs at least 19 .* with --val-size 19 or more")


def test_season_length_beyond_the_window_only_matters_for_calibration(tmp_path: Path) -> None:
    data = _write_series(tmp_path / "d.csv", np.sin(np.arange(200) / 3))
    message = (
        r"season_length 24 must be shorter than window 8 when val_size calibrates .* window=25"
    )
    with pytest.raises(lc.ConfigError, match=message):
        lc.LSTMForecaster(**TINY, season_length=24, val_size=30).fit(lc.read_csv(data))
    lc.LSTMForecaster(**TINY, season_length=24).fit(lc.read_csv(data))  # no intervals: fine
    result = run_cli(
        "backtest", data, "--h", 24, "--season-length", 24, "--val-size", 30, *TINY_CLI
    )
    message = (
        r"--season-length 24 must be shorter than --window 8 when --val-size calibrates .* "
        r"--window 25 or more, or a --season-length below 8$"
    )
    assert_one_line(result, message)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
@pytest.mark.parametrize(
    ("device", "message"),
    [
        ("cuda", r"device 'cuda' is not available: this PyTorch .*; this machine has cpu"),
        ("cuda:3", r"device 'cuda:3' is not available.*; this machine has cpu"),
        ("gpu", r"device 'gpu' is not a device name; this machine has cpu"),
        ("meta", r"device 'meta' is not supported by lstmcast; this machine has cpu"),
    ],
)
def test_devices_this_machine_does_not_have(device: str, message: str, tmp_path: Path) -> None:
    data = _write_series(tmp_path / "d.csv", np.sin(np.arange(60) / 3))
    with pytest.raises(lc.ConfigError, match=message):
        lc.LSTMForecaster(**TINY, device=device).fit(lc.read_csv(data))
    assert_one_line(
        run_cli("train", data, "-o", tmp_path / "m", *TINY_CLI, "--device", device), message
    )
    assert not (tmp_path / "m").exists()
    result = run_cli("backtest", data, "--h", 2, *TINY_CLI, "--device", device)
    assert_one_line(result, message)


def test_forecasts_that_would_not_fit_in_memory(
    saved_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = lc.load(saved_model / "m")
    huge = r"h=10+ for 1 series makes a forecast of about [\d.,e+]+ GB .* more than the [\d.]+ GB"
    message = huge + r" of memory available; use h=\d+ or less"
    with pytest.raises(lc.ConfigError, match=message):
        model.predict(10**12)
    # On the command line, the flags: --h, not h=.
    assert_one_line(
        run_cli("forecast", saved_model / "m", "--h", 10**12, "-o", saved_model / "f.csv"),
        r"^error: --h 10+ for 1 series .* of memory available; use --h \d+ or less$",
    )
    # A backtest's size: series x windows x h, refused before any forecast is made.
    from lstmcast import checks

    monkeypatch.setattr(checks, "available_memory", lambda: 10_000)
    message = r"h=2 for 1 series x 50 windows makes a forecast of about 0.0 GB .* use h=1 or less"
    with pytest.raises(lc.ConfigError, match=message):
        model.backtest(lc.read_csv(saved_model / "data.csv"), h=2, n_windows=50, step_size=1)
    data = saved_model / "data.csv"

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("the CLI trained before refusing the backtest")

    monkeypatch.setattr(lc.LSTMForecaster, "fit", never)
    result = run_cli("backtest", data, "--h", 2, "--n-windows", 50, "--step-size", 1, *TINY_CLI)
    assert_one_line(result, r"--h 2 for 1 series x 50 windows .* use --h 1 or less$")


def test_backtest_windows_and_steps_are_checked_by_name(saved_model: Path) -> None:
    data = saved_model / "data.csv"
    model = lc.load(saved_model / "m")
    for option, value, message in (
        ("--n-windows", 0, "must be >= 1, got 0"),
        ("--step-size", -1, "must be >= 1, got -1"),
        ("--h", 0, "must be >= 1, got 0"),
    ):
        keyword = option.lstrip("-").replace("-", "_")
        arguments = {"h": 2} | {keyword: value}
        with pytest.raises(lc.ConfigError, match=f"^{keyword} {message}"):
            model.backtest(lc.read_csv(data), **arguments)
        result = run_cli("backtest", data, "--h", 2, option, value, *TINY_CLI)
        assert_one_line(result, f"^error: {option} {message}")


def test_counts_of_one_are_singular(saved_model: Path) -> None:
    model = lc.load(saved_model / "m")
    with pytest.raises(lc.DataError, match=r"a backtest of 1 window of h=60"):
        model.backtest(lc.read_csv(saved_model / "data.csv"), h=60)
    one_step = lc.LSTMForecaster(**TINY, val_size=10).fit(np.sin(np.arange(60) / 3))
    with pytest.raises(lc.ConfigError, match=r"for the 1 step the model emits at once; h=2"):
        one_step.predict(2, level=[80])
    strangers = pd.DataFrame({"x": np.zeros(30), "z": np.zeros(30)})
    with pytest.raises(
        lc.DataError, match=r"series 'x' was not in the training data \(nor 1 other\)"
    ):
        one_step.predict(df=strangers)
    result = run_cli("forecast", saved_model / "m", "--h", 1, "-o", saved_model / "one.csv")
    assert result.exit_code == 0, result.output
    assert "(1 series x 1 step)" in result.stdout


@pytest.mark.parametrize("scale", [1e-12, 1e155, 1e300])
def test_tiny_and_huge_series_through_the_cli(scale: float, tmp_path: Path) -> None:
    """Trained and forecast at their own scale, without an overflow warning (an error here)."""
    values = scale * (2 + np.sin(np.arange(60) / 3))
    data = _write_series(tmp_path / "d.csv", values)
    trained = run_cli("train", data, "-o", tmp_path / "m", *TINY_CLI, "--val-size", 12)
    assert trained.exit_code == 0, trained.output
    out = tmp_path / "f.csv"
    result = run_cli("forecast", tmp_path / "m", "--h", 1, "--level", 80, "-o", out)
    assert result.exit_code == 0, result.output
    forecast = pd.read_csv(out).iloc[0]
    assert 0.5 * scale < forecast["LSTM"] < 4 * scale
    assert forecast["LSTM-lo-80"] <= forecast["LSTM"] <= forecast["LSTM-hi-80"]
    assert forecast["LSTM-hi-80"] - forecast["LSTM-lo-80"] < 4 * scale


def test_magnitudes_the_network_cannot_hold_are_refused(tmp_path: Path) -> None:
    near_limit = _write_series(tmp_path / "a.csv", 1e307 * (2 + np.sin(np.arange(60) / 3)))
    message = r"series 'a' reaches 3e\+307: too close to the largest number a float64 holds"
    with pytest.raises(lc.DataError, match=message):
        lc.LSTMForecaster(**TINY).fit(lc.read_csv(near_limit))
    assert_one_line(run_cli("train", near_limit, "-o", tmp_path / "m", *TINY_CLI), message)
    assert not (tmp_path / "m").exists()

    subnormal = _write_series(tmp_path / "s.csv", 1e-320 * (2 + np.sin(np.arange(60) / 3)))
    message = r"series 'a' varies by only [\d.e-]+, below the smallest normal float64"
    with pytest.raises(lc.DataError, match=message):
        lc.LSTMForecaster(**TINY).fit(lc.read_csv(subnormal))
    assert_one_line(run_cli("train", subnormal, "-o", tmp_path / "m", *TINY_CLI), message)

    huge = _write_series(tmp_path / "b.csv", 1e155 * (2 + np.sin(np.arange(60) / 3)))
    message = (
        r"series 'a' has 2e\+155 at 2024-01-01 00:00:00, beyond the float32 .* scaler='standard'"
    )
    with pytest.raises(lc.DataError, match=message):
        lc.LSTMForecaster(**TINY, scaler="none").fit(lc.read_csv(huge))
    result = run_cli("train", huge, "-o", tmp_path / "m", *TINY_CLI, "--scaler", "none")
    assert_one_line(result, message.replace("scaler='standard'", "--scaler standard"))

    # A model of ordinary values, asked to forecast from a window a 1e300 times larger.
    ordinary = _write_series(tmp_path / "c.csv", 2 + np.sin(np.arange(60) / 3))
    assert run_cli("train", ordinary, "-o", tmp_path / "m", *TINY_CLI).exit_code == 0
    message = r"series 'a' has [\d.e+]+ at 2024-01-03 .* times its scale away from its level"
    with pytest.raises(lc.DataError, match=message):
        lc.load(tmp_path / "m").predict(df=lc.read_csv(huge))
    result = run_cli("forecast", tmp_path / "m", "--data", huge, "-o", tmp_path / "f.csv")
    assert_one_line(result, message)


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
    for command, output in (("forecast", "x.csv"), ("inspect", "x.png")):
        result = run_cli(
            command, saved_model / "m", "--data", tmp_path / "d.csv", "-o", tmp_path / output
        )
        assert_one_line(result, message)
        assert not (tmp_path / output).exists()


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
    with pytest.warns(lc.DataWarning, match=r"1 series has values far outside .*: 'a' at [\d,]+ "):
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
    line, read = result.stderr.splitlines()  # the warning, then how DATA was read
    assert read.startswith("read g.csv: long")
    assert re.match(r"warning: 1 series has values far outside .*'a' at [\d,]+ training", line)
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
        r"^layout must be one of 'long', 'wide', 'single', got 'tall'",
        r"^error: --layout must be one of 'long', 'wide', 'single', got 'tall'",
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


# -- issue 14, re-test: outputs, model directories and plots ---


UNWRITABLE = Path("/proc/lstmcast-nowhere")  # no file can be created in /proc, even by root
needs_proc = pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")


@needs_proc
def test_an_output_that_cannot_be_written_is_refused_before_any_work(
    saved_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Named as given (never a temporary file's name), before training; a model directory there
    is not reported as locked by another process."""
    data = saved_model / "data.csv"

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("trained before refusing the output")

    monkeypatch.setattr(lc.LSTMForecaster, "fit", never)
    message = r"cannot write --output '/proc/lstmcast-nowhere.*': no file can be created in '/proc'"
    for args in (
        ("forecast", saved_model / "m", "-o", UNWRITABLE / "sub" / "f.csv"),
        ("backtest", data, "--h", 2, "-o", UNWRITABLE.with_suffix(".csv"), *TINY_CLI),
        ("plot", data, data, "-o", UNWRITABLE.with_suffix(".png")),
        ("inspect", saved_model / "m", "-o", UNWRITABLE.with_suffix(".png")),
        ("train", data, "-o", UNWRITABLE, *TINY_CLI),
    ):
        result = run_cli(*args)
        assert_one_line(result, message)
        assert ".tmp" not in result.stderr
        assert "another process" not in result.stderr
    model = lc.load(saved_model / "m")
    with pytest.raises(lc.ConfigError, match=r"cannot write model directory '/proc/lstmcast-"):
        model.save(UNWRITABLE)
    forecast = model.predict(2)
    with pytest.raises(lc.ConfigError, match=r"cannot write output '/proc/lstmcast-nowhere.png'"):
        lc.plot_forecast(lc.read_csv(data), forecast, path=UNWRITABLE.with_suffix(".png"))


@needs_proc
def test_a_lock_file_that_cannot_be_created_is_not_another_process(
    saved_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lstmcast import modeldir

    monkeypatch.setattr(modeldir, "check_writable", lambda *args, **kwargs: None)
    with pytest.raises(lc.ModelFileError) as caught:
        lc.load(saved_model / "m").save(UNWRITABLE)
    assert "another process" not in str(caught.value)
    assert re.search(r"cannot lock the model directory .* cannot be created", str(caught.value))


def _zoned(tz: str | None, hours: int = 60) -> pd.DataFrame:
    ds = pd.date_range("2024-01-01", periods=hours, freq="h", tz=tz)
    return pd.DataFrame({"unique_id": "a", "ds": ds, "y": np.sin(np.arange(hours) / 3)})


def _forecast_at(times: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {"unique_id": "a", "ds": pd.to_datetime(times), "LSTM": np.zeros(len(times))}
    )


def test_plot_compares_instants_not_clock_readings_across_zones(tmp_path: Path) -> None:
    """History in Paris, forecast in another zone: the same instants, converted, not shifted."""
    history = _zoned("Europe/Paris")  # ends 2024-01-03 11:00+01:00 (10:00 UTC)
    after = _forecast_at(["2024-01-03 11:00+00:00", "2024-01-03 12:00+00:00"])
    lc.plot_forecast(history, after, path=tmp_path / "ok.png")  # 11:00 UTC is 12:00 in Paris
    before = _forecast_at(["2024-01-03 14:00+05:00"])  # 10:00 Paris: inside the history
    with pytest.raises(lc.DataError, match=r"starts at 2024-01-03 10:00:00, not after"):
        lc.plot_forecast(history, before, path=tmp_path / "no.png")
    naive = _forecast_at(["2024-01-03 12:00"])
    with pytest.raises(lc.DataError, match=r"forecast\['ds'\] has times without a time zone"):
        lc.plot_forecast(history, naive, path=tmp_path / "no.png")
    with pytest.raises(lc.DataError, match=r"history\['ds'\] has times without a time zone"):
        lc.plot_forecast(_zoned(None), after, path=tmp_path / "no.png")
    assert not (tmp_path / "no.png").exists()


def test_plot_on_the_command_line_never_reads_naive_times_as_utc(tmp_path: Path) -> None:
    history = tmp_path / "h.csv"
    _zoned("Europe/Paris").to_csv(history, index=False)
    naive = tmp_path / "naive.csv"
    naive.write_text("unique_id,ds,LSTM\na,2024-01-03 12:00:00,0.5\n")
    out = tmp_path / "p.png"
    assert_one_line(
        run_cli("plot", history, naive, "-o", out),
        r"column 'ds' of naive.csv has times without an offset, but the times of DATA have "
        r"offsets \(UTC\+01:00\)",
    )
    plain = tmp_path / "plain.csv"
    _zoned(None).to_csv(plain, index=False)
    zoned = tmp_path / "zoned.csv"
    zoned.write_text("unique_id,ds,LSTM\na,2024-01-03 16:00:00+05:00,0.5\n")
    assert_one_line(
        run_cli("plot", plain, zoned, "-o", out),
        r"column 'ds' of zoned.csv has times with UTC offsets, but the times of DATA have none",
    )
    assert not out.exists()
    # 16:00+05:00 is 12:00 in Paris, the hour after the history: drawn.
    result = run_cli("plot", history, zoned, "-o", out)
    assert result.exit_code == 0, result.output
    assert out.is_file()


def test_output_size_advice_names_the_flag_that_helps(
    saved_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Too many windows for memory at any horizon: fewer windows are advised, by their flag."""
    from lstmcast import checks

    model = lc.load(saved_model / "m")
    data = saved_model / "data.csv"
    # 3,000 bytes: a few windows of 2 steps fit, 50 windows of 1 step do not.
    monkeypatch.setattr(checks, "available_memory", lambda: 3_000)
    with pytest.raises(lc.ConfigError, match=r"use n_windows=\d+ or less$"):
        model.backtest(lc.read_csv(data), h=2, n_windows=50, step_size=1)
    result = run_cli("backtest", data, "--h", 2, "--n-windows", 50, "--step-size", 1, *TINY_CLI)
    assert_one_line(result, r"^error: --h 2 for 1 series x 50 windows .* use --n-windows \d+")


def test_a_one_row_forecast_says_row(saved_model: Path, tmp_path: Path) -> None:
    result = run_cli("forecast", saved_model / "m", "--h", 1, "-o", tmp_path / "f.csv")
    assert result.exit_code == 0, result.output
    assert "wrote 1 row (1 series x 1 step) to" in result.stdout


def test_an_output_through_a_loop_of_links_is_refused_by_name(
    saved_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("trained before refusing the output")

    monkeypatch.setattr(lc.LSTMForecaster, "fit", never)
    (tmp_path / "loop").symlink_to("loop")
    (tmp_path / "loop.csv").symlink_to("loop.csv")
    message = r"cannot write --output '.*loop.*': the symbolic link '.*loop.*' cannot be followed"
    for args in (
        ("train", saved_model / "data.csv", "-o", tmp_path / "loop", *TINY_CLI),
        ("forecast", saved_model / "m", "-o", tmp_path / "loop" / "f.csv"),
        ("forecast", saved_model / "m", "-o", tmp_path / "loop.csv"),
    ):
        result = run_cli(*args)
        assert_one_line(result, message)
        assert ".tmp" not in result.stderr


def test_a_file_given_for_a_directory_or_a_directory_for_a_file(
    saved_model: Path, tmp_path: Path
) -> None:
    data = saved_model / "data.csv"
    with pytest.raises(lc.ModelFileError, match=r"'.*data.csv' is a file, not a model directory"):
        lc.load(data)
    for command, output in (("forecast", "f.csv"), ("inspect", "g.png")):
        assert_one_line(
            run_cli(command, data, "-o", tmp_path / output), r"is a file, not a model directory"
        )
    # plot's FORECAST: a directory (a model, a sharded forecast's folder) is not a forecast file.
    assert_one_line(
        run_cli("plot", data, saved_model / "m", "-o", tmp_path / "p.png"),
        r"FORECAST '.*m' is a directory; give one forecast file",
    )
    assert not any(tmp_path.iterdir())


def test_unknown_series_name_the_series_the_model_knows(tmp_path: Path) -> None:
    """A single series is named after its value column: the same data with that column renamed
    is another series, and the message says which series the model knows."""
    data = tmp_path / "s.csv"
    pd.DataFrame({"t": HOURS, "y": np.sin(np.arange(60) / 3)}).to_csv(data, index=False)
    model = tmp_path / "m"
    assert run_cli("train", data, "-o", model, "--time-col", "t", *TINY_CLI).exit_code == 0
    renamed = tmp_path / "r.csv"
    renamed.write_text(data.read_text().replace("t,y", "time,value", 1))
    result = run_cli(
        "forecast", model, "--data", renamed, "--time-col", "time", "--target-col", "value",
        "-o", tmp_path / "f.csv",
    )  # fmt: skip
    assert_one_line(
        result,
        r"series 'value' was not in the training data; the model knows 1 series \('y'\); .*"
        r"a single series is named after its value column",
    )


def test_a_folder_reached_by_another_spelling_is_the_same_folder(
    saved_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bind mount or a case-insensitive file system gives one folder two names that resolving
    links does not reveal: simulated by a link that real_path does not resolve. The output is
    still found inside the model (or would replace the data's folder)."""
    from lstmcast import files

    # Absolute, links left as they are (Path.resolve would follow them).
    monkeypatch.setattr(files, "real_path", lambda path: Path.cwd() / path)
    shutil.copytree(saved_model / "m", tmp_path / "m")
    (tmp_path / "M").symlink_to("m")  # "M" is "m" on a case-insensitive file system
    assert_one_line(
        run_cli("forecast", tmp_path / "m", "-o", tmp_path / "M" / "f.csv"),
        r"--output '.*M/f.csv' lies inside the model directory '.*m'",
    )
    (tmp_path / "d").mkdir()
    shutil.copy(saved_model / "data.csv", tmp_path / "d" / "data.csv")
    (tmp_path / "D").symlink_to("d")
    assert_one_line(
        run_cli("train", tmp_path / "d" / "data.csv", "-o", tmp_path / "D", *TINY_CLI),
        r"--output '.*D' would replace the directory holding the data",
    )
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == sorted(
        p.name for p in (saved_model / "m").iterdir()
    )


def test_a_model_remembers_the_layout_its_data_was_read_in(tmp_path: Path) -> None:
    """Trained with --layout wide on an ambiguous file (a 'y' among the series): forecast and
    inspect --data read the same file without being told again; a layout given still wins."""
    data = tmp_path / "w.csv"
    waves = {name: np.sin(np.arange(60) / (3 + k)) for k, name in enumerate("xyz")}
    pd.DataFrame({"t": HOURS, **waves}).to_csv(data, index=False)
    model = tmp_path / "m"
    args = ("--layout", "wide", "--time-col", "t")
    assert run_cli("train", data, "-o", model, *args, *TINY_CLI).exit_code == 0
    assert json.loads((model / "config.json").read_text())["layout"] == "wide"
    assert lc.load(model).layout_ == "wide"
    for command, output in (("forecast", "f.csv"), ("inspect", "g.png")):
        result = run_cli(command, model, "--data", data, "-o", tmp_path / output)
        assert result.exit_code == 0, result.output
        assert "read w.csv: wide, time 't', 3 series from columns 'x', 'y', 'z'" in result.stderr
    assert pd.read_csv(tmp_path / "f.csv")["unique_id"].tolist() == ["x", "y", "z"]
    single = ("--layout", "single", "--target-col", "y", "--ignore-col", "x", "--ignore-col", "z")
    result = run_cli("forecast", model, "--data", data, *single, "-o", tmp_path / "f1.csv")
    assert result.exit_code == 0, result.output
    assert pd.read_csv(tmp_path / "f1.csv")["unique_id"].tolist() == ["y"]
    # A model saved without a layout (the API, earlier versions) infers it, as before.
    config = json.loads((model / "config.json").read_text())
    del config["layout"]
    (model / "config.json").write_text(json.dumps(config))
    assert lc.load(model).layout_ is None
    assert_one_line(
        run_cli("forecast", model, "--data", data, "-o", tmp_path / "f2.csv"),
        r"w.csv is ambiguous: .* Say which: --layout wide",
    )
    config["layout"] = "diagonal"
    (model / "config.json").write_text(json.dumps(config))
    with pytest.raises(lc.ModelFileError, match=r"invalid layout 'diagonal'"):
        lc.load(model)


# -- issue 14, re-test: data and settings messages ---


def _sine_hours(n: int = 60) -> pd.DataFrame:
    t = pd.date_range("2024-01-01", periods=n, freq="h")
    return pd.DataFrame({"ds": t, "a": np.sin(np.arange(n) / 3), "b": np.cos(np.arange(n) / 3)})


def test_a_parquet_index_is_a_column_and_positions_are_no_times(tmp_path: Path) -> None:
    """A Parquet file saved with set_index('ds') (or a MultiIndex) holds its index as columns;
    one saved without an index has no times in its row positions, as a CSV file has none."""
    pytest.importorskip("pyarrow")
    wide = _sine_hours()
    long = wide.melt(id_vars="ds", var_name="unique_id", value_name="y")
    long.set_index("ds").to_parquet(tmp_path / "by_time.parquet")
    long.set_index(["unique_id", "ds"]).to_parquet(tmp_path / "by_both.parquet")
    for name in ("by_time", "by_both"):
        frame = lc.read_parquet(tmp_path / f"{name}.parquet")
        assert str(lc.layouts(frame)[0]) == (
            f"{name}.parquet: long, id 'unique_id', time 'ds', target 'y', 2 series"
        )
        result = run_cli("train", tmp_path / f"{name}.parquet", "-o", tmp_path / name, *TINY_CLI)
        assert result.exit_code == 0, result.output
    wide.rename(columns={"ds": "t"}).to_parquet(tmp_path / "no_index.parquet", index=False)
    message = r"no_index.parquet: time column 'ds' not found; columns are 't', 'a', 'b'. Name it"
    with pytest.raises(lc.DataError, match="^" + message + r" with time_col=$"):
        lc.read_parquet(tmp_path / "no_index.parquet")
    result = run_cli("train", tmp_path / "no_index.parquet", "-o", tmp_path / "m", *TINY_CLI)
    assert_one_line(result, "^error: " + message + r" with --time-col$")
    # A time index without a name is still the times of a wide file.
    wide.set_index("ds").rename_axis(None).to_parquet(tmp_path / "indexed.parquet")
    frame = lc.read_parquet(tmp_path / "indexed.parquet")
    assert str(lc.layouts(frame)[0]).startswith("indexed.parquet: wide, time from the index")
    # The file is named once, not twice.
    wide.set_index("ds").rename(columns={"b": "y"}).to_parquet(tmp_path / "both.parquet")
    with pytest.raises(lc.DataError, match=r"^both.parquet is ambiguous"):
        lc.read_parquet(tmp_path / "both.parquet")


def test_among_several_files_an_error_names_its_file(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    folder = tmp_path / "data"
    folder.mkdir()
    wide = _sine_hours().rename(columns={"ds": "t"})
    wide.to_parquet(folder / "one.parquet", index=False)
    wide.rename(columns={"a": "c", "b": "d"}).to_csv(folder / "two.csv", index=False)
    result = run_cli("train", folder, "-o", tmp_path / "m", "--time-col", "t", "--ignore-col", "a")
    assert_one_line(result, r"^error: two.csv: column to ignore 'a' not found; columns are 't',")
    with pytest.raises(lc.DataError, match=r"^one.parquet: time column 'ds' not found"):
        lc.read_files(lc.data_files(folder))


@pytest.mark.parametrize(
    ("options", "keywords", "cli", "api"),
    [
        (["--layers", "0"], {"num_layers": 0}, "--layers must be >= 1", "num_layers must be"),
        (
            ["--quantile-level", "100"],
            {"quantile_levels": (100,)},
            "--quantile-level must be below 100",
            "quantile_levels must be below 100",
        ),
        (["--seed", "-1"], {"random_state": -1}, "--seed must be >= 0", "random_state must be"),
        (
            ["--segment", "3"],
            {"segment": 3},
            "--segment 3 must divide --window 8; try --window 6$",
            "segment 3 must divide window 8; try window=6$",
        ),
        (
            ["--patience", "2"],
            {"patience": 2},
            "--patience needs validation data: set --val-size too",
            "patience needs validation data: set val_size too",
        ),
    ],
)
def test_settings_are_named_as_the_user_wrote_them(
    options: list[str], keywords: dict[str, Any], cli: str, api: str, tmp_path: Path
) -> None:
    """The command line reads --hidden-size, Python hidden_size: a message names the one used."""
    data = tmp_path / "data.csv"
    data.write_text(csv(good_rows()))
    with pytest.raises(lc.ConfigError, match="^" + api):
        lc.LSTMForecaster(**(TINY | keywords)).fit(lc.read_csv(data))
    assert_one_line(run_cli("train", data, "-o", tmp_path / "m", *TINY_CLI, *options), cli)
    assert not (tmp_path / "m").exists()


def test_forecast_levels_and_steps_are_named_as_flags(saved_model: Path) -> None:
    model, out = saved_model / "m", saved_model / "f.csv"
    assert_one_line(run_cli("forecast", model, "--level", 0, "-o", out), "^error: --level must be")
    assert_one_line(run_cli("forecast", model, "--h", 0, "-o", out), "^error: --h must be >= 1")
    with pytest.raises(lc.ConfigError, match=r"^level must be > 0"):
        lc.load(model).predict(level=[0])
    assert not out.exists()


def test_a_backtest_longer_than_the_data_names_its_flags(tmp_path: Path) -> None:
    """Too many windows for the series: said in the backtest's terms, with the count that fits,
    before any training (not 'a test part of 200 leaves nothing to train on')."""
    data = tmp_path / "data.csv"
    data.write_text(csv(good_rows()))
    cases = [
        (
            ("--n-windows", 100),
            r"holds out its last 200, leaving 0 before the first origin, "
            r"where --window 8 \+ --horizon 1 need at least 9 to train on; "
            r"use --n-windows 25 or less$",
        ),
        (("--n-windows", 26), r"holds out its last 52, leaving 8 .* use --n-windows 25 or less$"),
        (("--h", 59, "--n-windows", 1), r"holds out its last 59, .* use a smaller --h$"),
    ]
    for options, message in cases:
        result = run_cli("backtest", data, "--h", 2, *TINY_CLI, *options)
        assert_one_line(result, r"^error: series 'a' has 60 points, and a backtest of .*" + message)
    result = run_cli("backtest", data, "--h", 2, "--n-windows", 25, *TINY_CLI)
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("times", "message"),
    [
        (
            pd.date_range("2024-01-01", periods=13, freq="MS").delete(5),
            r"2024-07-01 00:00:00 follows 2024-05-01 00:00:00, but its usual step is 1 month;",
        ),
        (
            pd.date_range("2000-01-01", periods=13, freq="QS").delete(5),
            r"2001-07-01 00:00:00 follows 2001-01-01 00:00:00, but its usual step is 3 months;",
        ),
        (
            pd.date_range("2000-01-01", periods=13, freq="YS").delete(5),
            r"2006-01-01 00:00:00 follows 2004-01-01 00:00:00, but its usual step is 1 year;",
        ),
        (
            pd.bdate_range("2024-01-01", periods=40).delete(20),  # a weekend is no gap
            r"2024-01-30 00:00:00 follows 2024-01-26 00:00:00, but its usual step is 1 business "
            r"day;",
        ),
        (
            pd.date_range("2024-01-01", periods=13, freq="s").delete(5),
            r"2024-01-01 00:00:06 follows 2024-01-01 00:00:04, but its usual step is 0 days "
            r"00:00:01;",
        ),
        (
            pd.DatetimeIndex(
                [pd.Timestamp("2023-01-30") + pd.DateOffset(months=i) for i in range(13)]
            ),
            r"series 'y' is dated on day 30 of each month, moved to the end of shorter months "
            r"\(2023-02-28 00:00:00 follows 2023-01-30 00:00:00\): lstmcast continues months on "
            r"one day from the 1st to the 28th, or on month ends",
        ),
    ],
)
def test_irregular_calendar_steps_are_told_in_months_and_years(
    times: pd.DatetimeIndex, message: str, tmp_path: Path
) -> None:
    """A gap in monthly data is one month missing, not a step of '31 days'."""
    frame = pd.DataFrame({"ds": times.strftime("%Y-%m-%d %H:%M:%S"), "y": np.arange(len(times))})
    frame.to_csv(tmp_path / "data.csv", index=False)
    with pytest.raises(lc.DataError, match=message):
        lc.Naive().fit(lc.read_csv(tmp_path / "data.csv"))
    assert_one_line(
        run_cli("train", tmp_path / "data.csv", "-o", tmp_path / "m", *TINY_CLI), message
    )


def test_a_zoned_model_refuses_times_without_a_zone_and_the_reverse(tmp_path: Path) -> None:
    """Naive times for a model trained in Europe/Paris are no instants: refused, not taken as
    UTC (the forecast's times and its calendar features would move by the offset)."""
    t = pd.date_range("2024-01-09 07:00", periods=60, freq="h", tz="Europe/Paris")
    y = np.sin(np.arange(60) / 3)
    zoned, naive = tmp_path / "zoned.csv", tmp_path / "naive.csv"
    pd.DataFrame({"ds": t.astype(str), "y": y}).to_csv(zoned, index=False)
    pd.DataFrame({"ds": t.tz_localize(None).astype(str), "y": y}).to_csv(naive, index=False)
    for trained, other, message in (
        (zoned, naive, r"trained on times in \+01:00, but the new data's times have no zone"),
        (naive, zoned, r"trained on times without a zone, but the new data's are in \+01:00"),
    ):
        model = tmp_path / f"m-{trained.stem}"
        assert run_cli("train", trained, "-o", model, *TINY_CLI).exit_code == 0
        with pytest.raises(lc.DataError, match=message):
            lc.load(model).predict(2, df=lc.read_csv(other))
        out = tmp_path / "f.csv"
        assert_one_line(run_cli("forecast", model, "--data", other, "-o", out), message)
        assert_one_line(
            run_cli("inspect", model, "--data", other, "-o", tmp_path / "g.png"), message
        )
        assert not out.exists()
        assert run_cli("forecast", model, "--data", trained, "-o", out).exit_code == 0
        out.unlink()


def test_calendar_features_follow_the_local_clock_of_zoned_times() -> None:
    """Hour 0 in Paris is hour 0 in the features in winter and in summer (23:00 or 22:00 UTC)."""
    from lstmcast.windows import calendar_features

    local = pd.DatetimeIndex(["2024-01-15 00:00", "2024-07-15 00:00"]).tz_localize("Europe/Paris")
    utc = local.tz_convert("UTC").tz_localize(None).to_numpy()
    features = calendar_features(utc, ("hour",), "Europe/Paris")
    np.testing.assert_allclose(features, [[0.0, 1.0], [0.0, 1.0]], atol=1e-6)
    frame = pd.DataFrame(
        {"ds": pd.date_range("2024-03-25", periods=200, freq="h", tz="Europe/Paris")}
    )
    frame["y"] = np.sin(2 * np.pi * frame["ds"].dt.hour / 24)
    model = lc.LSTMForecaster(**TINY, calendar=("hour",), horizon=3).fit(frame)
    shifted = frame.assign(ds=frame["ds"].dt.tz_convert("UTC"))  # the same instants in UTC
    by_utc = lc.LSTMForecaster(**TINY, calendar=("hour",), horizon=3).fit(shifted)
    assert not np.allclose(model.predict(3)["LSTM"], by_utc.predict(3)["LSTM"])


def test_plot_reads_ids_like_na_and_none_in_a_forecast_as_text(tmp_path: Path) -> None:
    """The forecast of series 'NA' and 'None' is plotted with them (not read back as NaN)."""
    data = tmp_path / "data.csv"
    data.write_text(csv(good_rows("NA") + good_rows("None")))
    model, forecast = tmp_path / "m", tmp_path / "f.csv"
    assert run_cli("train", data, "-o", model, *TINY_CLI).exit_code == 0
    assert run_cli("forecast", model, "--h", 2, "-o", forecast).exit_code == 0
    result = run_cli("plot", data, forecast, "-o", tmp_path / "p.png")
    assert result.exit_code == 0, result.output
    backtest = tmp_path / "b.csv"
    assert run_cli("backtest", data, "--h", 2, *TINY_CLI, "-o", backtest).exit_code == 0
    assert run_cli("plot", data, backtest, "-o", tmp_path / "b.png").exit_code == 0


def test_a_utf16_file_is_named_as_such(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes(csv(good_rows()).encode("utf-16"))
    message = r"data.csv is UTF-16 text .*; re-save it as UTF-8 \(iconv -f utf-16 -t utf-8"
    with pytest.raises(lc.DataError, match=message):
        lc.read_csv(path)
    assert_one_line(run_cli("train", path, "-o", tmp_path / "m", *TINY_CLI), message)


@pytest.mark.parametrize(
    ("header", "options", "message"),
    [
        (
            "unique_id, ds, y",
            (),
            r"time column 'ds' not found; columns are 'unique_id', ' ds', ' y' \(' ds' differs "
            r"only in case or spaces: names must match exactly\)\. Name it with --time-col$",
        ),
        (
            "unique_id,ds,Y",
            (),
            r"target column 'y' not found; .* \('Y' differs only in case or spaces",
        ),
        (
            "unique_id,ds,Sales",
            ("--target-col", "sales"),
            r"target column 'sales' not found; .* \('Sales' differs only in case or spaces",
        ),
        (
            "unique_id,ds,y,",
            (),
            r"column 4 of the header line of data.csv has no name; name it \(or remove the comma "
            r"that ends the header line and every row\)$",
        ),
    ],
)
def test_a_column_name_off_by_case_or_spaces_is_pointed_at(
    header: str, options: tuple[str, ...], message: str, tmp_path: Path
) -> None:
    path = tmp_path / "data.csv"
    rows = good_rows()
    trailing = header.endswith(",")
    path.write_text(csv([(*row, "") if trailing else row for row in rows], header))
    assert_one_line(run_cli("train", path, "-o", tmp_path / "m", *TINY_CLI, *options), message)


def test_levels_may_be_numpy_numbers_and_stay_a_set() -> None:
    model = lc.LSTMForecaster(**TINY, val_size=60).fit(np.sin(np.arange(200) / 3))
    expected = model.predict(1, level=[80, 95])
    for level in (np.array([80, 95]), [np.float32(80), 95.0, np.int64(80)], (95, 80, 80.0)):
        pd.testing.assert_frame_equal(model.predict(1, level=level), expected)
    for bad in (["95"], [np.bool_(True)]):
        with pytest.raises(lc.ConfigError, match=r"^level must be int or float"):
            model.predict(1, level=bad)


def test_one_row_is_one_row(tmp_path: Path) -> None:
    data = tmp_path / "data.csv"
    data.write_text(csv(good_rows()))
    assert run_cli("train", data, "-o", tmp_path / "m", *TINY_CLI).exit_code == 0
    result = run_cli("forecast", tmp_path / "m", "--h", 1, "-o", tmp_path / "f.csv")
    assert "wrote 1 row (1 series x 1 step) to" in result.stdout
    result = run_cli("backtest", data, "--h", 1, *TINY_CLI, "-o", tmp_path / "b.csv")
    assert "wrote 1 row to" in result.stdout


def test_layout_single_with_columns_left_over_hints_at_layout_wide(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_text(numbered("t,x,y,z", 60, lambda i: f"{i},{i},{i},{i}"))
    base = ("train", path, "-o", tmp_path / "m", *TINY_CLI, "--time-col", "t", "--layout", "single")
    for extra in ((), ("--target-col", "y")):
        assert_one_line(
            run_cli(*base, *extra),
            r"columns 'x', 'z' would be ignored \(read as one series: time 't', target 'y'\); .* "
            r"--ignore-col x --ignore-col z; to read every column as a series, use --layout wide$",
        )


@pytest.mark.parametrize("freq", ["D", "W-WED"])
def test_daily_and_weekly_zoned_data_keep_midnight_across_a_dst_change(
    freq: str, tmp_path: Path
) -> None:
    """Daily data in Paris, all of it in winter (24 h apart), is forecast at local midnight in
    summer too: its step is the zone's calendar day, not 24 hours (which gave 01:00+02:00)."""
    t = pd.date_range(end="2024-03-27", periods=12, freq=freq, tz="Europe/Paris")
    frame = pd.DataFrame({"ds": t, "y": np.sin(np.arange(len(t)))})
    model = lc.LSTMForecaster(**(TINY | {"window": 4})).fit(frame)
    model.save(tmp_path / "m")
    for fitted in (model, lc.load(tmp_path / "m")):
        times = fitted.predict(6)["ds"]
        assert (times.dt.hour == 0).all(), times.tolist()
        assert times.iloc[-1].utcoffset() == pd.Timedelta(hours=2)
    pytest.importorskip("pyarrow")
    path = tmp_path / "data.parquet"  # keeps the named zone
    frame.to_parquet(path, index=False)
    out = tmp_path / "f.csv"
    result = run_cli("train", path, "-o", tmp_path / "m2", *TINY_CLI, "--window", 4)
    assert result.exit_code == 0, result.output
    assert run_cli("forecast", tmp_path / "m2", "--h", 6, "-o", out).exit_code == 0
    assert pd.read_csv(out)["ds"].str.endswith("00:00:00+02:00").iloc[-1]


def test_counts_may_be_numpy_integers_but_not_floats_or_bools(saved_model: Path) -> None:
    model = lc.load(saved_model / "m")
    data = lc.read_csv(saved_model / "data.csv")
    assert len(model.predict(np.int64(2))) == 2
    frame = model.backtest(data, h=np.int64(2), n_windows=np.int32(2), step_size=np.uint8(1))
    assert len(frame) == 4
    for keyword, value, message in (
        ("n_windows", 2.0, r"^n_windows must be int, got 2.0"),
        ("n_windows", True, r"^n_windows must be int, got True"),
        ("step_size", np.int64(0), r"^step_size must be >= 1, got 0"),
    ):
        with pytest.raises(lc.ConfigError, match=message):
            model.backtest(data, h=2, **{keyword: value})


def test_quantile_levels_the_validation_windows_cannot_calibrate_are_refused_before_training(
    tmp_path: Path,
) -> None:
    """--quantile-level 99 with --val-size 20 trained a model whose every 99% forecast was then
    refused: said before training, with the --val-size that would do."""
    data = tmp_path / "data.csv"
    data.write_text(csv(good_rows("a") + good_rows("b")))
    message = (
        r"99 needs at least 99 validation windows to be calibrated, and {} gives 40: train with "
        r"{} or more \(points per series\), or a lower level$"
    )
    with pytest.raises(
        lc.ConfigError, match="^quantile_levels " + message.format("val_size=20", "val_size=50")
    ):
        lc.LSTMForecaster(**TINY, quantile_levels=(80, 99), val_size=20).fit(lc.read_csv(data))
    result = run_cli(
        "train", data, "-o", tmp_path / "m", *TINY_CLI,
        "--quantile-level", 80, "--quantile-level", 99, "--val-size", 20,
    )  # fmt: skip
    assert_one_line(
        result, "^error: --quantile-level " + message.format("--val-size 20", "--val-size 50")
    )
    assert not (tmp_path / "m").exists()
    # Without val_size the heads are not calibrated: any learned level is fine.
    lc.LSTMForecaster(**TINY, quantile_levels=(99,)).fit(lc.read_csv(data))


def test_a_constant_subnormal_series_is_called_constant() -> None:
    with pytest.raises(lc.DataError, match=r"^series 'series' is constant at 1e-320, below the"):
        lc.LSTMForecaster(**TINY).fit(np.full(60, 1e-320))


def test_interval_advice_names_the_flags_on_the_command_line(saved_model: Path) -> None:
    """The saved model has no validation tail: asking it for intervals says which setting gives
    them, as a keyword in Python and as a flag on the command line."""
    with pytest.raises(lc.ConfigError, match=r"trained without val_size.* or quantile_levels$"):
        lc.load(saved_model / "m").predict(1, level=[80])
    result = run_cli(
        "forecast", saved_model / "m", "--h", 1, "--level", 80, "-o", saved_model / "f.csv"
    )
    assert_one_line(result, r"trained without --val-size.*with --val-size .* or --quantile-level$")
