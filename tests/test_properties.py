"""Property-based tests: windows, ranges, split, scaling, metrics and the CSV reader.

Each property is checked against a plain definition (a Python loop, a re-concatenation) on
inputs hypothesis draws. Settings are derandomized so CI sees the same examples on every run.
"""

from __future__ import annotations

import itertools
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import lstmcast as lc
from benchmarks.fuzz import frame_problem
from lstmcast.data import Panel, concatenated_ranges
from lstmcast.metrics import mase
from lstmcast.windows import SeriesScaler, Windows, window_starts

# Derandomized: the examples depend only on the test, so a failure reproduces anywhere.
SETTINGS = settings(max_examples=60, deadline=None, derandomize=True)


def _panel(values: list[np.ndarray]) -> Panel:
    """A panel of series ``s0, s1, ...`` with integer time 0, 1, ... each."""
    lengths = [len(v) for v in values]
    return Panel(
        ids=np.array([f"s{i}" for i in range(len(values))], dtype=object),
        y=np.concatenate(values).astype(np.float64),
        ds=np.concatenate([np.arange(n) for n in lengths]).astype(np.int64),
        starts=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
    )


# --------------------------------------------------------------------------------------------
# Windows
# --------------------------------------------------------------------------------------------


def _naive_windows(
    series: list[np.ndarray], first: np.ndarray, end: np.ndarray, window: int, horizon: int
) -> tuple[np.ndarray, np.ndarray]:
    """Every window of each series whose targets lie in ``[first, end)``, by a plain loop."""
    xs, ys = [], []
    for values, lo, hi in zip(series, first, end, strict=True):
        for t in range(max(int(lo), window), int(hi) - horizon + 1):  # t: the first target
            xs.append(values[t - window : t])
            ys.append(values[t : t + horizon])
    return np.array(xs).reshape(-1, window), np.array(ys).reshape(-1, horizon)


@st.composite
def _window_cases(draw: st.DrawFn) -> tuple[list[np.ndarray], np.ndarray, int, int]:
    lengths = draw(st.lists(st.integers(1, 40), min_size=1, max_size=5))
    # Distinct values: a window taken one row off, or from the wrong series, cannot match.
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    series = [np.arange(a, b, dtype=np.float64) + 0.5 for a, b in itertools.pairwise(offsets)]
    n_train = np.array([draw(st.integers(0, n)) for n in lengths], dtype=np.int64)
    return series, n_train, draw(st.integers(1, 12)), draw(st.integers(1, 6))


@SETTINGS
@given(_window_cases())
def test_windows_match_a_naive_loop(case: tuple[list[np.ndarray], np.ndarray, int, int]) -> None:
    series, n_train, window, horizon = case
    panel = _panel(series)
    lengths = panel.lengths
    inputs = torch.from_numpy(panel.y)[:, None]
    target = torch.from_numpy(panel.y)
    # The training range (targets from `window` to n_train) and the validation tail after it.
    for first, end in ((np.full(len(panel), window), n_train), (n_train, lengths)):
        starts = window_starts(panel, first, end, window, horizon)
        windows = Windows(inputs, target, torch.from_numpy(starts), window, horizon)
        x, y = windows.batch(torch.arange(len(windows)))
        expected_x, expected_y = _naive_windows(series, first, end, window, horizon)
        assert x.shape == (len(expected_x), window, 1)
        np.testing.assert_array_equal(x[..., 0].numpy(), expected_x)
        np.testing.assert_array_equal(y.numpy(), expected_y)


@SETTINGS
@given(st.lists(st.tuples(st.integers(-50, 50), st.integers(0, 20)), max_size=8))
def test_concatenated_ranges_is_the_loop(ranges: list[tuple[int, int]]) -> None:
    begin = np.array([b for b, _ in ranges], dtype=np.int64)
    end = begin + np.array([n for _, n in ranges], dtype=np.int64)
    loop = [np.arange(b, e) for b, e in zip(begin, end, strict=True)]
    expected = np.concatenate(loop) if loop else np.zeros(0, dtype=np.int64)
    result = concatenated_ranges(begin, end)
    assert result.dtype == np.int64
    np.testing.assert_array_equal(result, expected)


