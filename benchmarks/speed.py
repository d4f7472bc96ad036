"""Speed of lstmcast beside plain PyTorch (and Keras when installed), side by side.

Usage (from the repository root):

    .venv/bin/python -m benchmarks.speed                    # all three workloads, 5 repeats
    .venv/bin/python -m benchmarks.speed --repeats 3 --only w1,w3
    .venv/bin/python -m benchmarks.speed --threads 2        # torch threads, parent and children
    .venv/bin/python -m benchmarks.speed --smoke            # tiny sizes, 1 repeat: checks it runs
    .venv/bin/python -m benchmarks.speed --only w2 --forget-bias 1   # W2 + lstmcast, forget bias 1

Keras runs beside the others when TensorFlow is installed:
``.venv/bin/pip install -c constraints.txt -e '.[bench]'`` (about 600 MB from the registry).

What is measured (the machines are shared and noisy: read the ratios, measured side by side):

W1, the tutorial's job (``lstmcast demo``'s data): 1000 points of sin(0.02 t) + N(0, 0.2^2)
    noise (seed 0), windows of 20 -> the next value (980 windows), LSTM(50) + Linear(1), Adam
    lr 1e-3, MSE, 10 epochs, batch 32; trained on the first 80% of the windows, scored one step
    ahead (fed the actual past) on the last 20% (196 windows). Every tool runs as a whole Python
    process (its module of benchmarks/programs, ``python -m benchmarks.programs.w1_torch`` and
    the like, from the repository root), tools alternating, after one untimed warm-up run each.
    Reported, medians over repeats: the wall time of the whole process measured by the parent
    around ``subprocess.run``; inside the child, the import, fit and predict times; start-up +
    shutdown (wall minus the child's own elapsed time); the child's peak RSS
    (``ru_maxrss`` of itself at exit); the held-out RMSE (repeat r trains every tool with model
    seed r, so its median and range are over seeds; the series is always seed 0's). lstmcast
    goes through its public API (``LSTMForecaster.fit`` then ``backtest(h=1, n_windows=196,
    step_size=1)``); the plain-PyTorch reference is written as a user would (nn.LSTM +
    nn.Linear, manual shuffled batches, Adam, MSELoss, no scaling: the series is already in
    [-1.6, 1.6]); Keras runs only when ``import tensorflow`` works in this interpreter (install
    it with ``.venv/bin/pip install -c constraints.txt -e '.[bench]'``, about 600 MB).

W2, compute-bound training, in this process: 20,000 windows of 96 steps x 1 feature, 2-layer
    LSTM(128), Linear(1) head, batch 256, Adam lr 1e-3, MSE, one epoch, tools alternating, medians.
    lstmcast runs ``LSTMForecaster(...).fit`` on a synthetic series of 20,096 points (exactly
    20,000 windows; its per-series scaling and window gathering included, no validation split);
    its training loop alone is read from ``history_.seconds``. lstmcast's default picks its own
    fused LSTM kernel (lstmcast.fused_lstm) where it can be built; a row beside it trains with
    torch's kernel (``lc.LSTM.kernel = "stock"``), and where the CPU has native bfloat16 another
    in the precision the default does not pick (``precision="fp32"`` where "auto" means
    bfloat16). The reference trains the same
    network on prebuilt windows (model and Adam construction included in its time). Throughput in
    windows/s, GFLOP/s by the FLOP convention of benchmarks/ANCHORS (printed with the table), and
    the fraction of a measured float32 matmul peak on the same threads. When TensorFlow is
    importable, Keras (LSTM(128, return_sequences=True), LSTM(128), Dense(1); Adam; MSE) trains
    the same windows in its own process per repeat (``benchmarks.programs.w2_keras``), one epoch
    of ``model.fit`` timed after an untimed warm-up fit on two batches (tracing, XLA
    compilation). When oneDNN reports native
    bfloat16 and a bf16 matmul beats float32, the reference is also trained under bf16 autocast
    (same seed, same batches) and its held-out MSE compared with float32's (2% tolerance).

W3, inference at scale: 10,000 synthetic series of 1,000 points (seeded), one trained
    LSTMForecaster (window 96, horizon 48, LSTM(64); training is not timed), forecasting h=48 for
    all series with one ``predict(48, df=all)`` versus a loop of ``predict(48, df=one series)``
    timed over the first 200 series and extrapolated to all 10,000. Series per second for both,
    and the ratio. (lstmcast's per-series scaling is learned at fit time and keyed by series id,
    so the model is fit on every series' first 144 points: one window each, one epoch.)

Threads: by default torch's own count (one per core). On a machine that other jobs keep busy,
OpenMP threads waiting on each other can make small batches (W1's batch 32, W3's one-series
calls) many times slower with 2 threads than with 1: compare with ``--threads 1`` there.

Every workload function returns a dict of its figures (``w1``, ``w2``, ``w3``); ``format_*``
turn them into Markdown tables.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

import lstmcast as lc
from benchmarks.machine import cpu_description, git_commit, load_average
from benchmarks.programs.child import RESULT_PREFIX
from benchmarks.programs.reference_net import ReferenceNet
from lstmcast import fused_lstm as lc_fused
from lstmcast import precision as lc_precision


@dataclass(frozen=True)
class Sizes:
    """Workload sizes: FULL for the reported figures, SMOKE to check that everything runs."""

    w1_epochs: int  # the tutorial's 10 epochs
    w1_warmup: int  # untimed runs of each tool before the timed ones
    w2_windows: int  # training windows of one epoch
    w2_held_out: int  # windows after the training part, for the held-out MSE
    matmul_n: int  # n of the n x n float32 matmul that measures the peak
    w3_series: int  # series forecast by W3
    w3_length: int  # points per series
    w3_loop: int  # series forecast one call each (the loop's time is extrapolated)


FULL = Sizes(10, 1, 20_000, 2_000, 4096, 10_000, 1_000, 200)
SMOKE = Sizes(1, 0, 128, 32, 512, 300, 200, 20)
DEFAULT_REPEATS = 5  # 1 in --smoke

# W1: the tutorial (src/lstmcast/demo.py), 980 windows, the last 20% of them held out.
W1_POINTS, W1_FREQUENCY, W1_NOISE_SD, W1_SEED = 1000, 0.02, 0.2, 0
W1_WINDOW, W1_HIDDEN, W1_BATCH, W1_LR = 20, 50, 32, 1e-3
W1_TEST_FRACTION = 0.2
W1_TOOLS = ("lstmcast", "plain PyTorch", "Keras")

# W2: the compute-bound anchor of ANCHORS.md, W2 (20,000 of its 100,000 windows).
W2_STEPS, W2_HIDDEN, W2_LAYERS, W2_BATCH, W2_LR, W2_SEED = 96, 128, 2, 256, 1e-3, 0
MATMUL_REPEATS = 5  # timed matmuls after one warm-up; the median counts
BF16_TOLERANCE = 0.02  # bf16's held-out MSE may differ from float32's by this fraction

# W3: many series, one model.
W3_WINDOW, W3_HORIZON, W3_HIDDEN, W3_H, W3_SEED = 96, 48, 64, 48, 0


# -- helpers -----------------------------------------------------------------------------------
def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table, padded to read as plain text: first column left, others right."""
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        padded = [
            str(c).ljust(w) if i == 0 else str(c).rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "| " + " | ".join(padded) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(headers), rule, *(line(row) for row in rows)])


