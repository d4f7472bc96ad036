"""Covariates: which columns, what to do with their missing values, their scaling, and the future
values a forecast needs.

Two kinds of time-varying input, read beside the target into ``Panel.covariates``:

- *past-only* (``hist_cols``): observed up to the forecast origin only. The network reads them
  over the input window and never after it (:mod:`lstmcast.forecasting` zeroes them there).
- *future-known* (``futr_cols``): known for every step of the horizon too (day-ahead load
  forecasts, prices, promotions). The network reads them over the input window and, through its
  decoder, at each step of the horizon; ``predict`` takes them from ``futr_df``, ``backtest``
  from the data itself.

Each is scaled per series from the training part only, like the target. Where it sits: input
frame -> Panel (with covariates) -> **here**: the missing-value policy, the contract, scaling ->
windows -> model.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .checks import require_frame
from .columns import ID, TARGET
from .data import Panel, concatenated_ranges
from .errors import ConfigError, DataError, count, setting
from .missing import insert_gaps, previous_rows
from .timesteps import show_time
from .windows import SeriesScaler

# What to do with a missing covariate value: refuse it (the default), carry the last value
# forward, or use 0. Never a silent fill.
MISSING = ("error", "ffill", "zero")
KINDS = {"hist_cols": "past-only", "futr_cols": "future-known", "static_cols": "static"}


@dataclass(frozen=True)
class CovariateSpec:
    """The covariate columns of a model: ``hist`` (past-only), ``futr`` (future-known) and
    ``static`` (per series), in the order the network reads them (features 1, 2, ... after the
    target; static ones as encoded by :class:`StaticEncoder`, numbers before categories)."""

    hist: tuple[str, ...] = ()
    futr: tuple[str, ...] = ()
    static: tuple[str, ...] = ()

    @property
    def dynamic(self) -> tuple[str, ...]:
        """The time-varying columns, read from the frame beside the target."""
        return self.hist + self.futr

    @property
    def names(self) -> tuple[str, ...]:
        return self.hist + self.futr + self.static

    def __bool__(self) -> bool:
        return bool(self.names)


def column_names(value: Any, name: str) -> tuple[str, ...]:
    """A setting's columns as a tuple of names (a lone string is one name); refuses others."""
    if value is None:
        return ()
    names = (value,) if isinstance(value, str) else value
    if not isinstance(names, list | tuple) or not all(
        isinstance(n, str) and n.strip() for n in names
    ):
        raise ConfigError(f"{setting(name)} must be a list of column names, got {value!r}")
    return tuple(names)


def spec_of(settings: dict[str, Any]) -> CovariateSpec:
    """The covariates ``settings`` declare, checked: each column once, in one kind."""
    kinds = {kind: column_names(settings.get(kind), kind) for kind in KINDS}
    seen: dict[str, str] = {}
    for kind, names in kinds.items():
        for name in names:
            if name in seen:
                both = f"by both {setting(seen[name])} and {setting(kind)}"
                where = "twice" if seen[name] == kind else both
                raise ConfigError(
                    f"covariate {name!r} is declared {where}: a column is one of past-only "
                    f"({setting('hist_cols')}), future-known ({setting('futr_cols')}) or "
                    f"static ({setting('static_cols')}), once"
                )
            seen[name] = kind
    return CovariateSpec(kinds["hist_cols"], kinds["futr_cols"], kinds["static_cols"])


def fill_missing(panel: Panel, policy: str, what: str = "the data") -> Panel:
    """``panel`` with its missing covariate values handled by ``policy`` (one of :data:`MISSING`).

    "error" names the first missing value (series, column, time); "ffill" carries each series'
    last value forward (a missing value before the first one is still an error); "zero" uses 0.
    Returns the same panel when nothing is missing.
    """
    values = panel.covariates
    if values is None or not np.isnan(values).any():
        return panel
    if policy == "zero":
        return replace(panel, covariates=np.nan_to_num(values, nan=0.0))
    if policy == "ffill":
        values = _forward_filled(values, panel.starts)
    missing = np.isnan(values)
    if missing.any():
        row, column = (int(i) for i in np.argwhere(missing)[0])
        series = panel.series_of(row)
        before = " before its first value (nothing to carry forward)" if policy == "ffill" else ""
        n_missing = int(missing.sum())
        raise DataError(
            f"covariate {panel.covariate_names[column]!r} of series {panel.ids[series]!r} is "
            f"missing at {show_time(panel.in_zone(panel.ds[row : row + 1])[0])}{before} in "
            f"{what} ({count(n_missing, 'missing value')} in all); fill it, or choose "
            f"{setting('covariate_missing')} 'ffill' or 'zero'"
        )
    return replace(panel, covariates=values)


