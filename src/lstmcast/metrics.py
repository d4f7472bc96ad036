"""Forecast accuracy metrics: plain functions on arrays, and :func:`evaluate` on long frames.

The array functions take array-likes of any shape (``y_true`` and the forecasts must have the same
shape) and return a Python ``float``. Errors are in the units of the data unless stated otherwise.
Every bad input (empty, NaN/inf, misaligned, too short) raises :class:`~lstmcast.errors.DataError`.

:func:`evaluate` follows the M4 competition convention: each metric is computed per series over
all that series' forecast rows (all cutoffs pooled), then averaged over series with equal weight.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .checks import Rule, count_of
from .columns import CUTOFF, ID, NOT_MODELS, TARGET, TIME, parse_interval
from .errors import DataError
from .validation import check_numeric, float_array, require_frame

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["coverage", "evaluate", "mae", "mase", "msis", "rmse", "smape"]

FloatArray = NDArray[np.float64]

# How many offending series/rows an error message lists before summarising the rest.
_SHOW = 5


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
# Per-point terms, shared by the array functions and evaluate so both compute the same thing
# --------------------------------------------------------------------------------------------


def _smape_terms(y: FloatArray, f: FloatArray) -> FloatArray:
    denom = np.abs(y) + np.abs(f)
    # y == f == 0 is a perfect forecast; count it as 0 instead of the undefined 0/0.
    return np.divide(200.0 * np.abs(y - f), denom, out=np.zeros_like(denom), where=denom > 0)


def _root_mean_square(errors: FloatArray) -> float:
    """sqrt(mean(errors**2)) without overflow or underflow: in units of the largest |error|."""
    peak = float(np.max(np.abs(errors)))
    if peak == 0.0:
        return 0.0
    return peak * float(np.sqrt(np.mean((errors / peak) ** 2)))


def _series_rms(errors: FloatArray, codes: NDArray[np.intp], counts: FloatArray) -> FloatArray:
    """Per-series root mean square of ``errors``, each in units of its series' largest |error|."""
    peak = np.zeros(len(counts))
    np.maximum.at(peak, codes, np.abs(errors))
    unit = np.where(peak > 0, peak, 1.0)
    return unit * np.sqrt(_series_mean((errors / unit[codes]) ** 2, codes, counts))


def _interval_score_terms(
    y: FloatArray, lo: FloatArray, hi: FloatArray, alpha: float
) -> FloatArray:
    below = np.where(y < lo, lo - y, 0.0)
    above = np.where(y > hi, y - hi, 0.0)
    return (hi - lo) + (2.0 / alpha) * (below + above)


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
    return float(np.mean(_smape_terms(y, f)))


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
    score = float(np.mean(_interval_score_terms(y, lo_arr, hi_arr, alpha)))
    return score / _seasonal_scale(y_train, season, "MSIS")


# --------------------------------------------------------------------------------------------
# evaluate
# --------------------------------------------------------------------------------------------


def _require_frame(frame: Any, name: str, columns: Sequence[str]) -> pd.DataFrame:
    """A long frame holding ``columns``, with rows, and an id and a time in every row."""
    frame = require_frame(frame, name, columns)
    if frame.empty:
        raise DataError(f"{name} has no rows")
    for col in (ID, TIME):
        n_null = int(frame[col].isna().sum())
        if n_null:
            raise DataError(f"{name} column {col!r} has {n_null} missing value(s)")
    return frame


def _where(frame: pd.DataFrame, mask: NDArray[np.bool_]) -> str:
    """Describe the first flagged row of ``frame`` as ``unique_id=..., ds=...``."""
    i = int(np.flatnonzero(mask)[0])
    return f"{ID}={frame[ID].iloc[i]!r}, {TIME}={frame[TIME].iloc[i]}"


def _check_unique_keys(frame: pd.DataFrame, name: str, keys: list[str]) -> None:
    dup = frame.duplicated(keys).to_numpy()
    if dup.any():
        raise DataError(
            f"{name} has {int(dup.sum())} duplicated ({', '.join(keys)}) row(s) (first at "
            f"{_where(frame, dup)}); each key must appear once"
        )


def _numeric_column(
    frame: pd.DataFrame, col: str, name: str, role: str, hint: str = ""
) -> FloatArray:
    """Column ``col`` of ``frame`` as float64, refusing non-numeric, NaN and infinite values."""
    check_numeric(frame, col, name, role, hint)
    values = frame[col].to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(values)
    if bad.any():
        raise DataError(
            f"{name} column {col!r} has {int(bad.sum())} NaN or infinite value(s) (first at "
            f"{_where(frame, bad)}); drop or fill them before scoring"
        )
    return values


