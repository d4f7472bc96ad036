"""Training on a busy machine: the same job idle and beside a process that burns one core.

Usage (from the repository root)::

    .venv/bin/python -m benchmarks.threads            # the reported run (a few minutes)
    .venv/bin/python -m benchmarks.threads --smoke    # seconds: checks the script runs

Each condition runs the same training (``benchmarks/programs/busy_fit.py``: an LSTM over
synthetic hourly series, one child process per run) with torch's threads pinned to every core
(what torch does by default, and lstmcast did before it chose), pinned to one, or left to
lstmcast (``lstmcast.threads``: the cores other processes leave idle). "Busy" runs start a
child that spins on one core first and stop it after. Conditions alternate within each repeat,
so slow spells of the shared machine fall on all of them; the figures are medians, and the
ratio that matters is each busy time over the idle time of the same setting.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from statistics import median

if __package__ in (None, ""):  # run as a file: make the `benchmarks` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.machine import run_header, run_options
from benchmarks.speed import run_child

REPOSITORY = Path(__file__).resolve().parent.parent
JOB = {"series": 40, "points": 600, "window": 96, "hidden_size": 128, "epochs": 2}
SMOKE_JOB = {"series": 4, "points": 200, "window": 24, "hidden_size": 8, "epochs": 1}
REPEATS, SMOKE_REPEATS = 3, 1
BURNER = "while True: pass"
# (name, busy, threads pinned or None for lstmcast's choice)
CONDITIONS = [
    ("idle, every core", False, "all"),
    ("idle, lstmcast's choice", False, None),
    ("busy, every core (before)", True, "all"),
    ("busy, lstmcast's choice (after)", True, None),
    ("busy, 1 thread", True, 1),
]


def run(job: dict, repeats: int, seed: int) -> dict[str, list[dict]]:
    """Every condition ``repeats`` times, alternating: each run's fit seconds and threads."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    env = {key: value for key, value in os.environ.items() if key != "OMP_NUM_THREADS"}
    runs: dict[str, list[dict]] = {name: [] for name, _, _ in CONDITIONS}
    for _ in range(repeats):
        for name, busy, threads in CONDITIONS:
            pinned = cores if threads == "all" else threads
            burner = subprocess.Popen([sys.executable, "-c", BURNER]) if busy else None
            try:
                done = run_child(
                    "benchmarks.programs.busy_fit", job | {"threads": pinned, "seed": seed}, env
                )
            finally:
                if burner is not None:
                    burner.kill()
                    burner.wait()
            runs[name].append(done.report)
    return runs


def report(runs: dict[str, list[dict]]) -> str:
    idle = {
        "all": median(r["fit_s"] for r in runs["idle, every core"]),
        "choice": median(r["fit_s"] for r in runs["idle, lstmcast's choice"]),
    }
    lines = [
        "| condition | training (median) | runs | threads used | x idle, same setting |",
        "|---|---|---|---|---|",
    ]
    for name, _, threads in CONDITIONS:
        seconds = [r["fit_s"] for r in runs[name]]
        used = sorted({r["threads"] for r in runs[name]})
        base = idle["choice"] if threads is None else idle["all"]
        lines.append(
            f"| {name} | {median(seconds):.2f} s | {', '.join(f'{s:.2f}' for s in seconds)} | "
            f"{', '.join(map(str, used))} | {median(seconds) / base:.2f} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    args = run_options(argv, __doc__.split("\n\n")[0], "the model's seed and the data's")
    print(run_header("Training beside a busy core", REPOSITORY, args.seed, args.threads))
    job, repeats = (SMOKE_JOB, SMOKE_REPEATS) if args.smoke else (JOB, REPEATS)
    print(f"# job: {job}, {repeats} repeats")
    print(report(run(job, repeats, args.seed)))


if __name__ == "__main__":
    main()
