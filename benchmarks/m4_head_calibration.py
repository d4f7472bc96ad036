"""Does the intervals' hold-out cost the points its data or its recency? A validation-only study.

Usage (from the repository root):

    .venv/bin/python -m benchmarks.m4_head_calibration --threads 1
    .venv/bin/python -m benchmarks.m4_head_calibration --smoke    # seconds: a few series, 1 epoch

The conformalized intervals of ``benchmarks/m4.py --level 95`` hold the last 96 training hours of
each series out of training to calibrate on (``val_size``), and its point forecast loses about
0.02 OWA on validation for it. This script trains the same model (m4.py's settings, quantile
heads, no validation tail) on each series without its FIRST 96 target hours instead: the series
start 96 hours later, so the model trains on as many windows as the tail hold-out leaves it, but
on the most recent hours. Those first target hours (49 overlapping 48-hour forecasts per series,
from the input window's hours before each) calibrate its learned bounds as the library would
(conformalized quantile regression, misses measured in units of each input window's seasonal
MAE), and it
forecasts the validation targets (the last 48 training hours). The test set is never read.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from benchmarks.m4 import DEFAULTS, SMOKE_SERIES, epoch_printer, long_frame
from benchmarks.m4_data import HORIZON, SEASON, load_m4_hourly, score

LEVEL = 95
HELD_OUT = 2 * HORIZON  # the first target hours of each series, as many as m4.py's tail


def window_unit(history: np.ndarray, window: int) -> float:
    """The library's unit of conformal corrections: the input window's mean absolute seasonal
    difference (in raw units, which the library's scaled units are proportional to; M4 Hourly
    has no flat window, so the library's floor is left out)."""
    recent = history[-window:]
    return float(np.mean(np.abs(recent[SEASON:] - recent[:-SEASON])))


def bounds(model: object, histories: list[np.ndarray], ids: list[str]) -> dict[str, np.ndarray]:
    """Point forecast and raw learned bounds from the end of each history: each (series, 48)."""
    frame = model.predict(HORIZON, long_frame(histories, ids), level=[LEVEL])
    return {name: frame[name].to_numpy().reshape(len(ids), HORIZON) for name in frame.columns[2:]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help=f"{SMOKE_SERIES} series, 1 epoch")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    parser.add_argument("--quantile-training", default=DEFAULTS["quantile_training"])
    args = parser.parse_args(argv)

    import torch

    import lstmcast as lc

    if args.threads:
        lc.pin_threads(args.threads)
    train, _, ids = load_m4_hourly()
    settings = dict(DEFAULTS) | {
        "quantile_levels": (LEVEL,),
        "quantile_training": args.quantile_training,
    }
    if args.smoke:
        train, ids = train[:SMOKE_SERIES], ids[:SMOKE_SERIES]
        settings |= {"epochs": 1, "ensemble_size": 1, "hidden_size": 16}
    history = [s[:-HORIZON] for s in train]  # before the validation targets
    targets = np.stack([s[-HORIZON:] for s in train])
    window = settings["window"]

    started = time.perf_counter()
    model = lc.LSTMForecaster(
        recipe="tutorial", horizon=HORIZON, random_state=args.seed, **settings
    )
    model.fit(long_frame([h[HELD_OUT:] for h in history], ids), callbacks=[epoch_printer()])
    fit_seconds = time.perf_counter() - started

    # The held-out first target hours: origins window .. window + HELD_OUT - HORIZON.
    misses = []
    for origin in range(window, window + HELD_OUT - HORIZON + 1):
        before = [h[:origin] for h in history]
        made = bounds(model, before, ids)
        actual = np.stack([h[origin : origin + HORIZON] for h in history])
        units = np.array([window_unit(h, window) for h in before])
        lo, hi = made[f"LSTM-lo-{LEVEL}"], made[f"LSTM-hi-{LEVEL}"]
        misses.append(np.maximum(lo - actual, actual - hi) / units[:, None])
    misses = np.concatenate(misses)  # (series * origins, 48)
    n = len(misses)
    probability = min(1.0, np.ceil((n + 1) * LEVEL / 100) / n)
    correction = np.quantile(misses, probability, axis=0)  # (48,)

    now = bounds(model, history, ids)
    point, lo, hi = now["LSTM"], now[f"LSTM-lo-{LEVEL}"], now[f"LSTM-hi-{LEVEL}"]
    units = np.array([window_unit(h, window) for h in history])[:, None]
    corrected = (
        np.minimum(lo - correction * units, point),
        np.maximum(hi + correction * units, point),
    )

    def interval_score(low: np.ndarray, high: np.ndarray) -> tuple[float, float]:
        msis = np.mean(
            [
                lc.msis(y, a, b, x, SEASON, 1 - LEVEL / 100)
                for y, a, b, x in zip(targets, low, high, history, strict=True)
            ]
        )
        return float(msis), 100 * float(np.mean((targets >= low) & (targets <= high)))

    points = score(point, history, targets, SEASON)
    print(f"M4 Hourly, {len(ids)} series, h={HORIZON}, scored on validation (last 48 hours)")
    print(f"settings: {settings} seed={args.seed} threads={torch.get_num_threads()}")
    print(f"trained without each series' first {HELD_OUT} target hours; {n} calibration windows")
    print(f"training {fit_seconds:.0f} s")
    print(
        f"point forecast: sMAPE {points['smape']:.3f}, MASE {points['mase']:.3f}, "
        f"OWA {points['owa']:.3f}"
    )
    for what, (low, high) in {
        "learned bounds, no correction": (lo, hi),
        "conformalized on the first hours": corrected,
    }.items():
        msis, coverage = interval_score(low, high)
        print(f"{LEVEL}% {what}: MSIS {msis:.3f}, coverage {coverage:.2f}%")


if __name__ == "__main__":
    main()
