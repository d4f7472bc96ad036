"""Where should a log-target model's conformal corrections be made? A validation-only study.

Usage (after a validation run that fitted log(y) with quantile heads and saved its model):

    .venv/bin/python -m benchmarks.m4 --validate --level 95 --prescale log --save val_log
    .venv/bin/python -m benchmarks.m4_log_calibration val_log

The model holds out each series' first 96 target hours (``val_at="start"``): the 49 windows whose
targets lie there are its calibration windows, hours -48..end of the training part the
validation targets. The library measures how far the learned 95% interval missed each
calibration window in model units (log y) per unit of the window's seasonal MAE of log y, and
widens the bounds by the conformal quantile of those misses before the exp. This script
recomputes the corrections in other units from the model's own uncorrected bounds (exp'd),
applies them to the validation forecasts and prints MSIS and coverage; the test set is never
read.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import numpy as np

from benchmarks.m4_calibration import LEVEL, forecast, seasonal_mae
from benchmarks.m4_data import HORIZON, SEASON, load_m4_hourly

LO, HI = f"LSTM-lo-{LEVEL}", f"LSTM-hi-{LEVEL}"


# Where a correction is made: (to the unit's space, back from it) and the unit of a window.
Space = tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]
LOG: Space = (np.log, np.exp)
DATA: Space = (lambda v: v, lambda v: v)
CANDIDATES: dict[str, tuple[Space, Callable[[np.ndarray], np.ndarray]]] = {
    "log units, seasonal MAE of log y's window (the library's)": (
        LOG,
        lambda w: seasonal_mae(np.log(w), SEASON),
    ),
    "log units, one for every window (a relative correction)": (
        LOG,
        lambda w: np.ones(len(w)),
    ),
    "data units, seasonal MAE of the window (as for a model on y)": (
        DATA,
        lambda w: seasonal_mae(w, SEASON),
    ),
    "data units, mean absolute value of the window": (DATA, lambda w: np.mean(np.abs(w), 1)),
    "data units, the median forecast's mean absolute value": (DATA, None),
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="a model directory saved by m4.py --validate --level 95")
    parser.add_argument(
        "--series", type=int, help="only the first N series (20 for models saved by --smoke)"
    )
    args = parser.parse_args(argv)

    import lstmcast as lc

    model = lc.load(args.model)
    if model.val_at != "start" or not model.quantile_levels:
        raise SystemExit("needs a model with quantile heads calibrated at the start (val_at)")
    train, _, ids = load_m4_hourly()
    if args.series:
        train, ids = train[: args.series], ids[: args.series]
    history = [s[:-HORIZON] for s in train]  # the model's training part
    targets = np.stack([s[-HORIZON:] for s in train])
    window = model.window
    n_windows = model.val_size - HORIZON + 1
    # Calibration window i of every series: inputs s[i : window + i], targets the next 48.
    calibration = [
        forecast(model, [s[: window + i] for s in history], ids) for i in range(n_windows)
    ]
    steps = range(n_windows)
    inputs = np.concatenate([np.stack([s[i : window + i] for s in history]) for i in steps])
    actual = np.concatenate(
        [np.stack([s[window + i : window + i + HORIZON] for s in history]) for i in steps]
    )
    before = {name: np.concatenate([c[name] for c in calibration]) for name in ("LSTM", LO, HI)}
    now = forecast(model, history, ids)
    windows_now = np.stack([s[-window:] for s in history])
    size = len(actual)
    probability = min(1.0, np.ceil((size + 1) * LEVEL / 100) / size)

    def score(lo: np.ndarray, hi: np.ndarray) -> str:
        msis = np.mean(
            [
                lc.msis(y, a, b, x, SEASON, 1 - LEVEL / 100)
                for y, a, b, x in zip(targets, lo, hi, history, strict=True)
            ]
        )
        coverage = 100 * np.mean((targets >= lo) & (targets <= hi))
        return f"MSIS {msis:.3f}  coverage {coverage:.2f}%"

    print(f"{args.model}: {size} calibration windows, probability {probability:.4f}")
    print(f"  {'learned bounds, no correction':<62} {score(now[LO], now[HI])}")
    library = forecast(model, history, ids, raw=False)
    print(f"  {'the library, as saved':<62} {score(library[LO], library[HI])}")
    for name, ((to, back), unit) in CANDIDATES.items():
        if unit is None:  # scaled by the forecast itself
            unit_before = np.mean(np.abs(before["LSTM"]), 1)
            unit_now = np.mean(np.abs(now["LSTM"]), 1)
        else:
            unit_before, unit_now = unit(inputs), unit(windows_now)
        misses = np.maximum(to(before[LO]) - to(actual), to(actual) - to(before[HI]))
        correction = np.quantile(misses / unit_before[:, None], probability, axis=0)  # (48,)
        point = to(now["LSTM"])
        lo = back(np.minimum(to(now[LO]) - correction * unit_now[:, None], point))
        hi = back(np.maximum(to(now[HI]) + correction * unit_now[:, None], point))
        print(f"  {name:<62} {score(lo, hi)}")
    # Without the heads: split-conformal around the median, in data units (I4's best unit).
    unit_before, unit_now = seasonal_mae(inputs, SEASON), seasonal_mae(windows_now, SEASON)
    errors = np.abs(actual - before["LSTM"]) / unit_before[:, None]
    half = np.quantile(errors, probability, axis=0) * unit_now[:, None]
    name = "the median +- conformal |error|, data units, seasonal MAE"
    print(f"  {name:<62} {score(now['LSTM'] - half, now['LSTM'] + half)}")


if __name__ == "__main__":
    main()
