"""Missing target values and gaps in time, handled only by explicit choice.

By default a missing value (NaN) or a gap in a series' times is an error naming series and row
(:mod:`lstmcast.data`, :mod:`lstmcast.timesteps`). A model opts in with two settings:

- ``fill_gaps=True`` (:func:`insert_gaps`): each series' missing timestamps are inserted at its
  regular step, their target NaN (their covariates NaN too, for ``covariate_missing``). The step
  is the most common difference between consecutive times (:func:`regular_step`); a time off
  that step is an error naming the series and the times.
- ``missing`` (:func:`fill_targets`), what a missing target value becomes: ``"interpolate"``,
  linear in time between the values around it (after a series' last value: that value);
  ``"ffill"``, the last value before it; ``"mask"``, nothing: it stays NaN, the network reads 0
  and a missing-value indicator in its place, and the loss, the scaling statistics and every
  score skip it. Neither fill invents a value before a series' first one: that is an error.

Every such point is marked on the panel (``Panel.missing``), counted per series (:class:`Fills`,
kept and saved with the model, reported by ``lstmcast train``), never scored as an actual value
(``Panel.observed``), and a forecast that starts right after such points warns
(:func:`warn_filled_origins`). Where it sits: input frame -> validated panel -> **here** ->
covariates -> windows.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from .data import Panel, concatenated_ranges
from .errors import NAMED_SERIES, DataError, DataWarning, count, option
from .timesteps import CALENDAR_SCALE, DAY, describe_step, fixed_step, show_time

if TYPE_CHECKING:
    import pandas as pd

# What a missing target value becomes (the ``missing`` setting); "error" refuses it.
POLICIES = ("error", "interpolate", "ffill", "mask")
# Panel.missing codes (0: a value of the data).
MISSING_VALUE = 1  # the data holds the time, without a value
INSERTED = 2  # fill_gaps inserted the time


# -- gaps in time ------------------------------------------------------------------------------


def regular_step(times: np.ndarray, series_id: str, tz: str | None = None) -> Any:
    """The step one series' times (n,) keep where they are not missing: an int for integer
    time, a pandas offset for dates (as :func:`~lstmcast.timesteps.time_step` gives them).

    It is the most common difference between consecutive times (the shortest of equally common
    ones). With dates, a step of one day on weekdays only is a business day; a step of 28 days
    or more is the most common number of months, on one day of the month (1 to 28) or on month
    ends, at one time of day (else a fixed length that every difference is a multiple of);
    anything else is an error naming the series.
    """
    import pandas as pd

    values, counts = np.unique(np.diff(times), return_counts=True)
    typical = values[np.argmax(counts)]
    if times.dtype.kind in "iu":
        return int(typical)
    local = pd.DatetimeIndex(times)
    if tz is not None:
        local = local.tz_localize("UTC").tz_convert(tz)
    if typical < CALENDAR_SCALE:
        weekdays_only = bool((local.day_of_week < 5).all())
        if typical == DAY and weekdays_only and len(values) > 1:
            return pd.offsets.BDay()
        return fixed_step(typical, tz)
    months = np.diff(local.year.to_numpy() * 12 + local.month.to_numpy())
    month_values, month_counts = np.unique(months, return_counts=True)
    step = int(month_values[np.argmax(month_counts)])
    time_of_day = (local - local.normalize()).to_numpy()
    days = local.day.to_numpy()
    if step >= 1 and (time_of_day == time_of_day[0]).all():
        if (days == days[0]).all() and days[0] <= 28:
            return pd.DateOffset(months=step)
        if (days == local.days_in_month.to_numpy()).all():
            return pd.offsets.MonthEnd(step)
    if not (np.diff(times) % typical).any():  # whole multiples of a fixed length (every 30 days)
        return fixed_step(typical, tz)
    raise DataError(
        f"series {series_id!r} has no regular step for fill_gaps: its times are most often "
        f"{pd.Timedelta(typical)} apart, and are neither whole months apart on one day of the "
        "month nor month ends; resample it to a regular frequency"
    )


def _grid(times: np.ndarray, step: Any, tz: str | None) -> np.ndarray:
    """Every time from ``times[0]`` to ``times[-1]`` (n,) at ``step``, in the times' dtype;
    calendar steps follow the calendar of zone ``tz``."""
    if times.dtype.kind in "iu":
        return np.arange(times[0], times[-1] + 1, step, dtype=times.dtype)
    import pandas as pd

    unit = np.datetime_data(times.dtype)[0]
    if isinstance(step, pd.offsets.Tick):  # hours, minutes: plain arithmetic, in the dates' unit
        length = pd.Timedelta(step).to_timedelta64().astype(f"timedelta64[{unit}]")
        return np.arange(times[0], times[-1] + length, length)
    ends = pd.DatetimeIndex(times[[0, -1]])
    if tz is not None:
        ends = ends.tz_localize("UTC").tz_convert(tz)
    grid = pd.date_range(ends[0], ends[1], freq=step)
    if tz is not None:
        grid = grid.tz_convert("UTC").tz_localize(None)
    return grid.as_unit(unit).to_numpy()


def insert_gaps(panel: Panel) -> Panel:
    """``panel`` with each series' missing timestamps inserted at its :func:`regular_step`:
    target and covariates NaN there, marked :data:`INSERTED` in ``Panel.missing``.

    A time off that step (half an hour into an hourly series) is an error naming the series
    and the times; series with equal steps already (and series of one point) are left alone.
    """
    lengths, starts = panel.lengths, panel.starts
    grids: dict[int, np.ndarray] = {}
    diffs = np.diff(panel.ds)
    for i in np.flatnonzero(lengths > 2):
        times = panel.ds[starts[i] : starts[i + 1]]
        steps = diffs[starts[i] : starts[i + 1] - 1]
        if (steps == steps[0]).all():
            continue  # no gap (months differ in length: they are looked at on their grid)
        step = regular_step(times, panel.ids[i], panel.tz)
        grid = _grid(times, step, panel.tz)
        off = np.flatnonzero(~np.isin(times, grid))
        if len(off):
            shown = panel.in_zone(times[[off[0] - 1, off[0]]])
            raise DataError(
                f"series {panel.ids[i]!r} has a time off its regular step ({describe_step(step)}"
                f", its most common): {show_time(shown[1])} follows {show_time(shown[0])}; "
                "fill_gaps inserts whole steps only: resample the series to a regular frequency"
            )
        if len(grid) > len(times):
            grids[int(i)] = grid
    if not grids:
        return panel
    new_lengths = lengths.copy()
    for i, grid in grids.items():
        new_lengths[i] = len(grid)
    new_starts = np.concatenate([[0], np.cumsum(new_lengths)]).astype(np.int64)
    # Where each old row goes: its series' new start plus its place on the series' grid.
    offset = np.arange(len(panel.y)) - np.repeat(starts[:-1], lengths)
    for i, grid in grids.items():
        offset[starts[i] : starts[i + 1]] = np.searchsorted(
            grid, panel.ds[starts[i] : starts[i + 1]]
        )
    moved = np.repeat(new_starts[:-1], lengths) + offset
    rows = int(new_starts[-1])
    y = np.full(rows, np.nan)
    y[moved] = panel.y
    ds = np.empty(rows, dtype=panel.ds.dtype)
    ds[moved] = panel.ds
    for i, grid in grids.items():
        ds[new_starts[i] : new_starts[i + 1]] = grid
    covariates = None
    if panel.covariates is not None:
        covariates = np.full((rows, panel.covariates.shape[1]), np.nan)
        covariates[moved] = panel.covariates
    missing = np.full(rows, INSERTED, dtype=np.int8)
    missing[moved] = 0 if panel.missing is None else panel.missing
    return replace(panel, y=y, ds=ds, starts=new_starts, covariates=covariates, missing=missing)


def fill_gaps(
    df: Any,
    *,
    id_col: str | None = None,
    time_col: str | None = None,
    target_col: str | None = None,
    covariate_cols: Sequence[str] = (),
) -> pd.DataFrame:
    """``df`` (as :func:`~lstmcast.to_long` reads it) with each series' missing timestamps
    inserted at its regular step (:func:`regular_step`), the target and ``covariate_cols`` NaN
    there; missing values already there stay NaN. The canonical long frame."""
    panel = Panel.from_data(
        df, id_col=id_col, time_col=time_col, target_col=target_col,
        covariate_cols=covariate_cols, keep_missing=True,
    )  # fmt: skip
    return insert_gaps(panel).to_frame()


# -- missing values ----------------------------------------------------------------------------


def previous_rows(known: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """For each row of ``known`` (rows, ...) bool, the last known row at or before it in its
    series (series ``i`` is rows ``starts[i]:starts[i + 1]``); -1 where there is none."""
    shape = (-1,) + (1,) * (known.ndim - 1)
    rows = np.arange(len(known)).reshape(shape)
    last = np.maximum.accumulate(np.where(known, rows, -1), axis=0)
    series_start = np.repeat(starts[:-1], np.diff(starts)).reshape(shape)
    return np.where(last >= series_start, last, -1)


def _next_rows(known: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """For each row of ``known`` (rows,) bool, the first known row at or after it in its series;
    -1 where there is none."""
    n = len(known)
    rows = np.arange(n)
    following = np.minimum.accumulate(np.where(known, rows, n)[::-1])[::-1]
    series_end = np.repeat(starts[1:], np.diff(starts))
    return np.where(following < series_end, following, -1)


def marked(panel: Panel) -> np.ndarray:
    """``panel``'s missing-point codes (rows,) int8, with every NaN target marked."""
    codes = np.zeros(len(panel.y), np.int8) if panel.missing is None else panel.missing.copy()
    codes[(codes == 0) & np.isnan(panel.y)] = MISSING_VALUE
    return codes


