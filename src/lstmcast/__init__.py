"""lstmcast: time-series forecasting with LSTM networks, on PyTorch.

Data flows one way: input frame (``data``) -> windows (``windows``) -> the LSTM (``lstm``,
``model``, ``train``) -> forecasts (``forecast``) -> metrics and plots (``metrics``, ``plot``).
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

from .data import Panel, read_csv, split, to_long
from .errors import (
    ConfigError,
    DataError,
    LstmcastError,
    ModelFileError,
    NotFittedError,
    TrainingError,
)
from .forecast import Forecaster, LSTMForecaster, Naive, SeasonalNaive
from .io import load
from .lstm import LSTM, GateTrace
from .metrics import coverage, evaluate, mae, mase, msis, rmse, smape
from .train import Callback, History

_PLOTS = ("plot_forecast", "plot_history", "plot_gates")


def __getattr__(name: str) -> Any:
    # matplotlib costs ~0.3 s to import: load the plotting module only when a plot is asked for.
    if name in _PLOTS:
        from . import plot

        return getattr(plot, name)
    raise AttributeError(f"module 'lstmcast' has no attribute {name!r}")


__all__ = [
    "LSTM",
    "Callback",
    "ConfigError",
    "DataError",
    "Forecaster",
    "GateTrace",
    "History",
    "LSTMForecaster",
    "LstmcastError",
    "ModelFileError",
    "Naive",
    "NotFittedError",
    "Panel",
    "SeasonalNaive",
    "TrainingError",
    "__version__",
    "coverage",
    "evaluate",
    "load",
    "mae",
    "mase",
    "msis",
    "plot_forecast",
    "plot_gates",
    "plot_history",
    "read_csv",
    "rmse",
    "smape",
    "split",
    "to_long",
]
