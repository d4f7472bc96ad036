"""The M4 benchmark script runs end to end (smoke mode: 20 series, one small epoch)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmarks import m4


def test_m4_smoke_writes_forecasts_and_scores(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "forecasts.csv"
    m4.main(["--smoke", "--threads", "1", "--out", str(out), "--level", "95"])
    printed = capsys.readouterr().out
    assert "lstmcast LSTM" in printed
    assert "Naive2 (recomputed)" in printed
    # Every time is printed with each network's share and the machine it was measured on.
    assert "(networks: 1, trained in " in printed
    assert "machine: commit " in printed
    assert "flags: " in printed
    frame = pd.read_csv(out)
    assert "95% intervals: MSIS" in printed
    # With --level the network fits each series' standardised log(y), the bounds weighed per
    # window as MSIS weighs them (E14 in benchmarks/RESULTS.md).
    assert "prescale=log" in printed
    assert "'scaler': 'standard'" in printed
    assert "'interval_scale': 'seasonal'" in printed
    assert list(frame.columns) == ["unique_id", "step", "LSTM", "LSTM-lo-95", "LSTM-hi-95"]
    assert (frame["LSTM-lo-95"] <= frame["LSTM-hi-95"]).all()
    assert len(frame) == m4.SMOKE_SERIES * 48
    assert frame["step"].tolist()[:3] == [1, 2, 3]
    assert np.isfinite(frame["LSTM"]).all()


def test_calibration_study_runs_on_a_saved_validation_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from benchmarks import m4_calibration

    saved = tmp_path / "val_cqr"
    flags = [
        "--smoke",
        "--validate",
        "--threads",
        "1",
        "--level",
        "95",
        "--calibration-hours",
        "48",
        "--val-at",
        "end",  # the study recomputes calibrations on the last training hours, as I2-I4 were
        # It recomputes them additively in the data's units, as the library does for a model
        # fitted on y (I2-I4 were); a log-target model's corrections are made in log units.
        "--prescale",
        "none",
    ]
    m4.main([*flags, "--intervals", "conformalized", "--save", str(saved)])
    m4_printed = capsys.readouterr().out
    m4_calibration.main([str(saved), "--series", str(m4.SMOKE_SERIES)])
    printed = capsys.readouterr().out
    assert "quantile heads (CQR)" in printed
    assert "learned bounds, no correction" in printed
    rows = [line for line in printed.splitlines() if "MSIS" in line]
    assert len(rows) == 1 + len(m4_calibration.UNITS)
    # The library's own correction (season_length=24, the benchmark's default) is one of the rows
    # and must reproduce the figures m4.py printed for the same model (up to the library's floor
    # on a flat window's scale and its 1001-point quantile grid).
    library = next(line for line in rows if "season_length=24" in line)
    m4_line = next(line for line in m4_printed.splitlines() if line.startswith("95% intervals"))
    study_msis = float(library.split("MSIS")[1].split()[0])
    assert study_msis == pytest.approx(float(m4_line.split("MSIS ")[1].split(",")[0]), rel=0.01)


def test_head_calibration_study_runs(capsys: pytest.CaptureFixture[str]) -> None:
    from benchmarks import m4_head_calibration

    m4_head_calibration.main(["--smoke", "--threads", "1"])
    printed = capsys.readouterr().out
    assert "point forecast: sMAPE" in printed
    # 20 series, 49 overlapping 48-hour windows each in their first 96 target hours.
    assert f"{m4.SMOKE_SERIES * 49} calibration windows" in printed
    rows = [line for line in printed.splitlines() if "MSIS" in line]
    assert len(rows) == 2


def test_log_calibration_study_recomputes_the_librarys_correction(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from benchmarks import m4_log_calibration

    saved = tmp_path / "val_log"
    flags = ["--smoke", "--validate", "--threads", "1", "--level", "95", "--prescale", "log"]
    m4.main([*flags, "--save", str(saved)])
    capsys.readouterr()
    m4_log_calibration.main([str(saved), "--series", str(m4.SMOKE_SERIES)])
    printed = capsys.readouterr().out
    assert f"{m4.SMOKE_SERIES * 49} calibration windows" in printed
    rows = {line.split("MSIS")[0].strip(): line for line in printed.splitlines() if "MSIS" in line}
    assert len(rows) == 3 + len(m4_log_calibration.CANDIDATES)

    def msis(name: str) -> float:
        row = next(line for key, line in rows.items() if key.startswith(name))
        return float(row.split("MSIS")[1].split()[0])

    # The study's recomputation of the library's log-unit correction matches the saved model's
    # bounds (up to the library's 1001-point quantile grid); the other units differ from it.
    library = msis("log units, seasonal MAE")
    assert library == pytest.approx(msis("the library, as saved"), rel=0.01)
    assert msis("data units, mean absolute value") != pytest.approx(library, rel=0.01)


@pytest.mark.parametrize(
    ("flags", "scaler", "interval_scale"),
    [
        # The point model: the log is the unit, no per-series scaling, no heads to weigh.
        (["--points-only"], "'none'", "None"),
        # Quantile heads (95% by default) on log y: standardised per series, bounds weighed (E14).
        ([], "'standard'", "'seasonal'"),
        (["--level", "95", "--interval-scale", "none"], "'standard'", "None"),
        (["--prescale", "none"], "'standard'", "None"),  # on y, as T3
        (["--points-only", "--scaler", "standard"], "'standard'", "None"),  # explicit wins
    ],
)
def test_the_scaler_and_the_bounds_weighing_follow_the_prescale_unless_given(
    flags: list[str], scaler: str, interval_scale: str, capsys: pytest.CaptureFixture[str]
) -> None:
    m4.main(["--smoke", "--validate", "--threads", "1", *flags])
    settings = next(line for line in capsys.readouterr().out.splitlines() if "settings:" in line)
    assert f"'scaler': {scaler}" in settings
    assert f"'interval_scale': {interval_scale}" in settings
