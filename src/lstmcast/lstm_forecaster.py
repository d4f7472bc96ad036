"""The LSTM forecaster: one global network over all series, with intervals and checkpoints.

Where it sits: it drives the whole chain for the LSTM, input frame (``data.Panel``) -> windows
(``windows``) -> network (``model``, trained by ``train``) -> forecast (``predict``), keeping what
fit learns in a :class:`~lstmcast.fitted.FittedState`. Inputs are read by ``lstm_inputs``,
intervals computed by ``intervals``, checkpoints by ``checkpoint``, files by ``io`` (which never
imports this module); the shared verbs (predict, backtest) come from
:class:`~lstmcast.forecast.Forecaster`.
"""

from __future__ import annotations

import functools
import os
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch

from . import distributed
from .audit import warn_on_leakage
from .card import chain_step, training_data
from .checkpoint import Resumable, data_fingerprint, resumable
from .checks import Rule
from .covariates import CovariateScaler, merge_static, spec_of
from .data import Panel
from .devices import pick_device
from .diagnostics import validation_diagnostics
from .fitted import FittedState, StateField, StateSpec, state_spec
from .fitting import (
    check_finite,
    fit_windows,
    network_config,
    scaled_points,
    train_config,
    train_members,
    training_points,
)
from .forecast import Forecaster
from .forecasting import refuse_recursion, scaled_forecast
from .interval_forecasts import IntervalForecasts
from .intervals import check_calibrated_quantiles
from .io import read_state, reading_model, save_state, saved_settings
from .lstm import GateTrace
from .lstm_inputs import LSTMInputs
from .model import LSTMNetwork
from .modeldir import read_model
from .recipe import CHOSEN, resolve
from .settings import AUTO, RULES, TRAINING_SETTINGS, check_together, is_auto
from .train import Callback, History, TrainState, notify
from .updating import Updatable
from .windows import SeriesScaler

if TYPE_CHECKING:
    from .export import OnnxContract


