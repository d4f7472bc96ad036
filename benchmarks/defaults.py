"""Good by default? The CLI with no tuning flag on public data of several frequencies.

Usage (from the repository root):

    .venv/bin/python -m benchmarks.defaults --threads 2            # every case, once
    .venv/bin/python -m benchmarks.defaults --only m4,etth1_ot      # some cases
    .venv/bin/python -m benchmarks.defaults --smoke                 # seconds: checks it runs
    .venv/bin/python -m benchmarks.defaults --validate              # never reads the test points
    .venv/bin/python -m benchmarks.defaults --only m4 --tune 15m     # lstmcast tune, not train
    .venv/bin/python -m benchmarks.defaults --validate --seed 1     # one seed for every model

Each case runs the command line as a user would, in a work directory (a temporary one unless
``--workdir``): it writes the case's training part to ``train.csv`` in the user's own layout,
runs ``lstmcast train train.csv -o model --horizon H`` with only the column names the file needs,
then ``lstmcast forecast model --h H --level 95 -o fc.csv`` from the end of the training data
and, for a later forecast origin, ``--data history.csv`` (the series up to that origin). No
setting is passed: the model is whatever the defaults give (``--smoke`` alone adds ``--epochs 1
--hidden-size 8 --ensemble-size 1`` to finish in seconds; its figures mean nothing). A case
with more origins than :data:`MAX_CLI_ORIGINS` (ETTh1's 2,785 hourly windows) forecasts them in
one process with the saved model's ``backtest`` (``benchmarks/programs/rolling_forecast.py``)
instead of one ``lstmcast forecast`` per origin.

Held out: every series' last ``h + step x (origins - 1)`` points are never in ``train.csv``;
forecasts from each origin see only the values before it; nothing is chosen on them. Each
case's metric is lower-is-better and is computed for the LSTM and for seasonal naive (the last
season repeated, from the same origins, on the same targets); skill = 1 - LSTM / seasonal naive
(positive: the LSTM is better).

* ``m4``: M4 Hourly, 414 series, h = 48, the official test set, official sMAPE / MASE / OWA
  (benchmarks/m4_data.py's ``score``; Naive2 recomputed). Time steps are integers (the data
  carry no dates).
* ``etth1_ot``: ETTh1's OT column alone (file ``date, OT``), h = 96, the standard split
  (benchmarks/etth_data.py): trained on the 12 training months only (rows [0, 8640)); the 4
  validation months are not trained on, only read as inputs; scored on every window whose 96
  targets lie in the 4 test months, origins 11520, 11521, ..., 14304 (2,785 windows sliding by
  one hour, no ``drop_last``: benchmarks/etth.py's test windows, checked against
  ``etth_data.windows``); MSE of values standardised with the training rows' mean and
  population std. Seasonal naive repeats the last 24 hours.
* ``sine``: the tutorial's series (``lstmcast.demo.sine_series``, 1,000 points, integer steps):
  the tutorial trains on the first 800 points and scores the last 200; here h = 20 from 10
  origins 20 apart, so the 200 held-out points are each forecast once, 1 to 20 steps ahead.
  MASE and seasonal naive use the sine's period, 314 steps.
* ``m5``: 8 daily M5 sales series (intermittent), h = 28 (the M5 horizon), the last 28 days;
  MASE with m = 7.
* ``macro``: 12 quarterly US macro series (FRED, 1959Q1-2009Q3), h = 8 (M4's quarterly
  horizon), 4 origins 8 quarters apart (the last 32 quarters); MASE with m = 4.
* ``elnino``: monthly Nino 1+2 sea surface temperature (1950-2010), h = 18 (M4's monthly
  horizon), 5 origins 18 months apart (the last 90 months); MASE with m = 12.
* ``elec_equip``: monthly euro-area electrical equipment turnover index (1995-2016), h = 18,
  3 origins 18 months apart (the last 54 months); MASE with m = 12.

MASE: each series' mean absolute error over all its origins and steps, divided by the mean
absolute seasonal difference (lag m) of its training part, averaged over series
(``lstmcast.evaluate``, the M4 convention). The 95% intervals the defaults give (conformal, from
the validation tail the recipe sets) are scored on every case the same way: coverage of all the
held-out points, and MSIS (M4's definition, scaled as MASE, every series' origins pooled); a
model that cannot calibrate a 95% interval (too few validation windows) says why, and its
points are forecast without one. Wall times are of the whole commands (process
start-up and reading included). The machine (CPU flags) and ``uptime``'s load before and after
each case are printed with the figures. Data and licences: benchmarks/data/README.md.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

if __package__ in (None, ""):  # run as a file: make the `benchmarks` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import etth_data, m4_data
from benchmarks.etth import LOOKBACK
from benchmarks.machine import cpu_description, git_commit, load_average

REPO = Path(__file__).resolve().parent.parent
DATA_DIR = m4_data.DATA_DIR

# The interval every forecast also asks for (``--level``), scored by coverage and MSIS.
LEVEL = 95
LO, HI = f"LSTM-lo-{LEVEL}", f"LSTM-hi-{LEVEL}"
# Above this many origins a case forecasts in one process (rolling_forecast), not one per origin.
MAX_CLI_ORIGINS = 50
# --smoke: the first few series, the first two origins, and settings that take seconds.
SMOKE_SERIES = 3
SMOKE_ORIGINS = 2
SMOKE_FLAGS = ("--epochs", "1", "--hidden-size", "8", "--ensemble-size", "1")
# ETTh1 "S" (OT alone) at h = 96, MSE (benchmarks/data's sources; Repeat with drop_last).
PUBLISHED_ETTH1_OT = "Repeat 0.069, DLinear (L=336) 0.056, NLinear (L=336) 0.053"
# The recipe column: these settings, as the saved model holds them.
SHOWN_SETTINGS = (
    "window",
    "segment",
    "horizon",
    "hidden_size",
    "num_layers",
    "window_norm",
    "loss",
    "lr",
    "lr_schedule",
    "batch_size",
    "epochs",
    "patience",
    "val_size",
    "ensemble_size",
    "season_length",
    "target_transform",
)


# -- the cases ---------------------------------------------------------------------------------
def _long(
    ids: Sequence[str], times: Sequence[object], values: Sequence[np.ndarray]
) -> pd.DataFrame:
    """A long frame ``unique_id, ds, y`` from per-series times and values."""
    return pd.DataFrame(
        {
            "unique_id": np.repeat(list(ids), [len(v) for v in values]),
            "ds": np.concatenate([np.asarray(t) for t in times]),
            "y": np.concatenate(values).astype(np.float64),
        }
    )


def load_m4() -> pd.DataFrame:
    """M4 Hourly, training part then the official 48 test hours of each series, integer steps."""
    train, test, ids = m4_data.load_m4_hourly()
    series = [np.concatenate([x, y]) for x, y in zip(train, test, strict=True)]
    return _long(ids, [np.arange(len(s)) for s in series], series)


def load_etth1_ot() -> pd.DataFrame:
    """ETTh1's OT column, rows [0, 14400) (the standard protocol's train, validation, test)."""
    frame = etth_data.load_etth1().iloc[: etth_data.TEST_END]
    return _long([etth_data.TARGET], [frame["date"]], [frame[etth_data.TARGET].to_numpy()])


def load_sine() -> pd.DataFrame:
    """The tutorial's series: ``lstmcast.demo.sine_series(seed=0)``, 1,000 points."""
    from lstmcast.demo import sine_series

    values = sine_series(0)
    return _long(["sine"], [np.arange(len(values))], [values])


