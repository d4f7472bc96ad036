"""Data directories: CSV and Parquet files of whole series, dealt to processes by size."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import lstmcast as lc
from lstmcast.distributed import assign_files


def test_a_directory_reads_as_one_frame(two_series: pd.DataFrame, tmp_path: Path) -> None:
    two_series[two_series["unique_id"] == "a"].to_csv(tmp_path / "a.csv", index=False)
    two_series[two_series["unique_id"] == "b"].to_parquet(tmp_path / "b.parquet", index=False)
    (tmp_path / "notes.txt").write_text("not data")
    files = lc.data_files(tmp_path)
    assert [f.name for f in files] == ["a.csv", "b.parquet"]
    pd.testing.assert_frame_equal(lc.read_files(files), lc.to_long(two_series))


def test_a_series_split_across_files_is_refused(two_series: pd.DataFrame, tmp_path: Path) -> None:
    two_series.iloc[:100].to_csv(tmp_path / "first.csv", index=False)
    two_series.iloc[100:].to_parquet(tmp_path / "second.parquet", index=False)
    with pytest.raises(lc.DataError, match=r"series .a. is in both first\.csv and second\.parquet"):
        lc.read_files(lc.data_files(tmp_path))


def test_bad_directories_and_parquet_files(tmp_path: Path) -> None:
    with pytest.raises(lc.DataError, match=r"holds no \.csv or \.parquet files"):
        lc.data_files(tmp_path)
    (tmp_path / "broken.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(lc.DataError, match=r"broken\.parquet is not a readable Parquet file"):
        lc.read_parquet(tmp_path / "broken.parquet")
    pd.DataFrame({"ds": [1, 2], "y": [1.0, None]}).to_parquet(tmp_path / "gap.parquet")
    with pytest.raises(lc.DataError, match=r"^gap\.parquet: series 'y' has a missing value"):
        lc.read_parquet(tmp_path / "gap.parquet")


def test_files_are_dealt_by_size(tmp_path: Path) -> None:
    sizes = {"a": 900, "b": 500, "c": 400, "d": 300, "e": 100}
    for name, size in sizes.items():
        (tmp_path / f"{name}.csv").write_bytes(b"x" * size)
    files = sorted(tmp_path.iterdir())
    shares = assign_files(files, 2)  # 900 + 300 and 500 + 400 + 100 bytes
    assert [[f.stem for f in share] for share in shares] == [["a", "d"], ["b", "c", "e"]]
    assert sorted(f for share in shares for f in share) == files
    with pytest.raises(lc.ConfigError, match="5 file\\(s\\) for 6 processes"):
        assign_files(files, 6)
