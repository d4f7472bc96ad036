"""The run-tracking benchmark runs in its smoke mode and gives sane figures."""

from __future__ import annotations

import math

import pytest

pytest.importorskip("tensorboard")
pytest.importorskip("mlflow")

from benchmarks import tracking


def test_smoke_times_every_configuration(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each import is timed in a fresh process that imports torch first (seconds): checked apart.
    monkeypatch.setattr(tracking, "import_seconds", lambda statement: 0.5)
    rows, imports = tracking.main(["--smoke"])
    assert [row.config for row in rows] == list(tracking.CONFIGS)
    assert rows[0].ratio == 1.0
    assert all(row.seconds > 0 and math.isfinite(row.per_step_us) for row in rows)
    assert (rows[0].per_step_us, rows[0].per_fit_ms) == (0.0, 0.0)  # no logger, no hook time
    assert all(row.per_step_us > 0 and row.per_fit_ms > 0 for row in rows[1:])
    assert imports == {"tensorboard": 0.5, "mlflow": 0.5}
    out = capsys.readouterr().out
    assert "load before:" in out
    assert "| mlflow |" in out


def test_import_time_is_measured_in_a_fresh_process() -> None:
    assert 0 < tracking.import_seconds("import json", before="") < 5