def _split_columns(
    forecasts: pd.DataFrame,
) -> tuple[list[str], dict[str, dict[str, tuple[str, str]]]]:
    """Return the model columns and ``{model: {level: (lo_column, hi_column)}}``."""
    models: list[str] = []
    bounds: dict[tuple[str, str], dict[str, str]] = {}
    for col in forecasts.columns:
        if not isinstance(col, str):
            raise DataError(f"forecasts column names must be strings, got {col!r}")
        if col in NOT_MODELS:
            continue
        interval = parse_interval(col)
        if interval is None:
            models.append(col)
        else:
            model, side, level = interval
            bounds.setdefault((model, level), {})[side] = col
    if not models:
        raise DataError(
            f"forecasts has no model columns; besides {list(NOT_MODELS)} and interval "
            f"bounds it needs one numeric column per model, got {list(forecasts.columns)}"
        )
    intervals: dict[str, dict[str, tuple[str, str]]] = {}
    for (model, level), sides in bounds.items():
        if model not in models:
            raise DataError(
                f"forecasts has interval column(s) {sorted(sides.values())} but no point "
                f"forecast column {model!r}; add it or drop the interval columns"
            )
        if len(sides) != 2:
            have = next(iter(sides.values()))
            other = "hi" if "lo" in sides else "lo"
            raise DataError(
                f"forecasts has {have!r} but not {model}-{other}-{level}; interval bounds come "
                f"in lo/hi pairs"
            )
        if not 0 < float(level) < 100:
            raise DataError(
                f"interval level {level} of model {model!r} must be strictly between 0 and 100 "
                f"(percent)"
            )
        intervals.setdefault(model, {})[level] = (sides["lo"], sides["hi"])
    return models, intervals


def _attach_actuals(forecasts: pd.DataFrame, actuals: pd.DataFrame | None) -> pd.DataFrame:
    """Return ``forecasts`` with a finite ``y`` column for every row, or raise."""
    if actuals is None:
        if TARGET not in forecasts.columns:
            raise DataError(
                f"actuals is None but forecasts has no {TARGET!r} column; pass actuals "
                f"({ID}, {TIME}, {TARGET}) or include {TARGET} in forecasts"
            )
        _numeric_column(forecasts, TARGET, "forecasts", "the actual values")
        return forecasts
    actuals = _require_frame(actuals, "actuals", (ID, TIME, TARGET))
    _check_unique_keys(actuals, "actuals", [ID, TIME])
    # The actuals' y wins over a y carried by forecasts.
    left = forecasts.drop(columns=TARGET) if TARGET in forecasts.columns else forecasts
    try:
        merged = left.merge(
            actuals[[ID, TIME, TARGET]],
            on=[ID, TIME],
            how="left",
            indicator="_actual",
            validate="many_to_one",
        )
    except ValueError as exc:  # typically int vs datetime ds, or int vs str unique_id
        raise DataError(
            f"cannot match forecasts to actuals on (unique_id, ds): {exc}. Column dtypes are "
            f"forecasts {dict(forecasts[[ID, TIME]].dtypes.astype(str))}, actuals "
            f"{dict(actuals[[ID, TIME]].dtypes.astype(str))}; make them agree"
        ) from exc
    unmatched = (merged["_actual"] == "left_only").to_numpy()
    if unmatched.any():
        raise DataError(
            f"no actual value for the forecast at {_where(merged, unmatched)} "
            f"({int(unmatched.sum())} forecast row(s) unmatched in total); actuals must cover "
            f"every (unique_id, ds) that is forecast"
        )
    merged = merged.drop(columns="_actual")
    _numeric_column(merged, TARGET, "actuals", "the actual values")
    return merged


def _train_scales(
    train: Any, series: pd.Index, season: int
) -> tuple[FloatArray, NDArray[np.bool_]]:
    """Per-series seasonal naive scale for ``series``, and which of them are usable (> 0)."""
    import pandas as pd

    train = _require_frame(train, "train", (ID, TIME, TARGET))
    train_ids = pd.Index(train[ID].unique())
    missing = series[train_ids.get_indexer(series) < 0]
    if len(missing):
        shown = ", ".join(repr(s) for s in missing[:_SHOW])
        more = f" and {len(missing) - _SHOW} more" if len(missing) > _SHOW else ""
        raise DataError(
            f"{len(missing)} forecast series not in train: {shown}{more}; train must hold the "
            f"training values of every evaluated series to compute MASE"
        )
    train = train[train[ID].isin(series)]
    _check_unique_keys(train, "train", [ID, TIME])
    train = train.sort_values([ID, TIME], kind="stable")
    y = _numeric_column(train, TARGET, "train", "the training values")
    codes = series.get_indexer(train[ID])
    # After sorting, rows `season` apart belong to the same series iff their codes match.
    same = codes[season:] == codes[:-season]
    diffs = np.abs(y[season:] - y[:-season])[same]
    diff_codes = codes[season:][same]
    n_diffs = np.bincount(diff_codes, minlength=len(series))
    total = np.bincount(diff_codes, weights=diffs, minlength=len(series))
    scale = np.divide(total, n_diffs, out=np.zeros(len(series)), where=n_diffs > 0)
    # Too short (no diffs) and constant series both end up with scale 0: unusable.
    return scale, scale > 0


def _series_mean(values: FloatArray, codes: NDArray[np.intp], counts: FloatArray) -> FloatArray:
    return np.bincount(codes, weights=values, minlength=len(counts)) / counts


