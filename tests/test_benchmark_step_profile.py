"""benchmarks/step_profile.py in smoke mode: one profiled step, its time split into groups."""

from __future__ import annotations

import pytest

from benchmarks import step_profile
from benchmarks.kernel import Shape
from lstmcast import fused_lstm


def test_product_flop_counts_three_times_the_forward() -> None:
    shape = Shape("one layer", batch=2, steps=3, inputs=1, hidden=4, layers=1)
    forward = 2 * 4 * 4 * (1 + 4) * 2 * 3  # 2 x 4H x (in + H) per row and step
    assert step_profile.product_flop(shape) == 3 * forward


@pytest.mark.skipif(fused_lstm.compiler() is None, reason="no C++ compiler")
def test_smoke_prints_the_groups_and_the_limit(capsys: pytest.CaptureFixture[str]) -> None:
    step_profile.main(["--smoke", "--threads", "1"])
    printed = capsys.readouterr().out
    assert "products ms" in printed
    assert "kernel loops ms" in printed
    row = next(line for line in printed.splitlines() if line.startswith("| float32 |"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    step_ms, products_ms, loops_ms = float(cells[1]), float(cells[3]), float(cells[4])
    assert min(step_ms, products_ms, loops_ms) > 0
    assert float(cells[-1]) > 1  # no step beats the machine's product limit
