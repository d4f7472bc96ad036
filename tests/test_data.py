"""Any input becomes one validated long frame; bad data is refused with the series and row."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import lstmcast as lc
from lstmcast.data import Panel, concatenated_ranges
from lstmcast.timesteps import future_times, time_step


def test_array_series_wide_and_long_inputs_agree() -> None:
    values = np.arange(5.0)
    from_array = lc.to_long(values)
    assert list(from_array.columns) == ["unique_id", "ds", "y"]
    assert from_array["ds"].tolist() == [0, 1, 2, 3, 4]
    assert (from_array["unique_id"] == "series").all()

    index = pd.date_range("2024-01-01", periods=5, freq="D")
    from_series = lc.to_long(pd.Series(values, index=index, name="sales"))
    assert from_series["unique_id"].iloc[0] == "sales"
    assert from_series["ds"].iloc[-1] == pd.Timestamp("2024-01-05")

    wide = pd.DataFrame({"a": values, "b": values * 2}, index=index)
    long = lc.to_long(wide)
    assert long["unique_id"].tolist() == ["a"] * 5 + ["b"] * 5
    np.testing.assert_array_equal(long["y"].to_numpy()[5:], values * 2)

    renamed = long.rename(columns={"unique_id": "id", "ds": "time", "y": "value"})
    again = lc.to_long(renamed, id_col="id", time_col="time", target_col="value")
    pd.testing.assert_frame_equal(again, long)


def test_rows_are_grouped_by_series_in_first_appearance_order() -> None:
    interleaved = pd.DataFrame(
        {"unique_id": ["z", "a", "z", "a"], "ds": [1, 1, 2, 2], "y": [1.0, 2, 3, 4]}
    )
    long = lc.to_long(interleaved)
    assert long["unique_id"].tolist() == ["z", "z", "a", "a"]
    assert long["y"].tolist() == [1, 3, 2, 4]


def test_ids_that_read_the_same_are_one_series() -> None:
    # Ids are names: the integer 7 and the text "7" both name series "7".
    mixed = pd.DataFrame({"unique_id": [7, "7", "b"], "ds": [0, 1, 0], "y": [1.0, 2, 3]})
    long = lc.to_long(mixed)
    assert long["unique_id"].tolist() == ["7", "7", "b"]
    assert Panel.from_data(mixed).ids.tolist() == ["7", "b"]
    # Two wide columns with one name are one series that goes back in time: refused.
    wide = pd.DataFrame([[1.0, 2.0], [3.0, 4.0]], columns=[7, "7"])
    with pytest.raises(lc.DataError, match="series '7' has unsorted timestamps"):
        lc.to_long(wide)


def test_read_csv_long_wide_and_single(tmp_path: Path) -> None:
    (tmp_path / "long.csv").write_text(
        "unique_id,ds,y\na,2024-01-01,1\na,2024-01-02,2\nb,2024-01-01,3\nb,2024-01-02,4\n"
    )
    long = lc.read_csv(tmp_path / "long.csv")
    assert long["unique_id"].tolist() == ["a", "a", "b", "b"]
    assert long["ds"].dtype.kind == "M"

    (tmp_path / "wide.csv").write_text(
        "date,HUFL,OT\n2016-07-01 00:00:00,5.8,30.5\n2016-07-01 01:00:00,5.7,27.8\n"
    )
    wide = lc.read_csv(tmp_path / "wide.csv", time_col="date")
    assert wide["unique_id"].tolist() == ["HUFL", "HUFL", "OT", "OT"]

    (tmp_path / "single.csv").write_text("t,value\n0,1.5\n1,2.5\n2,3.5\n")
    single = lc.read_csv(tmp_path / "single.csv", time_col="t", target_col="value")
    assert single["ds"].tolist() == [0, 1, 2]
    assert single["unique_id"].iloc[0] == "value"


BAD_FRAMES = [
    (
        pd.DataFrame({"unique_id": ["a", "a"], "ds": [0, 1], "y": [1.0, np.nan]}),
        r"series .a. has a missing value \(NaN\) at row 1",
    ),
    (
        pd.DataFrame({"unique_id": ["a", "a"], "ds": [0, 1], "y": [1.0, np.inf]}),
        r"series .a. has inf at row 1",
    ),
    (
        pd.DataFrame({"unique_id": ["a", "a"], "ds": [0, 1], "y": ["1", "x"]}),
        r"series 'a' has a non-numeric value 'x' at row 1",
    ),
    (
        pd.DataFrame({"unique_id": ["a", "a", "a"], "ds": [0, 2, 1], "y": [1.0, 2, 3]}),
        r"series 'a' has unsorted timestamps: 1 follows 2",
    ),
    (
        pd.DataFrame({"unique_id": ["a", "b", "b"], "ds": [0, 5, 5], "y": [1.0, 2, 3]}),
        r"series 'b' has a duplicated timestamp",
    ),
    (
        pd.DataFrame({"unique_id": ["a", "a"], "ds": ["2024-01-01", "not a date"], "y": [1.0, 2]}),
        r"cannot read timestamp 'not a date' of series 'a' at row 1",
    ),
    (
        pd.DataFrame({"unique_id": ["a", "a"], "ds": [0.0, 0.5], "y": [1.0, 2]}),
        r"non-integer time step 0.5",
    ),
    (pd.DataFrame({"unique_id": [], "ds": [], "y": []}), r"has no rows"),
]


@pytest.mark.parametrize(("frame", "message"), BAD_FRAMES)
def test_bad_data_names_series_and_row(frame: pd.DataFrame, message: str) -> None:
    with pytest.raises(lc.DataError, match=message):
        lc.to_long(frame)


def test_csv_errors_name_the_file_line(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("ds,y\n0,1\n1,2\n2,oops\n")
    with pytest.raises(lc.DataError, match=r"non-numeric value 'oops' at line 4 of d.csv"):
        lc.read_csv(path)
    with pytest.raises(lc.DataError, match=r"time column 'time' not found; columns are 'ds', 'y'"):
        lc.read_csv(path, time_col="time")
    with pytest.raises(lc.DataError, match=r"not found"):
        lc.read_csv(tmp_path / "missing.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(lc.DataError, match=r"empty"):
        lc.read_csv(tmp_path / "empty.csv")
    (tmp_path / "header.csv").write_text("ds,y\n")
    with pytest.raises(lc.DataError, match=r"header but no data"):
        lc.read_csv(tmp_path / "header.csv")
    (tmp_path / "semi.csv").write_text("ds;y\n0;1\n1;2\n")
    with pytest.raises(lc.DataError, match=r"delimiter"):
        lc.read_csv(tmp_path / "semi.csv")


def test_split_by_time_per_series(two_series: pd.DataFrame) -> None:
    train, test = lc.split(two_series, 24)
    assert len(test) == 48
    assert (test.groupby("unique_id").size() == 24).all()
    last_train = train.groupby("unique_id")["ds"].max()
    first_test = test.groupby("unique_id")["ds"].min()
    assert (last_train < first_test).all()
    _, test_f = lc.split(two_series, 0.25)
    assert (test_f.groupby("unique_id").size() == 30).all()
    with pytest.raises(lc.DataError, match="leaves nothing to train on"):
        lc.split(two_series, 120)
    with pytest.raises(lc.ConfigError, match="test_size"):
        lc.split(two_series, 0)


def test_time_steps_and_future_times() -> None:
    hourly = pd.date_range("2024-01-01", periods=4, freq="h")
    month_ends = pd.date_range("2024-01-31", periods=4, freq="ME")
    weekly = pd.date_range("2024-01-07", periods=3, freq="W")
    frame = pd.concat(
        [
            pd.DataFrame({"unique_id": name, "ds": times, "y": 1.0})
            for name, times in (("h", hourly), ("m", month_ends), ("w", weekly))
        ]
    )
    panel = Panel.from_data(frame)
    steps = panel.steps()
    assert [str(step) for step in steps[:2]] == ["<Hour>", "<MonthEnd>"]
    assert pd.Timedelta(steps[2]) == pd.Timedelta(days=7)
    future = future_times(panel.ds[panel.ends - 1], steps, 2)
    assert future.shape == (3, 2)
    assert list(pd.DatetimeIndex(future[0])) == [
        pd.Timestamp("2024-01-01 04:00"),
        pd.Timestamp("2024-01-01 05:00"),
    ]
    assert list(pd.DatetimeIndex(future[1])) == [
        pd.Timestamp("2024-05-31"),
        pd.Timestamp("2024-06-30"),
    ]
    assert pd.Timestamp(future[2, 0]) == pd.Timestamp("2024-01-28")
    integer = Panel.from_data(np.arange(5.0))
    assert integer.steps() == [1]
    assert future_times(np.array([10, 4]), [2, 1], 3).tolist() == [[12, 14, 16], [5, 6, 7]]
    with pytest.raises(lc.DataError, match=r"series 'g' has irregular time steps"):
        time_step(np.array([0, 1, 3]), "g")
    gappy = pd.DatetimeIndex(
        ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-05", "2024-01-06"]
    ).to_numpy()
    with pytest.raises(
        lc.DataError, match=r"irregular time steps: 2024-01-05 00:00:00 follows 2024-01-03"
    ):
        time_step(gappy, "g")


def test_panel_views_and_tail(two_series: pd.DataFrame) -> None:
    panel = Panel.from_data(two_series)
    assert list(panel.ids) == ["a", "b"]
    assert panel.lengths.tolist() == [120, 120]
    tail = panel.tail(5)
    assert tail.lengths.tolist() == [5, 5]
    np.testing.assert_array_equal(tail.y[5:], panel.y[235:240])
    pd.testing.assert_frame_equal(panel.to_frame(), lc.to_long(two_series))
    # Each row's series: arrays keep their shape, one row gives one int.
    assert panel.tail(3).series_of(np.arange(6)).tolist() == [0, 0, 0, 1, 1, 1]
    assert panel.series_of(np.array([[119, 120]])).tolist() == [[0, 1]]
    assert panel.series_of(np.int64(239)) == 1
    assert isinstance(panel.series_of(0), int)


def test_concatenated_ranges() -> None:
    begin, end = np.array([0, 10, 3]), np.array([2, 10, 6])
    assert concatenated_ranges(begin, end).tolist() == [0, 1, 3, 4, 5]


# -- issue 14: layouts, zones, calendar steps ----------------------------------------------------


def test_layouts_name_every_column_used(tmp_path: Path) -> None:
    rows = "".join(f"{i},{i},{i + 1},{i + 2}\n" for i in range(5))
    (tmp_path / "wide.csv").write_text("t,x,y,z\n" + rows)
    wide = lc.read_csv(tmp_path / "wide.csv", time_col="t", layout="wide")
    assert wide["unique_id"].unique().tolist() == ["x", "y", "z"]
    (how,) = lc.layouts(wide)
    assert (how.kind, how.time_col, how.series_cols) == ("wide", "t", ("x", "y", "z"))
    assert str(how) == "wide.csv: wide, time 't', 3 series from columns 'x', 'y', 'z'"

    single = lc.read_csv(
        tmp_path / "wide.csv", time_col="t", target_col="y", ignore_cols=["x", "z"]
    )
    assert single["y"].tolist() == [1, 2, 3, 4, 5]
    assert str(lc.layouts(single)[0]) == (
        "wide.csv: one series, time 't', target 'y', ignoring 'x', 'z' as asked"
    )
    (tmp_path / "long.csv").write_text("unique_id,ds,y\na,0,1\na,1,2\nb,0,3\nb,1,4\n")
    long = lc.read_csv(tmp_path / "long.csv")
    assert str(lc.layouts(long)[0]) == (
        "long.csv: long, id 'unique_id', time 'ds', target 'y', 2 series"
    )
    frame = lc.to_long(pd.DataFrame({"a": [1.0, 2.0]}, index=pd.date_range("2024", periods=2)))
    assert str(lc.layouts(frame)[0]) == "one series, time from the index, target 'a'"
    assert str(lc.layouts(lc.to_long(np.arange(3.0)))[0]) == "one series from an array"
    assert lc.layouts(pd.DataFrame()) == ()


def test_a_single_value_column_is_one_series_whatever_its_name() -> None:
    frame = pd.DataFrame({"ds": [0, 1, 2], "sales": [1.0, 2.0, 3.0]})
    assert lc.to_long(frame)["unique_id"].unique().tolist() == ["sales"]
    with pytest.raises(lc.DataError, match="ambiguous"):
        lc.to_long(frame.assign(y=1.0))
    with pytest.raises(lc.ConfigError, match="target_col= names a column of a long or single"):
        lc.to_long(frame, target_col="sales", layout="wide")
    with pytest.raises(lc.ConfigError, match="apply to DataFrames"):
        lc.to_long(np.arange(3.0), target_col="y")


def test_ids_are_text_missing_only_when_empty(tmp_path: Path) -> None:
    names = ["NA", "null", "None", "nan", "N/A"]
    rows = "".join(f"{name},{t},{t}\n" for name in names for t in range(3))
    (tmp_path / "ids.csv").write_text("unique_id,ds,y\n" + rows)
    assert lc.read_csv(tmp_path / "ids.csv")["unique_id"].unique().tolist() == names
    # Only the ids: an "NA" value is still a missing value.
    (tmp_path / "values.csv").write_text("unique_id,ds,y\nNA,0,1\nNA,1,NA\n")
    with pytest.raises(lc.DataError, match=r"series 'NA' has a missing value \(NaN\) at line 3"):
        lc.read_csv(tmp_path / "values.csv")


def test_one_utc_offset_is_kept_through_forecasts_and_backtests(tmp_path: Path) -> None:
    times = pd.date_range("2024-01-09 07:00", periods=30, freq="h")
    rows = "".join(f"{t:%Y-%m-%d %H:%M:%S}+01:00,{i}\n" for i, t in enumerate(times))
    (tmp_path / "zoned.csv").write_text("ds,y\n" + rows)
    frame = lc.read_csv(tmp_path / "zoned.csv")
    assert frame["ds"].iloc[0] == pd.Timestamp("2024-01-09 07:00:00+01:00")
    assert str(lc.layouts(frame)[0]).endswith("times in +01:00")
    forecast = lc.Naive().fit(frame).predict(2)
    assert forecast["ds"].tolist() == [
        pd.Timestamp("2024-01-10 13:00:00+01:00"),
        pd.Timestamp("2024-01-10 14:00:00+01:00"),
    ]
    backtest = lc.Naive().fit(frame).backtest(frame, h=2)
    assert str(backtest["ds"].dt.tz) == str(backtest["cutoff"].dt.tz) == "UTC+01:00"
    assert backtest["ds"].iloc[-1] == frame["ds"].iloc[-1]


def test_mixed_offsets_become_utc_said_plainly(tmp_path: Path) -> None:
    (tmp_path / "dst.csv").write_text(
        "ds,y\n2024-03-31 00:00+01:00,1\n2024-03-31 01:00+01:00,2\n2024-03-31 03:00+02:00,3\n"
    )
    frame = lc.read_csv(tmp_path / "dst.csv")
    assert str(frame["ds"].dt.tz) == "UTC"
    assert frame["ds"].dt.hour.tolist() == [23, 0, 1]
    assert "times in UTC (converted from mixed UTC offsets" in str(lc.layouts(frame)[0])


def test_named_zones_follow_their_calendar() -> None:
    # Daily at local midnight across the spring DST change: 23 hours apart once, still daily.
    days = pd.date_range("2024-03-25", periods=10, freq="D", tz="Europe/Paris")
    model = lc.Naive().fit(pd.DataFrame({"a": np.arange(10.0)}, index=days))
    assert model.predict(2)["ds"].tolist() == [
        pd.Timestamp("2024-04-04", tz="Europe/Paris"),
        pd.Timestamp("2024-04-05", tz="Europe/Paris"),
    ]
    # Zones mixed in one frame (pandas makes the column object): converted to UTC, said plainly.
    mixed = pd.DataFrame(
        {
            "unique_id": ["a", "a", "b", "b"],
            "ds": [*days[:2], *days[:2].tz_convert("America/New_York")],
            "y": 1.0,
        }
    )
    frame = lc.to_long(mixed)
    assert str(frame["ds"].dt.tz) == "UTC"
    assert frame["ds"].iloc[0] == days[0]
    assert lc.layouts(frame)[0].tz_note == (
        "converted from mixed UTC offsets, e.g. at a daylight-saving change"
    )


def test_zones_of_files_must_agree(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("unique_id,ds,y\na,2024-01-01 00:00+01:00,1\n")
    (tmp_path / "b.csv").write_text("unique_id,ds,y\nb,2024-01-01 00:00,1\n")
    with pytest.raises(lc.DataError, match=r"different zones: \+01:00 \(a.csv\) and no zone"):
        lc.read_files(lc.data_files(tmp_path))


@pytest.mark.parametrize(
    ("dates", "months", "ahead"),
    [
        (["2024-01-15", "2024-02-15", "2024-03-15", "2024-04-15"], 1, ["2024-05-15", "2024-06-15"]),
        (["2023-11-28", "2024-02-28", "2024-05-28"], 3, ["2024-08-28", "2024-11-28"]),
        (["2021-03-10", "2022-03-10", "2023-03-10"], 12, ["2024-03-10", "2025-03-10"]),
        (["2024-01-31", "2024-02-29", "2024-03-31"], None, None),  # month ends: MonthEnd
    ],
)
def test_steps_of_whole_months_on_one_day(
    dates: list[str], months: int | None, ahead: list[str] | None
) -> None:
    times = pd.to_datetime(dates)
    panel = Panel.from_data(pd.Series(np.arange(len(dates), dtype=float), index=times))
    (step,) = panel.steps()
    if months is None:
        assert step == pd.offsets.MonthEnd()
        return
    assert step == pd.DateOffset(months=months)
    future = future_times(panel.ds[panel.ends - 1], [step], 2)
    assert list(pd.DatetimeIndex(future[0])) == [pd.Timestamp(day) for day in ahead]


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_dates_of_any_resolution(unit: str) -> None:
    hours = pd.date_range("2024-01-01", periods=6, freq="h").as_unit(unit)
    series = pd.Series(np.arange(6.0), index=hours)
    future = lc.Naive().fit(series).predict(2)["ds"]
    assert future.tolist() == [pd.Timestamp("2024-01-01 06:00"), pd.Timestamp("2024-01-01 07:00")]
    with pytest.raises(lc.DataError, match=r"its usual step is 0 days 01:00:00"):
        lc.Naive().fit(series.drop(hours[3]))


def test_column_labels_that_are_not_text() -> None:
    long = pd.DataFrame({0: ["a", "a"], 1: [0, 1], 2: [1.0, 2.0]})
    frame = lc.to_long(long, id_col=0, time_col=1, target_col=2)  # type: ignore[arg-type]
    assert frame["y"].tolist() == [1.0, 2.0]
    assert str(lc.layouts(frame)[0]) == "long, id '0', time '1', target '2', 1 series"
    wide = lc.to_long(pd.DataFrame({0: [1.0, 2.0], 1: [3.0, 4.0]}))
    assert wide["unique_id"].tolist() == ["0", "0", "1", "1"]
    with pytest.raises(lc.DataError, match=r"^no series columns found$"):
        lc.to_long(pd.DataFrame(index=[0, 1]))
