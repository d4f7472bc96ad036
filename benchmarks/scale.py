"""Scaling over processes: data-parallel training and sharded forecasting, 1 vs 2 processes.

Usage (from the repository root; needs pyarrow, ``pip install -e '.[parquet]'``):

    .venv/bin/python -m benchmarks.scale              # the recorded sizes
    .venv/bin/python -m benchmarks.scale --smoke      # tiny sizes: checks that it all runs

What is measured, every process on one thread (``torch.set_num_threads(1)``):

Training: SERIES synthetic series (noisy sines of random period, level and scale) of LENGTH
    points, in FILES Parquet files; ``LSTMForecaster(window=48, hidden_size=64, epochs=1)`` with
    a global batch of 256 windows (256 in one process, 128 on each of two). One process runs
    in this process without torchrun (the single-process path); two run under ``torchrun
    --standalone --nproc-per-node 2``, each reading its files. Reported: windows per second of
    the training loop (``history_.seconds``, data preparation excluded) and of the whole ``fit``,
    and the data each step all-reduces (every gradient once: parameters x 4 bytes, float32).

Forecasting: FORECAST_SERIES synthetic series; one model (window 48, LSTM(64)) trained on them
    beforehand (untimed, one window per series) and saved. One process: ``lc.load`` then
    ``predict()`` then the frame written to Parquet. Two processes: what ``lstmcast forecast``
    does under torchrun (each loads its share of the series, forecasts them in one batch and
    writes its part file; rank 0 the manifest), timed from a barrier before to a barrier after.

Process start-up (importing torch in each process, the rendezvous) is not in these figures; the
whole launch's wall time is printed beside them. The machine may be shared: ``uptime``'s load
average is printed before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

import lstmcast as lc
from benchmarks.machine import load_average


@dataclass(frozen=True)
class Sizes:
    series: int = 480  # training series
    length: int = 240  # points per training series
    files: int = 8
    window: int = 48
    hidden_size: int = 64
    batch: int = 256  # global: split evenly between the processes
    forecast_series: int = 100_000


SMOKE = Sizes(series=16, length=80, files=4, window=12, hidden_size=8, forecast_series=400)


def synthetic(n_series: int, length: int, seed: int, first: int = 0) -> pd.DataFrame:
    """``n_series`` noisy sines (ids s<first>, ...) of ``length`` hourly points: a long frame."""
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    period = rng.uniform(6, 48, n_series)[:, None]
    level, scale = rng.normal(0, 10, n_series)[:, None], rng.uniform(0.5, 5, n_series)[:, None]
    y = level + scale * np.sin(2 * np.pi * t / period) + rng.normal(0, 0.3, (n_series, length))
    ids = np.array([f"s{first + i}" for i in range(n_series)], dtype=object)
    return pd.DataFrame(
        {
            "unique_id": np.repeat(ids, length),
            "ds": np.tile(pd.date_range("2024-01-01", periods=length, freq="h"), n_series),
            "y": y.reshape(-1),
        }
    )


def prepare(work: Path, sizes: Sizes) -> None:
    """The training files and the forecasting model (trained here, untimed)."""
    data = work / "data"
    data.mkdir()
    per_file = sizes.series // sizes.files
    for f in range(sizes.files):
        frame = synthetic(per_file, sizes.length, seed=f, first=f * per_file)
        frame.to_parquet(data / f"part-{f:03d}.parquet", index=False)
    many = synthetic(sizes.forecast_series, sizes.window + 1, seed=99)
    model = lc.LSTMForecaster(
        recipe="tutorial",
        window=sizes.window,
        hidden_size=sizes.hidden_size,
        epochs=1,
        batch_size=1024,
        random_state=0,
    )
    model.fit(many).save(work / "forecast-model")
    (work / "sizes.json").write_text(json.dumps(asdict(sizes)))


def _model(sizes: Sizes, world: int) -> lc.LSTMForecaster:
    return lc.LSTMForecaster(
        recipe="tutorial",
        window=sizes.window,
        hidden_size=sizes.hidden_size,
        epochs=1,
        batch_size=sizes.batch // world,
        random_state=0,
    )


def _training_figures(model: lc.LSTMForecaster, fit_seconds: float) -> dict[str, float]:
    history = model.history_
    windows = history.train_windows * len(history.train_loss)
    parameters = sum(p.numel() for p in model.network_.parameters())
    return {
        "windows": windows,
        "loop_seconds": history.seconds,
        "loop_windows_per_s": windows / history.seconds,
        "fit_seconds": fit_seconds,
        "fit_windows_per_s": windows / fit_seconds,
        "parameters": parameters,
        "allreduce_bytes_per_step": 4 * parameters,
    }


def one_process(work: Path, sizes: Sizes) -> dict[str, Any]:
    """Both workloads in this process, without a process group."""
    df = lc.read_files(lc.data_files(work / "data"))
    model = _model(sizes, 1)
    started = time.perf_counter()
    model.fit(df)
    train = _training_figures(model, time.perf_counter() - started)
    started = time.perf_counter()
    forecast = lc.load(work / "forecast-model").predict()
    forecast.to_parquet(work / "forecast-1.parquet", index=False)
    seconds = time.perf_counter() - started
    return {"train": train, "forecast": _forecast_figures(forecast, seconds)}


def _forecast_figures(forecast: pd.DataFrame, seconds: float) -> dict[str, float]:
    series = forecast["unique_id"].nunique() if len(forecast) else 0
    return {"series": series, "seconds": seconds, "series_per_s": series / seconds}


def worker(work: Path) -> None:
    """Both workloads as one rank of a torchrun launch; rank 0 writes result-<world>.json."""
    import torch.distributed as dist

    from lstmcast import distributed, sharded

    torch.set_num_threads(1)
    sizes = Sizes(**json.loads((work / "sizes.json").read_text()))
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    files = distributed.assign_files(lc.data_files(work / "data"), world)[rank]
    df = lc.read_files(files)
    model = _model(sizes, world)
    dist.barrier()
    started = time.perf_counter()
    model.fit(df)
    train = _training_figures(model, time.perf_counter() - started)

    out = work / f"forecast-{world}"
    dist.barrier()
    started = time.perf_counter()
    sharded.forecast_part(work / "forecast-model", out)
    seconds = time.perf_counter() - started  # forecast_part ends with a barrier
    if rank == 0:
        manifest = json.loads((out / sharded.MANIFEST).read_text())
        forecast = {
            "series": manifest["series"],
            "seconds": seconds,
            "series_per_s": manifest["series"] / seconds,
        }
        result = {"train": train, "forecast": forecast}
        (work / f"result-{world}.json").write_text(json.dumps(result))
    dist.destroy_process_group()


def launch(work: Path, processes: int) -> dict[str, Any]:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    command += ["--nproc-per-node", str(processes), "-m", "benchmarks.scale", "--worker", str(work)]
    started = time.perf_counter()
    subprocess.run(
        command,
        check=True,
        capture_output=True,
        cwd=Path(__file__).parents[1],  # where ``-m benchmarks.scale`` is found
        env=os.environ | {"OMP_NUM_THREADS": "1"},
    )
    result = json.loads((work / f"result-{processes}.json").read_text())
    result["launch_seconds"] = time.perf_counter() - started
    return result


def run(sizes: Sizes, processes: list[int]) -> dict[str, Any]:
    torch.set_num_threads(1)
    results: dict[str, Any] = {"sizes": asdict(sizes), "load_before": load_average()}
    with tempfile.TemporaryDirectory(prefix="lstmcast-scale-") as tmp:
        work = Path(tmp)
        prepare(work, sizes)
        runs = {}
        for count in processes:
            runs[count] = one_process(work, sizes) if count == 1 else launch(work, count)
        results["runs"] = runs
    results["load_after"] = load_average()
    return results


def format_results(results: dict[str, Any]) -> str:
    sizes = Sizes(**results["sizes"])
    runs = results["runs"]
    lines = [
        f"Training: {sizes.series} series x {sizes.length} points in {sizes.files} Parquet files, "
        f"window {sizes.window}, LSTM({sizes.hidden_size}), global batch {sizes.batch}, 1 epoch, "
        "1 thread per process.",
        "",
        "| processes | windows | loop s | loop windows/s | fit windows/s | speed-up (loop) |",
        "|---|---|---|---|---|---|",
    ]
    base = next(iter(runs.values()))["train"]["loop_windows_per_s"]
    for count, result in runs.items():
        train = result["train"]
        lines.append(
            f"| {count} | {train['windows']:,} | {train['loop_seconds']:.2f} | "
            f"{train['loop_windows_per_s']:,.0f} | {train['fit_windows_per_s']:,.0f} | "
            f"{train['loop_windows_per_s'] / base:.2f}x |"
        )
    train = next(iter(runs.values()))["train"]
    lines += [
        "",
        f"All-reduce per step: {train['parameters']:,} parameters x 4 bytes = "
        f"{train['allreduce_bytes_per_step'] / 1024:.1f} KiB (gradients, once per step).",
        "",
        f"Forecasting: {sizes.forecast_series:,} series, window {sizes.window}, "
        f"LSTM({sizes.hidden_size}), h = 1, written to Parquet.",
        "",
        "| processes | seconds | series/s | speed-up | whole launch s |",
        "|---|---|---|---|---|",
    ]
    base = next(iter(runs.values()))["forecast"]["series_per_s"]
    for count, result in runs.items():
        forecast = result["forecast"]
        launch_seconds = result.get("launch_seconds")
        launched = f"{launch_seconds:.1f}" if launch_seconds is not None else "(in process)"
        lines.append(
            f"| {count} | {forecast['seconds']:.2f} | {forecast['series_per_s']:,.0f} | "
            f"{forecast['series_per_s'] / base:.2f}x | {launched} |"
        )
    lines += ["", f"Load average before: {results['load_before']}; after: {results['load_after']}."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: check that it runs")
    parser.add_argument(
        "--processes", default="1,2", help="comma-separated process counts (1: no torchrun)"
    )
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker is not None:
        worker(args.worker)
        return
    processes = [int(count) for count in args.processes.split(",")]
    results = run(SMOKE if args.smoke else Sizes(), processes)
    print(format_results(results))


if __name__ == "__main__":
    main()
