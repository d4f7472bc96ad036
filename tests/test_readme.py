"""The README's examples, run as they are written, so that none of them rots.

Run here, each in a fresh directory:

- the two Python blocks under "In Python" (the recipe's on a generated ``sales.csv``), as they
  are, and those under "Covariates", "Missing values and gaps" and "Tracking runs", with a
  smaller network;
- every line of the bash blocks under "On the command line", "Covariates", "Missing values and
  gaps", "Tuning", "Updating a model with new data", "Tracking runs" and "Export", in that order,
  through typer's CliRunner, on a generated ``sales.csv`` (hourly series ``store_1``, ...),
  ``prices.csv`` and ``sensors.csv`` (with gaps). Expensive settings are cut by options appended
  after the README's own (the last value of an option wins), never by editing its commands, so a
  README command that stops parsing fails here;
- the server's Python block under "Export", on the file the bash line above it writes, against
  the model's own ``predict``.

Not run here:

- ``make demo`` / ``make test``: they build the virtualenv this suite runs in; ``make test`` is
  this suite, and ``make demo`` runs ``lstmcast demo``, which the command-line block runs;
- ``pip install -e '.[parquet]'`` and the ``torchrun`` lines: installing needs the network, and
  tests/test_distributed.py launches ``torchrun ... -m lstmcast train`` and ``forecast`` itself;
- the ``benchmarks`` commands: each script's ``--smoke`` mode runs in tests/test_benchmark_*.py
  and tests/test_*_smoke.py; their full runs take minutes to hours and need benchmarks/data;
- the other code blocks are program output and equations, not commands.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner, Result

from lstmcast import cli

README = Path(__file__).resolve().parents[1] / "README.md"

# Appended to a README command, by the command's name: a smaller network and budget, same flags.
CHEAPER = {
    "train": ["--epochs", "1", "--hidden-size", "8"],
    "backtest": ["--epochs", "1", "--hidden-size", "8"],
    "experiment adding": ["--length", "20", "--steps", "3", "--hidden-size", "4"],
    "tune": ["--n-trials", "2", "--epochs", "1", "--hidden-size", "8"],
}
# What each command leaves in its directory (beside sales.csv).
WRITES = {
    "demo": ["demo.png"],
    "train": ["sales.lstm/config.json"],
    "forecast": ["forecast.csv"],
    "plot": ["forecast.png"],
    "inspect": ["gates.png"],
    "audit": [],
    "info": [],
    "export": ["sales.onnx"],
    "experiment adding": ["adding.png"],
    "tune": ["sales.tuned/model/config.json", "sales.tuned/trials.csv", "sales.tuned/trials.png"],
}
# The Covariates section's commands: (command, what it writes), run on generated prices files.
COVARIATE_WRITES = {"train": "prices.lstm/config.json", "forecast": "prices_forecast.csv"}
# The Missing values section's, on a generated sensors.csv with gaps and missing values.
MISSING_WRITES = {"train": "sensors.lstm/config.json", "forecast": "sensors_forecast.csv"}
# Hours of each generated series: two weeks, enough for --window 48 --horizon 24 --val-size 0.1
# and a backtest of 5 windows of 24.
SALES_HOURS = 14 * 24
NEW_HOURS = 3 * 24  # sales_new.csv: what the update learns from


def code_block(section: str, language: str, index: int = 0) -> str:
    """The ``index``-th ``language`` code block under the README heading ``## section``."""
    text = README.read_text()
    start = text.index(f"\n## {section}\n")
    end = text.find("\n## ", start + 1)
    blocks = re.findall(rf"```{language}\n(.*?)```", text[start : end if end > 0 else None], re.S)
    assert len(blocks) > index, f"no {language} block {index} under '## {section}' in README.md"
    return blocks[index]


@dataclass(frozen=True)
class Command:
    name: str  # "train", "experiment adding", ...
    args: list[str]  # as written in the README, without the leading "lstmcast"


# The sections whose bash block is run, in this order.
COMMAND_SECTIONS = (
    "On the command line",
    "Covariates",
    "Missing values and gaps",
    "Tuning",
    "Updating a model with new data",
    "Tracking runs",
    "Export",
)
# What a tracking flag leaves (a directory of event files or runs), by flag.
TRACKING_WRITES = {"--tensorboard": "runs/sales", "--mlflow": "mlruns"}


