"""Fitting the LSTM forecaster, step by step: the training split, the windows, the ensemble.

Sits between the validated data and the trained networks: panel -> each series' training and
validation points -> scaled windows (``windows``) -> each ensemble member trained by ``train``
into the :class:`~lstmcast.fitted.FittedState`. The estimator (``lstm_forecaster``) calls these
in order with its settings; they read settings and never change them.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from . import distributed, threads
from .checkpoint import Checkpointer, Resumed
from .covariates import CovariateScaler, CovariateSpec, StaticEncoder, spec_of
from .data import Panel
from .distributed import DataParallel
from .errors import DataError, TrainingError, option, points
from .fitted import FittedState
from .fused_lstm import small_step
from .model import LSTMNetwork, NetworkConfig
from .optim import Adam
from .precision import resolve, use_precision
from .train import Callback, History, Objective, TrainConfig, TrainState, notify, train
from .training_range import check_scaled
from .windows import SeriesScaler, Windows, calendar_features, window_starts


def network_config(
    settings: dict[str, Any],
    input_size: int,
    quantiles: tuple[float, ...],
    static: StaticEncoder | None = None,
) -> NetworkConfig:
    """The network an estimator's ``settings`` describe, for ``input_size`` features (and
    ``static`` covariates encoded so)."""
    forget_bias = settings["forget_bias"]
    spec = spec_of(settings)
    return NetworkConfig(
        input_size=input_size,
        hidden_size=settings["hidden_size"],
        num_layers=settings["num_layers"],
        dropout=float(settings["dropout"]),
        horizon=settings["horizon"],
        segment=settings["segment"],
        decoder=settings["decoder"],
        window_norm=settings["window_norm"],
        quantiles=quantiles,
        forget_bias=None if forget_bias is None else float(forget_bias),
        baseline_season=settings["season_length"] if settings["baseline"] == "seasonal" else 0,
        hist_size=len(spec.hist),
        futr_size=len(spec.futr),
        static_size=len(static.numeric) if static else 0,
        static_categories=static.cardinalities if static else (),
        missing_indicator=settings["missing"] == "mask",
    )


def train_config(settings: dict[str, Any]) -> TrainConfig:
    """The training an estimator's ``settings`` describe."""
    budget = settings["time_budget"]
    return TrainConfig(
        epochs=settings["epochs"],
        batch_size=settings["batch_size"],
        lr=float(settings["lr"]),
        objective=Objective(
            loss=settings["loss"],
            quantile_training=settings["quantile_training"],
            median_weight=float(settings["median_weight"]),
            interval_scale=settings["interval_scale"],
            season_length=settings["season_length"],
        ),
        patience=settings["patience"],
        grad_clip=settings["grad_clip"],
        lr_schedule=settings["lr_schedule"],
        time_budget=None if budget is None else float(budget),
        # The oldest points of each series calibrate; they do not say which epoch forecasts
        # the latest best (on M4 Hourly they chose mid-schedule epochs: benchmarks/RESULTS.md, E6).
        select_epoch=settings["val_at"] == "end",
        precision=settings["precision"],
    )


def scaled_points(panel: Panel, n_train: np.ndarray, val_at: str) -> np.ndarray:
    """Points of each series (n,) the scalers are fitted on: the first ``n_train``, or with
    ``val_at="start"`` all of them (the validation points are then the oldest, and training
    reads every later point)."""
    return panel.lengths if val_at == "start" else n_train


def validation_points(lengths: np.ndarray, val_size: int | float | None) -> np.ndarray:
    """Points of each series (n,) held out to validate: ``val_size`` points or that fraction."""
    if val_size is None:
        return np.zeros_like(lengths)
    if isinstance(val_size, float):
        return np.rint(lengths * val_size).astype(np.int64)
    return np.full_like(lengths, val_size)


