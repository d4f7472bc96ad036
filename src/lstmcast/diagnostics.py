"""Sanity alarms: is a trained model better than naive forecasts, and does it fail in known ways?

After training (on the validation tail) and after a backtest (on its windows), the model's
forecasts are scored beside ``Naive`` and ``SeasonalNaive`` on the same rows, per series:

- **skill** against a baseline: ``1 - MAE(model) / MAE(baseline)`` over the series' forecast
  rows (+0.19: 19% lower error; negative: worse). Per series the MAE ratio equals the MASE ratio
  (both share the series' scale), so the overall skill is ``1 - mean MASE(model) / mean
  MASE(baseline)`` when MASE is known, else the mean MAE ratio's.
- **loses to seasonal naive**: the series' skill against ``SeasonalNaive`` is below 0.
- **flat forecast**: in more than half of the series' windows, the forecast's spread over the
  horizon (standard deviation of its ``h`` values) is below :data:`FLAT_SPREAD` times the
  spread of the series' actual values over the :func:`recent_span` steps before the window.
  Needs ``h >= 2``. A truly flat series (no recent spread) is never called flat.
- **lagged copy**: the forecasts match the actual values best when the actuals are shifted
  ``k`` steps later, ``1 <= k <= LAG_MAX``, and that match is at least :data:`LAG_GAIN` better
  (lower MAE) than the unshifted one: the model repeats what it just saw instead of forecasting
  (the classic one-step LSTM failure). Values before a window come from the series' history.

Overall, MASE is averaged over series (each series' mean absolute error over its training
part's mean absolute seasonal difference, as :func:`~lstmcast.scoring.evaluate`) and the skill
against seasonal naive is ``1 - MASE(model) / MASE(seasonal naive)``.

After ``LSTMForecaster.fit`` with a validation tail (:func:`validation_diagnostics`, kept as
``model.diagnostics_`` and saved with the model): from each series' validation tail, the model
forecasts every whole horizon it holds (origins ``h`` apart, the last one ``h`` before the end,
as ``backtest`` would), from one batched forecast; the baselines forecast from the same origins
and the MASE scale comes from the points before the tail. The model chose its best epoch on the
same tail, so these figures are a little optimistic; ``lstmcast backtest`` scores held-out data.

Sits after forecasting: forecasts + actuals -> a per-series frame and one summary line.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .columns import CUTOFF, ID, TARGET, TIME
from .errors import NAMED_SERIES, DataError

if TYPE_CHECKING:
    import pandas as pd

    from .data import Panel

FLAT_SPREAD = 0.1
LAG_MAX = 3
LAG_GAIN = 0.2
BASELINES = ("Naive", "SeasonalNaive")
# The per-series frame's columns: skills (fractions), alarms, and MASE of the model and of
# seasonal naive (NaN without training values, or for a series whose MASE scale is 0).
COLUMNS = (
    ID, "skill_naive", "skill_seasonal", "loses_to_seasonal", "flat", "lag", "mase",
    "mase_seasonal",
)  # fmt: skip


def recent_span(h: int, season_length: int) -> int:
    """Steps before a window whose spread a forecast is compared with: a season, at least h."""
    return max(h, season_length, 2)


@dataclass(frozen=True, eq=False)  # a frame has no single truth value: compare .series
class Diagnostics:
    """Per-series alarms (``series``, one row per series: :data:`COLUMNS`) and the overall
    figures of one model."""

    series: pd.DataFrame
    model: str
    mase: float | None  # mean over series; None without training values
    mase_seasonal: float | None
    skill_seasonal: float

    def summary(self, where: str = "validation") -> str:
        """One line: ``validation MASE 0.81; seasonal naive 1.00 (skill +19%); 0 of 414 series
        lose to seasonal naive, 0 flat, 2 lagged copies (H17, H230)``."""
        frame = self.series
        n = len(frame)
        skill = (
            f"skill {self.skill_seasonal:+.0%}"
            if np.isfinite(self.skill_seasonal)
            else "skill undefined: seasonal naive is exact"
        )
        if self.mase is not None and self.mase_seasonal is not None:
            head = (
                f"{where} MASE {self.mase:.2f}; seasonal naive {self.mase_seasonal:.2f} ({skill})"
            )
        else:
            head = f"{where}: against seasonal naive, {skill}"
        losers = frame.loc[frame["loses_to_seasonal"], ID]
        flat = frame.loc[frame["flat"], ID]
        lagged = frame.loc[frame["lag"] > 0, ID]
        parts = [
            f"{len(losers)} of {n} series lose to seasonal naive{_few(losers)}",
            f"{len(flat)} flat{_few(flat)}",
            f"{len(lagged)} lagged {'copy' if len(lagged) == 1 else 'copies'}{_few(lagged)}",
        ]
        return f"{head}; {', '.join(parts)}"

    @property
    def loses_to_seasonal_naive(self) -> bool:
        """The model is worse than seasonal naive overall."""
        return self.skill_seasonal < 0

    @classmethod
    def of(cls, table: pd.DataFrame, model: str) -> Diagnostics:
        """The overall figures of a per-series ``table``: mean MASE over the series that have
        one, and the skill from them (else the mean of the series' skills)."""
        mase, mase_seasonal = _mean_or_none(table["mase"]), _mean_or_none(table["mase_seasonal"])
        if mase is not None and mase_seasonal:
            skill = 1.0 - mase / mase_seasonal
        else:
            skills = table["skill_seasonal"].to_numpy(np.float64)
            skills = skills[~np.isnan(skills)]
            skill = float(np.mean(skills)) if len(skills) else float("nan")
        return cls(table.reset_index(drop=True), model, mase, mase_seasonal, skill)

    @classmethod
    def combine(cls, parts: Sequence[Diagnostics]) -> Diagnostics:
        """One model's diagnostics over the series of all ``parts`` (each rank's own series)."""
        import pandas as pd

        table = pd.concat([part.series for part in parts], ignore_index=True)
        return cls.of(table, parts[0].model)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the summary line and the per-series columns (NaN and infinity: null)."""
        columns = {
            name: [_to_json(value) for value in self.series[name].tolist()] for name in COLUMNS
        }
        return {"summary": self.summary(), "model": self.model, "series": columns}

    @classmethod
    def from_dict(cls, saved: dict[str, Any]) -> Diagnostics:
        """Rebuild what :meth:`to_dict` wrote; ValueError for anything else."""
        import pandas as pd

        series = saved["series"]
        if not isinstance(saved.get("model"), str) or not isinstance(series, dict):
            raise ValueError("invalid diagnostics")
        if set(series) != set(COLUMNS) or len({len(series[name]) for name in COLUMNS}) != 1:
            raise ValueError("invalid diagnostics: per-series columns missing or uneven")
        kinds = {ID: str, "loses_to_seasonal": bool, "flat": bool, "lag": int}
        for name in COLUMNS:
            kind = kinds.get(name)
            for value in series[name]:
                ok = (
                    isinstance(value, kind) and (kind is not int or not isinstance(value, bool))
                    if kind is not None
                    else value is None or isinstance(value, int | float)
                )
                if not ok:
                    raise ValueError(f"invalid diagnostics: {name} holds {value!r}")
        table = pd.DataFrame({name: series[name] for name in COLUMNS})
        for name in COLUMNS[1:]:
            if name not in kinds:
                table[name] = table[name].astype(np.float64)
        table = table.astype({"loses_to_seasonal": bool, "flat": bool, "lag": np.int64})
        return cls.of(table, saved["model"])


def _to_json(value: Any) -> Any:
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def _mean_or_none(values: pd.Series) -> float | None:
    known = values.to_numpy(np.float64)
    known = known[np.isfinite(known)]
    return float(np.mean(known)) if len(known) else None


def _few(ids: pd.Series) -> str:
    if ids.empty:
        return ""
    shown = ", ".join(str(i) for i in ids.iloc[:NAMED_SERIES])
    return f" ({shown}{', ...' if len(ids) > NAMED_SERIES else ''})"


def diagnose(
    data: pd.DataFrame,
    forecasts: pd.DataFrame,
    model: str,
    *,
    season_length: int = 1,
    train: pd.DataFrame | None = None,
) -> Diagnostics:
    """Alarms for ``model``'s forecasts, beside the baselines' on the same rows.

    ``data``: long frame ``unique_id, ds, y`` holding every actual value the forecasts cover and
    the values before them (history + horizon). ``forecasts``: long frame ``unique_id, ds``,
    optional ``cutoff``, and the columns ``model``, ``Naive`` and ``SeasonalNaive``: windows
    (one per series and cutoff) of ``h`` consecutive steps each. ``train``: the values the MASE
    scale comes from (None: no MASE, skill from MAE ratios).
    """
    import pandas as pd

    ordered = data[[ID, TIME, TARGET]].sort_values([ID, TIME], kind="stable")
    ordered = ordered.reset_index(drop=True).assign(_row=np.arange(len(data)))
    if ordered.duplicated([ID, TIME]).any():
        raise DataError("data has two values for one (unique_id, ds); keep one of each")
    matched = forecasts.merge(ordered[[ID, TIME, "_row"]], on=[ID, TIME], how="left")
    if matched["_row"].isna().any():
        raise DataError(
            f"{int(matched['_row'].isna().sum())} forecast row(s) have no actual value in data; "
            "data must hold every (unique_id, ds) that is forecast"
        )
    keys = [ID, CUTOFF] if CUTOFF in forecasts.columns else [ID]
    window = matched.groupby(keys, sort=False).ngroup().to_numpy()
    order = np.lexsort((matched["_row"].to_numpy(np.int64), window))
    sizes = np.bincount(window)
    if (sizes != sizes[0]).any():
        raise DataError("every forecast window (series and cutoff) must hold the same h rows")
    n_windows, h = len(sizes), int(sizes[0])

    def column(name: str) -> np.ndarray:
        return matched[name].to_numpy(np.float64)[order].reshape(n_windows, h)

    rows = matched["_row"].to_numpy(np.int64)[order].reshape(n_windows, h)
    codes, ids = pd.factorize(matched[ID])
    codes = codes[order].reshape(n_windows, h)[:, 0]
    first_rows = ordered.groupby(ID, sort=False)["_row"].min()
    series_start = first_rows.reindex(ids).to_numpy(np.int64)[codes]
    back = max(recent_span(h, season_length), LAG_MAX)
    values = ordered[TARGET].to_numpy(np.float64)
    context = _context(values, rows[:, 0], series_start, back, h)
    context[:, back:] = values[rows]
    scale = np.full(len(ids), np.nan)
    if train is not None:
        from .scoring import train_scales

        found, usable = train_scales(train, pd.Index(ids), season_length, skip_missing=True)
        scale[usable] = found[usable]
    forecast = {name: column(name) for name in (model, *BASELINES)}
    return _judge(ids.to_numpy(), codes, forecast, model, context, season_length, scale)


def _context(
    values: np.ndarray, first: np.ndarray, series_start: np.ndarray, back: int, h: int
) -> np.ndarray:
    """Values (k, back + h) from ``back`` rows before each window's ``first`` row to its end;
    NaN before the series' first row ``series_start`` (k,)."""
    rows = first[:, None] - back + np.arange(back + h)[None, :]
    return np.where(rows >= series_start[:, None], values[np.maximum(rows, 0)], np.nan)


def _judge(
    ids: np.ndarray,
    codes: np.ndarray,
    forecasts: dict[str, np.ndarray],
    model: str,
    context: np.ndarray,
    season_length: int,
    scale: np.ndarray,
) -> Diagnostics:
    """The alarms, vectorised over windows.

    ``ids`` (n,) the series; ``codes`` (k,) each window's series; ``forecasts``: the model's
    and each baseline's (k, h); ``context`` (k, back + h) the actual values from ``back`` steps
    before each window to its end (NaN before the series starts); ``scale`` (n,) each series'
    MASE scale (NaN: none).
    """
    import pandas as pd

    n, forecast = len(ids), forecasts[model]
    h = forecast.shape[1]
    back = context.shape[1] - h
    actual = context[:, back:]
    error, naive_error, seasonal_error = (
        _series_mean(np.abs(forecasts[name] - actual), codes, n) for name in (model, *BASELINES)
    )
    lagged = np.stack(
        [
            _series_mean(np.abs(forecast - context[:, back - k : back - k + h]), codes, n)
            for k in range(LAG_MAX + 1)
        ],
        axis=1,
    )  # (n, LAG_MAX + 1): mean error against the actuals k steps earlier
    best = np.argmin(np.where(np.isnan(lagged), np.inf, lagged), axis=1)
    copies = (best > 0) & (lagged[np.arange(n), best] <= (1 - LAG_GAIN) * lagged[:, 0])
    recent = context[:, back - recent_span(h, season_length) : back]
    flat_windows = _flat(forecast, recent)
    windows = np.bincount(codes, minlength=n)
    skill_seasonal = _skill(error, seasonal_error)
    with np.errstate(divide="ignore", invalid="ignore"):
        table = pd.DataFrame(
            {
                ID: ids,
                "skill_naive": _skill(error, naive_error),
                "skill_seasonal": skill_seasonal,
                "loses_to_seasonal": skill_seasonal < 0,
                "flat": np.bincount(codes, flat_windows, minlength=n) * 2 > windows,
                "lag": np.where(copies, best, 0).astype(np.int64),
                "mase": error / scale,
                "mase_seasonal": seasonal_error / scale,
            }
        )
    return Diagnostics.of(table[windows > 0], model)


def _series_mean(errors: np.ndarray, codes: np.ndarray, n: int) -> np.ndarray:
    """Mean (n,) of each series' finite ``errors`` (k, h) over its windows (NaN: none)."""
    finite = np.isfinite(errors)
    total = np.bincount(codes, np.where(finite, errors, 0.0).sum(axis=1), minlength=n)
    counted = np.bincount(codes, finite.sum(axis=1), minlength=n)
    return np.divide(total, counted, out=np.full(n, np.nan), where=counted > 0)


def _flat(forecast: np.ndarray, recent: np.ndarray) -> np.ndarray:
    """Windows (k,) whose forecast's spread is far below the spread of the ``recent`` values
    before them (NaN: before the series starts; fewer than 2 known, or none spread: not flat)."""
    known = np.isfinite(recent)
    count = known.sum(axis=1)
    if forecast.shape[1] < 2:
        return np.zeros(len(forecast), dtype=bool)
    safe = np.maximum(count, 1)
    mean = np.where(known, recent, 0.0).sum(axis=1) / safe
    variation = np.sqrt(np.where(known, (recent - mean[:, None]) ** 2, 0.0).sum(axis=1) / safe)
    return (count >= 2) & (variation > 0) & (forecast.std(axis=1) < FLAT_SPREAD * variation)


def _skill(error: np.ndarray, baseline_error: np.ndarray) -> np.ndarray:
    """``1 - error / baseline_error`` per series; NaN (undefined) where the baseline is exact
    (a constant series): no ratio says how much worse a model is than no error at all."""
    with np.errstate(divide="ignore", invalid="ignore"):
        skill = 1.0 - error / baseline_error
    return np.where(baseline_error == 0, np.nan, skill)


def validation_diagnostics(
    forecast: Callable[[Panel, np.ndarray, np.ndarray, int], np.ndarray],
    panel: Panel,
    n_train: np.ndarray,
    h: int,
    season_length: int,
    model: str,
    sharded: bool = False,
) -> Diagnostics | None:
    """The alarms of a just-fitted model on each series' validation tail (the points after
    ``n_train`` (n,)); None when the tail holds no whole window of ``h`` steps, or when they
    cannot be computed (they are advice: they never fail a fit).

    ``forecast(panel, series, ends, h)`` is the model's (k, h) forecast from rows ``ends``;
    it is called once, for every window together. ``sharded``: in a process group where each
    rank holds its own series, every rank must call this; each gets the diagnostics of all
    ranks' series.
    """

    def judged() -> Diagnostics | None:
        """Windows at the end of each tail, ``h`` apart (None: no whole window)."""
        import pandas as pd

        from .forecast import Naive, SeasonalNaive
        from .scoring import train_scales

        # Whole windows per series; a series too short for seasonal naive before its tail has none.
        per_series = np.where(n_train >= season_length, (panel.lengths - n_train) // h, 0)
        if per_series.sum() == 0:
            return None
        series = np.repeat(np.arange(len(panel)), per_series)
        # Window j of series s (0: the earliest) starts (per_series[s] - j) * h before its end.
        first_of_series = np.cumsum(per_series) - per_series
        back_from_end = (
            per_series[series] - (np.arange(len(series)) - first_of_series[series])
        ) * h
        ends = panel.ends[series] - back_from_end  # the row after each origin
        forecasts = {  # the baselines repeat the last observed values of a masked panel
            model: forecast(panel, series, ends, h),
            "Naive": Naive()._forecast(panel, series, ends, h),
            "SeasonalNaive": SeasonalNaive(season_length)._forecast(panel, series, ends, h),
        }
        back = max(recent_span(h, season_length), LAG_MAX)
        # Actual values as observed: a filled or masked one is not scored (NaN is skipped).
        context = _context(panel.observed, ends, panel.starts[series], back, h)
        ids = pd.Index(panel.ids)
        train = panel.head(n_train).to_frame()
        found, usable = train_scales(train, ids, season_length, skip_missing=True)
        scale = np.where(usable, found, np.nan)
        return _judge(panel.ids, series, forecasts, model, context, season_length, scale)

    try:
        found = judged()
    except Exception as error:  # any failure: no alarms, and say why
        warnings.warn(
            f"the sanity alarms could not be computed ({type(error).__name__}: {error}); "
            "diagnostics_ is None",
            RuntimeWarning,
            stacklevel=2,
        )
        found = None
    if sharded:
        from . import distributed

        parts = [part for part in distributed.gather(found) if part is not None]
        found = Diagnostics.combine(parts) if parts else None
    return found
