"""Time steps and calendars: what step a series' times follow, and the times that come next.

Sits between the validated input (:class:`~lstmcast.data.Panel`, whose ``ds`` it reads) and the
forecast (which stamps its rows with :func:`future_times`). Integer times step by an int; dates by
a pandas offset: a fixed length (``1h``), calendar days of the series' zone, or calendar steps
(month, quarter and year ends or starts, or whole months on one day of the month). Messages
describe steps as a person says them (:func:`describe_step`, :func:`show_time`).
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import DataError, count, points

if TYPE_CHECKING:
    import pandas as pd

# Steps this long or longer are checked against the calendar (months, quarters, years).
_CALENDAR_SCALE = np.timedelta64(28, "D")
_DAY = np.timedelta64(1, "D")


def show_time(value: Any) -> str:
    """A timestamp as a person writes it (2024-01-01 02:00:00), an integer step as is."""
    import pandas as pd

    return str(pd.Timestamp(value)) if isinstance(value, np.datetime64) else str(value)


def series_steps(ds: np.ndarray, starts: np.ndarray, ids: np.ndarray, tz: str | None) -> list[Any]:
    """Each series' time step: an int for integer time, a pandas offset for dates.

    ``ds`` (rows,) int64 or naive-UTC datetime64, series after series; series ``i`` is rows
    ``starts[i]:starts[i + 1]`` and is named ``ids[i]``; ``tz`` the zone whose calendar dates
    follow. Vectorised: series whose steps are all equal and short are settled at once; only the
    others (calendar frequencies like month ends, or irregular series) are looked at one by one.
    """
    lengths = np.diff(starts)
    ends = starts[1:]
    n_series, rows = len(ids), len(ds)
    if (lengths < 2).any():
        i = int(np.argmax(lengths < 2))
        time_step(ds[starts[i] : ends[i]], ids[i], tz)  # raises
    diffs = np.diff(ds)  # (rows - 1,), the last step of a series spans into the next
    first = diffs[starts[:-1]]  # each series' first step
    series_of_diff = np.repeat(np.arange(n_series), lengths)[:-1]
    within = np.ones(rows - 1, dtype=bool)
    within[ends[:-1] - 1] = False
    uneven = np.zeros(n_series, dtype=bool)
    uneven[series_of_diff[within & (diffs != first[series_of_diff])]] = True
    integer_time = ds.dtype.kind in "iu"
    if not integer_time:  # equal steps of 28 days or more may be months or years
        uneven |= first >= _CALENDAR_SCALE
        if tz is not None:  # whole days in a zone are its calendar's days or weeks
            uneven |= first % _DAY == np.timedelta64(0, "D")
    offsets: dict[Any, Any] = {}
    result: list[Any] = []
    for i, step in enumerate(first):
        if uneven[i]:
            result.append(time_step(ds[starts[i] : ends[i]], ids[i], tz))
        elif integer_time:
            result.append(int(step))
        else:
            if step not in offsets:
                offsets[step] = _fixed_step(step, tz)
            result.append(offsets[step])
    return result


def time_step(times: np.ndarray, series_id: str, tz: str | None = None) -> Any:
    """The regular step of one series' times: int for integer time, a pandas offset for dates.

    ``times`` (n,) int64 or naive-UTC datetime64 of any resolution; ``tz`` the zone whose
    calendar the dates follow (daily data in Europe/Paris is 23 or 25 hours apart at DST
    changes). Calendar steps are found too: month, quarter and year ends or starts, and a step
    of whole months on one day of the month (1 to 28), e.g. monthly on the 15th.
    """
    import pandas as pd

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


def _fixed_step(step: np.timedelta64, tz: str | None) -> Any:
    """The offset of equal steps ``step``: whole days in a zone are calendar days of that zone
    (midnight stays midnight across a daylight-saving change), anything else a fixed length."""
    import pandas as pd

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
    import pandas as pd

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


def step_to_json(step: Any) -> dict[str, Any]:
    """A time step as JSON: ``{"int": n}``, ``{"months": n}`` or ``{"freq": alias}``."""
    if isinstance(step, int):
        return {"int": step}
    import pandas as pd

    # Whole months on one day of the month (monthly on the 15th) have no pandas alias.
    if type(step) is pd.DateOffset and set(step.kwds) == {"months"}:
        return {"months": step.kwds["months"]}
    return {"freq": step.freqstr}


def step_from_json(step: dict[str, Any]) -> Any:
    """The time step :func:`step_to_json` wrote; ValueError for anything else."""
    if "int" in step:
        if not isinstance(step["int"], int) or step["int"] <= 0:
            raise ValueError(f"invalid integer time step {step['int']!r}")
        return step["int"]
    import pandas as pd

    if "months" in step:
        months = step["months"]
        if isinstance(months, bool) or not isinstance(months, int) or not 0 < months <= 1200:
            raise ValueError(f"invalid step of months {step['months']!r}")
        return pd.DateOffset(months=step["months"])

    if not isinstance(step["freq"], str):
        raise ValueError(f"invalid frequency {step['freq']!r}")
    return pd.tseries.frequencies.to_offset(step["freq"])
