"""Data in: any input is validated column by column into a :class:`Panel` (flat arrays), whose
frame is the canonical long frame ``unique_id, ds, y`` (:func:`to_long`).

Where it sits: input frame or array (or a file, read by :mod:`lstmcast.reading`) -> its layout
(:mod:`lstmcast.layout`) -> **Panel** -> windows -> model -> forecast -> metrics/plots.

Accepted inputs:

- a 1-D array, list or ``pandas.Series``: one series (``ds`` = the Series' index, else 0, 1, ...);
- a wide ``DataFrame``: one column per series, ``ds`` from the index (or from ``time_col`` if it
  is a column);
- a long ``DataFrame`` with an id, a time and a target column (names overridable);
- a single-series ``DataFrame``: a time and one value column.

Nothing is dropped, renamed or filled silently: unknown, unused, duplicated or ambiguous columns,
NaN, inf, non-numeric values, unparseable, duplicated or unsorted timestamps and irregular steps
are errors that name the series and the row (a file's line). How an input was read (its
:class:`~lstmcast.layout.Layout`) is kept on the returned frame. Times in a zone stay in it.
"""

from __future__ import annotations

import datetime
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from .checks import Rule
from .columns import ID, TARGET, TIME
from .errors import ConfigError, DataError, points
from .layout import (
    Layout,
    RawColumns,
    RowIds,
    Where,
    long_columns,
    plan_columns,
    wide_columns,
    with_layouts,
)
from .timesteps import series_steps, show_time

if TYPE_CHECKING:
    import pandas as pd

SINGLE_SERIES_ID = "series"


def _pd() -> Any:
    # pandas costs ~0.3 s to import; the core path only needs it when a frame is involved.
    import pandas

    return pandas


def to_long(
    data: Any,
    *,
    id_col: str | None = None,
    time_col: str | None = None,
    target_col: str | None = None,
    source: str | None = None,
    layout: str | None = None,
    ignore_cols: Sequence[str] = (),
    keep_missing: bool = False,
) -> pd.DataFrame:
    """Validate any supported input and return the canonical long frame.

    Parameters
    ----------
    data : array-like (time,), pandas.Series, or DataFrame (long, wide or single)
    id_col, time_col, target_col : column names; unnamed, they default to ``unique_id``, ``ds``
        and ``y``. A column named here must exist. Without ``layout``, a frame with an id column
        is long; one with a named ``target_col`` or a single value column is one series; one with
        several value columns is wide (every column beside the time is a series), unless one of
        them is called ``y``: that is ambiguous and refused. A frame without a time column takes
        its times from the index (wide and single only).
    source : file name used in error messages (rows are then reported as file lines).
    layout : ``"long"``, ``"wide"`` or ``"single"``: say which instead of letting it be inferred.
    ignore_cols : columns to leave out on purpose; any other column not used is an error.
    keep_missing : keep missing target values (NaN) instead of refusing them, for a model that
        handles them (``LSTMForecaster(missing=...)``); infinite values are still refused.

    Returns
    -------
    DataFrame with columns ``unique_id`` (str), ``ds`` (datetime64, time-zone aware if the
    input's times were, or int64), ``y`` (float64), grouped by series in order of first
    appearance, time ascending within each series. :func:`~lstmcast.layout.layouts` says how
    it was read.
    """
    panel, how = panel_of(
        data, id_col, time_col, target_col, Where(source), layout, tuple(ignore_cols),
        keep_missing=keep_missing,
    )  # fmt: skip
    return with_layouts(panel.to_frame(), (how,))