def _forward_filled(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Each column's last value carried forward within each series (rows, C)."""
    last = previous_rows(~np.isnan(values), starts)  # (rows, C): row of the value, or -1
    filled = np.take_along_axis(values, np.maximum(last, 0), axis=0)
    return np.where(last >= 0, filled, np.nan)


@dataclass(frozen=True)
class CovariateScaler:
    """Per-series, per-column scaling ``(value - shift) / scale``: ``shift``, ``scale`` (n, C),
    rows in the order of the target's :class:`~lstmcast.windows.SeriesScaler`."""

    shift: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, panel: Panel, n_fit: np.ndarray, kind: str, static: int = 0) -> CovariateScaler:
        """Fit on the first ``n_fit[i]`` points of each series, column by column, as the target
        is (:meth:`SeriesScaler.fit`: mean and standard deviation; a constant column by its
        size). The last ``static`` columns, encoded across series already, stay as they are."""
        columns = panel.covariates.shape[1] if panel.covariates is not None else 0
        shifts, scales = [], []
        for c in range(columns - static):
            alone = Panel(panel.ids, panel.covariates[:, c], panel.ds, panel.starts, panel.tz)
            fitted = SeriesScaler.fit(alone, n_fit, kind)
            shifts.append(fitted.shift)
            scales.append(fitted.scale)
        n = len(panel)
        shifts += [np.zeros(n)] * static
        scales += [np.ones(n)] * static
        shift = np.stack(shifts, axis=1) if shifts else np.zeros((n, 0))
        scale = np.stack(scales, axis=1) if scales else np.ones((n, 0))
        return cls(shift, scale)

    def transform(self, values: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Scaled ``values`` (k, ..., C) of series ``rows`` (k,)."""
        extra = (1,) * (values.ndim - 2)
        shift = self.shift[rows].reshape(len(rows), *extra, -1)
        scale = self.scale[rows].reshape(len(rows), *extra, -1)
        return (values - shift) / scale


def with_future(
    panel: Panel, future: Panel, futr: tuple[str, ...], times: np.ndarray, h: int
) -> Panel:
    """``panel`` followed, in every series, by its ``h`` future rows from ``future``.

    ``future`` holds the future-known columns ``futr`` of every series of ``panel`` at exactly
    the times ``times`` (n, h) (naive UTC, as ``ds``). The future rows' target is NaN and their
    other covariates 0 (never read). Each breach of that contract is one error naming series
    and time.
    """
    position = {str(name): i for i, name in enumerate(future.ids)}
    n_covariates = len(panel.covariate_names)
    columns = [panel.covariate_names.index(name) for name in futr]
    rows = []
    for i, series_id in enumerate(panel.ids):
        j = position.get(str(series_id))
        if j is None:
            raise DataError(
                f"futr_df has no rows for series {series_id!r}; it needs the future-known "
                f"{_columns(futr)} at the {h} times after its history "
                f"({_span(panel, times[i])})"
            )
        ds = future.ds[future.starts[j] : future.ends[j]]
        missing = np.setdiff1d(times[i], ds)
        if len(missing):
            raise DataError(
                f"futr_df has no row for series {series_id!r} at "
                f"{show_time(panel.in_zone(missing[:1])[0])}; the forecast needs "
                f"{_columns(futr)} at each of the {h} times after its history "
                f"({_span(panel, times[i])})"
            )
        # Rows at exactly the forecast's times, in order (extra rows after them are not read).
        index = future.starts[j] + np.searchsorted(ds, times[i])
        values = np.zeros((h, n_covariates))
        values[:, columns] = future.covariates[index]
        rows.append(values)
    return append_rows(panel, times, np.stack(rows) if rows else np.zeros((0, h, n_covariates)))


def read_future(
    futr_df: Any, columns: dict[str, str | None], futr: tuple[str, ...], hist: tuple[str, ...] = ()
) -> Panel:
    """``futr_df``, a long frame ``unique_id, ds, <futr>``, as a panel of those columns (its
    target is a placeholder). ``columns``: the model's ``id_col`` and ``time_col``; ``hist``:
    the model's past-only columns, which ``futr_df`` must not hold."""
    import pandas as pd

    if not isinstance(futr_df, pd.DataFrame):
        raise ConfigError(f"futr_df must be a DataFrame, got {type(futr_df).__name__}")
    past_only = [name for name in hist if name in futr_df.columns]
    if past_only:
        raise DataError(
            f"futr_df holds the past-only column {past_only[0]!r}: past-only covariates are "
            "never read after the forecast origin (declare it in futr_cols if its future values "
            "are known); drop it"
        )
    target = columns.get("target_col") or TARGET
    if target in futr_df.columns:
        raise DataError(
            f"futr_df has the target column {target!r}; it holds only the future-known "
            f"{_columns(futr)} (with the id and time columns): drop {target!r}"
        )
    placeholder = "__lstmcast_no_target__"
    frame = futr_df.assign(**{placeholder: 0.0})
    return Panel.from_data(
        frame,
        id_col=columns.get("id_col") or ID,
        time_col=columns.get("time_col"),
        target_col=placeholder,
        source="futr_df",
        covariate_cols=futr,
    )


def append_rows(panel: Panel, times: np.ndarray, covariates: np.ndarray) -> Panel:
    """Each series of ``panel`` followed by ``times.shape[1]`` rows at ``times`` (n, h), target
    NaN, covariates ``covariates`` (n, h, C)."""
    n, h = times.shape
    lengths = panel.lengths + h
    starts = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    old_rows = concatenated_ranges(starts[:-1], starts[:-1] + panel.lengths)
    new_rows = concatenated_ranges(starts[:-1] + panel.lengths, starts[1:])
    y = np.full(int(starts[-1]), np.nan)
    y[old_rows] = panel.y
    ds = np.empty(int(starts[-1]), dtype=panel.ds.dtype)
    ds[old_rows], ds[new_rows] = panel.ds, times.reshape(-1)
    values = np.zeros((int(starts[-1]), covariates.shape[-1]))
    if panel.covariates is not None:
        values[old_rows] = panel.covariates
    values[new_rows] = covariates.reshape(n * h, -1)
    missing = None
    if panel.missing is not None:  # the future rows are no missing values: nothing is there yet
        missing = np.zeros(int(starts[-1]), dtype=np.int8)
        missing[old_rows] = panel.missing
    return Panel(panel.ids, y, ds, starts, panel.tz, values, panel.covariate_names, missing)


def _columns(names: tuple[str, ...]) -> str:
    return ("column " if len(names) == 1 else "columns ") + ", ".join(map(repr, names))


def _span(panel: Panel, times: np.ndarray) -> str:
    shown = panel.in_zone(times[[0, -1]])
    return f"{show_time(shown[0])} to {show_time(shown[1])}"


def static_table(df: Any, id_col: str, static: tuple[str, ...], what: str) -> Any:
    """Each series' static values, ``static`` columns of the long frame ``df`` indexed by
    series id (in order of first appearance); a value that varies within a series, or is
    missing, is an error naming series, column and the two values."""
    require_frame(df, f"{what} (static covariates {list(static)})", [id_col, *static])
    ids = df[id_col].astype(str)
    for name in static:
        column = df[name]
        if column.isna().any():
            row = int(np.argmax(column.isna().to_numpy()))
            raise DataError(
                f"static covariate {name!r} of series {ids.iloc[row]!r} is missing in {what}"
            )
        firsts = column.groupby(ids, sort=False).transform("first")
        varies = (column != firsts).to_numpy()
        if varies.any():
            row = int(np.argmax(varies))
            raise DataError(
                f"static covariate {name!r} varies within series {ids.iloc[row]!r}: "
                f"{firsts.iloc[row]!r} and {column.iloc[row]!r} in {what}; a static value is one "
                "per series (give a time-varying one as hist_cols or futr_cols)"
            )
    return df[list(static)].groupby(ids, sort=False).first()


@dataclass(frozen=True)
class StaticEncoder:
    """Static covariates as numbers: numeric columns standardised across the training series
    (mean and standard deviation over series), categories as codes 1, 2, ... of the values seen
    in training (0: a value not seen), which the network embeds.

    ``numeric``: the numeric column names, with ``mean`` and ``std`` (each a list); ``categories``:
    each categorical column's values seen, in code order.
    """

    numeric: tuple[str, ...] = ()
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()
    categories: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @classmethod
    def fit(cls, table: Any) -> StaticEncoder:
        """Learn from ``table`` (one row per training series, one column per static covariate):
        a column of numbers (not booleans) is numeric, any other categorical."""
        import pandas as pd

        numeric, mean, std, categories = [], [], [], []
        for name in table.columns:
            column = table[name]
            if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
                values = column.to_numpy(dtype=np.float64)
                numeric.append(str(name))
                mean.append(float(values.mean()))
                spread = float(values.std())
                std.append(spread if spread > 0 else 1.0)
            else:
                categories.append((str(name), tuple(sorted({str(v) for v in column}))))
        return cls(tuple(numeric), tuple(mean), tuple(std), tuple(categories))

    @property
    def names(self) -> tuple[str, ...]:
        """The encoded columns' names, in the network's order: numbers, then categories."""
        return self.numeric + tuple(name for name, _ in self.categories)

    @property
    def cardinalities(self) -> tuple[int, ...]:
        """Codes of each categorical column, the unknown one included."""
        return tuple(len(values) + 1 for _, values in self.categories)

    def transform(self, table: Any) -> np.ndarray:
        """``table``'s rows as numbers (rows, len(names)), float64."""
        import pandas as pd

        columns = []
        for name, mean, std in zip(self.numeric, self.mean, self.std, strict=True):
            values = pd.to_numeric(table[name], errors="coerce").to_numpy(dtype=np.float64)
            if np.isnan(values).any():
                row = int(np.argmax(np.isnan(values)))
                raise DataError(
                    f"static covariate {name!r} of series {table.index[row]!r} is "
                    f"{table[name].iloc[row]!r}; it was a number in training"
                )
            columns.append((values - mean) / std)
        for name, values in self.categories:
            code = {value: i + 1 for i, value in enumerate(values)}
            columns.append(np.array([code.get(str(v), 0) for v in table[name]], dtype=np.float64))
        return np.stack(columns, axis=1) if columns else np.zeros((len(table), 0))

    def decode(self, values: np.ndarray) -> dict[str, np.ndarray]:
        """The values ``transform`` encoded as ``values`` (rows, len(names)), by column name:
        numbers back in their units, codes back to their categories ("unknown" for 0)."""
        columns = {}
        for k, (name, mean, std) in enumerate(zip(self.numeric, self.mean, self.std, strict=True)):
            columns[name] = values[:, k] * std + mean
        for k, (name, seen) in enumerate(self.categories, start=len(self.numeric)):
            table = np.array(["unknown", *seen], dtype=object)
            columns[name] = table[values[:, k].round().astype(np.int64)]
        return columns

    def to_dict(self) -> dict[str, Any]:
        return {
            "numeric": list(self.numeric),
            "mean": list(self.mean),
            "std": list(self.std),
            "categories": {name: list(values) for name, values in self.categories},
        }

    @classmethod
    def from_dict(cls, saved: dict[str, Any]) -> StaticEncoder:
        """The encoder ``to_dict`` saved; ValueError for one that is not."""
        numeric, mean, std = saved["numeric"], saved["mean"], saved["std"]
        categories = saved["categories"]
        if not (
            len(numeric) == len(mean) == len(std)
            and all(isinstance(v, int | float) and np.isfinite(v) for v in [*mean, *std])
            and all(v > 0 for v in std)
            and isinstance(categories, dict)
            and all(isinstance(v, list) for v in categories.values())
        ):
            raise ValueError("invalid static covariate encoding")
        return cls(
            tuple(map(str, numeric)),
            tuple(map(float, mean)),
            tuple(map(float, std)),
            tuple((str(k), tuple(map(str, v))) for k, v in categories.items()),
        )


def with_static(panel: Panel, values: np.ndarray, names: tuple[str, ...]) -> Panel:
    """``panel`` with each series' encoded static ``values`` (n, S) as constant covariate
    columns ``names`` after the others."""
    repeated = np.repeat(values, panel.lengths, axis=0)
    before = panel.covariates if panel.covariates is not None else np.zeros((len(panel.y), 0))
    covariates = np.concatenate([before, repeated], axis=1)
    return replace(panel, covariates=covariates, covariate_names=panel.covariate_names + names)


def read_panel(
    df: Any,
    what: str,
    columns: dict[str, str | None],
    spec: CovariateSpec,
    missing: str,
    saved: tuple[StaticEncoder, Panel, SeriesScaler] | None = None,
    targets: tuple[bool, bool] = (False, False),
) -> tuple[Panel, StaticEncoder | None]:
    """``df`` as a panel with every covariate of ``spec`` (missing values handled by
    ``missing``), and the static encoder: learned from ``df`` (training data, ``saved`` None),
    or ``saved``'s (the encoder, the model's tail and scaler), whose per-series static values
    are used when ``df`` holds none. ``columns``: the id, time and target column names.
    ``targets``: whether missing target values are kept (NaN, for the model's ``missing``) and
    whether each series' missing timestamps are inserted first (``fill_gaps``; their covariates
    are then missing values too)."""
    table = None
    given = any(name in getattr(df, "columns", ()) for name in spec.static)
    if spec.static and (saved is None or given):
        table = static_table(df, columns.get("id_col") or ID, spec.static, what)
        df = df.drop(columns=list(spec.static))
    keep_missing, gaps = targets
    panel = Panel.from_data(df, **columns, covariate_cols=spec.dynamic, keep_missing=keep_missing)
    if gaps:
        panel = insert_gaps(panel)
    panel = fill_missing(panel, missing, what)
    if not spec.static:
        return panel, None
    encoder = StaticEncoder.fit(table) if saved is None else saved[0]
    if table is not None:
        values = encoder.transform(table.loc[[str(i) for i in panel.ids]])
    else:  # the values saved for each series
        _, tail, scaler = saved
        unseen = np.setdiff1d(panel.ids.astype(str), scaler.ids.astype(str))
        if len(unseen):
            raise DataError(
                f"series {str(unseen[0])!r} was not in the training data: give its static "
                f"covariates {list(spec.static)} as columns of the data to forecast it"
            )
        first_rows = tail.starts[:-1][scaler.rows_of(panel.ids)]
        values = tail.covariates[first_rows, len(spec.dynamic) :]
    return with_static(panel, values, encoder.names), encoder


def merge_static(df: Any, static_df: Any, id_col: str, static: tuple[str, ...]) -> Any:
    """The long frame ``df`` with the ``static`` columns of ``static_df`` (one row per series,
    ``id_col`` and those columns) beside every row of each series; a series without its row,
    a series with two, or a static column in both frames is an error naming it."""
    import pandas as pd

    if not static:
        raise ConfigError(
            f"static_df gives static covariates: declare them with {setting('static_cols')}"
        )
    for name, frame in (("df", df), ("static_df", static_df)):
        if not isinstance(frame, pd.DataFrame) or id_col not in frame.columns:
            raise DataError(f"{name} must be a DataFrame with the series id column {id_col!r}")
    missing = [name for name in static if name not in static_df.columns]
    if missing:
        raise DataError(f"static covariate column {missing[0]!r} not found in static_df")
    twice = [name for name in static if name in df.columns]
    if twice:
        raise DataError(
            f"static covariate {twice[0]!r} is both a column of df and of static_df; give it once"
        )
    table = static_df[[id_col, *static]].astype({id_col: str})
    repeated = table[id_col].duplicated()
    if repeated.any():
        raise DataError(
            f"static_df has two rows for series {table[id_col][repeated].iloc[0]!r}; it needs one"
        )
    ids = df[id_col].astype(str)
    absent = ~ids.isin(table[id_col])
    if absent.any():
        raise DataError(f"static_df has no row for series {ids[absent].iloc[0]!r}")
    values = table.set_index(id_col).loc[ids.to_numpy()].reset_index(drop=True)
    return pd.concat([df.reset_index(drop=True), values], axis=1)


def with_static_columns(frame: Any, table: Any) -> Any:
    """The canonical long ``frame`` with each series' static values of ``table`` (indexed by
    series id, as :func:`static_table` returns it) beside its rows; ``frame`` itself without."""
    if table is None:
        return frame
    return frame.merge(table, left_on=ID, right_index=True, how="left", validate="many_to_one")


def frame_as_given(panel: Panel, encoder: StaticEncoder | None) -> Any:
    """``panel`` as the long frame a user gives: static columns, which ``encoder`` encoded,
    decoded back to their numbers and categories."""
    frame = panel.to_frame()
    if encoder:
        frame = frame.assign(**encoder.decode(frame[list(encoder.names)].to_numpy()))
    return frame
