"""The M4 benchmark script runs end to end (smoke mode: 8 series, one small epoch)."""

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
    frame = pd.read_csv(out)
    assert "95% intervals: MSIS" in printed
    assert list(frame.columns) == ["unique_id", "step", "LSTM", "LSTM-lo-95", "LSTM-hi-95"]
    assert (frame["LSTM-lo-95"] <= frame["LSTM-hi-95"]).all()
    assert len(frame) == 8 * 48
    assert frame["step"].tolist()[:3] == [1, 2, 3]
    assert np.isfinite(frame["LSTM"]).all()