def training_points(
    panel: Panel, window: int, horizon: int, val_size: int | float | None
) -> np.ndarray:
    """Points of each series (n,) to train on; the rest (``val_size``) validates.

    A series too short for one training window (and its validation tail) is refused, named.
    """
    n_val = validation_points(panel.lengths, val_size)
    if val_size is not None:
        n_val = np.maximum(n_val, horizon)  # a validation window needs a whole horizon of targets
    n_train = panel.lengths - n_val
    short = n_train < window + horizon
    if short.any():
        i = int(np.argmax(short))
        val_note = f" + validation {n_val[i]}" if val_size is not None else ""
        raise DataError(
            f"series {panel.ids[i]!r} has {points(panel.lengths[i])}; window {window} + horizon "
            f"{horizon}{val_note} needs at least {window + horizon + n_val[i]}"
        )
    return n_train


def network_inputs(
    scaled: np.ndarray,
    ds: np.ndarray,
    tz: str | None,
    calendar: tuple[str, ...],
    covariates: np.ndarray | None = None,
    indicator: bool = False,
) -> torch.Tensor:
    """Network inputs (..., features) for scaled values and their times (...): the target, the
    scaled ``covariates`` (..., C; past-only, then future-known), then calendar features.

    ``ds`` are naive UTC when ``tz`` is set: calendar features read the local clock. With
    ``indicator`` (``missing="mask"``), a missing (NaN) target is read as 0 and a last feature
    says which are missing (1): no NaN ever enters the network.
    """
    missing = np.isnan(scaled) if indicator else None
    target = scaled if missing is None else np.where(missing, 0.0, scaled)
    columns = [target.astype(np.float32)[..., None]]
    if covariates is not None and covariates.shape[-1]:
        columns.append(covariates.astype(np.float32))
    if calendar:
        features = calendar_features(ds.reshape(-1), calendar, tz)
        columns.append(features.reshape(*ds.shape, -1))
    if missing is not None:
        columns.append(missing.astype(np.float32)[..., None])
    return torch.from_numpy(np.concatenate(columns, axis=-1))


def ahead_mask(
    spec: CovariateSpec, calendar_features: int, indicator: bool = False
) -> torch.Tensor:
    """Which input features the network may read over the horizon (features,): 1 for the
    future-known covariates, 0 for the target and past-only ones (and calendar features, which
    the decoder does not read, and the missing-value ``indicator``)."""
    mask = torch.zeros(1 + len(spec.names) + 2 * calendar_features + indicator)
    mask[1 + len(spec.hist) : 1 + len(spec.names)] = 1.0
    return mask


def fit_windows(
    panel: Panel,
    scaler: SeriesScaler,
    n_train: np.ndarray,
    device: torch.device,
    *,
    window: int,
    horizon: int,
    scaler_kind: str,
    calendar: tuple[str, ...],
    validate: bool,
    covariates: tuple[CovariateScaler, CovariateSpec] | None = None,
    masked: bool = False,
    val_at: str = "end",
) -> tuple[Windows, Windows | None, int]:
    """Training windows, validation windows (when ``validate``), both on ``device``, and the
    network's input features. Validation targets are the points after ``n_train``; with
    ``val_at="start"``, as many points right after each series' first window (the training
    targets are the points after them).
    ``covariates``: their fitted scaler and spec (the panel holds their values). ``masked``
    (``missing="mask"``): missing targets stay NaN for the loss to skip, inputs carry the
    missing-value indicator, and a window without any observed target is left out (it would
    add nothing)."""
    with np.errstate(over="ignore"):  # refused just below, with the series named
        scaled = scaler.transform(panel, np.arange(len(panel)))
    check_scaled(panel, scaled, np.arange(panel.starts[-1]), scaler_kind)
    scaled_covariates, seen_ahead = None, None
    if covariates is not None and covariates[1]:
        covariate_scaler, spec = covariates
        series_of_row = np.repeat(np.arange(len(panel)), panel.lengths)
        scaled_covariates = covariate_scaler.transform(panel.covariates[:, None], series_of_row)
        scaled_covariates = scaled_covariates[:, 0]
        if spec.futr:
            seen_ahead = ahead_mask(spec, len(calendar), masked)
    inputs = network_inputs(scaled, panel.ds, panel.tz, calendar, scaled_covariates, masked)
    target = torch.tensor(scaled, dtype=torch.float32)
    # Observed targets before each row (rows + 1,): how many a window's horizon holds.
    observed = np.concatenate([[0], np.cumsum(~np.isnan(scaled))]) if masked else None

    def windows(first_target: np.ndarray, target_end: np.ndarray) -> Windows:
        starts = window_starts(panel, first_target, target_end, window, horizon)
        if observed is not None:
            first = starts + window
            starts = starts[observed[first + horizon] > observed[first]]
        spread = None
        if scaler.spread is not None:  # each window's series' (the panel's order is ours)
            series = panel.series_of(starts)
            spread = torch.from_numpy(scaler.spread[series])
        found = Windows(
            inputs, target, torch.from_numpy(starts), window, horizon, seen_ahead, spread
        )
        return found.to(device)

    first = np.full(len(panel), window)
    if val_at == "start":
        first_train = first + panel.lengths - n_train
        train_windows = windows(first_train, panel.lengths)
        val_windows = windows(first, first_train) if validate else None
    else:
        train_windows = windows(first, n_train)
        val_windows = windows(n_train, panel.lengths) if validate else None
    return train_windows, val_windows, inputs.shape[1]


