"""``lstmcast tune`` end to end: outputs, a model that forecast loads, a line per trial, the same
trials table for the same seed, resuming in the same folder, and bad input refused in one line.

Tiny data and networks fixed by the model flags (--epochs 1 --hidden-size 8), two or three
trials: each run takes a second or two.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

pytest.importorskip("optuna")

from tests.test_cli import assert_one_error_line, run, write_csv
from tests.test_tune import hide_optuna

N_POINTS = 120  # daily: 17 weeks
SMALL = ["--epochs", "1", "--hidden-size", "8", "--batch-size", "32"]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_csv(tmp_path_factory.mktemp("tune") / "d.csv", n_points=N_POINTS)


def tune(data: Path, output: Path, *args: object) -> Any:
    return run("tune", data, "--horizon", 7, "-o", output, "--n-trials", 2, *SMALL, *args)


def test_tune_writes_a_model_forecast_loads_and_reports_each_trial(
    data: Path, tmp_path: Path
) -> None:
    result = tune(data, tmp_path / "tuned")
    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert "Traceback" not in result.output
    for name in ("study.db", "trials.csv", "trials.png", "model/config.json"):
        assert (tmp_path / "tuned" / name).is_file(), name
    # One line per trial on stderr, the recipe first; the table and the paths on stdout.
    lines = result.stderr.splitlines()
    assert [line.split(":")[0] for line in lines if line.startswith("trial ")] == [
        "trial 0 (the recipe)",
        "trial 1",
    ]
    assert "MASE" in lines[0]
    assert "window=" in lines[0]
    assert "epochs=" not in result.stderr  # fixed by a flag: not searched
    assert "recipe (trial 0)" in result.stdout
    assert f"{tmp_path / 'tuned' / 'model'}" in result.stdout
    assert "trials.csv" in result.stdout
    assert "trials.png" in result.stdout
    trials = pd.read_csv(tmp_path / "tuned" / "trials.csv")
    assert list(trials["trial"]) == [0, 1]
    assert set(trials["state"]) <= {"complete", "pruned"}
    forecast = run("forecast", tmp_path / "tuned" / "model", "--h", 7, "-o", tmp_path / "f.csv")
    assert forecast.exit_code == 0, forecast.output
    assert len(pd.read_csv(tmp_path / "f.csv")) == 2 * 7


def test_the_same_seed_gives_the_same_trials_and_a_rerun_resumes(
    data: Path, tmp_path: Path
) -> None:
    for name in ("one", "two"):
        assert tune(data, tmp_path / name, "--seed", 3, "--quiet").exit_code == 0
    one, two = (pd.read_csv(tmp_path / name / "trials.csv") for name in ("one", "two"))
    pd.testing.assert_frame_equal(one.drop(columns="seconds"), two.drop(columns="seconds"))
    resumed = tune(data, tmp_path / "one", "--seed", 3, "--n-trials", 3)
    assert resumed.exit_code == 0, resumed.output
    # Only the new trial runs; the two before are kept as they were.
    ran = [line for line in resumed.stderr.splitlines() if line.startswith("trial ")]
    assert len(ran) == 1, ran
    assert ran[0].startswith("trial 2:"), ran
    three = pd.read_csv(tmp_path / "one" / "trials.csv")
    assert list(three["trial"]) == [0, 1, 2]
    pd.testing.assert_series_equal(three["MASE"][:2], one["MASE"])
    # Resuming with other fixed settings is refused, saying why.
    other = tune(data, tmp_path / "one", "--seed", 3, "--n-trials", 4, "--dropout", 0.1)
    assert_one_error_line(other, "holds a tuning of different settings")


def test_quiet_prints_no_trial_lines(data: Path, tmp_path: Path) -> None:
    result = tune(data, tmp_path / "q", "--quiet")
    assert result.exit_code == 0, result.output
    assert result.stderr.strip() == ""
    assert "recipe (trial 0)" in result.stdout


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["--time-budget", "15x"], ["--time-budget must be seconds", "'15x'"]),
        (["--time-budget", "0"], ["--time-budget must be > 0"]),
        (["--n-trials", "0"], ["--n-trials must be >= 1"]),
        (["--n-windows", "0"], ["--n-windows must be >= 1"]),
        (["--recipe", "tutorial"], ["tune starts from the automatic recipe"]),
        (["--segment", "5", "--window", "14"], ["--segment 5 must divide --window 14"]),
        (["--n-windows", "20"], ["series 's0' has 120 points", "--n-windows 20 of --horizon 7"]),
    ],
)
def test_bad_flags_are_refused_in_one_line(
    data: Path, tmp_path: Path, args: list[str], fragments: list[str]
) -> None:
    result = tune(data, tmp_path / "out", *args)
    assert_one_error_line(result, *fragments)
    assert not (tmp_path / "out" / "study.db").exists()


def test_an_output_that_is_the_data_is_refused(data: Path) -> None:
    assert_one_error_line(tune(data, data), "--output", "which this command reads")


def test_without_optuna_the_error_says_how_to_install_it(
    data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hide_optuna(monkeypatch)
    result = tune(data, tmp_path / "out")
    assert_one_error_line(result, "tuning needs Optuna", "pip install 'lstmcast[tune]'")
    assert not (tmp_path / "out").exists()


def test_ctrl_c_exits_130_and_says_how_to_continue(
    data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import lstmcast as lc

    def ctrl_c(self: Any, df: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(lc.LSTMForecaster, "fit", ctrl_c)
    result = tune(data, tmp_path / "out")
    assert result.exit_code == 130
    assert "run the same command again to continue" in result.stderr
    assert "Traceback" not in result.output