# --------------------------------------------------------------------------------------------
# split
# --------------------------------------------------------------------------------------------

# Ids with separators, quotes, non-ASCII and digits ("01" must stay "01", not become 1).
_IDS = st.text(alphabet="ab01.-,\"' é€😀", min_size=1, max_size=4)
_FINITE = st.floats(allow_nan=False, allow_infinity=False)


@st.composite
def _long_frames(draw: st.DrawFn, min_length: int = 1, max_length: int = 30) -> pd.DataFrame:
    """A valid long frame: grouped series with unique ids, regular increasing times."""
    ids = draw(st.lists(_IDS, min_size=1, max_size=4, unique=True))
    kind = draw(st.sampled_from(["int", "D", "h"]))
    parts = []
    for series_id in ids:
        n = draw(st.integers(min_length, max_length))
        start = draw(st.integers(-1000, 1000))
        if kind == "int":
            ds: np.ndarray = start + draw(st.integers(1, 5)) * np.arange(n, dtype=np.int64)
        else:
            first = pd.Timestamp("2020-01-01") + pd.Timedelta(start, unit=kind)
            ds = pd.date_range(first, periods=n, freq=kind).to_numpy()
        y = draw(st.lists(_FINITE, min_size=n, max_size=n))
        parts.append(pd.DataFrame({"unique_id": series_id, "ds": ds, "y": y}))
    return pd.concat(parts, ignore_index=True)


@SETTINGS
@given(
    _long_frames(min_length=2),
    st.one_of(st.integers(1, 35), st.floats(0.01, 0.99)),
    st.booleans(),
)
def test_split_is_a_per_series_cut_by_time(
    frame: pd.DataFrame, test_size: int | float, interleave: bool
) -> None:
    lengths = frame.groupby("unique_id", sort=False).size()
    # Rows ordered by time across series are as valid an input as rows grouped by series.
    given_frame = frame.sort_values("ds", kind="stable") if interleave else frame
    if isinstance(test_size, float):
        n_test = np.rint(lengths * test_size).astype(np.int64)
    else:
        n_test = pd.Series(test_size, index=lengths.index)
    if (n_test >= lengths).any():
        with pytest.raises(lc.DataError, match="leaves nothing to train on"):
            lc.split(given_frame, test_size)
        return
    train, test = lc.split(given_frame, test_size)
    for series_id, rows in frame.groupby("unique_id", sort=False):
        part_train = train[train["unique_id"] == series_id]
        part_test = test[test["unique_id"] == series_id]
        assert len(part_test) == n_test[series_id]
        rejoined = pd.concat([part_train, part_test], ignore_index=True)
        pd.testing.assert_frame_equal(rejoined, rows.reset_index(drop=True))
        if len(part_test):
            assert part_train["ds"].max() < part_test["ds"].min()


# --------------------------------------------------------------------------------------------
# Scaling
# --------------------------------------------------------------------------------------------

# Not within 1e-290 of zero: a spread that small has no digits left (fit refuses it).
_LARGE = st.floats(-1e12, 1e12, allow_nan=False).filter(lambda x: x == 0 or abs(x) > 1e-290)


@st.composite
def _scaler_cases(draw: st.DrawFn) -> tuple[list[np.ndarray], np.ndarray, list[np.ndarray]]:
    """Series (some constant), a fit length per series, and other values for after it."""
    series, n_fit, later = [], [], []
    for _ in range(draw(st.integers(1, 4))):
        n = draw(st.integers(1, 25))
        if draw(st.booleans()):
            values = np.full(n, draw(_LARGE))
        else:
            values = np.array(draw(st.lists(_LARGE, min_size=n, max_size=n)))
        k = draw(st.integers(1, n))
        series.append(values)
        n_fit.append(k)
        later.append(np.array(draw(st.lists(_LARGE, min_size=n - k, max_size=n - k))))
    return series, np.array(n_fit, dtype=np.int64), later