def fmt(value: float | None, digits: int = 2) -> str:
    """A figure with ``digits`` decimals and thousands separators; "-" when absent."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:,.{digits}f}"


# -- W1: the tutorial's job, one process per run ---------------------------------------------
# Each tool's program is a module of benchmarks/programs, run as ``python -m`` in a fresh
# interpreter: it starts its clock, imports the tool, builds the tutorial's series, fits,
# predicts and prints one RESULT line of JSON with its own timings and peak RSS.
W1_PROGRAMS = {
    "lstmcast": "benchmarks.programs.w1_lstmcast",
    "plain PyTorch": "benchmarks.programs.w1_torch",
    "Keras": "benchmarks.programs.w1_keras",
}
# W2's Keras run, in its own process (TensorFlow's thread pools beside torch's would distort both).
W2_KERAS_PROGRAM = "benchmarks.programs.w2_keras"
REPOSITORY = Path(__file__).resolve().parent.parent  # the children's cwd: ``benchmarks`` imports


def w1_params(seed: int, epochs: int, threads: int | None) -> dict[str, Any]:
    """A W1 program's parameters (its JSON argument): the tutorial's job, model seed ``seed``."""
    return {
        "points": W1_POINTS,
        "frequency": W1_FREQUENCY,
        "noise_sd": W1_NOISE_SD,
        "data_seed": W1_SEED,
        "seed": seed,
        "window": W1_WINDOW,
        "hidden": W1_HIDDEN,
        "epochs": epochs,
        "batch": W1_BATCH,
        "lr": W1_LR,
        "test_fraction": W1_TEST_FRACTION,
        "threads": threads,
    }


@dataclass(frozen=True)
class ChildRun:
    wall_s: float  # whole process, measured by the parent
    report: dict[str, float]  # what the child printed on its RESULT line


def run_child(program: str, params: dict[str, Any], env: dict[str, str]) -> ChildRun:
    """Run module ``program`` in a fresh interpreter; time it from here and read its RESULT line.

    From the repository root, so that ``python -m benchmarks.programs...`` finds the package.
    """
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", program, json.dumps(params)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPOSITORY,
        check=False,
    )
    wall = time.perf_counter() - started
    results = [line for line in done.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    if done.returncode != 0 or not results:
        raise RuntimeError(f"{program} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return ChildRun(wall, json.loads(results[-1].removeprefix(RESULT_PREFIX)))


def keras_available() -> tuple[bool, str]:
    """Whether ``import tensorflow`` (and keras) works in this interpreter, with a note."""
    if importlib.util.find_spec("tensorflow") is None or importlib.util.find_spec("keras") is None:
        return False, "Keras skipped: tensorflow is not installed (the `bench` extra lists it)"
    check = subprocess.run(
        [sys.executable, "-c", "import tensorflow, keras"], capture_output=True, check=False
    )
    if check.returncode != 0:
        return False, "Keras skipped: `import tensorflow` fails in this interpreter"
    return True, ""


def w1(sizes: Sizes = FULL, repeats: int = DEFAULT_REPEATS, threads: int | None = None) -> dict:
    """The tutorial's job, one whole process per run; medians of the figures of each tool."""
    tools = ["lstmcast", "plain PyTorch"]
    notes = []
    has_keras, note = keras_available()
    if has_keras:
        tools.append("Keras")
    else:
        notes.append(note)
    env = dict(os.environ)
    if threads:
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(threads)
    runs: dict[str, list[ChildRun]] = {tool: [] for tool in tools}
    warm_up = w1_params(W1_SEED, sizes.w1_epochs, threads)
    for _ in range(sizes.w1_warmup):
        for tool in tools:
            run_child(W1_PROGRAMS[tool], warm_up, env)
    for repeat in range(repeats):
        # One model seed per repeat, shared by the tools: the RMSE is a median over seeds.
        seeded = w1_params(W1_SEED + repeat, sizes.w1_epochs, threads)
        for tool in tools:  # alternating, so drifts in machine load hit every tool alike
            runs[tool].append(run_child(W1_PROGRAMS[tool], seeded, env))

    figures = {}
    for tool, tool_runs in runs.items():
        walls = [run.wall_s for run in tool_runs]

        def of(key: str, tool_runs: list[ChildRun] = tool_runs) -> float:
            return median([run.report[key] for run in tool_runs])

        figures[tool] = {
            "wall_s": median(walls),
            "wall_min_s": min(walls),
            "wall_max_s": max(walls),
            "import_s": of("import_s"),
            "fit_s": of("fit_s"),
            "predict_s": of("predict_s"),
            "startup_exit_s": median(
                [run.wall_s - run.report["in_process_s"] for run in tool_runs]
            ),
            "peak_mib": of("peak_mib"),
            "rmse": of("rmse"),
            "rmse_min": min(run.report["rmse"] for run in tool_runs),
            "rmse_max": max(run.report["rmse"] for run in tool_runs),
        }
    ratios = {
        f"lstmcast / {other}": figures["lstmcast"]["wall_s"] / figures[other]["wall_s"]
        for other in tools
        if other != "lstmcast"
    }
    if not has_keras:
        ratios["lstmcast / Keras"] = None
    n_windows = W1_POINTS - W1_WINDOW
    return {
        "tools": figures,
        "ratios": ratios,
        "repeats": repeats,
        "epochs": sizes.w1_epochs,
        "windows": n_windows,
        "test_windows": round(n_windows * W1_TEST_FRACTION),
        "threads": threads,
        "notes": notes,
    }


