"""Layout: which column of an input frame plays which part, and its raw columns in long order.

The first step of the data flow (input frame -> **layout** -> validated
:class:`~lstmcast.data.Panel` -> windows -> model -> forecast -> metrics/plots). A frame is long
(id, time, target), wide (one column per series) or one series (time and value):
:func:`plan_columns` decides which, refusing anything ambiguous or left unused, and
:func:`long_columns` / :func:`wide_columns` hand the raw, not yet parsed id, time and value
columns to :mod:`lstmcast.data`, which checks every value. How an input was read (its
:class:`Layout`) is kept on the returned frame (:func:`layouts`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from .columns import ID, TARGET, TIME
from .errors import ConfigError, DataError, option, setting

if TYPE_CHECKING:
    import pandas as pd


def preview(columns: Any, limit: int = 8) -> str:
    """The first ``limit`` of ``columns`` as text, and how many there are if more."""
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
            text = f"wide, {time}, {self.n_series} series from columns {preview(self.series_cols)}"
        elif self.kind == "single":
            text = f"one series, {time}, target {self.target_col!r}"
        else:
            text = "one series from an array"
        if self.ignored:
            text += f", ignoring {preview(self.ignored)} as asked"
        if self.tz is not None:
            text += f", times in {self.tz}" + (f" ({self.tz_note})" if self.tz_note else "")
        return f"{self.source}: {text}" if self.source else text


def layouts(frame: pd.DataFrame) -> tuple[Layout, ...]:
    """How lstmcast read ``frame``: one :class:`Layout` per file or input it came from.

    Set on the frames :func:`read_csv`, :func:`read_parquet`, :func:`read_files` and
    :func:`to_long` return (in ``frame.attrs``); empty for any other frame.
    """
    return tuple(frame.attrs.get(_LAYOUTS_KEY, ()))


def with_layouts(frame: pd.DataFrame, how: tuple[Layout, ...]) -> pd.DataFrame:
    """``frame``, noting how it was read (see :func:`layouts`)."""
    frame.attrs[_LAYOUTS_KEY] = how
    return frame


@dataclass(frozen=True)
class Where:
    """Names an input row in messages: the line of a file, or the row of a frame.

    ``line_of``: for a CSV file, the line (from 1) on which data row ``row`` (from 0) begins, as
    an editor counts lines (None when it cannot be told). ``rows``: frame rows per series when
    positions run series after series over one frame (a wide layout), else 0.
    """

    source: str | None = None
    line_of: Callable[[int], int | None] | None = None
    rows: int = 0

    def __call__(self, position: int) -> str:
        row = position % self.rows if self.rows else position
        if self.line_of is not None:
            line = self.line_of(row)
            if line is not None:
                return f"line {line} of {self.source}"
            return f"data row {row + 1} of {self.source}"
        # A frame read from a CSV file elsewhere: the header is line 1.
        return f"line {row + 2} of {self.source}" if self.source else f"row {row}"

    def per_series(self, rows: int) -> Where:
        return Where(self.source, self.line_of, rows)


_KIND_NAMES = {"long": "long", "wide": "wide", "single": "one series"}
_ROLES = {
    "time_col": "time column",
    "target_col": "target column",
    "id_col": "id column",
    "ignore_cols": "column to ignore",
    "covariate": "covariate column",
}


def _near(name: Any, names: list[Any]) -> str:
    """A hint naming a column that differs from ``name`` only in case or surrounding spaces."""
    wanted = str(name).strip().casefold()
    for other in names:
        if str(other).strip().casefold() == wanted and other != name:
            return f" ({str(other)!r} differs only in case or spaces: names must match exactly)"
    return ""


def plan_columns(
    names: list[Any],
    id_col: str | None,
    time_col: str | None,
    target_col: str | None,
    layout: str | None,
    ignore_cols: tuple[str, ...],
    source: str | None,
    index_time: bool,
    covariate_cols: tuple[str, ...] = (),
) -> tuple[Layout, tuple[Any, Any, list[Any]]]:
    """Which column plays which part in a frame with columns ``names``; nothing is left unused.

    ``index_time``: the times may come from the frame's index (a frame built in Python, a
    Parquet file's stored index), not only from a column. Also returns the column labels as they
    are (a frame's may be numbers): the time (None: the index), the id (None: no id column) and
    the value columns (the target, or a wide layout's series). Refuses duplicated column names,
    named columns that do not exist, columns that would be
    ignored without ``ignore_cols`` naming them, and frames whose layout is ambiguous.
    ``covariate_cols`` are read beside the target (long or single-series layouts only): each
    must exist and play no other part.
    """
    what = source or "the frame"
    shown = preview(names)
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
    named += [("covariate", name) for name in covariate_cols]
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
        if keyword == "covariate":
            continue  # checked against the columns' parts once they are known (below)
        if name is not None and roles.setdefault(name, keyword) != keyword:
            raise ConfigError(
                f"column {name!r} is named both by {option(roles[name])} and by {option(keyword)}"
            )
    ignored = tuple(ignore_cols)
    covariates = set(covariate_cols)
    unnamed_time = TIME if TIME in seen and TIME not in ignore_cols else None
    time = time_col if time_col is not None else unnamed_time
    if time is None and (not index_time or layout == "long" or id_col is not None):
        raise DataError(
            f"time column {TIME!r} not found; columns are {shown}{_near(TIME, names)}. "
            f"Name it with {option('time_col')}"
        )
    rest = [name for name in names if name != time and name not in ignored]
    rest = [name for name in rest if name not in covariates]
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
                f"{what} is ambiguous: one series {TARGET!r} with {preview(others)} beside it, "
                f"or wide with {len(rest)} series {preview(rest)}. Say which: "
                f"{option('layout', 'wide')}, or {option('target_col', TARGET)} with "
                f"{option('ignore_cols', [str(name) for name in others])}"
            )
        else:
            kind = "wide"
    if covariates and kind == "wide":
        raise ConfigError(
            "covariates need a long layout (unique_id, ds, y and the covariate columns) or one "
            f"series; {what} reads as wide, every column a series (name its id column with "
            f"{option('id_col')})"
        )
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
    parts = {time: "time column", ident if kind == "long" else None: "series id column"}
    parts |= dict.fromkeys(values, "target") if kind != "wide" else {}
    parts |= dict.fromkeys(ignored, "ignored (ignore_cols)")
    for name in covariate_cols:
        if name in parts:
            raise ConfigError(
                f"column {str(name)!r} is the {parts[name]}; it cannot also be a covariate"
            )
    unused = [name for name in rest if name not in used]
    if unused:
        pronoun = "it" if len(unused) == 1 else "them"
        hint = ""
        if kind == "single" and layout is not None:
            hint = f"; to read every column as a series, use {option('layout', 'wide')}"
        elif kind == "single" and target_col is not None:
            hint = f"; to read every column as a series, leave out {option('target_col')}"
        raise DataError(
            f"{what}: {'column' if len(unused) == 1 else 'columns'} {preview(unused)} would be "
            f"ignored (read as {_KIND_NAMES[kind]}: {roles_shown}); lstmcast ignores no column "
            f"silently: remove {pronoun}, or ignore {pronoun} on purpose with "
            f"{option('ignore_cols', [str(name) for name in unused])}{hint}"
        )
    return how, (time, ident if kind == "long" else None, values)


@dataclass(frozen=True)
class RowIds:
    """Each row's series name, as codes into the distinct names: no string per row.

    ``codes`` (rows,) int64 number the series in order of first appearance; ``names``
    (n_series,) object holds each one's str name.
    """

    codes: np.ndarray
    names: np.ndarray

    @classmethod
    def single(cls, name: str, rows: int) -> RowIds:
        """``rows`` rows of one series called ``name``."""
        return cls(np.zeros(rows, dtype=np.int64), np.array([name], dtype=object))

    @classmethod
    def of(cls, values: Any) -> RowIds:
        """Codes of ``values`` (no missing ones), series named by ``str`` of each value."""
        import pandas as pd

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
RawColumns = tuple[RowIds, Any, Any, int]


def long_columns(
    data: pd.DataFrame, id_col: str, time_col: str, target_col: str, where: Where
) -> RawColumns:
    """The raw columns of a long frame: ids checked present (every row names its series)."""
    column = data[id_col]
    # Ids are text: "NA" or "None" name series; only an empty cell is missing.
    missing = column.isna().to_numpy() | (column.astype(str) == "").to_numpy()
    if missing.any():
        pos = int(np.argmax(missing))
        raise DataError(
            f"the series id (column {id_col!r}) is missing at {where(pos)}; every row needs one"
        )
    ids = RowIds.of(column)
    return ids, data[time_col].to_numpy(), data[target_col].to_numpy(), 1


def wide_columns(data: pd.DataFrame, time_col: str | None, value_cols: list[Any]) -> RawColumns:
    """The raw columns of a wide frame, series after series: each value column's name is its
    series' id, and the times (a column, the index, or 0, 1, ...) are every series' times."""
    import pandas as pd

    if time_col is not None:
        ds = data[time_col].to_numpy()
    elif isinstance(data.index, pd.RangeIndex):
        ds = np.arange(len(data))
    else:
        ds = data.index.to_numpy()
    wide = data[value_cols]
    n_rows, n_series = wide.shape
    by_column = RowIds.of(np.asarray(wide.columns, dtype=object))  # (n_series,) codes
    ids = RowIds(np.repeat(by_column.codes, n_rows), by_column.names)
    return ids, ds, wide.to_numpy().T.reshape(-1), n_series
