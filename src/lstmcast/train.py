"""The training loop: Adam, mini-batches, validation, early stopping, a time budget, best
weights kept.

Readable top to bottom. Progress display and logging plug in as :class:`Callback` objects, which
this module calls but never imports.
"""

from __future__ import annotations

import copy
import functools
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from . import distributed
from .distributed import DataParallel, EpochSampler
from .errors import TrainingError, option, setting
from .forecasting import score_unit, seasonal_spread
from .optim import Adam, schedule_at
from .windows import Windows

LOSSES = {"mse": nn.functional.mse_loss, "mae": nn.functional.l1_loss}
# How quantile heads train: "joint", every quantile (the median too) on the pinball loss, through
# the whole network; "separate", the median (the point forecast) on ``loss`` exactly as without
# quantile heads, and the other quantiles on the pinball loss through the gap head alone.
# (A third way, the others around a detached median but through the LSTM too, gave wider
# intervals than either on M4 Hourly validation: benchmarks/RESULTS.md, E2.)
QUANTILE_TRAININGS = ("joint", "separate")
# The unit of the interval bounds' pinball terms: None, the model's (the median's); "seasonal",
# each window's mean absolute seasonal difference (the unit of the conformal corrections, and
# what MSIS divides by), so a calm window's bounds count as much as a restless one's.
INTERVAL_SCALES = ("seasonal",)


@dataclass(frozen=True)
class Objective:
    """What training minimises, on scaled values: the point ``loss``, or with quantile heads
    their pinball loss as the other fields shape it."""

    loss: str = "mse"  # "mse" or "mae": the point loss (the median's with "separate")
    quantile_training: str = "joint"  # how quantile heads train: one of QUANTILE_TRAININGS
    median_weight: float = 1.0  # the median's term in the loss of quantile heads counts this much
    # The unit of the interval bounds' pinball terms: None or one of INTERVAL_SCALES, with
    # the season of "seasonal".
    interval_scale: str | None = None
    season_length: int = 1


# The loop's clock in seconds (tests replace it to fake the passing of time).
clock = time.perf_counter

# Why training ended (History.stopped): every epoch ran; validation stopped improving for
# ``patience`` epochs; another epoch would not have fitted the time budget; Ctrl-C.
STOP_REASONS = ("epochs", "patience", "budget", "interrupted")


def training_loss(loss: str, quantile_levels: object, quantile_training: str) -> str:
    """The name of what training minimises: ``loss``; "pinball" for jointly trained quantile
    heads; ``loss`` + "+pinball" for separately trained ones."""
    if not quantile_levels:
        return loss
    return "pinball" if quantile_training == "joint" else f"{loss}+pinball"


def point_terms(forecast: torch.Tensor, y: torch.Tensor, loss: str) -> torch.Tensor:
    """Each target's point loss (B, horizon): squared (``loss="mse"``) or absolute error."""
    error = forecast - y
    return error * error if loss == "mse" else error.abs()


