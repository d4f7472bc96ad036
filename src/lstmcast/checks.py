"""Checks of what callers hand to lstmcast, one way for every module, one exception per fault.

- A setting or argument that is wrong by itself (a hyper-parameter, ``h``, a level, a metric's
  ``season``, a plot's ``max_units``) raises :class:`~lstmcast.errors.ConfigError`, named as the
  reader wrote it (``--window`` on the command line, ``window=`` in Python). :class:`Rule`
  declares such a constraint once; :func:`count_of`, :func:`check_level` apply common ones.
- Data that cannot be used, or an argument that does not fit the data (a series id that is not
  there, a sample index beyond the batch), raises :class:`~lstmcast.errors.DataError` naming
  the frame and column: :func:`require_frame`, :func:`check_numeric`, :func:`float_array`.
  (Input files and frames are validated where they are read: ``reading``, ``data``.)
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import ConfigError, DataError, count, option, setting

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class Rule:
    """A declarative constraint on a setting or argument; ``check`` raises ConfigError."""

    kind: type | tuple[type, ...]
    low: float | None = None
    high: float | None = None
    low_open: bool = False  # True: value must be > low, else >= low
    high_open: bool = False  # True: value must be < high, else <= high
    optional: bool = False  # None allowed
    choices: tuple[str, ...] | None = None

    def check(self, keyword: str, value: Any) -> None:
        if value is None and self.optional:
            return
        if isinstance(value, np.integer | np.floating):  # len() of an array, a config value
            value = value.item()
        name = setting(keyword)  # --window on the command line
        kinds = self.kind if isinstance(self.kind, tuple) else (self.kind,)
        # A bool is an int to Python, but True is no window length: only a bool rule takes one.
        if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
            expected = " or ".join(k.__name__ for k in kinds)
            raise ConfigError(f"{name} must be {expected}, got {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{name} must be a finite number, got {value!r}")
        if self.choices is not None and value not in self.choices:
            raise ConfigError(f"{name} must be one of {', '.join(self.choices)}; got {value!r}")
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            raise ConfigError(
                f"{name} must be {'>' if self.low_open else '>='} {self.low:g}, got {value!r}"
            )
        if self.high is not None and (value >= self.high if self.high_open else value > self.high):
            raise ConfigError(
                f"{name} must be {'<' if self.high_open else '<='} {self.high:g}, got {value!r}"
            )


def check_level(name: str, value: Any) -> None:
    """An interval level in percent: above 0 and below 100."""
    Rule((int, float), 0, 100, low_open=True).check(name, value)
    if value == 100:
        raise ConfigError(f"{setting(name)} must be below 100 (a 100% interval is unbounded)")


def spelled(name: str, value: Any) -> str:
    """Setting ``name`` at ``value`` as the reader writes it (``hidden_size=8``, ``--hidden-size
    8``); an unset one (None) as ``no forget_bias`` / ``no --forget-bias``."""
    return f"no {setting(name)}" if value is None else option(name, value)


def readable(x: float) -> str:
    """``1,234`` for numbers a person reads digit by digit, ``3.92e+17`` beyond (``12.5``
    below 100)."""
    if x < 100:
        return f"{x:.1f}"
    return f"{x:,.0f}" if x < 1e9 else f"{x:.3g}"


def available_memory() -> int | None:
    """Bytes of memory the system can still give (Linux's MemAvailable), or None if unknown."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:  # free physical pages: an underestimate (the page cache could be reclaimed)
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


# Bytes per forecast point: the working arrays of a forecast (values, times, ids), and each
# column of the frame it becomes (built once, copied once into the frame).
_POINT_BYTES, _COLUMN_BYTES = 32, 16


def check_output_size(
    k: int, h: int, columns: int, what: str, n_windows: int | None = None
) -> None:
    """Refuse ``k`` forecasts of ``h`` steps in ``columns`` columns that memory cannot hold.

    ``what`` describes the ``k`` rows, e.g. "2 series"; a backtest passes its ``n_windows``
    (``k`` counts series x windows), so that fewer windows can be advised when fewer steps
    cannot help.
    """
    available = available_memory()
    per_step = k * (_POINT_BYTES + _COLUMN_BYTES * columns)
    if available is None or per_step * h <= available:
        return
    fits = available // per_step
    per_window = per_step // n_windows * h if n_windows else 0
    if fits >= 1:
        advice = f"use {option('h', int(fits))} or less"
    elif per_window and available // per_window >= 1:
        advice = f"use {option('n_windows', int(available // per_window))} or less"
    elif n_windows and n_windows > 1:
        advice = f"lower both {setting('h')} and {setting('n_windows')}"
    else:
        advice = "forecast fewer series at a time"
    raise ConfigError(
        f"{option('h', h)} for {what} makes a forecast of about "
        f"{readable(per_step * h / 1e9)} GB ({what} x {count(h, 'step')} x {columns} "
        f"columns), more than the {available / 1e9:.1f} GB of memory available; {advice}"
    )


def check_backtest_size(n_series: int, n_windows: int, h: int, columns: int) -> None:
    """Refuse a backtest of ``columns`` columns that memory cannot hold."""
    what = f"{count(n_series, 'series', 'series')} x {count(n_windows, 'window')}"
    check_output_size(n_series * n_windows, h, columns, what, n_windows=n_windows)


def count_of(keyword: str, value: Any) -> int:
    """A count argument (``h``, ``n_windows``, ``step_size``): an int >= 1, NumPy's too."""
    Rule(int, 1).check(keyword, value)
    return int(value)


def check_h(h: Any) -> int:
    return count_of("h", h)


def check_backtest(h: Any, n_windows: Any, step_size: Any) -> tuple[int, int, int]:
    """``h``, ``n_windows`` and ``step_size`` (None: ``h``) of a backtest, each checked."""
    h = check_h(h)
    n_windows = count_of("n_windows", n_windows)
    step_size = count_of("step_size", h if step_size is None else step_size)
    return h, n_windows, step_size


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
