"""Forecast accuracy metrics as plain functions on arrays (MAE, RMSE, sMAPE, MASE, coverage, MSIS).

The end of the data flow (forecast -> **metrics**); :mod:`lstmcast.scoring` applies the same
per-point terms to long forecast frames (:func:`~lstmcast.scoring.evaluate`). The functions take
array-likes of any shape (``y_true`` and the forecasts must have the same shape) and return a
Python ``float``. Errors are in the units of the data unless stated otherwise. Every bad input
(empty, NaN/inf, misaligned, too short) raises :class:`~lstmcast.errors.DataError`; a bad
``season`` or ``alpha`` raises :class:`~lstmcast.errors.ConfigError`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .checks import Rule, count_of, float_array
from .errors import DataError

if TYPE_CHECKING:
    pass

__all__ = ["coverage", "mae", "mase", "msis", "rmse", "smape"]

FloatArray = NDArray[np.float64]


# --------------------------------------------------------------------------------------------
# Input checks
# --------------------------------------------------------------------------------------------


def _as_array(x: ArrayLike, name: str) -> FloatArray:
    """Convert ``x`` to float64 and reject empty or non-finite input, naming ``name``."""
    arr = float_array(x, name)
    if arr.size == 0:
        raise DataError(f"{name} is empty; at least one value is needed")
    bad = ~np.isfinite(arr)
    if bad.any():
        first = np.argwhere(bad)[0]
        where = int(first[0]) if arr.ndim == 1 else tuple(int(i) for i in first)
        raise DataError(
            f"{name} has {int(bad.sum())} NaN or infinite value(s) out of {arr.size} "
            f"(first at index {where}); drop or fill them before scoring"
        )
    return arr


def _check_same_shape(a: FloatArray, a_name: str, b: FloatArray, b_name: str) -> None:
    if a.shape == b.shape:
        return
    if a.ndim <= 1 and b.ndim <= 1:
        raise DataError(f"{a_name} has {a.size} values but {b_name} has {b.size}; they must align")
    raise DataError(
        f"{a_name} has shape {a.shape} but {b_name} has shape {b.shape}; they must be the same"
    )


def _check_alpha(alpha: Any) -> float:
    """1 - the interval's coverage: 0.05 for a 95% interval."""
    if isinstance(alpha, np.floating | np.integer):
        alpha = float(alpha)
    Rule((int, float), 0, 1, low_open=True, high_open=True).check("alpha", alpha)
    return float(alpha)


def _check_bounds_ordered(lo: FloatArray, hi: FloatArray) -> None:
    bad = lo > hi
    if bad.any():
        i = int(np.flatnonzero(bad.ravel())[0])
        raise DataError(
            f"lo is above hi at {int(bad.sum())} of {lo.size} points (first at flat index {i}: "
            f"lo={lo.ravel()[i]:g}, hi={hi.ravel()[i]:g}); are lo and hi swapped?"
        )


