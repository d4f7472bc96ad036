"""benchmarks/scale.py at its smoke sizes, without a torchrun launch.

One process runs as the benchmark runs it; the torchrun worker runs here too, as the only rank of
a gloo group (tests/test_distributed.py launches real groups of two).
"""

from __future__ import annotations

import json
import math
import socket
from dataclasses import asdict
from pathlib import Path

import pytest

from benchmarks import scale


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_scale_smoke_figures(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scale.prepare(tmp_path, scale.SMOKE)
    alone = scale.one_process(tmp_path, scale.SMOKE)
    for name, value in {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(free_port())}.items():
        monkeypatch.setenv(name, value)
    for name in ("RANK", "LOCAL_RANK", "WORLD_SIZE"):
        monkeypatch.setenv(name, "1" if name == "WORLD_SIZE" else "0")
    scale.worker(tmp_path)
    grouped = json.loads((tmp_path / "result-1.json").read_text())

    # The same windows trained, and every series forecast, on both paths.
    assert alone["train"]["windows"] == grouped["train"]["windows"] > 0
    for run in (alone, grouped):
        figures = [*run["train"].values(), *run["forecast"].values()]
        assert all(math.isfinite(value) and value > 0 for value in figures), run
        assert run["forecast"]["series"] == scale.SMOKE.forecast_series
    # LSTM(8) on 1 feature: 4 gates x 8 x (1 + 8) weights + 2 x 32 biases; head 8 + 1.
    assert alone["train"]["parameters"] == 4 * 8 * 9 + 2 * 32 + 9
    assert alone["train"]["allreduce_bytes_per_step"] == 4 * alone["train"]["parameters"]
    results = {"sizes": asdict(scale.SMOKE), "load_before": "0", "load_after": "0"}
    table = scale.format_results(results | {"runs": {1: alone, "1 in a group": grouped}})
    assert "| 1 in a group | 1,088 |" in table
    assert "361 parameters x 4 bytes = 1.4 KiB" in table