def panel_of(
    data: Any,
    id_col: str | None,
    time_col: str | None,
    target_col: str | None,
    where: Where,
    layout: str | None,
    ignore_cols: tuple[str, ...],
    name: str | None = None,
    index_time: bool | None = None,
    covariate_cols: tuple[str, ...] = (),
    keep_missing: bool = False,
) -> tuple[Panel, Layout]:
    """Validate any supported input into a :class:`Panel`, and say how it was read.

    ``name``: the input's name in messages and its :class:`Layout` when rows are not described
    as its lines (a Parquet file). ``index_time``: whether times may come from a frame's index;
    by default only for a frame that is not a file's (a file's times are a column).
    ``covariate_cols``: columns read beside the target into ``Panel.covariates`` (numbers; a
    missing value stays NaN for the model's ``covariate_missing`` to handle). ``keep_missing``:
    a missing target value stays NaN too, for the model's ``missing`` to handle.
    """
    pd = _pd()
    name = where.source if name is None else name
    columns: RawColumns
    raw_covariates = None
    if covariate_cols and not isinstance(data, pd.DataFrame):
        raise ConfigError(
            f"covariates {list(covariate_cols)} are columns of a DataFrame; got "
            f"{type(data).__name__}"
        )
    if isinstance(data, pd.DataFrame):
        index_time = where.source is None if index_time is None else index_time
        how, (time, ident, values) = plan_columns(
            list(data.columns), id_col, time_col, target_col, layout, ignore_cols, name,
            index_time, covariate_cols,
        )  # fmt: skip
        if covariate_cols:
            raw_covariates = [data[column] for column in covariate_cols]
        if how.kind == "long":
            columns = long_columns(data, ident, time, values[0], where)
        else:
            columns = wide_columns(data, time, values)
            where = where.per_series(len(data))
    else:
        if (
            layout is not None
            or ignore_cols
            or any(name is not None for name in (id_col, time_col, target_col))
        ):
            raise ConfigError(
                "column names, layout and ignore_cols apply to DataFrames; "
                f"got {type(data).__name__}"
            )
        how = Layout("array", name)
        if isinstance(data, pd.Series):
            index = data.index
            ds = index if not isinstance(index, pd.RangeIndex) else np.arange(len(data))
            name = str(data.name) if data.name is not None else SINGLE_SERIES_ID
            columns = (RowIds.single(name, len(data)), ds, data.to_numpy(), 1)
        else:
            values = np.asarray(data)
            if values.ndim != 1:
                raise DataError(
                    f"an array input must be 1-D (one series), got shape {values.shape}; "
                    "pass many series as a wide or long DataFrame"
                )
            columns = (
                RowIds.single(SINGLE_SERIES_ID, len(values)),
                np.arange(len(values)),
                values,
                1,
            )
    covariates = None
    if raw_covariates is not None:
        covariates = np.stack(
            [
                _parse_covariate(raw, str(column), columns[0], where)
                for raw, column in zip(raw_covariates, covariate_cols, strict=True)
            ],
            axis=1,
        )
    panel, tz_note = _validate(
        *columns, where, covariates, tuple(map(str, covariate_cols)), keep_missing
    )
    return panel, replace(how, n_series=len(panel), tz=panel.tz, tz_note=tz_note)


def _zone_name(tz: Any) -> str:
    """A time zone as text pandas reads back: ``Europe/Paris``, ``UTC`` or ``+01:00``."""
    if isinstance(tz, datetime.timezone):
        offset = tz.utcoffset(None)
        if not offset:
            return "UTC"
        minutes = int(offset.total_seconds()) // 60
        sign = "-" if minutes < 0 else "+"
        return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    return str(tz)


def _parse_times(raw: Any, ids: RowIds, where: Where) -> tuple[Any, str | None, str | None]:
    """Times as int64 (step counts) or naive-UTC datetime64, their zone and a note on it.

    Dates keep the resolution pandas gave them (s, ms, us or ns): code on them must not assume
    nanoseconds.

    Anything else is an error naming the row. Text with one UTC offset keeps it as the zone;
    text whose offsets differ (a daylight-saving change) is converted to UTC, and the note says so.
    """
    pd = _pd()
    series = pd.Series(raw, copy=False)  # read only: no copy of millions of rows
    missing = series.isna().to_numpy()
    if missing.any():
        pos = int(np.argmax(missing))
        raise DataError(f"series {ids[pos]!r} has a missing timestamp at {where(pos)}")
    if pd.api.types.is_datetime64_any_dtype(series):
        return _naive_utc(series), _zone_of(series), None
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
                f"{where(pos)}, beyond what 64-bit integers hold; use dates or "
                "smaller integer steps"
            )
        if np.issubdtype(numbers.dtype, np.floating):
            fractional = numbers != np.round(numbers)
            if fractional.any():
                pos = int(np.argmax(fractional))
                raise DataError(
                    f"series {ids[pos]!r} has a non-integer time step {numbers[pos]} at "
                    f"{where(pos)}; use dates or integer steps"
                )
        return numbers.astype(np.int64), None, None
    text = series.astype(str)
    note = None
    with warnings.catch_warnings():
        # pandas warns when it cannot infer a format; the error below says it better.
        warnings.simplefilter("ignore", UserWarning)
        try:
            try:
                parsed = pd.to_datetime(text)
            except ValueError as error:
                if "Mixed timezones" not in str(error):
                    raise
                parsed = pd.to_datetime(text, utc=True)
                note = "converted from mixed UTC offsets, e.g. at a daylight-saving change"
            return _naive_utc(parsed), _zone_of(parsed), note
        except (ValueError, TypeError, OverflowError):
            # Name the first value that does not follow the format of the first one.
            first_format = pd.tseries.api.guess_datetime_format(text.iloc[0])
            parsed = pd.to_datetime(text, errors="coerce", format=first_format, utc=True)
    bad = parsed.isna().to_numpy()
    pos = int(np.argmax(bad)) if bad.any() else 0
    raise DataError(
        f"cannot read timestamp {text.iloc[pos]!r} of series {ids[pos]!r} at "
        f"{where(pos)}: timestamps must be dates in one format "
        "(e.g. 2024-01-31 or 2024-01-31 13:00, with one UTC offset or none) or integer steps"
    )


