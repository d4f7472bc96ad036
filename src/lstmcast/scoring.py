"""Scoring forecast frames: :func:`evaluate` matches a long forecast or backtest frame to the
actual values and scores every model in it.

The last step of the data flow (input frame -> windows -> model -> forecast -> **scores**), on
frames as ``predict`` and ``cross_validation`` return them. The per-point terms are
:mod:`lstmcast.metrics`', so a score here equals the array metric on the same points. Follows the
M4 competition convention: each metric is computed per series over all that series' forecast
rows (all cutoffs pooled), then averaged over series with equal weight.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from .checks import check_numeric, count_of, require_frame
from .columns import CUTOFF, ID, NOT_MODELS, TARGET, TIME, parse_interval
from .errors import DataError
from .metrics import FloatArray, interval_score_terms, seasonal_scales, smape_terms

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["evaluate"]

# How many offending series/rows an error message lists before summarising the rest.
_SHOW = 5


def _series_rms(errors: FloatArray, codes: NDArray[np.intp], counts: FloatArray) -> FloatArray:
    """Per-series root mean square of ``errors``, each in units of its series' largest |error|."""
    peak = np.zeros(len(counts))
    np.maximum.at(peak, codes, np.abs(errors))
    unit = np.where(peak > 0, peak, 1.0)
    return unit * np.sqrt(_series_mean((errors / unit[codes]) ** 2, codes, counts))


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
    frame: pd.DataFrame, col: str, name: str, role: str, hint: str = "", missing: bool = False
) -> FloatArray:
    """Column ``col`` of ``frame`` as float64, refusing non-numeric, NaN and infinite values
    (with ``missing``, NaN is a missing value and kept)."""
    check_numeric(frame, col, name, role, hint)
    values = frame[col].to_numpy(dtype=np.float64, na_value=np.nan)
    bad = np.isinf(values) if missing else ~np.isfinite(values)
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


def _attach_actuals(
    forecasts: pd.DataFrame, actuals: pd.DataFrame | None, skip_missing: bool = False
) -> pd.DataFrame:
    """Return ``forecasts`` with a finite ``y`` column for every row, or raise; with
    ``skip_missing``, without the rows whose ``y`` is missing (NaN)."""
    if actuals is None:
        if TARGET not in forecasts.columns:
            raise DataError(
                f"actuals is None but forecasts has no {TARGET!r} column; pass actuals "
                f"({ID}, {TIME}, {TARGET}) or include {TARGET} in forecasts"
            )
        _numeric_column(forecasts, TARGET, "forecasts", "the actual values", missing=skip_missing)
        return _with_actuals(forecasts) if skip_missing else forecasts
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
    _numeric_column(merged, TARGET, "actuals", "the actual values", missing=skip_missing)
    return _with_actuals(merged) if skip_missing else merged


def _with_actuals(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``frame`` whose actual value is there (not NaN); none is an error."""
    kept = frame[frame[TARGET].notna().to_numpy()]
    if kept.empty:
        raise DataError(f"every actual value is missing ({len(frame)} rows): nothing to score")
    return kept


def train_scales(
    train: Any, series: pd.Index, season: int, skip_missing: bool = False
) -> tuple[FloatArray, NDArray[np.bool_]]:
    """Per-series seasonal naive scale for ``series``, and which of them are usable (> 0).

    ``skip_missing``: a missing value (NaN) is allowed and every difference with it skipped
    (the rows must then be each series' regular steps, missing ones included, as a backtest of
    a model with ``fill_gaps`` has them)."""
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
    y = _numeric_column(train, TARGET, "train", "the training values", missing=skip_missing)
    # Sorted: rows `season` apart belong to one series iff their codes match. Without
    # skip_missing y holds no NaN (refused above), so no pair is skipped.
    scale = seasonal_scales(y, series.get_indexer(train[ID]), len(series), season)
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
    skip_missing: bool = False,
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
    skip_missing : bool, default False
        Leave out the rows whose actual value is missing (NaN; a backtest of a model with
        ``missing`` marks so the points the data did not have), and the differences with a
        missing training value from the MASE scale. By default a missing value is an error.

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

    data = _attach_actuals(forecasts, actuals, skip_missing)
    y = data[TARGET].to_numpy(dtype=np.float64)
    codes, series = pd.factorize(data[ID])
    series = pd.Index(series)
    counts = np.bincount(codes, minlength=len(series)).astype(np.float64)

    has_train = train is not None
    if has_train:
        scale, usable = train_scales(train, series, season_length, skip_missing)
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
            "sMAPE": _mean_or_nan(_series_mean(smape_terms(y, f), codes, counts)),
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
                score = _series_mean(interval_score_terms(y, lo, hi, alpha), codes, counts)
                row[msis_col] = _mean_or_nan(score[usable] / scale[usable])
        rows[model] = row

    result = pd.DataFrame.from_dict(rows, orient="index")
    result.index.name = "model"
    return result
