"""Updating a model with new data on M4 Hourly, beside a training on everything.

Usage (from the repository root):

    .venv/bin/python -m benchmarks.update --threads 2              # ~12 min: two trainings
    .venv/bin/python -m benchmarks.update --threads 2 --validate   # the same, one horizon earlier
    .venv/bin/python -m benchmarks.update --smoke                  # seconds: checks it runs

Issue 18's measure. Each series' training part is split: all but its last 96 hours train a
model (``LSTMForecaster(horizon=48)``, the recipe, nothing else given), then
``model.update(last_96_hours)`` continues it; beside it, the same recipe trained on the whole
training part. Both forecast the 48 test hours and are scored with the official sMAPE, MASE and
OWA. Also shown: the first model forecasting from the whole history without the update (what
``predict(df=...)`` alone gives) and seasonal naive. The target: the update within 0.01 OWA of
the full training, in less than a third of its time (seconds of training, measured side by side).

``--validate`` moves everything one horizon back (the last 48 training hours are the targets),
for choosing anything about updates without reading the test set. One seed, stated; the
machine, commit and load are printed with the figures.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a file: make the `benchmarks` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.m4_data import SEASON, load_m4_hourly, score, seasonal_naive
from benchmarks.machine import load_average, run_header

H = 48
NEW_HOURS = 96  # the points the update learns from (issue 18)
# --smoke: a few series, one epoch of a tiny model.
SMOKE_SERIES = 6
SMOKE = {"epochs": 1, "hidden_size": 8, "ensemble_size": 1}
REPO = Path(__file__).resolve().parents[1]


def frame(series: list[np.ndarray], ids: list[str], start: Sequence[int]) -> object:
    """Long frame of ``series`` whose integer times begin at ``start`` (one per series)."""
    import pandas as pd

    return pd.DataFrame(
        {
            "unique_id": np.repeat(ids, [len(s) for s in series]),
            "ds": np.concatenate(
                [np.arange(b, b + len(s)) for s, b in zip(series, start, strict=True)]
            ),
            "y": np.concatenate(series),
        }
    )


def run(seed: int, smoke: bool, validate: bool) -> list[tuple[str, dict[str, float], float]]:
    """Each way's scores on the target hours, and its training seconds."""
    import lstmcast as lc

    train, test, ids = load_m4_hourly()
    if validate:  # the last horizon of each training part becomes the target
        test = np.stack([x[-H:] for x in train])
        train = [x[:-H] for x in train]
    if smoke:
        train, test, ids = train[:SMOKE_SERIES], test[:SMOKE_SERIES], ids[:SMOKE_SERIES]
    settings = {"horizon": H, "random_state": seed, **(SMOKE if smoke else {})}
    zeros = [0] * len(ids)
    old = [x[:-NEW_HOURS] for x in train]
    new = [x[-NEW_HOURS:] for x in train]
    everything = frame(train, ids, zeros)

    def forecasts(model: lc.LSTMForecaster, df: object = None) -> np.ndarray:
        return model.predict(H, df=df)["LSTM"].to_numpy().reshape(len(ids), H)

    rows = []
    started = time.perf_counter()
    model = lc.LSTMForecaster(**settings).fit(frame(old, ids, zeros))
    first_seconds = time.perf_counter() - started
    rows.append(("first model, no update (forecast from all points)", forecasts(model, everything),
                 first_seconds))  # fmt: skip
    started = time.perf_counter()
    model.update(frame(new, ids, [len(x) for x in old]), random_state=seed)
    rows.append(("first model + update(last 96 hours)", forecasts(model),
                 time.perf_counter() - started))  # fmt: skip
    started = time.perf_counter()
    full = lc.LSTMForecaster(**settings).fit(everything)
    rows.append(("trained on everything", forecasts(full), time.perf_counter() - started))
    naive = np.stack([seasonal_naive(x, H, SEASON) for x in train])
    rows.append(("seasonal naive", naive, 0.0))
    return [(name, score(f, train, test), seconds) for name, f, seconds in rows]


