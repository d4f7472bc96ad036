"""Data in: any input is validated column by column into a :class:`Panel` (flat arrays), whose
frame is the canonical long frame ``unique_id, ds, y`` (:func:`to_long`).

Accepted inputs:

- a 1-D array, list or ``pandas.Series``: one series (``ds`` = the Series' index, else 0, 1, ...);
- a wide ``DataFrame``: one column per series, ``ds`` from the index (or from ``time_col`` if it
  is a column);
- a long ``DataFrame`` with an id, a time and a target column (names overridable);
- a single-series ``DataFrame``: a time and one value column.

Nothing is dropped, renamed or filled silently: unknown, unused, duplicated or ambiguous columns,
NaN, inf, non-numeric values, unparseable, duplicated or unsorted timestamps and irregular steps
are errors that name the series and the row (a file's line). How an input was read (its
:class:`Layout`) is kept on the returned frame (:func:`layouts`). Times in a zone stay in it.
"""

from __future__ import annotations

import csv
import datetime
import logging
import os
import re
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .columns import ID, TARGET, TIME
from .errors import ConfigError, DataError, count, option, points, setting

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger("lstmcast")

SINGLE_SERIES_ID = "series"


def _pd() -> Any:
    # pandas costs ~0.3 s to import; the core path only needs it when a frame is involved.
    import pandas

    return pandas


def _preview(columns: Any, limit: int = 8) -> str:
    names = [str(c) for c in columns]
    more = f", ... ({len(names)} in all)" if len(names) > limit else ""
    return ", ".join(repr(n) for n in names[:limit]) + more


# The layouts a frame or file can have; see :func:`to_long`.
LAYOUTS = ("long", "wide", "single")
# Where a returned frame keeps how it was read (see :func:`layouts`).
_LAYOUTS_KEY = "lstmcast.layouts"


@dataclass(frozen=True)
class Layout:
    """How one input was read: its layout and the part each column played.

    ``kind`` is ``"long"``, ``"wide"``, ``"single"`` (one series: a time and a value column) or
    ``"array"`` (a 1-D array or Series). ``time_col`` is None when times come from the frame's
    index or are positions 0, 1, ... ``series_cols`` are a wide layout's series columns,
    ``ignored`` the columns left out because ``ignore_cols`` named them. ``tz`` is the times' zone
    (None: naive or integer times); ``tz_note`` says why it is UTC when the offsets were mixed.
    ``str(layout)`` is the one-line description the command-line tool prints.
    """

    kind: str
    source: str | None = None
    time_col: str | None = None
    target_col: str | None = None
    id_col: str | None = None
    series_cols: tuple[str, ...] = ()
    ignored: tuple[str, ...] = ()
    n_series: int = 1
    tz: str | None = None
    tz_note: str | None = None

    def __str__(self) -> str:
        time = f"time {self.time_col!r}" if self.time_col is not None else "time from the index"
        if self.kind == "long":
            text = (
                f"long, id {self.id_col!r}, {time}, target {self.target_col!r}, "
                f"{self.n_series} series"
            )
        elif self.kind == "wide":
            text = f"wide, {time}, {self.n_series} series from columns {_preview(self.series_cols)}"
        elif self.kind == "single":
            text = f"one series, {time}, target {self.target_col!r}"
        else:
            text = "one series from an array"
        if self.ignored:
            text += f", ignoring {_preview(self.ignored)} as asked"
        if self.tz is not None:
            text += f", times in {self.tz}" + (f" ({self.tz_note})" if self.tz_note else "")
        return f"{self.source}: {text}" if self.source else text


def layouts(frame: pd.DataFrame) -> tuple[Layout, ...]:
    """How lstmcast read ``frame``: one :class:`Layout` per file or input it came from.

    Set on the frames :func:`read_csv`, :func:`read_parquet`, :func:`read_files` and
    :func:`to_long` return (in ``frame.attrs``); empty for any other frame.
    """
    return tuple(frame.attrs.get(_LAYOUTS_KEY, ()))


@dataclass(frozen=True)
class _Where:
    """Names an input row in messages: the line of a file, or the row of a frame.

    ``file``: a CSV file whose lines are counted as an editor shows them (blank lines and
    newlines inside quoted fields included). ``rows``: frame rows per series when positions run
    series after series over one frame (a wide layout), else 0.
    """

    source: str | None = None
    file: Path | None = None
    rows: int = 0

    def __call__(self, position: int) -> str:
        row = position % self.rows if self.rows else position
        if self.file is not None:
            line = _line_of_row(self.file, row)
            if line is not None:
                return f"line {line} of {self.source}"
            return f"data row {row + 1} of {self.source}"
        # A frame read from a CSV file elsewhere: the header is line 1.
        return f"line {row + 2} of {self.source}" if self.source else f"row {row}"

    def per_series(self, rows: int) -> _Where:
        return _Where(self.source, self.file, rows)


