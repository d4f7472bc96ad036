"""benchmarks/update.py in smoke mode: the split, the update, the table."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks import update


def test_smoke_scores_the_update_beside_a_training_on_everything(
    capsys: pytest.CaptureFixture[str],
) -> None:
    results = update.run(seed=0, smoke=True, validate=True)
    assert [name for name, _, _ in results] == [
        "first model, no update (forecast from all points)",
        "first model + update(last 96 hours)",
        "trained on everything",
        "seasonal naive",
    ]
    for _, scores, _ in results:
        assert np.isfinite([scores["owa"], scores["smape"], scores["mase"]]).all()
    assert update.main(["--smoke"]) == 0
    printed = capsys.readouterr().out
    assert "update vs everything: OWA" in printed
    assert "SMOKE" in printed
