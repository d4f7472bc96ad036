"""W1 through lstmcast's public API; a whole child process per run.

``LSTMForecaster(...).fit`` on the training part, then ``backtest(h=1, step_size=1)`` over the
held-out windows. Run by benchmarks.speed as
``python -m benchmarks.programs.w1_lstmcast '<JSON parameters>'``; prints one RESULT line.
"""

from __future__ import annotations

import sys

from benchmarks.programs import child

TYPE_CHECKING = False  # not typing's: see child's docstring
if TYPE_CHECKING:
    from typing import Any

    import numpy as np

    import lstmcast as lc

    LstmcastData = tuple[np.ndarray, int, int]


def import_tool(threads: int | None) -> None:
    """numpy and lstmcast, imported here and not at the top: the child times this import."""
    import numpy  # noqa: F401  (loaded with lstmcast, as a user's script would)

    import lstmcast as lc

    lc.LSTMForecaster  # noqa: B018  lstmcast loads its modules on first use: this imports torch
    if threads:
        import torch

        torch.set_num_threads(threads)


def prepare(series: np.ndarray, params: dict[str, Any]) -> LstmcastData:
    """lstmcast takes the series itself: it with the numbers of training and held-out windows."""
    return (series, *child.train_test_sizes(params))


def fit(data: LstmcastData, params: dict[str, Any]) -> lc.LSTMForecaster:
    """The tutorial's forecaster, fit on the points that make the training windows."""
    import lstmcast as lc

    series, n_train, _ = data
    return lc.LSTMForecaster(
        recipe="tutorial",  # the tutorial's job: MSE, no validation, ... where not listed
        window=params["window"],
        horizon=1,
        hidden_size=params["hidden"],
        epochs=params["epochs"],
        batch_size=params["batch"],
        lr=params["lr"],
        random_state=params["seed"],
    ).fit(series[: params["window"] + n_train])


def predict(model: lc.LSTMForecaster, data: LstmcastData) -> tuple[np.ndarray, np.ndarray]:
    """One step ahead over the held-out windows (fed the actual past): predictions, actuals."""
    series, _, n_test = data
    held_out = model.backtest(series, h=1, n_windows=n_test, step_size=1)
    return held_out["LSTM"].to_numpy(), held_out["y"].to_numpy()


if __name__ == "__main__":
    raise SystemExit(child.run_w1(sys.modules[__name__], sys.argv[1:]))