def _blank(fields: list[str]) -> bool:
    # pandas skips blank (or whitespace-only) lines, so they are not data rows.
    return not fields or (len(fields) == 1 and not fields[0].strip())


def _records(file: Path) -> Iterator[tuple[int, list[str]]]:
    """Each record of a CSV file that pandas reads (the header first), with the line it begins on.

    Lines count as an editor shows them: blank lines and newlines inside quoted fields included.
    """
    with file.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        end = 0
        for fields in reader:
            start, end = end + 1, reader.line_num
            if not _blank(fields):
                yield start, fields


def _line_of_row(file: Path, row: int) -> int | None:
    """The line of ``file`` (from 1) on which data row ``row`` (from 0) begins; None if unknown."""
    try:
        for number, (line, _) in enumerate(_records(file)):
            if number == row + 1:  # record 0 is the header
                return line
    except (OSError, UnicodeDecodeError, csv.Error):
        return None
    return None


def _ragged_row(file: Path, width: int) -> tuple[int, int] | None:
    """The line and field count of the first data row of ``file`` without ``width`` fields."""
    try:
        for number, (line, fields) in enumerate(_records(file)):
            if number > 0 and len(fields) != width:
                return line, len(fields)
    except (OSError, UnicodeDecodeError, csv.Error):
        return None
    return None


