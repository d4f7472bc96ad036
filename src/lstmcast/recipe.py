"""The automatic recipe: facts of the training data -> the settings of an LSTMForecaster.

A user gives data and the horizon they need; every setting they did not give is chosen here,
from the data alone, by rules that the M4 Hourly and ETTh1 benchmarks chose on validation
(benchmarks/RESULTS.md): a window of whole seasons (7 of them on hourly data, a week), the LSTM
stepping over one season at a time, the whole horizon emitted at once, each window normalised by
its own statistics (RevIN), the MAE loss, a one-cycle learning rate and, for data above 0 whose
spread grows with its level, log(y) as the target. Each choice comes with the reason, printed
by ``lstmcast train`` and saved in the model.

Sits before the estimator: input frame -> facts (:func:`facts_of`) -> settings (:func:`choose`)
-> ``LSTMForecaster``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import DataError, points, setting
from .intervals import windows_needed

if TYPE_CHECKING:
    from .data import Panel

# Seasons of calendar steps: the cycle that repeats, in steps.
_DAYS_PER_WEEK = 7
_WEEKS_PER_YEAR = 52
_SECONDS_PER_DAY = 86_400

# The window covers about this many horizons (N-BEATS' and M4 Hourly's 7 x 48 = 336 hours) ...
HORIZONS_PER_WINDOW = 7
# ... in whole seasons, between these many ...
MIN_SEASONS, MAX_SEASONS = 2, 14
# ... and a week at most when the season is a day: on M4 Hourly and ETTh1 a week's window beat
# two weeks on validation, while 7 seasons instead of 14 lost on daily, monthly and quarterly
# data (benchmarks/RESULTS.md, V16 and V17).
DAILY_SEASON_MAX = _DAYS_PER_WEEK
# Hourly data without dates: a season of 24 integer steps is taken for a day.
_HOURS_PER_DAY = 24
# With less data than this many training windows, the window gives way (see choose_window).
MIN_TRAINING_WINDOWS = 500
# Without a season, the window is at least this many steps.
MIN_WINDOW = 32
# The LSTM steps over segments once the window holds this many seasons (fewer, longer steps
# train faster and remember further: M4 Hourly's 14 daily steps beat 336 hourly ones).
SEGMENT_FROM_SEASONS = 4
# Without a season, a long window is cut into about this many segments.
SEGMENTS_WITHOUT_SEASON = 16
# The log is the recipe's target when Guerrero's lambda is at most this: nearer the log's 0 than
# the square root's 0.5 (M4 Hourly: -0.13; ETTh1 OT 0.97 and Nino 1.03, where the log lost on
# validation: benchmarks/RESULTS.md, V9, V10, V18).
LOG_MAX_LAMBDA = 0.25
# Guerrero's lambda is looked for on this grid (Box-Cox powers), for series whose seasons'
# mean levels differ by this factor or more.
_LAMBDAS = np.linspace(-1.0, 2.0, 301)
_LEVEL_MOVES = 1.1
# Autocorrelation at the period's lag must reach this to count as a season.
SEASON_MIN_AUTOCORRELATION = 0.3
# Series sampled to find a period from the autocorrelation (the mean over them is steady).
SEASON_SAMPLE = 200


@dataclass(frozen=True)
class DataFacts:
    """What the recipe reads from the training data.

    ``step`` is the series' time step (an int for integer time, a pandas offset for dates);
    ``period`` the season found in the values when the step names none (None: not looked for).
    """

    step: Any
    n_series: int
    shortest: int  # points in the shortest series
    total_points: int
    horizon: int | None  # None: not given, the recipe chooses it
    period: int | None = None
    shortest_id: str = ""  # the shortest series, named in errors
    smallest: float = math.nan  # the smallest observed value (NaN: none observed)
    # The median over series of Guerrero's lambda (None: not measured: values <= 0, no season).
    log_lambda: float | None = None


@dataclass(frozen=True)
class Recipe:
    """Settings for :class:`~lstmcast.LSTMForecaster` and, one line each, why."""

    settings: dict[str, Any]
    reasons: list[str] = field(default_factory=list)


def season_of_step(step: Any) -> tuple[int | None, str]:
    """The season (steps per cycle) a time step implies and the step's name.

    Hourly -> 24 (the day), daily -> 7 (the week), weekly -> 52, monthly -> 12, quarterly -> 4,
    business days -> 5; below an hour, the steps of a day (at most 96, else of an hour). None
    for integer steps and steps that imply no cycle (yearly): the values must tell.
    """
    import pandas as pd

    if isinstance(step, int | np.integer):
        return None, f"integer step {int(step)}"
    offsets = pd.offsets
    if isinstance(step, offsets.BusinessDay):
        return (_DAYS_PER_WEEK - 2, "business-daily") if step.n == 1 else (None, f"{step}")
    if isinstance(step, offsets.Week):
        return (_WEEKS_PER_YEAR // step.n, "weekly") if step.n <= 4 else (None, f"{step}")
    months = _months(step)
    if months is not None:
        name = {1: "monthly", 3: "quarterly", 12: "yearly"}.get(months, f"every {months} months")
        return (12 // months if 12 % months == 0 and months < 12 else None), name
    seconds = _seconds(step)
    if seconds is None or seconds <= 0:
        return None, str(step)
    if seconds == _SECONDS_PER_DAY:
        return _DAYS_PER_WEEK, "daily"
    if seconds == _DAYS_PER_WEEK * _SECONDS_PER_DAY:
        return _WEEKS_PER_YEAR, "weekly"
    name = "hourly" if seconds == 3600 else f"every {_duration(seconds)}"
    if seconds < _SECONDS_PER_DAY and _SECONDS_PER_DAY % seconds == 0:
        per_day = _SECONDS_PER_DAY // seconds
        if per_day <= 96:
            return per_day, name
        if 3600 % seconds == 0:
            return 3600 // seconds, name
    return None, name


def _months(step: Any) -> int | None:
    """Whole months per step of a calendar offset (month, quarter, year ends or starts)."""
    import pandas as pd

    offsets = pd.offsets
    per_unit = {
        offsets.MonthEnd: 1,
        offsets.MonthBegin: 1,
        offsets.QuarterEnd: 3,
        offsets.QuarterBegin: 3,
        offsets.YearEnd: 12,
        offsets.YearBegin: 12,
    }
    for kind, months in per_unit.items():
        if isinstance(step, kind):
            return months * step.n
    kwds = getattr(step, "kwds", {})
    if set(kwds) == {"months"}:  # whole months on one day of the month (DateOffset(months=k))
        return int(kwds["months"]) * step.n
    return None


def _seconds(step: Any) -> int | None:
    """Whole seconds of a fixed step; None for calendar steps and fractions of a second."""
    import pandas as pd

    try:
        seconds = pd.Timedelta(step).total_seconds()
    except (TypeError, ValueError):
        return None
    return int(seconds) if seconds == int(seconds) else None


def _duration(seconds: int) -> str:
    for unit, size in (("hours", 3600), ("minutes", 60)):
        if seconds % size == 0:
            return f"{int(seconds // size)} {unit}"
    return f"{seconds} seconds"


def period_from_autocorrelation(series: list[np.ndarray], max_lag: int) -> int:
    """The season of values with no named step: the lag of the highest autocorrelation peak.

    ``series`` are training values (each (n,)); the autocorrelation is averaged over up to
    :data:`SEASON_SAMPLE` of them (evenly spaced, so the result is deterministic). The season is
    the lag of the highest mean autocorrelation after it first falls below zero, if that peak
    reaches :data:`SEASON_MIN_AUTOCORRELATION`; 1 when there is none.
    """
    usable = [s for s in series if len(s) > 2 * 2 + 1]
    if not usable or max_lag < 2:
        return 1
    picks = np.linspace(0, len(usable) - 1, min(len(usable), SEASON_SAMPLE)).round().astype(int)
    sums = np.zeros(max_lag + 1)
    weights = np.zeros(max_lag + 1)
    for i in np.unique(picks):
        values = np.asarray(usable[i], dtype=np.float64)
        missing = np.isnan(values)
        if missing.all():
            continue
        if missing.any():  # a missing value (missing="mask") counts as the series' mean
            values = np.where(missing, np.nanmean(values), values)
        values = values - values.mean()
        variance = float(values @ values)
        if variance == 0.0:
            continue
        lags = min(max_lag, len(values) // 2)
        # Autocorrelation by FFT: O(n log n) per series, zero-padded so lags do not wrap around.
        size = 1 << (2 * len(values) - 1).bit_length()
        spectrum = np.fft.rfft(values, size)
        acf = np.fft.irfft(spectrum * np.conj(spectrum), size)[: lags + 1] / variance
        sums[: lags + 1] += acf
        weights[: lags + 1] += 1
    seen = weights > 0
    if seen.sum() < 3:
        return 1
    mean = sums[seen] / weights[seen]  # lags 0.. with at least one series
    # A smooth series correlates with itself at every short lag: a season is a peak that comes
    # back after the autocorrelation has fallen below zero (a quarter period for a sine).
    below = np.flatnonzero(mean < 0)
    if len(below) == 0:
        return 1  # a trend or a random walk: no cycle
    after = mean[below[0] :]
    lag = int(below[0] + np.argmax(after))
    return lag if lag >= 2 and mean[lag] >= SEASON_MIN_AUTOCORRELATION else 1


def is_daily_season(step: Any, season: int) -> bool:
    """Whether ``season`` steps of ``step`` make a day: a fixed step under a day, or integer
    steps with a season of 24 (hourly data without dates)."""
    if isinstance(step, int | np.integer):
        return season == _HOURS_PER_DAY
    seconds = _seconds(step)
    return seconds is not None and 0 < seconds * season == _SECONDS_PER_DAY


def choose_window(
    season: int,
    horizon: int,
    longest_allowed: int,
    n_series: int = 1,
    max_seasons: int = MAX_SEASONS,
) -> tuple[int, str]:
    """The input window: about :data:`HORIZONS_PER_WINDOW` horizons in whole seasons (at most
    ``max_seasons``), within what the shortest series allows (``longest_allowed`` steps); and
    why.

    With little data, the window gives way to training windows: it shrinks by whole seasons
    while the ``n_series`` series hold fewer than :data:`MIN_TRAINING_WINDOWS` of them, down to
    half of what the shortest allows (or :data:`MIN_SEASONS` seasons).
    """
    window, why = _longest_window(season, horizon, longest_allowed, max_seasons)
    unit = season if season > 1 else 1
    floor = max(MIN_SEASONS * unit, longest_allowed // 2)
    shrunk = window

    def training_windows(window: int) -> int:
        return n_series * (longest_allowed - window + 1)

    while shrunk - unit >= floor and training_windows(shrunk) < MIN_TRAINING_WINDOWS:
        shrunk -= unit
    if shrunk < window:
        windows = training_windows(shrunk)
        what = f"{shrunk // season} seasons" if season > 1 else f"{shrunk} steps"
        return shrunk, f"{what}, leaving {windows:,} training windows"
    return window, why


def _longest_window(
    season: int, horizon: int, longest_allowed: int, max_seasons: int
) -> tuple[int, str]:
    # Whole seasons only when two of them leave most of the data to train on: a season that
    # long (a slow cycle of a few periods in all) is read in steps, like data without one.
    if season > 1 and MIN_SEASONS * season > longest_allowed // 2:
        wanted = min(max(HORIZONS_PER_WINDOW * horizon, MIN_WINDOW), longest_allowed // 2)
        return max(wanted, 1), f"{HORIZONS_PER_WINDOW} horizons (season {season} is long here)"
    if season > 1:
        wanted_seasons = math.ceil(HORIZONS_PER_WINDOW * horizon / season)
        seasons = min(max(wanted_seasons, MIN_SEASONS), max_seasons)
        wanted, why = season * seasons, f"{seasons} seasons"
    else:
        wanted = max(HORIZONS_PER_WINDOW * horizon, MIN_WINDOW)
        why = f"{HORIZONS_PER_WINDOW} horizons" if wanted > MIN_WINDOW else "the minimum"
    if wanted <= longest_allowed:
        return wanted, why
    if season > 1 and longest_allowed >= season:
        window = longest_allowed // season * season
        return window, f"{window // season} seasons, all the shortest series allows"
    window = max(longest_allowed, 1)
    return window, "all the shortest series allows"


def decoder_segment(window: int, season: int) -> int:
    """A segment for ``decoder="segments"`` where :func:`choose_segment` gives 1: the season if
    it divides the window, else the window's smallest divisor above 1 (the window itself if
    prime)."""
    if 1 < season < window and window % season == 0:
        return season
    return next((d for d in range(2, window + 1) if window % d == 0), window)


def choose_segment(window: int, season: int) -> int:
    """Steps the LSTM reads at once: a season when the window holds several, else about
    :data:`SEGMENTS_WITHOUT_SEASON` segments of a long window, else 1."""
    if season > 1 and window % season == 0 and window // season >= SEGMENT_FROM_SEASONS:
        return season
    if window < SEGMENTS_WITHOUT_SEASON * 4:
        return 1
    target = window / SEGMENTS_WITHOUT_SEASON
    divisors = [d for d in range(1, window + 1) if window % d == 0]
    return min(divisors, key=lambda d: (abs(d - target), d))


# Fixed parts of the recipe, chosen on M4 Hourly's validation hours (benchmarks/RESULTS.md).
_FIXED = {
    "num_layers": 1,
    "dropout": 0.0,
    "loss": "mae",  # the median: robust to outliers, and what MASE and sMAPE reward
    "window_norm": "revin",  # each window scaled by its own mean and spread: levels drift
    "lr": 3e-3,
    "lr_schedule": "onecycle",
}
HIDDEN_SIZE = 128
# Training windows per batch, and the fewest batches an epoch should have.
BATCH_SIZE, MIN_BATCHES = 256, 8
MIN_BATCH_SIZE = 32
# Epochs of the one-cycle schedule, as chosen on M4 Hourly's validation hours. No early
# stopping: it would cut the schedule before its learning rate anneals; the validation tail
# still picks the best epoch.
MAX_EPOCHS = 10
# Little data: as many epochs as make this many optimizer steps (at most MAX_SMALL_EPOCHS), so
# a series of a few hundred points trains as long in steps as a larger set's 10 epochs begin to.
MIN_STEPS, MAX_SMALL_EPOCHS = 300, 100
# An ensemble of at most this many networks (combined as ``ensemble_combine`` says, which the
# summary reports): under a time budget, as many as fit it (each as long as the first); without
# one, only when an epoch is cheap (fewer LSTM steps, training windows x window / segment, than
# ENSEMBLE_BELOW). Three seeds were worth 0.023 OWA on M4 Hourly's validation hours.
ENSEMBLE, ENSEMBLE_BELOW = 3, 1_000_000
# Training time when the recipe chooses the epochs: a few minutes on 2 cores.
TIME_BUDGET = 300.0
# Without a horizon, one season ahead, but at most this fraction of the shortest series.
HORIZON_SHARE = 5

# The tutorial's settings (the classic Keras walk-through: windows of 20 -> the next value,
# LSTM(50), Adam 1e-3, MSE, 10 epochs of batch 32): recipe="tutorial".
TUTORIAL: dict[str, Any] = {
    "window": 20,
    "horizon": 1,
    "hidden_size": 50,
    "num_layers": 1,
    "dropout": 0.0,
    "epochs": 10,
    "batch_size": 32,
    "lr": 1e-3,
    "val_size": None,
    "patience": None,
    "window_norm": None,
    "baseline": None,
    "segment": 1,
    "decoder": "linear",
    "loss": "mse",
    "lr_schedule": None,
    "season_length": 1,
    "time_budget": None,
    "ensemble_size": 1,
    # Keras's LSTM, the tutorial's, starts its forget gates' bias at 1 (``unit_forget_bias``).
    "forget_bias": 1.0,
    "target_transform": None,
}
# The settings a recipe chooses when the user leaves them "auto".
CHOSEN = tuple(TUTORIAL)


def tutorial(given: dict[str, Any]) -> Recipe:
    """The tutorial's value for every setting not ``given``."""
    chosen = {name: value for name, value in TUTORIAL.items() if name not in given}
    return Recipe(chosen, ["the tutorial's settings (recipe='tutorial')"] if chosen else [])


