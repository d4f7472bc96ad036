"""lstmcast's fused LSTM kernel beside torch's, one training step (and one forecast) at a time.

Usage (from the repository root):

    .venv/bin/python -m benchmarks.kernel --threads 1           # every shape, 7 repeats
    .venv/bin/python -m benchmarks.kernel --smoke               # tiny: checks it runs

For each shape (batch, steps, input features, hidden units, layers), in one process, kernels
alternating within every repeat (so a change in the machine's load hits all of them alike):

- train: forward + backward of ``lc.LSTM`` on a random batch (loss: the sum of the last output
  squared), milliseconds per step, median of the repeats (each the mean over enough steps to
  last about 0.1 s), with torch's kernel ("stock"), lstmcast's in float32 with its products
  through oneDNN and through MKL (``fused_lstm.FLOAT32_MKL``; the machine picks one) and,
  where the CPU has native bfloat16, lstmcast's with bfloat16 products;
- forecast: the forward alone under ``torch.no_grad()``.

The shapes: the tutorial's and others small to medium (what decides the size below which "auto"
keeps torch's kernel, lstmcast.fused_lstm.MIN_UNITS), M4 Hourly's and ETTh1's settings in
benchmarks/m4.py and etth.py, and W2 of benchmarks/speed.py.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from benchmarks.machine import load_average, run_header, run_options

REPOSITORY = Path(__file__).resolve().parent.parent
REPEATS, SMOKE_REPEATS = 7, 1


class Shape(NamedTuple):
    name: str
    batch: int
    steps: int
    inputs: int
    hidden: int
    layers: int


SHAPES = (
    Shape("W1, the tutorial (batch 32, LSTM(50))", 32, 20, 1, 50, 1),
    Shape("4,096 units (batch 64, LSTM(64))", 64, 20, 1, 64, 1),
    Shape("16,384 units (batch 128, LSTM(128))", 128, 24, 1, 128, 1),
    Shape("16,384 units (batch 256, LSTM(64))", 256, 24, 1, 64, 1),
    Shape("M4 Hourly (14 daily steps, LSTM(128))", 256, 14, 128, 128, 1),
    Shape("ETTh1 (8 steps, LSTM(256))", 256, 8, 256, 256, 1),
    Shape("W2 (96 steps, 2 x LSTM(128))", 256, 96, 1, 128, 2),
)
SMOKE_SHAPES = (Shape("smoke", 8, 5, 2, 16, 2),)


# Each sample runs a step this long at least (repeating it), so that one context switch on a
# busy machine does not decide a millisecond-long figure.
SAMPLE_MS = 100.0


def milliseconds(step: Callable[[], object], calls: int) -> float:
    """Mean milliseconds per call of ``step`` over ``calls`` calls."""
    started = time.perf_counter()
    for _ in range(calls):
        step()
    return (time.perf_counter() - started) * 1000 / calls


def measure(shape: Shape, repeats: int, bf16: bool, seed: int) -> dict[str, dict[str, float]]:
    """Median milliseconds per step of each kernel, training and forecasting."""
    import torch

    import lstmcast as lc

    torch.manual_seed(seed)
    lstm = lc.LSTM(shape.inputs, shape.hidden, shape.layers)
    x = torch.randn(shape.batch, shape.steps, shape.inputs)
    from lstmcast import fused_lstm

    # (kernel, bfloat16 products, float32 products through MKL); the fused float32 kernel both
    # ways (fused_lstm.FLOAT32_MKL), whichever this machine would choose.
    kernels = {
        "stock": ("stock", False, None),
        "fused, oneDNN": ("fused", False, False),
        "fused, MKL": ("fused", False, True),
    }
    if bf16:
        kernels["fused bf16"] = ("fused", True, None)
    chosen = fused_lstm.FLOAT32_MKL

    def use(kernel: str, low: bool, mkl: bool | None) -> None:
        lstm.kernel, lstm.low_precision = kernel, low
        fused_lstm.FLOAT32_MKL = chosen if mkl is None else mkl

    def train(kernel: str, low: bool, mkl: bool | None) -> Callable[[], object]:
        def step() -> None:
            use(kernel, low, mkl)
            lstm.zero_grad(set_to_none=True)
            output, _ = lstm(x)
            output[:, -1].pow(2).sum().backward()

        return step

    def forecast(kernel: str, low: bool, mkl: bool | None) -> Callable[[], object]:
        def step() -> None:
            use(kernel, low, mkl)
            with torch.no_grad():
                lstm(x)

        return step

    results: dict[str, dict[str, float]] = {}
    for mode, make in (("train", train), ("forecast", forecast)):
        steps = {name: make(*how) for name, how in kernels.items()}
        times: dict[str, list[float]] = {name: [] for name in steps}
        # Warm-up (oneDNN primitives, the first allocations), then calls per sample.
        calls = max(1, round(SAMPLE_MS / max(milliseconds(s, 1) for s in steps.values())))
        for _ in range(repeats):
            for name, step in steps.items():
                times[name].append(milliseconds(step, calls))
        results[mode] = {name: statistics.median(values) for name, values in times.items()}
    fused_lstm.FLOAT32_MKL = chosen
    return results


def table(rows: list[tuple[Shape, dict[str, dict[str, float]]]]) -> str:
    kernels = list(rows[0][1]["train"])
    header = ["shape", *(f"train {k} ms" for k in kernels), *(f"forecast {k} ms" for k in kernels)]
    header += [f"train stock / {k}" for k in kernels[1:]]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for shape, result in rows:
        train, forecast = result["train"], result["forecast"]
        cells = [shape.name]
        cells += [f"{train[k]:.2f}" for k in kernels] + [f"{forecast[k]:.2f}" for k in kernels]
        cells += [f"{train['stock'] / train[k]:.2f}" for k in kernels[1:]]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    args = run_options(argv, __doc__.split("\n\n")[0], "seed of the weights and the batch")
    import torch

    from lstmcast import fused_lstm, precision

    print(run_header("fused LSTM kernel vs torch's", REPOSITORY, args.seed, args.threads))
    if not fused_lstm.load():
        print(f"lstmcast's fused kernel is unavailable: {fused_lstm.unavailable_reason()}")
        return
    bf16 = precision.native_bf16(torch.device("cpu"))
    if not bf16:
        print("# no native bfloat16 on this CPU: the bf16 columns are left out")
    shapes, repeats = (SMOKE_SHAPES, SMOKE_REPEATS) if args.smoke else (SHAPES, REPEATS)
    rows = [(shape, measure(shape, repeats, bf16, args.seed)) for shape in shapes]
    print(f"# medians of {repeats} alternating repeats; load after: {load_average()}")
    print(table(rows))


if __name__ == "__main__":
    main()
