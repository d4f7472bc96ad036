"""Analysis of a traced LSTM: how far back each unit's memory reaches, read off its forget gate.

Sits after the model in the data flow (input frame -> windows -> model -> **gate trace analysis**
and forecast -> metrics/plots): it reads a :class:`~lstmcast.lstm.GateTrace` (or any object or
mapping with its arrays) and returns tables, with NumPy and pandas only, so ``lc.memory_reach``
does not load matplotlib. :mod:`lstmcast.gate_plot` draws what this module computes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd

from .checks import Rule, count_of, field, float_array
from .errors import DataError

if TYPE_CHECKING:
    import torch

# A unit whose mean forget gate over the window is above this keeps its cell state: "long memory".
LONG_MEMORY_FORGET = 0.9
# A unit's memory reaches back as long as the product of its forget gates stays above 1/e: for a
# constant gate, its time constant (see memory_reach).
_REACH_RETENTION = float(np.exp(-1.0))
# The arrays of a trace, the forget gate first (it decides how long the cell remembers); every
# one but ``hidden`` is required.
GATES = ("forget", "input", "candidate", "output", "cell", "hidden")


class GateTraceLike(Protocol):
    """What :func:`memory_reach` and :func:`~lstmcast.gate_plot.plot_gates` read, e.g.
    :class:`lstmcast.lstm.GateTrace`.

    Each attribute is a tensor or array shaped (num_layers, batch, time, hidden); ``hidden`` may
    be missing or ``None``. A mapping with these keys works too.
    """

    input: torch.Tensor | np.ndarray
    forget: torch.Tensor | np.ndarray
    candidate: torch.Tensor | np.ndarray
    output: torch.Tensor | np.ndarray
    cell: torch.Tensor | np.ndarray
    hidden: torch.Tensor | np.ndarray | None


def _index(value: object, size: int, name: str, what: str) -> int:
    """``value`` as a position among ``size`` (negative counts from the end)."""
    Rule(int).check(name, value)  # out of range is the data's fault: DataError below
    if not -size <= value < size:  # type: ignore[operator]
        raise DataError(
            f"{name}={value} is out of range: the trace has {size} {what}; "
            f"use 0..{size - 1} (or negative to count from the end)."
        )
    return int(value) % size  # type: ignore[call-overload]


def gate_arrays(
    trace: GateTraceLike | Mapping[str, Any], sample: int, layer: int
) -> tuple[dict[str, np.ndarray], int, int, int]:
    """The trace's arrays of one layer and sample, each (time, hidden); layer, sample, batch."""
    raw: dict[str, Any] = {}
    for name in GATES:
        value = field(trace, name)
        if value is None and name != "hidden":
            raise DataError(
                f"trace has no {name!r}: expected a GateTrace-like object with input, forget, "
                "candidate, output, cell (and hidden), each shaped "
                "(num_layers, batch, time, hidden)."
            )
        if value is not None:
            raw[name] = value if hasattr(value, "shape") else float_array(value, f"trace {name}")
    shapes = {name: tuple(value.shape) for name, value in raw.items()}
    shape = shapes["cell"]
    if len(shape) != 4 or any(s != shape for s in shapes.values()):
        raise DataError(
            f"every trace array must be shaped (num_layers, batch, time, hidden) alike, got "
            f"{shapes}."
        )
    n_layers, batch, time, hidden = shape
    if time == 0 or hidden == 0:
        raise DataError(f"the trace is empty (shape {shape}): run the LSTM on at least one step.")
    layer_i = _index(layer, n_layers, "layer", "layers")
    sample_i = _index(sample, batch, "sample", "samples")
    # Slice before converting: a traced batch can be large, one sample is small.
    data = {
        name: float_array(value[layer_i, sample_i], f"trace {name}") for name, value in raw.items()
    }
    return data, layer_i, sample_i, batch


def check_segment(segment: object) -> int:
    """Raw time points per LSTM step: a positive integer."""
    return count_of("segment", segment)


def reach_table(forget: np.ndarray, segment: int) -> pd.DataFrame:
    """:func:`memory_reach` of one forget-gate trace shaped (time, hidden)."""
    time = forget.shape[0]
    # retention[k - 1] = R(k) = f_{T-1} * ... * f_{T-k}, k = 1..T-1: the share of the cell state
    # of step T-1-k that the forget gates let through to the last step.
    retention = np.cumprod(forget[:0:-1], axis=0)  # (time - 1, hidden)
    reach = (retention >= _REACH_RETENTION).sum(axis=0)  # R is non-increasing: a count suffices
    with np.errstate(divide="ignore"):
        mean_log = np.log(np.clip(forget, 0.0, 1.0)).mean(axis=0)
        time_constant = np.where(mean_log < 0, -1.0 / mean_log, np.inf)
    mean_forget = forget.mean(axis=0)
    return pd.DataFrame(
        {
            "unit": np.arange(forget.shape[1]),
            "mean_forget": mean_forget,
            "long_memory": mean_forget > LONG_MEMORY_FORGET,
            "reach_steps": reach,
            "reach_points": reach * segment,
            "whole_window": reach == time - 1,
            "time_constant_steps": time_constant,
            "time_constant_points": time_constant * segment,
        }
    )


def memory_reach(
    trace: GateTraceLike | Mapping[str, Any],
    *,
    sample: int = 0,
    layer: int = -1,
    segment: int = 1,
) -> pd.DataFrame:
    """How far back each unit of one LSTM layer remembers, read off its forget gate.

    With c_t = f_t * c_{t-1} + i_t * g_t, what the cell held k steps before the last step T-1
    reaches it scaled by the unit's *retention* R(k) = f_{T-1} * f_{T-2} * ... * f_{T-k} (the
    input gate may add more on top; R is the share of the old content not erased). The *memory
    reach* is the largest k (at most T-1, the start of the window) with R(k) >= 1/e. Why 1/e: for
    a constant gate f, R(k) = f**k = exp(-k / tau) with tau = -1 / ln(f), the time constant of the
    unit's exponential forgetting, so the reach is tau rounded down (f = 0.9: 9 steps; 0.99: 99).
    Where the reach covers the whole window the true reach is longer than we can see; the time
    constant -1 / mean(ln f) (the tau of the window's geometric-mean gate) extrapolates it.

    Parameters
    ----------
    trace : GateTraceLike or mapping
        As for :func:`~lstmcast.gate_plot.plot_gates`; the reach is read off ``forget``.
    sample, layer : int
        Which window of the batch and which layer (default the last).
    segment : int
        Raw time points per LSTM step (a segment-wise model's ``segment``), to convert steps.

    Returns
    -------
    DataFrame
        One row per unit: ``unit``, ``mean_forget``, ``long_memory`` (mean forget gate > 0.9),
        ``reach_steps`` and ``reach_points`` (LSTM steps and raw time points), ``whole_window``
        (the reach is cut by the window's start), ``time_constant_steps`` and
        ``time_constant_points`` (inf for a gate stuck at 1).
    """
    data, _, _, _ = gate_arrays(trace, sample, layer)
    return reach_table(data["forget"], check_segment(segment))
