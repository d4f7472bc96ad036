"""Cold start on M4 Hourly: forecast series the model never saw, from their own history.

Usage (from the repository root):

    .venv/bin/python -m benchmarks.cold_start --threads 2     # minutes: two models
    .venv/bin/python -m benchmarks.cold_start --smoke         # seconds: checks it runs

Issue 18's measure. The 414 series are split by position: the even ones (H1, H3, ...) train a
model, the odd ones (H2, H4, ...) are forecast cold from their training part
(``predict(48, df=..., cold_start=True)``), 48 hours ahead, and scored on the official test
values with the official sMAPE, MASE and OWA (Naive2 recomputed for those series). Beside it, on
the same odd series: a model trained on all 414 series (they were in its training), and seasonal
naive. Every model is the recipe's (``LSTMForecaster(horizon=48)``, nothing else given), one
seed; the machine, commit and load are printed with the figures.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a file: make the `benchmarks` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.m4 import long_frame
from benchmarks.m4_data import SEASON, load_m4_hourly, score, score_cells, seasonal_naive
from benchmarks.machine import load_average, run_header, run_options

H = 48
# --smoke: the first series of each half, one epoch of a tiny model.
SMOKE_SERIES = 8
SMOKE = {"epochs": 1, "hidden_size": 8, "ensemble_size": 1}
REPO = Path(__file__).resolve().parents[1]


def forecasts(model: object, series: list[np.ndarray], ids: list[str], cold: bool) -> np.ndarray:
    """(len(ids), H) forecasts of ``series`` from the end of each, by ``model``."""
    frame = model.predict(H, df=long_frame(series, ids), cold_start=cold)  # type: ignore[attr-defined]
    if cold and not frame["cold_start"].all():
        raise RuntimeError("a series forecast cold was known to the model")
    return frame["LSTM"].to_numpy().reshape(len(ids), H)


def run(seed: int, smoke: bool) -> list[tuple[str, dict[str, float], float]]:
    """Every model's scores on the odd series, and its training seconds."""
    import lstmcast as lc

    train, test, ids = load_m4_hourly()
    even, odd = np.arange(0, len(ids), 2), np.arange(1, len(ids), 2)
    if smoke:
        even, odd = even[:SMOKE_SERIES], odd[:SMOKE_SERIES]
    settings = {"horizon": H, "random_state": seed, **(SMOKE if smoke else {})}
    pick = lambda rows: ([train[i] for i in rows], [ids[i] for i in rows])  # noqa: E731
    odd_train, odd_ids = pick(odd)
    rows = []
    started = time.perf_counter()
    half = lc.LSTMForecaster(**settings).fit(long_frame(*pick(even)))
    half_seconds = time.perf_counter() - started
    cold = forecasts(half, odd_train, odd_ids, cold=True)
    rows.append(("trained on the even series, the odd ones cold", cold, half_seconds))
    everything = np.concatenate([even, odd])
    started = time.perf_counter()
    full = lc.LSTMForecaster(**settings).fit(long_frame(*pick(everything)))
    full_seconds = time.perf_counter() - started
    rows.append(("trained on all series", forecasts(full, odd_train, odd_ids, False), full_seconds))
    naive = np.stack([seasonal_naive(x, H, SEASON) for x in odd_train])
    rows.append(("seasonal naive", naive, 0.0))
    return [(name, score(f, odd_train, test[odd]), seconds) for name, f, seconds in rows]


def report(results: list[tuple[str, dict[str, float], float]], smoke: bool) -> str:
    lines = [
        "| model (scored on the odd series) | OWA | sMAPE | MASE | training s |",
        "|---|---|---|---|---|",
    ]
    for name, scores, seconds in results:
        lines.append(f"| {name} | {score_cells(scores, seconds)} |")
    if smoke:
        lines.append("(SMOKE: a few series, one epoch: not figures)")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = run_options(argv, (__doc__ or "").split("\n\n")[0], "random_state of both models")
    print(run_header("cold start on M4 Hourly", REPO, args.seed, args.threads), flush=True)
    results = run(args.seed, args.smoke)
    print(report(results, args.smoke))
    print(f"# load after: {load_average()}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
