"""The names of the columns lstmcast reads and writes, in one place.

A long frame holds ``unique_id, ds, y``; forecasts add one column per model (``LSTM``) and, with
intervals, ``<model>-lo-<level>`` and ``<model>-hi-<level>``; backtests add ``cutoff``. Readers
(metrics, plots) parse interval columns with :func:`parse_interval`, writers build them with
:func:`interval_column`, so the two cannot drift apart.
"""

from __future__ import annotations

import re

import numpy as np

ID, TIME, TARGET = "unique_id", "ds", "y"
CUTOFF = "cutoff"
# Columns of a forecast or backtest frame that are not a model's forecasts.
NOT_MODELS = (ID, TIME, CUTOFF, TARGET)

# The model part is greedy, so model names may contain "-".
_INTERVAL = re.compile(r"^(?P<model>.+)-(?P<side>lo|hi)-(?P<level>\d+(?:\.\d+)?)$")


def level_label(level: float) -> str:
    """A level as it appears in column names: ``80`` -> ``"80"``, ``99.9`` -> ``"99.9"``.

    The shortest text that reads back as the same number, so two different levels never share
    a column (``:g`` would print 99.99999 as "100").
    """
    return np.format_float_positional(float(level), trim="-")


def interval_column(model: str, side: str, level: float) -> str:
    """``LSTM-lo-80``: the column of ``model``'s lower (``side="lo"``) or upper (``"hi"``) bound."""
    return f"{model}-{side}-{level_label(level)}"


def parse_interval(name: object) -> tuple[str, str, str] | None:
    """``(model, side, level text)`` of an interval column name, or None for any other column."""
    match = _INTERVAL.match(name) if isinstance(name, str) else None
    return None if match is None else (match["model"], match["side"], match["level"])