def pinball_terms(
    forecast: torch.Tensor,
    y: torch.Tensor,
    quantiles: tuple[float, ...],
    median_loss: str | None = None,
    median_weight: float = 1.0,
    bound_weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """Each target's pinball (quantile) loss (B, horizon), summed over the columns of
    ``forecast`` (B, horizon, Q + 1): ``quantiles`` with the median (0.5) in its sorted place.

    ``median_loss`` ("mse" or "mae"): the median's column is scored with that point loss
    instead of its pinball term (``quantile_training="separate"``). ``median_weight``: the
    median's term counts this many times. ``bound_weights`` (B,): each window's weight on the
    other quantiles' terms (``interval_scale``).
    """
    levels = torch.tensor(sorted([*quantiles, 0.5]), dtype=y.dtype, device=y.device)
    error = y[..., None] - forecast
    terms = torch.maximum(levels * error, (levels - 1) * error)
    if median_loss is None and median_weight == 1 and bound_weights is None:
        return terms.sum(-1)
    median = sum(q < 0.5 for q in quantiles)
    others = torch.cat([terms[..., :median], terms[..., median + 1 :]], dim=-1)
    own = (
        terms[..., median]
        if median_loss is None
        else point_terms(forecast[..., median], y, median_loss)
    )
    bounds = others.sum(-1)
    if bound_weights is not None:
        bounds = bounds * bound_weights[:, None]
    return bounds + median_weight * own


def bound_weights(
    network: nn.Module,
    x: torch.Tensor,
    objective: Objective,
    series_spread: torch.Tensor | None = None,
) -> torch.Tensor | None:
    """Each window's weight on the interval bounds' terms, (B,), or None (no
    ``objective.interval_scale`` or no quantile heads). "seasonal": 1 / the window's score unit
    (its mean absolute seasonal difference in the model's units, at least a share of its
    series' ``series_spread`` (B,): forecasting.score_unit, the unit its interval is calibrated
    in), over the batch's mean of those, so the terms keep their usual size beside the
    median's. Without the series floor a flat window would weigh up to 1000x the others."""
    config = network.config
    if objective.interval_scale is None or not config.quantiles:
        return None
    window = x[:, : x.shape[1] - config.horizon] if config.futr_size else x
    spread = seasonal_spread(window, objective.season_length, config.missing_indicator)
    inverse = 1.0 / score_unit(spread, series_spread)
    return (inverse / inverse.mean()).to(x.dtype)


def pinball_loss(
    forecast: torch.Tensor,
    y: torch.Tensor,
    quantiles: tuple[float, ...],
    reduction: str = "mean",
    median_loss: str | None = None,
    median_weight: float = 1.0,
    bound_weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """Mean pinball (quantile) loss of ``forecast`` (B, horizon, Q + 1) for ``y`` (B, horizon);
    ``median_loss``, ``median_weight``, ``bound_weights``: as for :func:`pinball_terms`."""
    loss = pinball_terms(forecast, y, quantiles, median_loss, median_weight, bound_weights)
    return loss.sum() if reduction == "sum" else loss.mean()


def masked_loss(
    output: torch.Tensor,
    y: torch.Tensor,
    observed: torch.Tensor,
    quantiles: tuple[float, ...],
    loss: str,
    reduction: str = "mean",
    median_loss: str | None = None,
    median_weight: float = 1.0,
    bound_weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """The loss over the ``observed`` targets (B, horizon) of ``y`` only, the mean over them
    (``missing="mask"``): a missing target adds nothing, to the loss or to a gradient.
    ``median_loss``, ``median_weight``, ``bound_weights``: as for :func:`pinball_terms`.

    The missing targets are replaced by 0 before any arithmetic, so no NaN is ever part of the
    graph (a NaN multiplied by a zero mask would still turn its gradient into NaN).
    """
    y = torch.where(observed, y, torch.zeros_like(y))
    terms = (
        pinball_terms(output, y, quantiles, median_loss, median_weight, bound_weights)
        if quantiles
        else point_terms(output, y, loss)
    )
    total = (terms * observed).sum()
    return total if reduction == "sum" else total / observed.sum().clamp(min=1)


class TrainingOutput(nn.Module):
    """What the loss reads, as a module's forward (the call DistributedDataParallel wraps).

    The network's forecast (B, horizon), or with quantile heads every quantile (B, horizon, Q + 1);
    ``quantile_training``: one of :data:`QUANTILE_TRAININGS` (the median's gradient stops at
    the gap head with "separate").
    """

    def __init__(self, network: nn.Module, quantile_training: str = "joint") -> None:
        super().__init__()
        self.network = network
        self.separate = quantile_training == "separate"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.network.config.quantiles:
            return self.network.quantile_forecast(x, detached=self.separate)
        return self.network(x)


def output_loss(
    output: torch.Tensor,
    y: torch.Tensor,
    network: nn.Module,
    objective: Objective,
    reduction: str = "mean",
    bound_weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """The ``objective`` of a :class:`TrainingOutput` for ``y``: pinball with quantile heads
    (the median on the point loss unless quantile training is "joint", its term counting
    ``median_weight`` times, the bounds' terms weighted by ``bound_weights`` (B,)); over the
    observed targets only when some are missing (NaN, ``missing="mask"``)."""
    quantiles = network.config.quantiles
    median_loss = None if objective.quantile_training == "joint" else objective.loss
    median_weight = objective.median_weight
    observed = ~torch.isnan(y)
    if not bool(observed.all()):
        return masked_loss(
            output, y, observed, quantiles, objective.loss, reduction, median_loss,
            median_weight, bound_weights,
        )  # fmt: skip
    if quantiles:
        return pinball_loss(
            output, y, quantiles, reduction, median_loss, median_weight, bound_weights
        )
    return LOSSES[objective.loss](output, y, reduction=reduction)


def batch_loss(
    network: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    objective: Objective,
    reduction: str = "mean",
    forward: nn.Module | None = None,
    series_spread: torch.Tensor | None = None,
) -> torch.Tensor:
    """The ``objective`` of ``network`` on one batch, x (B, steps, features) -> y (B, horizon).

    ``forward``: the :class:`TrainingOutput` to run (the training loop's, which may be wrapped
    in DistributedDataParallel); default, one over ``network``. ``series_spread`` (B,): the
    windows' series' spread (Windows.spread_of), the floor of their bounds' unit.
    """
    if forward is None:
        forward = TrainingOutput(network, objective.quantile_training)
    weights = bound_weights(network, x, objective, series_spread)
    return output_loss(forward(x), y, network, objective, reduction, weights)


LR_SCHEDULES = ("cosine", "onecycle")


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 10
    batch_size: int = 32
    lr: float = 1e-3
    objective: Objective = Objective()  # what is minimised: the loss and its quantile terms
    patience: int | None = None  # epochs without validation improvement before stopping
    grad_clip: float | None = None  # max global gradient norm; None leaves gradients as they are
    lr_schedule: str | None = None  # None (constant), "cosine" or "onecycle", stepped per batch
    # Seconds this training may take, checked between epochs: it stops when the longest epoch
    # so far would not fit in what is left. None: no limit.
    time_budget: float | None = None
    # The weights training starts from compete with every epoch's on validation (best epoch
    # 0 when none beats them): an update never ends worse on validation than it began. An
    # epoch replaces them only if its validation loss is lower by ``start_margin`` (a fraction
    # of theirs): among many epochs, one beats them on a short tail by chance.
    keep_start: bool = False
    start_margin: float = 0.0
    # Keep the weights of the epoch with the lowest validation loss; False: the last epoch's
    # (validation points that only calibrate, such as each series' oldest: val_at="start").
    select_epoch: bool = True
    # The LSTM's matrix products: "auto", "fp32" or "bf16" (lstmcast.precision).
    precision: str = "fp32"


@dataclass
class History:
    """What happened in training, one entry per epoch (losses in scaled units)."""

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    best_epoch: int | None = None  # 1-based epoch whose weights were kept (0: the start's)
    stopped_early: bool = False
    interrupted: bool = False
    seconds: float = 0.0
    train_windows: int = 0
    val_windows: int = 0
    stopped: str = "epochs"  # why training ended, one of STOP_REASONS
    threads: int = 0  # torch's CPU threads in training (lstmcast.threads); 0: not recorded
    # The LSTM's products in training as "auto" resolved ("fp32" or "bf16"); "": not recorded.
    precision: str = ""

    def to_dict(self) -> dict[str, object]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, saved: dict[str, Any]) -> History:
        """The History that :meth:`to_dict` wrote; one saved before ``stopped`` existed gets it
        from its flags (so older models and checkpoints still load)."""
        saved = dict(saved)
        if "stopped" not in saved:
            saved["stopped"] = (
                "interrupted"
                if saved.get("interrupted")
                else "patience"
                if saved.get("stopped_early")
                else "epochs"
            )
        return cls(**saved)


@dataclass
class TrainState:
    """Everything needed to continue training exactly where it stopped, after a whole epoch."""

    epoch: int  # epochs completed
    history: History
    network: dict[str, torch.Tensor]  # the current weights
    best_network: dict[str, torch.Tensor]  # the weights of the best epoch so far
    best_score: float
    optimizer: dict[str, Any]
    generator: torch.Tensor  # the shuffling RNG's state


class Callback:
    """Hooks the loop calls; override what you need (progress bars, logging, checkpoints).

    The loop (:func:`train`) calls the hooks of one network's training; the estimator
    (``LSTMForecaster.fit``) calls the ``on_fit_*`` and ``on_ensemble_begin`` /
    ``on_member_begin`` hooks around its networks' trainings.
    """

    def on_fit_begin(self, model: Any) -> None:
        """Called by ``LSTMForecaster.fit`` once it has chosen every setting and the seed, before
        any training: ``model.settings_``, ``model.recipe_`` and ``model.seed_`` are known
        (``ensemble_size`` may still shrink to what a time budget allows)."""

    def on_fit_end(self, model: Any) -> None:
        """Called when ``LSTMForecaster.fit`` returns, with the model: fitted, with its
        ``diagnostics_`` (None without ``val_size``), ``histories_`` and final ``settings_``; or
        stopped by Ctrl-C (``model.histories_[-1].interrupted``; no diagnostics then). Not
        called when fit raises."""

    def on_ensemble_begin(self, members: int, as_budget_allows: bool) -> None:
        """Called once before the members train: how many there are, or with
        ``as_budget_allows`` at most (a member then starts only when one as long as the mean
        of those done fits the time budget left)."""

    def on_member_begin(self, member: int, members: int) -> None:
        """Called before each ensemble member's training (``member`` counts from 0)."""

    def on_time_budget(self, seconds: float) -> None:
        """Called before ``on_train_begin`` when a time budget applies: the seconds this training
        may still take (it stops between epochs when another would not fit)."""

    def on_train_begin(self, epochs: int, batches_per_epoch: int) -> None: ...
    def on_optimizer_step(self, step: int, lr: float) -> None:
        """Called after each optimizer step, before ``on_batch_end``: the step of this training
        (counted from 1 across epochs, also those a resumed run did before) and the learning
        rate it took."""

    def on_batch_end(self, epoch: int, batch: int, loss: float) -> None: ...
    def on_epoch_end(self, epoch: int, history: History) -> None: ...
    def on_checkpoint(self, state: TrainState) -> None:
        """Called after each epoch with the state to save (and resume from) if wanted."""

    def on_train_end(self, history: History) -> None: ...


def notify(callbacks: Sequence[Callback], hook: str, *args: Any) -> None:
    """Call ``hook`` on every callback that has it (duck-typed callbacks need not have all)."""
    for callback in callbacks:
        method = getattr(callback, hook, None)
        if method is not None:
            method(*args)


def _overrides(callback: Callback, hook: str) -> bool:
    # Building a checkpoint copies the model and optimizer: only do it when someone wants it.
    method = getattr(type(callback), hook, None)
    return method is not None and method is not getattr(Callback, hook)


def out_of_time(
    elapsed: float, longest_epoch: float, budget: float, parallel: DataParallel | None
) -> bool:
    """Whether another epoch as long as the longest so far would end past ``budget`` seconds.

    In a process group the answer is the same on every rank (true when it is on any rank's
    clock), so that all ranks stop after the same epoch.
    """
    over = elapsed + longest_epoch > budget
    if parallel is not None:
        over = distributed.sum_across([float(over)])[0] > 0
    return over


def evaluate_loss(
    network: nn.Module,
    windows: Windows,
    objective: Objective,
    batch_size: int = 4096,
    parallel: DataParallel | None = None,
) -> float:
    """Mean ``objective`` over all ``windows`` in evaluation mode, without gradients.

    In data-parallel training the mean is over every rank's windows, the same on all ranks
    (replicated windows are split between the ranks rather than evaluated by each).
    """
    was_training = network.training
    network.eval()
    index = torch.arange(len(windows))
    if parallel is not None and parallel.replicated:
        index = index[distributed.rank() :: distributed.world_size()]
    total, count = 0.0, 0
    with torch.no_grad():
        for chunk in index.split(batch_size):
            x, y = windows.batch(chunk)
            spread = windows.spread_of(chunk)
            total += batch_loss(network, x, y, objective, "sum", series_spread=spread).item()
            count += int((~torch.isnan(y)).sum())  # missing targets (masked) are not counted
    network.train(was_training)
    if parallel is not None:
        total, count = distributed.sum_across([total, count])
    return total / count


def train(
    network: nn.Module,
    train_windows: Windows,
    val_windows: Windows | None,
    config: TrainConfig,
    *,
    generator: torch.Generator,
    callbacks: Sequence[Callback] = (),
    resume: TrainState | None = None,
    parallel: DataParallel | None = None,
    optimizer: Adam | None = None,
) -> History:
    """Train ``network`` in place and return its :class:`History`.

    With validation windows, the weights of the epoch with the lowest validation loss are
    restored at the end (and training stops after ``patience`` epochs without improvement).
    With a ``time_budget``, training stops after the epoch past which another would not fit.
    Ctrl-C (KeyboardInterrupt) stops training cleanly with the best weights so far. A NaN or
    infinite loss raises :class:`TrainingError` after restoring the last good weights. ``resume``
    continues from a :class:`TrainState` that a callback received, exactly as if never stopped.

    With ``parallel`` (inside a process group) the network is wrapped in DistributedDataParallel
    and each rank trains on its share of the windows, ``batch_size`` of them per step; losses
    in the history are over all ranks' windows.

    ``optimizer``: an Adam over ``network``'s parameters to continue with (its moments from an
    earlier training); the caller reads its state afterwards. Default: a new one.
    """
    if optimizer is None:
        optimizer = Adam(network.parameters(), lr=config.lr)
    objective = config.objective
    forward: nn.Module = TrainingOutput(network, objective.quantile_training)
    n = len(train_windows)
    validating = val_windows is not None and len(val_windows) > 0
    if parallel is None:
        sampler = None
        batches = math.ceil(n / config.batch_size)
        history = History(train_windows=n, val_windows=len(val_windows) if validating else 0)
    else:
        forward = distributed.wrap(forward, train_windows.starts.device)
        sampler = EpochSampler(n, parallel)
        batches = sampler.batches(config.batch_size)
        # Whether to validate must be the same decision on every rank.
        validating = val_windows is not None
        n_val = len(val_windows) if validating else 0
        if not parallel.replicated:
            n_val = int(distributed.sum_across([n_val])[0])
        history = History(train_windows=sampler.total, val_windows=n_val)
    total_steps = config.epochs * batches
    validation_loss = functools.partial(evaluate_loss, objective=objective, parallel=parallel)
    best_state = copy.deepcopy(network.state_dict())
    best_score = math.inf
    if config.keep_start and validating and resume is None:
        best_score = validation_loss(network, val_windows) * (1.0 - config.start_margin)
        history.best_epoch = 0
    first_epoch = 1
    if resume is not None:
        network.load_state_dict(resume.network)
        optimizer.load_state_dict(resume.optimizer)
        generator.set_state(resume.generator)
        history, best_state, best_score = resume.history, resume.best_network, resume.best_score
        # A run that had stopped early (or on its time budget) has nothing left to do.
        finished = history.stopped_early or history.stopped == "budget"
        first_epoch = config.epochs + 1 if finished else resume.epoch + 1
    started = clock() - history.seconds
    if config.time_budget is not None:
        notify(callbacks, "on_time_budget", max(config.time_budget - history.seconds, 0.0))
    notify(callbacks, "on_train_begin", config.epochs, batches)
    # An epoch's time runs from the end of the one before, so it includes that one's checkpoint.
    lap_started, longest_epoch = clock(), 0.0
    try:
        for epoch in range(first_epoch, config.epochs + 1):
            network.train()
            if sampler is None:
                order = torch.randperm(n, generator=generator)
            else:
                order = sampler.order(epoch)
            order = order.to(train_windows.starts.device)
            epoch_loss = 0.0
            for b in range(batches):
                index = order[b * config.batch_size : (b + 1) * config.batch_size]
                x, y = train_windows.batch(index)
                spread = train_windows.spread_of(index)
                loss = batch_loss(network, x, y, objective, forward=forward, series_spread=spread)
                if not torch.isfinite(loss):
                    clip = (
                        option("grad_clip", 1.0)
                        if config.grad_clip is None
                        else f"a {setting('grad_clip')} below {config.grad_clip:g}"
                    )
                    raise TrainingError(
                        f"the training loss became {loss.item()} at epoch {epoch}, batch {b + 1}; "
                        f"try a lower learning rate than {option('lr', float(f'{config.lr:g}'))} "
                        f"or {clip}; the last good weights were kept"
                    )
                # The schedule is a function of the step, so a resumed run picks it up exactly.
                optimizer.lr, beta1 = schedule_at(
                    config.lr_schedule, (epoch - 1) * batches + b, total_steps, config.lr
                )
                if beta1 is not None:
                    optimizer.betas = (beta1, optimizer.betas[1])
                optimizer.zero_grad()
                loss.backward()
                if config.grad_clip is not None:
                    nn.utils.clip_grad_norm_(network.parameters(), config.grad_clip)
                optimizer.step()
                notify(callbacks, "on_optimizer_step", (epoch - 1) * batches + b + 1, optimizer.lr)
                epoch_loss += loss.item() * len(x)
                notify(callbacks, "on_batch_end", epoch, b + 1, loss.item())
            if sampler is None:
                history.train_loss.append(epoch_loss / n)
            else:
                epoch_loss, seen = distributed.sum_across([epoch_loss, len(order)])
                history.train_loss.append(epoch_loss / seen)
            if validating:
                history.val_loss.append(validation_loss(network, val_windows))
            # Without validation (or choosing by it) the latest weights are the best we know.
            score = history.val_loss[-1] if validating and config.select_epoch else -epoch
            if score < best_score:
                best_score, history.best_epoch = score, epoch
                best_state = copy.deepcopy(network.state_dict())
            now = clock()
            history.seconds = now - started
            longest_epoch, lap_started = max(longest_epoch, now - lap_started), now
            history.stopped_early = (
                config.patience is not None and epoch - (history.best_epoch or 0) >= config.patience
            )
            if history.stopped_early:
                history.stopped = "patience"
            elif (
                config.time_budget is not None
                and epoch < config.epochs
                and out_of_time(history.seconds, longest_epoch, config.time_budget, parallel)
            ):
                history.stopped = "budget"
            notify(callbacks, "on_epoch_end", epoch, history)
            if any(_overrides(c, "on_checkpoint") for c in callbacks):
                state = TrainState(
                    epoch=epoch,
                    history=copy.deepcopy(history),
                    network=copy.deepcopy(network.state_dict()),
                    best_network=best_state,
                    best_score=best_score,
                    optimizer=copy.deepcopy(optimizer.state_dict()),
                    generator=generator.get_state(),
                )
                notify(callbacks, "on_checkpoint", state)
            if history.stopped != "epochs":
                break
    except KeyboardInterrupt:
        history.interrupted = True
        history.stopped = "interrupted"
    finally:
        network.load_state_dict(best_state)
        network.eval()
        history.seconds = clock() - started
        notify(callbacks, "on_train_end", history)
    return history