def fill_targets(panel: Panel, policy: str, what: str = "the data") -> Panel:
    """``panel`` with its missing target values handled by ``policy`` (one of :data:`POLICIES`)
    and marked in ``Panel.missing`` (even when none is missing, so the mark travels with it).

    "interpolate": linear in time between the values before and after (after a series' last
    value, that value); "ffill": the value before; "mask": left NaN. "error" leaves the panel
    as it is (its reading refused NaN already). A missing value before a series' first one
    cannot be filled: an error naming the series, unless masked.
    """
    if policy == "error":
        return panel
    codes = marked(panel)
    missing = np.isnan(panel.y)
    if policy == "mask" or not missing.any():
        return replace(panel, missing=codes)
    known = ~missing
    before = previous_rows(known, panel.starts)
    leading = missing & (before < 0)
    if leading.any():
        row = int(np.argmax(leading))
        i = panel.series_of(row)
        series = slice(panel.starts[i], panel.starts[i + 1])
        first = np.flatnonzero(known[series])
        where = (
            f"(its first value is at {show_time(panel.in_zone(panel.ds[series][first[:1]])[0])})"
            if len(first)
            else "(and no value at all)"
        )
        n_leading = int(first[0]) if len(first) else int(panel.lengths[i])
        raise DataError(
            f"series {panel.ids[i]!r} begins with {count(n_leading, 'missing value')} in {what} "
            f"{where}: {option('missing', policy)} fills from the values before a missing one, "
            f"and there are none; remove those rows, or choose {option('missing', 'mask')}"
        )
    y = panel.y.copy()
    y[missing] = panel.y[before[missing]]
    if policy == "interpolate":
        after = _next_rows(known, panel.starts)
        inside = missing & (after >= 0)  # after the last value, that value stays
        times = panel.ds.view(np.int64)
        low, high = before[inside], after[inside]
        # Integer differences first (exact), then the share of the way in float.
        share = (times[inside] - times[low]) / (times[high] - times[low])
        y[inside] = panel.y[low] + (panel.y[high] - panel.y[low]) * share
    return replace(panel, y=y, missing=codes)