def _zone_of(times: Any) -> str | None:
    tz = getattr(times.dt, "tz", None)
    return None if tz is None else _zone_name(tz)


def _naive_utc(times: Any) -> np.ndarray:
    """datetime64 without a time zone: aware timestamps are converted to UTC (documented)."""
    if getattr(times.dt, "tz", None) is not None:
        times = times.dt.tz_convert("UTC").dt.tz_localize(None)
    return times.to_numpy()


def _numbers(
    raw: Any, ids: RowIds, where: Where, subject: str, hint: str, booleans: str | None = None
) -> np.ndarray:
    """Column ``raw`` as float64 (rows,), NaN where a cell is empty; a value that is not a
    number is an error: ``subject`` (with ``{series}`` for the series id) "has a non-numeric
    value ... at <row>; " ``hint``. Booleans are 0 and 1, or with ``booleans`` that error."""
    pd = _pd()
    series = pd.Series(raw, copy=False)  # read only: no copy of millions of rows
    if pd.api.types.is_bool_dtype(series):
        if booleans is not None:
            raise DataError(booleans)
        return series.to_numpy(dtype=np.float64)
    numbers = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)
    not_numeric = np.isnan(numbers) & series.notna().to_numpy()
    if not_numeric.any():
        pos = int(np.argmax(not_numeric))
        raise DataError(
            f"{subject.format(series=repr(ids[pos]))} has a non-numeric value "
            f"{series.iloc[pos]!r} at {where(pos)}; {hint}"
        )
    return numbers


def _parse_values(raw: Any, ids: RowIds, where: Where, keep_missing: bool = False) -> np.ndarray:
    """The target as float64 (rows,); NaN and inf refused, or with ``keep_missing`` inf only."""
    numbers = _numbers(
        raw, ids, where, "series {series}", "the target must be numbers",
        booleans="target values are booleans; expected numbers",
    )  # fmt: skip
    checks = (np.isinf(numbers),) if keep_missing else (np.isnan(numbers), np.isinf(numbers))
    for bad in checks:
        if bad.any():
            pos = int(np.argmax(bad))
            what = "a missing value (NaN)" if np.isnan(numbers[pos]) else f"{numbers[pos]}"
            raise DataError(
                f"series {ids[pos]!r} has {what} at {where(pos)}; "
                "fill or remove it before forecasting (lstmcast drops nothing silently)"
            )
    return numbers


def _parse_covariate(raw: Any, column: str, ids: RowIds, where: Where) -> np.ndarray:
    """A covariate column as float64 (rows,): numbers or booleans; NaN kept, inf refused."""
    numbers = _numbers(
        raw, ids, where, f"covariate {column!r} of series {{series}}",
        "covariates must be numbers (encode categories as numbers, or give per-series ones as "
        "static_cols)",
    )  # fmt: skip
    infinite = np.isinf(numbers)
    if infinite.any():
        pos = int(np.argmax(infinite))
        raise DataError(
            f"covariate {column!r} of series {ids[pos]!r} is {numbers[pos]} at {where(pos)}"
        )
    return numbers