def to_long(
    data: Any,
    *,
    id_col: str | None = None,
    time_col: str | None = None,
    target_col: str | None = None,
    source: str | None = None,
    layout: str | None = None,
    ignore_cols: Sequence[str] = (),
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

    Returns
    -------
    DataFrame with columns ``unique_id`` (str), ``ds`` (datetime64, time-zone aware if the
    input's times were, or int64), ``y`` (float64), grouped by series in order of first
    appearance, time ascending within each series. :func:`layouts` says how it was read.
    """
    panel, how = _read(
        data, id_col, time_col, target_col, _Where(source), layout, tuple(ignore_cols)
    )
    return _with_layouts(panel.to_frame(), (how,))


def _with_layouts(frame: pd.DataFrame, how: tuple[Layout, ...]) -> pd.DataFrame:
    frame.attrs[_LAYOUTS_KEY] = how
    return frame


def _validated(
    data: Any, id_col: str | None, time_col: str | None, target_col: str | None, source: str | None
) -> Panel:
    """What :func:`to_long` checks, as a :class:`Panel` (no frame is built on the way)."""
    return _read(data, id_col, time_col, target_col, _Where(source), None, ())[0]


def _read(
    data: Any,
    id_col: str | None,
    time_col: str | None,
    target_col: str | None,
    where: _Where,
    layout: str | None,
    ignore_cols: tuple[str, ...],
    name: str | None = None,
    index_time: bool | None = None,
) -> tuple[Panel, Layout]:
    """Validate any supported input into a :class:`Panel`, and say how it was read.

    ``name``: the input's name in messages and its :class:`Layout` when rows are not described
    as its lines (a Parquet file). ``index_time``: whether times may come from a frame's index;
    by default only for a frame that is not a file's (a file's times are a column).
    """
    pd = _pd()
    name = where.source if name is None else name
    if isinstance(data, pd.DataFrame):
        index_time = where.source is None if index_time is None else index_time
        how, (time, ident, values) = _plan(
            list(data.columns), id_col, time_col, target_col, layout, ignore_cols, name, index_time
        )
        if how.kind == "long":
            columns = _long_from_long(data, ident, time, values[0], where)
        else:
            columns = _long_from_wide(data, time, values)
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
            columns = (_RowIds.single(name, len(data)), ds, data.to_numpy(), 1)
        else:
            values = np.asarray(data)
            if values.ndim != 1:
                raise DataError(
                    f"an array input must be 1-D (one series), got shape {values.shape}; "
                    "pass many series as a wide or long DataFrame"
                )
            columns = (
                _RowIds.single(SINGLE_SERIES_ID, len(values)),
                np.arange(len(values)),
                values,
                1,
            )
    panel, tz_note = _validate(*columns, where)
    return panel, replace(how, n_series=len(panel), tz=panel.tz, tz_note=tz_note)


_KIND_NAMES = {"long": "long", "wide": "wide", "single": "one series"}
_ROLES = {
    "time_col": "time column",
    "target_col": "target column",
    "id_col": "id column",
    "ignore_cols": "column to ignore",
}


def _near(name: Any, names: list[Any]) -> str:
    """A hint naming a column that differs from ``name`` only in case or surrounding spaces."""
    wanted = str(name).strip().casefold()
    for other in names:
        if str(other).strip().casefold() == wanted and other != name:
            return f" ({str(other)!r} differs only in case or spaces: names must match exactly)"
    return ""


def _plan(
    names: list[Any],
    id_col: str | None,
    time_col: str | None,
    target_col: str | None,
    layout: str | None,
    ignore_cols: tuple[str, ...],
    source: str | None,
    index_time: bool,
) -> tuple[Layout, tuple[Any, Any, list[Any]]]:
    """Which column plays which part in a frame with columns ``names``; nothing is left unused.

    ``index_time``: the times may come from the frame's index (a frame built in Python, a
    Parquet file's stored index), not only from a column. Also returns the column labels as they
    are (a frame's may be numbers): the time (None: the index), the id (None: no id column) and
    the value columns (the target, or a wide layout's series). Refuses duplicated column names,
    named columns that do not exist, columns that would be
    ignored without ``ignore_cols`` naming them, and frames whose layout is ambiguous.
    """
    what = source or "the frame"
    shown = _preview(names)
    if layout is not None and layout not in LAYOUTS:
        raise ConfigError(
            f"{setting('layout')} must be one of {', '.join(map(repr, LAYOUTS))}, got {layout!r}"
        )
    seen: set[Any] = set()
    for name in names:
        if name in seen:
            raise DataError(
                f"{what} has two columns named {str(name)!r}; rename one (lstmcast never "
                "renames columns)"
            )
        seen.add(name)
    named = [("time_col", time_col), ("target_col", target_col), ("id_col", id_col)]
    named += [("ignore_cols", name) for name in ignore_cols]
    for keyword, name in named:
        if name is not None and name not in seen:
            hint = ""
            if keyword == "id_col":
                hint = f"; leave out {option('id_col')} for a single series"
            raise DataError(
                f"{_ROLES[keyword]} {name!r} not found; columns are {shown}{_near(name, names)}"
                f"{hint}"
            )
    roles: dict[Any, str] = {}
    for keyword, name in named:
        if name is not None and roles.setdefault(name, keyword) != keyword:
            raise ConfigError(
                f"column {name!r} is named both by {option(roles[name])} and by {option(keyword)}"
            )
    ignored = tuple(ignore_cols)
    unnamed_time = TIME if TIME in seen and TIME not in ignore_cols else None
    time = time_col if time_col is not None else unnamed_time
    if time is None and (not index_time or layout == "long" or id_col is not None):
        raise DataError(
            f"time column {TIME!r} not found; columns are {shown}{_near(TIME, names)}. "
            f"Name it with {option('time_col')}"
        )
    rest = [name for name in names if name != time and name not in ignored]
    unnamed_id = ID if ID in rest and layout in (None, "long") else None
    ident = id_col if id_col is not None else unnamed_id
    kind = layout
    if kind is None:
        if ident is not None:
            kind = "long"
        elif target_col is not None or len(rest) == 1:
            kind = "single"
        elif TARGET in rest:
            others = [name for name in rest if name != TARGET]
            raise DataError(
                f"{what} is ambiguous: one series {TARGET!r} with {_preview(others)} beside it, "
                f"or wide with {len(rest)} series {_preview(rest)}. Say which: "
                f"{option('layout', 'wide')}, or {option('target_col', TARGET)} with "
                f"{option('ignore_cols', [str(name) for name in others])}"
            )
        else:
            kind = "wide"
    how = Layout(
        kind,
        source,
        time_col=None if time is None else str(time),
        ignored=tuple(str(name) for name in ignored),
    )
    if kind == "long":
        if time is None:
            raise DataError(
                f"time column {TIME!r} not found; columns are {shown}{_near(TIME, names)}. "
                f"Name it with {option('time_col')}"
            )
        if ident is None:
            raise DataError(
                f"{what} has no series id column {ID!r}, which a long layout needs; columns are "
                f"{shown}{_near(ID, names)}. Name it with {option('id_col')}"
            )
        target = target_col if target_col is not None else TARGET
        if target not in seen:
            raise DataError(
                f"target column {target!r} not found; columns are {shown}"
                f"{_near(target, names)}. Name it with {option('target_col')}"
            )
        used, values = [ident, target], [target]
        how = replace(how, id_col=str(ident), target_col=str(target))
        roles_shown = f"id {str(ident)!r}, time {str(time)!r}, target {str(target)!r}"
    elif kind == "single":
        if id_col is not None:
            raise ConfigError(
                f"{option('id_col')} names the id column of a long layout; one series has none"
            )
        if target_col is not None:
            target = target_col
        elif len(rest) == 1 or TARGET in rest:
            target = rest[0] if len(rest) == 1 else TARGET
        else:
            raise DataError(
                f"which column of {what} holds the series? Columns are {shown}; name it with "
                f"{option('target_col')}, or read one series per column with "
                f"{option('layout', 'wide')}"
            )
        used = values = [target]
        how = replace(how, target_col=str(target))
        time_shown = "the index" if time is None else repr(str(time))
        roles_shown = f"time {time_shown}, target {str(target)!r}"
    else:
        for keyword, name in (("target_col", target_col), ("id_col", id_col)):
            if name is not None:
                raise ConfigError(
                    f"{option(keyword)} names a column of a long or single-series layout; in a "
                    "wide one every column beside the time is a series"
                )
        if not rest:
            beside = "" if time is None else f" beside the time column {str(time)!r}"
            raise DataError(f"no series columns found{beside}")
        used = values = list(rest)
        how = replace(how, series_cols=tuple(str(name) for name in rest))
        roles_shown = ""  # a wide layout uses every column
    unused = [name for name in rest if name not in used]
    if unused:
        pronoun = "it" if len(unused) == 1 else "them"
        hint = ""
        if kind == "single" and layout is not None:
            hint = f"; to read every column as a series, use {option('layout', 'wide')}"
        elif kind == "single" and target_col is not None:
            hint = f"; to read every column as a series, leave out {option('target_col')}"
        raise DataError(
            f"{what}: {'column' if len(unused) == 1 else 'columns'} {_preview(unused)} would be "
            f"ignored (read as {_KIND_NAMES[kind]}: {roles_shown}); lstmcast ignores no column "
            f"silently: remove {pronoun}, or ignore {pronoun} on purpose with "
            f"{option('ignore_cols', [str(name) for name in unused])}{hint}"
        )
    return how, (time, ident if kind == "long" else None, values)


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


# Row ids, raw times (rows / repeats,), raw values (rows,), and how often the times repeat: a wide
# layout's times are those of every series.
Columns = tuple[_RowIds, Any, Any, int]


def _long_from_long(
    data: pd.DataFrame, id_col: str, time_col: str, target_col: str, where: _Where
) -> Columns:
    column = data[id_col]
    # Ids are text: "NA" or "None" name series; only an empty cell is missing.
    missing = column.isna().to_numpy() | (column.astype(str) == "").to_numpy()
    if missing.any():
        pos = int(np.argmax(missing))
        raise DataError(
            f"the series id (column {id_col!r}) is missing at {where(pos)}; every row needs one"
        )
    ids = _RowIds.of(column)
    return ids, data[time_col].to_numpy(), data[target_col].to_numpy(), 1


def _long_from_wide(data: pd.DataFrame, time_col: str | None, value_cols: list[Any]) -> Columns:
    pd = _pd()
    if time_col is not None:
        ds = data[time_col].to_numpy()
    elif isinstance(data.index, pd.RangeIndex):
        ds = np.arange(len(data))
    else:
        ds = data.index.to_numpy()
    wide = data[value_cols]
    n_rows, n_series = wide.shape
    by_column = _RowIds.of(np.asarray(wide.columns, dtype=object))  # (n_series,) codes
    ids = _RowIds(np.repeat(by_column.codes, n_rows), by_column.names)
    return ids, ds, wide.to_numpy().T.reshape(-1), n_series


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


def _parse_times(raw: Any, ids: _RowIds, where: _Where) -> tuple[Any, str | None, str | None]:
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


def _show_time(value: Any) -> str:
    """A timestamp as a person writes it (2024-01-01 02:00:00), an integer step as is."""
    return str(_pd().Timestamp(value)) if isinstance(value, np.datetime64) else str(value)


def _naive_utc(times: Any) -> np.ndarray:
    """datetime64 without a time zone: aware timestamps are converted to UTC (documented)."""
    if getattr(times.dt, "tz", None) is not None:
        times = times.dt.tz_convert("UTC").dt.tz_localize(None)
    return times.to_numpy()


def _parse_values(raw: Any, ids: _RowIds, where: _Where) -> np.ndarray:
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
            f"{where(pos)}; the target must be numbers"
        )
    for bad in (np.isnan(numbers), np.isinf(numbers)):
        if bad.any():
            pos = int(np.argmax(bad))
            what = "a missing value (NaN)" if np.isnan(numbers[pos]) else f"{numbers[pos]}"
            raise DataError(
                f"series {ids[pos]!r} has {what} at {where(pos)}; "
                "fill or remove it before forecasting (lstmcast drops nothing silently)"
            )
    return numbers


def _validate(
    ids: _RowIds, raw_times: Any, raw_values: Any, repeats: int, where: _Where
) -> tuple[Panel, str | None]:
    """Parse and check the columns of every row; group the rows by series into a Panel.

    Also returns the note on how the time zone was chosen (see :func:`_parse_times`).
    """
    if len(ids.codes) == 0:
        raise DataError(f"{where.source or 'the data'} has no rows")
    y = _parse_values(raw_values, ids, where)
    ds, tz, note = _parse_times(raw_times, ids, where)
    if repeats > 1:
        ds = np.tile(ds, repeats)
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
                f"{_show_time(ds[pos - 1])} at {where(int(order[pos]))}; {fix}"
            )
    starts = np.concatenate([[0], np.flatnonzero(~same_series) + 1, [len(codes)]])
    panel = Panel(
        ids=ids.names[codes[starts[:-1]]], y=y, ds=ds, starts=starts.astype(np.int64), tz=tz
    )
    return panel, note


def _header(file: Path) -> list[str]:
    """The column names on the header line of a CSV file, as written.

    Read here because pandas renames what it reads (a second ``a`` becomes ``a.1``, an empty
    name ``Unnamed: 2``); lstmcast refuses both instead.
    """
    try:
        _, fields = next(_records(file), (0, []))
    except UnicodeDecodeError:
        raise _not_utf8(file) from None
    except csv.Error as error:
        raise DataError(f"{file.name} is not a readable CSV file: {error}") from None
    if not fields:
        raise DataError(f"{file.name} is empty; expected a header line and data rows")
    seen: set[str] = set()
    for number, name in enumerate(fields, start=1):
        if not name:
            if number == 1:
                why = (
                    " (a frame saved by pandas' to_csv keeps its index as an unnamed first "
                    "column: save with index=False)"
                )
            elif number == len(fields):
                why = " (or remove the comma that ends the header line and every row)"
            else:
                why = ""
            raise DataError(
                f"column {number} of the header line of {file.name} has no name; name it{why}"
            )
        if name in seen:
            raise DataError(
                f"{file.name} has two columns named {name!r} on its header line; rename one "
                "(lstmcast never renames columns)"
            )
        seen.add(name)
    return fields


def _not_utf8(file: Path) -> DataError:
    """The error for a file that is not UTF-8, naming the line and the first bad byte."""
    data = file.read_bytes()
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return DataError(
            f"{file.name} is UTF-16 text (it begins with a UTF-16 byte-order mark); re-save it as "
            "UTF-8 (iconv -f utf-16 -t utf-8 old.csv > new.csv)"
        )
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        before = data[: error.start]
        line_start = max(before.rfind(b"\n"), before.rfind(b"\r")) + 1
        line = len(re.findall(rb"\r\n|\r|\n", before)) + 1
        column = len(before[line_start:].decode("utf-8", errors="replace")) + 1
        return DataError(
            f"{file.name} is not UTF-8 text: line {line} has the byte "
            f"0x{data[error.start]:02x} at character {column}; re-save the file as UTF-8 "
            "(from Latin-1: iconv -f latin1 -t utf-8 old.csv > new.csv)"
        )
    return DataError(f"{file.name} is not UTF-8 text; re-save it as UTF-8")


def read_csv(
    path: str | os.PathLike[str],
    *,
    time_col: str | None = None,
    target_col: str | None = None,
    id_col: str | None = None,
    layout: str | None = None,
    ignore_cols: Sequence[str] = (),
) -> pd.DataFrame:
    """Read a CSV file into the validated long frame ``unique_id, ds, y``.

    The columns and layout are understood as in :func:`to_long` (``time_col`` defaults to
    ``ds``: a file's times are always a column); :func:`layouts` of the result says how. The
    file must be UTF-8; ids are text (``NA`` or ``None`` name a series, an empty cell is
    missing). Errors name the line of the file.
    """
    pd = _pd()
    file = Path(path)
    if not file.is_file():
        raise DataError(f"data file {str(file)!r} not found")
    # pandas' default missing-value markers ("", "NA", "nan", "null", ...), kept for every column
    # but the ids; pandas documents the list but exports it only here.
    from pandas._libs.parsers import STR_NA_VALUES

    header = _header(file)
    id_name = id_col if id_col is not None else ID
    # Ids are names: "01" and "1" are two series, "NA" is a series; never read them as numbers
    # or as missing. Every other column keeps pandas' missing-value markers.
    missing_markers = {name: sorted(STR_NA_VALUES) for name in header if name != id_name}
    try:
        frame = pd.read_csv(
            file,
            dtype={id_name: str},
            keep_default_na=False,
            na_values=missing_markers,
            dtype_backend="numpy_nullable",
        )
    except pd.errors.EmptyDataError:
        raise DataError(f"{file.name} is empty; expected a header line and data rows") from None
    except UnicodeDecodeError:
        raise _not_utf8(file) from None
    except pd.errors.ParserError as error:
        ragged = _ragged_row(file, len(header))
        if ragged is not None:  # pandas counts lines without blank ones and quoted newlines
            line, fields = ragged
            raise DataError(
                f"line {line} of {file.name} has {count(fields, 'field')}, but "
                "its header line names "
                f"{len(header)}; every row needs one field per column"
            ) from None
        first_line = str(error).strip().splitlines()[-1] if str(error).strip() else ""
        raise DataError(f"{file.name} is not a readable CSV file: {first_line}") from None
    if not isinstance(frame.index, pd.RangeIndex):
        # pandas takes the first columns as the index when rows have more fields than names.
        raise DataError(
            f"the data rows of {file.name} have more fields than its header line names "
            f"({_preview(header)}); name every column on the header line"
        )
    if list(frame.columns) != header:  # never expected: _header reads as pandas does
        raise DataError(f"the header line of {file.name} could not be read consistently")
    if len(frame) == 0:
        raise DataError(f"{file.name} has a header but no data rows")
    if len(frame.columns) == 1 and time_col is None and TIME not in frame.columns:
        raise DataError(
            f"{file.name} has a single column {str(frame.columns[0])!r}: is the delimiter a "
            "comma? lstmcast reads comma-separated files with a header line"
        )
    where = _Where(file.name, file)
    panel, how = _read(frame, id_col, time_col, target_col, where, layout, tuple(ignore_cols))
    return _with_layouts(panel.to_frame(), (how,))


# The file types a data directory may hold.
DATA_SUFFIXES = (".csv", ".parquet")


def read_parquet(
    path: str | os.PathLike[str],
    *,
    time_col: str | None = None,
    target_col: str | None = None,
    id_col: str | None = None,
    layout: str | None = None,
    ignore_cols: Sequence[str] = (),
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
    # pyarrow restores the pandas index a file was written with. A named one is a column of the
    # file (``ds`` or ``unique_id`` saved by set_index), unless it is the file's one unnamed-
    # column-free time index; positions 0, 1, ... (no index stored) are no times at all.
    index = frame.index
    names = [name for name in index.names if name is not None]
    index_time = not isinstance(index, _pd().RangeIndex)
    if names and (
        isinstance(index, _pd().MultiIndex)
        or index.name in (TIME, ID, time_col, id_col, target_col, *ignore_cols)
    ):
        clash = [name for name in names if name in frame.columns]
        if clash:
            raise DataError(
                f"{file.name} has an index and a column both named {str(clash[0])!r}; "
                "rename one (lstmcast never renames columns)"
            )
        frame = frame.reset_index(level=names)
        index_time = not isinstance(frame.index, _pd().RangeIndex)
    try:
        panel, how = _read(
            frame,
            id_col,
            time_col,
            target_col,
            _Where(),
            layout,
            tuple(ignore_cols),
            file.name,
            index_time=index_time,
        )
    except DataError as error:  # rows of a Parquet file are counted from 0, without a header
        text = str(error)
        raise DataError(text if file.name in text else f"{file.name}: {text}") from None
    return _with_layouts(panel.to_frame(), (how,))


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
    time_col: str | None = None,
    target_col: str | None = None,
    id_col: str | None = None,
    layout: str | None = None,
    ignore_cols: Sequence[str] = (),
) -> pd.DataFrame:
    """Read CSV and Parquet ``files``, each holding whole series, into one long frame.

    Every file read is logged (logger ``lstmcast``, level INFO); :func:`layouts` of the result
    says how each was read. A series found in two files is an error: a series is never split
    across files; so are files whose times are in different zones.
    """
    pd = _pd()
    frames = []
    first_file: dict[str, str] = {}
    how: list[Layout] = []
    for file in files:
        reader = read_parquet if file.suffix == ".parquet" else read_csv
        try:
            frame = reader(
                file,
                time_col=time_col,
                target_col=target_col,
                id_col=id_col,
                layout=layout,
                ignore_cols=ignore_cols,
            )
        except DataError as error:  # among several files, say which one
            text = str(error)
            if len(files) == 1 or file.name in text:
                raise
            raise DataError(f"{file.name}: {text}") from None
        ids = frame[ID].unique()
        for series_id in ids:
            if series_id in first_file:
                raise DataError(
                    f"series {series_id!r} is in both {first_file[series_id]} and {file.name}; "
                    "keep each series whole in one file"
                )
            first_file[series_id] = file.name
        this = layouts(frame)[0]
        if how and this.tz != how[0].tz:
            zones = [f"{layout.tz or 'no zone'} ({layout.source})" for layout in (how[0], this)]
            raise DataError(
                f"the times of the files are in different zones: {' and '.join(zones)}; "
                "convert them to one zone first"
            )
        log.info("read %s: %d series, %d rows", file.name, len(ids), len(frame))
        frames.append(frame)
        how.append(this)
    combined = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    return _with_layouts(combined, tuple(how))


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

    ``y`` (rows,) float64; ``ds`` (rows,) datetime64 (naive, in UTC; any resolution) or int64;
    ``ids`` one str per series; ``tz`` the zone the times are shown in (None: naive or integer
    times).
    Built from a validated long frame; slices of it are views, never copies.
    """

    ids: np.ndarray
    y: np.ndarray
    ds: np.ndarray
    starts: np.ndarray
    tz: str | None = None

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> Panel:
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
        return Panel(ids=self.ids, y=self.y[rows], ds=self.ds[rows], starts=starts, tz=self.tz)

    def to_frame(self) -> pd.DataFrame:
        pd = _pd()
        return pd.DataFrame(
            {ID: np.repeat(self.ids, self.lengths), TIME: self.in_zone(self.ds), TARGET: self.y}
        )

    def in_zone(self, times: np.ndarray) -> Any:
        """``times`` (naive UTC, as ``ds``) shown in the panel's zone; as they are without one."""
        if self.tz is None:
            return times
        return _pd().DatetimeIndex(times).tz_localize("UTC").tz_convert(self.tz)

    def steps(self) -> list[Any]:
        """Each series' time step: an int for integer time, a pandas offset for dates.

        Vectorised: series whose steps are all equal and short are settled at once; only the
        others (calendar frequencies like month ends, or irregular series) are looked at one by
        one.
        """
        lengths = self.lengths
        rows = len(self.y)
        if (lengths < 2).any():
            i = int(np.argmax(lengths < 2))
            time_step(self.ds[self.starts[i] : self.ends[i]], self.ids[i], self.tz)  # raises
        diffs = np.diff(self.ds)  # (rows - 1,), the last step of a series spans into the next
        first = diffs[self.starts[:-1]]  # each series' first step
        series_of_diff = np.repeat(np.arange(len(self)), lengths)[:-1]
        within = np.ones(rows - 1, dtype=bool)
        within[self.ends[:-1] - 1] = False
        uneven = np.zeros(len(self), dtype=bool)
        uneven[series_of_diff[within & (diffs != first[series_of_diff])]] = True
        integer_time = self.ds.dtype.kind in "iu"
        if not integer_time:  # equal steps of 28 days or more may be months or years
            uneven |= first >= _CALENDAR_SCALE
            if self.tz is not None:  # whole days in a zone are its calendar's days or weeks
                uneven |= first % _DAY == np.timedelta64(0, "D")
        offsets: dict[Any, Any] = {}
        result: list[Any] = []
        for i, step in enumerate(first):
            if uneven[i]:
                result.append(
                    time_step(self.ds[self.starts[i] : self.ends[i]], self.ids[i], self.tz)
                )
            elif integer_time:
                result.append(int(step))
            else:
                if step not in offsets:
                    offsets[step] = _fixed_step(step, self.tz)
                result.append(offsets[step])
        return result


def time_step(times: np.ndarray, series_id: str, tz: str | None = None) -> Any:
    """The regular step of one series' times: int for integer time, a pandas offset for dates.

    ``times`` (n,) int64 or naive-UTC datetime64 of any resolution; ``tz`` the zone whose
    calendar the dates follow (daily data in Europe/Paris is 23 or 25 hours apart at DST
    changes). Calendar steps are found too: month, quarter and year ends or starts, and a step
    of whole months on one day of the month (1 to 28), e.g. monthly on the 15th.
    """
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
    equal = bool((diffs == diffs[0]).all())
    whole_days_in_zone = tz is not None and diffs[0] % _DAY == np.timedelta64(0, "D")
    if equal and diffs[0] < _CALENDAR_SCALE and not whole_days_in_zone:
        return _fixed_step(diffs[0], tz)
    # Calendar frequencies (months, quarters, years) have uneven step lengths, or equal ones
    # that the calendar makes uneven later (yearly over 365-day years, then a leap year).
    local = pd.DatetimeIndex(times)
    if tz is not None:
        local = local.tz_localize("UTC").tz_convert(tz)
    freq = None
    if len(times) >= 3:
        with warnings.catch_warnings():  # pandas 3 warns that infer_freq will return an offset
            warnings.simplefilter("ignore")
            freq = pd.infer_freq(local)
    if freq is not None:
        offset = pd.tseries.frequencies.to_offset(freq)
        if not (isinstance(offset, pd.offsets.Day) and offset.n >= 28):  # "365D" is no year
            return offset
    months = _month_step(local)
    if months is not None:
        return pd.DateOffset(months=months)
    if equal:
        return _fixed_step(diffs[0], tz)
    clipped = _clipped_month_day(local)
    if clipped is not None:
        day, pos = clipped
        raise DataError(
            f"series {series_id!r} is dated on day {day} of each month, moved to the end of "
            f"shorter months ({local[pos]} follows {local[pos - 1]}): lstmcast continues months "
            "on one day from the 1st to the 28th, or on month ends; date the series so"
        )
    # The median step, in the times' own resolution (pandas reads dates as s, ms, us or ns).
    typical = np.sort(diffs)[len(diffs) // 2]
    pos = int(np.argmax(diffs != typical)) + 1
    usual = str(pd.Timedelta(typical))
    weekdays = local.day_of_week.to_numpy()
    if typical == np.timedelta64(1, "D") and (weekdays < 5).all():
        # Business days: a weekend is no gap; the first step of more than one business day is.
        days = local.tz_localize(None).normalize().to_numpy().astype("datetime64[D]")
        business = np.busday_count(days[:-1], days[1:])
        if (business >= 1).all() and (business != 1).any():
            pos = int(np.argmax(business != 1)) + 1
            usual = "1 business day"
    elif typical >= _CALENDAR_SCALE:  # months and years are told in months, not 31 or 365 days
        months = np.diff(local.year.to_numpy() * 12 + local.month.to_numpy())
        typical_months = int(np.sort(months)[len(months) // 2])
        if typical_months >= 1:
            pos = int(np.argmax(months != typical_months)) + 1
            usual = months_text(typical_months)
    raise DataError(
        f"series {series_id!r} has irregular time steps: {local[pos]} follows "
        f"{local[pos - 1]}, but its usual step is {usual}; "
        "fill the gaps or resample to a regular frequency"
    )


def months_text(months: int) -> str:
    """A step of whole months as a person says it: ``1 month``, ``3 months``, ``2 years``."""
    years, rest = divmod(months, 12)
    if not rest:
        return count(years, "year")
    return count(months, "month")


def describe_step(step: Any) -> str:
    """A series' time step (as ``Panel.steps`` gives it) as a person reads it: ``integer step
    1``, ``frequency '1h'``, ``frequency '1ME'``, ``a step of 3 months``."""
    if isinstance(step, int | np.integer):
        return f"integer step {step}"
    kwds = getattr(step, "kwds", {})
    if set(kwds) == {"months"}:  # whole months on one day of the month (DateOffset(months=k))
        return f"a step of {months_text(step.n * kwds['months'])}"
    text = step.freqstr
    return f"frequency {text if text[0].isdigit() else '1' + text!r}"


# Steps this long or longer are checked against the calendar (months, quarters, years).
_CALENDAR_SCALE = np.timedelta64(28, "D")
_DAY = np.timedelta64(1, "D")


def _fixed_step(step: np.timedelta64, tz: str | None) -> Any:
    """The offset of equal steps ``step``: whole days in a zone are calendar days of that zone
    (midnight stays midnight across a daylight-saving change), anything else a fixed length."""
    pd = _pd()
    if tz is not None and step % _DAY == np.timedelta64(0, "D") and step > np.timedelta64(0):
        return pd.offsets.Day(int(step // _DAY))
    return pd.tseries.frequencies.to_offset(pd.Timedelta(step))


def _month_step(times: pd.DatetimeIndex) -> int | None:
    """Months between ``times`` if they are whole months apart on one day (1-28) and time of day.

    Monthly on the 15th is 1, quarterly 3, yearly 12; None for anything else.
    """
    days = times.day.to_numpy()
    if len(times) < 2 or days[0] > 28 or (days != days[0]).any():
        return None
    time_of_day = (times - times.normalize()).to_numpy()
    if (time_of_day != time_of_day[0]).any():
        return None
    months = np.diff(times.year.to_numpy() * 12 + times.month.to_numpy())
    return int(months[0]) if months[0] > 0 and (months == months[0]).all() else None


def _clipped_month_day(times: pd.DatetimeIndex) -> tuple[int, int] | None:
    """``(day, position)`` if ``times`` are whole months apart on day 29, 30 or 31, moved to the
    end of shorter months (Jan 30, Feb 28, Mar 30), with the first such move; else None."""
    if len(times) < 2:
        return None
    days = times.day.to_numpy()
    day = int(days.max())
    ends = times.days_in_month.to_numpy()
    months = np.diff(times.year.to_numpy() * 12 + times.month.to_numpy())
    if day < 29 or (months != months[0]).any() or months[0] < 1:
        return None
    if not (days == np.minimum(day, ends)).all() or (days == ends).all():
        return None
    moved = np.flatnonzero(days != day)
    return (day, int(moved[0])) if len(moved) and moved[0] > 0 else None


def future_times(last: np.ndarray, steps: list[Any], h: int, tz: str | None = None) -> np.ndarray:
    """The ``h`` timestamps after each series' ``last`` (n,), continuing its step: (n, h).

    Dates are naive UTC; calendar steps (days, months) follow the calendar of zone ``tz``.
    """
    pd = _pd()
    ahead = np.arange(1, h + 1)
    if last.dtype.kind in "iu":
        return last[:, None] + np.asarray(steps, dtype=np.int64)[:, None] * ahead[None, :]
    times = np.empty((len(last), h), dtype=last.dtype)
    fixed = np.array([isinstance(step, pd.offsets.Tick) for step in steps], dtype=bool)
    if fixed.any():  # hours, minutes: plain arithmetic, all series at once, in the dates' unit
        unit = np.datetime_data(last.dtype)[0]
        step_lengths = np.array(
            [pd.Timedelta(step).to_timedelta64() for step, f in zip(steps, fixed, strict=True) if f]
        ).astype(f"timedelta64[{unit}]")
        times[fixed] = last[fixed][:, None] + step_lengths[:, None] * ahead[None, :]
    for i in np.flatnonzero(~fixed):  # days, month ends and other calendar steps
        start = pd.Timestamp(last[i])
        if tz is not None:
            start = start.tz_localize("UTC").tz_convert(tz)
        ahead_times = pd.date_range(start=start, periods=h + 1, freq=steps[i])[1:]
        if tz is not None:
            ahead_times = ahead_times.tz_convert("UTC").tz_localize(None)
        times[i] = ahead_times
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