# -- what was filled, and where a forecast starts ----------------------------------------------


@dataclass(frozen=True)
class Fills:
    """The missing points of the data a model learned from, per series: ``filled`` values it
    filled (or masked), the ``inserted`` times among them included. Only series with any are
    listed (``ids``); ``missing`` is the model's policy."""

    missing: str
    ids: tuple[str, ...] = ()
    filled: tuple[int, ...] = ()
    inserted: tuple[int, ...] = ()

    @classmethod
    def of(cls, panel: Panel, policy: str, last: np.ndarray | None = None) -> Fills | None:
        """The counts of ``panel`` (marked by :func:`fill_targets`), or of the ``last`` (n,)
        points of each series only (an update's new ones); None for policy "error"."""
        if policy == "error" or panel.missing is None:
            return None
        begin = panel.starts[:-1] if last is None else panel.ends - last
        rows = concatenated_ranges(begin, panel.ends)
        series = np.repeat(np.arange(len(panel)), panel.ends - begin)
        marks = panel.missing[rows]
        filled = np.bincount(series, marks > 0, minlength=len(panel)).astype(np.int64)
        inserted = np.bincount(series, marks == INSERTED, minlength=len(panel)).astype(np.int64)
        some = np.flatnonzero(filled)
        return cls(
            policy,
            tuple(str(i) for i in panel.ids[some]),
            tuple(int(k) for k in filled[some]),
            tuple(int(k) for k in inserted[some]),
        )

    @classmethod
    def combine(cls, parts: Sequence[Fills]) -> Fills:
        """The counts of every part (each process's own series), in their order."""
        return cls(
            parts[0].missing,
            tuple(i for part in parts for i in part.ids),
            tuple(k for part in parts for k in part.filled),
            tuple(k for part in parts for k in part.inserted),
        )

    def plus(self, other: Fills | None) -> Fills:
        """These counts and ``other``'s (an update's new data), added series by series."""
        counts = self.to_dict()["series"]
        if other is not None:
            for i, filled, inserted in zip(other.ids, other.filled, other.inserted, strict=True):
                before = counts.get(i, [0, 0])
                counts[i] = [before[0] + filled, before[1] + inserted]
        return Fills.from_dict({"missing": self.missing, "series": counts})

    def lines(self) -> list[str]:
        """What was done, one line each (none when nothing was missing): ``inserted 12 missing
        timestamps in 2 series``, ``filled 37 missing values in 3 series (interpolate)``."""
        lines = []
        inserted = sum(self.inserted)
        if inserted:
            where = count(sum(k > 0 for k in self.inserted), "series", "series")
            lines.append(f"inserted {count(inserted, 'missing timestamp')} in {where}")
        if self.ids:
            verb = "masked" if self.missing == "mask" else "filled"
            lines.append(
                f"{verb} {count(sum(self.filled), 'missing value')} in "
                f"{count(len(self.ids), 'series', 'series')} ({self.missing})"
            )
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {
            "missing": self.missing,
            "series": {
                i: [f, k] for i, f, k in zip(self.ids, self.filled, self.inserted, strict=True)
            },
        }

    @classmethod
    def from_dict(cls, saved: dict[str, Any]) -> Fills:
        """What :meth:`to_dict` wrote; ValueError for anything else."""
        policy, series = saved["missing"], saved["series"]
        if policy not in POLICIES[1:] or not isinstance(series, dict):
            raise ValueError(f"invalid missing-value counts {saved!r}")
        for counts in series.values():
            if not (
                isinstance(counts, list)
                and len(counts) == 2
                and all(isinstance(k, int) and not isinstance(k, bool) for k in counts)
                and 0 <= counts[1] <= counts[0]
            ):
                raise ValueError(f"invalid missing-value counts {counts!r}")
        return cls(
            policy,
            tuple(map(str, series)),
            tuple(counts[0] for counts in series.values()),
            tuple(counts[1] for counts in series.values()),
        )


