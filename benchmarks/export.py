"""ONNX export on M4 Hourly: latency of torch against onnxruntime, one row and 10,000 at once.

Usage (from the repository root):

    .venv/bin/python -m benchmarks.export --threads 1    # about two minutes: train, export, time
    .venv/bin/python -m benchmarks.export --smoke        # seconds: checks it runs

Issue 18's measure for ``lstmcast export``. The model is the recipe's for M4 Hourly
(``LSTMForecaster(horizon=48)``: a week's window, 7 segments of 24 hours, 128 units, RevIN,
log(y)) with the recipe's largest ensemble, 3 networks (``ensemble_size=3``; the recipe trains
as many as its time budget allows), trained quickly: one epoch per network (``epochs=1``), as
the weights' values do not change the time a forward pass takes. It is exported twice, the
point forecast alone and with 80% and 95% conformal intervals, and each file is timed against
the same computation in torch (:func:`lstmcast.export.forecast_graph`, the module the file was
exported from: the per-series scaling, the three networks and their mean, the intervals, in
eager mode under ``torch.inference_mode``). Rows are windows of the 414 series' training data:
their last window of hours (one row: H1), and 10,000 windows at random origins of random series
(M4 Hourly has 414 series; a batch's cost depends on its rows, not on which series they are).

Each call is timed alone; torch and onnxruntime alternate call by call (side by side, under
the same load) after warm-up calls. torch and onnxruntime get the same ``--threads`` (torch's
``set_num_threads``, onnxruntime's ``intra_op_num_threads``). The machine, load, commit, file
sizes and the largest difference between the two are printed with the table.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a file: make the `benchmarks` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.m4 import long_frame
from benchmarks.m4_data import HORIZON, load_m4_hourly
from benchmarks.machine import cpu_description, load_average

REPO = Path(__file__).resolve().parents[1]
BATCH = 10_000
# Calls timed per (file, rows): enough for a p99 of one row; fewer for the 10,000-row batches.
REPEATS = {1: 500, BATCH: 40}
WARMUP = 5
LEVELS = [80.0, 95.0]
ENSEMBLE = 3  # the recipe's most
# --smoke: a few series, a tiny model, a few calls.
SMOKE_SERIES = 8
SMOKE = {"epochs": 1, "hidden_size": 8, "ensemble_size": 1}
SMOKE_BATCH = 100
SMOKE_REPEATS = 5


@dataclass(frozen=True)
class Timing:
    """One file at one batch size: torch's and onnxruntime's seconds per call, and the
    largest gap between their forecasts relative to the row's largest."""

    file: str
    rows: int
    torch: np.ndarray
    onnxruntime: np.ndarray
    max_difference: float

    def cells(self) -> list[str]:
        def ms(seconds: np.ndarray) -> str:
            p50, p99 = np.percentile(seconds, [50, 99]) * 1000
            return f"{p50:.2f} / {p99:.2f}"

        ratio = np.median(self.torch) / np.median(self.onnxruntime)
        return [self.file, f"{self.rows:,}", ms(self.torch), ms(self.onnxruntime), f"{ratio:.2f}"]


def windows(train: list[np.ndarray], window: int, rows: int, seed: int) -> tuple[np.ndarray, ...]:
    """``rows`` windows (rows, window) of random series at random origins, and their series
    (rows,); one row: the first series' last window."""
    if rows == 1:
        return np.zeros(1, dtype=np.int64), train[0][-window:][None, :]
    rng = np.random.default_rng(seed)
    series = rng.integers(0, len(train), rows)
    ends = [rng.integers(window, len(train[s]) + 1) for s in series]
    return series, np.stack([train[s][e - window : e] for s, e in zip(series, ends, strict=True)])


def time_side_by_side(
    calls: dict[str, Callable[[], np.ndarray]], repeats: int
) -> dict[str, np.ndarray]:
    """Seconds of each call, ``repeats`` times, alternating which goes first."""
    for call in calls.values():
        for _ in range(WARMUP):
            call()
    seconds: dict[str, list[float]] = {name: [] for name in calls}
    names = list(calls)
    for repeat in range(repeats):
        for name in names if repeat % 2 == 0 else names[::-1]:
            started = time.perf_counter()
            calls[name]()
            seconds[name].append(time.perf_counter() - started)
    return {name: np.array(values) for name, values in seconds.items()}


