"""The adding problem (Hochreiter & Schmidhuber, 1997): can a recurrent cell remember over T steps?

Each sequence has ``length`` (T) steps of two features: a value drawn uniformly from [0, 1] and a
marker that is 1 at exactly two steps (one in the first half, one in the second) and 0 elsewhere.
The target is the sum of the two marked values. Everything between and after the markers is noise
to be ignored, so the cell must hold the first marked value for up to T steps. Always answering
1.0 (the mean of the target) scores an MSE of 1/6 ~ 0.167 (the variance of a sum of two uniforms);
a prediction within 0.04 of the target counts as correct, the 1997 paper's criterion.

:func:`adding_problem` trains lstmcast's own :class:`~lstmcast.lstm.LSTM` (or, to compare,
``torch.nn.GRU`` / ``torch.nn.RNN``) with a linear readout of the last hidden state, on batches
generated on the fly, and scores it on a fixed test set along the way: the learning curve.

Chrono initialisation (Tallec & Ollivier, 2018, "Can recurrent neural networks warp time?") sets
the forget-gate biases to ``log(u)``, ``u ~ U[1, T - 1]``, and the input-gate biases to their
negatives, so that at the start the units' memory time constants spread over 1..T - 1 steps
instead of all being about 2 steps. It is on by default for the gated cells here (for the GRU it
sets the update gate's bias, the gate that keeps the old state); the forecaster
(:class:`~lstmcast.LSTMForecaster`) keeps torch's initialisation.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import torch
from torch import nn

from .errors import ConfigError, TrainingError
from .lstm import LSTM
from .optim import Adam

CELLS = ("lstm", "gru", "rnn")
TOLERANCE = 0.04  # a prediction this close to the target is correct (the 1997 criterion)
MIN_LENGTH = 2  # one marker in each half needs two steps
_EVAL_BATCH = 1000  # test sequences scored at once


@dataclass(frozen=True)
class CurvePoint:
    """One evaluation on the test set, after ``step`` training steps and ``seconds`` of wall time.

    ``train_loss`` is the mean batch MSE since the previous point (NaN at step 0).
    """

    step: int
    seconds: float
    train_loss: float
    test_mse: float
    accuracy: float


@dataclass(frozen=True)
class AddingResult:
    """The outcome of :func:`adding_problem`.

    ``curve`` has one row per evaluation: step, seconds, train_loss, test_mse, accuracy.
    ``stopped`` says what ended training: ``"solved"`` (accuracy reached ``until_accuracy``),
    ``"steps"`` or ``"budget"`` (the wall-clock limit). ``network`` is the trained network
    (``network.rnn.trace(x)`` gives the LSTM's gates on sequences ``x``).
    """

    cell: str
    length: int
    test_mse: float
    accuracy: float
    baseline_mse: float
    steps: int
    seconds: float
    stopped: str
    curve: pd.DataFrame
    settings: dict[str, Any] = field(default_factory=dict)
    network: AddingNetwork | None = field(default=None, repr=False)

    @property
    def solved(self) -> bool:
        """Whether the final accuracy reached the ``until_accuracy`` it was trained for."""
        target = self.settings.get("until_accuracy")
        return target is not None and self.accuracy >= target


def adding_batch(
    batch_size: int, length: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sequences (batch, length, 2) of (value, marker) and their targets (batch,)."""
    values = torch.rand(batch_size, length, generator=generator)
    half = length // 2
    first = torch.randint(0, half, (batch_size,), generator=generator)
    second = torch.randint(half, length, (batch_size,), generator=generator)
    rows = torch.arange(batch_size)
    markers = torch.zeros(batch_size, length)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    target = values[rows, first] + values[rows, second]
    return torch.stack([values, markers], dim=-1), target


class AddingNetwork(nn.Module):
    """One recurrent layer and a linear readout of its last hidden state: (B, T, 2) -> (B,)."""

    def __init__(self, cell: str, hidden_size: int) -> None:
        super().__init__()
        if cell == "lstm":
            self.rnn: nn.RNNBase = LSTM(2, hidden_size)
        else:
            self.rnn = {"gru": nn.GRU, "rnn": nn.RNN}[cell](2, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        output, _ = self.rnn(x)
        return self.head(output[:, -1]).squeeze(-1)


@torch.no_grad()
def chrono_init(rnn: nn.RNNBase, max_length: int, generator: torch.Generator) -> None:
    """Chrono initialisation of a one-layer LSTM or GRU for dependencies up to ``max_length`` steps.

    LSTM: forget-gate bias ``log(u)``, ``u ~ U[1, max_length - 1]``, input-gate bias its negative.
    GRU: the update gate z (``h' = (1 - z) n + z h``) gets ``log(u)``. torch keeps two biases per
    gate; their sum is what counts, so the recurrent one is zeroed.
    """
    H = rnn.hidden_size
    time_scales = torch.empty(H).uniform_(1.0, max(max_length - 1, 1), generator=generator)
    keep = time_scales.log()
    # Rows of the stacked gates: LSTM (i, f, g, o), GRU (r, z, n).
    if isinstance(rnn, nn.LSTM):
        rows = {1: keep, 0: -keep}
    elif isinstance(rnn, nn.GRU):
        rows = {1: keep}
    else:
        raise ConfigError("chrono initialisation needs a gated cell (lstm or gru), not a plain RNN")
    for gate, bias in rows.items():
        rnn.bias_ih_l0[gate * H : (gate + 1) * H] = bias
        rnn.bias_hh_l0[gate * H : (gate + 1) * H] = 0.0


def _check(settings: dict[str, Any]) -> None:
    """Raise :class:`ConfigError` for the first unusable value of :func:`adding_problem`."""
    if settings["cell"] not in CELLS:
        raise ConfigError(f"unknown cell {settings['cell']!r}; use one of {', '.join(CELLS)}")
    length = settings["length"]
    if not isinstance(length, int) or length < MIN_LENGTH:
        raise ConfigError(
            f"length must be an integer >= {MIN_LENGTH} (one marker in each half), got {length!r}"
        )
    for name in ("steps", "batch_size", "hidden_size", "test_size", "eval_every"):
        value = settings[name]
        if not isinstance(value, int) or value < 1:
            raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    for name in ("lr", "budget"):
        if not settings[name] > 0:
            raise ConfigError(f"{name} must be positive, got {settings[name]!r}")
    until = settings["until_accuracy"]
    if until is not None and not 0 < until <= 1:
        raise ConfigError(f"until_accuracy must be in (0, 1] or None, got {until!r}")
    if settings["chrono"] and settings["cell"] == "rnn":
        raise ConfigError("chrono initialisation needs a gated cell (lstm or gru), not a plain RNN")


def _evaluate(network: nn.Module, x: torch.Tensor, target: torch.Tensor) -> tuple[float, float]:
    """Test MSE and accuracy (share of absolute errors below :data:`TOLERANCE`)."""
    network.eval()
    with torch.no_grad():
        prediction = torch.cat([network(chunk) for chunk in x.split(_EVAL_BATCH)])
    network.train()
    error = prediction - target
    return float((error**2).mean()), float((error.abs() < TOLERANCE).float().mean())


def adding_problem(
    length: int,
    *,
    cell: str = "lstm",
    steps: int = 20_000,
    batch_size: int = 32,
    hidden_size: int = 32,
    lr: float = 1e-2,
    seed: int = 0,
    budget: float = 600.0,
    chrono: bool | None = None,
    grad_clip: float | None = 1.0,
    test_size: int = 1000,
    eval_every: int = 100,
    until_accuracy: float | None = 0.99,
    on_step: Callable[[int, float, CurvePoint], None] | None = None,
) -> AddingResult:
    """Train a recurrent cell on the adding problem with sequences of ``length`` steps.

    Parameters
    ----------
    length : int
        T, steps per sequence (>= 2).
    cell : {"lstm", "gru", "rnn"}
        lstmcast's LSTM, or torch's GRU or tanh RNN.
    steps, batch_size : int
        Training steps (Adam updates) at most, and fresh sequences per step.
    hidden_size : int
        Units of the cell. Small keeps each of the T sequential steps cheap.
    lr : float
        Adam learning rate. 1e-2 (with gradient clipping) learns far sooner here than 1e-3.
    seed : int
        Seeds the weights, the test set and the training batches: a run that ends on ``steps``
        or ``until_accuracy`` is the same every time.
    budget : float
        Wall-clock seconds of training at most (evaluations included); the machine's speed and
        load decide how many steps fit, so a run ended by the budget is not reproducible.
    chrono : bool, optional
        Chrono initialisation of the gate biases (see the module docs); default on for lstm and
        gru, and not possible for rnn.
    grad_clip : float, optional
        Largest global gradient norm; None: no clipping.
    test_size, eval_every : int
        Size of the fixed test set, and training steps between its evaluations.
    until_accuracy : float, optional
        Stop once the test accuracy reaches this; None: train on.
    on_step : callable, optional
        ``on_step(step, batch_loss, last_point)`` after every training step (a progress bar).

    Returns
    -------
    AddingResult

    Raises
    ------
    ConfigError
        An unknown cell, ``length`` < 2, a non-positive size, rate or budget, chrono for rnn.
    TrainingError
        The loss became NaN or infinite.
    """
    settings = {
        "length": length, "cell": cell, "steps": steps, "batch_size": batch_size,
        "hidden_size": hidden_size, "lr": lr, "seed": seed, "budget": budget, "chrono": chrono,
        "grad_clip": grad_clip, "test_size": test_size, "eval_every": eval_every,
        "until_accuracy": until_accuracy,
    }  # fmt: skip
    _check(settings)
    chrono = cell != "rnn" if chrono is None else chrono
    settings["chrono"] = chrono

    data = torch.Generator().manual_seed(seed)
    test_x, test_y = adding_batch(test_size, length, data)
    baseline_mse = float(((test_y - 1.0) ** 2).mean())
    # A private RNG stream for the weights: neither depends on nor disturbs the caller's.
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        network = AddingNetwork(cell, hidden_size)
    if chrono:
        chrono_init(network.rnn, length, torch.Generator().manual_seed(seed))
    optimizer = Adam(network.parameters(), lr=lr)

    started = time.perf_counter()
    mse, accuracy = _evaluate(network, test_x, test_y)
    points = [CurvePoint(0, 0.0, math.nan, mse, accuracy)]
    stopped = "steps"
    loss_sum, since = 0.0, 0
    step = 0
    while step < steps:
        x, y = adding_batch(batch_size, length, data)
        loss = ((network(x) - y) ** 2).mean()
        if not torch.isfinite(loss):
            raise TrainingError(
                f"the training loss became {loss.item()} at step {step + 1}; "
                f"try a lower learning rate than {lr:g} or a smaller grad_clip"
            )
        optimizer.zero_grad()
        loss.backward()
        if grad_clip is not None:
            nn.utils.clip_grad_norm_(network.parameters(), grad_clip)
        optimizer.step()
        step += 1
        loss_sum, since = loss_sum + loss.item(), since + 1
        over_budget = time.perf_counter() - started > budget
        if step % eval_every == 0 or step == steps or over_budget:
            mse, accuracy = _evaluate(network, test_x, test_y)
            seconds = time.perf_counter() - started
            points.append(CurvePoint(step, seconds, loss_sum / since, mse, accuracy))
            loss_sum, since = 0.0, 0
            if until_accuracy is not None and accuracy >= until_accuracy:
                stopped = "solved"
            elif over_budget:
                stopped = "budget"
        if on_step is not None:
            on_step(step, loss.item(), points[-1])
        if stopped != "steps":
            break

    last = points[-1]
    return AddingResult(
        cell=cell,
        length=length,
        test_mse=last.test_mse,
        accuracy=last.accuracy,
        baseline_mse=baseline_mse,
        steps=last.step,
        seconds=last.seconds,
        stopped=stopped,
        curve=pd.DataFrame([vars(p) for p in points]),
        settings=settings,
        network=network.eval(),
    )
