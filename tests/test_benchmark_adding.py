"""The adding-problem benchmark script parses its runs and runs them (tiny sizes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import adding


def test_parse_runs() -> None:
    assert adding.parse_runs(["lstm:1000", "rnn:100, gru:200"]) == [
        ("lstm", 1000),
        ("rnn", 100),
        ("gru", 200),
    ]


def test_runs_each_and_prints_a_row(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    png = tmp_path / "curves.png"
    results = adding.main(["--runs", "lstm:4,rnn:4", "--steps", "3", "-o", str(png)])
    assert [(r.cell, r.length, r.steps) for r in results] == [("lstm", 4, 3), ("rnn", 4, 3)]
    assert results[0].settings["chrono"] is True
    assert results[1].settings["chrono"] is False
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ")]
    assert len(rows) == 1 + 2  # header and one row per run
    assert rows[1].startswith("| lstm | 4 | 3 |")
    assert png.read_bytes().startswith(b"\x89PNG")
