"""Where one W2 training step's time goes, against the machine's matrix-product limit.

Usage (from the repository root):

    .venv/bin/python -m benchmarks.step_profile --threads 2     # W2's shape, 7 repeats
    .venv/bin/python -m benchmarks.step_profile --smoke         # tiny: checks it runs

For W2's LSTM (benchmarks/speed.py: batch 256, 96 steps, one input feature, 2 x LSTM(128)) and
each precision the machine has natively (float32; bfloat16 where the CPU has it), lstmcast's
fused kernel runs forward + backward of one batch:

- timed plainly (median of the repeats): the step's wall time;
- over three more steps under ``torch.profiler``, the operators' own (self) times grouped: the
  matrix products (oneDNN's matmul, torch's ``mm``), the kernel's loops (the self time of
  ``lstmcast::layer_*``: the fused element-wise work of every step), and the rest (allocations,
  casts, the copies oneDNN makes of transposed operands, sums, autograd); what the profiler does
  not see (Python, the autograd engine) is the wall time minus the operators' total.

The limit: the step's matrix-product FLOPs (3 x the forward's; the element-wise work left out)
at the machine's large-matrix rate: the n x n x n product of the library the kernel's products
go to (oneDNN, or in float32 MKL where ``lstmcast.fused_lstm.float32_mkl()`` says so), on the
same threads and in the same precision. "products at step shapes" is the rate the step's own
products reached.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.kernel import SAMPLE_MS, Shape, milliseconds
from benchmarks.machine import load_average, run_header, run_options

REPOSITORY = Path(__file__).resolve().parent.parent
W2 = Shape("W2 (96 steps, 2 x LSTM(128))", 256, 96, 1, 128, 2)
SMOKE = Shape("smoke", 16, 6, 1, 32, 2)
REPEATS, SMOKE_REPEATS = 7, 1
PEAK_N, SMOKE_PEAK_N = 2048, 256
PROFILED_CALLS = 3  # steps under the profiler, at least (its per-step figures are their mean)

# Operators whose self time is matrix products (oneDNN's matmul, or MKL's through torch's mm and
# the in-place addmm_ that sums the weight gradients; the others where torch routes a product).
PRODUCTS = (
    "mkldnn::_linear_pointwise",
    "aten::mm",
    "aten::addmm",
    "aten::addmm_",
    "aten::bmm",
    "aten::matmul",
)
KERNEL_LOOPS = ("lstmcast::layer_forward", "lstmcast::layer_backward")


def product_flop(shape: Shape) -> float:
    """Matrix-product FLOPs of one training step: W2's per-window convention
    (benchmarks/speed.py) times the batch."""
    from benchmarks.speed import flop_per_window  # imports torch: not at this module's import

    per_window = flop_per_window(shape.steps, shape.hidden, shape.layers, shape.inputs)
    return per_window * shape.batch


def peak_gflops(n: int, bf16: bool, repeats: int = 5) -> float:
    """GFLOP/s of the n x n x n product of the library the kernel's products go to (oneDNN,
    or MKL's ``torch.mm`` for float32 where the kernel uses it), median of ``repeats`` samples
    of at least 0.1 s each."""
    import torch

    from lstmcast import fused_lstm

    dtype = torch.bfloat16 if bf16 else torch.float32
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=generator).to(dtype)
    b = torch.randn(n, n, generator=generator).to(dtype)
    linear = getattr(torch.ops.mkldnn, "_linear_pointwise", None)
    if not bf16 and fused_lstm.float32_mkl():
        linear = None

    def product() -> object:
        if linear is None:
            return torch.mm(a, b.t())
        return linear(a, b, None, "none", [], "")

    calls = max(1, round(SAMPLE_MS / milliseconds(product, 1)))
    samples = [milliseconds(product, calls) for _ in range(repeats)]
    return 2 * n**3 / (statistics.median(samples) / 1000) / 1e9


def training_step(shape: Shape, bf16: bool, seed: int) -> Callable[[], None]:
    """Forward + backward of ``lc.LSTM`` on one batch through the fused kernel (the loss: the
    last output squared, summed)."""
    import torch

    import lstmcast as lc

    torch.manual_seed(seed)
    lstm = lc.LSTM(shape.inputs, shape.hidden, shape.layers)
    lstm.kernel, lstm.low_precision = "fused", bf16
    x = torch.randn(shape.batch, shape.steps, shape.inputs)

    def step() -> None:
        lstm.zero_grad(set_to_none=True)
        output, _ = lstm(x)
        output[:, -1].pow(2).sum().backward()

    return step


def breakdown(step: Callable[[], None], calls: int) -> dict[str, float]:
    """Milliseconds per step of ``calls`` profiled steps: products, the kernel's loops, other
    operators, and the whole step (the profiler's start and stop left out)."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        started = time.perf_counter()
        for _ in range(calls):
            step()
        wall = (time.perf_counter() - started) * 1000 / calls
    groups = {"products": 0.0, "kernel loops": 0.0, "other operators": 0.0}
    for event in prof.key_averages():
        self_ms = event.self_cpu_time_total / 1000 / calls
        if event.key in PRODUCTS:
            groups["products"] += self_ms
        elif event.key in KERNEL_LOOPS:
            groups["kernel loops"] += self_ms
        else:
            groups["other operators"] += self_ms
    groups["profiled wall"] = wall
    return groups


def measure(shape: Shape, bf16: bool, repeats: int, peak_n: int, seed: int) -> dict[str, Any]:
    step = training_step(shape, bf16, seed)
    calls = max(1, round(SAMPLE_MS / milliseconds(step, 1)))  # after a warm-up call
    wall = statistics.median(milliseconds(step, calls) for _ in range(repeats))
    parts = breakdown(step, max(PROFILED_CALLS, calls))
    flop = product_flop(shape)
    peak = peak_gflops(peak_n, bf16)
    return {
        "wall": wall,
        "parts": parts,
        "flop": flop,
        "peak": peak,
        "limit_ms": flop / (peak * 1e9) * 1000,
        "product_gflops": flop / (parts["products"] / 1000) / 1e9 if parts["products"] else 0,
    }


def table(shape: Shape, rows: dict[str, dict[str, Any]], peak_n: int) -> str:
    header = [
        "precision",
        "step ms",
        "profiled ms",
        "products ms",
        "kernel loops ms",
        "other operators ms",
        "outside operators ms",
        "products at step shapes GFLOP/s",
        f"its library's {peak_n}^3 GFLOP/s",
        "limit ms",
        "step / limit",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, r in rows.items():
        parts = r["parts"]
        operators = parts["products"] + parts["kernel loops"] + parts["other operators"]
        cells = [
            name,
            f"{r['wall']:.1f}",
            f"{parts['profiled wall']:.1f}",
            f"{parts['products']:.1f}",
            f"{parts['kernel loops']:.1f}",
            f"{parts['other operators']:.1f}",
            f"{max(0.0, parts['profiled wall'] - operators):.1f}",
            f"{r['product_gflops']:.0f}",
            f"{r['peak']:.0f}",
            f"{r['limit_ms']:.1f}",
            f"{r['wall'] / r['limit_ms']:.2f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    flop = next(iter(rows.values()))["flop"]
    lines.append(
        f"\n# {shape.name}: batch {shape.batch}, {shape.steps} steps, {shape.inputs} input(s), "
        f"{shape.layers} x LSTM({shape.hidden}); {flop / 1e9:.2f} GFLOP of products per step"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    args = run_options(argv, __doc__.split("\n\n")[0], "seed of the weights and the batch")
    import torch

    from lstmcast import fused_lstm, precision

    print(run_header("one W2 training step, profiled", REPOSITORY, args.seed, args.threads))
    if not fused_lstm.load():
        print(f"lstmcast's fused kernel is unavailable: {fused_lstm.unavailable_reason()}")
        return
    shape, repeats, peak_n = (
        (SMOKE, SMOKE_REPEATS, SMOKE_PEAK_N) if args.smoke else (W2, REPEATS, PEAK_N)
    )
    precisions = {"float32": False}
    if precision.native_bf16(torch.device("cpu")):
        precisions["bfloat16 products"] = True
    else:
        print("# no native bfloat16 on this CPU: float32 only")
    rows = {
        name: measure(shape, bf16, repeats, peak_n, args.seed) for name, bf16 in precisions.items()
    }
    print(f"# medians of {repeats} repeats; load after: {load_average()}")
    print(table(shape, rows, peak_n))


if __name__ == "__main__":
    main()