def format_w1(result: dict) -> str:
    rows = []
    base = result["tools"]["plain PyTorch"]["wall_s"]
    for tool in W1_TOOLS:
        f = result["tools"].get(tool)
        if f is None:
            rows.append([tool, *["-"] * 10])
            continue
        rows.append(
            [
                tool,
                fmt(f["wall_s"]),
                f"{fmt(f['wall_min_s'])}-{fmt(f['wall_max_s'])}",
                fmt(f["wall_s"] / base),
                fmt(f["import_s"]),
                fmt(f["fit_s"]),
                fmt(f["predict_s"], 3),
                fmt(f["startup_exit_s"]),
                fmt(f["peak_mib"], 0),
                fmt(f["rmse"], 4),
                f"{fmt(f['rmse_min'], 4)}-{fmt(f['rmse_max'], 4)}",
            ]
        )
    headers = [
        "tool",
        "whole process s",
        "min-max s",
        "x plain PyTorch",
        "import s",
        "fit s",
        "predict s",
        "start-up+exit s",
        "peak MiB",
        "held-out RMSE",
        "RMSE min-max",
    ]
    ratios = "; ".join(f"{name}: {fmt(value)}" for name, value in result["ratios"].items())
    lines = [
        f"## W1: the tutorial's job ({result['windows']} windows of {W1_WINDOW} -> 1, "
        f"LSTM({W1_HIDDEN}) + Linear(1), Adam, MSE, {result['epochs']} epoch"
        f"{'s' * (result['epochs'] != 1)}, batch "
        f"{W1_BATCH}; held out: the last {result['test_windows']} windows; child threads "
        f"{result['threads'] or 'torch default'})",
        f"Whole-process wall time measured by the parent; medians of {result['repeats']} "
        "alternating runs per tool, each in a fresh interpreter. import/fit/predict measured "
        "inside the child (lstmcast's import = `import lstmcast` + resolving LSTMForecaster, "
        "which loads torch; its fit includes pandas' import and data validation); start-up+exit "
        "= wall - the child's own elapsed time (interpreter start and shutdown); peak = the "
        "child's ru_maxrss at exit.",
        "",
        markdown_table(headers, rows),
        "",
        f"Wall-time ratios: {ratios}.",
        *result["notes"],
    ]
    return "\n".join(lines)


