"""One lstmcast training for benchmarks.threads: a fixed job, threads pinned or lstmcast's choice.

Run as ``python -m benchmarks.programs.busy_fit '<JSON parameters>'`` with ``threads`` (a count
to pin, or null for lstmcast's choice), ``series``, ``points``, ``window``, ``hidden_size``,
``epochs`` and ``seed``; prints one RESULT line: fit seconds and the threads training used.
"""

from __future__ import annotations

import sys
import time

from benchmarks.programs import child


def main() -> None:
    params = child.read_params(sys.argv[1:])
    import numpy as np
    import pandas as pd

    import lstmcast as lc

    if params["threads"] is not None:
        lc.pin_threads(params["threads"])
    rng = np.random.default_rng(params["seed"])
    n, points = params["series"], params["points"]
    t = np.arange(points)
    frame = pd.DataFrame(
        {
            "unique_id": np.repeat([f"s{i}" for i in range(n)], points),
            "ds": np.tile(t, n),
            "y": np.concatenate(
                [np.sin(2 * np.pi * t / 24 + i) + rng.normal(0, 0.2, points) for i in range(n)]
            ),
        }
    )
    model = lc.LSTMForecaster(
        recipe="tutorial",
        window=params["window"],
        horizon=24,
        hidden_size=params["hidden_size"],
        epochs=params["epochs"],
        batch_size=256,
        random_state=params["seed"],
    )
    started = time.perf_counter()
    model.fit(frame)
    child.print_result({"fit_s": time.perf_counter() - started, "threads": model.history_.threads})


if __name__ == "__main__":
    main()
