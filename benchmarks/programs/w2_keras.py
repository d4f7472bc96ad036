"""W2's Keras run, in a process of its own; prints one RESULT line.

TensorFlow's thread pools beside torch's would distort both, so benchmarks.speed runs this as
``python -m benchmarks.programs.w2_keras '<JSON parameters>'`` once per repeat, on windows it
saved to ``params["data"]`` (an .npz of x, y, x_held, y_held). It builds the network, fits a few
batches untimed (tracing, XLA compilation), then times one epoch over the training windows; it
reports the seconds, the held-out MSE and TensorFlow's own float32 matmul GFLOP/s. Nothing
here is timed from the process's start, but TensorFlow is still imported inside ``main`` so that
this module imports without it.
"""

from __future__ import annotations

import sys
import time

from benchmarks.programs import child, w1_keras

TYPE_CHECKING = False  # not typing's: see child's docstring
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    import keras


def build_model(params: dict[str, Any], window_shape: tuple[int, ...]) -> keras.Sequential:
    """``layers`` stacked LSTM(hidden) (all but the last return sequences) + Dense(1); compiled."""
    import keras

    keras.utils.set_random_seed(params["seed"])
    lstms = [
        keras.layers.LSTM(params["hidden"], return_sequences=layer < params["layers"] - 1)
        for layer in range(params["layers"])
    ]
    model = keras.Sequential([keras.Input(window_shape), *lstms, keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(params["lr"]), loss="mse")
    return model


def matmul_gflops(n: int, repeats: int) -> float:
    """TensorFlow's n x n x n float32 matmul, median of ``repeats`` after a warm-up."""
    import tensorflow as tf

    a = tf.random.normal((n, n), seed=0)
    b = tf.random.normal((n, n), seed=1)
    tf.linalg.matmul(a, b).numpy()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        tf.linalg.matmul(a, b).numpy()
        times.append(time.perf_counter() - started)
    return 2 * n**3 / sorted(times)[len(times) // 2] / 1e9


def main(argv: Sequence[str]) -> int:
    """One W2 run of Keras on the saved windows, and its RESULT line; the exit code."""
    params = child.read_params(argv)
    w1_keras.import_tool(params["threads"])  # the same backend, log level and thread pools
    import numpy as np

    data = np.load(params["data"])
    x, y, x_held, y_held = data["x"], data["y"], data["x_held"], data["y_held"]
    model = build_model(params, x.shape[1:])
    batch = params["batch"]
    warm = min(len(x), 2 * batch)
    model.fit(x[:warm], y[:warm], epochs=1, batch_size=batch, shuffle=True, verbose=0)
    started = time.perf_counter()
    model.fit(x, y, epochs=1, batch_size=batch, shuffle=True, verbose=0)
    seconds = time.perf_counter() - started
    prediction = model.predict(x_held, batch_size=1024, verbose=0)
    child.print_result(
        {
            "seconds": seconds,
            "mse": float(np.mean((prediction - y_held) ** 2)),
            "matmul_gflops": matmul_gflops(params["matmul_n"], params["matmul_repeats"]),
        }
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