# -- W2: compute-bound training -----------------------------------------------------------------
def flop_per_window(
    steps: int = W2_STEPS, hidden: int = W2_HIDDEN, layers: int = W2_LAYERS, inputs: int = 1
) -> float:
    """Training FLOP per window: 3 x forward, forward = steps x sum over layers of 2 x 4H(in + H).

    The head and the element-wise gate arithmetic are left out (under 1%), as in ANCHORS.md.
    """
    forward = 0
    for layer in range(layers):
        layer_in = inputs if layer == 0 else hidden
        forward += steps * 2 * 4 * hidden * (layer_in + hidden)
    return 3.0 * forward


FLOP_FORMULA = (
    "training FLOP/window = 3 x forward; forward = steps x sum over layers of "
    "2 x 4H x (in + H) = 3 x 96 x 2 x 4 x 128 x ((1 + 128) + (128 + 128)) = "
    f"{flop_per_window() / 1e6:.1f} MFLOP (head and gate element-wise ops left out)"
)


def matmul_gflops(
    n: int, dtype: torch.dtype = torch.float32, repeats: int = MATMUL_REPEATS
) -> float:
    """GFLOP/s of an n x n x n matmul (2 n^3 FLOP), median of ``repeats`` after a warm-up."""
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=generator).to(dtype)
    b = torch.randn(n, n, generator=generator).to(dtype)
    torch.matmul(a, b)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        torch.matmul(a, b)
        times.append(time.perf_counter() - started)
    return 2 * n**3 / median(times) / 1e9


def bf16_native() -> bool:
    """Whether oneDNN reports native bfloat16 on this CPU (AVX-512 BF16 or AMX)."""
    try:
        return bool(
            torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()
        )
    except (AttributeError, RuntimeError):
        return False