class LSTMForecaster(LSTMInputs, Updatable, IntervalForecasts, Forecaster):
    """One global LSTM over all series: the last ``window`` values -> the next ``horizon``.

    Every setting marked "auto" (the default) is chosen from the data at ``fit`` by
    :mod:`lstmcast.recipe` unless given: the season from the time step, a window of whole
    seasons, the horizon, a validation tail, MAE, RevIN, a one-cycle schedule and a 5-minute
    time budget (``recipe_`` says why, ``settings_`` holds every value used, ``plan(df)``
    shows them without training). ``recipe="tutorial"`` takes the tutorial's values instead.

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
    time_budget : float or None
        Seconds of training for the whole fit, all members together (each an equal share of what
        those before left); training stops between epochs when another as long as the longest
        would not fit, keeping the best weights, and ``history_.stopped`` says "budget".
    val_size, val_at : int, float or None; "end" or "start"
        Validation points of each series (a count or a fraction), held out of training: its last
        (the epoch best on them is kept) or, "start", those after its first window (they only
        calibrate intervals: the last epoch is kept, training keeps the latest points).
    patience : int or None
        Stop after this many epochs without validation improvement (needs ``val_size``).
    scaler : "standard" or "none"
        Per-series scaling, fitted on the training part only (never the validation tail).
    target_transform : None, "log" or "auto"
        "log": the network (its scaling, windows, loss, early stopping and interval
        calibration) works on ``log(y)``, and forecasts and interval bounds are ``exp``'d back
        to the data's units. For positive data whose errors matter relative to its level
        (sales, traffic); every observed value must be above 0 (a DataError names the first
        that is not). None: the values as they are. "auto": "log" when every observed training
        value is above 0 and the spread grows with the level (the median over series of
        Guerrero's lambda at most 0.25; then a value <= 0 in later data is read as its series'
        smallest above 0, with a DataWarning), None otherwise; None with ``recipe="tutorial"``.
    window_norm : None, "revin" or "last"
        Normalise each input window by its own mean and standard deviation ("revin") or by its
        last value ("last"), and de-normalise the forecast: for series whose level drifts.
    baseline : None or "seasonal"
        "seasonal": the network forecasts the correction to each window's seasonal naive
        forecast (its last ``season_length`` values repeated; season 1: its last value), and
        starts from a zero correction. Not chosen by the recipe (worse on validation:
        benchmarks/RESULTS.md).
    segment : int
        Time steps per LSTM step: the window is cut into segments that a linear layer embeds,
        so the LSTM runs ``window / segment`` steps (must divide ``window``).
    decoder : "linear" or "segments"
        One linear head over the whole horizon, or (with ``segment`` > 1) one more LSTM step
        per output segment of ``segment`` steps, all in parallel (:mod:`lstmcast.model`).
    calendar : tuple of "hour", "dayofweek", "dayofyear", or None
        Calendar features of each input step (sine and cosine of the phase); needs dates.
    futr_cols, hist_cols : tuple of column names, or None
        Covariates of a long ``df``: future-known columns (known for every step of the horizon;
        ``predict`` takes them from ``futr_df``) and past-only ones (never read after the
        forecast origin). Scaled per series from the training part; see docs/covariates.md.
    static_cols : tuple of column names, or None
        Per-series covariates of a long ``df``: numbers (standardised across series) or categories
        (embedded; unseen: "unknown"); ``predict`` uses the saved ones unless ``df`` holds them.
    covariate_missing : "error", "ffill" or "zero"
        A missing covariate value is an error naming it, or is the series' last value, or 0.
    missing, fill_gaps : "error", "interpolate", "ffill" or "mask"; bool
        Missing target values, and with ``fill_gaps`` missing times: :mod:`lstmcast.missing`.
    loss, lr_schedule, grad_clip : "mse" or "mae"; None, "cosine" or "onecycle"; float or None
        Training loss on scaled values; learning-rate schedule over all training steps (stepped
        per batch); maximum global gradient norm.
    forget_bias : float, None or "auto"
        Initial forget-gate bias, the other biases starting at zero (1.0 is Keras's default);
        None keeps torch's initialisation. "auto": 1.0 with ``recipe="tutorial"`` (the
        tutorial's Keras LSTM), None otherwise.
    ensemble_size, ensemble_combine : int; "median" or "mean"
        Networks trained with seeds ``seed, seed + 1, ...``; the forecast (every quantile of it
        with quantile heads) is their mean (the default: it averages more of their noise away,
        lower error on ETTh1 and M4 Hourly's validation data) or their median, robust to one
        network gone astray.
    quantile_levels, quantile_training : tuple of levels in percent, or None; "joint" or "separate"
        Learn intervals for these levels (e.g. ``(80, 95)``) with quantile heads that never cross,
        the median being the point forecast: all on the pinball loss ("joint"), or the median on
        ``loss`` as without heads, the others through their own head ("separate"). ``val_size``
        calibrates ``predict(level=...)`` intervals: conformal, or the learned ones conformalized.
    median_weight : float
        With quantile heads, the median's loss term counts this many times each other one's.
    interval_scale : None or "seasonal"
        The unit of the quantile heads' other quantiles (the interval bounds) in the loss: None,
        the median's; "seasonal", each input window's mean absolute seasonal difference
        (``season_length``), the unit of the conformal corrections and of MSIS, so intervals
        are fitted as MSIS scores them while the median keeps its own unit.
    season_length : int
        Seasonal period of the data (24 for hourly data with a daily cycle). Conformal
        corrections are measured in units of each input window's mean absolute seasonal
        difference, so intervals widen and narrow with each series' recent variability.
    recipe : "auto" or "tutorial"
        Where the settings left "auto" come from: the data, or the tutorial (window 20,
        horizon 1, LSTM(50), MSE, 10 epochs of batch 32, no validation).
    random_state : int or None
        Seed of weights, shuffling and dropout: the same seed gives the same model.
    device : str or None
        ``"cpu"``, ``"cuda"``, ...; default CUDA when present.
    precision : "auto", "fp32" or "bf16"
        The LSTM's matrix products in float32 or bfloat16 where the machine has it natively
        (:mod:`lstmcast.precision`; "auto": bfloat16 only where native and measured as accurate).

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
    diagnostics_ : sanity alarms on the validation tail, beside the naive forecasts (``.summary()``
        one line, ``.series`` per series; :mod:`lstmcast.diagnostics`); None without val_size.
    calibration_caveat_ : str or None, why the intervals may cover less than their level on
        later data: the calibration spans fewer whole horizons than the level needs
        (:func:`lstmcast.intervals.thin_calibration`); None when it spans enough, or uncalibrated.
    chain_ : list of dict, how the networks came to be: the fit, then each :meth:`update`
        (data fingerprint and facts, seed, training settings).
    fills_ : missing values filled or masked per series (``.lines()``); None: missing="error".
    """

    alias = "LSTM"
    _fitted_attributes = ("tail_", "networks_")
    _rules: ClassVar[dict[str, Rule]] = RULES

    def __init__(
        self,
        window: int | str = AUTO,
        horizon: int | str = AUTO,
        hidden_size: int | str = AUTO,
        num_layers: int | str = AUTO,
        dropout: float | str = AUTO,
        epochs: int | str = AUTO,
        time_budget: float | str | None = AUTO,
        batch_size: int | str = AUTO,
        lr: float | str = AUTO,
        val_size: int | float | str | None = AUTO,
        val_at: str = "end",
        patience: int | str | None = AUTO,
        scaler: str = "standard",
        target_transform: str | None = AUTO,
        window_norm: str | None = AUTO,
        baseline: str | None = AUTO,
        segment: int | str = AUTO,
        decoder: str = AUTO,
        calendar: tuple[str, ...] | None = None,
        futr_cols: tuple[str, ...] | None = None,
        hist_cols: tuple[str, ...] | None = None,
        static_cols: tuple[str, ...] | None = None,
        covariate_missing: str = "error",
        missing: str = "error",
        fill_gaps: bool = False,
        loss: str = AUTO,
        lr_schedule: str | None = AUTO,
        grad_clip: float | None = None,
        forget_bias: float | str | None = AUTO,
        ensemble_size: int | str = AUTO,
        ensemble_combine: str = "mean",
        quantile_levels: tuple[float, ...] | None = None,
        quantile_training: str = "joint",
        median_weight: float = 1.0,
        interval_scale: str | None = None,
        season_length: int | str = AUTO,
        recipe: str = AUTO,
        random_state: int | None = None,
        device: str | None = None,
        precision: str = AUTO,
    ) -> None:
        self.window = window
        self.horizon = horizon
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.dropout = dropout
        self.epochs = epochs
        self.time_budget = time_budget
        self.batch_size = batch_size
        self.lr = lr
        self.val_size = val_size
        self.val_at = val_at
        self.patience = patience
        self.scaler = scaler
        self.target_transform = target_transform
        self.window_norm = window_norm
        self.baseline = baseline
        self.segment = segment
        self.decoder = decoder
        self.calendar = calendar
        self.futr_cols = futr_cols
        self.hist_cols = hist_cols
        self.static_cols = static_cols
        self.covariate_missing = covariate_missing
        self.missing = missing
        self.fill_gaps = fill_gaps
        self.loss = loss
        self.lr_schedule = lr_schedule
        self.grad_clip = grad_clip
        self.forget_bias = forget_bias
        self.ensemble_size = ensemble_size
        self.ensemble_combine = ensemble_combine
        self.quantile_levels = quantile_levels
        self.quantile_training = quantile_training
        self.median_weight = median_weight
        self.interval_scale = interval_scale
        self.season_length = season_length
        self.recipe = recipe
        self.random_state = random_state
        self.device = device
        self.precision = precision

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
    diagnostics_ = StateField()
    covariate_scaler_ = StateField()
    static_encoder_ = StateField()
    chain_ = StateField()
    fills_ = StateField()

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

    def _context_what(self) -> str:
        return f"window {self.window}"

    def plan(
        self,
        df: Any,
        *,
        id_col: str | None = None,
        time_col: str | None = None,
        target_col: str | None = None,
    ) -> dict[str, Any]:
        """Choose the settings left "auto" for ``df`` as ``fit`` would, without training.

        Returns every setting (``settings_``); ``recipe_`` then says why. ``lstmcast train
        --dry-run`` prints this.
        """
        self._check_params()
        names = {"id_col": id_col, "time_col": time_col, "target_col": target_col}
        panel = self._read(df, "the data", fitting=True, **self._column_names(names))
        self._choose(panel, panel.steps())  # as fit chooses them
        return self.settings_

    def _choose(self, panel: Panel, steps: list[Any]) -> None:
        """Set the settings left "auto" from the data (the same on every rank of a process
        group: rank 0's data decides), then check all of them together."""
        params = self.get_params()
        given = {name: params[name] for name in CHOSEN if not is_auto(params[name])}
        recipe = distributed.from_rank0(
            resolve(self.recipe, given, panel, steps, self.quantile_levels)
        )
        chosen = {name: value for name, value in recipe.settings.items() if name in params}
        for name, value in chosen.items():
            setattr(self, name, value)
        self._chosen, self._reasons = chosen, list(recipe.reasons)
        self._check_params()

    def _check_params(self) -> None:
        for name, rule in self._rules.items():
            value = getattr(self, name)
            if not (name in CHOSEN and is_auto(value)):  # chosen at fit, then checked
                rule.check(name, value)
        if not any(is_auto(getattr(self, name)) for name in CHOSEN):
            check_together(self._current())

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
        static_df: Any = None,
    ) -> LSTMForecaster:
        """Learn from every series in ``df`` (array, Series, wide or long frame); return self.

        Parameters
        ----------
        df : the training data.
        static_df : the ``static_cols`` in their own frame, one row per series (with the id
            column), instead of columns of ``df``; saved with the model.
        id_col, time_col, target_col : column names, as in :func:`lstmcast.to_long`.
        callbacks : :class:`~lstmcast.train.Callback` objects (progress bars, run tracking:
            :mod:`lstmcast.tracking`).
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

        if static_df is not None:
            id_name = id_col or "unique_id"
            df = merge_static(df, static_df, id_name, spec_of(self._current()).static)
        with writing_model(checkpoint):
            self._fit_data(
                df, id_col, time_col, target_col, callbacks, checkpoint=checkpoint, resume=resume
            )
        notify(callbacks, "on_fit_end", self)
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
        # The recipe looks at the values as given (it chooses the transform); the scaler and
        # the windows work in model units (log(y) with target_transform="log"); what the model
        # keeps (tail_), its fingerprint and its diagnostics stay in the data's units.
        self._choose(panel, steps)
        modelled = self._modelled(panel)
        n_train = training_points(panel, self.window, self.horizon, self.val_size)
        device = pick_device(self.device)  # an absent device is refused before any work
        parallel = distributed.active()
        fingerprint = data_fingerprint(panel)  # also what the model card says it learned from
        # In a process group: the same data on every rank, or each rank its own series?
        replicated, fingerprint = (
            distributed.all_same(fingerprint) if parallel else (True, fingerprint)
        )
        resumed = resumable(checkpoint, fingerprint, self._current()) if resume else None
        seed = self.random_state if self.random_state is not None else secrets.randbits(62)
        seed = distributed.from_rank0(seed)
        if resumed is not None:
            seed = resumed.seed
        n_fit = scaled_points(panel, n_train, self.val_at)  # also what diagnostics score after
        scaler = SeriesScaler.fit(modelled, n_fit, self.scaler)
        scaler = scaler.with_spread(modelled, n_fit, self.season_length)
        spec = spec_of(self._current())
        static_encoder = self.__dict__.pop("_fitting_static", None) if spec.static else None
        if spec.dynamic:  # a covariate holding the target's future: said before training
            warn_on_leakage(panel, spec.futr, spec.hist, self.season_length)
        covariate_scaler = CovariateScaler.fit(panel, n_fit, self.scaler, len(spec.static))
        train_windows, val_windows, input_size = fit_windows(
            modelled, scaler, n_train, device, window=self.window, horizon=self.horizon,
            scaler_kind=self.scaler, calendar=self._calendar(), validate=self.val_size is not None,
            covariates=(covariate_scaler, spec), masked=self.missing == "mask", val_at=self.val_at,
        )  # fmt: skip
        if val_windows is not None and self.quantile_levels:
            check_calibrated_quantiles(
                self.quantile_levels, len(val_windows), len(panel), self.horizon, self.val_size
            )
        config = network_config(
            self._current(), input_size, self._network_quantiles(), static_encoder
        )
        # What the model learns from: all ranks' series when each holds its own.
        facts = training_data(panel, fingerprint, sharded=not replicated)
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
            # Each rank holds its own series; the calibration pools every rank's windows.
            trained_series=None if replicated else facts["series"],
            recipe={"chosen": list(self._chosen), "reasons": list(self._reasons)},
            covariate_scaler=covariate_scaler,
            static_encoder=static_encoder,
            data=facts,
            fills=self._fitted_fills(sharded=parallel and not replicated),
        )
        training = {name: getattr(self, name) for name in (*TRAINING_SETTINGS, "ensemble_size")}
        self._state.chain = [chain_step("fit", dict(facts), seed, training)]
        self.__dict__.pop("_step_of", None)  # of the series fitted before
        save = None
        if checkpoint is not None:
            save = functools.partial(self._save_checkpoint, checkpoint, fingerprint)
        # A chosen ensemble under a time budget is a most: members train while they fit.
        flexible = "ensemble_size" in self._chosen and self.time_budget is not None
        notify(callbacks, "on_fit_begin", self)
        if not train_members(
            self._state, config, train_config(self._current()), self.ensemble_size,
            (train_windows, val_windows), device, callbacks, resumed, save,
            replicated if parallel else None, as_budget_allows=flexible,
        ):  # fmt: skip
            return  # interrupted: the last checkpoint on disk is the one to resume from
        if flexible and len(self.networks_) < self.ensemble_size:
            self._fewer_members(len(self.networks_))
        self._calibrate(val_windows)
        check_finite(
            self._forecast, self.tail_, self.calibration_, self.horizon, float(self.lr), parallel
        )
        self.diagnostics_ = validation_diagnostics(
            self._forecast, panel, n_fit, self.horizon, self.season_length, self.alias,
            sharded=not replicated,
        )  # fmt: skip
        if checkpoint is not None:
            self.save(checkpoint)  # the finished model, without training state

    def _fewer_members(self, trained: int) -> None:
        """Record that the time budget allowed ``trained`` of the ensemble chosen."""
        note = (
            f"ensemble: {trained} of up to {self.ensemble_size} fitted the "
            f"{float(self.time_budget):g} s time budget"
        )
        self.ensemble_size = self._chosen["ensemble_size"] = trained
        self._reasons.append(note)
        self._state.recipe = {"chosen": list(self._chosen), "reasons": list(self._reasons)}

    def _save_checkpoint(
        self, path: str | os.PathLike[str], fingerprint: str, member: int, state: TrainState
    ) -> None:
        """Save the members done, the best weights so far of ``member``, and ``state``."""
        done = self.networks_[:member]
        save_state(
            path,
            type(self).__name__,
            self._current(),
            self._state,
            weights=[network.state_dict() for network in done] + [state.best_network],
            histories=[*self.histories_[:member], state.history],
            training=Resumable(member, fingerprint, state),
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

    @torch.no_grad()
    def _forecast(self, panel: Panel, series: np.ndarray, ends: np.ndarray, h: int) -> np.ndarray:
        refuse_recursion(h, self.horizon, self._calendar(), spec_of(self._current()))
        x, rows = self._contexts(panel, series, ends)
        scaled = scaled_forecast(
            self.networks_, x, h, self.horizon, self.window, self.ensemble_combine
        )
        return self._in_user_units(self.scaler_.inverse(scaled, rows))

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
        # Tracing keeps every gate of every step: only the series asked for.
        chosen = np.arange(len(panel)) if series is None else panel.positions(series)
        x, _ = self._contexts(panel, chosen, panel.ends[chosen])
        with torch.no_grad():
            _, gates = self.network_.trace(x)
        return gates.detach()

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the fitted model to directory ``path`` (config.json + weights.safetensors).

        An lstmcast model there is replaced; a directory holding other files is refused.
        """
        self._check_fitted()
        save_state(path, type(self).__name__, self._current(), self._state)

    def to_onnx(
        self,
        path: str | os.PathLike[str],
        h: int | None = None,
        level: Sequence[float] | None = None,
    ) -> OnnxContract:
        """Write the model as ONNX: raw windows (batch, window) in, forecasts (batch, h) out
        (``h``, ``level`` as in :meth:`predict`); the contract: :mod:`lstmcast.export`."""
        from .export import export_onnx

        return export_onnx(self, path, h, level)

    def _state_spec(self) -> StateSpec:
        """What these settings fix about a fitted state (checked when a model is loaded)."""
        return state_spec(self._current(), len(self._calendar()), self._network_quantiles())


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
    recipe = model._state.recipe or {"chosen": [], "reasons": []}
    model._chosen = {name: getattr(model, name) for name in recipe["chosen"]}
    model._reasons = list(recipe["reasons"])
    return model