def load_m5() -> pd.DataFrame:
    """The 8 daily M5 sales series; the price and event columns are left out (no covariates)."""
    frame = pd.read_csv(DATA_DIR / "m5_small" / "m5_sales_exog_small.csv.gz", parse_dates=["ds"])
    return frame[["unique_id", "ds", "y"]].astype({"y": np.float64})


def statsmodels_set(name: str) -> Callable[[], pd.DataFrame]:
    """A loader of one of the statsmodels data sets in benchmarks/data/statsmodels."""

    def load() -> pd.DataFrame:
        path = DATA_DIR / "statsmodels" / f"{name}.csv.gz"
        return pd.read_csv(path, parse_dates=["ds"]).astype({"y": np.float64})

    load.__name__ = f"load_{name}"
    return load


@dataclass(frozen=True)
class Case:
    """One data set as a user would bring it, and how it is held out and scored."""

    name: str
    frequency: str
    load: Callable[[], pd.DataFrame]  # long unique_id, ds, y: every point, held-out ones too
    horizon: int
    season: int  # seasonal naive's lag and the MASE lag
    metric: str  # "OWA", "MSE" or "MASE"
    origins: int = 1  # forecast origins at the end of each series
    step: int = 0  # steps between origins (0: the horizon)
    gap: int = 0  # points between the end of training and the first origin, never trained on
    single: bool = False  # written without an id column, as a single-series file
    time_col: str = "ds"  # the time column's name in the user's file
    target_col: str = "y"  # a single-series file's value column (found: the one beside the time)

    @property
    def stride(self) -> int:
        return self.step or self.horizon

    @property
    def span(self) -> int:
        """Points of each series after the first origin: the held-out targets."""
        return self.horizon + self.stride * (self.origins - 1)


