"""W1's held-out RMSE over many seeds: lstmcast, plain PyTorch, PyTorch set up like Keras, Keras.

Usage (from the repository root):

    .venv/bin/python -m benchmarks.w1_seeds                 # seeds 0-11
    .venv/bin/python -m benchmarks.w1_seeds --seeds 3       # quicker

``benchmarks.speed`` scores W1 (the tutorial's job) on as many seeds as it has repeats; this
script asks whether the tools' RMSEs differ beyond the seed-to-seed spread, and where a
difference comes from. Every model is trained as in W1 (LSTM(50) + Linear(1), Adam 1e-3, MSE,
10 epochs, batch 32, the first 784 windows) and scored one step ahead on the last 196, in this
process, one torch thread (accuracy only: nothing is timed). The rows:

- lstmcast: ``LSTMForecaster`` with the tutorial's settings (``speed.W1_LSTMCAST``'s call);
- plain PyTorch: ``speed.W1_PLAIN_TORCH``'s loop (torch's initialisation);
- ... + Keras's head: the same, the head initialised as Keras's Dense (Glorot-uniform weight, zero
  bias);
- ... + Keras's LSTM too: and the LSTM as Keras's (Glorot-uniform input weights, orthogonal
  recurrent weights, zero biases but the forget gate's at 1);
- Keras: ``speed.W1_KERAS``'s model, when TensorFlow is importable.
"""

from __future__ import annotations

import argparse
import os
import statistics
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

import lstmcast as lc
from benchmarks import speed
from lstmcast.demo import sine_series

N_WINDOWS = speed.W1_POINTS - speed.W1_WINDOW
N_TEST = round(N_WINDOWS * speed.W1_TEST_FRACTION)
N_TRAIN = N_WINDOWS - N_TEST


def tutorial_windows() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The tutorial's series (seed 0), its windows (980, 20) and their next values (980,)."""
    series = sine_series(speed.W1_SEED)
    x = np.lib.stride_tricks.sliding_window_view(series[:-1], speed.W1_WINDOW)
    return series, x, series[speed.W1_WINDOW :]


def rmse(prediction: np.ndarray, target: np.ndarray) -> float:
    return float(np.sqrt(np.mean((prediction - target) ** 2)))


def lstmcast_rmse(seed: int) -> float:
    series, _, _ = tutorial_windows()
    model = lc.LSTMForecaster(
        window=speed.W1_WINDOW,
        horizon=1,
        hidden_size=speed.W1_HIDDEN,
        epochs=speed.FULL.w1_epochs,
        batch_size=speed.W1_BATCH,
        lr=speed.W1_LR,
        random_state=seed,
    ).fit(series[: speed.W1_WINDOW + N_TRAIN])
    held_out = model.backtest(series, h=1, n_windows=N_TEST, step_size=1)
    return rmse(held_out["LSTM"].to_numpy(), held_out["y"].to_numpy())


def keras_head(net: speed.ReferenceNet) -> None:
    nn.init.xavier_uniform_(net.head.weight)
    nn.init.zeros_(net.head.bias)


def keras_lstm(net: speed.ReferenceNet) -> None:
    hidden = net.lstm.hidden_size
    nn.init.xavier_uniform_(net.lstm.weight_ih_l0)
    nn.init.orthogonal_(net.lstm.weight_hh_l0)
    nn.init.zeros_(net.lstm.bias_ih_l0)
    nn.init.zeros_(net.lstm.bias_hh_l0)
    with torch.no_grad():
        net.lstm.bias_ih_l0[hidden : 2 * hidden] = 1.0


def torch_rmse(seed: int, inits: Sequence[Callable[[speed.ReferenceNet], None]] = ()) -> float:
    """W1's plain-PyTorch loop, with ``inits`` applied to the fresh network."""
    _, x, y = tutorial_windows()
    x_train = torch.tensor(x[:N_TRAIN, :, None], dtype=torch.float32)
    y_train = torch.tensor(y[:N_TRAIN, None], dtype=torch.float32)
    torch.manual_seed(seed)
    net = speed.ReferenceNet(speed.W1_HIDDEN, 1)
    with torch.no_grad():
        for init in inits:
            init(net)
    optimizer = torch.optim.Adam(net.parameters(), lr=speed.W1_LR)
    for _ in range(speed.FULL.w1_epochs):
        order = torch.randperm(N_TRAIN)
        for first in range(0, N_TRAIN, speed.W1_BATCH):
            batch = order[first : first + speed.W1_BATCH]
            optimizer.zero_grad()
            loss = nn.functional.mse_loss(net(x_train[batch]), y_train[batch])
            loss.backward()
            optimizer.step()
    net.eval()
    with torch.no_grad():
        prediction = net(torch.tensor(x[N_TRAIN:, :, None], dtype=torch.float32))[:, 0]
    return rmse(prediction.numpy(), y[N_TRAIN:])


def keras_rmse(seed: int) -> float:
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    _, x, y = tutorial_windows()
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((speed.W1_WINDOW, 1)),
            keras.layers.LSTM(speed.W1_HIDDEN),
            keras.layers.Dense(1),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(speed.W1_LR), loss="mse")
    model.fit(
        x[:N_TRAIN, :, None],
        y[:N_TRAIN],
        epochs=speed.FULL.w1_epochs,
        batch_size=speed.W1_BATCH,
        verbose=0,
    )
    return rmse(model.predict(x[N_TRAIN:, :, None], verbose=0)[:, 0], y[N_TRAIN:])


TOOLS: dict[str, Callable[[int], float]] = {
    "lstmcast": lstmcast_rmse,
    "plain PyTorch": torch_rmse,
    "+ Keras's head": lambda seed: torch_rmse(seed, [keras_head]),
    "+ Keras's LSTM too": lambda seed: torch_rmse(seed, [keras_head, keras_lstm]),
    "Keras": keras_rmse,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.w1_seeds", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--seeds", type=int, default=12, help="seeds 0 .. N-1 (default 12)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    has_keras, note = speed.keras_available()
    print(f"# W1 held-out RMSE over seeds 0-{args.seeds - 1} (torch threads 1)")
    rows = []
    for tool, score in TOOLS.items():
        if tool == "Keras" and not has_keras:
            rows.append([tool, "-", "-", "-", note])
            continue
        values = [score(seed) for seed in range(args.seeds)]
        spread = statistics.pstdev(values) if len(values) > 1 else 0.0
        rows.append(
            [
                tool,
                f"{statistics.median(values):.4f}",
                f"{statistics.fmean(values):.4f}",
                f"{spread:.4f}",
                " ".join(f"{v:.4f}" for v in values),
            ]
        )
        print(f"  {tool}: done", flush=True)
    print(speed.markdown_table(["model", "median", "mean", "sd", "per seed"], rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
