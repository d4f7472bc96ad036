"""Prediction intervals of the LSTM: conformal calibration on the validation tail, and bounds.

Where it sits: after training (model -> forecast), ``calibrate`` turns the validation windows'
conformity scores into a table of quantiles per horizon step, kept in the fitted state and saved
with the model; at forecast time ``bounds`` turns point forecasts (and learned quantiles) into
the ``<alias>-lo-<level>`` / ``-hi-`` columns. Nothing here knows the estimator: it is given the
forecasting functions and the fitted numbers it needs.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence

import numpy as np
import torch

from . import distributed
from .columns import interval_column, level_label
from .errors import ConfigError, DataError, count, option, setting
from .windows import Windows

# FILE-FORMAT CONSTANT, not a tuning knob: the quantiles kept per horizon step for conformal
# intervals (every 0.1%), saved as the middle axis of ``calibration.quantiles`` (intervals, 1001,
# horizon) in every model with intervals. io refuses a calibration of any other size, so changing
# it makes every saved model with intervals unloadable (it would need a new FORMAT_VERSION and a
# resampling of the old tables on load).
CALIBRATION_GRID = 1001

# Validation scores gathered from all ranks for conformal calibration in sharded training: a
# random sample beyond this many (the quantiles of a million errors are steady to 0.1%).
CALIBRATION_ROWS = 1_000_000

# Validation windows scored at once when calibrating: bounds memory for long validation tails.
_SCORE_BATCH = 4096


def lower_quantile(level: float) -> float:
    """The quantile at the bottom of a central interval of ``level`` percent: 80 -> 0.1."""
    return round((100 - level) / 200, 10)


def network_quantiles(quantile_levels: Sequence[float] | None) -> tuple[float, ...]:
    """The quantiles the heads learn for ``quantile_levels`` (both ends of each interval)."""
    ends = {
        q
        for level in quantile_levels or ()
        for q in (lower_quantile(level), 1 - lower_quantile(level))
    }
    return tuple(sorted(ends))


def quantile_columns(quantiles: Sequence[float]) -> list[float]:
    """The quantile of each column of a quantile forecast: the learned ``quantiles`` and 0.5."""
    return sorted([*quantiles, 0.5])


def interval_columns(quantiles: Sequence[float], level: float) -> tuple[int, int]:
    """Columns of the lower and upper quantile of ``level`` in a quantile forecast."""
    columns = quantile_columns(quantiles)
    low = columns.index(lower_quantile(level))
    return low, len(columns) - 1 - low


def windows_needed(level: float) -> int:
    """Fewest calibration scores n whose ceil((n + 1) L / 100)-th smallest exists (is <= n).

    n >= 100 / (100 - L) - 1: fewer give an unbounded split-conformal interval, and a quantile
    clipped to the largest score would make every such level the same width.
    """
    n = max(math.ceil(100 / (100 - level)) - 2, 1)
    while math.ceil((n + 1) * level / 100) > n:  # the rule conformal_quantile applies
        n += 1
    return n


# The level a model's calibration is judged for when none is asked (the recipe sizes the
# validation tail for it, and the command line reports it).
DEFAULT_LEVEL = 95.0


def independent_horizons(size: int, n_series: int, horizon: int) -> int:
    """Whole horizons without overlap among ``size`` calibration windows of ``n_series`` series.

    A series' consecutive validation windows share all but one target, so its w windows span
    w + horizon - 1 points: as evidence of how errors vary over time they count as whole
    horizons, not as w draws.
    """
    n_series = max(n_series, 1)
    if size <= n_series:  # at most one window from each series
        return size
    return n_series * ((size // n_series + horizon - 1) // horizon)


def thin_calibration(level: float, size: int, n_series: int, horizon: int) -> str | None:
    """Why a ``level`` interval calibrated on ``size`` windows may not hold its coverage on
    later data, or None when the windows span enough independent horizons.

    Split-conformal coverage holds for windows like the calibration ones. Fewer whole
    horizons than the level's ``windows_needed`` (19 for 95%) are one short stretch of few
    series, and later periods can be wilder: on one to twelve series the default's 95%
    intervals covered 76-100% of later points (benchmarks/RESULTS.md, D11, V11).
    """
    horizons = independent_horizons(size, n_series, horizon)
    needed = windows_needed(level)
    if horizons >= needed:
        return None
    return (
        f"the {level_label(level)}% intervals are calibrated on "
        f"{count(size, 'validation window')} that span {count(horizons, 'horizon')} of "
        f"{count(n_series, 'series', 'series')} without overlap, fewer than the {needed} "
        "independent ones the level needs: on later data they can cover well short of it (76-100% "
        "for 95% on the small sets of lstmcast's benchmarks); check yours with a backtest at "
        "that level on data the model has not seen"
    )


def sample_rows(errors: np.ndarray, seed: int) -> np.ndarray:
    """At most this rank's share of CALIBRATION_ROWS rows of ``errors``, drawn at random."""
    limit = CALIBRATION_ROWS // distributed.world_size()
    if len(errors) <= limit:
        return errors
    rng = np.random.default_rng([seed, distributed.rank()])
    return errors[np.sort(rng.choice(len(errors), limit, replace=False))]


