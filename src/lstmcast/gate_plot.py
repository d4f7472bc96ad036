"""Heatmaps of an LSTM's gates and states over time, with each unit's memory reach marked.

The picture of :mod:`lstmcast.analysis` (model -> gate trace -> analysis -> **gate plot**): one
panel per gate and state of one layer and sample, the forget gate first, and the input series on
top. Built on its own :class:`~matplotlib.figure.Figure` like every plot (see :mod:`lstmcast.plot`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, MaxNLocator

from .analysis import (
    GATES,
    LONG_MEMORY_FORGET,
    GateTraceLike,
    check_segment,
    gate_arrays,
    reach_table,
)
from .checks import count_of, float_array
from .errors import DataError
from .plot import save_figure

if TYPE_CHECKING:
    import os

    import torch
    from matplotlib.axes import Axes

_MAX_INPUT_FEATURES = 10
# Each gate's panel: its title and colour scaling ("gate" 0..1, "tanh" -1..1, "cell" symmetric).
_PANELS = {
    "forget": ("forget gate f (0..1)", "gate"),
    "input": ("input gate i (0..1)", "gate"),
    "candidate": ("candidate g (-1..1)", "tanh"),
    "output": ("output gate o (0..1)", "gate"),
    "cell": ("cell state c (symmetric)", "cell"),
    "hidden": ("hidden state h (-1..1)", "tanh"),
}


def _inputs_array(inputs: object, sample: int, batch: int, time: int, segment: int) -> np.ndarray:
    """The chosen sample's inputs, (time or time * segment, features)."""
    arr = float_array(inputs, "inputs")
    if arr.ndim == 3:
        if arr.shape[0] != batch:
            raise DataError(
                f"inputs shaped {arr.shape} look like (batch, time, features) but the trace has "
                f"batch {batch}; pass the same batch, or the chosen sample's (time, features)."
            )
        arr = arr[sample]
    if arr.ndim == 1:
        arr = arr[:, None]
    lengths = {time, time * segment}
    if arr.ndim != 2 or arr.shape[0] not in lengths:
        raw = f" or the {time * segment} raw points" if segment > 1 else ""
        raise DataError(
            f"inputs must be shaped (time,) or (time, features) with time={time} like the "
            f"trace{raw}, got {arr.shape}."
        )
    return arr


def _unit_ticks(ax: Axes, units: np.ndarray) -> None:
    # Rows are positions 0..k-1 but stand for the original unit numbers.
    pos = np.unique(np.linspace(0, units.size - 1, min(units.size, 8)).round().astype(int))
    ax.yaxis.set_major_locator(FixedLocator(pos.tolist()))
    ax.set_yticklabels([str(u) for u in units[pos]])