def w2_series(n_points: int, seed: int = W2_SEED) -> np.ndarray:
    """A long synthetic hourly-like series: daily and weekly sines plus N(0, 0.2^2) noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_points)
    daily, weekly = np.sin(2 * np.pi * t / 24), 0.5 * np.sin(2 * np.pi * t / 168)
    return daily + weekly + rng.normal(0.0, 0.2, n_points)


def train_reference(
    x: torch.Tensor, y: torch.Tensor, seed: int, bf16: bool = False
) -> tuple[float, ReferenceNet]:
    """One epoch of the plain-PyTorch reference; seconds (model and Adam built inside), net."""
    started = time.perf_counter()
    torch.manual_seed(seed)
    net = ReferenceNet(W2_HIDDEN, W2_LAYERS)
    optimizer = torch.optim.Adam(net.parameters(), lr=W2_LR)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    for first in range(0, len(x), W2_BATCH):
        batch = order[first : first + W2_BATCH]
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = net(x[batch])
        loss = nn.functional.mse_loss(out.float(), y[batch])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return time.perf_counter() - started, net


def train_lstmcast(
    series: np.ndarray,
    seed: int,
    forget_bias: float | str | None = "auto",
    kernel: str = "auto",
    precision: str = "auto",
) -> tuple[float, float, lc.LSTMForecaster]:
    """lstmcast's fit on ``series`` (one epoch): seconds of fit(), of its training loop, model.

    ``kernel``: the LSTM kernel (``lc.LSTM.kernel``: "auto", "fused" or "stock");
    ``precision``: the estimator's setting.
    """
    model = lc.LSTMForecaster(
        recipe="tutorial",
        window=W2_STEPS,
        horizon=1,
        hidden_size=W2_HIDDEN,
        num_layers=W2_LAYERS,
        epochs=1,
        batch_size=W2_BATCH,
        lr=W2_LR,
        random_state=seed,
        forget_bias=forget_bias,
        device="cpu",
        precision=precision,
    )
    default_kernel = lc.LSTM.kernel
    lc.LSTM.kernel = kernel
    try:
        started = time.perf_counter()
        model.fit(series)
        seconds = time.perf_counter() - started
    finally:
        lc.LSTM.kernel = default_kernel
    return seconds, model.history_.seconds, model


def w2(
    sizes: Sizes = FULL,
    repeats: int = DEFAULT_REPEATS,
    bf16: str = "auto",
    keras: bool = True,
    forget_bias: float | None = None,
) -> dict:
    """Training throughput of lstmcast, the reference and Keras, medians of alternating repeats.

    lstmcast and the reference run in this process, Keras (when ``keras`` and TensorFlow is
    importable) in a child process per repeat. ``bf16``: "auto" (measure bf16 autocast when the
    CPU has native bf16 and a bf16 matmul is faster than float32), "on" or "off".
    ``forget_bias``: also train lstmcast with this initial forget-gate bias (an extra row).
    lstmcast also trains with torch's LSTM kernel (its default picks its own fused kernel when
    it can be built), and where the CPU has native bfloat16 with ``precision="bf16"``.
    """
    n, held = sizes.w2_windows, sizes.w2_held_out
    series = w2_series(n + held + W2_STEPS)
    windows = np.lib.stride_tricks.sliding_window_view(series[:-1], W2_STEPS)  # (n + held, 96)
    x = torch.tensor(windows[:, :, None], dtype=torch.float32)
    y = torch.tensor(series[W2_STEPS:, None], dtype=torch.float32)
    x_train, y_train, x_held, y_held = x[:n], y[:n], x[n:], y[n:]
    train_part = series[: n + W2_STEPS]  # exactly n windows of 96 -> 1 for lstmcast

    notes = []
    peak = matmul_gflops(sizes.matmul_n)
    peak_bf16 = None
    native = bf16_native()
    # Without native bf16 the matmul alone would be emulated, tens of times slower: not tried.
    if bf16 == "on" or (bf16 == "auto" and native):
        peak_bf16 = matmul_gflops(sizes.matmul_n, torch.bfloat16)
    use_bf16 = bf16 == "on" or (bf16 == "auto" and native and peak_bf16 > peak)
    if bf16 == "auto" and not native:
        notes.append(
            "bf16 skipped: oneDNN reports no native bfloat16 on this CPU "
            f"(capability {torch.backends.cpu.get_cpu_capability()}); it would be emulated"
        )
    elif bf16 == "auto" and not use_bf16:
        notes.append("bf16 skipped: a bf16 matmul is not faster than float32 here")
    elif bf16 == "off":
        notes.append("bf16 skipped (--bf16 off)")

    has_keras, note = keras_available() if keras else (False, "Keras skipped (keras=False)")
    if not has_keras:
        notes.append(note)
    keras_folder = tempfile.TemporaryDirectory(prefix="lstmcast-speed-")
    keras_params: dict[str, Any] = {
        "data": str(Path(keras_folder.name) / "w2.npz"),
        "hidden": W2_HIDDEN,
        "layers": W2_LAYERS,
        "batch": W2_BATCH,
        "lr": W2_LR,
        "threads": torch.get_num_threads(),
        "matmul_n": sizes.matmul_n,
        "matmul_repeats": MATMUL_REPEATS,
    }
    if has_keras:
        np.savez(
            keras_params["data"],
            x=x_train.numpy(),
            y=y_train.numpy(),
            x_held=x_held.numpy(),
            y_held=y_held.numpy(),
        )

    def held_out_mse(net: nn.Module) -> float:
        net.eval()
        with torch.no_grad():
            return float(nn.functional.mse_loss(net(x_held), y_held))

    def lstmcast_mse(model: lc.LSTMForecaster) -> float:
        """The same windows' MSE, one step ahead through lstmcast's own backtest."""
        one_step = model.backtest(series, h=1, n_windows=held, step_size=1)
        return float(np.mean((one_step["LSTM"].to_numpy() - one_step["y"].to_numpy()) ** 2))

    # lstmcast's variants beside its default: torch's LSTM kernel, and bfloat16 products.
    # Where "auto" already means bfloat16, the other precision shown is float32.
    variants = {"lstmcast fit(), torch's LSTM kernel": {"kernel": "stock"}}
    auto = lc_precision.resolve("auto", torch.device("cpu"), training=True)
    if auto == "bf16":
        variants["lstmcast fit(precision='fp32')"] = {"precision": "fp32"}
    elif lc_precision.native_bf16(torch.device("cpu")):
        variants["lstmcast fit(precision='bf16')"] = {"precision": "bf16"}
    else:
        notes.append("lstmcast precision='bf16' skipped: no native bfloat16 on this CPU")
    if not lc_fused.load():
        notes.append(f"lstmcast's fused kernel unavailable: {lc_fused.unavailable_reason()}")

    # Warm-up, untimed: the first Adam imports torch._dynamo; oneDNN builds its primitives.
    warm = min(W2_BATCH, max(1, n // 8))
    train_lstmcast(series[: warm + W2_STEPS], W2_SEED)
    for variant in variants.values():
        train_lstmcast(series[: warm + W2_STEPS], W2_SEED, **variant)
    train_reference(x_train[:warm], y_train[:warm], W2_SEED)
    if use_bf16:
        try:
            train_reference(x_train[:warm], y_train[:warm], W2_SEED, bf16=True)
        except RuntimeError as error:  # oneDNN has no bf16 LSTM for this CPU
            use_bf16 = False
            notes.append(f"bf16 failed: {str(error).splitlines()[0]}")

    runs: dict[str, list[tuple[float, float]]] = {  # (seconds, held-out MSE) per repeat
        "lstmcast fit()": [],
        "lstmcast training loop": [],
        "plain PyTorch float32": [],
    }
    if use_bf16:
        runs["plain PyTorch bf16 autocast"] = []
    runs |= {name: [] for name in variants}
    if has_keras:
        runs["Keras (own process)"] = []
    with_bias = f"lstmcast fit(forget_bias={forget_bias:g})" if forget_bias is not None else ""
    if with_bias:
        runs[with_bias] = []
    keras_matmul = []
    try:
        for repeat in range(repeats):
            seed = W2_SEED + repeat  # the same seed for every tool within a repeat
            fit_s, loop_s, model = train_lstmcast(train_part, seed)
            mse = lstmcast_mse(model)
            runs["lstmcast fit()"].append((fit_s, mse))
            runs["lstmcast training loop"].append((loop_s, mse))
            for name, variant in variants.items():
                fit_s, _, model = train_lstmcast(train_part, seed, **variant)
                runs[name].append((fit_s, lstmcast_mse(model)))
            if with_bias:
                fit_s, _, model = train_lstmcast(train_part, seed, forget_bias)
                runs[with_bias].append((fit_s, lstmcast_mse(model)))
            seconds, net = train_reference(x_train, y_train, seed)
            runs["plain PyTorch float32"].append((seconds, held_out_mse(net)))
            if use_bf16:
                seconds, net = train_reference(x_train, y_train, seed, bf16=True)
                runs["plain PyTorch bf16 autocast"].append((seconds, held_out_mse(net)))
            if has_keras:
                report = run_child(
                    W2_KERAS_PROGRAM, {**keras_params, "seed": seed}, dict(os.environ)
                )
                runs["Keras (own process)"].append((report.report["seconds"], report.report["mse"]))
                keras_matmul.append(report.report["matmul_gflops"])
    finally:
        keras_folder.cleanup()  # the windows saved for Keras: tens of MB

    flop = flop_per_window()
    tools = {}
    for tool, tool_runs in runs.items():
        rate = n / median([seconds for seconds, _ in tool_runs])
        tools[tool] = {
            "windows_per_s": rate,
            "gflops": rate * flop / 1e9,
            "peak_fraction": rate * flop / 1e9 / peak,
            "held_out_mse": median([mse for _, mse in tool_runs]),
        }
    result: dict[str, Any] = {
        "tools": tools,
        "windows": n,
        "held_out_windows": held,
        "repeats": repeats,
        "threads": torch.get_num_threads(),
        "flop_per_window": flop,
        "matmul_n": sizes.matmul_n,
        "matmul_fp32_gflops": peak,
        "matmul_bf16_gflops": peak_bf16,
        "bf16_native": native,
        "matmul_keras_gflops": median(keras_matmul) if keras_matmul else None,
        "ratio_lstmcast_torch": tools["lstmcast fit()"]["windows_per_s"]
        / tools["plain PyTorch float32"]["windows_per_s"],
        "ratio_lstmcast_keras": tools["lstmcast fit()"]["windows_per_s"]
        / tools["Keras (own process)"]["windows_per_s"]
        if has_keras
        else None,
        "bf16_mse_change": None,
        "bf16_within_tolerance": None,
        "notes": notes,
    }
    if use_bf16:
        # Same seed, same batches: compare each bf16 run with its own float32 run.
        changes = [
            bf16_mse / fp32_mse - 1
            for (_, fp32_mse), (_, bf16_mse) in zip(
                runs["plain PyTorch float32"], runs["plain PyTorch bf16 autocast"], strict=True
            )
        ]
        result["bf16_mse_change"] = median(changes)
        result["bf16_within_tolerance"] = max(abs(c) for c in changes) <= BF16_TOLERANCE
        result["bf16_speedup"] = (
            tools["plain PyTorch bf16 autocast"]["windows_per_s"]
            / tools["plain PyTorch float32"]["windows_per_s"]
        )
    return result


def format_w2(result: dict) -> str:
    base = result["tools"]["plain PyTorch float32"]["windows_per_s"]
    rows = [
        [
            tool,
            fmt(f["windows_per_s"], 0),
            fmt(f["gflops"], 1),
            f"{100 * f['peak_fraction']:.1f}%",
            fmt(f["windows_per_s"] / base),
            fmt(f["held_out_mse"], 4),
        ]
        for tool, f in result["tools"].items()
    ]
    for absent in ("plain PyTorch bf16 autocast", "Keras (own process)"):
        if absent not in result["tools"]:
            rows.append([absent, "-", "-", "-", "-", "-"])
    headers = [
        "tool",
        "windows/s",
        "GFLOP/s",
        "of fp32 matmul peak",
        "x plain PyTorch fp32",
        "held-out MSE",
    ]
    peak_line = (
        f"float32 matmul peak ({result['matmul_n']}^3, median of {MATMUL_REPEATS}, "
        f"torch threads {result['threads']}): {fmt(result['matmul_fp32_gflops'], 1)} GFLOP/s"
    )
    if result["matmul_bf16_gflops"] is not None:
        peak_line += f"; bfloat16: {fmt(result['matmul_bf16_gflops'], 1)} GFLOP/s"
    if result["matmul_keras_gflops"] is not None:
        peak_line += (
            f"; TensorFlow's float32 matmul, same size: "
            f"{fmt(result['matmul_keras_gflops'], 1)} GFLOP/s"
        )
    lines = [
        f"## W2: compute-bound training ({result['windows']:,} windows of {W2_STEPS} steps x 1 "
        f"feature, {W2_LAYERS}-layer LSTM({W2_HIDDEN}) + Linear(1), batch {W2_BATCH}, Adam, "
        f"one epoch; torch threads {result['threads']})",
        f"In-process, tools alternating, medians of {result['repeats']}. lstmcast fit() = "
        "LSTMForecaster.fit on a series of exactly that many windows (scaling, window gathering "
        "included; no validation); its training loop = history_.seconds. plain PyTorch = the "
        "same network on prebuilt windows (building model and Adam included). Keras = "
        "keras.Sequential([LSTM(128, return_sequences=True), LSTM(128), Dense(1)]), Adam, MSE, "
        "in its own process per repeat on the same windows, timed over one epoch of model.fit "
        "after an untimed warm-up fit on two batches (graph tracing and compilation). "
        "Held-out MSE: "
        f"one step ahead on the {result['held_out_windows']:,} windows after the training part, "
        "original units, float32 inference.",
        "",
        markdown_table(headers, rows),
        "",
        FLOP_FORMULA + ".",
        peak_line + ".",
        f"lstmcast fit() / plain PyTorch throughput: {fmt(result['ratio_lstmcast_torch'])}"
        + (
            f"; lstmcast fit() / Keras: {fmt(result['ratio_lstmcast_keras'])}."
            if result["ratio_lstmcast_keras"] is not None
            else "."
        ),
    ]
    if result["bf16_mse_change"] is not None:
        verdict = "within" if result["bf16_within_tolerance"] else "NOT within"
        lines.append(
            f"bf16 autocast: {fmt(result['bf16_speedup'])}x float32's throughput; held-out MSE "
            f"{100 * result['bf16_mse_change']:+.2f}% vs float32 (median over same-seed pairs), "
            f"{verdict} {100 * BF16_TOLERANCE:.0f}% in every pair."
        )
    lines += result["notes"]
    return "\n".join(lines)


# -- W3: inference at scale ---------------------------------------------------------------------
def w3_frame(n_series: int, length: int, seed: int = W3_SEED) -> pd.DataFrame:
    """Long frame of ``n_series`` seeded series: level + daily and weekly sines + noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    level = rng.normal(0.0, 5.0, (n_series, 1))
    amplitude = rng.uniform(0.5, 2.0, (n_series, 1))
    phase = rng.uniform(0.0, 2 * np.pi, (n_series, 1))
    y = (
        level
        + amplitude * np.sin(2 * np.pi * t / 24 + phase)
        + 0.3 * amplitude * np.sin(2 * np.pi * t / 168)
        + rng.normal(0.0, 0.2, (n_series, length))
    )
    ids = np.array([f"s{i:05d}" for i in range(n_series)], dtype=object)
    return pd.DataFrame(
        {"unique_id": np.repeat(ids, length), "ds": np.tile(t, n_series), "y": y.reshape(-1)}
    )