CASES = {
    case.name: case
    for case in (
        Case("m4", "hourly (integer steps)", load_m4, 48, m4_data.SEASON, "OWA"),
        Case(
            "etth1_ot",
            "hourly",
            load_etth1_ot,
            96,
            24,
            "MSE",
            origins=etth_data.TEST_END - etth_data.VAL_END - 96 + 1,
            step=1,
            gap=etth_data.VAL_END - etth_data.TRAIN_END,
            single=True,
            time_col="date",
            target_col=etth_data.TARGET,
        ),
        Case("sine", "integer steps", load_sine, 20, 314, "MASE", origins=10, single=True),
        Case("m5", "daily", load_m5, 28, 7, "MASE"),
        Case("macro", "quarterly", statsmodels_set("macro_quarterly"), 8, 4, "MASE", origins=4),
        Case("elnino", "monthly", statsmodels_set("elnino_monthly"), 18, 12, "MASE", origins=5),
        Case("elec_equip", "monthly", statsmodels_set("elec_equip_monthly"), 18, 12, "MASE", 3),
    )
}


# -- running the command line ------------------------------------------------------------------
@dataclass
class Command:
    """One command as the user types it (run in the work directory), and its wall time."""

    args: list[str]
    seconds: float = 0.0

    def __str__(self) -> str:
        return " ".join(self.args)


