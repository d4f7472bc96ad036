"""benchmarks/export.py in smoke mode: train, export twice, time torch against onnxruntime."""

from __future__ import annotations

import pytest

pytest.importorskip("onnxruntime")

from benchmarks import export


def test_smoke_times_both_files_at_both_batch_sizes(capsys: pytest.CaptureFixture[str]) -> None:
    timings, notes = export.run(seed=0, threads=1, smoke=True)
    assert [(t.file, t.rows) for t in timings] == [
        ("forecast", 1),
        ("forecast", export.SMOKE_BATCH),
        ("forecast + 80/95% intervals", 1),
        ("forecast + 80/95% intervals", export.SMOKE_BATCH),
    ]
    for timing in timings:
        assert len(timing.torch) == len(timing.onnxruntime) == export.SMOKE_REPEATS
        assert timing.max_difference < 1e-6
    assert any("KiB, exported in" in note for note in notes)
    assert export.main(["--smoke"]) == 0
    printed = capsys.readouterr().out
    assert "| forecast | 1 |" in printed
    assert "SMOKE" in printed