def w3(sizes: Sizes = FULL, repeats: int = DEFAULT_REPEATS) -> dict:
    """Series/s of one predict(h, df=all series) vs a loop of predict(h, df=one series)."""
    n, length, n_loop = sizes.w3_series, sizes.w3_length, sizes.w3_loop
    frame = w3_frame(n, length)
    # The scaler is per series id, learned in fit: every series must be in the training data.
    # So train on each series' first window + horizon points (one window per series, 1 epoch).
    first = frame.groupby("unique_id", sort=False).head(W3_WINDOW + W3_HORIZON)
    model = lc.LSTMForecaster(
        recipe="tutorial",
        window=W3_WINDOW,
        horizon=W3_HORIZON,
        hidden_size=W3_HIDDEN,
        epochs=1,
        batch_size=W2_BATCH,
        random_state=W3_SEED,
        device="cpu",
    )
    started = time.perf_counter()
    model.fit(first)
    train_s = time.perf_counter() - started
    per_series = [frame.iloc[i * length : (i + 1) * length] for i in range(n_loop)]
    model.predict(W3_H, df=per_series[0])  # warm-up, untimed

    batch_times, loop_times = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        batch = model.predict(W3_H, df=frame)
        batch_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        looped = [model.predict(W3_H, df=one) for one in per_series]
        loop_times.append(time.perf_counter() - started)

    # The loop must forecast what the batch does (up to batch-size-dependent rounding).
    looped_values = pd.concat(looped)["LSTM"].to_numpy()
    batch_values = batch["LSTM"].to_numpy()[: n_loop * W3_H]
    batch_sps = n / median(batch_times)
    loop_sps = n_loop / median(loop_times)
    return {
        "series": n,
        "length": length,
        "loop_series": n_loop,
        "repeats": repeats,
        "threads": torch.get_num_threads(),
        "train_s": train_s,
        "batch_s": median(batch_times),
        "batch_series_per_s": batch_sps,
        "loop_s": median(loop_times),
        "loop_series_per_s": loop_sps,
        "loop_ms_per_call": 1000 / loop_sps,
        "loop_extrapolated_s": n / loop_sps,
        "ratio_batch_loop": batch_sps / loop_sps,
        "max_abs_difference": float(np.max(np.abs(looped_values - batch_values))),
    }


