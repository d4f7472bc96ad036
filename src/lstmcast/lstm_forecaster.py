"""The LSTM forecaster: one global network over all series, with intervals and checkpoints.

Where it sits: it drives the whole chain for the LSTM, input frame (``data.Panel``) -> windows
(``windows``) -> network (``model``, trained by ``train``) -> forecast (``predict``), keeping what
fit learns in a :class:`~lstmcast.fitted.FittedState`. Intervals are computed by ``intervals``,
checkpoints by ``checkpoint``, files by ``io`` (which never imports this module); the shared
verbs (predict, backtest) come from :class:`~lstmcast.forecast.Forecaster`.
"""

from __future__ import annotations

import functools
import itertools
import os
import secrets
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from . import distributed
from .checkpoint import Checkpointer, Resumable, Resumed, data_fingerprint, resumable
from .checks import Rule, check_level
from .data import Panel
from .devices import pick_device
from .distributed import DataParallel
from .errors import ConfigError, DataError, TrainingError, option, points, setting
from .fitted import FittedState, StateField, StateSpec
from .forecast import Forecaster
from .intervals import (
    bounds,
    calibrate,
    check_calibrated_quantiles,
    check_interval_request,
    check_supported_levels,
    learned_bounds,
    network_quantiles,
    quantile_columns,
)
from .io import read_state, reading_model, save_state, saved_settings
from .lstm import GateTrace
from .model import WINDOW_NORMS, LSTMNetwork, NetworkConfig
from .modeldir import read_model
from .train import LOSSES, LR_SCHEDULES, Callback, History, TrainConfig, TrainState, train
from .training_range import check_scaled, warn_far_from_training
from .windows import CALENDAR, SCALERS, SeriesScaler, Windows, calendar_features, window_starts