def time_file(
    graph: object, session: object, series: np.ndarray, x: np.ndarray, repeats: int
) -> tuple[float, dict[str, np.ndarray]]:
    """The largest difference of the two forecasts of rows ``series``, ``x`` (relative to
    the row's largest), and the seconds per call of each (torch ``graph``, onnxruntime
    ``session``)."""
    import torch

    inputs = (torch.from_numpy(series), torch.from_numpy(x))
    feed = {"series": series, "window": x}

    def in_torch() -> np.ndarray:
        with torch.inference_mode():
            out = graph(*inputs)  # type: ignore[operator]
        return (out[0] if isinstance(out, tuple) else out).numpy()

    def in_onnxruntime() -> np.ndarray:
        return session.run(["forecast"], feed)[0]  # type: ignore[attr-defined]

    # float32 networks: the two agree to about 1e-7 of each series' scale, so the gap is
    # measured relative to each row's largest forecast.
    a, b = in_torch(), in_onnxruntime()
    difference = float((np.abs(a - b).max(axis=1) / np.abs(a).max(axis=1)).max())
    return difference, time_side_by_side(
        {"torch": in_torch, "onnxruntime": in_onnxruntime}, repeats
    )


def run(seed: int, threads: int, smoke: bool) -> tuple[list[Timing], list[str]]:
    """The timings, and notes on the model and files (sizes, export seconds)."""
    import onnxruntime as ort
    import torch

    import lstmcast as lc
    from lstmcast.export import forecast_graph

    torch.set_num_threads(threads)
    train, _, ids = load_m4_hourly()
    if smoke:
        train, ids = train[:SMOKE_SERIES], ids[:SMOKE_SERIES]
    settings = {"horizon": HORIZON, "epochs": 1, "ensemble_size": ENSEMBLE, "random_state": seed}
    settings |= SMOKE if smoke else {}
    started = time.perf_counter()
    model = lc.LSTMForecaster(**settings).fit(long_frame(train, ids))
    notes = [
        f"model: {len(model.networks_)} network(s), window {model.window}, segment "
        f"{model.segment}, hidden {model.hidden_size}, {model.window_norm}; trained "
        f"{time.perf_counter() - started:.0f} s (one epoch each)"
    ]
    batch, repeats = (SMOKE_BATCH, SMOKE_REPEATS) if smoke else (BATCH, None)
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    timings = []
    with tempfile.TemporaryDirectory() as folder:
        for name, level in (("forecast", None), ("forecast + 80/95% intervals", LEVELS)):
            path = Path(folder) / "model.onnx"
            started = time.perf_counter()
            model.to_onnx(path, level=level)
            notes.append(
                f"{name}: {path.stat().st_size / 1024:.0f} KiB, exported in "
                f"{time.perf_counter() - started:.1f} s"
            )
            session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            graph = forecast_graph(model, level=level)
            for rows in (1, batch):
                series, x = windows(train, model.window, rows, seed)
                difference, seconds = time_file(graph, session, series, x, repeats or REPEATS[rows])
                timings.append(
                    Timing(name, rows, seconds["torch"], seconds["onnxruntime"], difference)
                )
    return timings, notes


def report(timings: list[Timing], notes: list[str], smoke: bool) -> str:
    lines = [
        "| file | rows per call | torch p50 / p99 ms | onnxruntime p50 / p99 ms "
        "| torch / ORT (p50) |",
        "|---|---|---|---|---|",
    ]
    lines += ["| " + " | ".join(timing.cells()) + " |" for timing in timings]
    gap = max(timing.max_difference for timing in timings)
    lines += [f"# {note}" for note in notes]
    lines.append(f"# largest |torch - onnxruntime| of a row's forecasts / its largest: {gap:.1e}")
    if smoke:
        lines.append("(SMOKE: a few series, a tiny model, a few calls: not figures)")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="seconds: a tiny model, few calls")
    parser.add_argument("--threads", type=int, default=1, help="torch and onnxruntime threads")
    parser.add_argument("--seed", type=int, default=0, help="training seed and rows drawn")
    args = parser.parse_args(argv)
    commit = subprocess.run(
        ["git", "describe", "--always", "--dirty"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    print(f"# ONNX export on M4 Hourly; commit {commit or '?'}; seed {args.seed}", flush=True)
    print(f"# {cpu_description()}; threads {args.threads}", flush=True)
    print(f"# load before: {load_average()}", flush=True)
    timings, notes = run(args.seed, args.threads, args.smoke)
    print(report(timings, notes, args.smoke))
    print(f"# load after: {load_average()}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