def _validate(
    ids: RowIds,
    raw_times: Any,
    raw_values: Any,
    repeats: int,
    where: Where,
    covariates: np.ndarray | None = None,
    covariate_names: tuple[str, ...] = (),
    keep_missing: bool = False,
) -> tuple[Panel, str | None]:
    """Parse and check the columns of every row; group the rows by series into a Panel.

    Also returns the note on how the time zone was chosen (see :func:`_parse_times`).
    """
    if len(ids.codes) == 0:
        raise DataError(f"{where.source or 'the data'} has no rows")
    y = _parse_values(raw_values, ids, where, keep_missing)
    ds, tz, note = _parse_times(raw_times, ids, where)
    if repeats > 1:
        ds = np.tile(ds, repeats)
    # Group rows by series (stable, so time order within a series is the input's order).
    codes = ids.codes
    order = np.arange(len(codes))
    if (codes[1:] < codes[:-1]).any():  # most frames come grouped already: skip the reorder
        order = np.argsort(codes, kind="stable")
        y, ds, codes = y[order], ds[order], codes[order]
        covariates = None if covariates is None else covariates[order]
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
                f"series {ids.names[codes[pos]]!r} has {what}: {show_time(ds[pos])} follows "
                f"{show_time(ds[pos - 1])} at {where(int(order[pos]))}; {fix}"
            )
    starts = np.concatenate([[0], np.flatnonzero(~same_series) + 1, [len(codes)]])
    panel = Panel(
        ids=ids.names[codes[starts[:-1]]],
        y=y,
        ds=ds,
        starts=starts.astype(np.int64),
        tz=tz,
        covariates=covariates,
        covariate_names=covariate_names,
    )
    return panel, note


