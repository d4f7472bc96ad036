"""What run tracking costs: the same fit with no logger, TensorBoard, MLflow, and both.

Usage (from the repository root):

    .venv/bin/python -m benchmarks.tracking                 # 5 repeats, torch's threads
    .venv/bin/python -m benchmarks.tracking --threads 1
    .venv/bin/python -m benchmarks.tracking --smoke         # 1 repeat, 1 epoch: checks it runs

The job is the tutorial's (``lstmcast demo``'s series: 1000 points of sin(0.02 t) + noise,
``recipe="tutorial"``: window 20, LSTM(50), 10 epochs of batch 32 over the first 800 points, 780
windows, 250 optimizer steps): small, fast batches, where a logger's cost per batch weighs most.
Every batch's loss and learning rate is logged (``batch_every=1``, the default) and every fit
ends with its settings and diagnostics, into a fresh temporary directory (an MLflow file store).

In this process, configurations alternate within each repeat (repeat r fits with seed r), after
one untimed warm-up fit of each; reported: the median seconds of ``fit`` plus closing the
loggers, its ratio to the fit without one, and the extra time per optimizer step. The one-off
cost of importing each library is measured apart, in a fresh Python process per library (after
``import torch``), since a command pays it once.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.machine import cpu_description, load_average

N_TRAIN = 800  # points of the tutorial's series trained on
CONFIGS = ("none", "tensorboard", "mlflow", "both")
# What each library costs to import, after torch (a command with --tensorboard or --mlflow).
IMPORTS = {
    "tensorboard": "from torch.utils.tensorboard import SummaryWriter",
    "mlflow": "from mlflow.tracking import MlflowClient",
}


@dataclass(frozen=True)
class Row:
    config: str
    seconds: float  # median over repeats
    ratio: float  # to "none"
    per_step_us: float  # extra microseconds per optimizer step, against "none"


def loggers(config: str, folder: Path) -> list[Any]:
    """The loggers of ``config``, writing under ``folder``."""
    import lstmcast as lc

    made: list[Any] = []
    if config in ("tensorboard", "both"):
        made.append(lc.TensorBoardLogger(folder / "tb"))
    if config in ("mlflow", "both"):
        made.append(lc.MLflowLogger(folder / "mlruns", run_name=config))
    return made


def timed_fit(config: str, seed: int, epochs: int) -> tuple[float, int]:
    """Seconds of one fit (its loggers closed) and its optimizer steps."""
    import lstmcast as lc
    from lstmcast.demo import sine_series

    series = sine_series(0)[:N_TRAIN]
    with tempfile.TemporaryDirectory() as folder:
        made = loggers(config, Path(folder))
        model = lc.LSTMForecaster(recipe="tutorial", epochs=epochs, random_state=seed)
        started = time.perf_counter()
        model.fit(series, callbacks=made)
        for logger in made:
            logger.close()
        seconds = time.perf_counter() - started
    steps = len(model.history_.train_loss) * -(-model.history_.train_windows // model.batch_size)
    return seconds, steps


def import_seconds(statement: str, before: str = "import torch") -> float:
    """Seconds ``statement`` takes in a fresh Python process that has run ``before``."""
    program = (
        f"import time\n{before}\n"
        "started = time.perf_counter()\n"
        f"{statement}\n"
        "print(time.perf_counter() - started)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True
    )
    return float(done.stdout.strip().splitlines()[-1])


def run(
    repeats: int, epochs: int, clock: Callable[[str, int, int], tuple[float, int]] = timed_fit
) -> tuple[list[Row], dict[str, float]]:
    """The rows (one per configuration) and each library's import seconds (median of
    ``repeats`` fresh processes)."""
    for config in CONFIGS:  # warm-up: first use of each library, caches, allocator
        clock(config, 0, 1)
    times: dict[str, list[float]] = {config: [] for config in CONFIGS}
    steps = 0
    for repeat in range(repeats):
        for config in CONFIGS:
            seconds, steps = clock(config, repeat, epochs)
            times[config].append(seconds)
    base = statistics.median(times["none"])
    rows = []
    for config in CONFIGS:
        median = statistics.median(times[config])
        rows.append(Row(config, median, median / base, (median - base) / steps * 1e6))
    imports = {
        name: statistics.median(import_seconds(statement) for _ in range(repeats))
        for name, statement in IMPORTS.items()
    }
    return rows, imports


def table(rows: Sequence[Row], imports: dict[str, float]) -> str:
    """The rows as Markdown, and the import times."""
    lines = [
        "| logger | fit seconds (median) | ratio to none | extra per step |",
        "|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row.config} | {row.seconds:.3f} | {row.ratio:.3f} | {row.per_step_us:+.0f} us |"
        )
    lines.append("")
    lines += [
        f"import {name}, once per process: {seconds:.2f} s" for name, seconds in imports.items()
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> tuple[list[Row], dict[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed fits per configuration")
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    parser.add_argument("--smoke", action="store_true", help="1 repeat of 1 epoch")
    args = parser.parse_args(argv)
    import torch

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    repeats, epochs = (1, 1) if args.smoke else (args.repeats, 10)
    print(f"machine: {cpu_description()}; torch threads {torch.get_num_threads()}")
    print(f"load before: {load_average()}")
    rows, imports = run(repeats, epochs)
    print(f"load after: {load_average()}")
    print(table(rows, imports))
    return rows, imports


if __name__ == "__main__":
    main()
