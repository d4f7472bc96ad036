"""W1 in Keras on TensorFlow; a whole child process per run.

LSTM(hidden) + Dense(1), Adam, MSE, Keras's own shuffling and initialisation. Run by
benchmarks.speed as ``python -m benchmarks.programs.w1_keras '<JSON parameters>'`` when
``import tensorflow`` works (the ``bench`` extra); prints one RESULT line. TensorFlow is imported
only inside the functions, so this module imports without it.
"""

from __future__ import annotations

import sys

from benchmarks.programs import child

TYPE_CHECKING = False  # not typing's: see child's docstring
if TYPE_CHECKING:
    from typing import Any

    import keras
    import numpy as np

    KerasData = tuple[np.ndarray, np.ndarray, int]


def import_tool(threads: int | None) -> None:
    """numpy, TensorFlow and Keras, imported here and not at the top: the child times this."""
    import os

    os.environ["KERAS_BACKEND"] = "tensorflow"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras  # noqa: F401  (loaded with TensorFlow, as a user's script would)
    import numpy  # noqa: F401
    import tensorflow as tf

    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)


def prepare(series: np.ndarray, params: dict[str, Any]) -> KerasData:
    """All windows as (n, window, 1), their next values, and how many of them train."""
    n_train, _ = child.train_test_sizes(params)
    x, y = child.next_value_windows(series, params["window"])
    return x[..., None], y, n_train


def fit(data: KerasData, params: dict[str, Any]) -> keras.Sequential:
    """The tutorial's network in Keras, seeded, fit on the training windows."""
    import keras

    x, y, n_train = data
    keras.utils.set_random_seed(params["seed"])
    model = keras.Sequential(
        [
            keras.Input((params["window"], 1)),
            keras.layers.LSTM(params["hidden"]),
            keras.layers.Dense(1),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(params["lr"]), loss="mse")
    model.fit(
        x[:n_train],
        y[:n_train],
        epochs=params["epochs"],
        batch_size=params["batch"],
        verbose=0,
    )
    return model


def predict(model: keras.Sequential, data: KerasData) -> tuple[np.ndarray, np.ndarray]:
    """One step ahead on the held-out windows; the predictions and the actual next values."""
    x, y, n_train = data
    return model.predict(x[n_train:], verbose=0)[:, 0], y[n_train:]


if __name__ == "__main__":
    raise SystemExit(child.run_w1(sys.modules[__name__], sys.argv[1:]))
