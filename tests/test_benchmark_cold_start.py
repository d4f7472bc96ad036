"""benchmarks/cold_start.py in smoke mode: the split, the cold forecasts, the table."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks import cold_start


def test_smoke_scores_three_models_on_the_odd_series(capsys: pytest.CaptureFixture[str]) -> None:
    results = cold_start.run(seed=0, smoke=True)
    assert [name for name, _, _ in results] == [
        "trained on the even series, the odd ones cold",
        "trained on all series",
        "seasonal naive",
    ]
    for _, scores, _ in results:
        assert np.isfinite([scores["owa"], scores["smape"], scores["mase"]]).all()
    assert cold_start.main(["--smoke"]) == 0
    printed = capsys.readouterr().out
    assert "| seasonal naive |" in printed
    assert "SMOKE" in printed
