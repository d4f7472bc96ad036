"""Is new data within what the model learned? Checks of values against the training scale.

Where it sits: between the input frame and the windows (data -> windows), on the way into the
network: values are measured in each series' training scale (``SeriesScaler``), and values the
float32 network cannot represent are refused, values far outside training are warned about.
"""

from __future__ import annotations

import warnings

import numpy as np

from .checks import readable
from .data import Panel, concatenated_ranges
from .errors import NAMED_SERIES, DataError, DataWarning, count, option
from .timesteps import show_time
from .windows import SeriesScaler

# How far (in training standard deviations from the training mean) a value of new history may lie
# before predict warns. Standard-scaled training values lie within a few units (Chebyshev: at most
# 1% beyond 10), and a level that drifts on as it did in training stays within tens (a linear
# trend continued for ten times its training span ends about 36 out); data in other units (cents
# for dollars, grams for kilograms) lands at hundreds to thousands, where the network's inputs are
# far beyond anything it learned from.
FAR_FROM_TRAINING = 100.0


def warn_far_from_training(panel: Panel, scaler: SeriesScaler, window: int) -> None:
    """Warn (DataWarning) when the last ``window`` points of a series lie far from its training
    values.

    Measured in the series' training scale, ``|y - mean| / std``, against
    FAR_FROM_TRAINING (only for a model that scales: one trained without scaling keeps no
    training statistics to measure by). Series the model does not know, and values beyond the
    float32 range that the forecast refuses (:func:`check_scaled`), are left to the forecast's
    own error.
    """
    lookup = scaler._lookup
    rows = np.array([lookup.get(series_id, -1) for series_id in panel.ids], dtype=np.int64)
    known = np.flatnonzero(rows >= 0)
    if len(known) == 0:
        return
    last = panel.tail(window)
    lengths = last.lengths[known]
    values = last.y[concatenated_ranges(last.starts[known], last.ends[known])]
    shift = np.repeat(scaler.shift[rows[known]], lengths)
    scale = np.repeat(scaler.scale[rows[known]], lengths)
    with np.errstate(over="ignore"):
        distance = np.abs(values - shift) / scale
    # Per series; fmax skips missing values (NaN, masked).
    farthest = np.fmax.reduceat(distance, np.cumsum(lengths) - lengths)
    refused = ~(farthest <= np.finfo(np.float32).max)
    far = np.flatnonzero((farthest > FAR_FROM_TRAINING) & ~refused)
    if len(far) == 0:
        return
    named = ", ".join(
        f"{panel.ids[known[i]]!r} at {readable(farthest[i])}" for i in far[:NAMED_SERIES]
    )
    more = f" (and {len(far) - NAMED_SERIES} more)" if len(far) > NAMED_SERIES else ""
    warnings.warn(
        f"{count(len(far), 'series', 'series')} {'has' if len(far) == 1 else 'have'} "
        f"values far outside what the model was trained on: {named}"
        f"{more} training standard deviations from the training mean (more than "
        f"{FAR_FROM_TRAINING:g}); the forecast extrapolates beyond anything the model saw: "
        "check the data's units and that these are the series it was trained on",
        DataWarning,
        stacklevel=4,
    )


def check_scaled(panel: Panel, scaled: np.ndarray, index: np.ndarray, scaler_kind: str) -> None:
    """Refuse scaled values (any shape) of panel rows ``index`` beyond float32's range.

    The network computes in float32 (largest 3.4e38): a value that far from its series'
    training statistics would become infinite, and the loss or forecast NaN. ``scaler_kind``:
    the model's ``scaler`` setting, which the advice depends on. A missing value (NaN, only
    with ``missing="mask"``: scaling finite values never makes one) is left to the mask.
    """
    beyond = np.abs(scaled) > np.finfo(np.float32).max
    if not beyond.any():
        return
    first = int(np.argmax(beyond.reshape(-1)))
    row = int(index.reshape(-1)[first])
    i = panel.series_of(row)
    where = f"series {panel.ids[i]!r} has {panel.y[row]:.3g} at {show_time(panel.ds[row])}"
    if scaler_kind == "none":
        raise DataError(
            f"{where}, beyond the float32 numbers (up to 3.4e38) the network computes with; "
            f"use {option('scaler', 'standard')}, which scales each series"
        )
    raise DataError(
        f"{where}, {np.abs(scaled).reshape(-1)[first]:.3g} times its scale away from its "
        "level (both from its training part): beyond the float32 numbers the network "
        "computes with; train on data where the series varies like this, or rescale it"
    )
