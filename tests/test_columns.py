"""Column names: what writers build, readers parse back, for every level and model name."""

from __future__ import annotations

import pytest

from lstmcast.columns import interval_column, level_label, parse_interval


@pytest.mark.parametrize("model", ["LSTM", "Seasonal-Naive", "a-lo-80"])
@pytest.mark.parametrize("level", [80, 80.0, 95.5, 99.99999, 1e-3])
@pytest.mark.parametrize("side", ["lo", "hi"])
def test_interval_columns_parse_back(model: str, level: float, side: str) -> None:
    parsed = parse_interval(interval_column(model, side, level))
    assert parsed is not None
    assert parsed[:2] == (model, side)
    assert float(parsed[2]) == level


def test_distinct_levels_never_share_a_column() -> None:
    assert level_label(80) == level_label(80.0) == "80"
    assert level_label(99.99999) != level_label(100)


@pytest.mark.parametrize("name", ["LSTM", "unique_id", "LSTM-lo-", "LSTM-mid-80", 80, None])
def test_other_columns_are_no_intervals(name: object) -> None:
    assert parse_interval(name) is None