def check_calibrated_quantiles(
    quantile_levels: Sequence[float],
    n_windows: int,
    n_series: int,
    horizon: int,
    val_size: int | float | None,
) -> None:
    """Refuse, before training, quantile levels the validation windows cannot calibrate:
    the model could never give those intervals (every predict would refuse them).

    ``n_windows``, ``n_series``: this rank's validation windows and series (summed over ranks).
    """
    n = int(distributed.sum_across([float(n_windows)])[0])
    n_series = int(distributed.sum_across([float(n_series)])[0])
    n = min(n, CALIBRATION_ROWS)
    short = [level for level in quantile_levels if windows_needed(level) > n]
    if not short:
        return
    level = max(short)
    needed = windows_needed(level)
    per_series = -(-needed // max(n_series, 1)) + horizon - 1
    raise ConfigError(
        f"{setting('quantile_levels')} {level_label(level)} needs at least "
        f"{count(needed, 'validation window')} to be calibrated, and "
        f"{option('val_size', val_size)} gives {n}: train with "
        f"{option('val_size', per_series)} or more (points per series), or a lower level"
    )


def check_supported_levels(
    levels: list[float], calibration_size: int, n_series: int, horizon: int
) -> None:
    """Refuse levels that a calibration on ``calibration_size`` scores cannot support."""
    n = calibration_size
    short = [value for value in levels if windows_needed(value) > n]
    if not short:
        return
    level, needed = short[-1], windows_needed(short[-1])
    # Validation windows per series: the tail's points minus the horizon, plus one.
    per_series = -(-needed // max(n_series, 1))
    raise ConfigError(
        f"a {level_label(level)}% interval needs at least "
        f"{count(needed, 'validation window')} to be calibrated (split conformal), and "
        f"this model was calibrated on {n}: train it with "
        f"{option('val_size', per_series + horizon - 1)} or more (points per "
        "series), or ask for a lower level"
    )


@torch.no_grad()
def calibrate(
    val_windows: Windows,
    median_forecast: Callable[[torch.Tensor], torch.Tensor],
    quantile_forecast: Callable[[torch.Tensor], torch.Tensor],
    window_unit: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    quantile_levels: Sequence[float] | None,
    quantiles: Sequence[float],
    sharded: bool,
    seed: int,
) -> tuple[np.ndarray, int]:
    """Split-conformal calibration on the validation windows, per horizon step.

    The conformity scores, in per-series scaled units, are the point forecast's |error|
    (``median_forecast``, (B, horizon)), or with quantile heads (``quantile_forecast``,
    (B, horizon, Q + 1), columns ``quantiles`` and the median) how far each learned interval
    misses the actual value, ``max(lo - y, y - hi)`` (negative inside: conformalized quantile
    regression). They are divided by each window's ``window_unit(x, index)`` (B,; ``index``
    the windows' positions in ``val_windows``) and kept as
    CALIBRATION_GRID quantiles per step: returns the table (intervals, CALIBRATION_GRID,
    horizon), one row of intervals (|error|) or one per ``quantile_levels``, and the score count.
    ``sharded``: every rank holds other windows, so all ranks' scores are gathered.
    """
    scores = []
    for first in range(0, len(val_windows), _SCORE_BATCH):
        index = torch.arange(first, min(first + _SCORE_BATCH, len(val_windows)))
        x, y = val_windows.batch(index)
        scale = window_unit(x, index)[:, None]  # (B, 1)
        if quantile_levels:
            forecast = quantile_forecast(x)  # (B, horizon, Q + 1)
            misses = []
            for level in quantile_levels:
                low, high = interval_columns(quantiles, level)
                miss = torch.maximum(forecast[..., low] - y, y - forecast[..., high])
                misses.append(miss / scale)
            block = torch.stack(misses, dim=1)  # (B, intervals, horizon)
        else:
            block = ((median_forecast(x) - y).abs() / scale)[:, None]
        scores.append(block.double().cpu())
    scores_np = torch.cat(scores).numpy()  # (n_val, intervals, horizon)
    if sharded:  # every rank holds other windows: calibrate on all ranks' scores
        scores_np = np.concatenate(distributed.gather(sample_rows(scores_np, seed)))
    grid = np.linspace(0, 1, CALIBRATION_GRID)
    if not np.isnan(scores_np).any():
        return np.quantile(scores_np, grid, axis=0).transpose(1, 0, 2), len(scores_np)
    # Missing actual values (missing="mask") score nothing: each step's quantiles come from
    # its observed ones, and the count is that of the step with the fewest.
    scored = (~np.isnan(scores_np)).sum(axis=0)
    if scored.min() == 0:
        step = int(np.argwhere(scored == 0)[0][-1]) + 1
        raise DataError(
            f"no validation window has an observed value at step {step} of the horizon, so "
            f"the intervals cannot be calibrated there; use a longer {setting('val_size')}"
        )
    table = np.nanquantile(scores_np, grid, axis=0).transpose(1, 0, 2)
    return table, int(scored.min())


def conformal_quantile(
    calibration: np.ndarray, size: int, row: int, level: float, h: int
) -> np.ndarray:
    """The ceil((n + 1) L / 100) / n quantile of calibration row ``row``'s n scores, (h,).

    ``calibration``: the table (intervals, CALIBRATION_GRID, horizon); ``size``: its n.
    """
    probability = min(1.0, np.ceil((size + 1) * level / 100) / size)
    grid = np.linspace(0, 1, CALIBRATION_GRID)
    scores = calibration[row]  # (1001, horizon)
    return np.array([np.interp(probability, grid, scores[:, step]) for step in range(h)])


def check_interval_request(
    levels: list[float],
    h: int,
    horizon: int,
    quantile_levels: Sequence[float] | None,
    calibrated: bool,
) -> None:
    """Refuse levels the model cannot give: beyond its horizon, not learned, or uncalibrated."""
    if h > horizon:
        raise ConfigError(
            f"intervals are calibrated for the {count(horizon, 'step')} the model emits "
            f"at once; {option('h', h)} is beyond them: train with {option('horizon', h)}"
        )
    if quantile_levels:
        missing = [level for level in levels if level not in quantile_levels]
        if missing:
            raise ConfigError(
                f"this model learned intervals for levels {list(quantile_levels)}, not "
                f"[{', '.join(map(level_label, missing))}]; train it with those in "
                f"{setting('quantile_levels')}"
            )
    elif not calibrated:
        raise ConfigError(
            f"this model was trained without {setting('val_size')}, so it has no calibrated "
            f"intervals; train it with {setting('val_size')} (the intervals are calibrated on "
            f"that validation tail) or {setting('quantile_levels')}"
        )


def bounds(
    alias: str,
    values: np.ndarray,
    levels: list[float],
    learned: tuple[dict[float, np.ndarray], dict[float, np.ndarray]] | None,
    calibration: tuple[np.ndarray, int] | None,
    quantile_levels: Sequence[float] | None,
    unit: Callable[[], np.ndarray],
) -> dict[str, np.ndarray]:
    """Interval columns ``<alias>-lo-<level>`` / ``-hi-``, each (k, h), around ``values`` (k, h).

    ``learned``: the quantile heads' lower and upper bounds per level (series units), or None
    for a model without heads. ``calibration``: the table and score count, or None. Without
    heads the bounds are split-conformal: the forecast +- the ceil((n + 1) L / 100) / n quantile
    of the n validation scores of that step; with them, the learned bounds widened (or narrowed)
    by that quantile of the validation misses when calibrated. ``unit()`` (k, 1) turns a score
    into series units (the series' scale, times each window's seasonal variability for
    ``calibration_scale`` "window"). Wider levels always hold narrower ones.
    """
    lows, highs = learned if learned is not None else ({}, {})
    if calibration is not None:
        table, size = calibration
        scale = unit()
        h = values.shape[1]
        for level in levels:
            row = quantile_levels.index(level) if quantile_levels else 0
            correction = conformal_quantile(table, size, row, level, h)[None, :] * scale  # (k, h)
            # A negative correction narrows an interval, but never past the point forecast.
            # Each bound is built from the learned one (or the point forecast), not updated
            # in place, so nothing is applied twice.
            lows[level] = np.minimum(lows.get(level, values) - correction, values)
            highs[level] = np.maximum(highs.get(level, values) + correction, values)
    for narrower, level in itertools.pairwise(levels):  # nested: 95% holds the 80% one
        lows[level] = np.minimum(lows[level], lows[narrower])
        highs[level] = np.maximum(highs[level], highs[narrower])
    columns = {}
    for level in levels:
        columns[interval_column(alias, "lo", level)] = lows[level]
        columns[interval_column(alias, "hi", level)] = highs[level]
    return columns


def learned_bounds(
    forecast: np.ndarray,
    quantiles: Sequence[float],
    levels: list[float],
    inverse: Callable[[np.ndarray], np.ndarray],
) -> tuple[dict[float, np.ndarray], dict[float, np.ndarray]]:
    """Bounds per level (k, h each) from scaled quantile forecasts (k, h, Q + 1).

    ``quantiles``: the learned quantiles of the columns (besides the median); ``inverse``: back
    from scaled to series units.
    """
    lows, highs = {}, {}
    for level in levels:
        low, high = interval_columns(quantiles, level)
        lows[level] = inverse(forecast[..., low])
        highs[level] = inverse(forecast[..., high])
    return lows, highs
