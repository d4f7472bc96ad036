"""benchmarks/defaults.py: its scoring on known figures, and a smoke run through the CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmarks import defaults


def perfect_forecasts(case: defaults.Case, frame: pd.DataFrame) -> pd.DataFrame:
    """The held-out values themselves as forecasts, as the CLI writes them (times as text)."""
    parts = []
    for uid, series in frame.groupby("unique_id", sort=False):
        first = len(series) - case.span
        for origin in range(case.origins):
            start = first + origin * case.stride
            target = series.iloc[start : start + case.horizon]
            parts.append(
                pd.DataFrame(
                    {
                        "unique_id": uid,
                        "ds": target["ds"].astype(str),
                        "cutoff": origin,
                        "LSTM": target["y"].to_numpy(),
                    }
                )
            )
    return pd.concat(parts, ignore_index=True)


@pytest.mark.parametrize(
    ("name", "series", "seasonal_naive"),
    [
        ("m4", 414, 0.6275),  # the published M4 Hourly sNaive OWA
        ("m5", 8, 1.372),  # ../shared/ANCHORS.md: seasonal naive 7 on the last 28 days
        ("etth1_ot", 1, None),  # the protocol's scaler and 2,785 test windows are checked
        ("macro", 12, None),
        ("elnino", 1, None),
        ("elec_equip", 1, None),
        ("sine", 1, None),
    ],
)
def test_each_case_scores_its_held_out_values_and_seasonal_naive(
    name: str, series: int, seasonal_naive: float | None
) -> None:
    case = defaults.CASES[name]
    frame = case.load()
    assert frame["unique_id"].nunique() == series
    result = defaults.align(case, frame, perfect_forecasts(case, frame), case.origins)
    assert result.actual.shape == (series, case.origins, case.horizon)
    assert all(
        len(train) == n - case.span - case.gap
        for train, n in zip(
            result.train, frame.groupby("unique_id", sort=False).size(), strict=True
        )
    )
    lstm, naive, _ = defaults.score(case, result, smoke=False)
    assert lstm == pytest.approx(0.0, abs=1e-12)
    assert np.isfinite(naive)
    assert naive > 0
    if seasonal_naive is not None:
        assert naive == pytest.approx(seasonal_naive, abs=5e-4)


def test_intervals_are_scored_by_coverage_and_msis() -> None:
    """Bounds one unit either side of the actual values: all covered, and MSIS is each
    series' width (2) over its seasonal scale, averaged. Bounds [y + 1, y + 3] miss every
    point by 1: width 2 plus 2 / alpha each."""
    case = defaults.CASES["macro"]
    frame = case.load()
    forecasts = perfect_forecasts(case, frame)
    result = defaults.align(case, frame, forecasts, case.origins)
    scales = np.array([np.mean(np.abs(x[case.season :] - x[: -case.season])) for x in result.train])
    result.bounds = (result.actual - 1.0, result.actual + 1.0)
    coverage, msis = defaults.interval_scores(case, result)
    assert coverage == 100.0
    assert msis == pytest.approx(np.mean(2.0 / scales), rel=1e-12)
    result.bounds = (result.actual + 1.0, result.actual + 3.0)
    coverage, msis = defaults.interval_scores(case, result)
    assert coverage == 0.0
    alpha = 1 - defaults.LEVEL / 100
    assert msis == pytest.approx(np.mean((2.0 + 2.0 / alpha) / scales), rel=1e-12)


def test_the_bounds_are_read_beside_the_forecasts() -> None:
    case = defaults.CASES["elnino"]
    frame = case.load()
    forecasts = perfect_forecasts(case, frame)
    forecasts[defaults.LO] = forecasts["LSTM"] - 0.5
    forecasts[defaults.HI] = forecasts["LSTM"] + 0.25
    result = defaults.align(case, frame, forecasts, case.origins)
    assert result.bounds is not None
    np.testing.assert_array_equal(result.bounds[0], result.actual - 0.5)
    np.testing.assert_array_equal(result.bounds[1], result.actual + 0.25)
    assert defaults.align(case, frame, perfect_forecasts(case, frame), case.origins).bounds is None


def test_forecasts_at_the_wrong_times_are_refused() -> None:
    case = defaults.CASES["elnino"]
    frame = case.load()
    shifted = perfect_forecasts(case, frame)
    shifted["ds"] = shifted["ds"].shift(1).fillna(shifted["ds"].iloc[0])
    with pytest.raises(RuntimeError, match="not at the held-out times"):
        defaults.align(case, frame, shifted, case.origins)


def test_smoke_runs_the_cli_with_and_without_history(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # etth1_ot: train, then the saved model's backtest in one process (the gap of the
    # validation months); macro: train, then `forecast` and `forecast --data`.
    argv = ["--smoke", "--threads", "1", "--only", "etth1_ot,macro", "--workdir", str(tmp_path)]
    status = defaults.main([*argv, "--seed", "7"])
    printed = capsys.readouterr().out
    assert status == 0, printed
    # One seed for every model, and still the defaults (no "NOT THE DEFAULTS" mark).
    assert "# every model's seed: 7" in printed
    assert "NOT THE DEFAULTS" not in printed
    assert printed.count("model seed: 7") == 2
    assert "--ensemble-size 1 --seed 7" in printed
    rows = [line for line in printed.splitlines() if line.startswith("| etth1_ot")]
    rows += [line for line in printed.splitlines() if line.startswith("| macro")]
    assert len(rows) == 2
    assert "FAILED" not in printed
    assert "--data history_1.csv" in printed
    assert "forecast model --h 8 --level 95 --data history_1.csv" in printed
    for row in rows:  # coverage and MSIS, or a line saying why there is no interval
        cells = [cell.strip() for cell in row.split("|")]
        name = cells[1]
        assert cells[10].endswith("%") or f"{name}:\n  no 95% interval:" in printed
    assert "lstmcast --threads 1 train train.csv -o model --horizon 96 --time-col date" in printed
    train = pd.read_csv(tmp_path / "etth1_ot" / "train.csv")
    assert list(train.columns) == ["date", "OT"]
    assert len(train) == 8640  # the training months only


def test_smoke_tunes_instead_of_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("optuna")
    argv = ["--smoke", "--threads", "1", "--only", "macro", "--workdir", str(tmp_path)]
    argv += ["--tune", "60s", "--extra", "--n-trials 2"]
    status = defaults.main(argv)
    printed = capsys.readouterr().out
    assert status == 0, printed
    assert "lstmcast tune --time-budget 60s instead of lstmcast train" in printed
    assert "tune train.csv -o tuned --horizon 8 --time-budget 60s" in printed
    assert "forecast tuned/model --h 8" in printed
    assert "trial    state" in printed  # the trials table
    assert (tmp_path / "macro" / "tuned" / "trials.csv").is_file()
    assert "FAILED" not in printed


def test_validation_never_holds_a_test_point() -> None:
    for case in defaults.CASES.values():
        if case.name in ("m4", "etth1_ot", "m5"):  # the larger files: the rule is the same
            continue
        frame = case.load()
        kept = defaults.validation_part(frame, case)
        lengths = frame.groupby("unique_id", sort=False).size()
        kept_lengths = kept.groupby("unique_id", sort=False).size()
        assert (lengths - kept_lengths == case.span + case.gap).all(), case.name
        last = kept.groupby("unique_id", sort=False)["ds"].max()
        first_test = frame.groupby("unique_id", sort=False)["ds"].nth(-(case.span + case.gap))
        assert (last.to_numpy() < first_test.to_numpy()).all(), case.name


def test_commands_import_the_library_on_the_callers_pythonpath(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An experiment's arm is a scratch copy of the library put on PYTHONPATH: the commands
    # must run it, not the installed one.
    arm = tmp_path / "arm" / "lstmcast"
    arm.mkdir(parents=True)
    (arm / "__init__.py").write_text("")
    (arm / "__main__.py").write_text("print(__file__)\n")
    monkeypatch.setenv("PYTHONPATH", str(arm.parent))
    env = defaults.command_env(threads=1)
    assert env["OMP_NUM_THREADS"] == "1"
    ran = subprocess.run(
        [sys.executable, "-m", "lstmcast"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert ran.stdout.strip() == str(arm / "__main__.py"), ran.stderr