# Update settings compared by --variants (on validation), beside the update's defaults.
VARIANTS: dict[str, dict[str, object]] = {
    "defaults": {},
    "10 epochs": {"epochs": 10},
    "lr / 10": {"lr": 3e-4},
    "lr / 10, 10 epochs": {"lr": 3e-4, "epochs": 10},
    "lr / 30, constant, 20 epochs": {"lr": 1e-4, "lr_schedule": None, "epochs": 20},
}


def variants(seed: int, smoke: bool, validate: bool) -> list[tuple[str, dict[str, float], float]]:
    """One first model, then each of :data:`VARIANTS` as its update, from a saved copy."""
    import tempfile

    import lstmcast as lc

    train, test, ids = load_m4_hourly()
    if validate:
        test = np.stack([x[-H:] for x in train])
        train = [x[:-H] for x in train]
    if smoke:
        train, test, ids = train[:SMOKE_SERIES], test[:SMOKE_SERIES], ids[:SMOKE_SERIES]
    settings = {"horizon": H, "random_state": seed, **(SMOKE if smoke else {})}
    old = [x[:-NEW_HOURS] for x in train]
    new = frame([x[-NEW_HOURS:] for x in train], ids, [len(x) for x in old])
    rows = []
    with tempfile.TemporaryDirectory() as directory:
        started = time.perf_counter()
        lc.LSTMForecaster(**settings).fit(frame(old, ids, [0] * len(ids))).save(directory)
        print(f"# first model: {time.perf_counter() - started:.0f} s", flush=True)
        everything = frame(train, ids, [0] * len(ids))
        f = lc.load(directory).predict(H, df=everything)["LSTM"].to_numpy().reshape(len(ids), H)
        rows.append(("no update (forecast from all points)", score(f, train, test), 0.0))
        for name, changes in VARIANTS.items():
            model = lc.load(directory)
            started = time.perf_counter()
            model.update(new, random_state=seed, **changes)
            seconds = time.perf_counter() - started
            f = model.predict(H)["LSTM"].to_numpy().reshape(len(ids), H)
            best = [h.best_epoch for h in model.histories_]
            rows.append((f"{name} (best epochs {best})", score(f, train, test), seconds))
    return rows


def report(results: list[tuple[str, dict[str, float], float]], smoke: bool) -> str:
    lines = ["| model | OWA | sMAPE | MASE | training s |", "|---|---|---|---|---|"]
    for name, scores, seconds in results:
        lines.append(
            f"| {name} | {scores['owa']:.4f} | {scores['smape']:.3f} | {scores['mase']:.3f} "
            f"| {seconds:.1f} |"
        )
    by_name = {name: (scores["owa"], seconds) for name, scores, seconds in results}
    if "trained on everything" in by_name:
        (updated, update_s), (full, full_s) = (
            by_name["first model + update(last 96 hours)"],
            by_name["trained on everything"],
        )
        lines.append(
            f"update vs everything: OWA {updated - full:+.4f} (target within 0.01), time "
            f"{update_s / full_s:.3f}x (target < 0.333)"
        )
    if smoke:
        lines.append("(SMOKE: a few series, one epoch: not figures)")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="seconds: a few series, one epoch")
    parser.add_argument("--validate", action="store_true", help="score the last training hours")
    parser.add_argument("--variants", action="store_true", help="compare update settings")
    parser.add_argument("--threads", type=int, help="torch threads")
    parser.add_argument("--seed", type=int, default=0, help="random_state of every training")
    args = parser.parse_args(argv)
    if args.threads:
        import lstmcast as lc

        lc.pin_threads(args.threads)
    part = "validation (last 48 training hours)" if args.validate else "test"
    print(run_header(f"update on M4 Hourly, {part}", REPO, args.seed, args.threads), flush=True)
    results = (variants if args.variants else run)(args.seed, args.smoke, args.validate)
    print(report(results, args.smoke))
    print(f"# load after: {load_average()}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