def format_w3(result: dict) -> str:
    n, n_loop = result["series"], result["loop_series"]
    rows = [
        [
            f"one predict({W3_H}, df=all {n:,} series)",
            fmt(result["batch_s"]),
            fmt(result["batch_series_per_s"], 0),
            fmt(1000 / result["batch_series_per_s"], 3),
            fmt(result["ratio_batch_loop"], 1),
        ],
        [
            f"loop of predict({W3_H}, df=one series)",
            f"{fmt(result['loop_extrapolated_s'])} (extrapolated)",
            fmt(result["loop_series_per_s"], 0),
            fmt(result["loop_ms_per_call"], 3),
            fmt(1.0, 1),
        ],
    ]
    headers = ["call", f"s for {n:,} series", "series/s", "ms per series", "x loop"]
    return "\n".join(
        [
            f"## W3: inference at scale ({n:,} series of {result['length']:,} points, "
            f"LSTMForecaster window {W3_WINDOW}, horizon {W3_HORIZON}, LSTM({W3_HIDDEN}); "
            f"h = {W3_H}; torch threads {result['threads']})",
            f"Medians of {result['repeats']}. The loop is timed on the first {n_loop} series "
            f"and extrapolated to all {n:,}. Training (not part of W3): "
            f"{fmt(result['train_s'])} s, one epoch on each series' first "
            f"{W3_WINDOW + W3_HORIZON} points (lstmcast's scaling is per series id, learned in "
            "fit, so every series must be in the training data).",
            "",
            markdown_table(headers, rows),
            "",
            f"Loop vs batch forecasts of the first {n_loop} series: max |difference| "
            f"{result['max_abs_difference']:.2e}.",
        ]
    )


