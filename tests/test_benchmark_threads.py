"""benchmarks/threads.py runs: every condition, a busy core burned and stopped."""

from __future__ import annotations

import pytest

from benchmarks import threads


def test_smoke_runs_every_condition(capsys: pytest.CaptureFixture[str]) -> None:
    threads.main(["--smoke"])
    out = capsys.readouterr().out
    for name, _, _ in threads.CONDITIONS:
        assert f"| {name} |" in out
    assert "avx" in out or "CPUs" in out  # the machine's description heads the figures