# Input windows run through the network at once when forecasting: bounds memory for very many
# series.
FORECAST_CHUNK = 16384


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

    # The fitted attributes: fields of the FittedState that fit (or load) gives the model.
    networks_ = StateField()
    histories_ = StateField()
    scaler_ = StateField()
    tail_ = StateField()
    steps_ = StateField()
    columns_ = StateField()
    seed_ = StateField()
    sharded_ = StateField()
    calibration_ = StateField()
    calibration_size_ = StateField()
    calibration_scale_ = StateField()

    @property
    def layout_(self) -> str | None:
        # Set by the command line before fit (which keeps it), so it exists without a state.
        state = self.__dict__.get("_state")
        if state is not None:
            return state.layout
        if "_layout" in self.__dict__:
            return self.__dict__["_layout"]
        raise AttributeError("layout_")

    @layout_.setter
    def layout_(self, layout: str | None) -> None:
        self.__dict__["_layout"] = layout
        if self.__dict__.get("_state") is not None:
            self._state.layout = layout

    @property
    def n_series_(self) -> int:
        if self.__dict__.get("_state") is None:
            raise AttributeError("n_series_")
        return self._state.n_series

    def _context_length(self) -> int:
        return self.window

    def _default_h(self) -> int:
        return self.horizon

    def _panel_for(self, df: Any, **columns: str | None) -> tuple[Panel, list[Any]]:
        panel, steps = super()._panel_for(df, **columns)
        if self.scaler != "none":  # a model trained without scaling keeps no statistics
            warn_far_from_training(panel, self.scaler_, self.window)
        return panel, steps

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
        return network_quantiles(self.quantile_levels)

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
        columns: dict[str, str | None],
        callbacks: Sequence[Callback],
        checkpoint: str | os.PathLike[str] | None = None,
        resume: bool = False,
    ) -> None:
        """Train on ``panel``: split, scale, window, train each member, calibrate, check, save.

        The collective steps (fingerprint, seed, calibration checks) run in the same order on
        every rank of a process group.
        """
        n_train = self._training_points(panel)
        device = pick_device(self.device)  # an absent device is refused before any work
        parallel = distributed.active()
        fingerprint = ""
        if checkpoint is not None or parallel:
            fingerprint = data_fingerprint(panel)
        # In a process group: the same data on every rank, or each rank its own series?
        replicated, fingerprint = (
            distributed.all_same(fingerprint) if parallel else (True, fingerprint)
        )
        resumed = resumable(checkpoint, fingerprint, self.get_params()) if resume else None
        seed = self.random_state if self.random_state is not None else secrets.randbits(62)
        seed = distributed.from_rank0(seed)
        if resumed is not None:
            seed = resumed.seed
        scaler = SeriesScaler.fit(panel, n_train, self.scaler)
        train_windows, val_windows, input_size = self._windows(panel, scaler, n_train, device)
        if val_windows is not None and self.quantile_levels:
            check_calibrated_quantiles(
                self.quantile_levels, len(val_windows), len(panel), self.horizon, self.val_size
            )
        config = self._network_config(input_size)
        # What forecasting (and so every checkpoint) needs, known before training starts.
        self._state = FittedState(
            networks=[],
            histories=[],
            scaler=scaler,
            tail=panel.tail(self.window),
            steps=steps,
            columns=columns,
            seed=seed,
            layout=getattr(self, "layout_", None),  # not learned: kept across fits
            sharded=not replicated,
        )
        self.__dict__.pop("_step_of", None)  # of the series fitted before
        if not self._train_members(
            config, train_windows, val_windows, device, callbacks, resumed,
            checkpoint, fingerprint, replicated if parallel else None,
        ):  # fmt: skip
            return  # interrupted: the last checkpoint on disk is the one to resume from
        self._calibrate(val_windows)
        self._check_finite(parallel)
        if checkpoint is not None:
            self.save(checkpoint)  # the finished model, without training state

    def _training_points(self, panel: Panel) -> np.ndarray:
        """Points of each series (n,) to train on; the rest (val_size) validates."""
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
        return n_train

    def _windows(
        self, panel: Panel, scaler: SeriesScaler, n_train: np.ndarray, device: torch.device
    ) -> tuple[Windows, Windows | None, int]:
        """Training and validation windows on ``device``, and the network's input features."""
        W, H = self.window, self.horizon
        with np.errstate(over="ignore"):  # refused just below, with the series named
            scaled = scaler.transform(panel, np.arange(len(panel)))
        check_scaled(panel, scaled, np.arange(panel.starts[-1]), self.scaler)
        inputs = self._inputs(scaled, panel.ds, panel.tz)
        target = torch.tensor(scaled, dtype=torch.float32)

        def windows(first_target: np.ndarray, target_end: np.ndarray) -> Windows:
            starts = window_starts(panel, first_target, target_end, W, H)
            return Windows(inputs, target, torch.from_numpy(starts), W, H).to(device)

        train_windows = windows(np.full(len(panel), W), n_train)
        val_windows = windows(n_train, panel.lengths) if self.val_size is not None else None
        return train_windows, val_windows, inputs.shape[1]

    def _network_config(self, input_size: int) -> NetworkConfig:
        return NetworkConfig(
            input_size=input_size,
            hidden_size=self.hidden_size,
            num_layers=self.num_layers,
            dropout=float(self.dropout),
            horizon=self.horizon,
            segment=self.segment,
            window_norm=self.window_norm,
            quantiles=self._network_quantiles(),
            forget_bias=None if self.forget_bias is None else float(self.forget_bias),
        )

    def _train_members(
        self,
        config: NetworkConfig,
        train_windows: Windows,
        val_windows: Windows | None,
        device: torch.device,
        callbacks: Sequence[Callback],
        resumed: Resumed | None,
        checkpoint: str | os.PathLike[str] | None,
        fingerprint: str,
        replicated: bool | None,
    ) -> bool:
        """Train the ensemble members not done yet (seeds ``seed_ + member``) into the state;
        False when Ctrl-C interrupted one (which ends the whole ensemble). ``replicated``: in a
        process group, whether every rank holds the same data (None: no process group)."""
        train_config = TrainConfig(
            epochs=self.epochs,
            batch_size=self.batch_size,
            lr=float(self.lr),
            loss=self.loss,
            patience=self.patience,
            grad_clip=self.grad_clip,
            lr_schedule=self.lr_schedule,
        )
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
                save = functools.partial(self._save_checkpoint, checkpoint, member, fingerprint)
                saver = [Checkpointer(save)]
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
                        parallel=None if replicated is None else DataParallel(seed, replicated),
                    )
                )
            if self.histories_[-1].interrupted:
                return False
        return True

    def _save_checkpoint(
        self, path: str | os.PathLike[str], member: int, fingerprint: str, state: TrainState
    ) -> None:
        """Save the members done, the best weights so far of ``member``, and ``state``."""
        done = self.networks_[:member]
        save_state(
            path,
            type(self).__name__,
            self.get_params(),
            self._state,
            weights=[network.state_dict() for network in done] + [state.best_network],
            histories=[*self.histories_[:member], state.history],
            training=Resumable(member, fingerprint, state),
        )

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

    def _calibrate(self, val_windows: Windows | None) -> None:
        """Split-conformal calibration on the validation windows (see intervals.calibrate)."""
        if val_windows is None or len(val_windows) == 0:
            return
        self.calibration_, self.calibration_size_ = calibrate(
            val_windows,
            self._median_forecast,
            self._quantile_forecast,
            self._window_scale,
            self.quantile_levels,
            self._network_quantiles(),
            self.sharded_,
            self.seed_,
        )
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
        median = quantile_columns(self._network_quantiles()).index(0.5)
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
        """Interval bounds: conformal, learned, or learned and conformalized (intervals.bounds).

        ``context``: the input windows, scaler rows and scaled quantile forecasts of ``values``
        when the caller has them already (see :meth:`_contexts`, :meth:`_scaled_quantiles`).
        Only the ``horizon`` steps the network emits at once have intervals.
        """
        levels = sorted(set(levels))  # each level's bounds are computed once
        if not levels:
            return {}
        h = values.shape[1]
        calibrated = getattr(self, "calibration_", None) is not None
        check_interval_request(levels, h, self.horizon, self.quantile_levels, calibrated)
        if context is None:
            x, rows = self._contexts(panel, series, ends)  # the input windows, (k, window, F)
        else:
            x, rows = context[0], context[1]
        learned = None
        if self.quantile_levels:
            quantiles = self._scaled_quantiles(x, h) if context is None else context[2]
            inverse = functools.partial(self.scaler_.inverse, rows=rows)
            learned = learned_bounds(quantiles, self._network_quantiles(), levels, inverse)

        def unit() -> np.ndarray:
            """Series units per score, (k, 1): the series' scale, times the window's."""
            scale = self.scaler_.scale[rows][:, None]
            if self.calibration_scale_ == "window":
                scale = scale * self._window_scale(x).cpu().numpy()[:, None]
            return scale

        calibration = (self.calibration_, self.calibration_size_) if calibrated else None
        return bounds(self.alias, values, levels, learned, calibration, self.quantile_levels, unit)

    def _check_levels(self, level: Sequence[float] | None, h: int) -> list[float]:
        """The levels, refusing any that the conformal calibration cannot support."""
        levels = super()._check_levels(level, h)
        if levels and getattr(self, "calibration_", None) is not None:
            check_supported_levels(levels, self.calibration_size_, self.n_series_, self.horizon)
        return levels

    @torch.no_grad()
    def _scaled_quantiles(self, x: torch.Tensor, h: int) -> np.ndarray:
        """Every learned quantile of windows ``x``, in scaled units: (k, h, Q + 1), ascending."""
        chunks = [self._quantile_forecast(chunk) for chunk in x.split(FORECAST_CHUNK)]
        return torch.cat(chunks).double().cpu().numpy()[:, :h]

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
        check_scaled(panel, scaled, index, self.scaler)
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
        self._check_fitted()
        save_state(path, type(self).__name__, self.get_params(), self._state)

    def _state_spec(self) -> StateSpec:
        """What these settings fix about a fitted state (checked when a model is loaded)."""
        return StateSpec(
            network={
                "horizon": self.horizon,
                "hidden_size": self.hidden_size,
                "num_layers": self.num_layers,
                "segment": self.segment,
                "window_norm": self.window_norm,
                "input_size": 1 + 2 * len(self._calendar()),
                "quantiles": self._network_quantiles(),
            },
            window=self.window,
            horizon=self.horizon,
            ensemble_size=self.ensemble_size,
            intervals=len(self.quantile_levels) if self.quantile_levels else 1,
            device=self.device,
        )


def load(path: str | os.PathLike[str], part: tuple[int, int] | None = None) -> LSTMForecaster:
    """Load a model saved with ``LSTMForecaster.save``; it forecasts exactly as when saved.

    Every part of the directory is checked against the others before anything is built, so a
    damaged or doctored model is refused with :class:`ModelFileError` rather than failing later.
    ``part=(k, n)`` keeps only the k-th of n shares of the series (sharded forecasting): series
    files k, k + n, ... of a model trained on sharded data, else the k-th of n even blocks.
    """
    config, tensors = read_model(path)
    with reading_model(path):
        model = LSTMForecaster(**saved_settings(config, LSTMForecaster.__name__))
        model._check_params()  # settings edited by hand are refused like bad arguments
        model._state = read_state(config, tensors, Path(path), model._state_spec(), part)
    return model
