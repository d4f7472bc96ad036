"""Checks of what a caller hands to the readers at the end of the data flow: the frames and arrays
that metrics, plots and the gate analysis read (forecast frames, histories, gate traces).

One checker per kind of fault, so every reader words it alike: data that cannot be used raises
:class:`~lstmcast.errors.DataError` naming the frame (``forecasts``, ``history``) and the column.
Settings (``season``, ``alpha``) are checked by :mod:`lstmcast.checks` and raise ConfigError.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import DataError

if TYPE_CHECKING:
    import pandas as pd

# Column names shown in a message about a frame's columns.
_SHOWN_COLUMNS = 12


def require_frame(frame: Any, name: str, columns: Sequence[str]) -> pd.DataFrame:
    """``frame`` if it is a DataFrame holding ``columns``; else a DataError naming ``name``."""
    import pandas as pd

    if not isinstance(frame, pd.DataFrame):
        raise DataError(
            f"{name} must be a pandas DataFrame with columns {list(columns)}, "
            f"got {type(frame).__name__}"
        )
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise DataError(
            f"{name} is missing column(s) {missing}; it has "
            f"{list(frame.columns)[:_SHOWN_COLUMNS]} and needs {list(columns)} (long format)"
        )
    return frame


def check_numeric(frame: pd.DataFrame, column: str, name: str, role: str, hint: str = "") -> None:
    """Refuse a column of ``frame`` (called ``name``) read as ``role`` that is not numbers.

    Booleans are refused too: a True where a forecast belongs is a mistake, not a 1. Missing
    values are the caller's to judge (a plot draws them as gaps, a metric refuses them).
    """
    import pandas as pd

    series = frame[column]
    if not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        raise DataError(
            f"{name} column {column!r} is read as {role} but has dtype {series.dtype}; it must be "
            f"numeric{hint} (convert it with pd.to_numeric)"
        )


def float_array(values: Any, name: str) -> np.ndarray:
    """``values`` as a float64 array: a tensor (any device, dtype, with or without grad) or any
    array-like; a DataError naming ``name`` if they are not numbers."""
    if hasattr(values, "detach"):
        values = values.detach().cpu()
        try:
            values = values.numpy()
        except TypeError:  # numpy has no bfloat16: widen first
            values = values.float().numpy()
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(
            f"{name} could not be converted to float numbers ({type(values).__name__}): {exc}"
        ) from exc


def is_int(value: object) -> bool:
    """An integer, NumPy's too, but not a bool."""
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def field(obj: object, name: str) -> Any:
    """``obj[name]`` for a mapping, else ``obj.name``, else ``obj[name]``; ``None`` if absent.

    Lets readers take a result object (``History``, ``GateTrace``) or a plain dict alike.
    """
    if isinstance(obj, Mapping):
        return obj.get(name)
    if hasattr(obj, name):
        return getattr(obj, name)
    try:
        return obj[name]  # type: ignore[index]
    except (KeyError, IndexError, TypeError):
        return None
