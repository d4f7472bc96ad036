"""Per-series scaling and sliding windows over a :class:`~lstmcast.data.Panel`.

Windows are never materialised as a (windows, window + horizon) copy of the data: a
:class:`Windows` holds the scaled values once, flat, plus the row where each window starts, and
gathers one batch at a time. Memory stays O(rows), whatever the window length.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace

import numpy as np
import torch

from .data import Panel, concatenated_ranges
from .errors import ConfigError, DataError, count, option
from .metrics import seasonal_scales

SCALERS = ("standard", "none")

# How many scales from its mean a forecast must be able to reach without overflowing.
FORECAST_HEADROOM = 1e6


@dataclass(frozen=True)
class SeriesScaler:
    """Per-series affine scaling ``(y - shift) / scale``; ``ids``, ``shift``, ``scale`` (n,).

    ``spread`` (n,): each series' mean absolute seasonal difference over the points it was
    fitted on, in scaled units (0: none measurable), the floor of its interval's score unit
    (see :meth:`with_spread`); None for a model saved before it.
    """

    ids: np.ndarray
    shift: np.ndarray
    scale: np.ndarray
    spread: np.ndarray | None = None

    def with_spread(self, panel: Panel, n_fit: np.ndarray, season_length: int) -> SeriesScaler:
        """This scaling, with ``spread`` measured on the first ``n_fit`` (n,) points of each
        series of ``panel`` (in this scaler's order); missing values (NaN) are skipped."""
        rows = concatenated_ranges(panel.starts[:-1], panel.starts[:-1] + n_fit)
        series_of_row = np.repeat(np.arange(len(panel)), n_fit)
        mean = seasonal_scales(panel.y[rows], series_of_row, len(panel), season_length)
        return replace(self, spread=mean / self.scale)

    def take(self, rows: np.ndarray, ids: np.ndarray) -> SeriesScaler:
        """The scaling of series ``rows`` (k,) of this one, named ``ids`` (k,)."""
        spread = None if self.spread is None else self.spread[rows]
        return SeriesScaler(ids, self.shift[rows], self.scale[rows], spread)

    @staticmethod
    def joined(first: SeriesScaler, then: SeriesScaler) -> SeriesScaler:
        """``first``'s series, then ``then``'s; a spread only where both have one."""
        both = first.spread is not None and then.spread is not None
        return SeriesScaler(
            np.concatenate([first.ids, then.ids]),
            np.concatenate([first.shift, then.shift]),
            np.concatenate([first.scale, then.scale]),
            np.concatenate([first.spread, then.spread]) if both else None,
        )

    @classmethod
    def fit(cls, panel: Panel, n_fit: np.ndarray, kind: str = "standard") -> SeriesScaler:
        """Fit on the first ``n_fit[i]`` points of each series (its training part only).

        ``standard`` uses the mean and the population standard deviation, right for any finite
        magnitude (1e-300 or 1e300) and offset (1e12 + sin); a series constant in its training
        part (every value equal) is scaled by its own magnitude ``|mean|`` (1 if it is 0), so a
        flat series of 1e-12 is not forecast in units of 1. ``none`` leaves values as they are.
        Missing values (NaN: ``missing="mask"``) are left out of the statistics; a series with
        none observed in its training part is an error.
        """
        if kind not in SCALERS:
            raise ConfigError(f"scaler must be one of {SCALERS}, got {kind!r}")
        n = len(panel)
        if kind == "none":
            return cls(panel.ids.copy(), np.zeros(n), np.ones(n))
        rows = concatenated_ranges(panel.starts[:-1], panel.starts[:-1] + n_fit)
        series_of_row = np.repeat(np.arange(n), n_fit)
        values = panel.y[rows]
        observed = ~np.isnan(values)
        if not observed.all():
            values, series_of_row = values[observed], series_of_row[observed]
            n_fit = np.bincount(series_of_row, minlength=n)
            if (n_fit == 0).any():
                i = int(np.argmin(n_fit))
                raise DataError(
                    f"series {panel.ids[i]!r} has no observed value in its training part: "
                    "every point there is missing, so there is nothing to scale it by"
                )
        # Statistics in units of a power of two near each series' largest |value| (exact to
        # divide by), so neither the sums nor the squares overflow or underflow.
        peak = np.zeros(n)
        np.maximum.at(peak, series_of_row, np.abs(values))
        # Constant means every value equal: a series that varies by a few digits in its 12th
        # (1e12 + sin) has a standard deviation float64 holds, and is scaled by it.
        low, high = np.full(n, np.inf), np.full(n, -np.inf)
        np.minimum.at(low, series_of_row, values)
        np.maximum.at(high, series_of_row, values)
        unit = np.ldexp(1.0, np.frexp(peak)[1] - 1)  # peak / 2 < unit <= peak; 0 -> 0.5
        u = values / unit[series_of_row]  # |u| < 2
        mean_u = np.bincount(series_of_row, u, minlength=n) / n_fit
        var_u = np.bincount(series_of_row, (u - mean_u[series_of_row]) ** 2, minlength=n) / n_fit
        constant = (low == high) | ~(var_u > 0)
        # Forecasts are the network's output (a few units, more for wide intervals) times the
        # scale plus the mean: both must stay far from float64's limit. An overflow here is
        # the answer to that question, not an accident.
        with np.errstate(over="ignore"):
            mean, std = mean_u * unit, np.sqrt(var_u) * unit
            scale = np.where(constant, np.where(mean != 0, np.abs(mean), 1.0), std)
            unsafe = ~np.isfinite(np.abs(mean) + FORECAST_HEADROOM * scale)
        if unsafe.any():
            i = int(np.argmax(unsafe))
            raise DataError(
                f"series {panel.ids[i]!r} reaches {peak[i]:.3g}: too close to the largest number "
                f"a float64 holds ({np.finfo(np.float64).max:.3g}) for its forecasts to stay "
                "finite; divide it by a power of ten (and multiply the forecasts back)"
            )
        # Below the smallest normal float64 the scale itself loses its digits (or becomes 0).
        subnormal = scale < np.finfo(np.float64).tiny
        if subnormal.any():
            i = int(np.argmax(subnormal))
            what = (
                f"is constant at {mean[i]:.3g}" if constant[i] else f"varies by only {scale[i]:.3g}"
            )
            raise DataError(
                f"series {panel.ids[i]!r} {what}, below the smallest "
                f"normal float64 ({np.finfo(np.float64).tiny:.3g}) where numbers lose their "
                "digits; multiply it by a power of ten (and divide the forecasts back)"
            )
        return cls(panel.ids.copy(), mean, scale)

    @functools.cached_property
    def _lookup(self) -> dict[str, int]:
        # Built once: forecasting series one by one must not rebuild it for every call.
        return {series_id: i for i, series_id in enumerate(self.ids)}

    def rows_of(self, ids: np.ndarray) -> np.ndarray:
        """Index of each id in this scaler, (len(ids),); unknown ids are an error."""
        lookup = self._lookup
        missing = [series_id for series_id in ids if series_id not in lookup]
        if missing:
            others = len(missing) - 1
            # The ids it knows: a single-series file names its series after its value column,
            # so data whose column was renamed shows up here.
            known = ", ".join(repr(str(i)) for i in self.ids[:3])
            known += ", ..." if len(self.ids) > 3 else ""
            raise DataError(
                f"series {missing[0]!r} was not in the training data"
                + (f" (nor {count(others, 'other')})" if others else "")
                + f"; the model knows {len(self.ids)} series ({known}); its per-series scaling "
                "comes from training, so give it those series (a single series is named after "
                "its value column), fit it on data that includes these, or forecast them from "
                f"their own history with {option('cold_start', True)}"
            )
        return np.fromiter((lookup[series_id] for series_id in ids), np.int64, len(ids))

    def transform(self, panel: Panel, rows: np.ndarray | None = None) -> np.ndarray:
        """Scaled values of the whole panel, (panel rows,); ``rows`` maps panel series to ours."""
        rows = self.rows_of(panel.ids) if rows is None else rows
        shift = np.repeat(self.shift[rows], panel.lengths)
        scale = np.repeat(self.scale[rows], panel.lengths)
        return (panel.y - shift) / scale

    def inverse(self, values: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Undo the scaling of ``values`` (k, ...) whose series are ``rows`` (k,)."""
        extra = (1,) * (values.ndim - 1)
        return values * self.scale[rows].reshape(-1, *extra) + self.shift[rows].reshape(-1, *extra)


@dataclass(frozen=True)
class Windows:
    """Training or validation windows: ``x`` (batch, window, features) -> ``y`` (batch, horizon).

    ``inputs`` (rows, features) hold the scaled series (feature 0), any covariates and calendar
    features, flat over all series; ``target`` (rows,) the scaled series; ``starts``
    (n_windows,) the row where each window's input begins. Window j reads rows ``starts[j]`` to
    ``starts[j] + window + horizon`` (exclusive). With ``ahead`` (features,) 0/1, x also holds
    the horizon's rows with only the features it marks kept (the future-known covariates: the
    target and past-only ones there are zeros, never seen).
    """

    inputs: torch.Tensor
    target: torch.Tensor
    starts: torch.Tensor
    window: int
    horizon: int
    ahead: torch.Tensor | None = None
    # (n_windows,) each window's series' mean seasonal difference in training, scaled units
    # (SeriesScaler.spread): the floor of its interval unit (forecasting.score_unit). None: a
    # scaler without it.
    series_spread: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.starts)

    def batch(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Gather windows ``index`` (batch,): x (batch, window[+ horizon], features), y (batch,
        horizon)."""
        first = self.starts[index, None]  # (B, 1)
        steps = torch.arange(self.window + self.horizon, device=first.device)
        x = self.inputs[first + steps[: self.window]]
        if self.ahead is not None:
            future = self.inputs[first + steps[self.window :]] * self.ahead
            x = torch.cat([x, future], dim=1)
        return x, self.target[first + steps[self.window :]]

    def spread_of(self, index: torch.Tensor) -> torch.Tensor | None:
        """The series spread (batch,) of windows ``index`` (batch,), or None."""
        return None if self.series_spread is None else self.series_spread[index]

    def to(self, device: torch.device) -> Windows:
        return Windows(
            self.inputs.to(device),
            self.target.to(device),
            self.starts.to(device),
            self.window,
            self.horizon,
            None if self.ahead is None else self.ahead.to(device),
            None if self.series_spread is None else self.series_spread.to(device),
        )


CALENDAR = ("hour", "dayofweek", "dayofyear")


def calendar_features(ds: np.ndarray, names: tuple[str, ...], tz: str | None = None) -> np.ndarray:
    """Cyclic calendar features of timestamps ``ds`` (rows,): (rows, 2 * len(names)) float32.

    ``tz``: the zone of times given as naive UTC; the features follow its clock (the hour in
    Paris, across daylight-saving changes), as the data's own pattern does.

    Each name becomes a sine and a cosine of its phase (hour of day / 24, day of week / 7, day of
    year / 365.25), so 23:00 sits next to 00:00 and Sunday next to Monday.
    """
    import pandas as pd

    if ds.dtype.kind != "M":
        raise ConfigError(
            f"calendar features {names} need dates in the time column; this data has "
            f"{ds.dtype} time steps"
        )
    times = pd.DatetimeIndex(ds)
    if tz is not None:
        times = times.tz_localize("UTC").tz_convert(tz).tz_localize(None)
    phases = {
        "hour": (times.hour + times.minute / 60) / 24,
        "dayofweek": (times.day_of_week + times.hour / 24) / 7,
        "dayofyear": (times.day_of_year - 1) / 365.25,
    }
    columns = []
    for name in names:
        angle = 2 * np.pi * np.asarray(phases[name], dtype=np.float64)
        columns += [np.sin(angle), np.cos(angle)]
    return np.stack(columns, axis=1).astype(np.float32)


def window_starts(
    panel: Panel, first_target: np.ndarray, last_target_end: np.ndarray, window: int, horizon: int
) -> np.ndarray:
    """Rows where windows begin whose targets lie in ``[first_target, last_target_end)``.

    Both bounds are per series positions (n,), counted from each series' start.
    """
    begin = panel.starts[:-1] + np.maximum(first_target - window, 0)
    end = panel.starts[:-1] + last_target_end - window - horizon + 1
    return concatenated_ranges(begin, np.maximum(end, begin))
