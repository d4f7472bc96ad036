"""The target transform: the LSTM learns ``log(y)`` and every value it gives back is ``exp``'d.

Where it sits: between the panel (the user's units) and the per-series scaling (data ->
**model units** -> scaled windows -> network), and again after de-scaling (network -> model
units -> **the user's units**). With ``target_transform="log"`` the scaler, the windows, the
loss, early stopping and the interval calibration all see ``log(y)``; the panel a model keeps
(``tail_``), backtest actuals, diagnostics and every forecast stay in the user's units. ``exp``
is monotone, so quantiles and conformal bounds computed on the log scale map through it exactly.
None is the identity: the same arrays, untouched.

The log is the user's choice or the recipe's (``target_transform="auto"``: the log when every
training value is above 0 and the spread grows with the level, ``recipe.guerrero_lambda``). A
value <= 0 in later data is refused under the user's log; under the recipe's it is read as the
smallest value above 0 of its series in the same data, with a DataWarning (``floored``): the
recipe made a promise about the training data, not the future.
The panel itself keeps the value as given, so backtest actuals and scores see the real one.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np

from .data import Panel
from .errors import DataError, DataWarning, count, option
from .timesteps import show_time

TARGET_TRANSFORMS = ("log",)


def check_positive(panel: Panel, transform: str | None, what: str, floored: bool = False) -> None:
    """Refuse a non-positive observed target value of ``panel`` (``what``: where it came from)
    when ``transform`` is "log", naming its series and time; missing values (NaN) are skipped.

    ``floored`` (the recipe chose the log): such values are only warned about (DataWarning),
    as the model reads them as their series' smallest value above 0 (:func:`smallest_positive`);
    a series with no value above 0 at all is still refused.
    """
    if transform != "log":
        return
    bad = panel.y <= 0  # NaN compares False: a missing value stays missing
    if not bad.any():
        return
    row = int(np.argmax(bad))
    i = panel.series_of(row)
    when = show_time(panel.in_zone(panel.ds[row : row + 1])[0])
    first = f"series {panel.ids[i]!r} has the value {panel.y[row]:g} at {when} in {what}"
    hopeless = np.isnan(smallest_positive(panel))
    if floored and not hopeless.any():
        others = int(bad.sum()) - 1
        more = f" ({count(others, 'other value')} too)" if others else ""
        warnings.warn(
            f"{first}{more}; the model learned log(y) from training values all above 0 "
            "(the recipe's choice), so each value <= 0 is read as the smallest value above 0 "
            "of its series here; refit with target_transform=None to forecast such values "
            "as they are",
            DataWarning,
            stacklevel=2,
        )
        return
    if floored:
        i = int(np.argmax(hopeless))
        first = f"series {panel.ids[i]!r} has no value above 0 in {what}"
    raise DataError(
        f"{first}; {option('target_transform', 'log')} needs every value above 0 (forecast such "
        "a series without it, or shift it above 0 first)"
    )


def smallest_positive(panel: Panel) -> np.ndarray:
    """Each series' smallest observed target value above 0, (n,); NaN for a series with none."""
    positive = np.where(panel.y > 0, panel.y, np.inf)
    smallest = np.minimum.reduceat(positive, panel.starts[:-1]) if len(positive) else positive
    return np.where(np.isfinite(smallest), smallest, np.nan)


def model_values(
    values: np.ndarray, transform: str | None, floor: np.ndarray | None = None
) -> np.ndarray:
    """Target ``values`` (any shape, the user's units) in model units: ``log(values)``, or
    ``values`` themselves (NaN stays NaN). ``floor`` (broadcast against ``values``): what a
    value <= 0 is read as (see :func:`check_positive`)."""
    if transform != "log":
        return values
    if floor is not None:
        values = np.where(values <= 0, floor, values)  # NaN compares False: stays missing
    return np.log(values)


def to_model(panel: Panel, transform: str | None, floored: bool = False) -> Panel:
    """``panel`` with its target in model units (rows,): ``log(y)``, or ``panel`` itself;
    ``floored``: a value <= 0 read as its series' smallest above 0."""
    if transform != "log":
        return panel
    floor = None
    if floored and (panel.y <= 0).any():
        floor = np.repeat(smallest_positive(panel), panel.lengths)
    return dataclasses.replace(panel, y=model_values(panel.y, transform, floor))


def to_user(values: np.ndarray, transform: str | None) -> np.ndarray:
    """Model-unit ``values`` (any shape) in the user's units: ``exp(values)``, or as they are."""
    if transform != "log":
        return values
    with np.errstate(over="ignore"):  # a forecast beyond float64 is inf, refused where it matters
        return np.exp(values)