def member_budget(
    time_budget: float | None,
    done: Sequence[History],
    member: int,
    members: int,
    as_budget_allows: bool = False,
) -> float | None:
    """Seconds of the fit's ``time_budget`` for ensemble ``member`` (counted from 0): an equal
    share of what the members ``done`` left (each still trains at least one epoch), or with
    ``as_budget_allows`` all of it (later members train only if they fit: :func:`another_fits`).
    """
    if time_budget is None:
        return None
    left = max(time_budget - sum(history.seconds for history in done), 0.0)
    return left if as_budget_allows else left / (members - member)


def another_fits(time_budget: float | None, done: Sequence[History]) -> bool:
    """Whether one more member as long as the mean of those ``done`` fits what is left of
    ``time_budget``, and none was cut short by it. In a process group the answer is the same
    on every rank (no when any rank's clock says no)."""
    if time_budget is None or not done:
        return True
    spent = sum(history.seconds for history in done)
    fits = not any(h.stopped == "budget" for h in done) and spent / len(done) <= time_budget - spent
    if distributed.active():
        fits = distributed.sum_across([float(not fits)])[0] == 0
    return fits


@dataclass(frozen=True)
class WarmStart:
    """Where an ensemble member's training continues from: its weights and Adam's state (None:
    a model saved without it; Adam then starts anew)."""

    weights: dict[str, torch.Tensor]
    optimizer: dict[str, Any] | None