@SETTINGS
@given(_scaler_cases(), st.sampled_from(["standard", "none"]))
def test_scaler_round_trip_and_fit_part_only(
    case: tuple[list[np.ndarray], np.ndarray, list[np.ndarray]], kind: str
) -> None:
    series, n_fit, later = case
    panel = _panel(series)
    scaler = SeriesScaler.fit(panel, n_fit, kind)
    assert np.isfinite(scaler.scale).all()
    assert (scaler.scale > 0).all()
    rows = np.repeat(np.arange(len(panel)), panel.lengths)
    # A later value can be beyond any float from a flat, tiny fitted part (fit refuses those).
    with np.errstate(over="ignore"):
        scaled = scaler.transform(panel)
    fitted = np.concatenate([np.arange(n) < k for n, k in zip(panel.lengths, n_fit, strict=True)])
    assert np.isfinite(scaled[fitted]).all()
    usable = np.isfinite(scaled)
    back = scaler.inverse(scaled[usable], rows[usable])
    # Float error grows with the magnitude of a series, not with its spread.
    magnitude = np.repeat([max(1.0, np.abs(v).max()) for v in series], panel.lengths)
    assert (np.abs(back - panel.y[usable]) <= 1e-9 * magnitude[usable]).all()
    # Values after the first n_fit points never reach the statistics.
    changed = _panel(
        [np.concatenate([v[:k], w]) for v, k, w in zip(series, n_fit, later, strict=True)]
    )
    refit = SeriesScaler.fit(changed, n_fit, kind)
    np.testing.assert_array_equal(refit.shift, scaler.shift)
    np.testing.assert_array_equal(refit.scale, scaler.scale)


@SETTINGS
@given(
    st.lists(st.floats(-1, 1, allow_nan=False), min_size=2, max_size=30).filter(
        lambda v: np.ptp(v) > 0.1
    ),
    st.integers(-300, 290),
    st.sampled_from([0.0, 1e6, -1e9]),
)
def test_scaler_statistics_are_right_at_any_magnitude(
    base: list[float], exponent: int, offset: float
) -> None:
    """Mean and standard deviation of ``10**exponent * (offset + base)``: no absolute
    threshold declares a tiny series constant, no square overflows for a huge one."""
    unit = 10.0**exponent
    values = unit * (offset + np.array(base))
    scaler = SeriesScaler.fit(_panel([values]), np.array([len(values)]))
    exact_mean = unit * (offset + np.mean(base))
    assert scaler.shift[0] == pytest.approx(exact_mean, rel=1e-9, abs=1e-9 * unit)
    # The spread of offset + base survives float rounding to ~eps * offset / spread.
    assert scaler.scale[0] == pytest.approx(unit * np.std(base), rel=1e-4)


# --------------------------------------------------------------------------------------------
# Metrics (tests/test_metrics.py covers mae <= rmse, sMAPE bounds and perfect forecasts)
# --------------------------------------------------------------------------------------------

_VALUES = st.floats(-1e6, 1e6, allow_nan=False)


@SETTINGS
@given(
    st.lists(st.tuples(_VALUES, _VALUES), min_size=1, max_size=20),
    st.lists(_VALUES, min_size=5, max_size=30),
    st.integers(1, 4),
    st.floats(1e-3, 1e3),
)
def test_mase_is_scale_invariant(
    pairs: list[tuple[float, float]], train: list[float], season: int, factor: float
) -> None:
    y_true, y_pred = (np.array(column) for column in zip(*pairs, strict=True))
    y_train = np.array(train)
    # A (nearly) season-periodic training series has no usable scale; MASE refuses it.
    assume(np.mean(np.abs(y_train[season:] - y_train[:-season])) > 1e-3)
    base = mase(y_true, y_pred, y_train, season)
    scaled = mase(factor * y_true, factor * y_pred, factor * y_train, season)
    assert scaled == pytest.approx(base, rel=1e-9, abs=1e-12)