def readme_commands() -> list[Command]:
    commands = []
    lines = [
        line for section in COMMAND_SECTIONS for line in code_block(section, "bash").splitlines()
    ]
    for line in lines:
        words = shlex.split(line, comments=True)
        if not words:
            continue
        assert words[0] == "lstmcast", line
        args = words[1:]
        name = " ".join(args[:2]) if args[0] == "experiment" else args[0]
        commands.append(Command(name, args))
    return commands


COMMANDS = readme_commands()


def write_sales(path: Path) -> None:
    """Three hourly series with a daily cycle, a trend and noise: store_1, store_2, store_3;
    and beside ``path`` their next three days, ``sales_new.csv``."""
    rng = np.random.default_rng(0)
    t = np.arange(SALES_HOURS + NEW_HOURS)
    hours = pd.date_range("2024-03-01", periods=len(t), freq="h")
    frames = [
        pd.DataFrame(
            {
                "unique_id": f"store_{k}",
                "ds": hours,
                "y": 50 * k + 10 * np.sin(2 * np.pi * t / 24) + 0.02 * t + rng.normal(0, 1, len(t)),
            }
        )
        for k in (1, 2, 3)
    ]
    sales = pd.concat(frames)
    sales.groupby("unique_id").head(SALES_HOURS).to_csv(path, index=False)
    sales.groupby("unique_id").tail(NEW_HOURS).to_csv(path.parent / "sales_new.csv", index=False)


def write_prices(directory: Path) -> None:
    """Two hourly price series driven by a load forecast (future-known) and wind (past-only),
    and the load forecast of the 24 hours after them: prices.csv, prices_future.csv."""
    rng = np.random.default_rng(1)
    hours = pd.date_range("2024-03-01", periods=SALES_HOURS + 24, freq="h")
    t = np.arange(len(hours))
    frames = []
    for k in (1, 2):
        load = 100 + 20 * np.sin(2 * np.pi * t / 24) + rng.normal(0, 2, len(t))
        wind = rng.gamma(2.0, 3.0, len(t))
        y = 30 * k + 0.5 * load - wind + rng.normal(0, 1, len(t))
        frames.append(
            pd.DataFrame(
                {"unique_id": f"zone_{k}", "ds": hours, "y": y, "load_forecast": load, "wind": wind}
            )
        )
    full = pd.concat(frames)
    known = full.groupby("unique_id").head(SALES_HOURS)
    known.to_csv(directory / "prices.csv", index=False)
    future = full.groupby("unique_id").tail(24)[["unique_id", "ds", "load_forecast"]]
    future.to_csv(directory / "prices_future.csv", index=False)


def write_sensors(path: Path) -> None:
    """``write_sales`` with 5% of the hours of each series removed and 2% of the values
    missing (empty cells), none at a series' start: sensors.csv."""
    write_sales(path)
    frame = pd.read_csv(path)
    rng = np.random.default_rng(2)
    inside = frame.groupby("unique_id").cumcount().between(1, SALES_HOURS - 2).to_numpy()
    frame.loc[inside & (rng.random(len(frame)) < 0.02), "y"] = np.nan
    frame[~(inside & (rng.random(len(frame)) < 0.05))].to_csv(path, index=False)


@pytest.fixture(scope="module")
def command_results(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Result, Path]]:
    """Every README command, in its order, in one directory (each needs the ones before)."""
    work = tmp_path_factory.mktemp("readme-cli")
    write_sales(work / "sales.csv")
    write_prices(work)
    write_sensors(work / "sensors.csv")
    runner = CliRunner()
    results = []
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(work)
        for command in COMMANDS:
            args = [*command.args, *CHEAPER.get(command.name, [])]
            results.append((runner.invoke(cli.app, args), work))
    return results


def writes(command: Command) -> list[str]:
    """What ``command`` leaves in its directory: the Covariates section's write prices files,
    the Missing values section's sensors files."""
    for prefix, written in (("prices", COVARIATE_WRITES), ("sensors", MISSING_WRITES)):
        if any(arg.startswith(prefix) for arg in command.args):
            return [written[command.name]] if command.name in written else []
    return WRITES.get(command.name, [])


def logs(command: Command) -> list[str]:
    """The directories a tracked command's run goes to."""
    return [folder for flag, folder in TRACKING_WRITES.items() if flag in command.args]


@pytest.mark.parametrize(
    "index", range(len(COMMANDS)), ids=[" ".join(c.args[:2]) for c in COMMANDS]
)
def test_readme_command(index: int, command_results: list[tuple[Result, Path]]) -> None:
    result, work = command_results[index]
    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert "Traceback" not in result.output
    for written in writes(COMMANDS[index]):
        assert (work / written).is_file(), written
    for folder in logs(COMMANDS[index]):
        assert any((work / folder).rglob("*")), folder