def checked_marks(marks: np.ndarray, rows: int) -> np.ndarray:
    """Saved ``Panel.missing`` codes (``rows``,), checked; ValueError for anything else."""
    if not (
        marks.dtype == np.int8
        and marks.shape == (rows,)
        and np.isin(marks, (0, MISSING_VALUE, INSERTED)).all()
    ):
        raise ValueError("the saved missing-value marks do not agree with the series")
    return marks


def marks_of(panel: Panel) -> np.ndarray:
    """``panel``'s ``missing`` codes (rows,), all 0 when it has none."""
    return np.zeros(len(panel.y), np.int8) if panel.missing is None else panel.missing


def joined_marks(panels: Sequence[Panel]) -> np.ndarray | None:
    """The ``missing`` codes of ``panels`` one after the other, None when none has them."""
    if all(panel.missing is None for panel in panels):
        return None
    return np.concatenate([marks_of(panel) for panel in panels])


def filled_runs(panel: Panel, ends: np.ndarray) -> np.ndarray:
    """How many points right before each row ``ends`` (k,) of ``panel`` were missing (filled,
    masked or inserted), in a row: (k,), 0 where the last point before it is a value."""
    if panel.missing is None:
        return np.zeros(len(ends), dtype=np.int64)
    last = ends - 1
    observed = previous_rows(panel.missing == 0, panel.starts)[last]
    series_start = panel.starts[panel.series_of(last)]
    return np.where(observed >= 0, last - observed, ends - series_start)


def warn_filled_origins(
    panel: Panel, series: np.ndarray, ends: np.ndarray, policy: str, window: int
) -> None:
    """Warn (DataWarning) when forecasts of ``series`` (k,) from rows ``ends`` (k,) start right
    after missing points that ``policy`` filled or masked, naming the series and how many of
    the input window's last points were missing."""
    runs = np.minimum(filled_runs(panel, ends), window)
    hit = np.flatnonzero(runs > 0)
    if not len(hit):
        return
    named = []
    for position in dict.fromkeys(series[hit].tolist()):  # each series once, in order
        mine = hit[series[hit] == position]
        longest = int(runs[mine].max())
        last = "its last point" if longest == 1 else f"its last {longest} points"
        origins = f" (at {count(len(mine), 'origin')})" if len(mine) > 1 else ""
        named.append(f"{str(panel.ids[position])!r}, {last} of its window of {window}{origins}")
    more = len(named) - NAMED_SERIES
    shown = "; ".join(named[:NAMED_SERIES]) + (f"; and {more} more series" if more > 0 else "")
    how = "masked" if policy == "mask" else f"filled by {policy}"
    warnings.warn(
        f"{count(len(hit), 'forecast')} start{'s' if len(hit) == 1 else ''} right after missing "
        f"values ({how}): {shown}; such a forecast rests on the fill, not on data",
        DataWarning,
        stacklevel=4,
    )


def shared(fills: Fills | None, sharded: bool) -> Fills | None:
    """``fills`` of every process's series when each holds its own (``sharded``), else as is."""
    if not sharded:
        return fills
    from . import distributed

    parts = [part for part in distributed.gather(fills) if part is not None]
    return Fills.combine(parts) if parts else None
