"""Missing values on M4 Hourly: 5% of each series' training hours removed, then handled.

Usage (from the repository root):

    .venv/bin/python -m benchmarks.missing --threads 2     # four models, minutes each
    .venv/bin/python -m benchmarks.missing --smoke         # seconds: checks it runs

Issue 18's measure (item 3). From each of the 414 training series, 5% of its hours (rounded) are
removed at random (``numpy.random.default_rng(seed)``, series after series), never its last
hour, so every forecast starts at M4's own origin: the series keep their integer times, now with
gaps. Four models are trained with the same fixed settings: on the complete data
(``missing="error"``), and on the gappy data with ``fill_gaps=True`` and each of
``missing="interpolate"``, ``"ffill"`` and ``"mask"``. Each forecasts the 48 hours after its
series and is scored with the official sMAPE, MASE and OWA on the official test values, the MASE
scale and Naive2 from the complete training series for all four (what the data was, not what
was left of it). The settings are those the recipe chooses for the complete data
(``LSTMForecaster(horizon=48).plan``) with ``ensemble_size=1`` and ``time_budget=None``, so that
the machine's load cannot change what is trained; one seed, printed with the figures, the
machine and its load.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, ""):  # run as a file: make the `benchmarks` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.m4 import long_frame
from benchmarks.m4_data import SEASON, load_m4_hourly, score, score_cells, seasonal_naive
from benchmarks.machine import load_average, run_header, run_options

H = 48
REMOVED = 0.05  # share of each series' training hours removed
# --smoke: the first few series, one epoch of a tiny model.
SMOKE_SERIES = 6
SMOKE = {"epochs": 1, "hidden_size": 8}
# The runs: (name, the model's missing-value settings); "complete" trains on the whole data.
RUNS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("complete data", {}),
    ("gaps, interpolate", {"missing": "interpolate", "fill_gaps": True}),
    ("gaps, ffill", {"missing": "ffill", "fill_gaps": True}),
    ("gaps, mask", {"missing": "mask", "fill_gaps": True}),
)
REPO = Path(__file__).resolve().parents[1]


def remove_hours(series: list[np.ndarray], seed: int) -> list[np.ndarray]:
    """For each series (n,), the positions of the hours kept: all but ``REMOVED`` of them
    (rounded), drawn at random without the last one."""
    rng = np.random.default_rng(seed)
    kept = []
    for values in series:
        n = len(values)
        removed = rng.choice(n - 1, size=round(REMOVED * n), replace=False)
        kept.append(np.setdiff1d(np.arange(n), removed))
    return kept


def gappy_frame(series: list[np.ndarray], ids: list[str], kept: list[np.ndarray]) -> Any:
    """The long frame of ``series`` at their ``kept`` hours only (integer times with gaps)."""
    import pandas as pd

    return pd.DataFrame(
        {
            "unique_id": np.repeat(ids, [len(k) for k in kept]),
            "ds": np.concatenate(kept),
            "y": np.concatenate([values[k] for values, k in zip(series, kept, strict=True)]),
        }
    )


def run(
    seed: int, smoke: bool
) -> tuple[dict[str, Any], list[tuple[str, dict[str, float], float, str]]]:
    """The fixed settings, and every run's scores, training seconds and what it filled."""
    import lstmcast as lc

    train, test, ids = load_m4_hourly()
    if smoke:
        train, test, ids = train[:SMOKE_SERIES], test[:SMOKE_SERIES], ids[:SMOKE_SERIES]
    complete = long_frame(train, ids)
    gappy = gappy_frame(train, ids, remove_hours(train, seed))
    settings = lc.LSTMForecaster(horizon=H).plan(complete)
    settings |= {"ensemble_size": 1, "time_budget": None, "random_state": seed}
    settings |= SMOKE if smoke else {}
    results = []
    for name, missing in RUNS:
        started = time.perf_counter()
        model = lc.LSTMForecaster(**(settings | missing)).fit(gappy if missing else complete)
        seconds = time.perf_counter() - started
        forecast = model.predict(H)["LSTM"].to_numpy().reshape(len(ids), H)
        filled = "; ".join(model.fills_.lines()) if model.fills_ is not None else ""
        results.append((name, score(forecast, train, test), seconds, filled))
    naive = np.stack([seasonal_naive(x, H, SEASON) for x in train])
    results.append(("seasonal naive, complete data", score(naive, train, test), 0.0, ""))
    return settings, results


def report(results: list[tuple[str, dict[str, float], float, str]], smoke: bool) -> str:
    lines = [
        "| data, missing | OWA | sMAPE | MASE | training s | what was filled |",
        "|---|---|---|---|---|---|",
    ]
    for name, scores, seconds, filled in results:
        lines.append(f"| {name} | {score_cells(scores, seconds)} | {filled} |")
    if smoke:
        lines.append("(SMOKE: a few series, one epoch: not figures)")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = run_options(argv, (__doc__ or "").split("\n\n")[0], "the hours removed and the models")
    print(run_header("missing values on M4 Hourly", REPO, args.seed, args.threads), flush=True)
    settings, results = run(args.seed, args.smoke)
    print(f"# settings: {settings}", flush=True)
    print(report(results, args.smoke))
    print(f"# load after: {load_average()}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
