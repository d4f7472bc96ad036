"""Data in: any input is validated column by column into a :class:`Panel` (flat arrays), whose
frame is the canonical long frame ``unique_id, ds, y`` (:func:`to_long`).

Accepted inputs:

- a 1-D array, list or ``pandas.Series``: one series (``ds`` = the Series' index, else 0, 1, ...);
- a wide ``DataFrame``: one column per series, ``ds`` from the index (or from ``time_col`` if it
  is a column);
- a long ``DataFrame`` with an id, a time and a target column (names overridable).

Nothing is dropped or filled silently: NaN, inf, non-numeric values, unparseable, duplicated or
unsorted timestamps and irregular steps are errors that name the series and the row.
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import ConfigError, DataError

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger("lstmcast")

ID, TIME, TARGET = "unique_id", "ds", "y"
SINGLE_SERIES_ID = "series"


def _pd() -> Any:
    # pandas costs ~0.3 s to import; the core path only needs it when a frame is involved.
    import pandas

    return pandas


def points(n: int) -> str:
    """``"1 point"``, ``"12 points"``: counts in error messages."""
    return f"{n} point" if n == 1 else f"{n} points"


def _describe_row(position: int, source: str | None) -> str:
    # For a CSV, name the line a user sees in an editor (the header is line 1).
    return f"line {position + 2} of {source}" if source else f"row {position}"


def _preview(columns: Any, limit: int = 8) -> str:
    names = [str(c) for c in columns]
    more = f", ... ({len(names)} in all)" if len(names) > limit else ""
    return ", ".join(repr(n) for n in names[:limit]) + more


def to_long(
    data: Any,
    *,
    id_col: str | None = ID,
    time_col: str = TIME,
    target_col: str = TARGET,
    source: str | None = None,
) -> pd.DataFrame:
    """Validate any supported input and return the canonical long frame.

    Parameters
    ----------
    data : array-like (time,), pandas.Series, or DataFrame (wide or long)
    id_col, time_col, target_col : column names in a long frame. A frame that has ``time_col``
        but not ``target_col`` is read as wide (every other column is a series). ``id_col`` may
        be missing from a long frame with one series.
    source : file name used in error messages (rows are then reported as file lines).

    Returns
    -------
    DataFrame with columns ``unique_id`` (str), ``ds`` (datetime64 or int64), ``y`` (float64),
    grouped by series in order of first appearance, time ascending within each series.
    """
    return _validated(data, id_col, time_col, target_col, source).to_frame()


def _validated(
    data: Any, id_col: str | None, time_col: str, target_col: str, source: str | None
) -> Panel:
    """What :func:`to_long` checks, as a :class:`Panel` (no frame is built on the way)."""
    pd = _pd()
    if isinstance(data, pd.DataFrame):
        if target_col in data.columns:
            columns = _long_from_long(data, id_col, time_col, target_col, source)
        elif id_col is not None and id_col in data.columns:
            # An id column means a long frame whose target is misnamed, not a wide one.
            raise DataError(
                f"target column {target_col!r} not found; columns are {_preview(data.columns)}. "
                "Name it with target_col= (--target-col)"
            )
        else:
            columns = _long_from_wide(data, time_col, target_col, source)
    elif isinstance(data, pd.Series):
        index = data.index
        ds = index if not isinstance(index, pd.RangeIndex) else np.arange(len(data))
        name = str(data.name) if data.name is not None else SINGLE_SERIES_ID
        columns = (_RowIds.single(name, len(data)), np.asarray(ds), data.to_numpy())
    else:
        values = np.asarray(data)
        if values.ndim != 1:
            raise DataError(
                f"an array input must be 1-D (one series), got shape {values.shape}; "
                "pass many series as a wide or long DataFrame"
            )
        columns = (_RowIds.single(SINGLE_SERIES_ID, len(values)), np.arange(len(values)), values)
    return _validate(*columns, source)


@dataclass(frozen=True)
class _RowIds:
    """Each row's series name, as codes into the distinct names: no string per row.

    ``codes`` (rows,) int64 number the series in order of first appearance; ``names``
    (n_series,) object holds each one's str name.
    """

    codes: np.ndarray
    names: np.ndarray

    @classmethod
    def single(cls, name: str, rows: int) -> _RowIds:
        return cls(np.zeros(rows, dtype=np.int64), np.array([name], dtype=object))

    @classmethod
    def of(cls, values: Any) -> _RowIds:
        """Codes of ``values`` (no missing ones), series named by ``str`` of each value."""
        pd = _pd()
        codes, uniques = pd.factorize(values)
        names = np.asarray(pd.Index(uniques).astype(str), dtype=object)
        if len(set(names)) < len(names):  # values that read the same, e.g. 1 and "1": one series
            merged, distinct = pd.factorize(names)
            codes, names = merged[codes], np.asarray(distinct, dtype=object)
        return cls(np.asarray(codes, dtype=np.int64), names)

    def __getitem__(self, row: int) -> str:
        return str(self.names[self.codes[row]])


Columns = tuple[_RowIds, Any, Any]  # row ids, raw times (rows,), raw values (rows,)


def _long_from_long(
    data: pd.DataFrame, id_col: str | None, time_col: str, target_col: str, source: str | None
) -> Columns:
    if time_col not in data.columns:
        raise DataError(
            f"time column {time_col!r} not found; columns are {_preview(data.columns)}. "
            "Name it with time_col= (--time-col)"
        )
    if id_col is not None and id_col in data.columns:
        missing = data[id_col].isna().to_numpy()
        if missing.any():
            pos = int(np.argmax(missing))
            raise DataError(
                f"the series id (column {id_col!r}) is missing at {_describe_row(pos, source)}; "
                "every row needs one"
            )
        ids = _RowIds.of(data[id_col])
    elif id_col is not None and id_col != ID:
        raise DataError(
            f"id column {id_col!r} not found; columns are {_preview(data.columns)}. "
            "Name it with id_col= (--id-col), or omit it for a single series"
        )
    else:
        ids = _RowIds.single(str(target_col), len(data))
    return ids, data[time_col].to_numpy(), data[target_col].to_numpy()


def _long_from_wide(
    data: pd.DataFrame, time_col: str, target_col: str, source: str | None
) -> Columns:
    pd = _pd()
    if time_col in data.columns:
        wide = data.set_index(time_col)
    elif source is not None:
        raise DataError(
            f"{source} has neither a time column {time_col!r} nor a target column "
            f"{target_col!r}; columns are {_preview(data.columns)}. "
            "Name them with --time-col and --target-col"
        )
    else:
        wide = data
    if wide.shape[1] == 0:
        raise DataError(f"no series columns found beside the time column {time_col!r}")
    index = wide.index
    ds = np.arange(len(wide)) if isinstance(index, pd.RangeIndex) else np.asarray(index)
    n_rows, n_series = wide.shape
    by_column = _RowIds.of(np.asarray(wide.columns, dtype=object))  # (n_series,) codes
    ids = _RowIds(np.repeat(by_column.codes, n_rows), by_column.names)
    return ids, np.tile(ds, n_series), wide.to_numpy().T.reshape(-1)


def _parse_times(raw: Any, ids: _RowIds, source: str | None) -> Any:
    """Times as int64 (step counts) or datetime64; anything else is an error naming the row."""
    pd = _pd()
    series = pd.Series(raw, copy=False)  # read only: no copy of millions of rows
    missing = series.isna().to_numpy()
    if missing.any():
        pos = int(np.argmax(missing))
        raise DataError(
            f"series {ids[pos]!r} has a missing timestamp at {_describe_row(pos, source)}"
        )
    if pd.api.types.is_datetime64_any_dtype(series):
        return _naive_utc(series)
    if pd.api.types.is_bool_dtype(series):
        raise DataError("timestamps are booleans; expected dates or integer time steps")
    if pd.api.types.is_numeric_dtype(series):
        numbers = series.to_numpy()
        limit = np.iinfo(np.int64).max
        too_large = np.abs(numbers.astype(np.float64)) >= limit
        if too_large.any():
            pos = int(np.argmax(too_large))
            raise DataError(
                f"series {ids[pos]!r} has the time step {numbers[pos]} at "
                f"{_describe_row(pos, source)}, beyond what 64-bit integers hold; use dates or "
                "smaller integer steps"
            )
        if np.issubdtype(numbers.dtype, np.floating):
            fractional = numbers != np.round(numbers)
            if fractional.any():
                pos = int(np.argmax(fractional))
                raise DataError(
                    f"series {ids[pos]!r} has a non-integer time step {numbers[pos]} at "
                    f"{_describe_row(pos, source)}; use dates or integer steps"
                )
        return numbers.astype(np.int64)
    text = series.astype(str)
    with warnings.catch_warnings():
        # pandas warns when it cannot infer a format; the error below says it better.
        warnings.simplefilter("ignore", UserWarning)
        try:
            try:
                return _naive_utc(pd.to_datetime(text))
            except ValueError as error:
                if "Mixed timezones" not in str(error):
                    raise
                return _naive_utc(pd.to_datetime(text, utc=True))
        except (ValueError, TypeError, OverflowError):
            # Name the first value that does not follow the format of the first one.
            first_format = pd.tseries.api.guess_datetime_format(text.iloc[0])
            parsed = pd.to_datetime(text, errors="coerce", format=first_format, utc=True)
    bad = parsed.isna().to_numpy()
    pos = int(np.argmax(bad)) if bad.any() else 0
    raise DataError(
        f"cannot read timestamp {text.iloc[pos]!r} of series {ids[pos]!r} at "
        f"{_describe_row(pos, source)}: timestamps must be dates in one format "
        "(e.g. 2024-01-31 or 2024-01-31 13:00) or integer steps"
    )


def _show_time(value: Any) -> str:
    """A timestamp as a person writes it (2024-01-01 02:00:00), an integer step as is."""
    return str(_pd().Timestamp(value)) if isinstance(value, np.datetime64) else str(value)


def _naive_utc(times: Any) -> np.ndarray:
    """datetime64 without a time zone: aware timestamps are converted to UTC (documented)."""
    if getattr(times.dt, "tz", None) is not None:
        times = times.dt.tz_convert("UTC").dt.tz_localize(None)
    return times.to_numpy()


def _parse_values(raw: Any, ids: _RowIds, source: str | None) -> np.ndarray:
    pd = _pd()
    series = pd.Series(raw, copy=False)  # read only: no copy of millions of rows
    if pd.api.types.is_bool_dtype(series):
        raise DataError("target values are booleans; expected numbers")
    numbers = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)
    not_numeric = np.isnan(numbers) & series.notna().to_numpy()
    if not_numeric.any():
        pos = int(np.argmax(not_numeric))
        raise DataError(
            f"series {ids[pos]!r} has a non-numeric value {series.iloc[pos]!r} at "
            f"{_describe_row(pos, source)}; the target must be numbers"
        )
    for bad in (np.isnan(numbers), np.isinf(numbers)):
        if bad.any():
            pos = int(np.argmax(bad))
            what = "a missing value (NaN)" if np.isnan(numbers[pos]) else f"{numbers[pos]}"
            raise DataError(
                f"series {ids[pos]!r} has {what} at {_describe_row(pos, source)}; "
                "fill or remove it before forecasting (lstmcast drops nothing silently)"
            )
    return numbers


def _validate(ids: _RowIds, raw_times: Any, raw_values: Any, source: str | None) -> Panel:
    """Parse and check the columns of every row; group the rows by series into a Panel."""
    if len(ids.codes) == 0:
        raise DataError(f"{source or 'the data'} has no rows")
    y = _parse_values(raw_values, ids, source)
    ds = _parse_times(raw_times, ids, source)
    # Group rows by series (stable, so time order within a series is the input's order).
    codes = ids.codes
    order = np.arange(len(codes))
    if (codes[1:] < codes[:-1]).any():  # most frames come grouped already: skip the reorder
        order = np.argsort(codes, kind="stable")
        y, ds, codes = y[order], ds[order], codes[order]
    same_series = codes[1:] == codes[:-1]
    steps = ds[1:] - ds[:-1]
    zero = np.zeros((), dtype=steps.dtype)  # in the steps' own unit: no overflow when comparing
    for bad, what, fix in (
        (same_series & (steps == zero), "a duplicated timestamp", "keep one row per time"),
        (same_series & (steps < zero), "unsorted timestamps", "sort the rows by time"),
    ):
        if bad.any():
            pos = int(np.argmax(bad)) + 1
            raise DataError(
                f"series {ids.names[codes[pos]]!r} has {what}: {_show_time(ds[pos])} follows "
                f"{_show_time(ds[pos - 1])} at "
                f"{_describe_row(int(order[pos]), source)}; {fix}"
            )
    starts = np.concatenate([[0], np.flatnonzero(~same_series) + 1, [len(codes)]])
    return Panel(ids=ids.names[codes[starts[:-1]]], y=y, ds=ds, starts=starts.astype(np.int64))


def read_csv(
    path: str | os.PathLike[str],
    *,
    time_col: str = TIME,
    target_col: str = TARGET,
    id_col: str | None = None,
) -> pd.DataFrame:
    """Read a CSV file into the validated long frame ``unique_id, ds, y``.

    A file with ``time_col`` and ``target_col`` is long (``id_col``, or a ``unique_id`` column if
    present, names the series; otherwise it holds one series). A file with ``time_col`` but no
    ``target_col`` is wide: every other column is a series.
    """
    pd = _pd()
    file = Path(path)
    if not file.is_file():
        raise DataError(f"data file {str(file)!r} not found")
    try:
        # Ids are names: "01" and "1" are two series, so never read them as numbers.
        frame = pd.read_csv(file, dtype={id_col or ID: str}, dtype_backend="numpy_nullable")
    except pd.errors.EmptyDataError:
        raise DataError(f"{file.name} is empty; expected a header line and data rows") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        first_line = str(error).strip().splitlines()[-1] if str(error).strip() else ""
        raise DataError(f"{file.name} is not a readable CSV file: {first_line}") from None
    if len(frame) == 0:
        raise DataError(f"{file.name} has a header but no data rows")
    if id_col is None and ID in frame.columns:
        id_col = ID
    if len(frame.columns) == 1 and time_col not in frame.columns:
        raise DataError(
            f"{file.name} has a single column {str(frame.columns[0])!r}: is the delimiter a "
            "comma? lstmcast reads comma-separated files with a header line"
        )
    return to_long(frame, id_col=id_col, time_col=time_col, target_col=target_col, source=file.name)


# The file types a data directory may hold.
DATA_SUFFIXES = (".csv", ".parquet")


def read_parquet(
    path: str | os.PathLike[str],
    *,
    time_col: str = TIME,
    target_col: str = TARGET,
    id_col: str | None = None,
) -> pd.DataFrame:
    """Read a Parquet file into the validated long frame ``unique_id, ds, y`` (as :func:`read_csv`).

    Needs pyarrow (``pip install 'lstmcast[parquet]'``).
    """
    file = Path(path)
    if not file.is_file():
        raise DataError(f"data file {str(file)!r} not found")
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ConfigError(
            f"reading {file.name} needs pyarrow, which is not installed; install it with "
            "pip install 'lstmcast[parquet]'"
        ) from None
    try:
        frame = pq.read_table(file).to_pandas()
    except (OSError, ValueError) as error:  # pyarrow's ArrowInvalid is a ValueError
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise DataError(f"{file.name} is not a readable Parquet file: {first_line}") from None
    if len(frame) == 0:
        raise DataError(f"{file.name} has no rows")
    if id_col is None and ID in frame.columns:
        id_col = ID
    try:
        return to_long(frame, id_col=id_col, time_col=time_col, target_col=target_col)
    except DataError as error:  # rows of a Parquet file are counted from 0, without a header
        raise DataError(f"{file.name}: {error}") from None


def data_files(path: str | os.PathLike[str]) -> list[Path]:
    """The files of ``path``: the file itself, or a directory's CSV and Parquet files, by name."""
    where = Path(path)
    if where.is_dir():
        files = sorted(f for f in where.iterdir() if f.suffix in DATA_SUFFIXES and f.is_file())
        if not files:
            raise DataError(f"directory {str(where)!r} holds no .csv or .parquet files")
        return files
    if not where.is_file():
        raise DataError(f"data file {str(where)!r} not found")
    return [where]