# -- command line -------------------------------------------------------------------------------
WORKLOADS: dict[str, tuple[Callable[..., dict], Callable[[dict], str]]] = {
    "w1": (w1, format_w1),
    "w2": (w2, format_w2),
    "w3": (w3, format_w3),
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.speed", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--repeats", type=int, default=None, help=f"default {DEFAULT_REPEATS}, 1 in --smoke"
    )
    parser.add_argument("--only", default="w1,w2,w3", help="comma-separated: w1,w2,w3")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, 1 repeat: seconds")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default torch's)")
    parser.add_argument(
        "--bf16", choices=("auto", "on", "off"), default="auto", help="W2's bf16 autocast run"
    )
    parser.add_argument(
        "--forget-bias",
        type=float,
        default=None,
        help="W2: also train lstmcast with this initial forget-gate bias (e.g. 1)",
    )
    args = parser.parse_args(argv)
    chosen = [name.strip().lower() for name in args.only.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in WORKLOADS]
    if unknown or not chosen:
        parser.error(f"--only takes some of {','.join(WORKLOADS)}; got {args.only!r}")
    if args.threads:
        lc.pin_threads(args.threads)
    sizes = SMOKE if args.smoke else FULL
    repeats = args.repeats or (1 if args.smoke else DEFAULT_REPEATS)

    print(
        f"# lstmcast {lc.__version__} speed{' (SMOKE: tiny sizes, not figures)' * args.smoke}: "
        f"Python {platform.python_version()}, torch {torch.__version__}, "
        f"{os.cpu_count()} CPUs ({torch.backends.cpu.get_cpu_capability()}), "
        f"torch threads {torch.get_num_threads()}, repeats {repeats}\n"
        f"# commit {git_commit(REPOSITORY)}; {cpu_description()}; load before: {load_average()}",
        flush=True,
    )
    for name in chosen:
        function, formatter = WORKLOADS[name]
        options: dict[str, Any] = {"sizes": sizes, "repeats": repeats}
        if name == "w1":
            options["threads"] = args.threads
        if name == "w2":
            options["bf16"] = args.bf16
            options["forget_bias"] = args.forget_bias
        started = time.perf_counter()
        result = function(**options)
        print(
            f"\n{formatter(result)}\n({name} took {time.perf_counter() - started:.0f} s)",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
