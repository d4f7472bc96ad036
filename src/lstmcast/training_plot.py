"""Training curves: a model's loss per epoch, and the adding problem's learning curves.

The pictures of the training step (windows -> model -> **training curves**): they read a
:class:`~lstmcast.train.History` (or a mapping of losses) and
:class:`~lstmcast.experiment.AddingResult` runs. Built on their own
:class:`~matplotlib.figure.Figure` like every plot (see :mod:`lstmcast.plot`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .checks import field, float_array
from .errors import DataError
from .plot import root_figure, save_figure

if TYPE_CHECKING:
    import os

    from matplotlib.axes import Axes

    from .experiment import AddingResult


def _loss_array(values: object, name: str) -> np.ndarray:
    if values is None:
        return np.empty(0)
    arr = float_array(values, f"history[{name!r}]")
    if arr.ndim != 1:
        raise DataError(
            f"history[{name!r}] must be a flat list of per-epoch losses, got {arr.shape}."
        )
    return arr


def plot_history(
    history: Mapping[str, Sequence[float] | None] | object,
    *,
    path: str | os.PathLike[str] | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Plot training and validation loss per epoch and mark the best validation epoch.

    Parameters
    ----------
    history : mapping or object
        ``train_loss`` (n_epochs floats) and ``val_loss`` (n_epochs floats, or ``None``/empty
        without validation), as keys or attributes. The y axis is logarithmic when the positive
        losses span more than two decades.
    path : path-like, optional
        Also save the figure there (atomically), in the format its suffix names (.png, .pdf,
        .svg, ...).
    ax : Axes, optional
        Draw into this axes instead of a new figure.

    Returns
    -------
    Figure
        The new figure, or ``ax``'s figure.

    Raises
    ------
    DataError
        ``train_loss`` missing or empty, or a loss list that is not flat numbers.
    """
    train = _loss_array(field(history, "train_loss"), "train_loss")
    if train.size == 0:
        raise DataError(
            "history has no train_loss: expected {'train_loss': [...], 'val_loss': [...]} with "
            "one value per epoch; train for at least one epoch."
        )
    val = _loss_array(field(history, "val_loss"), "val_loss")

    if ax is None:
        fig = Figure(figsize=(7, 4), layout="constrained")
        ax = fig.add_subplot()
    else:
        fig = root_figure(ax)

    # Markers show individual epochs when there are few of them; many would be a smear.
    marker = "o" if max(train.size, val.size) <= 30 else None
    ax.plot(np.arange(1, train.size + 1), train, color="C0", marker=marker, ms=3, label="train")
    if val.size:
        ax.plot(np.arange(1, val.size + 1), val, color="C1", marker=marker, ms=3, label="val")
        finite = np.isfinite(val)
        if finite.any():
            best = int(np.argmin(np.where(finite, val, np.inf)))
            ax.axvline(best + 1, color="C1", ls=":", lw=1)
            ax.plot(
                best + 1,
                val[best],
                marker="*",
                ms=12,
                color="C1",
                ls="none",
                label=f"best val: epoch {best + 1} ({val[best]:.4g})",
            )

    losses = np.concatenate([train, val])
    losses = losses[np.isfinite(losses)]
    # Log scale only when every loss is positive: a zero cannot be placed on it.
    if losses.size and (losses > 0).all() and losses.max() / losses.min() > 100:
        ax.set_yscale("log")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title("Training history")
    ax.grid(alpha=0.3)
    # Losses fall, so the upper right is usually empty; "best" would search and may warn.
    ax.legend(loc="upper right", fontsize="small")
    return save_figure(fig, path)


def plot_adding(
    results: AddingResult | Sequence[AddingResult],
    *,
    path: str | os.PathLike[str] | None = None,
) -> Figure:
    """Learning curves of adding-problem runs (:func:`lstmcast.experiment.adding_problem`).

    Test MSE (log scale, with the trivial answer's MSE dashed) and test accuracy (share within
    0.04 of the target) against training steps, one line per run.

    Parameters
    ----------
    results : AddingResult or sequence of them
    path : path-like, optional
        Also save the figure there (atomically), in the format its suffix names (.png, .pdf,
        .svg, ...).

    Returns
    -------
    Figure
        Two axes: test MSE above, accuracy below.
    """
    runs = [results] if hasattr(results, "curve") else list(results)  # type: ignore[arg-type]
    if not runs:
        raise DataError("results is empty: pass at least one adding-problem result.")
    fig = Figure(figsize=(8, 6), layout="constrained")
    mse_ax, acc_ax = fig.subplots(2, 1, sharex=True)
    for k, run in enumerate(runs):
        label = (
            f"{run.cell.upper()}, T = {run.length}: {run.steps} steps, {run.seconds:.0f} s, "
            f"accuracy {run.accuracy:.1%}"
        )
        curve = run.curve
        mse_ax.plot(curve["step"], curve["test_mse"], color=f"C{k}", label=label)
        acc_ax.plot(curve["step"], curve["accuracy"], color=f"C{k}")
    baselines = sorted({round(run.baseline_mse, 3) for run in runs})
    for value in baselines:
        mse_ax.axhline(value, color="grey", ls="--", lw=1)
    mse_ax.text(
        0.01, baselines[-1], " always 1.0", color="grey", va="bottom",
        transform=mse_ax.get_yaxis_transform(),
    )  # fmt: skip
    mse_ax.set_yscale("log")
    mse_ax.set_ylabel("test MSE")
    mse_ax.set_title("Adding problem: learning curves", loc="left")
    mse_ax.legend(fontsize="small", loc="lower left")
    acc_ax.set_ylim(-0.02, 1.02)
    acc_ax.set_ylabel("accuracy (|error| < 0.04)")
    acc_ax.set_xlabel("training step")
    for ax in (mse_ax, acc_ax):
        ax.grid(alpha=0.3)
    return save_figure(fig, path)
