"""Covariates (issue 17): lstmcast with and without its inputs' covariates, on public data.

Usage (from the repository root):

    .venv/bin/python -m benchmarks.covariates --threads 2          # every data set, once
    .venv/bin/python -m benchmarks.covariates --only epf,m5         # some data sets
    .venv/bin/python -m benchmarks.covariates --smoke               # seconds: checks it runs
    .venv/bin/python -m benchmarks.covariates --validate            # never reads the test part
    .venv/bin/python -m benchmarks.covariates --seed 1

Every LSTM is ``lc.LSTMForecaster(horizon=H, random_state=SEED, ...)`` with the recipe's
defaults ("auto") and only what the protocol needs. The model with covariates and the one without
differ only in the covariate settings (and in the columns of the frames they are given): same
seed, same everything else. ``--smoke`` adds ``epochs=1, hidden_size=8, ensemble_size=1`` to
both and forecasts from fewer origins: its figures mean nothing.

* ``epf``: day-ahead electricity prices of 4 markets (BE, DE, FR, NP), 1,680 hours each;
  ``Exogenous1``, ``Exogenous2`` (day-ahead load / generation forecasts) and ``day_0..day_6``
  are future-known (``futr_cols``). h = 24 from midnight; test = each market's last 7 days
  (7 daily origins, 24 hours each); every earlier hour is for training and validation (the
  recipe takes its validation tail from it). Each origin is forecast with
  ``model.predict(24, df=<history up to the origin>, futr_df=<the 24 future rows>)``. MAE and
  RMSE in EUR/MWh per market and their mean over markets; seasonal naive 24 h (yesterday) and
  168 h (a week ago) on the same targets.
* ``m5``: 8 daily M5 sales series, 1,969 days; ``sell_price`` and the 4 event-type flags are
  future-known. h = 28, test = the last 28 days (one origin). ``sell_price`` is missing before
  an item is first sold (leading values only, where sales are 0): ``covariate_missing="zero"``,
  because a leading gap has no earlier value for ``"ffill"`` to carry (the API refuses it), and
  0 says "not on sale" (the peer filled it with 0 too). MASE (m = 7) and RMSSE (M5's metric:
  RMSE over the in-sample RMSE of the one-step naive forecast, per series, averaged; the scale
  over the whole training part, as the peer's figures; M5's official scale starts at each
  item's first sale, printed beside). Baseline: seasonal naive 7.
* ``etth1``: ETTh1, target OT; the six load channels (HUFL, HULL, MUFL, MULL, LUFL, LULL) are
  past-only covariates (``hist_cols``). Lookback 96 (``window=96``), H = 96, the standard split
  (benchmarks/etth_data.py): fitted on rows [0, 11520) with ``val_size=2880``, so that training
  targets lie in rows [0, 8640), the validation months pick the best epoch, and the scaler is
  fitted on the training rows (checked); scored on every test window (targets in [11520,
  14400), origins sliding by one hour: 2,785 windows) by ``model.backtest``, which reads the
  covariates from the frame. MSE and MAE of OT standardised with the training rows' mean and
  population std. Compared with OT alone (the same settings); Repeat (the last value) and
  seasonal naive 24 h on the same windows.

``--validate`` drops the test part first (EPF: the last 7 days, M5: the last 28 days, ETTh1:
rows from 11520 on) and runs the same protocol on what is left: EPF and M5 score the 7 days /
28 days before the test; ETTh1 trains on rows [0, 5760), validates on [5760, 8640) and scores
the protocol's validation months [8640, 11520). The test part is never read.

Printed: the machine (benchmarks/machine.py), commit, versions, the load before and after each
data set, wall times (training, forecasting), the settings each model used, and Markdown tables.
Peer figures (NeuralForecast 3.3 LSTM, ../shared/ANCHORS.md) and issue 17's targets are printed
beside. Data and licences: benchmarks/data/README.md.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

if __package__ in (None, ""):  # run as a file: make the `benchmarks` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import etth_data
from benchmarks.machine import cpu_description, git_commit, load_average

REPO = Path(__file__).resolve().parent.parent
DATA_DIR = Path(__file__).resolve().parent / "data"
ID, TIME, TARGET = "unique_id", "ds", "y"

# -- EPF (short) -------------------------------------------------------------------------------
EPF_PATH = DATA_DIR / "epf_short" / "electricity-short-with-ex-vars.csv.gz"
EPF_FUTURE_PATH = DATA_DIR / "epf_short" / "electricity-short-future-ex-vars.csv.gz"
EPF_MARKETS = ("BE", "DE", "FR", "NP")
EPF_DAYS = tuple(f"day_{k}" for k in range(7))  # day_0 = Monday
EPF_FUTR = ("Exogenous1", "Exogenous2", *EPF_DAYS)
EPF_HOURS = 1680  # per market: 70 days
EPF_H = 24
EPF_ORIGINS = 7  # the last 7 days, one origin each midnight
EPF_SEASONS = (24, 168)

# -- M5 (small) --------------------------------------------------------------------------------
M5_PATH = DATA_DIR / "m5_small" / "m5_sales_exog_small.csv.gz"
M5_EVENTS = tuple(
    f"event_type_{kind}" for kind in ("Cultural", "National", "Religious", "Sporting")
)
M5_FUTR = ("sell_price", *M5_EVENTS)
M5_SERIES = 8
M5_DAYS = 1969
M5_H = 28
M5_SEASON = 7
M5_MISSING = "zero"  # leading missing prices: nothing to carry forward; 0 = not on sale

# -- ETTh1 -> OT -------------------------------------------------------------------------------
ETTH1_LOADS = tuple(name for name in etth_data.CHANNELS if name != etth_data.TARGET)
ETTH1_LOOKBACK = 96
ETTH1_H = 96
ETTH1_MONTHS = 4 * 30 * 24  # 2880 rows: a protocol split's validation or test block
# (training end, validation end, end): the protocol's, and --validate's (the test dropped).
ETTH1_BOUNDS = {
    False: (etth_data.TRAIN_END, etth_data.VAL_END, etth_data.TEST_END),
    True: (
        etth_data.TRAIN_END - ETTH1_MONTHS,
        etth_data.VAL_END - ETTH1_MONTHS,
        etth_data.TEST_END - ETTH1_MONTHS,
    ),
}

# -- runs --------------------------------------------------------------------------------------
SMOKE = {"epochs": 1, "hidden_size": 8, "ensemble_size": 1}
SMOKE_ORIGINS = 2  # EPF: the first two test days
SMOKE_WINDOWS = 48  # ETTh1: the first 48 test windows
WITH, WITHOUT = "with covariates", "without covariates"
VARIANTS = (WITH, WITHOUT)
SHOWN_SETTINGS = (
    "window",
    "segment",
    "horizon",
    "hidden_size",
    "window_norm",
    "loss",
    "lr",
    "batch_size",
    "epochs",
    "val_size",
    "ensemble_size",
    "season_length",
    "futr_cols",
    "hist_cols",
    "covariate_missing",
)

# The peer (NeuralForecast 3.3.0 LSTM, ../shared/ANCHORS.md "Peer LSTM with covariates").
PEER_EPF_MAE = {
    "peer LSTM with covariates, seed 1": (7.66, 12.79, 6.79, 4.27, 7.88),
    "peer LSTM with covariates, seed 2": (8.45, 12.10, 7.46, 3.46, 7.87),
    "peer LSTM without covariates, seed 1": (9.33, 23.60, 8.09, 6.23, 11.81),
    "peer LSTM without covariates, seed 2": (7.36, 26.99, 7.92, 6.24, 12.13),
}
PEER_M5 = {  # (MASE, RMSSE)
    "peer LSTM with covariates, seed 1": (1.107, 0.951),
    "peer LSTM with covariates, seed 2": (1.103, 0.948),
    "peer LSTM without covariates, seed 1": (1.088, 0.964),
    "peer LSTM without covariates, seed 2": (1.103, 0.969),
}
EPF_TARGET_MAE = 7.0  # issue 17: 10% better than the peer's 7.88
EPF_TARGET_GAIN = 0.15  # at least 15% below the same model without covariates
M5_TARGET_RMSSE = 0.948  # the peer's best


# -- metrics (one series: arrays of its targets and forecasts, any shape) ----------------------
def mae(actual: np.ndarray, forecast: np.ndarray) -> float:
    """Mean absolute error."""
    return float(np.mean(np.abs(np.asarray(forecast, float) - np.asarray(actual, float))))


def rmse(actual: np.ndarray, forecast: np.ndarray) -> float:
    """Root mean squared error."""
    return float(np.sqrt(np.mean((np.asarray(forecast, float) - np.asarray(actual, float)) ** 2)))


def mase(actual: np.ndarray, forecast: np.ndarray, insample: np.ndarray, m: int) -> float:
    """MAE over the in-sample mean absolute seasonal difference (lag ``m``)."""
    insample = np.asarray(insample, float)
    return mae(actual, forecast) / float(np.mean(np.abs(insample[m:] - insample[:-m])))


def rmsse(actual: np.ndarray, forecast: np.ndarray, insample: np.ndarray) -> float:
    """RMSE over the in-sample RMSE of the one-step naive forecast (M5's RMSSE)."""
    insample = np.asarray(insample, float)
    return rmse(actual, forecast) / float(np.sqrt(np.mean(np.diff(insample) ** 2)))


def over_series(
    metric: Callable[..., float],
    actual: np.ndarray,
    forecast: np.ndarray,
    insample: Sequence[np.ndarray],
    *args: Any,
) -> float:
    """``metric(actual[i], forecast[i], insample[i], *args)`` of each series, averaged."""
    return float(
        np.mean(
            [metric(a, f, x, *args) for a, f, x in zip(actual, forecast, insample, strict=True)]
        )
    )


def seasonal_naive(history: np.ndarray, h: int, m: int) -> np.ndarray:
    """The last ``m`` values of ``history`` repeated over ``h`` steps."""
    return np.resize(np.asarray(history[-m:], dtype=np.float64), h)


# -- data, checked -----------------------------------------------------------------------------
def _check_regular(frame: pd.DataFrame, step: pd.Timedelta, what: str) -> None:
    """Each series' times strictly ``step`` apart: sorted, no gap, no duplicate."""
    for uid, times in frame.groupby(ID, sort=False)[TIME]:
        gaps = times.diff().iloc[1:]
        if not (gaps == step).all():
            at = times.iloc[1:][(gaps != step).to_numpy()].iloc[0]
            raise ValueError(f"{what}: series {uid!r} is not every {step} at {at}")


def load_epf(path: Path = EPF_PATH) -> pd.DataFrame:
    """EPF (short): ``unique_id, ds, y, Exogenous1, Exogenous2, day_0..day_6``, checked.

    4 markets of 1,680 hours each, hourly without gaps from a midnight, no missing value, each
    ``day_k`` the one-hot day of the week of ``ds`` (day_0 = Monday).
    """
    frame = pd.read_csv(path, parse_dates=[TIME])
    if tuple(frame.columns) != (ID, TIME, TARGET, *EPF_FUTR):
        raise ValueError(f"{path.name}: unexpected columns {list(frame.columns)}")
    sizes = frame.groupby(ID, sort=False).size()
    if tuple(sizes.index) != EPF_MARKETS or not (sizes == EPF_HOURS).all():
        raise ValueError(f"{path.name}: expected {EPF_HOURS} hours of {EPF_MARKETS}: {dict(sizes)}")
    if frame.isna().any().any():
        raise ValueError(f"{path.name}: missing values")
    _check_regular(frame, pd.Timedelta(hours=1), path.name)
    starts = frame.groupby(ID, sort=False)[TIME].first()
    if not (starts == starts.dt.normalize()).all():
        raise ValueError(f"{path.name}: a market does not start at midnight: {dict(starts)}")
    days = frame[list(EPF_DAYS)].to_numpy()
    if not (np.isin(days, (0.0, 1.0)).all() and (days.sum(axis=1) == 1).all()):
        raise ValueError(f"{path.name}: day_0..day_6 are not one-hot")
    if not (days.argmax(axis=1) == frame[TIME].dt.day_of_week.to_numpy()).all():
        raise ValueError(f"{path.name}: day_k is not the day of the week of ds (0 = Monday)")
    return frame


def load_epf_future(
    path: Path = EPF_FUTURE_PATH, history: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The covariates of the 24 hours after each market's data (no prices), checked against
    ``history`` (default :func:`load_epf`): 24 hourly rows continuing each market exactly."""
    frame = pd.read_csv(path, parse_dates=[TIME])
    if tuple(frame.columns) != (ID, TIME, *EPF_FUTR):
        raise ValueError(f"{path.name}: unexpected columns {list(frame.columns)}")
    history = load_epf() if history is None else history
    ends = history.groupby(ID, sort=False)[TIME].last()
    for uid, times in frame.groupby(ID, sort=False)[TIME]:
        expected = pd.date_range(ends[uid] + pd.Timedelta(hours=1), periods=EPF_H, freq="h")
        if not np.array_equal(times.to_numpy(), expected.to_numpy()):
            raise ValueError(f"{path.name}: {uid!r} does not continue its history by {EPF_H} h")
    if tuple(frame[ID].unique()) != EPF_MARKETS:
        raise ValueError(f"{path.name}: markets {list(frame[ID].unique())}")
    return frame


def load_m5(path: Path = M5_PATH) -> pd.DataFrame:
    """M5 (small): ``unique_id, ds, y, sell_price, event_type_*``, checked.

    8 daily series of 1,969 days on the same dates, without gaps; ``y`` whole non-negative
    numbers (as float); the flags 0/1; ``sell_price`` missing only before an item's first
    price (leading), never where it sold, never in the last 28 days.
    """
    frame = pd.read_csv(path, parse_dates=[TIME])
    if tuple(frame.columns) != (ID, TIME, TARGET, *M5_FUTR):
        raise ValueError(f"{path.name}: unexpected columns {list(frame.columns)}")
    sizes = frame.groupby(ID, sort=False).size()
    if len(sizes) != M5_SERIES or not (sizes == M5_DAYS).all():
        raise ValueError(f"{path.name}: expected {M5_SERIES} series of {M5_DAYS} days")
    _check_regular(frame, pd.Timedelta(days=1), path.name)
    if frame.groupby(ID, sort=False)[TIME].first().nunique() != 1:
        raise ValueError(f"{path.name}: the series do not share their dates")
    y = frame[TARGET].to_numpy(dtype=np.float64)
    if frame[TARGET].isna().any() or (y < 0).any() or (y != np.round(y)).any():
        raise ValueError(f"{path.name}: y is not whole non-negative counts")
    if not np.isin(frame[list(M5_EVENTS)].to_numpy(), (0, 1)).all():
        raise ValueError(f"{path.name}: event flags are not 0/1")
    missing = frame["sell_price"].isna()
    priced = missing.groupby(frame[ID], sort=False).transform(lambda s: (~s).cummax())
    if (missing & priced).any():
        raise ValueError(f"{path.name}: sell_price missing after an item's first price")
    if (missing & (y != 0)).any():
        raise ValueError(f"{path.name}: sales without a price")
    last = frame.groupby(ID, sort=False).cumcount() >= M5_DAYS - M5_H
    if (missing & last).any():
        raise ValueError(f"{path.name}: sell_price missing in the last {M5_H} days")
    return frame.astype({TARGET: np.float64})


def load_etth1(rows: int = etth_data.TEST_END) -> pd.DataFrame:
    """ETTh1's first ``rows`` rows as one long series ``unique_id (OT), ds, y (OT), <loads>``."""
    wide = etth_data.load_etth1().iloc[:rows]
    frame = pd.DataFrame({ID: etth_data.TARGET, TIME: wide["date"], TARGET: wide[etth_data.TARGET]})
    return pd.concat([frame, wide[list(ETTH1_LOADS)]], axis=1).reset_index(drop=True)


# -- the protocol ------------------------------------------------------------------------------
def drop_last(frame: pd.DataFrame, n: int) -> pd.DataFrame:
    """Each series without its last ``n`` rows."""
    groups = frame.groupby(ID, sort=False)
    keep = groups.cumcount() < groups[TIME].transform("size") - n
    return frame[keep].reset_index(drop=True)


def origins(length: int, h: int, n: int, step: int) -> np.ndarray:
    """The first target's position of each of the last ``n`` origins of a series of ``length``
    points, ``step`` apart: the last leaves exactly ``h`` points after it."""
    span = h + step * (n - 1)
    if not 0 < span < length:
        raise ValueError(f"{n} origins of h = {h}, step {step} do not fit in {length} points")
    return length - span + step * np.arange(n)


def as_panel(frame: pd.DataFrame) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(ids, values (series, length), times (series, length)) of a long frame whose series all
    have the same length, each series' rows together and in time order."""
    ids = list(frame[ID].unique())
    sizes = frame.groupby(ID, sort=False).size()
    if sizes.nunique() != 1:
        raise ValueError(f"series of unequal lengths: {dict(sizes)}")
    shape = (len(ids), int(sizes.iloc[0]))
    if not (frame[ID].to_numpy() == np.repeat(ids, shape[1])).all():
        raise ValueError("the rows of each series are not together")
    values = frame[TARGET].to_numpy(dtype=np.float64).reshape(shape)
    return ids, values, frame[TIME].to_numpy().reshape(shape)


def targets(values: np.ndarray, positions: np.ndarray, h: int) -> np.ndarray:
    """The ``h`` values from each origin: (series, origins, h)."""
    return values[:, positions[:, None] + np.arange(h)]


def seasonal_naive_forecasts(
    values: np.ndarray, positions: np.ndarray, h: int, m: int
) -> np.ndarray:
    """Seasonal naive (lag ``m``) from each origin, seeing only the values before it."""
    return np.stack([[seasonal_naive(series[:p], h, m) for p in positions] for series in values])


# -- the LSTMs ---------------------------------------------------------------------------------
@dataclass
class Fitted:
    """One LSTM's forecasts from every origin, (series, origins, h), and what it cost."""

    forecast: np.ndarray
    train_seconds: float
    forecast_seconds: float
    settings: str
    seed: object
    reasons: list[str] = field(default_factory=list)


def make_model(horizon: int, seed: int, smoke: bool, **settings: Any) -> Any:
    """``lc.LSTMForecaster(horizon=horizon, random_state=seed, **settings)``: the recipe chooses
    everything else (``--smoke``: a tiny model, one epoch)."""
    import lstmcast as lc

    return lc.LSTMForecaster(
        horizon=horizon, random_state=seed, **(SMOKE if smoke else {}), **settings
    )


def shown_settings(model: Any) -> str:
    """The settings the fitted model used, one line (``*``: chosen by the recipe)."""
    chosen = model.get_params()
    used = model.settings_
    return ", ".join(
        f"{name}={used[name]!r}{'*' if chosen[name] == 'auto' else ''}"
        for name in SHOWN_SETTINGS
        if name in used and used[name] is not None
    )


def aligned(forecast: pd.DataFrame, ids: list[str], times: np.ndarray) -> np.ndarray:
    """``forecast``'s LSTM column as (series, h) in ``ids`` order, checked to be at ``times``
    (series, h)."""
    out = np.empty(times.shape)
    by_id = dict(tuple(forecast.groupby(ID, sort=False)))
    for i, uid in enumerate(ids):
        mine = by_id.get(uid)
        if mine is None or len(mine) != times.shape[1]:
            raise RuntimeError(f"no {times.shape[1]} forecasts of series {uid!r}")
        mine = mine.sort_values(TIME)
        if not np.array_equal(mine[TIME].to_numpy(), times[i]):
            raise RuntimeError(f"the forecasts of {uid!r} are not at the target times")
        out[i] = mine["LSTM"].to_numpy(dtype=np.float64)
    return out


def fit_and_predict(
    model: Any, data: pd.DataFrame, positions: np.ndarray, h: int, futr_cols: Sequence[str]
) -> Fitted:
    """Fit ``model`` on every series' points before the first origin; forecast ``h`` steps from
    each origin with ``predict(h, df=<history>)``, and with ``futr_cols`` also ``futr_df=`` the
    ``h`` future rows of those columns (the covariate API)."""
    ids, _, times = as_panel(data)
    position = data.groupby(ID, sort=False).cumcount().to_numpy()
    started = time.perf_counter()
    model.fit(data[position < positions[0]])
    train_seconds = time.perf_counter() - started
    started = time.perf_counter()
    forecasts = []
    for p in positions:
        history = data[position < p]
        if futr_cols:
            ahead = (position >= p) & (position < p + h)
            future = data.loc[ahead, [ID, TIME, *futr_cols]]
            forecast = model.predict(h, df=history, futr_df=future)
        else:
            forecast = model.predict(h, df=history)
        forecasts.append(aligned(forecast, ids, times[:, p : p + h]))
    return Fitted(
        np.stack(forecasts, axis=1),
        train_seconds,
        time.perf_counter() - started,
        shown_settings(model),
        model.seed_,
        list(model.recipe_),
    )


def epf_lstm(
    frame: pd.DataFrame, positions: np.ndarray, *, covariates: bool, seed: int, smoke: bool
) -> Fitted:
    """EPF's LSTM. With covariates: ``futr_cols=EPF_FUTR``, and each origin's ``predict`` gets
    ``futr_df``: the markets' 24 future hours of those columns."""
    futr = EPF_FUTR if covariates else ()
    model = make_model(EPF_H, seed, smoke, **({"futr_cols": futr} if covariates else {}))
    return fit_and_predict(model, frame[[ID, TIME, TARGET, *futr]], positions, EPF_H, futr)


# M5's metric is RMSSE, a root mean squared error, whose best forecast is the mean: the loss is
# MSE, not the recipe's MAE (which aims at the median, 0 on many days of intermittent sales).
# Chosen on validation: RMSSE 0.826 with MSE, 0.889 with MAE (benchmarks/RESULTS.md).
M5_LOSS = "mse"


def m5_lstm(
    frame: pd.DataFrame, positions: np.ndarray, *, covariates: bool, seed: int, smoke: bool
) -> Fitted:
    """M5's LSTM, ``loss=M5_LOSS``. With covariates: ``futr_cols=M5_FUTR,
    covariate_missing="zero"``, and the forecast's ``predict`` gets ``futr_df``: the 28 future
    days of those columns."""
    futr = M5_FUTR if covariates else ()
    settings: dict[str, Any] = {"loss": M5_LOSS}
    if covariates:
        settings |= {"futr_cols": futr, "covariate_missing": M5_MISSING}
    model = make_model(M5_H, seed, smoke, **settings)
    return fit_and_predict(model, frame[[ID, TIME, TARGET, *futr]], positions, M5_H, futr)


def etth1_lstm(
    frame: pd.DataFrame, n_windows: int, *, covariates: bool, seed: int, smoke: bool, validate: bool
) -> Fitted:
    """ETTh1's LSTM: ``window=96, val_size=2880`` (the protocol's lookback and split), fitted on
    the rows before the scored months, forecast by ``backtest(h=96, n_windows, step_size=1)``
    over the first ``n_windows`` scored windows. With covariates: ``hist_cols=ETTH1_LOADS``
    (backtest reads them from the frame, up to each origin)."""
    train_end, val_end, _ = ETTH1_BOUNDS[validate]
    hist = ETTH1_LOADS if covariates else ()
    settings: dict[str, Any] = {"window": ETTH1_LOOKBACK, "val_size": val_end - train_end}
    if covariates:
        settings["hist_cols"] = hist
    model = make_model(ETTH1_H, seed, smoke, **settings)
    data = frame[[ID, TIME, TARGET, *hist]]
    started = time.perf_counter()
    model.fit(data.iloc[:val_end])
    train_seconds = time.perf_counter() - started
    mean, std = etth_data.fit_scaler(frame[TARGET].to_numpy()[:train_end, None])
    if not (
        np.allclose(model.scaler_.shift, mean, rtol=1e-12, atol=0)
        and np.allclose(model.scaler_.scale, std, rtol=1e-12, atol=0)
    ):
        raise RuntimeError("the model's scaler differs from the protocol's training scaler")
    started = time.perf_counter()
    end = val_end + ETTH1_H + n_windows - 1
    result = model.backtest(data.iloc[:end], h=ETTH1_H, n_windows=n_windows, step_size=1)
    times = frame[TIME].to_numpy()[val_end + np.arange(n_windows)[:, None] + np.arange(ETTH1_H)]
    if not np.array_equal(result[TIME].to_numpy().reshape(times.shape), times):
        raise RuntimeError("the backtest's targets are not the protocol's windows")
    forecast = result["LSTM"].to_numpy(dtype=np.float64).reshape(1, n_windows, ETTH1_H)
    return Fitted(
        forecast,
        train_seconds,
        time.perf_counter() - started,
        shown_settings(model),
        model.seed_,
        list(model.recipe_),
    )


# -- one data set ------------------------------------------------------------------------------
@dataclass
class Outcome:
    """One data set's figures (a table: models x metrics) and what is printed with them."""

    name: str
    title: str
    table: pd.DataFrame
    headline: str  # the column the summary compares
    fitted: dict[str, Fitted] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    load: str = ""


def run_lstms(
    run: Callable[..., Fitted], variants: Sequence[str], **kwargs: Any
) -> tuple[dict[str, Fitted], dict[str, str]]:
    """Each variant's LSTM (``run(covariates=..., **kwargs)``); a failure is recorded with the
    end of its traceback, and the other variants still run."""
    fitted, errors = {}, {}
    for variant in variants:
        try:
            fitted[variant] = run(covariates=variant == WITH, **kwargs)
        except Exception as error:  # reported in the output; the other variants run
            tail = traceback.format_exception(type(error), error, error.__traceback__)[-3:]
            errors[variant] = "".join(tail).strip()
    return fitted, errors


def run_epf(
    seed: int = 0, smoke: bool = False, validate: bool = False, variants: Sequence[str] = VARIANTS
) -> Outcome:
    """EPF (short): MAE and RMSE per market and their mean, for every model."""
    load = load_average()
    frame = load_epf()
    if validate:
        frame = drop_last(frame, EPF_H * EPF_ORIGINS)
    ids, values, times = as_panel(frame)
    positions = origins(values.shape[1], EPF_H, EPF_ORIGINS, EPF_H)
    if smoke:
        positions = positions[:SMOKE_ORIGINS]
    at = pd.DatetimeIndex(times[:, positions].reshape(-1))
    if not (at == at.normalize()).all():
        raise RuntimeError("an EPF forecast origin is not at midnight")
    forecasts = {
        f"seasonal naive {m} h": seasonal_naive_forecasts(values, positions, EPF_H, m)
        for m in EPF_SEASONS
    }
    fitted, errors = run_lstms(
        epf_lstm, variants, frame=frame, positions=positions, seed=seed, smoke=smoke
    )
    forecasts = {f"lstmcast {v}": f.forecast for v, f in fitted.items()} | forecasts
    actual = targets(values, positions, EPF_H)
    table = pd.DataFrame(
        {
            f"{name} {uid}": [metric(actual[i], fc[i]) for fc in forecasts.values()]
            for name, metric in (("MAE", mae), ("RMSE", rmse))
            for i, uid in enumerate(ids)
        },
        index=list(forecasts),
    )
    for name in ("MAE", "RMSE"):
        table[f"{name} mean"] = table[[f"{name} {uid}" for uid in ids]].mean(axis=1)
    table = table[[f"{n} {s}" for n in ("MAE", "RMSE") for s in (*ids, "mean")]]
    first, last = (pd.Timestamp(t) for t in times[0, [positions[0], positions[-1]]])
    notes = [
        f"{len(ids)} markets, {len(positions)} origins at midnight (market {ids[0]}: {first} to "
        f"{last}), h = {EPF_H}; trained on the {positions[0]} hours before the first origin",
        "peer MAE (BE, DE, FR, NP, mean): "
        + "; ".join(f"{k} {v}" for k, v in PEER_EPF_MAE.items()),
    ]
    outcome = Outcome("epf", "EPF (short), EUR/MWh", table, "MAE mean", fitted, errors, notes, load)
    outcome.notes += epf_targets(outcome.table)
    return outcome


def run_m5(
    seed: int = 0, smoke: bool = False, validate: bool = False, variants: Sequence[str] = VARIANTS
) -> Outcome:
    """M5 (small): MASE (m = 7) and RMSSE, means over series, for every model."""
    load = load_average()
    frame = load_m5()
    if validate:
        frame = drop_last(frame, M5_H)
    ids, values, _ = as_panel(frame)
    positions = origins(values.shape[1], M5_H, 1, M5_H)
    forecasts = {"seasonal naive 7": seasonal_naive_forecasts(values, positions, M5_H, M5_SEASON)}
    fitted, errors = run_lstms(
        m5_lstm, variants, frame=frame, positions=positions, seed=seed, smoke=smoke
    )
    forecasts = {f"lstmcast {v}": f.forecast for v, f in fitted.items()} | forecasts
    actual = targets(values, positions, M5_H)
    insample = values[:, : positions[0]]
    first_sale = [series[np.argmax(series != 0) :] for series in insample]
    table = pd.DataFrame(
        {
            "MASE": [
                over_series(mase, actual, fc, insample, M5_SEASON) for fc in forecasts.values()
            ],
            "RMSSE": [over_series(rmsse, actual, fc, insample) for fc in forecasts.values()],
            "RMSSE from first sale": [
                over_series(rmsse, actual, fc, first_sale) for fc in forecasts.values()
            ],
        },
        index=list(forecasts),
    )
    notes = [
        f"{len(ids)} series, 1 origin, h = {M5_H}, trained on the {positions[0]} days before it; "
        f"missing prices: covariate_missing={M5_MISSING!r} (leading only: nothing to carry "
        "forward; 0 = not on sale)",
        "RMSSE scales by the whole training part (as the peer's figures); 'from first sale' "
        "is M5's official scale",
        "peer (MASE, RMSSE): " + "; ".join(f"{k} {v}" for k, v in PEER_M5.items()),
    ]
    outcome = Outcome("m5", "M5 (small)", table, "RMSSE", fitted, errors, notes, load)
    outcome.notes += m5_targets(outcome.table)
    return outcome


def run_etth1(
    seed: int = 0, smoke: bool = False, validate: bool = False, variants: Sequence[str] = VARIANTS
) -> Outcome:
    """ETTh1 -> OT: standardised MSE and MAE of OT, with the loads as past-only covariates and
    without them, beside Repeat and seasonal naive 24 h."""
    load = load_average()
    train_end, val_end, end = ETTH1_BOUNDS[validate]
    frame = load_etth1(end)
    n_windows = end - val_end - ETTH1_H + 1
    if smoke:
        n_windows = SMOKE_WINDOWS
    values = frame[TARGET].to_numpy(dtype=np.float64)
    mean, std = etth_data.fit_scaler(values[:train_end, None])
    scaled = (values - mean[0]) / std[0]
    positions = val_end + np.arange(n_windows)
    actual = targets(scaled[None], positions, ETTH1_H)
    if not validate:  # the protocol's test windows, exactly
        blocks = etth_data.standard_splits(values[:, None], ETTH1_LOOKBACK)
        _, protocol = etth_data.windows((blocks["test"] - mean) / std, ETTH1_LOOKBACK, ETTH1_H)
        if not np.array_equal(protocol[:n_windows, :, 0], actual[0]):
            raise RuntimeError("the scored windows are not the protocol's test windows")
    forecasts = {
        "Repeat (last value)": seasonal_naive_forecasts(scaled[None], positions, ETTH1_H, 1),
        "seasonal naive 24 h": seasonal_naive_forecasts(scaled[None], positions, ETTH1_H, 24),
    }
    fitted, errors = run_lstms(
        etth1_lstm,
        variants,
        frame=frame,
        n_windows=n_windows,
        seed=seed,
        smoke=smoke,
        validate=validate,
    )
    lstms = {f"lstmcast {v}": (f.forecast - mean[0]) / std[0] for v, f in fitted.items()}
    forecasts = lstms | forecasts
    table = pd.DataFrame(
        {
            "MSE": [float(np.mean((fc - actual) ** 2)) for fc in forecasts.values()],
            "MAE": [mae(actual, fc) for fc in forecasts.values()],
        },
        index=list(forecasts),
    )
    notes = [
        f"OT, lookback {ETTH1_LOOKBACK}, H = {ETTH1_H}; trained on rows [0, {train_end}), "
        f"validation [{train_end}, {val_end}); {n_windows} windows scored (targets from row "
        f"{val_end}), standardised with the training rows' mean {mean[0]:.4f} and std "
        f"{std[0]:.4f}",
        "published univariate OT MSE at H = 96: Repeat 0.069 (drop_last), DLinear (L=336) "
        "0.056, NLinear (L=336) 0.053",
    ]
    title = "ETTh1 -> OT (with covariates: the 6 loads, past-only), standardised"
    outcome = Outcome("etth1", title, table, "MSE", fitted, errors, notes, load)
    if WITH in fitted and WITHOUT in fitted:
        ours, alone = (table.at[f"lstmcast {v}", "MSE"] for v in VARIANTS)
        outcome.notes.append(
            f"target: with the loads no worse than OT alone (MSE): {_met(ours <= alone)}"
        )
    return outcome


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


def epf_targets(table: pd.DataFrame) -> list[str]:
    """Issue 17's EPF targets, each met or not (only for the models that ran)."""
    ours, alone = f"lstmcast {WITH}", f"lstmcast {WITHOUT}"
    if ours not in table.index:
        return []
    mean = table.at[ours, "MAE mean"]
    markets = [c for c in table.columns if c.startswith("MAE ") and c != "MAE mean"]
    beaten = all(table.at[ours, c] < table.at["seasonal naive 24 h", c] for c in markets)
    lines = [
        f"target: mean MAE <= {EPF_TARGET_MAE} (10% below the peer's 7.88): {mean:.3f}, "
        f"{_met(mean <= EPF_TARGET_MAE)}",
        f"target: below seasonal naive 24 h in every market: {_met(beaten)}",
    ]
    if alone in table.index and table.at[alone, "MAE mean"] > 0:
        gain = 1 - mean / table.at[alone, "MAE mean"]
        lines.append(
            f"target: >= {EPF_TARGET_GAIN:.0%} below the model without covariates: "
            f"{gain:+.1%}, {_met(gain >= EPF_TARGET_GAIN)}"
        )
    return lines


def m5_targets(table: pd.DataFrame) -> list[str]:
    """Issue 17's M5 target, met or not."""
    ours = f"lstmcast {WITH}"
    if ours not in table.index:
        return []
    value = table.at[ours, "RMSSE"]
    return [
        f"target: RMSSE below the peer's {M5_TARGET_RMSSE} (seasonal naive 1.187): {value:.4f}, "
        f"{_met(value < M5_TARGET_RMSSE)}"
    ]


RUNS: dict[str, Callable[..., Outcome]] = {"epf": run_epf, "m5": run_m5, "etth1": run_etth1}


# -- the report --------------------------------------------------------------------------------
def markdown(table: pd.DataFrame, digits: int = 4) -> str:
    """``table`` (index: row names) as a Markdown table."""
    header = ["model", *map(str, table.columns)]
    lines = ["| " + " | ".join(header) + " |", "|---" + "|---:" * len(table.columns) + "|"]
    for name, row in table.iterrows():
        lines.append("| " + " | ".join([str(name), *(f"{v:.{digits}f}" for v in row)]) + " |")
    return "\n".join(lines)


def details(outcome: Outcome) -> str:
    """One data set's section: notes, each LSTM's settings and times, errors, its table."""
    lines = [f"## {outcome.title}", f"load before -> after: {outcome.load}"]
    lines += [f"- {note}" for note in outcome.notes]
    for variant, fitted in outcome.fitted.items():
        lines.append(
            f"- lstmcast {variant}: training {fitted.train_seconds:.1f} s, forecasting "
            f"{fitted.forecast_seconds:.1f} s, seed {fitted.seed}; {fitted.settings}"
        )
        lines += [f"    recipe: {reason}" for reason in fitted.reasons]
    for variant, error in outcome.errors.items():
        lines.append(f"- lstmcast {variant}: FAILED\n    " + error.replace("\n", "\n    "))
    return "\n".join([*lines, "", markdown(outcome.table)])


def summary(outcomes: Sequence[Outcome]) -> str:
    """One line per data set: the headline metric with and without covariates, the baselines."""
    headers = ["data", "metric", WITH, WITHOUT, "change", "baselines", "train s (with / without)"]
    lines = ["| " + " | ".join(headers) + " |", "|---" * len(headers) + "|"]
    for outcome in outcomes:
        column = outcome.table[outcome.headline]
        with_, without = (column.get(f"lstmcast {v}") for v in VARIANTS)
        known = with_ is not None and without is not None and without > 0
        change = f"{with_ / without - 1:+.1%}" if known else ""
        baselines = ", ".join(
            f"{name} {value:.4f}" for name, value in column.items() if not name.startswith("lstm")
        )
        seconds = " / ".join(
            f"{outcome.fitted[v].train_seconds:.1f}" if v in outcome.fitted else "-"
            for v in VARIANTS
        )
        cells = [
            outcome.name,
            outcome.headline,
            "FAILED" if with_ is None else f"{with_:.4f}",
            "FAILED" if without is None else f"{without:.4f}",
            change,
            baselines,
            seconds,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def header(threads: int | None, smoke: bool, validate: bool, seed: int) -> str:
    """The run's circumstances: versions, commit, machine, threads, seed."""
    commit = git_commit(REPO)
    mode = " (SMOKE: 1 epoch, tiny model: not figures)" if smoke else ""
    mode += " (VALIDATION: the test part dropped)" if validate else ""
    return (
        f"# lstmcast {importlib.metadata.version('lstmcast')} covariates benchmark{mode}; commit "
        f"{commit}; torch {importlib.metadata.version('torch')}; Python "
        f"{sys.version.split()[0]}\n# {cpu_description()}; torch threads: "
        f"{threads or 'torch default'}; seed {seed}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.covariates", description=(__doc__ or "").split("\n\n")[0]
    )
    parser.add_argument("--only", help=f"comma-separated data sets, of: {','.join(RUNS)}")
    parser.add_argument("--smoke", action="store_true", help="seconds: tiny model, 1 epoch")
    parser.add_argument(
        "--validate", action="store_true", help="drop the test part first; never read it"
    )
    parser.add_argument("--threads", type=int, help="torch threads")
    parser.add_argument("--seed", type=int, default=0, help="random_state of every LSTM")
    args = parser.parse_args(argv)
    names = [name.strip() for name in (args.only or ",".join(RUNS)).split(",") if name.strip()]
    if not names or any(name not in RUNS for name in names):
        parser.error(f"--only takes some of {','.join(RUNS)}; got {args.only!r}")
    if args.threads:
        import lstmcast as lc

        lc.pin_threads(args.threads)
    print(header(args.threads, args.smoke, args.validate, args.seed), flush=True)
    outcomes = []
    for name in names:
        started = time.perf_counter()
        outcome = RUNS[name](seed=args.seed, smoke=args.smoke, validate=args.validate)
        outcome.load += f" -> {load_average()}"
        outcome.notes.append(f"wall time of the data set: {time.perf_counter() - started:.1f} s")
        outcomes.append(outcome)
        print("\n" + details(outcome), flush=True)
    print("\n## Summary\n\n" + summary(outcomes), flush=True)
    return 1 if any(outcome.errors for outcome in outcomes) else 0


if __name__ == "__main__":
    raise SystemExit(main())