def run_command(args: list[str], workdir: Path, threads: int | None) -> Command:
    """Run ``lstmcast ...`` or ``python -m ...`` in ``workdir`` with this interpreter; timed.

    ``lstmcast`` runs as ``python -m lstmcast`` (the same entry point) so that the benchmark
    uses the interpreter it runs under. A failure raises with the command's stderr.
    """
    executable = [sys.executable, "-m", "lstmcast"] if args[0] == "lstmcast" else [sys.executable]
    started = time.perf_counter()
    done = subprocess.run(
        executable + args[1:], cwd=workdir, env=command_env(threads), capture_output=True, text=True
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
        raise RuntimeError(f"`{' '.join(args)}` exited with {done.returncode}:\n{tail}")
    return Command(args, seconds)


def command_env(threads: int | None) -> dict[str, str]:
    """The environment of every command: this one, the repository first on PYTHONPATH (for
    ``benchmarks``), then the caller's entries, so that a scratch copy of the library put there
    (an experiment's arm) is what the commands import."""
    paths = [str(REPO), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(paths))
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    return env


def lstmcast(threads: int | None, *args: str) -> list[str]:
    """An ``lstmcast`` command line, with the global ``--threads`` when one is set."""
    return ["lstmcast", *(["--threads", str(threads)] if threads else []), *args]


def write_user_file(frame: pd.DataFrame, path: Path, case: Case) -> None:
    """The series as the user's file: long ``unique_id, ds, y``, or ``<time>, <target>`` alone."""
    if case.single:
        frame = frame[["ds", "y"]].rename(columns={"ds": case.time_col, "y": case.target_col})
    frame.to_csv(path, index=False)


# -- one case ----------------------------------------------------------------------------------
@dataclass
class Forecasts:
    """A case's forecasts beside the actual values, aligned: arrays are (series, origins, h)."""

    ids: list[str]
    train: list[np.ndarray]  # each series' training values
    lstm: np.ndarray
    actual: np.ndarray
    seasonal_naive: np.ndarray
    bounds: tuple[np.ndarray, np.ndarray] | None = None  # the LEVEL interval's (lo, hi)


@dataclass
class Row:
    """One line of the table, and what is printed under it."""

    case: Case
    series: int
    origins: int
    lstm: float = float("nan")
    seasonal_naive: float = float("nan")
    detail: str = ""
    train_seconds: float = float("nan")
    forecast_seconds: float = float("nan")
    load: str = ""
    recipe: str = ""
    reasons: Sequence[str] = ()
    seed: object = None
    commands: list[Command] | None = None
    error: str = ""
    trials: pd.DataFrame | None = None  # lstmcast tune's trials table (with --tune)
    coverage: float = float("nan")  # of the LEVEL intervals, percent
    msis: float = float("nan")
    no_intervals: str = ""  # why the model gave no LEVEL interval (its error, one line)

    @property
    def skill(self) -> float:
        return 1.0 - self.lstm / self.seasonal_naive


def smoke_slice(frame: pd.DataFrame, case: Case) -> pd.DataFrame:
    """The first series, each cut after the first :data:`SMOKE_ORIGINS` origins' targets."""
    ids = frame["unique_id"].drop_duplicates().head(SMOKE_SERIES)
    frame = frame[frame["unique_id"].isin(ids)]
    kept = case.span - case.stride * (case.origins - min(case.origins, SMOKE_ORIGINS))
    cut = frame.groupby("unique_id", sort=False)["y"].transform("size") - case.span + kept
    position = frame.groupby("unique_id", sort=False).cumcount()
    return frame[position < cut].reset_index(drop=True)


def forecast_all(
    case: Case,
    frame: pd.DataFrame,
    origins: int,
    workdir: Path,
    threads: int | None,
    model: str = "model",
    level: int | None = LEVEL,
) -> tuple[pd.DataFrame, list[Command]]:
    """Every origin's forecasts, ``unique_id, ds, cutoff (origin number), LSTM`` (and with
    ``level`` the bounds ``LSTM-lo-<level>``, ``LSTM-hi-<level>``), by the model saved at
    ``workdir / model``."""
    levels = ["--level", str(level)] if level is not None else []
    columns = ["unique_id", "ds", "cutoff", "LSTM"] + ([LO, HI] if level is not None else [])
    span = case.horizon + case.stride * (origins - 1)
    groups = frame.groupby("unique_id", sort=False)
    length = groups["y"].transform("size")
    position = groups.cumcount()
    commands, parts = [], []
    if case.origins > MAX_CLI_ORIGINS:  # one process, the saved model's backtest
        write_user_file(frame, workdir / "history.csv", case)
        args = ["python", "-m", "benchmarks.programs.rolling_forecast", model, "history.csv"]
        args += [str(case.horizon), str(origins), str(case.stride), "fc.csv"]
        args += [str(level)] if level is not None else []
        commands.append(run_command(args, workdir, threads))
        result = pd.read_csv(workdir / "fc.csv")
        # Origins numbered 0, 1, ... per series, in time order (cutoffs are ISO times or ints).
        cutoffs = result.groupby("unique_id", sort=False)["cutoff"]
        result["cutoff"] = cutoffs.rank(method="dense").astype(int) - 1
        return result[columns], commands
    for origin in range(origins):
        before = length - span + origin * case.stride  # points each series has at this origin
        args = lstmcast(threads, "forecast", model, "--h", str(case.horizon), *levels)
        if origin == 0 and case.gap == 0:  # the end of the training data, saved with the model
            args += ["-o", "fc.csv"]
        else:
            history = f"history_{origin}.csv"
            write_user_file(frame[position < before], workdir / history, case)
            args += ["--data", history, "-o", "fc.csv"]
        commands.append(run_command(args, workdir, threads))
        part = pd.read_csv(workdir / "fc.csv")
        part["cutoff"] = origin
        parts.append(part)
    return pd.concat(parts, ignore_index=True)[columns], commands


def align(case: Case, frame: pd.DataFrame, forecast: pd.DataFrame, origins: int) -> Forecasts:
    """The forecasts as arrays beside the actual values and seasonal naive's, checked.

    Every series must have ``origins x h`` forecasts whose times are those of the held-out
    points, in order; a single-series file's one series takes the frame's id.
    """
    h, span = case.horizon, case.horizon + case.stride * (origins - 1)
    ids = list(frame["unique_id"].drop_duplicates())
    if case.single:
        forecast = forecast.assign(unique_id=ids[0])
    datetimes = pd.api.types.is_datetime64_any_dtype(frame["ds"])
    times = pd.to_datetime(forecast["ds"]) if datetimes else forecast["ds"].astype(np.int64)
    forecast = forecast.assign(ds=times.to_numpy())
    train, lstm, actual, snaive, lo, hi = [], [], [], [], [], []
    by_id = dict(tuple(forecast.groupby("unique_id", sort=False)))
    for uid, series in frame.groupby("unique_id", sort=False):
        values, stamps = series["y"].to_numpy(), series["ds"].to_numpy()
        first = len(values) - span
        train.append(values[: first - case.gap])
        mine = by_id.get(uid)
        if mine is None or len(mine) != origins * h:
            raise RuntimeError(f"{case.name}: series {uid!r} has no {origins} x {h} forecasts")
        mine = mine.sort_values(["cutoff", "ds"], kind="stable")
        starts = first + case.stride * np.arange(origins)
        targets = starts[:, None] + np.arange(h)  # (origins, h) positions in the series
        if not np.array_equal(mine["ds"].to_numpy().reshape(origins, h), stamps[targets]):
            raise RuntimeError(f"{case.name}: forecasts of {uid!r} are not at the held-out times")
        lstm.append(mine["LSTM"].to_numpy(dtype=np.float64).reshape(origins, h))
        if LO in mine.columns:
            lo.append(mine[LO].to_numpy(dtype=np.float64).reshape(origins, h))
            hi.append(mine[HI].to_numpy(dtype=np.float64).reshape(origins, h))
        actual.append(values[targets])
        snaive.append(
            np.stack([m4_data.seasonal_naive(values[:start], h, case.season) for start in starts])
        )
    bounds = (np.stack(lo), np.stack(hi)) if lo else None
    return Forecasts(ids, train, np.stack(lstm), np.stack(actual), np.stack(snaive), bounds)


def score(case: Case, result: Forecasts, smoke: bool) -> tuple[float, float, str]:
    """(LSTM's figure, seasonal naive's, a detail line) in the case's metric."""
    if case.metric == "OWA":
        ours = m4_data.score(result.lstm[:, 0], result.train, result.actual[:, 0], case.season)
        theirs = m4_data.score(
            result.seasonal_naive[:, 0], result.train, result.actual[:, 0], case.season
        )
        detail = (
            f"sMAPE {ours['smape']:.3f} / MASE {ours['mase']:.3f} (seasonal naive "
            f"{theirs['smape']:.3f} / {theirs['mase']:.3f}; Naive2 {ours['naive2_smape']:.3f} / "
            f"{ours['naive2_mase']:.3f})"
        )
        return ours["owa"], theirs["owa"], detail
    if case.metric == "MSE":
        (train,) = result.train
        mean, std = etth_data.fit_scaler(train[:, None])
        if not smoke:  # the protocol's scaler and test windows, exactly
            series = load_etth1_ot()["y"].to_numpy()[:, None]
            blocks = etth_data.standard_splits(series, LOOKBACK)
            if not np.allclose(etth_data.fit_scaler(blocks["train"]), (mean, std), rtol=1e-12):
                raise RuntimeError("the training rows are not the protocol's")
            _, targets = etth_data.windows(blocks["test"], LOOKBACK, case.horizon)
            if not np.array_equal(targets[:, :, 0], result.actual[0]):
                raise RuntimeError("the scored windows are not the protocol's test windows")
        scaled = [(values - mean[0]) / std[0] for values in (result.actual, result.lstm)]
        naive = (result.seasonal_naive - mean[0]) / std[0]
        ours, theirs = etth_data.mse_mae(*scaled), etth_data.mse_mae(scaled[0], naive)
        detail = (
            f"MAE {ours[1]:.4f} (seasonal naive {theirs[1]:.4f}), standardised; published "
            f"univariate OT MSE at h=96: {PUBLISHED_ETTH1_OT}"
        )
        return ours[0], theirs[0], detail
    metrics = evaluated(case, result, {"LSTM": result.lstm, "SeasonalNaive": result.seasonal_naive})
    detail = "sMAPE {:.3f} (seasonal naive {:.3f})".format(*metrics["sMAPE"])
    return float(metrics.at["LSTM", "MASE"]), float(metrics.at["SeasonalNaive", "MASE"]), detail


def interval_scores(case: Case, result: Forecasts) -> tuple[float, float]:
    """(coverage in percent, MSIS) of the LEVEL intervals, scored as :func:`evaluated` does."""
    assert result.bounds is not None
    columns = {"LSTM": result.lstm, LO: result.bounds[0], HI: result.bounds[1]}
    scores = evaluated(case, result, columns).loc["LSTM"]
    return float(scores[f"coverage-{LEVEL}"]), float(scores[f"MSIS-{LEVEL}"])


def evaluated(case: Case, result: Forecasts, columns: dict[str, np.ndarray]) -> pd.DataFrame:
    """``lc.evaluate`` of forecast ``columns`` (each (series, origins, h), named as forecast
    frames name models and bounds) against the actual values: the M4 convention, every series'
    origins pooled, MASE and MSIS scaled by the mean absolute seasonal difference (lag
    ``case.season``) of its training part, then the mean over series."""
    import lstmcast as lc

    n_series, origins, h = result.actual.shape
    scored = pd.DataFrame(
        {
            "unique_id": np.repeat(result.ids, origins * h),
            "ds": np.tile(np.arange(origins * h), n_series),
            "cutoff": np.tile(np.repeat(np.arange(origins), h), n_series),
            "y": result.actual.reshape(-1),
        }
        | {name: values.reshape(-1) for name, values in columns.items()}
    )
    train = _long(result.ids, [np.arange(len(x)) for x in result.train], result.train)
    return lc.evaluate(None, scored, train=train, season_length=case.season)


def recipe_of(config: dict) -> tuple[str, list[str], object]:
    """(the settings the model used, one line; the recipe's reasons; the seed), from config.json.

    The settings are the model's ``params``, those the recipe chose marked ``*`` and its reasons
    listed when the model saved them (``config["recipe"]``: ``chosen`` names, ``reasons``).
    "epochs run" is summed over an ensemble's members.
    """
    params = config.get("params", {})
    recipe = config.get("recipe") or {}
    chosen = set(recipe.get("chosen", []))
    shown = [
        f"{name}={params[name]!r}{'*' if name in chosen else ''}"
        for name in SHOWN_SETTINGS
        if name in params
    ]
    histories = config.get("histories") or []
    run = sum(len(history.get("train_loss", [])) for history in histories)
    shown.append(f"epochs run={run}")
    return ", ".join(shown), list(recipe.get("reasons", [])), config.get("seed")


def validation_part(frame: pd.DataFrame, case: Case) -> pd.DataFrame:
    """Each series without its held-out test points (the last ``span + gap``): the same
    protocol then scores the last origins of the training data, never the test."""
    groups = frame.groupby("unique_id", sort=False)
    length = groups["y"].transform("size")
    return frame[groups.cumcount() < length - case.span - case.gap].reset_index(drop=True)


def run_case(
    case: Case,
    workdir: Path,
    threads: int | None,
    smoke: bool,
    validate: bool = False,
    extra: Sequence[str] = (),
    tune: str | None = None,
    seed: int | None = None,
) -> Row:
    """Train with the CLI on the case's training part, forecast every origin, score (with
    ``validate``: all of it within the training part, the test points dropped first). With
    ``tune`` (a duration), ``lstmcast tune --time-budget TUNE`` replaces ``lstmcast train``;
    ``seed`` is passed as ``--seed`` (otherwise the model draws its own)."""
    workdir.mkdir(parents=True, exist_ok=True)
    frame = case.load()
    if validate:
        frame = validation_part(frame, case)
    origins = min(case.origins, SMOKE_ORIGINS) if smoke else case.origins
    if smoke:
        frame = smoke_slice(frame, case)
    span = case.horizon + case.stride * (origins - 1)
    length = frame.groupby("unique_id", sort=False)["y"].transform("size")
    train_part = frame[frame.groupby("unique_id", sort=False).cumcount() < length - span - case.gap]
    row = Row(case, frame["unique_id"].nunique(), origins, load=load_average())
    write_user_file(train_part, workdir / "train.csv", case)
    columns = ["--time-col", case.time_col] if case.time_col != "ds" else []
    args = lstmcast(threads, "train", "train.csv", "-o", "model", "--horizon", str(case.horizon))
    model = "model"
    if tune is not None:  # lstmcast tune instead, its best model forecasting
        args = lstmcast(threads, "tune", "train.csv", "-o", "tuned", "--horizon", str(case.horizon))
        args += ["--time-budget", tune]
        model = "tuned/model"
    args += columns + (list(SMOKE_FLAGS) if smoke else []) + list(extra)
    if seed is not None:
        args += ["--seed", str(seed)]
    try:
        trained = run_command(args, workdir, threads)
        row.train_seconds = trained.seconds
        config = json.loads((workdir / model / "config.json").read_text())
        row.recipe, row.reasons, row.seed = recipe_of(config)
        if tune is not None:
            row.trials = pd.read_csv(workdir / "tuned" / "trials.csv")
        try:
            forecast, calls = forecast_all(case, frame, origins, workdir, threads, model)
        except RuntimeError as error:
            last_line = str(error).splitlines()[-1]
            if "interval" not in last_line:  # not the level's failure: no second try
                raise
            # The model cannot give the LEVEL interval (too few validation windows): its
            # points are still scored.
            row.no_intervals = last_line
            forecast, calls = forecast_all(case, frame, origins, workdir, threads, model, None)
        row.commands = [trained, *calls]
        row.forecast_seconds = sum(call.seconds for call in calls)
        result = align(case, frame, forecast, origins)
        # Off the protocol's test windows, ETTh1 is scored as in --smoke (its own scaler).
        row.lstm, row.seasonal_naive, row.detail = score(case, result, smoke or validate)
        if result.bounds is not None:
            row.coverage, row.msis = interval_scores(case, result)
    except RuntimeError as error:
        row.error = str(error)
    row.load += f" -> {load_average()}"
    return row


# -- the report --------------------------------------------------------------------------------
def table(rows: Sequence[Row]) -> str:
    """The Markdown table of every case run."""
    headers = [
        "case",
        "frequency",
        "series",
        "h",
        "origins",
        "metric",
        "lstmcast",
        "seasonal naive",
        "skill",
        f"{LEVEL}% coverage",
        "MSIS",
        "train s",
        "forecast s",
        "load before -> after",
        "settings the model used",
    ]
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for row in rows:
        case = row.case
        figures = (
            [f"{row.lstm:.4f}", f"{row.seasonal_naive:.4f}", f"{100 * row.skill:+.1f}%"]
            if not row.error
            else ["FAILED", "", ""]
        )
        cells = [
            case.name,
            case.frequency,
            str(row.series),
            str(case.horizon),
            str(row.origins),
            case.metric,
            *figures,
            *(
                [f"{row.coverage:.1f}%", f"{row.msis:.3f}"]
                if np.isfinite(row.coverage)
                else ["", ""]
            ),
            f"{row.train_seconds:.1f}",
            f"{row.forecast_seconds:.1f}",
            row.load,
            row.recipe,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def details(row: Row) -> str:
    """What is printed under the table for one case: figures, commands, recipe, errors."""
    lines = [f"{row.case.name}:"]
    if row.detail:
        lines.append(f"  {row.detail}")
    if row.no_intervals:
        lines.append(f"  no {LEVEL}% interval: {row.no_intervals}")
    if row.seed is not None:
        lines.append(f"  model seed: {row.seed}")
    lines += [f"  recipe: {reason}" for reason in row.reasons]
    if row.trials is not None:
        lines += ["  " + line for line in row.trials.to_string(index=False).splitlines()]
    for command in row.commands or []:
        lines.append(f"  $ {command}   # {command.seconds:.1f} s")
    if row.error:
        lines.append("  " + row.error.replace("\n", "\n  "))
    return "\n".join(lines)


def header(threads: int | None, smoke: bool) -> str:
    """The run's circumstances: versions, commit, machine, threads."""
    commit = git_commit(REPO)
    return (
        f"# lstmcast {importlib.metadata.version('lstmcast')} with no tuning flag"
        f"{' (SMOKE: 1 epoch, tiny model: not figures)' if smoke else ''}; commit "
        f"{commit}; torch {importlib.metadata.version('torch')}; Python "
        f"{sys.version.split()[0]}\n# {cpu_description()}; torch threads per command: "
        f"{threads or 'torch default'}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.defaults", description=(__doc__ or "").split("\n\n")[0]
    )
    parser.add_argument("--only", help=f"comma-separated cases, of: {','.join(CASES)}")
    parser.add_argument("--smoke", action="store_true", help="seconds: tiny slices, 1 epoch")
    parser.add_argument("--threads", type=int, help="torch threads of every command")
    parser.add_argument("--workdir", type=Path, help="keep each case's files and model here")
    parser.add_argument(
        "--validate",
        action="store_true",
        help="score the last origins of the training part (test points dropped): for choosing "
        "the recipe",
    )
    parser.add_argument(
        "--extra",
        default="",
        help="train flags to add, e.g. '--baseline seasonal': for trying a recipe change on "
        "validation (with --validate); the figures are then not the defaults'",
    )
    parser.add_argument(
        "--seed",
        type=int,
        help="seed of every model (default: each model draws its own): for comparing two "
        "commits or recipes on the same seed; the settings stay the defaults",
    )
    parser.add_argument(
        "--tune",
        metavar="DURATION",
        help="run `lstmcast tune --time-budget DURATION` (e.g. 15m) instead of `lstmcast train`, "
        "and forecast with its best model",
    )
    args = parser.parse_args(argv)
    extra = shlex.split(args.extra)
    names = [name.strip() for name in (args.only or ",".join(CASES)).split(",") if name.strip()]
    unknown = [name for name in names if name not in CASES]
    if unknown or not names:
        parser.error(f"--only takes some of {','.join(CASES)}; got {args.only!r}")

    print(header(args.threads, args.smoke), flush=True)
    if extra:
        command = "tune" if args.tune else "train"
        print(f"# NOT THE DEFAULTS: every {command} command adds {' '.join(extra)}", flush=True)
    if args.tune:
        print(f"# lstmcast tune --time-budget {args.tune} instead of lstmcast train", flush=True)
    if args.seed is not None:
        print(f"# every model's seed: {args.seed}", flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="lstmcast-defaults-") as scratch:
        root = args.workdir or Path(scratch)
        for name in names:
            row = run_case(
                CASES[name],
                root / name,
                args.threads,
                args.smoke,
                args.validate,
                extra,
                args.tune,
                args.seed,
            )
            rows.append(row)
            print(details(row), flush=True)
    print("\n" + table(rows), flush=True)
    return 1 if any(row.error for row in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
