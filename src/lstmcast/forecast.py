"""Forecasters with the scikit-learn contract: :class:`LSTMForecaster` and the naive baselines.

Every forecaster has the same verbs:

- ``fit(df)`` learns from the series in ``df`` and returns ``self``;
- ``predict(h)`` forecasts ``h`` steps past the end of every series (or of the series in a new
  ``df``), as a long frame ``unique_id, ds, <Model>`` whose ``ds`` continues each series' step;
- ``backtest(df, h, n_windows, step_size)`` forecasts from several origins inside ``df`` (rolling
  origin), each forecast beside the actual values ``y``.

So baselines and the LSTM are scored the same way, on the same rows.
"""

from __future__ import annotations

import functools
import inspect
import itertools
import math
import os
import secrets
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch

from . import distributed
from .checks import (
    Rule,
    check_backtest,
    check_backtest_size,
    check_h,
    check_level,
    check_output_size,
    readable,
    spelled,
)
from .columns import interval_column, level_label
from .data import (
    ID,
    TIME,
    Panel,
    _show_time,
    concatenated_ranges,
    describe_step,
    future_times,
)
from .devices import pick_device
from .distributed import DataParallel
from .errors import (
    ConfigError,
    DataError,
    DataWarning,
    NotFittedError,
    TrainingError,
    count,
    option,
    points,
    setting,
)
from .lstm import GateTrace
from .model import WINDOW_NORMS, LSTMNetwork, NetworkConfig
from .train import LOSSES, LR_SCHEDULES, Callback, History, TrainConfig, TrainState, train
from .windows import CALENDAR, SCALERS, SeriesScaler, Windows, calendar_features, window_starts

if TYPE_CHECKING:
    import pandas as pd


# The column names of a long frame, as fit's keywords, of a model fitted without names (or saved
# before models kept them). None: found as the reader finds them (``unique_id``, ``ds``, ``y``
# where present; see to_long).
DEFAULT_COLUMNS: dict[str, str | None] = dict.fromkeys(("id_col", "time_col", "target_col"))


