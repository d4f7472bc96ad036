"""benchmarks/kernel.py in smoke mode: both kernels timed side by side on a tiny shape."""

from __future__ import annotations

import pytest

from benchmarks import kernel
from lstmcast import fused_lstm


@pytest.mark.skipif(fused_lstm.compiler() is None, reason="no C++ compiler")
def test_smoke_prints_a_row_per_shape(capsys: pytest.CaptureFixture[str]) -> None:
    kernel.main(["--smoke", "--threads", "1"])
    printed = capsys.readouterr().out
    assert "commit" in printed
    assert "train stock ms" in printed
    # The float32 products through both libraries, beside each other.
    assert "train fused, oneDNN ms" in printed
    assert "train fused, MKL ms" in printed
    assert "| smoke |" in printed


def test_without_the_kernel_it_says_so(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fused_lstm, "load", lambda: False)
    monkeypatch.setattr(fused_lstm, "_failure", "no C++ compiler found")
    kernel.main(["--smoke"])
    assert "unavailable: no C++ compiler found" in capsys.readouterr().out
