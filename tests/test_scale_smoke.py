"""benchmarks/scale.py at its smoke sizes: one process here, two under torchrun (one launch)."""

from __future__ import annotations

import math

import pytest

from benchmarks import scale

pytestmark = pytest.mark.slow


def test_scale_smoke_measures_both_process_counts() -> None:
    results = scale.run(scale.SMOKE, [1, 2])
    one, two = results["runs"][1], results["runs"][2]
    # The same windows, split between two processes rather than trained in one.
    assert one["train"]["windows"] == two["train"]["windows"] > 0
    for run in (one, two):
        figures = [*run["train"].values(), *run["forecast"].values()]
        assert all(math.isfinite(value) and value > 0 for value in figures), run
        assert run["forecast"]["series"] == scale.SMOKE.forecast_series
    # LSTM(8) on 1 feature: 4 gates x 8 x (1 + 8) weights + 2 x 32 biases; head 8 + 1.
    assert one["train"]["parameters"] == 4 * 8 * 9 + 2 * 32 + 9
    assert one["train"]["allreduce_bytes_per_step"] == 4 * one["train"]["parameters"]
    table = scale.format_results(results)
    assert "| 2 | 1,088 |" in table
    assert "Load average before" in table