class Forecaster:
    """Shared verbs of every forecaster; subclasses say how to fit and how to forecast."""

    alias: ClassVar[str]
    _rules: ClassVar[dict[str, Rule]] = {}
    _fitted_attributes: ClassVar[tuple[str, ...]] = ("tail_",)  # set by fit or load

    # -- scikit-learn style parameters -------------------------------------------------------
    @classmethod
    def _param_names(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        return [p for p in signature.parameters if p != "self"]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor arguments, by name."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> Forecaster:
        """Set constructor arguments; takes effect at the next ``fit``."""
        for name, value in params.items():
            if name not in self._param_names():
                raise ConfigError(
                    f"{type(self).__name__} has no parameter {name!r}; "
                    f"parameters are {', '.join(self._param_names())}"
                )
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        defaults = inspect.signature(type(self).__init__).parameters
        changed = [f"{k}={v!r}" for k, v in self.get_params().items() if v != defaults[k].default]
        return f"{type(self).__name__}({', '.join(changed)})"

    def _check_params(self) -> None:
        for name, rule in self._rules.items():
            rule.check(name, getattr(self, name))

    def _check_fitted(self) -> None:
        if not all(getattr(self, name, None) for name in self._fitted_attributes):
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet; call fit(df) first "
                "(or lstmcast.load a saved model)"
            )

    # -- what subclasses provide --------------------------------------------------------------
    def _context_length(self) -> int:
        """Past points a forecast needs."""
        raise NotImplementedError

    def _fit(self, panel: Panel, steps: list[Any], callbacks: Sequence[Callback]) -> None:
        raise NotImplementedError

    def _forecast(self, panel: Panel, series: np.ndarray, ends: np.ndarray, h: int) -> np.ndarray:
        """Forecasts (k, h); row j from the history of series ``series[j]`` before ``ends[j]``."""
        raise NotImplementedError

    # -- shared verbs --------------------------------------------------------------------------
    def fit(
        self,
        df: Any,
        *,
        id_col: str | None = None,
        time_col: str | None = None,
        target_col: str | None = None,
        callbacks: Sequence[Callback] = (),
    ) -> Forecaster:
        """Learn from every series in ``df`` (array, Series, wide or long frame); return self."""
        return self._fit_data(df, id_col, time_col, target_col, callbacks)

    def _fit_data(
        self,
        df: Any,
        id_col: str | None,
        time_col: str | None,
        target_col: str | None,
        callbacks: Sequence[Callback],
        **options: Any,
    ) -> Forecaster:
        self._check_params()
        panel = Panel.from_data(df, id_col=id_col, time_col=time_col, target_col=target_col)
        steps = panel.steps()  # also rejects irregular series before any training
        # Kept (and saved) so that new data in the same layout needs no names again.
        self.columns_ = {"id_col": id_col, "time_col": time_col, "target_col": target_col}
        self._fit(panel, steps, callbacks, **options)
        self._set_data(panel, steps)
        return self

    def _set_data(self, panel: Panel, steps: list[Any]) -> None:
        """Keep what forecasting past the end needs: each series' last points and time step."""
        self.tail_ = panel.tail(self._context_length())
        self.steps_ = steps
        self.n_series_ = len(panel)
        self.__dict__.pop("_step_of", None)  # of the series fitted before

    def _panel_for(self, df: Any, **columns: str | None) -> tuple[Panel, list[Any]]:
        """New history ``df`` as a panel and its steps, checked against what the model learned.

        ``columns``: ``id_col``, ``time_col``, ``target_col``; those not given (or None) are the
        names the model was fitted with.
        """
        panel = Panel.from_data(df, **self._column_names(columns))
        self._check_zone(panel)
        steps = panel.steps()
        self._check_steps(panel, steps)
        return panel, steps

    def _check_zone(self, panel: Panel) -> None:
        """Refuse dates without a zone for a model trained on zoned ones, and the reverse: which
        instant a naive time is (local or UTC) cannot be known, and the forecast's times and
        calendar features would silently shift by the offset."""
        trained = getattr(self.tail_, "tz", None)
        if panel.ds.dtype.kind != "M" or self.tail_.ds.dtype.kind != "M":
            return  # integer steps, or a mismatch the step check names
        if (trained is None) == (panel.tz is None):
            return
        if trained is not None:
            raise DataError(
                f"the model was trained on times in {trained}, but the new data's times have no "
                "zone; write them with their UTC offset (e.g. 2024-01-09 07:00:00+01:00) or "
                "zone, so each is one instant"
            )
        raise DataError(
            f"the model was trained on times without a zone, but the new data's are in "
            f"{panel.tz}; give them as the training data had them (no offset), or train on "
            "zoned times"
        )

    def _column_names(self, given: dict[str, str | None]) -> dict[str, str | None]:
        """The names of ``given`` that are not None, the model's (or the defaults) for the rest."""
        names = getattr(self, "columns_", DEFAULT_COLUMNS)
        return names | {name: value for name, value in given.items() if value is not None}

    @functools.cached_property
    def _step_of(self) -> dict[str, Any]:
        # Built once per fit or load: forecasting series one by one must not rebuild it.
        return dict(zip(self.tail_.ids, self.steps_, strict=True))

    def _check_steps(self, panel: Panel, steps: list[Any]) -> None:
        """Refuse a series whose time step differs from the one the model learned for it.

        Series the model does not know are left to the forecast, which says what it needs.
        """
        for series_id, step in zip(panel.ids, steps, strict=True):
            trained = self._step_of.get(series_id)
            if trained is not None and (
                isinstance(step, int) != isinstance(trained, int) or step != trained
            ):
                raise DataError(
                    f"series {series_id!r} has {describe_step(step)}, but the model was trained "
                    f"on {describe_step(trained)} for it; give it data at the training "
                    "frequency (resample it), or train a model on this one"
                )

    def _require_history(self, panel: Panel, needed: int, what: str) -> None:
        short = panel.lengths < needed
        if short.any():
            i = int(np.argmax(short))
            raise DataError(
                f"series {panel.ids[i]!r} has {points(panel.lengths[i])}; {what} needs at "
                f"least {needed}"
            )

    def predict(
        self,
        h: int | None = None,
        df: Any = None,
        level: Sequence[float] | None = None,
        *,
        id_col: str | None = None,
        time_col: str | None = None,
        target_col: str | None = None,
    ) -> pd.DataFrame:
        """Forecast ``h`` steps past the end of each series.

        Parameters
        ----------
        h : steps ahead; default the model's horizon.
        df : optional new history (same series ids and time steps as in training); default the
            training data.
        level : prediction-interval levels in percent, e.g. ``[80, 95]`` (see the model's docs).
        id_col, time_col, target_col : column names of a long ``df``; default the names the
            model was fitted with.

        A ``df`` series whose time step differs from training is a DataError; an LSTM whose
        input lies more than FAR_FROM_TRAINING training standard deviations from a series'
        training mean warns (:class:`~lstmcast.errors.DataWarning`) and forecasts.

        Returns
        -------
        DataFrame ``unique_id, ds, <alias>`` with ``h`` rows per series, plus columns
        ``<alias>-lo-<level>`` and ``<alias>-hi-<level>`` for each level.
        """
        import pandas as pd

        self._check_fitted()
        h = check_h(self._default_h() if h is None else h)
        if df is None:
            panel, steps = self.tail_, self.steps_
        else:
            panel, steps = self._panel_for(
                df, id_col=id_col, time_col=time_col, target_col=target_col
            )
            self._require_history(panel, self._context_length(), self._context_what())
        levels = self._check_levels(level, h)
        check_output_size(len(panel), h, 3 + 2 * len(levels), count(len(panel), "series", "series"))
        series = np.arange(len(panel))
        values, bounds = self._forecast_with_bounds(panel, series, panel.ends, h, levels)
        times = future_times(panel.ds[panel.ends - 1], steps, h, panel.tz)
        columns = {
            ID: np.repeat(panel.ids, h),
            TIME: panel.in_zone(times.reshape(-1)),
            self.alias: values.reshape(-1),
        }
        for name, bound in bounds.items():
            columns[name] = bound.reshape(-1)
        return pd.DataFrame(columns)

    def _forecast_with_bounds(
        self, panel: Panel, series: np.ndarray, ends: np.ndarray, h: int, levels: list[float]
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Point forecasts (k, h) from rows ``ends`` of ``series``, and their interval bounds."""
        values = self._forecast(panel, series, ends, h)
        return values, self._bounds(panel, series, ends, values, levels)

    def _check_levels(self, level: Sequence[float] | None, h: int) -> list[float]:
        """The distinct levels asked for, ascending: 80 given twice, or 80 and 80.0, is one."""
        if level is None:
            return []
        given = [level] if isinstance(level, str) or np.ndim(level) == 0 else list(level)
        # NumPy numbers (np.array([80, 95]), np.float32(80)) are numbers; NumPy bools are not.
        given = [
            value.item() if isinstance(value, np.integer | np.floating) else value
            for value in given
        ]
        for value in given:
            check_level("level", value)
        return sorted({float(value) for value in given})

    def _bounds(
        self,
        panel: Panel,
        series: np.ndarray,
        ends: np.ndarray,
        values: np.ndarray,
        levels: list[float],
    ) -> dict[str, np.ndarray]:
        """Interval columns ``<alias>-lo-<level>`` / ``-hi-``, each (k, h), for ``levels``."""
        if levels:
            raise ConfigError(
                f"{type(self).__name__} has no prediction intervals; use an LSTMForecaster "
                "trained with val_size (its intervals are calibrated on the validation tail)"
            )
        return {}

    def backtest(
        self,
        df: Any,
        h: int | None = None,
        n_windows: int = 1,
        step_size: int | None = None,
        refit: bool = False,
        level: Sequence[float] | None = None,
        *,
        id_col: str | None = None,
        time_col: str | None = None,
        target_col: str | None = None,
    ) -> pd.DataFrame:
        """Rolling-origin evaluation over the end of each series of ``df``.

        The last ``n_windows`` origins are ``step_size`` (default ``h``) apart; the last one leaves
        exactly ``h`` points after it. From each origin the model forecasts ``h`` steps using only
        the values before it: by default the fitted model as it is (no retraining, its scaling
        from training); with ``refit=True`` a fresh copy is trained on each origin's past.
        ``id_col``, ``time_col``, ``target_col``: column names of a long ``df``, as in
        :meth:`predict`; without ``refit``, ``df`` is checked against the model as there.

        Returns
        -------
        DataFrame ``unique_id, ds, cutoff, y, <alias>``: ``cutoff`` is the last time seen; with
        ``level``, interval columns as in :meth:`predict` (not with ``refit``).
        """
        import pandas as pd

        if not refit:
            self._check_fitted()
        h, n_windows, step_size = check_backtest(
            self._default_h() if h is None else h, n_windows, step_size
        )
        names = {"id_col": id_col, "time_col": time_col, "target_col": target_col}
        if refit:  # fresh copies learn from df itself: nothing to check it against
            panel = Panel.from_data(df, **self._column_names(names))
        else:
            panel = self._panel_for(df, **names)[0]
        span = h + step_size * (n_windows - 1)
        self._require_history(
            panel,
            self._context_length() + span,
            f"{self._context_what()} + a backtest of {count(n_windows, 'window')} of "
            f"{option('h', h)}, "
            f"step {step_size}",
        )
        n, k = len(panel), n_windows
        levels = self._check_levels(level, h)
        check_backtest_size(n, k, h, 5 + 2 * len(levels))
        # origins[s, w]: number of points of series s seen before window w.
        origins = panel.lengths[:, None] - span + step_size * np.arange(k)[None, :]
        series = np.repeat(np.arange(n), k)
        ends = (panel.starts[:-1, None] + origins).reshape(-1)
        if refit and levels:
            raise ConfigError(f"intervals are not available with {option('refit', True)}")
        if refit:
            values = np.concatenate(
                [self._refit_forecast(panel, origins[:, w], h) for w in range(k)], axis=1
            ).reshape(n * k, h)
            bounds: dict[str, np.ndarray] = {}
        else:
            values, bounds = self._forecast_with_bounds(panel, series, ends, h, levels)
        target_rows = ends[:, None] + np.arange(h)[None, :]  # (n * k, h)
        return pd.DataFrame(
            {
                ID: np.repeat(panel.ids, k * h),
                TIME: panel.in_zone(panel.ds[target_rows.reshape(-1)]),
                "cutoff": panel.in_zone(np.repeat(panel.ds[ends - 1], h)),
                "y": panel.y[target_rows.reshape(-1)],
                self.alias: values.reshape(-1),
            }
            | {name: bound.reshape(-1) for name, bound in bounds.items()}
        )

    def _refit_forecast(self, panel: Panel, seen: np.ndarray, h: int) -> np.ndarray:
        """Fit a fresh copy on the first ``seen[s]`` points of each series; forecast (n, 1, h)."""
        clone = type(self)(**self.get_params())
        past = panel.head(seen)
        clone.fit(past.to_frame())
        return clone._forecast(past, np.arange(len(past)), past.ends, h)[:, None, :]

    def _default_h(self) -> int:
        return 1

    def _context_what(self) -> str:
        return f"a context of {self._context_length()}"


class Naive(Forecaster):
    """Repeat each series' last value."""

    alias = "Naive"

    def __init__(self) -> None:
        pass

    def _context_length(self) -> int:
        return 1

    def _fit(self, panel: Panel, steps: list[Any], callbacks: Sequence[Callback]) -> None:
        self._require_history(panel, 1, "the naive forecast")

    def _forecast(self, panel: Panel, series: np.ndarray, ends: np.ndarray, h: int) -> np.ndarray:
        return np.repeat(panel.y[ends - 1][:, None], h, axis=1)


class SeasonalNaive(Forecaster):
    """Repeat each series' last season: the forecast for t is the value at t - season_length."""

    alias = "SeasonalNaive"
    _rules: ClassVar[dict[str, Rule]] = {"season_length": Rule(int, 1)}

    def __init__(self, season_length: int = 1) -> None:
        self.season_length = season_length

    def _context_length(self) -> int:
        return self.season_length

    def _context_what(self) -> str:
        return f"season_length {self.season_length}"

    def _fit(self, panel: Panel, steps: list[Any], callbacks: Sequence[Callback]) -> None:
        self._require_history(panel, self.season_length, self._context_what())

    def _forecast(self, panel: Panel, series: np.ndarray, ends: np.ndarray, h: int) -> np.ndarray:
        m = self.season_length
        return panel.y[ends[:, None] - m + (np.arange(h) % m)[None, :]]


@dataclass(frozen=True)
class _Resumed:
    seed: int
    done_weights: list[dict[str, torch.Tensor]]  # of the ensemble members already trained
    done_histories: list[History]
    state: TrainState  # of the member whose training was interrupted


class _Checkpointer(Callback):
    """Saves the model with the best weights so far, and the state to resume from, each epoch."""

    def __init__(
        self, model: LSTMForecaster, path: str | os.PathLike[str], member: int, fingerprint: str
    ) -> None:
        self.model, self.path, self.member, self.fingerprint = model, path, member, fingerprint

    def on_checkpoint(self, state: TrainState) -> None:
        from .io import Resumable, save_model

        done = self.model.networks_[: self.member]
        save_model(
            self.model,
            self.path,
            weights=[network.state_dict() for network in done] + [state.best_network],
            histories=[*self.model.histories_[: self.member], state.history],
            training=Resumable(self.member, self.fingerprint, state),
        )


def _lower_quantile(level: float) -> float:
    """The quantile at the bottom of a central interval of ``level`` percent: 80 -> 0.1."""
    return round((100 - level) / 200, 10)


def _windows_needed(level: float) -> int:
    """Fewest calibration scores n whose ceil((n + 1) L / 100)-th smallest exists (is <= n).

    n >= 100 / (100 - L) - 1: fewer give an unbounded split-conformal interval, and a quantile
    clipped to the largest score would make every such level the same width.
    """
    n = max(math.ceil(100 / (100 - level)) - 2, 1)
    while math.ceil((n + 1) * level / 100) > n:  # the rule _conformal_quantile applies
        n += 1
    return n


# Quantiles kept per horizon step for conformal intervals: every 0.1%.
CALIBRATION_GRID = 1001

# Input windows run through the network at once when forecasting: bounds memory for very many
# series.
FORECAST_CHUNK = 16384


def _sample_rows(errors: np.ndarray, seed: int) -> np.ndarray:
    """At most this rank's share of CALIBRATION_ROWS rows of ``errors``, drawn at random."""
    limit = CALIBRATION_ROWS // distributed.world_size()
    if len(errors) <= limit:
        return errors
    rng = np.random.default_rng([seed, distributed.rank()])
    return errors[np.sort(rng.choice(len(errors), limit, replace=False))]


# How far (in training standard deviations from the training mean) a value of new history may lie
# before predict warns. Standard-scaled training values lie within a few units (Chebyshev: at most
# 1% beyond 10), and a level that drifts on as it did in training stays within tens (a linear
# trend continued for ten times its training span ends about 36 out); data in other units (cents
# for dollars, grams for kilograms) lands at hundreds to thousands, where the network's inputs are
# far beyond anything it learned from.
FAR_FROM_TRAINING = 100.0

# Series named in one warning about values far from training; the count says how many in all.
_NAMED_SERIES = 3

# Validation scores gathered from all ranks for conformal calibration in sharded training: a
# random sample beyond this many (the quantiles of a million errors are steady to 0.1%).
CALIBRATION_ROWS = 1_000_000


class LSTMForecaster(Forecaster):
    """One global LSTM over all series: the last ``window`` values -> the next ``horizon``.

    Parameters
    ----------
    window : int
        Input length in time steps (lookback).
    horizon : int
        Steps the network emits at once (direct multi-output). ``predict(h)`` with ``h`` beyond
        it is recursive: each block of ``horizon`` forecasts is fed back as input for the next.
    hidden_size, num_layers, dropout :
        The LSTM's size, as in ``torch.nn.LSTM``; dropout acts between layers and before the head.
    epochs, batch_size, lr :
        Adam's training budget, batch and (peak) learning rate.
    val_size : int, float or None
        Validation tail of each training series (points, or a fraction of each series) whose
        windows are held out of training; the epoch with the lowest validation loss is kept.
    patience : int or None
        Stop after this many epochs without validation improvement (needs ``val_size``).
    scaler : "standard" or "none"
        Per-series scaling, fitted on the training part only (never the validation tail).
    window_norm : None, "revin" or "last"
        Normalise each input window by its own mean and standard deviation ("revin") or by its
        last value ("last"), and de-normalise the forecast: for series whose level drifts.
    segment : int
        Time steps per LSTM step: the window is cut into segments that a linear layer embeds,
        so the LSTM runs ``window / segment`` steps (must divide ``window``).
    calendar : tuple of "hour", "dayofweek", "dayofyear", or None
        Calendar features of each input step (sine and cosine of the phase); needs dates.
    loss : "mse" or "mae"
        Training loss on scaled values.
    lr_schedule : None, "cosine" or "onecycle"
        Learning-rate schedule over all training steps.
    grad_clip : float or None
        Maximum global gradient norm.
    forget_bias : float or None
        Initial forget-gate bias, the other biases starting at zero (1.0 is Keras's default);
        None keeps torch's initialisation.
    ensemble_size : int
        Networks trained with seeds ``seed, seed + 1, ...``; the forecast is their median.
    quantile_levels : tuple of interval levels in percent, or None
        Learn prediction intervals for these levels (e.g. ``(80, 95)``): quantile heads trained
        with the pinball loss (which then replaces ``loss``), ordered so they never cross; the
        point forecast is the learned median. Without it, ``predict(level=...)`` gives conformal
        intervals calibrated on the ``val_size`` tail; with both, the learned intervals are
        conformalized on that tail (widened or narrowed to hold their level there).
    season_length : int
        Seasonal period of the data (24 for hourly data with a daily cycle). Conformal
        corrections are measured in units of each input window's mean absolute seasonal
        difference, so intervals widen and narrow with each series' recent variability.
    random_state : int or None
        Seed of weights, shuffling and dropout: the same seed gives the same model.
    device : str or None
        ``"cpu"``, ``"cuda"``, ...; default CUDA when present.

    Multivariate data (a wide frame, say) is handled channel-independently: every column is a
    series of its own, all sharing the one network.

    Attributes
    ----------
    networks_ : list of LSTMNetwork, the trained networks (one unless ``ensemble_size`` > 1).
    network_ : LSTMNetwork, the first of them (the one ``explain`` traces).
    history_ : History of the first network; ``histories_`` holds all of them.
    scaler_ : SeriesScaler, per-series statistics from the training part.
    seed_ : int, the seed actually used.
    columns_ : dict, the ``id_col``, ``time_col`` and ``target_col`` fit was given (None: not
        given, found as the reader finds them): ``predict`` and ``explain`` read a long ``df`` by
        these names unless told others.
    layout_ : str or None, the layout the command line was told to read the training data in
        (``lstmcast train --layout``); ``forecast`` and ``inspect`` read ``--data`` in it.
    """

    alias = "LSTM"
    _fitted_attributes = ("tail_", "networks_")
    _rules: ClassVar[dict[str, Rule]] = {
        "window": Rule(int, 1),
        "horizon": Rule(int, 1),
        "hidden_size": Rule(int, 1),
        "num_layers": Rule(int, 1),
        "dropout": Rule((int, float), 0, 1, low_open=False),
        "epochs": Rule(int, 1),
        "batch_size": Rule(int, 1),
        "lr": Rule((int, float), 0, low_open=True),
        "val_size": Rule((int, float), 0, low_open=True, optional=True),
        "patience": Rule(int, 1, optional=True),
        "scaler": Rule(str, choices=SCALERS),
        "window_norm": Rule(str, choices=WINDOW_NORMS, optional=True),
        "segment": Rule(int, 1),
        "loss": Rule(str, choices=tuple(LOSSES)),
        "lr_schedule": Rule(str, choices=LR_SCHEDULES, optional=True),
        "grad_clip": Rule((int, float), 0, low_open=True, optional=True),
        "forget_bias": Rule((int, float), -10, 10, low_open=False, optional=True),
        "ensemble_size": Rule(int, 1),
        "season_length": Rule(int, 1),
        "random_state": Rule(int, 0, optional=True),
        "device": Rule(str, optional=True),
    }

    def __init__(
        self,
        window: int = 20,
        horizon: int = 1,
        hidden_size: int = 50,
        num_layers: int = 1,
        dropout: float = 0.0,
        epochs: int = 10,
        batch_size: int = 32,
        lr: float = 1e-3,
        val_size: int | float | None = None,
        patience: int | None = None,
        scaler: str = "standard",
        window_norm: str | None = None,
        segment: int = 1,
        calendar: tuple[str, ...] | None = None,
        loss: str = "mse",
        lr_schedule: str | None = None,
        grad_clip: float | None = None,
        forget_bias: float | None = None,
        ensemble_size: int = 1,
        quantile_levels: tuple[float, ...] | None = None,
        season_length: int = 1,
        random_state: int | None = None,
        device: str | None = None,
    ) -> None:
        self.window = window
        self.horizon = horizon
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.dropout = dropout
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.val_size = val_size
        self.patience = patience
        self.scaler = scaler
        self.window_norm = window_norm
        self.segment = segment
        self.calendar = calendar
        self.loss = loss
        self.lr_schedule = lr_schedule
        self.grad_clip = grad_clip
        self.forget_bias = forget_bias
        self.ensemble_size = ensemble_size
        self.quantile_levels = quantile_levels
        self.season_length = season_length
        self.random_state = random_state
        self.device = device

    def _context_length(self) -> int:
        return self.window

    def _default_h(self) -> int:
        return self.horizon

    def _panel_for(self, df: Any, **columns: str | None) -> tuple[Panel, list[Any]]:
        panel, steps = super()._panel_for(df, **columns)
        self._warn_far_from_training(panel)
        return panel, steps

    def _warn_far_from_training(self, panel: Panel) -> None:
        """Warn (DataWarning) when the last window of a series lies far from its training values.

        Measured in the series' training scale, ``|y - mean| / std``, against
        FAR_FROM_TRAINING; a model trained without scaling keeps no training statistics to
        measure by. Series the model does not know, and values beyond the float32 range that the
        forecast refuses (``_check_scaled``), are left to the forecast's own error.
        """
        if self.scaler == "none":
            return
        lookup = self.scaler_._lookup
        rows = np.array([lookup.get(series_id, -1) for series_id in panel.ids], dtype=np.int64)
        known = np.flatnonzero(rows >= 0)
        if len(known) == 0:
            return
        last = panel.tail(self.window)
        lengths = last.lengths[known]
        values = last.y[concatenated_ranges(last.starts[known], last.ends[known])]
        shift = np.repeat(self.scaler_.shift[rows[known]], lengths)
        scale = np.repeat(self.scaler_.scale[rows[known]], lengths)
        with np.errstate(over="ignore"):
            distance = np.abs(values - shift) / scale
        farthest = np.maximum.reduceat(distance, np.cumsum(lengths) - lengths)  # per series
        refused = ~(farthest <= np.finfo(np.float32).max)
        far = np.flatnonzero((farthest > FAR_FROM_TRAINING) & ~refused)
        if len(far) == 0:
            return
        named = ", ".join(
            f"{panel.ids[known[i]]!r} at {readable(farthest[i])}" for i in far[:_NAMED_SERIES]
        )
        more = f" (and {len(far) - _NAMED_SERIES} more)" if len(far) > _NAMED_SERIES else ""
        warnings.warn(
            f"{count(len(far), 'series', 'series')} {'has' if len(far) == 1 else 'have'} "
            f"values far outside what the model was trained on: {named}"
            f"{more} training standard deviations from the training mean (more than "
            f"{FAR_FROM_TRAINING:g}); the forecast extrapolates beyond anything the model saw: "
            "check the data's units and that these are the series it was trained on",
            DataWarning,
            stacklevel=4,
        )

    def _context_what(self) -> str:
        return f"window {self.window}"

    def _check_params(self) -> None:
        super()._check_params()
        if isinstance(self.val_size, float) and self.val_size >= 1:
            raise ConfigError(
                f"a fractional {setting('val_size')} must be below 1, got {self.val_size}"
            )
        if self.patience is not None and self.val_size is None:
            raise ConfigError(
                f"{setting('patience')} needs validation data: set {setting('val_size')} too"
            )
        # Only interval calibration (on the val_size tail) reads season_length: it measures
        # errors in units of each input window's seasonal differences.
        if self.val_size is not None and self.season_length >= self.window:
            raise ConfigError(
                f"{setting('season_length')} {self.season_length} must be shorter than "
                f"{setting('window')} {self.window} when {setting('val_size')} calibrates "
                "intervals (their unit is each input window's mean seasonal difference): use "
                f"{option('window', self.season_length + 1)} or more, or a "
                f"{setting('season_length')} below {self.window}"
            )
        if self.window % self.segment:
            raise ConfigError(
                f"{setting('segment')} {self.segment} must divide {setting('window')} "
                f"{self.window}; try "
                f"{option('window', self.window // self.segment * self.segment or self.segment)}"
            )
        if self.quantile_levels is not None:
            if isinstance(self.quantile_levels, int | float) or not self.quantile_levels:
                raise ConfigError(
                    f"{setting('quantile_levels')} must be a list of levels, e.g. (80, 95); got "
                    f"{self.quantile_levels!r}"
                )
            for level in self.quantile_levels:
                check_level("quantile_levels", level)
        names = self._calendar()
        if self.calendar is not None and (not names or any(n not in CALENDAR for n in names)):
            raise ConfigError(
                f"calendar must list some of {', '.join(CALENDAR)}; got {self.calendar!r}"
            )

    def _network_quantiles(self) -> tuple[float, ...]:
        """The quantiles the heads learn for ``quantile_levels`` (both ends of each interval)."""
        ends = {
            q
            for level in self.quantile_levels or ()
            for q in (_lower_quantile(level), 1 - _lower_quantile(level))
        }
        return tuple(sorted(ends))

    def _calendar(self) -> tuple[str, ...]:
        """The calendar feature names (a lone string counts as one name)."""
        if self.calendar is None:
            return ()
        return (self.calendar,) if isinstance(self.calendar, str) else tuple(self.calendar)

    def _validation_points(self, lengths: np.ndarray) -> np.ndarray:
        if self.val_size is None:
            return np.zeros_like(lengths)
        if isinstance(self.val_size, float):
            return np.rint(lengths * self.val_size).astype(np.int64)
        return np.full_like(lengths, self.val_size)

    def _inputs(self, scaled: np.ndarray, ds: np.ndarray, tz: str | None) -> torch.Tensor:
        """Network inputs (..., features) for scaled values and their times (...), target first.

        ``ds`` are naive UTC when ``tz`` is set: calendar features read the local clock.
        """
        columns = [scaled.astype(np.float32)[..., None]]
        if self._calendar():
            features = calendar_features(ds.reshape(-1), self._calendar(), tz)
            columns.append(features.reshape(*ds.shape, -1))
        return torch.from_numpy(np.concatenate(columns, axis=-1))

    def fit(
        self,
        df: Any,
        *,
        id_col: str | None = None,
        time_col: str | None = None,
        target_col: str | None = None,
        callbacks: Sequence[Callback] = (),
        checkpoint: str | os.PathLike[str] | None = None,
        resume: bool = False,
    ) -> LSTMForecaster:
        """Learn from every series in ``df`` (array, Series, wide or long frame); return self.

        Parameters
        ----------
        df : the training data.
        id_col, time_col, target_col : column names, as in :func:`lstmcast.to_long`.
        callbacks : :class:`~lstmcast.train.Callback` objects (progress bars, logging).
        checkpoint : directory where the best model so far is saved after every epoch, with the
            state needed to resume; it holds the finished model at the end. A run stopped by
            Ctrl-C (or a crash) loses at most one epoch.
        resume : continue the interrupted training saved at ``checkpoint`` (same data and
            settings; ``epochs`` may be raised) instead of starting over.

        Inside a ``torch.distributed`` process group, every rank calls ``fit`` and they train
        one model together (DistributedDataParallel): with the same ``df`` on every rank each
        takes its share of the windows; with each rank's own series, each trains on its own and
        keeps only its series (``save`` then writes one series file per rank; call it on every
        rank). ``batch_size`` is per rank. See docs/scaling.md.

        With ``checkpoint``, the directory is locked for the whole run (a second process training
        into it gets :class:`ModelFileError`), and one holding files lstmcast did not write is
        refused before training starts.
        """
        from .io import writing_model

        with writing_model(checkpoint):
            self._fit_data(
                df, id_col, time_col, target_col, callbacks, checkpoint=checkpoint, resume=resume
            )
        return self

    def _fit(
        self,
        panel: Panel,
        steps: list[Any],
        callbacks: Sequence[Callback],
        checkpoint: str | os.PathLike[str] | None = None,
        resume: bool = False,
    ) -> None:
        W, H = self.window, self.horizon
        n_val = self._validation_points(panel.lengths)
        if self.val_size is not None:
            n_val = np.maximum(n_val, H)  # a validation window needs a whole horizon of targets
        n_train = panel.lengths - n_val
        short = n_train < W + H
        if short.any():
            i = int(np.argmax(short))
            val_note = f" + validation {n_val[i]}" if self.val_size is not None else ""
            raise DataError(
                f"series {panel.ids[i]!r} has {points(panel.lengths[i])}; window {W} + horizon "
                f"{H}{val_note} needs at least {W + H + n_val[i]}"
            )
        device = pick_device(self.device)  # an absent device is refused before any work
        fingerprint = ""
        parallel = distributed.active()
        if checkpoint is not None or parallel:
            from .io import data_fingerprint

            fingerprint = data_fingerprint(panel)
        # In a process group: the same data on every rank, or each rank its own series?
        replicated, fingerprint = (
            distributed.all_same(fingerprint) if parallel else (True, fingerprint)
        )
        self.sharded_ = not replicated
        resumed = self._resumable(checkpoint, fingerprint) if resume else None
        self.seed_ = self.random_state if self.random_state is not None else secrets.randbits(62)
        self.seed_ = distributed.from_rank0(self.seed_)
        if resumed is not None:
            self.seed_ = resumed.seed
        self.scaler_ = SeriesScaler.fit(panel, n_train, self.scaler)
        with np.errstate(over="ignore"):  # refused just below, with the series named
            scaled = self.scaler_.transform(panel, np.arange(len(panel)))
        self._check_scaled(panel, scaled, np.arange(panel.starts[-1]))
        inputs = self._inputs(scaled, panel.ds, panel.tz)
        target = torch.tensor(scaled, dtype=torch.float32)

        def windows(first_target: np.ndarray, target_end: np.ndarray) -> Windows:
            starts = window_starts(panel, first_target, target_end, W, H)
            return Windows(inputs, target, torch.from_numpy(starts), W, H).to(device)

        train_windows = windows(np.full(len(panel), W), n_train)
        val_windows = windows(n_train, panel.lengths) if self.val_size is not None else None
        if val_windows is not None and self.quantile_levels:
            self._check_calibrated_quantiles(len(val_windows), len(panel))
        config = NetworkConfig(
            input_size=inputs.shape[1],
            hidden_size=self.hidden_size,
            num_layers=self.num_layers,
            dropout=float(self.dropout),
            horizon=H,
            segment=self.segment,
            window_norm=self.window_norm,
            quantiles=self._network_quantiles(),
            forget_bias=None if self.forget_bias is None else float(self.forget_bias),
        )
        train_config = TrainConfig(
            epochs=self.epochs,
            batch_size=self.batch_size,
            lr=float(self.lr),
            loss=self.loss,
            patience=self.patience,
            grad_clip=self.grad_clip,
            lr_schedule=self.lr_schedule,
        )
        # What forecasting (and so every checkpoint) needs, known before training starts.
        self._set_data(panel, steps)
        self.calibration_: np.ndarray | None = None  # set by _calibrate once training is done
        self.networks_: list[LSTMNetwork] = []
        self.histories_: list[History] = []
        first_member = 0
        if resumed is not None:
            for weights, history in zip(resumed.done_weights, resumed.done_histories, strict=True):
                network = LSTMNetwork(config).to(device)
                network.load_state_dict(weights)
                self.networks_.append(network.eval())
                self.histories_.append(history)
            first_member = len(self.networks_)
        for member in range(first_member, self.ensemble_size):
            seed = self.seed_ + member
            saver = []
            if checkpoint is not None:
                saver = [_Checkpointer(self, checkpoint, member, fingerprint)]
            # A private RNG stream: fitting neither depends on nor disturbs the caller's seed.
            cuda = [device.index or 0] if device.type == "cuda" else []
            with torch.random.fork_rng(devices=cuda):
                torch.manual_seed(seed)
                network = LSTMNetwork(config).to(device)
                self.networks_.append(network)
                self.histories_.append(
                    train(
                        network,
                        train_windows,
                        val_windows,
                        train_config,
                        generator=torch.Generator().manual_seed(seed),
                        callbacks=[*callbacks, *saver],
                        resume=resumed.state if resumed and member == first_member else None,
                        parallel=DataParallel(seed, replicated) if parallel else None,
                    )
                )
            if self.histories_[-1].interrupted:
                # Ctrl-C ends the whole ensemble; the last checkpoint on disk is the one to
                # resume from, so it is not overwritten.
                return
        self._calibrate(val_windows)
        self._check_finite(parallel)
        if checkpoint is not None:
            self.save(checkpoint)  # the finished model, without training state

    def _check_finite(self, parallel: bool) -> None:
        """Refuse the trained model if its forecast from the end of some series (or its
        interval calibration) is not finite: such a model must not be saved or used."""
        panel = self.tail_
        bad = np.zeros(len(panel), dtype=bool)
        if len(panel):
            values = self._forecast(panel, np.arange(len(panel)), panel.ends, self.horizon)
            bad = ~np.isfinite(values).all(axis=1)
        calibration = self.calibration_ is None or bool(np.isfinite(self.calibration_).all())
        failed = float(bad.any() or not calibration)
        if parallel:  # every rank refuses together, none goes on to save
            failed = distributed.sum_across([failed])[0]
        if not failed:
            return
        what = (
            f"forecasts series {panel.ids[int(np.argmax(bad))]!r} as NaN or infinity"
            if bad.any()
            else "has a NaN or infinite interval calibration"
        )
        raise TrainingError(
            f"the trained model {what}: it is not usable and is not saved; try a lower "
            f"learning rate than {option('lr', float(f'{self.lr:g}'))} or "
            f"{option('grad_clip', 1.0)}"
        )

    def _check_calibrated_quantiles(self, n_windows: int, n_series: int) -> None:
        """Refuse, before training, quantile levels the validation windows cannot calibrate:
        the model could never give those intervals (every predict would refuse them)."""
        n = int(distributed.sum_across([float(n_windows)])[0])
        n_series = int(distributed.sum_across([float(n_series)])[0])
        n = min(n, CALIBRATION_ROWS)
        short = [level for level in self.quantile_levels if _windows_needed(level) > n]
        if not short:
            return
        level = max(short)
        needed = _windows_needed(level)
        per_series = -(-needed // max(n_series, 1)) + self.horizon - 1
        raise ConfigError(
            f"{setting('quantile_levels')} {level_label(level)} needs at least "
            f"{count(needed, 'validation window')} to be calibrated, and "
            f"{option('val_size', self.val_size)} gives {n}: train with "
            f"{option('val_size', per_series)} or more (points per series), or a lower level"
        )

    @torch.no_grad()
    def _calibrate(self, val_windows: Windows | None) -> None:
        """Split-conformal calibration on the validation windows, per horizon step.

        The conformity scores, in per-series scaled units, are the point forecast's |error|, or
        with quantile heads how far each learned interval misses the actual value,
        ``max(lo - y, y - hi)`` (negative inside: conformalized quantile regression). They are
        divided by each window's mean absolute seasonal difference (``season_length``), and kept
        as 1001 quantiles per step, ``calibration_`` (intervals, 1001, horizon) with one row of
        intervals (|error|) or one per ``quantile_levels``, and their count.
        """
        if val_windows is None or len(val_windows) == 0:
            return
        scores = []
        for first in range(0, len(val_windows), 4096):
            index = torch.arange(first, min(first + 4096, len(val_windows)))
            x, y = val_windows.batch(index)
            scale = self._window_scale(x)[:, None]  # (B, 1)
            if self.quantile_levels:
                quantiles = self._quantile_forecast(x)  # (B, horizon, Q + 1)
                misses = []
                for level in self.quantile_levels:
                    low, high = self._interval_columns(level)
                    miss = torch.maximum(quantiles[..., low] - y, y - quantiles[..., high])
                    misses.append(miss / scale)
                block = torch.stack(misses, dim=1)  # (B, intervals, horizon)
            else:
                block = ((self._median_forecast(x) - y).abs() / scale)[:, None]
            scores.append(block.double().cpu())
        scores_np = torch.cat(scores).numpy()  # (n_val, intervals, horizon)
        if self.sharded_:  # every rank holds other windows: calibrate on all ranks' scores
            scores_np = np.concatenate(distributed.gather(_sample_rows(scores_np, self.seed_)))
        grid = np.linspace(0, 1, CALIBRATION_GRID)
        self.calibration_ = np.quantile(scores_np, grid, axis=0).transpose(1, 0, 2)
        self.calibration_size_ = len(scores_np)
        self.calibration_scale_ = "window"

    def _window_scale(self, x: torch.Tensor) -> torch.Tensor:
        """Each window's mean absolute seasonal difference, (B,), in scaled units.

        ``x`` (B, window, features) holds the scaled target first. The floor keeps a flat window's
        interval from collapsing to a point: 1e-3 of the series' standard deviation.
        """
        target = x[..., 0].double()
        m = self.season_length
        return (target[:, m:] - target[:, :-m]).abs().mean(dim=1) + 1e-3

    def _median_forecast(self, x: torch.Tensor) -> torch.Tensor:
        """One block of the horizon, (B, horizon): the network's, or the ensemble's median."""
        return self._ensemble(lambda network: network(x))

    def _quantile_forecast(self, x: torch.Tensor) -> torch.Tensor:
        """Every learned quantile, (B, horizon, Q + 1): the network's, or the ensemble's median."""
        return self._ensemble(lambda network: network.quantile_forecast(x))

    def _ensemble(self, output: Callable[[LSTMNetwork], torch.Tensor]) -> torch.Tensor:
        """``output`` of the one network in evaluation mode, or its median over the ensemble."""
        for network in self.networks_:
            network.eval()
        if len(self.networks_) == 1:
            return output(self.networks_[0])
        return torch.stack([output(network) for network in self.networks_]).quantile(0.5, dim=0)

    def _forecast_with_bounds(
        self, panel: Panel, series: np.ndarray, ends: np.ndarray, h: int, levels: list[float]
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        if not (levels and self.quantile_levels) or h > self.horizon:
            return super()._forecast_with_bounds(panel, series, ends, h, levels)
        # The point forecast is the quantile heads' median: one pass of the network gives both.
        x, rows = self._contexts(panel, series, ends)
        quantiles = self._scaled_quantiles(x, h)
        median = self._quantile_columns().index(0.5)
        values = self.scaler_.inverse(quantiles[..., median], rows)
        return values, self._bounds(panel, series, ends, values, levels, (x, rows, quantiles))

    def _bounds(
        self,
        panel: Panel,
        series: np.ndarray,
        ends: np.ndarray,
        values: np.ndarray,
        levels: list[float],
        context: tuple[torch.Tensor, np.ndarray, np.ndarray] | None = None,
    ) -> dict[str, np.ndarray]:
        """Interval bounds: conformal, learned, or learned and conformalized.

        ``context``: the input windows, scaler rows and scaled quantile forecasts of ``values``
        when the caller has them already (see :meth:`_contexts`, :meth:`_scaled_quantiles`).

        Without ``quantile_levels`` they are split-conformal: the forecast +- the
        ceil((n + 1) L / 100) / n quantile of the n validation |errors| of that step. With them
        they are the quantile heads' forecasts, widened (or narrowed) by the same quantile of
        the validation misses when the model has a ``val_size`` tail. Corrections are in units
        of each input window's seasonal variability (models saved by format 1: of each series'
        standard deviation). Only the ``horizon`` steps the network emits at
        once have intervals; wider levels always hold narrower ones.
        """
        levels = sorted(set(levels))  # each level's bounds are computed once
        if not levels:
            return {}
        h = values.shape[1]
        if h > self.horizon:
            raise ConfigError(
                f"intervals are calibrated for the {count(self.horizon, 'step')} the model emits "
                f"at once; {option('h', h)} is beyond them: train with {option('horizon', h)}"
            )
        calibrated = getattr(self, "calibration_", None) is not None
        if context is None:
            x, rows = self._contexts(panel, series, ends)  # the input windows, (k, window, F)
        else:
            x, rows = context[0], context[1]
        if self.quantile_levels:
            missing = [level for level in levels if level not in self.quantile_levels]
            if missing:
                raise ConfigError(
                    f"this model learned intervals for levels {list(self.quantile_levels)}, not "
                    f"[{', '.join(map(level_label, missing))}]; train it with those in "
                    f"{setting('quantile_levels')}"
                )
            quantiles = self._scaled_quantiles(x, h) if context is None else context[2]
            lows, highs = self._learned_bounds(quantiles, rows, levels)
        elif calibrated:
            lows, highs = {}, {}
        else:
            raise ConfigError(
                f"this model was trained without {setting('val_size')}, so it has no calibrated "
                f"intervals; train it with {setting('val_size')} (the intervals are calibrated on "
                f"that validation tail) or {setting('quantile_levels')}"
            )
        if calibrated:
            scale = self.scaler_.scale[rows][:, None]  # (k, 1)
            if self.calibration_scale_ == "window":
                scale = scale * self._window_scale(x).cpu().numpy()[:, None]
            for level in levels:
                row = self.quantile_levels.index(level) if self.quantile_levels else 0
                correction = self._conformal_quantile(row, level, h)[None, :] * scale  # (k, h)
                # A negative correction narrows an interval, but never past the point forecast.
                # Each bound is built from the learned one (or the point forecast), not updated
                # in place, so nothing is applied twice.
                lows[level] = np.minimum(lows.get(level, values) - correction, values)
                highs[level] = np.maximum(highs.get(level, values) + correction, values)
        for narrower, level in itertools.pairwise(levels):  # nested: 95% holds the 80% one
            lows[level] = np.minimum(lows[level], lows[narrower])
            highs[level] = np.maximum(highs[level], highs[narrower])
        bounds = {}
        for level in levels:
            bounds[interval_column(self.alias, "lo", level)] = lows[level]
            bounds[interval_column(self.alias, "hi", level)] = highs[level]
        return bounds

    def _check_levels(self, level: Sequence[float] | None, h: int) -> list[float]:
        """The levels, refusing any that the conformal calibration cannot support."""
        levels = super()._check_levels(level, h)
        if not levels or getattr(self, "calibration_", None) is None:
            return levels
        n = self.calibration_size_
        short = [value for value in levels if _windows_needed(value) > n]
        if short:
            level, needed = short[-1], _windows_needed(short[-1])
            # Validation windows per series: the tail's points minus the horizon, plus one.
            per_series = -(-needed // max(self.n_series_, 1))
            raise ConfigError(
                f"a {level_label(level)}% interval needs at least "
                f"{count(needed, 'validation window')} to be calibrated (split conformal), and "
                f"this model was calibrated on {n}: train it with "
                f"{option('val_size', per_series + self.horizon - 1)} or more (points per "
                "series), or ask for a lower level"
            )
        return levels

    def _conformal_quantile(self, row: int, level: float, h: int) -> np.ndarray:
        """The ceil((n + 1) L / 100) / n quantile of calibration row ``row``'s scores, (h,)."""
        n = self.calibration_size_
        probability = min(1.0, np.ceil((n + 1) * level / 100) / n)
        grid = np.linspace(0, 1, CALIBRATION_GRID)
        scores = self.calibration_[row]  # (1001, horizon)
        return np.array([np.interp(probability, grid, scores[:, step]) for step in range(h)])

    def _quantile_columns(self) -> list[float]:
        """The quantile of each column of a quantile forecast: the learned ones and the median."""
        return sorted([*self.networks_[0].config.quantiles, 0.5])

    def _interval_columns(self, level: float) -> tuple[int, int]:
        """Columns of the lower and upper quantile of ``level`` in a quantile forecast."""
        columns = self._quantile_columns()
        low = columns.index(_lower_quantile(level))
        return low, len(columns) - 1 - low

    @torch.no_grad()
    def _scaled_quantiles(self, x: torch.Tensor, h: int) -> np.ndarray:
        """Every learned quantile of windows ``x``, in scaled units: (k, h, Q + 1), ascending."""
        chunks = [self._quantile_forecast(chunk) for chunk in x.split(FORECAST_CHUNK)]
        return torch.cat(chunks).double().cpu().numpy()[:, :h]

    def _learned_bounds(
        self, forecast: np.ndarray, rows: np.ndarray, levels: list[float]
    ) -> tuple[dict[float, np.ndarray], dict[float, np.ndarray]]:
        """Bounds per level (k, h each, series units) from scaled quantiles ``forecast``."""
        lows, highs = {}, {}
        for level in levels:
            low, high = self._interval_columns(level)
            lows[level] = self.scaler_.inverse(forecast[..., low], rows)
            highs[level] = self.scaler_.inverse(forecast[..., high], rows)
        return lows, highs

    def _resumable(self, checkpoint: str | os.PathLike[str] | None, fingerprint: str) -> _Resumed:
        """Read what an interrupted run saved at ``checkpoint``, refusing a mismatch.

        ``fingerprint`` is that of the data to train on (see ``io.data_fingerprint``).
        """
        from .io import read_model, read_training_state, tensors_with_prefix

        if checkpoint is None:
            raise ConfigError("resume needs the checkpoint directory of the interrupted run")
        config, tensors = read_model(checkpoint)
        training = read_training_state(checkpoint)
        if training is None:
            raise ConfigError(
                f"{str(checkpoint)!r} holds a finished model, not an interrupted training; "
                f"train without {option('resume', True)} to start over"
            )
        saved = config["params"]
        for name, value in self.get_params().items():
            ours = list(value) if isinstance(value, tuple) else value
            if name not in ("epochs", "patience") and saved.get(name) != ours:
                raise ConfigError(
                    f"the interrupted run used {spelled(name, saved.get(name))}, this model "
                    f"has {spelled(name, ours)}; resume with the same settings (only "
                    f"{setting('epochs')} and {setting('patience')} may change)"
                )
        if self.lr_schedule is not None and saved.get("epochs") != self.epochs:
            raise ConfigError(
                f"the interrupted run planned its {setting('lr_schedule')} over "
                f"{saved.get('epochs')} epochs; resume it with the same {setting('epochs')}"
            )
        if training.fingerprint != fingerprint:
            raise DataError(
                "the data differs from the data the interrupted run was trained on; resume "
                f"with the same data, or train without {option('resume', True)}"
            )
        done = range(training.member)
        return _Resumed(
            seed=config["seed"],
            done_weights=[tensors_with_prefix(tensors, f"network.{m}.") for m in done],
            done_histories=[History(**config["histories"][m]) for m in done],
            state=training.state,
        )

    @property
    def network_(self) -> LSTMNetwork:
        if not getattr(self, "networks_", None):
            self._check_fitted()
        return self.networks_[0]

    @property
    def history_(self) -> History:
        if not getattr(self, "histories_", None):
            self._check_fitted()
        return self.histories_[0]

    def _check_scaled(self, panel: Panel, scaled: np.ndarray, index: np.ndarray) -> None:
        """Refuse scaled values (any shape) of panel rows ``index`` beyond float32's range.

        The network computes in float32 (largest 3.4e38): a value that far from its series'
        training statistics would become infinite, and the loss or forecast NaN.
        """
        beyond = ~(np.abs(scaled) <= np.finfo(np.float32).max)
        if not beyond.any():
            return
        first = int(np.argmax(beyond.reshape(-1)))
        row = int(index.reshape(-1)[first])
        i = int(np.searchsorted(panel.starts, row, side="right")) - 1
        where = f"series {panel.ids[i]!r} has {panel.y[row]:.3g} at {_show_time(panel.ds[row])}"
        if self.scaler == "none":
            raise DataError(
                f"{where}, beyond the float32 numbers (up to 3.4e38) the network computes with; "
                f"use {option('scaler', 'standard')}, which scales each series"
            )
        raise DataError(
            f"{where}, {np.abs(scaled).reshape(-1)[first]:.3g} times its scale away from its "
            "level (both from its training part): beyond the float32 numbers the network "
            "computes with; train on data where the series varies like this, or rescale it"
        )

    def _contexts(
        self, panel: Panel, series: np.ndarray, ends: np.ndarray
    ) -> tuple[torch.Tensor, np.ndarray]:
        """Input windows (k, window, features) ending before rows ``ends``, and scaler rows (k,)."""
        rows = self.scaler_.rows_of(panel.ids)[series]
        # Only the rows inside the windows are scaled: forecasting 10,000 long series reads
        # 10,000 windows, not every point.
        index = ends[:, None] - self.window + np.arange(self.window)[None, :]  # (k, window)
        shift, scale = self.scaler_.shift[rows, None], self.scaler_.scale[rows, None]
        with np.errstate(over="ignore"):  # refused just below, with the series named
            scaled = (panel.y[index] - shift) / scale
        self._check_scaled(panel, scaled, index)
        device = next(self.networks_[0].parameters()).device
        return self._inputs(scaled, panel.ds[index], panel.tz).to(device), rows

    @torch.no_grad()
    def _forecast(self, panel: Panel, series: np.ndarray, ends: np.ndarray, h: int) -> np.ndarray:
        if self._calendar() and h > self.horizon:
            raise ConfigError(
                f"{option('h', h)} is beyond the model's horizon {self.horizon}, and a model with "
                "calendar "
                f"features cannot feed its forecasts back; train with {option('horizon', h)}"
            )
        x, rows = self._contexts(panel, series, ends)
        # Written in place, block by block: a long recursive forecast keeps no list of blocks.
        scaled = np.empty((len(x), h))
        for first, chunk in zip(itertools.count(0, FORECAST_CHUNK), x.split(FORECAST_CHUNK)):
            out = scaled[first : first + len(chunk)]
            for done in range(0, h, self.horizon):
                block = self._median_forecast(chunk)  # (B, horizon)
                out[:, done : done + self.horizon] = block[:, : h - done].double().cpu().numpy()
                if done + self.horizon < h:  # recursive: forecasts become the newest inputs
                    chunk = torch.cat([chunk, block[..., None]], dim=1)[:, -self.window :]
        return self.scaler_.inverse(scaled, rows)

    def explain(
        self,
        df: Any = None,
        series: str | Sequence[str] | None = None,
        *,
        id_col: str | None = None,
        time_col: str | None = None,
        target_col: str | None = None,
    ) -> GateTrace:
        """Gate activations and states on each series' last window (training data by default).

        ``series``: the id (or ids) of the series to trace; default all of them. ``id_col``,
        ``time_col``, ``target_col``: column names of a long ``df``, as in :meth:`predict`.

        Returns a :class:`GateTrace` of the first network, shaped (num_layers, n_series, steps,
        hidden_size), series in the order of ``series``, else of ``df`` (or of training);
        ``steps`` is ``window / segment``.
        """
        self._check_fitted()
        if df is None:
            panel = self.tail_
        else:
            names = {"id_col": id_col, "time_col": time_col, "target_col": target_col}
            panel = self._panel_for(df, **names)[0]
        self._require_history(panel, self.window, self._context_what())
        chosen = np.arange(len(panel))
        if series is not None:
            # Tracing keeps every gate of every step: only the series asked for.
            position = {str(name): i for i, name in enumerate(panel.ids)}
            wanted = [series] if isinstance(series, str) else list(series)
            missing = [name for name in wanted if name not in position]
            if missing:
                raise DataError(
                    f"series {missing[0]!r} not found; there are {len(panel)} series: "
                    + ", ".join(repr(str(i)) for i in panel.ids[:5])
                    + (", ..." if len(panel) > 5 else "")
                )
            chosen = np.array([position[name] for name in wanted], dtype=np.int64)
        x, _ = self._contexts(panel, chosen, panel.ends[chosen])
        with torch.no_grad():
            _, gates = self.network_.trace(x)
        return gates.detach()

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the fitted model to directory ``path`` (config.json + weights.safetensors).

        An lstmcast model there is replaced; a directory holding other files is refused.
        """
        from .io import save_model

        self._check_fitted()
        save_model(self, path)
