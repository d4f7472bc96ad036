"""W1's held-out RMSE over many seeds: lstmcast, plain PyTorch, PyTorch set up like Keras, Keras.

Usage (from the repository root):

    .venv/bin/python -m benchmarks.w1_seeds                 # seeds 0-11
    .venv/bin/python -m benchmarks.w1_seeds --seeds 3       # quicker

``benchmarks.speed`` scores W1 (the tutorial's job) on as many seeds as it has repeats; this
script asks whether the tools' RMSEs differ beyond the seed-to-seed spread, and where a
difference comes from. Every model is trained as in W1 (LSTM(50) + Linear(1), Adam 1e-3, MSE,
10 epochs, batch 32, the first 784 windows) and scored one step ahead on the last 196, in this
process, one torch thread (accuracy only: nothing is timed). The rows:

- lstmcast: ``LSTMForecaster`` with the tutorial's settings (``programs.w1_lstmcast``);
- plain PyTorch: W1's plain-PyTorch loop (``programs.w1_torch``, torch's initialisation);
- ... + Keras's head: the same, the head initialised as Keras's Dense (Glorot-uniform weight, zero
  bias);
- ... + Keras's LSTM too: and the LSTM as Keras's (Glorot-uniform input weights, orthogonal
  recurrent weights, zero biases but the forget gate's at 1);
- Keras: W1's Keras model (``programs.w1_keras``), when TensorFlow is importable.

Every row calls the same model and training functions as ``benchmarks.speed``'s W1 children.
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable, Sequence
from functools import partial
from types import ModuleType

import torch
from torch import nn

from benchmarks import speed
from benchmarks.programs import child, w1_keras, w1_lstmcast, w1_torch
from benchmarks.programs.reference_net import ReferenceNet


def held_out_rmse(program: ModuleType, seed: int, **fit_options: object) -> float:
    """W1 with ``program``'s model and training (model seed ``seed``), untimed, in this process."""
    program.import_tool(None)  # Keras needs its backend chosen before it is imported
    params = speed.w1_params(seed, speed.FULL.w1_epochs, threads=None)
    return child.train_and_score(program, params, **fit_options)


def keras_head(net: ReferenceNet) -> None:
    nn.init.xavier_uniform_(net.head.weight)
    nn.init.zeros_(net.head.bias)


def keras_lstm(net: ReferenceNet) -> None:
    hidden = net.lstm.hidden_size
    nn.init.xavier_uniform_(net.lstm.weight_ih_l0)
    nn.init.orthogonal_(net.lstm.weight_hh_l0)
    nn.init.zeros_(net.lstm.bias_ih_l0)
    nn.init.zeros_(net.lstm.bias_hh_l0)
    with torch.no_grad():
        net.lstm.bias_ih_l0[hidden : 2 * hidden] = 1.0


def torch_rmse(seed: int, inits: Sequence[Callable[[ReferenceNet], None]] = ()) -> float:
    """W1's plain-PyTorch loop, with ``inits`` applied to the fresh network."""
    return held_out_rmse(w1_torch, seed, initialise=inits)


TOOLS: dict[str, Callable[[int], float]] = {
    "lstmcast": partial(held_out_rmse, w1_lstmcast),
    "plain PyTorch": torch_rmse,
    "+ Keras's head": lambda seed: torch_rmse(seed, [keras_head]),
    "+ Keras's LSTM too": lambda seed: torch_rmse(seed, [keras_head, keras_lstm]),
    "Keras": partial(held_out_rmse, w1_keras),
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