def plot_gates(
    trace: GateTraceLike | Mapping[str, Any],
    *,
    sample: int = 0,
    layer: int = -1,
    inputs: torch.Tensor | np.ndarray | Sequence[float] | None = None,
    input_labels: Sequence[str] | None = None,
    segment: int = 1,
    max_units: int = 64,
    path: str | os.PathLike[str] | None = None,
) -> Figure:
    """Heatmaps of every gate and state of one LSTM layer over time, for one sample.

    Parameters
    ----------
    trace : GateTraceLike or mapping
        ``input``, ``forget``, ``candidate``, ``output``, ``cell`` and optionally ``hidden``,
        each a tensor or array shaped (num_layers, batch, time, hidden).
    sample : int
        Index into the batch axis.
    layer : int
        Index into the layer axis; default the last (the one feeding the head).
    inputs : array-like, optional
        The input series, drawn on top: shaped (time,), (time, features) or
        (batch, time, features), where time is the trace's steps or, for a segment-wise model,
        the raw points (steps * segment). Up to 10 features are drawn.
    input_labels : sequence of str, optional
        Legend names of the input features; default "input", or "feature 0", "feature 1", ...
    segment : int
        Raw time points per LSTM step (a segment-wise model's ``segment``). Above 1, the x axis
        counts LSTM steps below and raw points above.
    max_units : int
        Show at most this many units: those whose cell state varies most over the window, in
        their original order.
    path : path-like, optional
        Also save the figure there (atomically), in the format its suffix names (.png, .pdf,
        .svg, ...).

    Returns
    -------
    Figure
        One heatmap axes (time on x, unit on y) and one colorbar axes per panel, plus the input
        axes when ``inputs`` is given. On the forget-gate map a white tick marks, for each unit,
        the earliest step its memory reaches (:func:`~lstmcast.analysis.memory_reach`); a
        triangle, a reach past the window's start. The title counts the long-memory units (mean
        forget gate > 0.9 over the window).

    Raises
    ------
    DataError
        A missing or mis-shaped array, ``sample``/``layer`` out of range, bad ``max_units`` or
        ``segment``, or ``inputs`` of the wrong length.
    """
    data, layer_i, sample_i, batch = gate_arrays(trace, sample, layer)
    segment = check_segment(segment)
    time, hidden = data["cell"].shape
    count_of("max_units", max_units)
    series = None if inputs is None else _inputs_array(inputs, sample_i, batch, time, segment)

    cell = data["cell"]  # (time, hidden)
    if hidden > max_units:
        variance = np.var(np.where(np.isfinite(cell), cell, 0.0), axis=0)
        # Stable sort so ties resolve to the lower unit number, deterministically.
        units = np.sort(np.argsort(-variance, kind="stable")[:max_units])
    else:
        units = np.arange(hidden)
    reach = reach_table(data["forget"], segment)
    n_long = int(reach["long_memory"].sum())

    panels = [(name, *_PANELS[name]) for name in GATES if name in data]
    n_rows = len(panels) + (series is not None)
    fig = Figure(figsize=(10, 1.0 + 1.8 * n_rows), layout="constrained")
    grid = fig.add_gridspec(n_rows, 2, width_ratios=(40, 1))
    # Heatmap pixels are centred on integer steps; the input line uses the same x limits.
    extent = (-0.5, time - 0.5, -0.5, units.size - 0.5)
    row = 0
    first: Axes | None = None
    all_axes: list[Axes] = []

    if series is not None:
        first = fig.add_subplot(grid[0, 0])
        shown = series[:, :_MAX_INPUT_FEATURES]
        # Raw point r lies in step r // segment; centre each segment's points on its step.
        per_step = segment if series.shape[0] == time * segment else 1
        x = (np.arange(series.shape[0]) - (per_step - 1) / 2) / per_step
        for j in range(shown.shape[1]):
            if input_labels is not None and j < len(input_labels):
                label = input_labels[j]
            else:
                label = "input" if series.shape[1] == 1 else f"feature {j}"
            first.plot(x, shown[:, j], lw=1.2, label=label)
        if series.shape[1] > 1 or input_labels is not None:
            more = series.shape[1] > _MAX_INPUT_FEATURES
            first.legend(
                fontsize="x-small",
                ncols=min(shown.shape[1], 5),
                loc="upper left",
                title=f"first {_MAX_INPUT_FEATURES} of {series.shape[1]}" if more else None,
            )
        first.set_xlim(extent[0], extent[1])
        first.set_ylabel("input")
        first.grid(alpha=0.3)
        if segment > 1:
            raw = first.secondary_xaxis(
                "top",
                functions=(
                    lambda s: s * segment + (segment - 1) / 2,
                    lambda r: (r - (segment - 1) / 2) / segment,
                ),
            )
            raw.set_xlabel(f"raw time point ({segment} per LSTM step)", fontsize="small")
        all_axes.append(first)
        row = 1

    for name, label, scale in panels:
        values = data[name][:, units].T  # (units, time)
        if scale == "gate":
            cmap, vmin, vmax = "viridis", 0.0, 1.0
        elif scale == "tanh":
            cmap, vmin, vmax = "RdBu_r", -1.0, 1.0
        else:
            # The cell state is unbounded: centre on 0 so the sign reads the same as for h.
            finite = np.abs(values[np.isfinite(values)])
            peak = float(finite.max()) if finite.size else 0.0
            peak = peak if peak > 0 else 1.0
            cmap, vmin, vmax = "RdBu_r", -peak, peak
        ax = fig.add_subplot(grid[row, 0], sharex=first)
        first = first or ax
        image = ax.imshow(
            values,
            aspect="auto",
            origin="lower",
            interpolation="nearest",
            cmap=cmap,
            vmin=vmin,
            vmax=vmax,
            extent=extent,
        )
        fig.colorbar(image, cax=fig.add_subplot(grid[row, 1]))
        if name == "forget":
            _draw_reach(ax, reach.iloc[units], time)
            label += ";  white tick: how far back the unit's memory reaches (retention >= 1/e)"
        ax.set_title(label, fontsize="small", loc="left")
        ax.set_ylabel("unit")
        _unit_ticks(ax, units)
        all_axes.append(ax)
        row += 1

    for ax in all_axes[:-1]:
        ax.tick_params(labelbottom=False)
    all_axes[-1].set_xlabel(
        "time step" if segment == 1 else f"LSTM step (each {segment} raw time points)"
    )
    all_axes[-1].xaxis.set_major_locator(MaxNLocator(integer=True))

    shown_note = (
        f"{units.size} of {hidden} units with the largest cell-state variance (original order)"
        if units.size < hidden
        else f"all {hidden} units"
    )
    fig.suptitle(
        f"LSTM layer {layer_i}, sample {sample_i}: {shown_note}\n"
        f"{n_long} of {hidden} long-memory units (mean forget gate > {LONG_MEMORY_FORGET} "
        f"over these {time} steps)"
    )
    return save_figure(fig, path)


def _draw_reach(ax: Axes, reach: pd.DataFrame, time: int) -> None:
    """Mark, on each unit's row, the earliest step its memory reaches."""
    rows = np.arange(len(reach))
    start = time - 1 - reach["reach_steps"].to_numpy()
    cut = reach["whole_window"].to_numpy()
    if (~cut).any():
        ax.plot(start[~cut], rows[~cut], marker="|", ms=7, mew=2, color="white", ls="none")
    if cut.any():
        # The memory goes on past the window's start: point out of it.
        ax.plot(start[cut] - 0.3, rows[cut], marker="<", ms=4, color="white", ls="none", mec="k")
    ax.set_xlim(-0.5, time - 0.5)