# --------------------------------------------------------------------------------------------
# CSV reader
# --------------------------------------------------------------------------------------------


@SETTINGS
@given(_long_frames(), st.booleans(), st.booleans())
def test_read_csv_round_trips_a_long_frame(
    tmp_path_factory: pytest.TempPathFactory, frame: pd.DataFrame, interleave: bool, no_id: bool
) -> None:
    if no_id:  # one series and no id column: the series is named after the target column
        frame = frame[frame["unique_id"] == frame["unique_id"].iloc[0]].assign(unique_id="y")
        written = frame.drop(columns="unique_id")
    elif interleave:  # rows ordered by time across series; the reader groups them again
        written = frame.sort_values("ds", kind="stable")
    else:
        written = frame
    path = tmp_path_factory.mktemp("csv") / "data.csv"
    written.to_csv(path, index=False)
    result = lc.read_csv(path)
    assert frame_problem(result) is None
    # Grouped by series in order of first appearance in the file, time order kept in each.
    order = pd.unique(written["unique_id"]) if not no_id else ["y"]
    expected = pd.concat([frame[frame["unique_id"] == i] for i in order], ignore_index=True)
    assert result["unique_id"].tolist() == expected["unique_id"].tolist()
    np.testing.assert_array_equal(result["ds"].to_numpy(), expected["ds"].to_numpy())
    np.testing.assert_array_equal(result["y"].to_numpy(), expected["y"].to_numpy())


# Text that looks like a CSV often enough to be read: headers the reader knows, then rows whose
# fields are mostly plausible for their column (an id, the row's time step or date, a number)
# and sometimes a token that troubles parsers, or free text.
_JUNK_FIELDS = st.one_of(
    st.sampled_from(
        [
            "",
            "nan",
            "NA",
            "inf",
            "-inf",
            "1e400",
            "1e30",
            "True",
            "x",
            "é",
            '"',
            ",",
            "2024-01-01 01:00+02:00",
            "31/12/2024",
            "2300-01-01",
            "1700-01-01",
            "18446744073709551615",
            "99999999999999999999",
            "-0",
            "0x1F",
        ]
    ),
    st.text(max_size=6),
)


@st.composite
def _csv_texts(draw: st.DrawFn) -> str:
    header = draw(st.sampled_from(["ds,y", "unique_id,ds,y", "ds,a,b", "y,ds", "unique_id,ds,y,y"]))
    dated = draw(st.booleans())
    lines = [header]
    for row in range(draw(st.integers(0, 6))):
        fields = []
        for column in header.split(","):
            if draw(st.integers(0, 5)) == 0:
                fields.append(draw(_JUNK_FIELDS))
            elif column == "unique_id":
                fields.append(draw(st.sampled_from(["a", "b", "01", "1"])))
            elif column == "ds":
                fields.append(f"2024-01-{row + 1:02d}" if dated else str(row))
            else:
                fields.append(repr(draw(st.floats(allow_nan=False, allow_infinity=False))))
        lines.append(",".join(fields))
    return "\n".join(lines) + "\n"


def _read_or_refuse(path: Path) -> None:
    """read_csv returns a valid frame or raises an LstmcastError, nothing else.

    Warnings are recorded rather than raised (pytest makes them errors): this property is about
    what read_csv returns or raises; test_read_csv_does_not_leak_pandas_warnings is about those.
    """
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        try:
            frame = lc.read_csv(path)
        except lc.LstmcastError:
            return
    assert frame_problem(frame) is None, frame_problem(frame)


@SETTINGS
@given(st.one_of(st.text(), _csv_texts()))
def test_read_csv_on_any_text_returns_a_frame_or_an_lstmcast_error(
    tmp_path_factory: pytest.TempPathFactory, text: str
) -> None:
    path = tmp_path_factory.mktemp("text") / "data.csv"
    path.write_text(text, encoding="utf-8")
    _read_or_refuse(path)


