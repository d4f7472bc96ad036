"""lstmcast: time-series forecasting with LSTM networks, on PyTorch.

Data flows one way: files (``reading``) or an input frame -> its layout (``layout``) -> the
validated ``Panel`` (``data``; time steps in ``timesteps``) -> windows (``windows``) -> the LSTM
(``lstm``, ``model``, ``train``) -> forecasts (``forecast``, ``lstm_forecaster``) -> metrics and
plots (``metrics``, ``scoring``, ``plot``, ``training_plot``, ``gate_plot``; ``analysis`` reads
the gates without matplotlib).
``distributed`` makes training and I/O data-parallel under ``torchrun``; ``experiment`` trains the
LSTM on the adding problem, a test of long memory.
"""

from __future__ import annotations

import functools
import gc
import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

from .errors import (
    ConfigError,
    DataError,
    DataWarning,
    ForecastError,
    LstmcastError,
    ModelFileError,
    NotFittedError,
    TrainingError,
)

# Public names, by the module that defines them. Modules load on first use, so `import lstmcast`
# (and `lstmcast --help`) stays fast: torch alone costs about a second, matplotlib and pandas more.
_LAZY = {
    "analysis": ("memory_reach",),
    "data": ("Panel", "split", "to_long"),
    "experiment": ("AddingResult", "adding_problem"),
    "forecast": ("Forecaster", "Naive", "SeasonalNaive"),
    "gate_plot": ("plot_gates",),
    "layout": ("Layout", "layouts"),
    "lstm": ("LSTM", "GateTrace"),
    "lstm_forecaster": ("LSTMForecaster", "load"),
    "metrics": ("coverage", "mae", "mase", "msis", "rmse", "smape"),
    "missing": ("Fills", "fill_gaps"),
    "plot": ("plot_forecast",),
    "reading": ("data_files", "read_csv", "read_files", "read_parquet", "read_table"),
    "scoring": ("evaluate",),
    "threads": ("pin_threads",),
    "tracking": ("MLflowLogger", "TensorBoardLogger"),
    "train": ("Callback", "History"),
    "training_plot": ("plot_adding", "plot_history"),
    "tuning": ("TuneResult", "tune"),
}
_MODULE_OF = {name: module for module, names in _LAZY.items() for name in names}

if TYPE_CHECKING:
    from .analysis import memory_reach
    from .data import Panel, split, to_long
    from .experiment import AddingResult, adding_problem
    from .forecast import Forecaster, Naive, SeasonalNaive
    from .gate_plot import plot_gates
    from .layout import Layout, layouts
    from .lstm import LSTM, GateTrace
    from .lstm_forecaster import LSTMForecaster, load
    from .metrics import coverage, mae, mase, msis, rmse, smape
    from .missing import Fills, fill_gaps
    from .plot import plot_forecast
    from .reading import data_files, read_csv, read_files, read_parquet, read_table
    from .scoring import evaluate
    from .threads import pin_threads
    from .tracking import MLflowLogger, TensorBoardLogger
    from .train import Callback, History
    from .training_plot import plot_adding, plot_history
    from .tuning import TuneResult, tune


@functools.cache  # once: what is created later stays collectable
def _freeze_imports() -> None:
    """Move every object alive now (torch's, mostly) out of the garbage collector's sight.

    Importing torch builds about 170,000 Python objects that live until exit. Python's last
    collection at exit tears them down one by one, about half a second on a 2-core machine (as
    long as training the tutorial's model), and every full collection during training walks them
    too. Frozen objects are still freed by reference counting; what is created later, such as
    the caller's data, is collected as usual. ``gc.unfreeze()`` undoes it.
    """
    gc.freeze()


def __getattr__(name: str) -> Any:
    if name in _MODULE_OF:
        module = importlib.import_module(f".{_MODULE_OF[name]}", __name__)
        _freeze_imports()
        value = getattr(module, name)
        globals()[name] = value  # later look-ups skip this function
        return value
    raise AttributeError(f"module 'lstmcast' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "LSTM",
    "AddingResult",
    "Callback",
    "ConfigError",
    "DataError",
    "DataWarning",
    "Fills",
    "ForecastError",
    "Forecaster",
    "GateTrace",
    "History",
    "LSTMForecaster",
    "Layout",
    "LstmcastError",
    "MLflowLogger",
    "ModelFileError",
    "Naive",
    "NotFittedError",
    "Panel",
    "SeasonalNaive",
    "TensorBoardLogger",
    "TrainingError",
    "TuneResult",
    "__version__",
    "adding_problem",
    "coverage",
    "data_files",
    "evaluate",
    "fill_gaps",
    "layouts",
    "load",
    "mae",
    "mase",
    "memory_reach",
    "msis",
    "pin_threads",
    "plot_adding",
    "plot_forecast",
    "plot_gates",
    "plot_history",
    "read_csv",
    "read_files",
    "read_parquet",
    "read_table",
    "rmse",
    "smape",
    "split",
    "to_long",
    "tune",
]