def _point_arrays(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Actuals and forecasts as float arrays of one shape, each finite and non-empty."""
    y = _as_array(y_true, "y_true")
    f = _as_array(y_pred, "y_pred")
    _check_same_shape(y, "y_true", f, "y_pred")
    return y, f


def _interval_arrays(
    y_true: ArrayLike, lo: ArrayLike, hi: ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray]:
    y = _as_array(y_true, "y_true")
    lo_arr = _as_array(lo, "lo")
    hi_arr = _as_array(hi, "hi")
    _check_same_shape(y, "y_true", lo_arr, "lo")
    _check_same_shape(y, "y_true", hi_arr, "hi")
    _check_bounds_ordered(lo_arr, hi_arr)
    return y, lo_arr, hi_arr


# --------------------------------------------------------------------------------------------
# Per-point terms, shared by the array functions and scoring.evaluate: both compute the same
# --------------------------------------------------------------------------------------------


def smape_terms(y: FloatArray, f: FloatArray) -> FloatArray:
    """Each point's sMAPE term, in percent (0..200)."""
    denom = np.abs(y) + np.abs(f)
    # y == f == 0 is a perfect forecast; count it as 0 instead of the undefined 0/0.
    return np.divide(200.0 * np.abs(y - f), denom, out=np.zeros_like(denom), where=denom > 0)


def _root_mean_square(errors: FloatArray) -> float:
    """sqrt(mean(errors**2)) without overflow or underflow: in units of the largest |error|."""
    peak = float(np.max(np.abs(errors)))
    if peak == 0.0:
        return 0.0
    return peak * float(np.sqrt(np.mean((errors / peak) ** 2)))


def interval_score_terms(y: FloatArray, lo: FloatArray, hi: FloatArray, alpha: float) -> FloatArray:
    """Each point's interval score: the width, plus 2/alpha times how far y falls outside."""
    below = np.where(y < lo, lo - y, 0.0)
    above = np.where(y > hi, y - hi, 0.0)
    return (hi - lo) + (2.0 / alpha) * (below + above)


def seasonal_scales(y: FloatArray, codes: NDArray[np.intp], n: int, season: int) -> FloatArray:
    """Each series' mean absolute seasonal difference (lag ``season``), (n,): ``y`` holds the
    series one after another in time order, ``codes`` (same length) the series of each row.
    Pairs with a missing value (NaN) are skipped; a series with no pair gets 0."""
    same = codes[season:] == codes[:-season]  # rows a season apart in one series
    differences = np.abs(y[season:] - y[:-season])
    usable = same & ~np.isnan(differences)
    series = codes[season:][usable]
    total = np.bincount(series, weights=differences[usable], minlength=n)
    pairs = np.bincount(series, minlength=n)
    return np.divide(total, pairs, out=np.zeros(n), where=pairs > 0)


def _seasonal_scale(y_train: ArrayLike, season: int, metric: str) -> float:
    """In-sample MAE of the seasonal naive forecast on ``y_train``; raise if it is unusable."""
    x = _as_array(y_train, "y_train")
    if x.ndim != 1:
        raise DataError(f"y_train must be one series (1-D), got shape {x.shape}")
    if x.size <= season:
        raise DataError(
            f"y_train has {x.size} values but season={season} needs at least {season + 1} "
            f"(more than season) to compute the seasonal naive scale"
        )
    scale = float(np.mean(np.abs(x[season:] - x[:-season])))
    if scale == 0.0:
        periodic = "" if season == 1 else f" season to season (exactly {season}-periodic)"
        raise DataError(
            f"{metric} is undefined for this series: its training part is constant{periodic} "
            f"({x.size} values), so the in-sample seasonal naive error that scales {metric} is "
            f"0. Use mae() (or rmse()) for this series instead"
        )
    return scale


# --------------------------------------------------------------------------------------------
# Public array metrics
# --------------------------------------------------------------------------------------------


def mae(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Mean absolute error.

    Parameters
    ----------
    y_true, y_pred : array-like
        Actual and forecast values, same shape.

    Returns
    -------
    float
        ``mean(|y_true - y_pred|)``, in the units of the data.
    """
    y, f = _point_arrays(y_true, y_pred)
    return float(np.mean(np.abs(y - f)))


def rmse(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Root mean squared error.

    Parameters
    ----------
    y_true, y_pred : array-like
        Actual and forecast values, same shape.

    Returns
    -------
    float
        ``sqrt(mean((y_true - y_pred)**2))``, in the units of the data.
    """
    y, f = _point_arrays(y_true, y_pred)
    return _root_mean_square(y - f)


def smape(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Symmetric mean absolute percentage error, M4 definition.

    Each point contributes ``200 * |y - f| / (|y| + |f|)``; a point where both ``y`` and ``f``
    are 0 is a perfect forecast and contributes 0 (rather than the undefined 0/0).

    Parameters
    ----------
    y_true, y_pred : array-like
        Actual and forecast values, same shape.

    Returns
    -------
    float
        The mean of those terms, in percent, between 0 and 200.
    """
    y, f = _point_arrays(y_true, y_pred)
    return float(np.mean(smape_terms(y, f)))


def mase(y_true: ArrayLike, y_pred: ArrayLike, y_train: ArrayLike, season: int = 1) -> float:
    """Mean absolute scaled error (Hyndman & Koehler, as in M4).

    The forecast's MAE divided by the in-sample MAE of the seasonal naive forecast on the
    training series, ``mean(|x[t] - x[t - season]|)``.

    Parameters
    ----------
    y_true, y_pred : array-like
        Actual and forecast values, same shape.
    y_train : array-like, shape (n,)
        The series' training values in time order; needs ``n > season``.
    season : int, default 1
        Seasonal period in steps (1 = plain naive forecast).

    Returns
    -------
    float
        Unitless; below 1 means better than the in-sample seasonal naive forecast.

    Raises
    ------
    DataError
        Also when the scale is 0 (constant or exactly ``season``-periodic training series):
        MASE is undefined there, use :func:`mae`.
    """
    season = count_of("season", season)
    err = mae(y_true, y_pred)
    return err / _seasonal_scale(y_train, season, "MASE")


def coverage(y_true: ArrayLike, lo: ArrayLike, hi: ArrayLike) -> float:
    """Share of actual values inside their prediction interval ``[lo, hi]`` (bounds included).

    Parameters
    ----------
    y_true, lo, hi : array-like
        Actual values and interval bounds, same shape, ``lo <= hi``.

    Returns
    -------
    float
        A fraction between 0 and 1 (not percent).
    """
    y, lo_arr, hi_arr = _interval_arrays(y_true, lo, hi)
    return float(np.mean((y >= lo_arr) & (y <= hi_arr)))


def msis(
    y_true: ArrayLike,
    lo: ArrayLike,
    hi: ArrayLike,
    y_train: ArrayLike,
    season: int = 1,
    alpha: float = 0.05,
) -> float:
    """Mean scaled interval score, the official M4 definition.

    The mean over points of ``(hi - lo) + (2/alpha)(lo - y)[y < lo] + (2/alpha)(y - hi)[y > hi]``,
    divided by the same seasonal naive scale as :func:`mase`. Lower is better.

    Parameters
    ----------
    y_true, lo, hi : array-like
        Actual values and interval bounds, same shape, ``lo <= hi``.
    y_train : array-like, shape (n,)
        The series' training values in time order; needs ``n > season``.
    season : int, default 1
        Seasonal period in steps.
    alpha : float, default 0.05
        ``1 - level/100`` of the interval (0.05 for a 95% interval).

    Returns
    -------
    float
        Unitless.
    """
    season = count_of("season", season)
    alpha = _check_alpha(alpha)
    y, lo_arr, hi_arr = _interval_arrays(y_true, lo, hi)
    score = float(np.mean(interval_score_terms(y, lo_arr, hi_arr, alpha)))
    return score / _seasonal_scale(y_train, season, "MSIS")