def train_members(
    state: FittedState,
    config: NetworkConfig,
    train_config: TrainConfig,
    ensemble_size: int,
    windows: tuple[Windows, Windows | None],
    device: torch.device,
    callbacks: Sequence[Callback],
    resumed: Resumed | None,
    save_checkpoint: Callable[[int, TrainState], None] | None,
    replicated: bool | None,
    as_budget_allows: bool = False,
    warm: Sequence[WarmStart] = (),
) -> bool:
    """Train the ensemble members not done yet (seeds ``state.seed + member``) into ``state``;
    False when Ctrl-C interrupted one (which ends the whole ensemble).

    ``as_budget_allows``: ``ensemble_size`` is a most; a member starts only when one as long as
    the mean of those done fits what is left of ``train_config.time_budget`` (so a fit may end
    with fewer networks, ``state.networks`` says how many).

    ``save_checkpoint(member, train_state)`` is called after every epoch when given;
    ``replicated``: in a process group, whether every rank holds the same data (None: no
    process group). ``train_config.time_budget`` is the whole ensemble's, shared out by
    :func:`member_budget`. ``warm``: per member, the weights and Adam state to continue from
    (an update) instead of new weights.

    Each member's Adam state at the end of its training goes to ``state.optimizers`` (what an
    update continues from).
    """
    train_windows, val_windows = windows
    # Refused before any work; "auto" by this machine and the training step's size.
    small = small_step(train_config.batch_size, config.hidden_size)
    precision = resolve(train_config.precision, device, training=True, small_step=small)
    first_member = 0
    if resumed is not None:
        for weights, history in zip(resumed.done_weights, resumed.done_histories, strict=True):
            network = LSTMNetwork(config).to(device)
            network.load_state_dict(weights)
            state.networks.append(network.eval())
            state.histories.append(history)
        state.optimizers = list(resumed.done_optimizers)
        first_member = len(state.networks)
    time_budget = train_config.time_budget
    notify(callbacks, "on_ensemble_begin", ensemble_size, as_budget_allows)
    for member in range(first_member, ensemble_size):
        seed = state.seed + member
        saver = []
        if save_checkpoint is not None:
            saver = [Checkpointer(functools.partial(save_checkpoint, member))]
        resuming = resumed is not None and member == first_member
        if as_budget_allows and not resuming and not another_fits(time_budget, state.histories):
            break
        budget = member_budget(
            time_budget, state.histories, member, ensemble_size, as_budget_allows
        )
        member_config = dataclasses.replace(train_config, time_budget=budget)
        notify(callbacks, "on_member_begin", member, ensemble_size)
        # A private RNG stream: fitting neither depends on nor disturbs the caller's seed.
        cuda = [device.index or 0] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=cuda):
            torch.manual_seed(seed)
            network = LSTMNetwork(config).to(device)
            use_precision([network], precision)
            optimizer = Adam(network.parameters(), lr=member_config.lr)
            if member < len(warm):
                network.load_state_dict(warm[member].weights)
                if warm[member].optimizer is not None:  # its moments; the rates are this run's
                    rates = optimizer.state_dict()["param_groups"]
                    optimizer.load_state_dict(
                        {"state": warm[member].optimizer["state"], "param_groups": rates}
                    )
            state.networks.append(network)
            with threads.for_training() as used:
                history = train(
                    network,
                    train_windows,
                    val_windows,
                    member_config,
                    generator=torch.Generator().manual_seed(seed),
                    callbacks=[*callbacks, *saver],
                    resume=resumed.state if resumed and member == first_member else None,
                    parallel=None if replicated is None else DataParallel(seed, replicated),
                    optimizer=optimizer,
                )
            history.threads = used
            history.precision = precision
            state.histories.append(history)
        state.optimizers.append(optimizer.state_dict())
        if state.histories[-1].interrupted:
            return False
    return True


def check_finite(
    forecast: Callable[[Panel, np.ndarray, np.ndarray, int], np.ndarray],
    tail: Panel,
    calibration: np.ndarray | None,
    horizon: int,
    lr: float,
    parallel: bool,
) -> None:
    """Refuse a trained model whose forecast from the end of some series of ``tail`` (or
    whose interval calibration) is not finite: such a model must not be saved or used.

    ``forecast(panel, series, ends, h)`` is the model's; in a process group every rank
    refuses together, none goes on to save.
    """
    bad = np.zeros(len(tail), dtype=bool)
    if len(tail):
        values = forecast(tail, np.arange(len(tail)), tail.ends, horizon)
        bad = ~np.isfinite(values).all(axis=1)
    calibrated = calibration is None or bool(np.isfinite(calibration).all())
    failed = float(bad.any() or not calibrated)
    if parallel:
        failed = distributed.sum_across([failed])[0]
    if not failed:
        return
    what = (
        f"forecasts series {tail.ids[int(np.argmax(bad))]!r} as NaN or infinity"
        if bad.any()
        else "has a NaN or infinite interval calibration"
    )
    raise TrainingError(
        f"the trained model {what}: it is not usable and is not saved; try a lower learning "
        f"rate than {option('lr', float(f'{lr:g}'))} or {option('grad_clip', 1.0)}"
    )