def test_readme_lists_the_commands_this_test_knows() -> None:
    # The table above names what each command writes; a new README command should join it.
    assert {c.name for c in COMMANDS} == {*WRITES, "backtest"}


def test_readme_recipe_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first block: data and a horizon, every other setting chosen from the data."""
    monkeypatch.chdir(tmp_path)
    write_sales(tmp_path / "sales.csv")
    namespace: dict[str, object] = {}
    exec(compile(code_block("In Python", "python", 0), "README.md (recipe)", "exec"), namespace)
    model = namespace["model"]
    assert model.recipe_[0] == "hourly -> season 24"  # type: ignore[attr-defined]
    assert len(namespace["forecast"]) == 3 * 48  # type: ignore[arg-type]


def run_cheaper(section: str, last_setting: str) -> dict[str, object]:
    """Run the first Python block under ``section`` with a smaller network: ``epochs=1,
    hidden_size=8`` after the README's own settings, whose last one is ``last_setting`` (it
    must be in the block: a changed README fails here); return its names."""
    source = code_block(section, "python", 0)
    assert f"{last_setting})" in source  # where the cheaper settings go
    source = source.replace(f"{last_setting})", f"{last_setting}, epochs=1, hidden_size=8)")
    namespace: dict[str, object] = {}
    exec(compile(source, f"README.md ({section})", "exec"), namespace)
    return namespace


def test_readme_covariates_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write_prices(tmp_path)
    namespace = run_cheaper("Covariates", 'hist_cols=["wind"]')
    forecast = namespace["forecast"]
    assert isinstance(forecast, pd.DataFrame)
    assert len(forecast) == 2 * 24


def test_readme_missing_values_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write_sensors(tmp_path / "sensors.csv")
    namespace = run_cheaper("Missing values and gaps", "fill_gaps=True")
    lines = namespace["model"].fills_.lines()  # type: ignore[attr-defined]
    assert lines[0].startswith("inserted ")
    assert lines[1].startswith("filled ")
    assert lines[1].endswith("missing values in 3 series (interpolate)")
    assert len(namespace["forecast"]) == 3 * 24  # type: ignore[arg-type]


def test_readme_tracking_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("tensorboard")
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    write_sales(tmp_path / "sales.csv")
    namespace = run_cheaper("Tracking runs", "LSTMForecaster(horizon=48")
    assert any((tmp_path / "runs" / "sales").iterdir())
    client = MlflowClient(tracking_uri=(tmp_path / "mlruns").as_uri())
    run = client.get_run(namespace["flow"].run_id)  # type: ignore[attr-defined]
    assert run.info.status == "FINISHED"
    assert "backtest/LSTM/MASE" in run.data.metrics


def test_readme_python_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    exec(compile(code_block("In Python", "python", 1), "README.md (In Python)", "exec"), namespace)
    assert (tmp_path / "forecast.png").is_file()
    assert (tmp_path / "sine.lstm" / "config.json").is_file()
    forecast = namespace["forecast"]
    assert isinstance(forecast, pd.DataFrame)
    assert len(forecast) == 50


def test_readme_export_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The server's block: the file the Export section's command writes, read as it says,
    gives the model's own forecasts and intervals."""
    pytest.importorskip("onnxruntime")
    import lstmcast as lc

    monkeypatch.chdir(tmp_path)
    write_sales(tmp_path / "sales.csv")
    runner = CliRunner()
    train = next(c for c in COMMANDS if c.name == "train" and "sales.lstm" in c.args)
    export = shlex.split(code_block("Export", "bash"), comments=True)[1:]  # its --level 80
    for args in ([*train.args, *CHEAPER["train"]], export):
        result = runner.invoke(cli.app, args)
        assert result.exit_code == 0, (result.stdout, result.stderr)
    namespace: dict[str, object] = {}
    exec(compile(code_block("Export", "python", 0), "README.md (Export)", "exec"), namespace)
    expected = lc.load("sales.lstm").predict(level=[80])
    forecast, intervals = namespace["forecast"], namespace["intervals"]
    np.testing.assert_allclose(forecast.reshape(-1), expected["LSTM"], rtol=0, atol=1e-5)
    np.testing.assert_allclose(
        intervals[..., 0].reshape(-1), expected["LSTM-lo-80"], rtol=0, atol=1e-5
    )
