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

Sits after forecasting: forecasts + actuals -> a per-series frame and one summary line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .columns import ID, TARGET, TIME

if TYPE_CHECKING:
    import pandas as pd

FLAT_SPREAD = 0.1
LAG_MAX = 3
LAG_GAIN = 0.2
# Series named in the summary line; the count says how many in all.
NAMED_SERIES = 3
BASELINES = ("Naive", "SeasonalNaive")


def recent_span(h: int, season_length: int) -> int:
    """Steps before a window whose spread a forecast is compared with: a season, at least h."""
    return max(h, season_length, 2)


@dataclass(frozen=True)
class Diagnostics:
    """Per-series alarms (``series``) and the overall figures of one model."""

    series: pd.DataFrame  # unique_id, skill_naive, skill_seasonal, loses_to_seasonal, flat, lag
    model: str
    mase: float | None  # mean over series; None without training values
    mase_seasonal: float | None
    skill_seasonal: float

    def summary(self, where: str = "validation") -> str:
        """One line: ``validation MASE 0.81; seasonal naive 1.00 (skill +19%); 0 of 414 series
        flat, 2 lagged copies (H17, H230)``."""
        frame = self.series
        n = len(frame)
        skill = f"skill {self.skill_seasonal:+.0%}"
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
    optional ``cutoff``, and the columns ``model``, ``Naive`` and ``SeasonalNaive``. ``train``:
    the values the MASE scale comes from (None: no MASE, skill from MAE ratios).
    """
    from .scoring import evaluate

    ordered = data.sort_values([ID, TIME], kind="stable")
    positions = {
        key: group.reset_index(drop=True) for key, group in ordered.groupby(ID, sort=False)
    }
    if "cutoff" in forecasts.columns:
        windows = forecasts.groupby([ID, "cutoff"], sort=False)
    else:
        windows = forecasts.groupby([ID], sort=False)
    rows: dict[object, dict[str, list[float]]] = {}
    for key, window in windows:
        series_id = key[0] if isinstance(key, tuple) else key
        history = positions[series_id]
        index = np.searchsorted(history[TIME].to_numpy(), window[TIME].to_numpy())
        values = history[TARGET].to_numpy(dtype=np.float64)
        actual = values[index]
        found = rows.setdefault(series_id, {"abs": [], "naive": [], "seasonal": [], "flat": []})
        found["abs"].extend(np.abs(window[model].to_numpy() - actual))
        found["naive"].extend(np.abs(window[BASELINES[0]].to_numpy() - actual))
        found["seasonal"].extend(np.abs(window[BASELINES[1]].to_numpy() - actual))
        found["flat"].append(_is_flat(window[model].to_numpy(), values, index[0], season_length))
        for k in range(LAG_MAX + 1):
            found.setdefault(f"lag{k}", []).extend(
                _shifted_errors(window[model].to_numpy(), values, index, k)
            )
    table = _per_series(rows)
    mase = mase_seasonal = None
    if train is not None:
        scores = evaluate(data, forecasts, train=train, season_length=season_length)
        mase = float(scores.loc[model, "MASE"])
        mase_seasonal = float(scores.loc[BASELINES[1], "MASE"])
    if mase is not None and mase_seasonal and np.isfinite(mase_seasonal):
        skill = 1.0 - mase / mase_seasonal
    else:
        skill = float(np.nanmean(table["skill_seasonal"]))
    return Diagnostics(table, model, mase, mase_seasonal, skill)


def _is_flat(forecast: np.ndarray, values: np.ndarray, first: int, season_length: int) -> bool:
    """The forecast's spread is far below the spread of the values just before it."""
    if len(forecast) < 2:
        return False
    recent = values[max(first - recent_span(len(forecast), season_length), 0) : first]
    if len(recent) < 2:
        return False
    variation = float(np.std(recent))
    return variation > 0 and float(np.std(forecast)) < FLAT_SPREAD * variation


def _shifted_errors(
    forecast: np.ndarray, values: np.ndarray, index: np.ndarray, k: int
) -> np.ndarray:
    """|forecast - the actual value k steps earlier| where that value exists (else NaN)."""
    earlier = index - k
    errors = np.full(len(forecast), np.nan)
    known = earlier >= 0
    errors[known] = np.abs(forecast[known] - values[earlier[known]])
    return errors


def _per_series(rows: dict[object, dict[str, list[float]]]) -> pd.DataFrame:
    import pandas as pd

    records = []
    for series_id, found in rows.items():
        model_error = float(np.mean(found["abs"]))
        skills = {
            name: _skill(model_error, float(np.mean(found[key])))
            for name, key in (("skill_naive", "naive"), ("skill_seasonal", "seasonal"))
        }
        lag = 0
        lagged = [float(np.nanmean(found[f"lag{k}"])) for k in range(LAG_MAX + 1)]
        best = int(np.nanargmin(lagged))
        if best > 0 and lagged[best] <= (1 - LAG_GAIN) * lagged[0]:
            lag = best
        records.append(
            {
                ID: series_id,
                **skills,
                "loses_to_seasonal": skills["skill_seasonal"] < 0,
                "flat": sum(found["flat"]) * 2 > len(found["flat"]),
                "lag": lag,
            }
        )
    return pd.DataFrame.from_records(records)


def _skill(error: float, baseline_error: float) -> float:
    if baseline_error == 0:
        return 0.0 if error == 0 else -np.inf
    return 1.0 - error / baseline_error