def read_files(
    files: list[Path],
    *,
    time_col: str = TIME,
    target_col: str = TARGET,
    id_col: str | None = None,
) -> pd.DataFrame:
    """Read CSV and Parquet ``files``, each holding whole series, into one long frame.

    Every file read is logged (logger ``lstmcast``, level INFO). A series found in two files is
    an error: a series is never split across files.
    """
    pd = _pd()
    frames = []
    first_file: dict[str, str] = {}
    for file in files:
        reader = read_parquet if file.suffix == ".parquet" else read_csv
        frame = reader(file, time_col=time_col, target_col=target_col, id_col=id_col)
        ids = frame[ID].unique()
        for series_id in ids:
            if series_id in first_file:
                raise DataError(
                    f"series {series_id!r} is in both {first_file[series_id]} and {file.name}; "
                    "keep each series whole in one file"
                )
            first_file[series_id] = file.name
        log.info("read %s: %d series, %d rows", file.name, len(ids), len(frame))
        frames.append(frame)
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def split(df: Any, test_size: int | float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split every series by time: the last ``test_size`` points of each go to the test part.

    ``test_size`` is a number of points (int) or a fraction of each series (0 < float < 1,
    rounded to the nearest point). Returns ``(train, test)`` long frames.
    """
    frame = to_long(df)
    panel = Panel.from_frame(frame)
    lengths = panel.lengths
    if isinstance(test_size, bool) or not isinstance(test_size, int | float) or test_size <= 0:
        raise DataError(
            f"test_size must be a positive int or a fraction in (0, 1), got {test_size!r}"
        )
    if isinstance(test_size, float):
        if test_size >= 1:
            raise DataError(f"a fractional test_size must be below 1, got {test_size}")
        n_test = np.rint(lengths * test_size).astype(np.int64)
    else:
        n_test = np.full(len(lengths), test_size, dtype=np.int64)
    too_short = n_test >= lengths
    if too_short.any():
        i = int(np.argmax(too_short))
        raise DataError(
            f"series {panel.ids[i]!r} has {points(lengths[i])}; a test part of {n_test[i]} "
            "leaves nothing to train on"
        )
    position_in_series = np.arange(len(frame)) - np.repeat(panel.starts[:-1], lengths)
    is_test = position_in_series >= np.repeat(lengths - n_test, lengths)
    train, test = frame[~is_test], frame[is_test]
    return train.reset_index(drop=True), test.reset_index(drop=True)


@dataclass(frozen=True)
class Panel:
    """Many series in flat arrays: series ``i`` is rows ``starts[i]:starts[i + 1]``.

    ``y`` (rows,) float64; ``ds`` (rows,) datetime64[ns] or int64; ``ids`` one str per series.
    Built from a validated long frame; slices of it are views, never copies.
    """

    ids: np.ndarray
    y: np.ndarray
    ds: np.ndarray
    starts: np.ndarray

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> Panel:
        ids = frame[ID].to_numpy(dtype=object)
        boundaries = np.flatnonzero(ids[1:] != ids[:-1]) + 1
        starts = np.concatenate([[0], boundaries, [len(frame)]]).astype(np.int64)
        return cls(
            ids=ids[starts[:-1]],
            y=frame[TARGET].to_numpy(dtype=np.float64),
            ds=frame[TIME].to_numpy(),
            starts=starts,
        )

    @classmethod
    def from_data(
        cls,
        data: Any,
        *,
        id_col: str | None = ID,
        time_col: str = TIME,
        target_col: str = TARGET,
        source: str | None = None,
    ) -> Panel:
        """Validate any supported input (arguments as in :func:`to_long`) and build the panel."""
        return _validated(data, id_col, time_col, target_col, source)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def lengths(self) -> np.ndarray:
        """Points per series, (n_series,) int64."""
        return np.diff(self.starts)

    @property
    def ends(self) -> np.ndarray:
        """Row just past each series' last point, (n_series,) int64."""
        return self.starts[1:]

    def tail(self, length: int) -> Panel:
        """The last ``length`` points of every series (all of a shorter one)."""
        return self._rows(np.maximum(self.starts[:-1], self.ends - length), self.ends)

    def head(self, lengths: np.ndarray) -> Panel:
        """The first ``lengths[i]`` points of series ``i``."""
        return self._rows(self.starts[:-1], self.starts[:-1] + lengths)

    def _rows(self, begin: np.ndarray, end: np.ndarray) -> Panel:
        """Rows ``begin[i]:end[i]`` of each series, (n,) each, as a new panel."""
        rows = concatenated_ranges(begin, end)
        starts = np.concatenate([[0], np.cumsum(end - begin)]).astype(np.int64)
        return Panel(ids=self.ids, y=self.y[rows], ds=self.ds[rows], starts=starts)

    def to_frame(self) -> pd.DataFrame:
        pd = _pd()
        return pd.DataFrame({ID: np.repeat(self.ids, self.lengths), TIME: self.ds, TARGET: self.y})

    def steps(self) -> list[Any]:
        """Each series' time step: an int for integer time, a pandas offset for dates.

        Vectorised: series whose steps are all equal are settled at once; only the others
        (calendar frequencies like month ends, or irregular series) are looked at one by one.
        """
        pd = _pd()
        lengths = self.lengths
        rows = len(self.y)
        if (lengths < 2).any():
            i = int(np.argmax(lengths < 2))
            time_step(self.ds[self.starts[i] : self.ends[i]], self.ids[i])  # raises
        diffs = np.diff(self.ds)  # (rows - 1,), the last step of a series spans into the next
        first = diffs[self.starts[:-1]]  # each series' first step
        series_of_diff = np.repeat(np.arange(len(self)), lengths)[:-1]
        within = np.ones(rows - 1, dtype=bool)
        within[self.ends[:-1] - 1] = False
        uneven = np.zeros(len(self), dtype=bool)
        uneven[series_of_diff[within & (diffs != first[series_of_diff])]] = True
        integer_time = self.ds.dtype.kind in "iu"
        offsets: dict[Any, Any] = {}
        result: list[Any] = []
        for i, step in enumerate(first):
            if uneven[i]:
                result.append(time_step(self.ds[self.starts[i] : self.ends[i]], self.ids[i]))
            elif integer_time:
                result.append(int(step))
            else:
                if step not in offsets:
                    offsets[step] = pd.tseries.frequencies.to_offset(pd.Timedelta(step))
                result.append(offsets[step])
        return result


def time_step(times: np.ndarray, series_id: str) -> Any:
    """The regular step of one series' times: int for integer time, a pandas offset for dates."""
    pd = _pd()
    if len(times) < 2:
        raise DataError(
            f"series {series_id!r} has {points(len(times))}; its time step cannot be inferred"
        )
    diffs = np.diff(times)
    if times.dtype.kind in "iu":
        if (diffs == diffs[0]).all():
            return int(diffs[0])
        pos = int(np.argmax(diffs != diffs[0])) + 1
        raise DataError(
            f"series {series_id!r} has irregular time steps: {times[pos]} follows "
            f"{times[pos - 1]} but its first step is {diffs[0]}; fill the gaps first"
        )
    if (diffs == diffs[0]).all():
        return pd.tseries.frequencies.to_offset(pd.Timedelta(diffs[0]))
    # Calendar frequencies (month, quarter, year ends) have uneven step lengths.
    freq = None
    if len(times) >= 3:
        with warnings.catch_warnings():  # pandas 3 warns that infer_freq will return an offset
            warnings.simplefilter("ignore")
            freq = pd.infer_freq(pd.DatetimeIndex(times))
    if freq is not None:
        return pd.tseries.frequencies.to_offset(freq)
    typical = np.median(diffs.astype(np.int64))
    pos = int(np.argmax(diffs.astype(np.int64) != typical)) + 1
    raise DataError(
        f"series {series_id!r} has irregular time steps: {pd.Timestamp(times[pos])} follows "
        f"{pd.Timestamp(times[pos - 1])}, but its usual step is {pd.Timedelta(int(typical))}; "
        "fill the gaps or resample to a regular frequency"
    )


def future_times(last: np.ndarray, steps: list[Any], h: int) -> np.ndarray:
    """The ``h`` timestamps after each series' ``last`` (n,), continuing its step: (n, h)."""
    pd = _pd()
    ahead = np.arange(1, h + 1)
    if last.dtype.kind in "iu":
        return last[:, None] + np.asarray(steps, dtype=np.int64)[:, None] * ahead[None, :]
    times = np.empty((len(last), h), dtype=last.dtype)
    fixed = np.array([isinstance(step, pd.offsets.Tick) for step in steps], dtype=bool)
    if fixed.any():  # hours, days, minutes: plain arithmetic, all series at once
        nanos = np.array([step.nanos for step, f in zip(steps, fixed, strict=True) if f])
        deltas = (nanos[:, None] * ahead[None, :]).astype("timedelta64[ns]")
        times[fixed] = last[fixed].astype("datetime64[ns]")[:, None] + deltas
    for i in np.flatnonzero(~fixed):  # month ends and other calendar steps
        times[i] = pd.date_range(start=pd.Timestamp(last[i]), periods=h + 1, freq=steps[i])[1:]
    return times


def concatenated_ranges(begin: np.ndarray, end: np.ndarray) -> np.ndarray:
    """``np.concatenate([np.arange(b, e) for b, e in zip(begin, end)])`` without a Python loop.

    Every ``end`` must be at least its ``begin``.
    """
    counts = end - begin
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.repeat(begin - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
    return np.arange(total, dtype=np.int64) + offsets
