"""The target transform: the LSTM learns ``log(y)`` and every value it gives back is ``exp``'d.

Where it sits: between the panel (the user's units) and the per-series scaling (data ->
**model units** -> scaled windows -> network), and again after de-scaling (network -> model
units -> **the user's units**). With ``target_transform="log"`` the scaler, the windows, the
loss, early stopping and the interval calibration all see ``log(y)``; the panel a model keeps
(``tail_``), backtest actuals, diagnostics and every forecast stay in the user's units. ``exp``
is monotone, so quantiles and conformal bounds computed on the log scale map through it exactly.
None (the default) is the identity: the same arrays, untouched.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .data import Panel
from .errors import DataError, option
from .timesteps import show_time

TARGET_TRANSFORMS = ("log",)


def check_positive(panel: Panel, transform: str | None, what: str) -> None:
    """Refuse a non-positive observed target value of ``panel`` (``what``: where it came from)
    when ``transform`` is "log", naming its series and time; missing values (NaN) are skipped."""
    if transform != "log":
        return
    bad = panel.y <= 0  # NaN compares False: a missing value stays missing
    if not bad.any():
        return
    row = int(np.argmax(bad))
    i = panel.series_of(row)
    when = show_time(panel.in_zone(panel.ds[row : row + 1])[0])
    raise DataError(
        f"series {panel.ids[i]!r} has the value {panel.y[row]:g} at {when} in {what}; "
        f"{option('target_transform', 'log')} needs every value above 0 (forecast such a "
        "series without it, or shift it above 0 first)"
    )


def model_values(values: np.ndarray, transform: str | None) -> np.ndarray:
    """Target ``values`` (any shape, the user's units) in model units: ``log(values)``, or
    ``values`` themselves (NaN stays NaN)."""
    return np.log(values) if transform == "log" else values


def to_model(panel: Panel, transform: str | None) -> Panel:
    """``panel`` with its target in model units (rows,): ``log(y)``, or ``panel`` itself."""
    if transform != "log":
        return panel
    return dataclasses.replace(panel, y=model_values(panel.y, transform))


def to_user(values: np.ndarray, transform: str | None) -> np.ndarray:
    """Model-unit ``values`` (any shape) in the user's units: ``exp(values)``, or as they are."""
    if transform != "log":
        return values
    with np.errstate(over="ignore"):  # a forecast beyond float64 is inf, refused where it matters
        return np.exp(values)
