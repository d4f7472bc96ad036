"""The adding problem for several cells and lengths in turn, with one learning-curve plot.

Usage (from the repository root):

    .venv/bin/python -m benchmarks.adding --runs lstm:1000 --runs rnn:200 --budget 600
    .venv/bin/python -m benchmarks.adding --runs rnn:100,gru:100,lstm:100 --budget 120 -o cmp.png

Each run is ``lstmcast.adding_problem`` with its defaults (batch 32, 32 units, gradient norm
clipped at 1, chrono initialisation for lstm and gru, stop at 99 % test accuracy), Adam at
``--lr`` (default 1e-2, the experiment's), the given wall-clock budget, seed 0, on ``--threads``
torch threads. Printed per run: steps, wall seconds, test MSE, the trivial answer's MSE, accuracy
(|error| < 0.04), what stopped it, and the 1-minute load average before and after (the machine is
shared; a busy machine fits fewer steps into the budget).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence

import lstmcast as lc


def parse_runs(texts: Sequence[str]) -> list[tuple[str, int]]:
    """``["lstm:1000", "rnn:100,gru:100"]`` -> ``[("lstm", 1000), ("rnn", 100), ("gru", 100)]``."""
    runs = []
    for text in texts:
        for item in text.split(","):
            cell, _, length = item.partition(":")
            runs.append((cell.strip(), int(length)))
    return runs


def main(argv: Sequence[str] | None = None) -> list[lc.AddingResult]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", action="append", required=True, help="cell:T[,cell:T...]")
    parser.add_argument("--budget", type=float, default=600.0, help="wall seconds per run")
    parser.add_argument("--steps", type=int, default=20_000, help="training steps per run at most")
    parser.add_argument("--lr", type=float, default=1e-2, help="Adam learning rate")
    parser.add_argument("--no-chrono", action="store_true", help="torch's initialisation")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("-o", "--output", default=None, help="learning curves of all runs (PNG)")
    args = parser.parse_args(argv)
    lc.pin_threads(args.threads)

    results = []
    print(f"lr {args.lr:g}, budget {args.budget:g} s, seed {args.seed}, {args.threads} thread(s)")
    print("| cell | T | steps | wall s | test MSE | always 1.0 | accuracy | stopped | load |")
    print("|---|---|---|---|---|---|---|---|---|")
    for cell, length in parse_runs(args.runs):
        load_before = os.getloadavg()[0]
        result = lc.adding_problem(
            length,
            cell=cell,
            steps=args.steps,
            lr=args.lr,
            seed=args.seed,
            budget=args.budget,
            chrono=False if args.no_chrono else None,
        )
        results.append(result)
        print(
            f"| {cell} | {length} | {result.steps} | {result.seconds:.0f} | "
            f"{result.test_mse:.5f} | {result.baseline_mse:.4f} | {result.accuracy:.1%} | "
            f"{result.stopped} | {load_before:.2f} -> {os.getloadavg()[0]:.2f} |",
            flush=True,
        )
    if args.output:
        lc.plot_adding(results, path=args.output)
        print(f"wrote {args.output}")
    return results


if __name__ == "__main__":
    main()