@SETTINGS
@given(st.binary(max_size=200), st.sampled_from([b"", b"ds,y\n", b"unique_id,ds,y\n"]))
def test_read_csv_on_any_bytes_returns_a_frame_or_an_lstmcast_error(
    tmp_path_factory: pytest.TempPathFactory, data: bytes, header: bytes
) -> None:
    path = tmp_path_factory.mktemp("bytes") / "data.csv"
    path.write_bytes(header + data)
    _read_or_refuse(path)


# --------------------------------------------------------------------------------------------
# Regressions: bugs these properties and benchmarks/fuzz.py found (fixed in data.py)
# --------------------------------------------------------------------------------------------


def _read_text(tmp_path: Path, text: str) -> pd.DataFrame:
    path = tmp_path / "data.csv"
    path.write_text(text)
    return lc.read_csv(path)


def test_a_missing_id_is_refused(tmp_path: Path) -> None:
    # Was: accepted, the id becomes float NaN, and the row moves to the front of the frame.
    with pytest.raises(lc.DataError, match=r"id .* is missing at line 3"):
        _read_text(tmp_path, "unique_id,ds,y\na,0,1\n,1,2\n")


def test_mixed_offsets_and_a_bad_timestamp(tmp_path: Path) -> None:
    # Was: ValueError "Mixed timezones detected", from the code that names the bad timestamp.
    with pytest.raises(lc.DataError, match="cannot read timestamp 'x'"):
        _read_text(tmp_path, "ds,y\n2024-01-01 00:00+01:00,1\n2024-01-01 01:00+02:00,2\nx,3\n")


def test_unsorted_dates_far_apart_are_refused(tmp_path: Path) -> None:
    # Was: accepted. A step of -324 years in microseconds overflows when compared with a
    # zero in nanoseconds (data._validate), so it does not look negative.
    with pytest.raises(lc.DataError, match="unsorted timestamps"):
        _read_text(tmp_path, "ds,y\n2024-01-01,1\n1700-01-01,2\n")


def test_integer_time_beyond_int64_is_refused(tmp_path: Path) -> None:
    # Was: accepted; the uint64 column wraps to the int64 times -2**63 and -2**63 + 1.
    with pytest.raises(lc.DataError, match="beyond what 64-bit integers hold"):
        _read_text(tmp_path, "ds,y\n9223372036854775808,1\n9223372036854775809,2\n")


def test_float_time_beyond_int64_is_refused(tmp_path: Path) -> None:
    # Was: accepted with a RuntimeWarning; 1e30 becomes the int64 -9223372036854775808.
    with pytest.raises(lc.DataError, match="beyond what 64-bit integers hold"):
        _read_text(tmp_path, "ds,y\n1e30,1\n")


def test_ids_that_look_like_numbers_are_kept_as_written(tmp_path: Path) -> None:
    # Was: "01" and "1" both become "1": two series silently merge into one of 4 points.
    frame = _read_text(tmp_path, "unique_id,ds,y\n01,0,1\n01,1,2\n1,2,3\n1,3,4\n")
    assert frame["unique_id"].tolist() == ["01", "01", "1", "1"]


def test_read_csv_does_not_leak_pandas_warnings(tmp_path: Path) -> None:
    # Was: pandas' "Could not infer format" UserWarning escapes before the DataError; under
    # warnings-as-errors (this test suite) read_csv raises the UserWarning instead.
    with pytest.raises(lc.DataError, match="cannot read timestamp 'x'"):
        _read_text(tmp_path, "ds,y\nx,1\n2024-01-01,2\n")


def test_split_groups_a_long_frame_whose_series_are_not_contiguous() -> None:
    # Was: a frame with exactly the columns unique_id, ds, y (float) skips validation, so
    # split cuts runs of rows, not series: the test part holds a@1, b@1 and a@3.
    frame = pd.DataFrame(
        {"unique_id": list("aabbaa"), "ds": [0, 1, 0, 1, 2, 3], "y": np.arange(6.0)}
    )
    _, test = lc.split(frame, 1)
    assert list(zip(test["unique_id"], test["ds"], strict=True)) == [("a", 3), ("b", 1)]