def validation_points(horizon: int, n_series: int, shortest: int, levels: Sequence[float]) -> int:
    """Points per series to hold out: a horizon, and enough windows to calibrate the levels.

    Conformal intervals (``predict(level=...)``) and quantile heads are calibrated on the
    validation windows: a 95% interval needs 19 of them in all. With few series each holds out
    more (one window per extra point), at most a fifth of the shortest series.
    """
    needed = max((windows_needed(level) for level in levels), default=1)
    per_series = math.ceil(needed / max(n_series, 1))
    return max(horizon, min(horizon + per_series - 1, shortest // 5))


def choose(
    facts: DataFacts, given: dict[str, Any] | None = None, levels: Sequence[float] = ()
) -> Recipe:
    """The settings for data with these ``facts`` that are not ``given``, and why.

    ``given``: settings the user set (they win; the others are chosen around them). ``levels``:
    the interval levels the validation tail must calibrate (default: a 95% interval). Without a
    horizon, it is one season (at most 1/:data:`HORIZON_SHARE` of the shortest series). The
    validation tail is one horizon per series (early stopping and conformal intervals score the
    model on it), so the window is capped at ``shortest - 2 * horizon``.
    """
    given = given or {}
    chosen: dict[str, Any] = {}
    reasons: list[str] = []

    def pick(name: str, value: Any, reason: str | None = None) -> Any:
        if name in given:
            return given[name]
        chosen[name] = value
        if reason:
            reasons.append(reason)
        return value

    season, step_name = season_of_step(facts.step)
    if season is not None:
        why = f"{step_name} -> season {season}"
    elif facts.period is not None and facts.period > 1:
        season, why = facts.period, f"{step_name}: season {facts.period} from the autocorrelation"
    else:
        season, why = 1, f"{step_name}: no season found (season 1)"
    season = pick("season_length", season, why)
    if facts.horizon is not None:
        h = pick("horizon", facts.horizon)
    else:
        h = max(min(season, facts.shortest // HORIZON_SHARE), 1)
        h = pick(
            "horizon",
            h,
            f"no horizon given: {h} (one season, longer forecasts fed back; give horizon=H "
            "for H steps at once)",
        )
    val = pick("val_size", validation_points(h, facts.n_series, facts.shortest, levels or (95,)))
    # Points held out of each series for validation (at least a horizon, as fit holds them).
    tail = (
        0 if val is None else max(val if isinstance(val, int) else round(facts.shortest * val), h)
    )
    if facts.shortest - h - tail < 1:
        needed = h + tail + 1
        raise DataError(
            f"series {facts.shortest_id!r} has {points(facts.shortest)}; a horizon of {h} with a "
            f"validation tail of {tail} needs at least {needed} (one input step): give a "
            f"shorter {setting('horizon')}, or longer series"
        )
    daily = is_daily_season(facts.step, season)
    most = DAILY_SEASON_MAX if daily else MAX_SEASONS
    window, why = choose_window(season, h, facts.shortest - h - tail, facts.n_series, most)
    if daily and why == f"{DAILY_SEASON_MAX} seasons":
        why += ", a week"
    window = pick("window", window, f"window {window} = {why}")
    # Interval calibration (on the validation tail) measures errors in seasonal differences
    # inside each window: the season must fit in it.
    if val is not None and season >= window:
        if "season_length" in chosen:
            season = pick("season_length", 1, f"season {season} does not fit window {window}: 1")
        elif "val_size" in chosen:
            val = pick(
                "val_size",
                None,
                f"no validation tail: season_length {season} does not fit window {window}",
            )
    segment = choose_segment(window, season)
    if segment == 1 and given.get("decoder") == "segments" and isinstance(window, int):
        segment = decoder_segment(window, season)
    segment = pick(
        "segment", segment, f"segment {segment}: the LSTM reads {window // segment} steps"
    )
    pick("decoder", "linear")
    windows = max(facts.total_points - facts.n_series * (window + h - 1 + tail), 0)
    batch_size = BATCH_SIZE
    if windows < BATCH_SIZE * MIN_BATCHES:
        batch_size = max(MIN_BATCH_SIZE, 1 << max(windows // MIN_BATCHES, 1).bit_length() - 1)
    why = f"batch {batch_size} for about {windows:,} training windows"
    batch_size = pick("batch_size", batch_size, why)
    pick("hidden_size", HIDDEN_SIZE)
    for name, value in _FIXED.items():
        pick(name, value)
    pick("baseline", None)
    pick("target_transform", *_target_transform(facts))
    # torch's initialisation: a forget bias of 1 did not help on M4 Hourly's or ETTh1's
    # validation data (benchmarks/RESULTS.md).
    pick("forget_bias", None)
    epochs = pick("epochs", epochs_for(windows, batch_size if isinstance(batch_size, int) else 1))
    pick("patience", None)
    # A time budget when the recipe chose the epochs (given epochs run in full).
    budget = pick("time_budget", TIME_BUDGET if "epochs" in chosen else None)
    steps = windows * (window // segment if isinstance(segment, int) and segment >= 1 else window)
    if budget is not None:
        why = f"an ensemble of up to {ENSEMBLE}, as many as fit the time budget"
        pick("ensemble_size", ENSEMBLE, why)
    elif steps < ENSEMBLE_BELOW:
        why = f"an ensemble of {ENSEMBLE} for {steps:,} LSTM steps an epoch"
        pick("ensemble_size", ENSEMBLE, why)
    else:
        pick("ensemble_size", 1)
    fixed = [f"{name} {chosen[name]}" for name in ("hidden_size", *_FIXED) if name in chosen]
    if fixed:
        reasons.append(", ".join(fixed) + " (chosen on M4 Hourly's validation hours)")
    if "epochs" in chosen:
        best = f", the best on the last {val} points of each series kept" if val else ""
        budget = f" within {TIME_BUDGET / 60:g} min" if "time_budget" in chosen else ""
        reasons.append(f"{epochs} epochs{budget}{best}")
    return Recipe(chosen, reasons)


def epochs_for(windows: int, batch_size: int) -> int:
    """The recipe's epochs for ``windows`` training windows in batches of ``batch_size``: 10,
    or with little data enough for MIN_STEPS optimizer steps (at most MAX_SMALL_EPOCHS)."""
    batches = max(math.ceil(windows / batch_size), 1)
    return max(MAX_EPOCHS, min(math.ceil(MIN_STEPS / batches), MAX_SMALL_EPOCHS))


def facts_of(panel: Panel, steps: list[Any], horizon: int | None) -> DataFacts:
    """The facts :func:`choose` reads, from a validated panel and its series' steps.

    Series of different steps (hourly beside daily) take the most common one. With no season
    in the step, the period is looked for in each series' values before its last
    ``2 * horizon`` points (the part the model trains on), up to half the shortest series.
    """
    names = [str(s) for s in steps]
    step = steps[names.index(Counter(names).most_common(1)[0][0])]
    lengths = panel.lengths
    shortest = int(lengths.min())
    shortest_id = str(panel.ids[int(np.argmin(lengths))])
    period = None
    season = season_of_step(step)[0]
    if season is None:
        held = 2 * (horizon or 0)
        trained = [
            panel.y[begin : max(end - held, begin)]
            for begin, end in zip(panel.starts[:-1], panel.ends, strict=True)
        ]
        period = period_from_autocorrelation(trained, max_lag=max(shortest - held, 0) // 2)
        season = period
    smallest = float(np.nanmin(panel.y)) if (panel.y == panel.y).any() else math.nan
    return DataFacts(
        step=step,
        n_series=len(panel),
        shortest=shortest,
        total_points=int(lengths.sum()),
        horizon=horizon,
        period=period,
        shortest_id=shortest_id,
        smallest=smallest,
        log_lambda=_median_lambda(panel, season) if smallest > 0 else None,
    )


def _target_transform(facts: DataFacts) -> tuple[str | None, str]:
    """The recipe's target transform and why: log(y) for data above 0 whose spread grows with
    its level (Guerrero's lambda at most :data:`LOG_MAX_LAMBDA`), where errors are relative."""
    if not facts.smallest > 0:
        shown = "none observed" if math.isnan(facts.smallest) else f"{facts.smallest:.4g}"
        return None, f"target as it is: not all above 0 (smallest {shown})"
    if facts.log_lambda is None:
        return None, (
            "target as it is: whether the spread grows with the level cannot be told (no "
            "season, or levels that hardly move)"
        )
    said = f"Guerrero's lambda {facts.log_lambda:.2f}"
    if facts.log_lambda > LOG_MAX_LAMBDA:
        return None, f"target as it is: the spread does not grow with the level ({said})"
    return "log", f"log target: above 0, the spread grows with the level ({said})"


def guerrero_lambda(values: np.ndarray, season: int) -> float | None:
    """Guerrero's (1993) Box-Cox power for positive ``values`` (n,): the lambda on a grid in
    [-1, 2] that makes ``std / mean ** (1 - lambda)`` most constant (the least coefficient of
    variation) over the series' last whole blocks of ``season`` steps. None with fewer than two
    blocks, no spread, or a level that hardly moves (the blocks' means within a factor
    :data:`_LEVEL_MOVES` of each other: then every power fits alike).

    Written out (a few lines of numpy) rather than taken from a forecasting package that would
    be a dependency for this alone.
    """
    values = values[~np.isnan(values)]
    blocks = len(values) // season if season >= 2 else 0
    if blocks < 2:
        return None
    block = values[len(values) - blocks * season :].reshape(blocks, season)
    mean, spread = block.mean(axis=1), block.std(axis=1, ddof=1)
    if not (spread > 0).any() or mean.max() < _LEVEL_MOVES * mean.min():
        return None
    # (lambdas, blocks) ratios in logs: exp(log std - (1 - lambda) log mean), safe at any level.
    ratios = np.exp(np.log(np.maximum(spread, 1e-300)) - np.outer(1 - _LAMBDAS, np.log(mean)))
    variation = ratios.std(axis=1, ddof=1) / ratios.mean(axis=1)
    return float(_LAMBDAS[int(np.argmin(variation))])


def _median_lambda(panel: Panel, season: int | None) -> float | None:
    """The median of :func:`guerrero_lambda` over up to :data:`SEASON_SAMPLE` series (evenly
    spaced: deterministic); None without a season or any measurable series."""
    if season is None or season < 2:
        return None
    picks = np.linspace(0, len(panel) - 1, min(len(panel), SEASON_SAMPLE)).round().astype(int)
    found = [
        guerrero_lambda(panel.y[panel.starts[i] : panel.ends[i]], season) for i in np.unique(picks)
    ]
    lambdas = [value for value in found if value is not None]
    return float(np.median(lambdas)) if lambdas else None


def resolve(
    recipe: str,
    given: dict[str, Any],
    panel: Panel,
    steps: list[Any],
    quantile_levels: Any = None,
) -> Recipe:
    """What recipe ``recipe`` ("auto" or "tutorial") chooses for the settings not ``given``,
    on ``panel`` (whose series' steps are ``steps``); learned ``quantile_levels`` are calibrated
    on the validation tail it sets."""
    if recipe == "tutorial":
        return tutorial(given)
    levels = tuple(quantile_levels) if isinstance(quantile_levels, tuple | list) else ()
    return choose(facts_of(panel, steps, given.get("horizon")), given, levels)