def _mean_or_nan(values: FloatArray) -> float:
    # np.mean of an empty array warns; an empty selection means "undefined" here.
    return float(np.mean(values)) if values.size else float("nan")


def evaluate(
    actuals: pd.DataFrame | None,
    forecasts: pd.DataFrame | None = None,
    *,
    train: pd.DataFrame | None = None,
    season_length: int = 1,
) -> pd.DataFrame:
    """Score every model in a long forecast frame against the actual values.

    Convention (M4): each metric is computed per series over all that series' rows (all
    cutoffs pooled), then averaged over series with equal weight, so long series do not
    dominate.

    Parameters
    ----------
    actuals : DataFrame or None
        Long frame ``unique_id, ds, y``; extra rows are ignored. None when ``forecasts``
        already carries ``y``. If both carry ``y``, the actuals' is used. ``evaluate(cv)``
        with a single frame holding ``y`` means ``evaluate(None, cv)``.
    forecasts : DataFrame
        Long frame ``unique_id, ds``, optional ``cutoff`` and ``y``, and one numeric column
        per model. Columns ``{model}-lo-{level}`` / ``{model}-hi-{level}`` are that model's
        prediction interval bounds at ``level`` percent. Rows are matched to actuals on
        ``(unique_id, ds)``.
    train : DataFrame, optional
        Long frame ``unique_id, ds, y`` with each series' training values; enables MASE and
        MSIS. A series whose training part is shorter than ``season_length + 1`` or constant
        (seasonal naive scale 0) is left out of the MASE/MSIS averages only; if none is
        left the value is NaN.
    season_length : int, default 1
        Seasonal period in steps for the MASE/MSIS scale.

    Returns
    -------
    DataFrame
        One row per model (index ``model``, in column order) with columns ``MAE``, ``RMSE``
        (data units), ``sMAPE`` (percent, 0..200), ``MASE`` (if ``train``), and per interval
        level ``coverage-{level}`` (percent) and ``MSIS-{level}`` (if ``train``; alpha =
        1 - level/100). A model without bounds at some level gets NaN there.
    """
    import pandas as pd

    season_length = count_of("season_length", season_length)
    if forecasts is None:
        if actuals is None:
            raise DataError("evaluate needs a forecasts frame; both actuals and forecasts are None")
        forecasts, actuals = actuals, None
    forecasts = _require_frame(forecasts, "forecasts", (ID, TIME))
    models, intervals = _split_columns(forecasts)
    keys = [ID, TIME] + ([CUTOFF] if CUTOFF in forecasts.columns else [])
    _check_unique_keys(forecasts, "forecasts", keys)

    data = _attach_actuals(forecasts, actuals)
    y = data[TARGET].to_numpy(dtype=np.float64)
    codes, series = pd.factorize(data[ID])
    series = pd.Index(series)
    counts = np.bincount(codes, minlength=len(series)).astype(np.float64)

    has_train = train is not None
    if has_train:
        scale, usable = _train_scales(train, series, season_length)
    else:
        scale, usable = np.ones(len(series)), np.zeros(len(series), dtype=bool)

    levels = sorted({lv for by_level in intervals.values() for lv in by_level}, key=float)
    rows: dict[str, dict[str, float]] = {}
    for model in models:
        f = _numeric_column(
            data,
            model,
            "forecasts",
            f"the forecasts of model {model!r}",
            f" (every column besides {list(NOT_MODELS)} and interval bounds is a model)",
        )
        series_mae = _series_mean(np.abs(y - f), codes, counts)
        row = {
            "MAE": _mean_or_nan(series_mae),
            "RMSE": _mean_or_nan(_series_rms(y - f, codes, counts)),
            "sMAPE": _mean_or_nan(_series_mean(_smape_terms(y, f), codes, counts)),
        }
        if has_train:
            row["MASE"] = _mean_or_nan(series_mae[usable] / scale[usable])
        for level in levels:
            cov_col, msis_col = f"coverage-{level}", f"MSIS-{level}"
            if level not in intervals.get(model, {}):
                row[cov_col] = float("nan")
                if has_train:
                    row[msis_col] = float("nan")
                continue
            lo_col, hi_col = intervals[model][level]
            lo = _numeric_column(data, lo_col, "forecasts", "a lower interval bound")
            hi = _numeric_column(data, hi_col, "forecasts", "an upper interval bound")
            swapped = lo > hi
            if swapped.any():
                raise DataError(
                    f"forecasts column {lo_col!r} is above {hi_col!r} in {int(swapped.sum())} "
                    f"row(s) (first at {_where(data, swapped)}); are the bounds swapped?"
                )
            inside = ((y >= lo) & (y <= hi)).astype(np.float64)
            row[cov_col] = 100.0 * _mean_or_nan(_series_mean(inside, codes, counts))
            if has_train:
                alpha = 1.0 - float(level) / 100.0
                score = _series_mean(_interval_score_terms(y, lo, hi, alpha), codes, counts)
                row[msis_col] = _mean_or_nan(score[usable] / scale[usable])
        rows[model] = row

    result = pd.DataFrame.from_dict(rows, orient="index")
    result.index.name = "model"
    return result
