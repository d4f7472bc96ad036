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
one untimed warm-up fit of each. Reported, medians over repeats: the seconds of ``fit`` plus
closing the loggers (and its ratio to the fit without one: on a shared machine this wall time
is noisy); and, measured inside the fit, the time spent in the loggers' hooks, per optimizer step
for the hooks every batch calls (``on_optimizer_step``, ``on_batch_end``) and per fit for the
others and ``close`` (the run's start, settings, epoch flushes, the final metrics). The one-off
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


# The hooks the loop calls at every optimizer step.
PER_STEP = ("on_optimizer_step", "on_batch_end")


@dataclass(frozen=True)
class Row:
    config: str
    seconds: float  # the fit's wall time, median over repeats
    ratio: float  # to "none"'s
    per_step_us: float  # microseconds in the per-step hooks, per step (median)
    per_fit_ms: float  # milliseconds in the other hooks and close, per fit (median)


class TimedHooks:
    """A callback that forwards every hook to ``logger``, adding up the seconds spent in each."""

    def __init__(self, logger: Any) -> None:
        self.logger = logger
        self.seconds: dict[str, float] = {}

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.logger, name)
        if not name.startswith("on_") and name != "close":
            return method

        def timed(*args: Any) -> Any:
            started = time.perf_counter()
            try:
                return method(*args)
            finally:
                spent = time.perf_counter() - started
                self.seconds[name] = self.seconds.get(name, 0.0) + spent

        return timed


def loggers(config: str, folder: Path) -> list[TimedHooks]:
    """The loggers of ``config``, writing under ``folder``, timed."""
    import lstmcast as lc

    made: list[Any] = []
    if config in ("tensorboard", "both"):
        made.append(lc.TensorBoardLogger(folder / "tb"))
    if config in ("mlflow", "both"):
        made.append(lc.MLflowLogger(folder / "mlruns", run_name=config))
    return [TimedHooks(logger) for logger in made]


@dataclass(frozen=True)
class Fit:
    seconds: float  # wall time of fit and close
    steps: int  # optimizer steps
    per_step: float  # seconds in the per-step hooks, all loggers
    per_fit: float  # seconds in the other hooks and close


def timed_fit(config: str, seed: int, epochs: int) -> Fit:
    """One fit of the tutorial's job with the loggers of ``config`` (closed), timed."""
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
    spent = [(hook, t) for logger in made for hook, t in logger.seconds.items()]
    per_step = sum(t for hook, t in spent if hook in PER_STEP)
    return Fit(seconds, steps, per_step, sum(t for _, t in spent) - per_step)


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
    repeats: int, epochs: int, clock: Callable[[str, int, int], Fit] = timed_fit
) -> tuple[list[Row], dict[str, float]]:
    """The rows (one per configuration) and each library's import seconds (median of
    ``repeats`` fresh processes)."""
    for config in CONFIGS:  # warm-up: first use of each library, caches, allocator
        clock(config, 0, 1)
    fits: dict[str, list[Fit]] = {config: [] for config in CONFIGS}
    for repeat in range(repeats):
        for config in CONFIGS:
            fits[config].append(clock(config, repeat, epochs))
    base = statistics.median(fit.seconds for fit in fits["none"])
    rows = []
    for config in CONFIGS:
        done = fits[config]
        median = statistics.median(fit.seconds for fit in done)
        per_step = statistics.median(fit.per_step / fit.steps for fit in done)
        per_fit = statistics.median(fit.per_fit for fit in done)
        rows.append(Row(config, median, median / base, per_step * 1e6, per_fit * 1e3))
    imports = {
        name: statistics.median(import_seconds(statement) for _ in range(repeats))
        for name, statement in IMPORTS.items()
    }
    return rows, imports


def table(rows: Sequence[Row], imports: dict[str, float]) -> str:
    """The rows as Markdown, and the import times."""
    lines = [
        "| logger | fit + close, s | ratio to none | in hooks per step | in other hooks per fit |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row.config} | {row.seconds:.3f} | {row.ratio:.3f} | {row.per_step_us:.0f} us "
            f"| {row.per_fit_ms:.0f} ms |"
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
        import lstmcast as lc

        lc.pin_threads(args.threads)
    repeats, epochs = (1, 1) if args.smoke else (args.repeats, 10)
    print(f"machine: {cpu_description()}; torch threads {torch.get_num_threads()}")
    print(f"load before: {load_average()}")
    rows, imports = run(repeats, epochs)
    print(f"load after: {load_average()}")
    print(table(rows, imports))
    return rows, imports


if __name__ == "__main__":
    main()
