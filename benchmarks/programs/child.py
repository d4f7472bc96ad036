"""What the child programs share: their parameters, the tutorial's series, the RESULT line.

Only the standard library is imported at the top of this module and of every program: a W1
child's clock starts in ``run_w1``, before the child imports numpy, torch, lstmcast or
TensorFlow, so that their import is timed inside the child (``import_s``) as a user would pay
it, not hidden in the interpreter's start-up. numpy is therefore imported inside the functions
here; by the time they run, the program has loaded it.
"""

from __future__ import annotations

import json
import resource
import time

# Not ``from typing import TYPE_CHECKING``: importing typing would itself load modules that
# torch otherwise loads inside the timed import.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from types import ModuleType
    from typing import Any

    import numpy as np

RESULT_PREFIX = "RESULT "  # the line a child prints its figures on, as JSON


def read_params(argv: Sequence[str]) -> dict[str, Any]:
    """The run's parameters: one JSON object, the first argument (as benchmarks.speed passes)."""
    return json.loads(argv[0])


def print_result(figures: dict[str, float]) -> None:
    """The one line the parent reads: everything else on stdout or stderr is ignored."""
    print(RESULT_PREFIX + json.dumps(figures), flush=True)


def tutorial_series(params: dict[str, Any]) -> np.ndarray:
    """W1's series, ``lstmcast demo``'s: sin(frequency t) + N(0, noise_sd^2), always data_seed.

    Built here rather than with ``lstmcast.demo.sine_series``: the PyTorch and Keras children
    must not import lstmcast.
    """
    import numpy as np

    rng = np.random.default_rng(params["data_seed"])
    points = params["points"]
    return np.sin(params["frequency"] * np.arange(points)) + rng.normal(
        0.0, params["noise_sd"], points
    )


def train_test_sizes(params: dict[str, Any]) -> tuple[int, int]:
    """How many of the series' windows train (the first ones) and how many are held out."""
    n_windows = params["points"] - params["window"]
    n_test = round(n_windows * params["test_fraction"])
    return n_windows - n_test, n_test


def next_value_windows(series: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Every window of ``window`` points, (n, window), and the value after each, (n,)."""
    import numpy as np

    return np.lib.stride_tricks.sliding_window_view(series[:-1], window), series[window:]


def rmse(prediction: np.ndarray, actual: np.ndarray) -> float:
    import numpy as np

    return float(np.sqrt(np.mean((prediction - actual) ** 2)))


def _no_lap() -> None:
    """Where nothing is timed (benchmarks.w1_seeds), the stages pass unmarked."""


def train_and_score(
    program: ModuleType,
    params: dict[str, Any],
    lap: Callable[[], None] = _no_lap,
    **fit_options: Any,
) -> float:
    """One tool's W1 job on the tutorial's series; the held-out RMSE, one step ahead.

    ``program`` is a W1 module (``prepare``, ``fit``, ``predict``); ``lap`` is called after each
    of the three, so that a child can time them; ``fit_options`` go to its ``fit``.
    """
    data = program.prepare(tutorial_series(params), params)
    lap()
    model = program.fit(data, params, **fit_options)
    lap()
    prediction, actual = program.predict(model, data)
    lap()
    return rmse(prediction, actual)


def run_w1(program: ModuleType, argv: Sequence[str]) -> int:
    """A W1 child's whole run, timed from inside, and its RESULT line; the exit code.

    ``program.import_tool`` loads numpy and the tool inside the timed span; the data preparation
    between the import and the fit is counted in neither.
    """
    started = time.perf_counter()
    params = read_params(argv)
    program.import_tool(params["threads"])
    laps = [time.perf_counter()]
    score = train_and_score(program, params, lambda: laps.append(time.perf_counter()))
    imported, data_ready, fitted, predicted = laps
    print_result(
        {
            "import_s": imported - started,
            "fit_s": fitted - data_ready,
            "predict_s": predicted - fitted,
            "rmse": score,
            "in_process_s": time.perf_counter() - started,
            "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }
    )
    return 0
