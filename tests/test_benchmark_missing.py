"""benchmarks/missing.py in smoke mode: the hours removed, the four runs, the table."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks import missing


def test_the_hours_removed_are_five_percent_never_the_last() -> None:
    series = [np.arange(700.0), np.arange(960.0)]
    kept = missing.remove_hours(series, seed=0)
    assert [len(s) - len(k) for s, k in zip(series, kept, strict=True)] == [35, 48]
    assert all(k[-1] == len(s) - 1 for s, k in zip(series, kept, strict=True))
    again = missing.remove_hours(series, seed=0)
    assert all((a == b).all() for a, b in zip(kept, again, strict=True))


def test_smoke_scores_the_four_runs(capsys: pytest.CaptureFixture[str]) -> None:
    settings, results = missing.run(seed=0, smoke=True)
    assert settings["ensemble_size"] == 1
    assert settings["time_budget"] is None
    assert [name for name, _, _, _ in results] == [
        "complete data",
        "gaps, interpolate",
        "gaps, ffill",
        "gaps, mask",
        "seasonal naive, complete data",
    ]
    for name, scores, _, filled in results:
        assert np.isfinite([scores["owa"], scores["smape"], scores["mase"]]).all()
        assert filled.startswith("inserted ") == name.startswith("gaps")
    assert missing.main(["--smoke"]) == 0
    printed = capsys.readouterr().out
    assert "| gaps, mask |" in printed
    assert "SMOKE" in printed