def split(
    df: Any, test_size: int | float, covariate_cols: Sequence[str] = (), keep_missing: bool = False
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split every series by time: the last ``test_size`` points of each go to the test part.

    ``test_size`` is a number of points (int) or a fraction of each series (0 < float < 1,
    rounded to the nearest point). Returns ``(train, test)`` long frames, with the
    ``covariate_cols`` of ``df`` beside the target. ``keep_missing``: as in :func:`to_long`.
    """
    panel, how = panel_of(
        df, None, None, None, Where(None), None, (), covariate_cols=tuple(covariate_cols),
        keep_missing=keep_missing,
    )  # fmt: skip
    frame = with_layouts(panel.to_frame(), (how,))
    lengths = panel.lengths
    Rule((int, float), 0, low_open=True).check("test_size", test_size)
    if isinstance(test_size, float):
        if test_size >= 1:
            raise ConfigError(f"a fractional test_size must be below 1, got {test_size}")
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

    ``y`` (rows,) float64; ``ds`` (rows,) datetime64 (naive, in UTC; any resolution) or int64;
    ``ids`` one str per series; ``tz`` the zone the times are shown in (None: naive or integer
    times); ``covariates`` (rows, C) float64 the columns ``covariate_names`` read beside the
    target (NaN where missing), None without any. ``missing`` (rows,) int8, for a model that
    handles missing values (:mod:`lstmcast.missing`): 0 a value of the data, 1 a value missing
    from it, 2 a time ``fill_gaps`` inserted; ``y`` there holds the fill (NaN: masked). None:
    no point was missing.
    Built from a validated long frame; slices of it are views, never copies.
    """

    ids: np.ndarray
    y: np.ndarray
    ds: np.ndarray
    starts: np.ndarray
    tz: str | None = None
    covariates: np.ndarray | None = None
    covariate_names: tuple[str, ...] = ()
    missing: np.ndarray | None = None

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, covariate_names: Sequence[str] = ()) -> Panel:
        """The panel of a canonical long frame (and its ``covariate_names`` columns)."""
        ids = frame[ID].to_numpy(dtype=object)
        boundaries = np.flatnonzero(ids[1:] != ids[:-1]) + 1
        starts = np.concatenate([[0], boundaries, [len(frame)]]).astype(np.int64)
        times = frame[TIME]
        zone = _zone_of(times) if _pd().api.types.is_datetime64_any_dtype(times) else None
        return cls(
            ids=ids[starts[:-1]],
            y=frame[TARGET].to_numpy(dtype=np.float64),
            ds=_naive_utc(times) if zone is not None else times.to_numpy(),
            starts=starts,
            tz=zone,
            covariates=(
                frame[list(covariate_names)].to_numpy(dtype=np.float64) if covariate_names else None
            ),
            covariate_names=tuple(covariate_names),
        )

    @classmethod
    def from_data(
        cls,
        data: Any,
        *,
        id_col: str | None = None,
        time_col: str | None = None,
        target_col: str | None = None,
        source: str | None = None,
        covariate_cols: Sequence[str] = (),
        keep_missing: bool = False,
    ) -> Panel:
        """Validate any supported input (arguments as in :func:`to_long`) and build the panel,
        reading ``covariate_cols`` beside the target."""
        where = Where(source)
        covariates = tuple(covariate_cols)
        return panel_of(
            data, id_col, time_col, target_col, where, None, (), covariate_cols=covariates,
            keep_missing=keep_missing,
        )[0]  # fmt: skip

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

    def series_of(self, rows: Any) -> Any:
        """The series (position) that each of ``rows`` (row numbers of ``y``) belongs to: an
        int64 array shaped like ``rows``, or one integer for one row."""
        found = np.searchsorted(self.starts, rows, side="right") - 1
        return int(found) if np.ndim(found) == 0 else found

    def tail(self, length: int) -> Panel:
        """The last ``length`` points of every series (all of a shorter one)."""
        return self._rows(np.maximum(self.starts[:-1], self.ends - length), self.ends)

    def head(self, lengths: np.ndarray) -> Panel:
        """The first ``lengths[i]`` points of series ``i``."""
        return self._rows(self.starts[:-1], self.starts[:-1] + lengths)

    def series(self, positions: np.ndarray) -> Panel:
        """The series at ``positions`` (k,), in that order, as a new panel."""
        begin, end = self.starts[:-1][positions], self.ends[positions]
        return replace(self._rows(begin, end), ids=self.ids[positions])

    def _rows(self, begin: np.ndarray, end: np.ndarray) -> Panel:
        """Rows ``begin[i]:end[i]`` of each series, (n,) each, as a new panel."""
        rows = concatenated_ranges(begin, end)
        starts = np.concatenate([[0], np.cumsum(end - begin)]).astype(np.int64)
        return Panel(
            ids=self.ids,
            y=self.y[rows],
            ds=self.ds[rows],
            starts=starts,
            tz=self.tz,
            covariates=None if self.covariates is None else self.covariates[rows],
            covariate_names=self.covariate_names,
            missing=None if self.missing is None else self.missing[rows],
        )

    def positions(self, ids: str | Sequence[str]) -> np.ndarray:
        """Positions (k,) of the series named ``ids`` (one id or several), in that order; a
        DataError names the first missing one and some that exist."""
        position = {str(name): i for i, name in enumerate(self.ids)}
        wanted = [ids] if isinstance(ids, str) else list(ids)
        missing = [name for name in wanted if name not in position]
        if missing:
            raise DataError(
                f"series {missing[0]!r} not found; there are {len(self)} series: "
                + ", ".join(repr(str(i)) for i in self.ids[:5])
                + (", ..." if len(self) > 5 else "")
            )
        return np.array([position[name] for name in wanted], dtype=np.int64)

    @property
    def observed(self) -> np.ndarray:
        """``y`` as the data had it, (rows,): NaN where a value was missing (filled, masked or
        inserted), so no fill is ever taken for an actual value."""
        if self.missing is None:
            return self.y
        return np.where(self.missing > 0, np.nan, self.y)

    def to_frame(self) -> pd.DataFrame:
        """The long frame ``unique_id, ds, y`` (and the covariates), ``y`` as observed."""
        pd = _pd()
        columns = {ID: np.repeat(self.ids, self.lengths), TIME: self.in_zone(self.ds)}
        columns[TARGET] = self.observed
        if self.covariates is not None:
            columns |= dict(zip(self.covariate_names, self.covariates.T, strict=True))
        return pd.DataFrame(columns)

    def in_zone(self, times: np.ndarray) -> Any:
        """``times`` (naive UTC, as ``ds``) shown in the panel's zone; as they are without one."""
        if self.tz is None:
            return times
        return _pd().DatetimeIndex(times).tz_localize("UTC").tz_convert(self.tz)

    def steps(self) -> list[Any]:
        """Each series' time step: an int for integer time, a pandas offset for dates."""
        return series_steps(self.ds, self.starts, self.ids, self.tz)


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
