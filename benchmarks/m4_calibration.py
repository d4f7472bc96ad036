"""Which unit should conformal interval corrections be measured in? A validation-only study.

Usage (after two validation runs with 48 calibration hours that saved their models; the study
measures corrections additively in the data's units, as the library does for a model fitted on
y, so ``--prescale none``: a log-target model's corrections are made in log units):

    .venv/bin/python -m benchmarks.m4 --validate --level 95 --calibration-hours 48 \
        --val-at end --intervals conformal --prescale none --save val_conf
    .venv/bin/python -m benchmarks.m4 --validate --level 95 --calibration-hours 48 \
        --val-at end --intervals conformalized --prescale none --save val_cqr
    .venv/bin/python -m benchmarks.m4_calibration val_conf val_cqr

Each model was trained on the M4 Hourly training series minus their last 96 hours; hours -96..-48
are its calibration window, hours -48..end the validation targets. For every candidate unit the
script recomputes split-conformal corrections per horizon step from the calibration window (for
a quantile model: how far its learned 95% interval missed, conformalized quantile regression;
otherwise the point forecast's |error|), applies them to the validation forecasts, and prints
MSIS and coverage. The test set is never read.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import numpy as np

from benchmarks.m4 import long_frame
from benchmarks.m4_data import HORIZON, SEASON, load_m4_hourly

LEVEL = 95


def seasonal_mae(x: np.ndarray, lag: int) -> np.ndarray:
    """Mean absolute ``lag`` difference along the last axis: (..., n) -> (...)."""
    return np.mean(np.abs(x[..., lag:] - x[..., :-lag]), axis=-1)


# Candidate units, each a function of (model, histories before the forecast, ids) -> (series,).
Unit = Callable[[object, list[np.ndarray], list[str]], np.ndarray]
UNITS: dict[str, Unit] = {
    "each series' standard deviation (training part)": lambda model, histories, ids: (
        model.scaler_.scale[model.scaler_.rows_of(np.asarray(ids))]
    ),
    "seasonal MAE, whole history (the MSIS scale)": lambda model, histories, ids: np.array(
        [seasonal_mae(h, SEASON) for h in histories]
    ),
    "seasonal MAE of the input window (season_length=24)": lambda model, histories, ids: np.array(
        [seasonal_mae(h[-model.window :], SEASON) for h in histories]
    ),
    "lag-1 MAE of the input window (season_length=1)": lambda model, histories, ids: np.array(
        [seasonal_mae(h[-model.window :], 1) for h in histories]
    ),
}


def forecast(
    model: object, histories: list[np.ndarray], ids: list[str], raw: bool = True
) -> dict[str, np.ndarray]:
    """Point forecast and, for a quantile model, its bounds: each (series, 48); ``raw``: the
    heads' own bounds, before any correction (else the model's calibrated ones)."""
    calibration = model.calibration_
    if raw:
        model.calibration_ = None
    try:
        levels = [LEVEL] if model.quantile_levels else None
        frame = model.predict(HORIZON, long_frame(histories, ids), level=levels)
    finally:
        model.calibration_ = calibration
    return {name: frame[name].to_numpy().reshape(len(ids), HORIZON) for name in frame.columns[2:]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", help="model directories saved by m4.py --validate")
    parser.add_argument(
        "--series", type=int, help="only the first N series (20 for models saved by --smoke)"
    )
    args = parser.parse_args(argv)

    import lstmcast as lc

    train, _, ids = load_m4_hourly()
    if args.series:
        train, ids = train[: args.series], ids[: args.series]
    history = [s[:-HORIZON] for s in train]  # before the validation targets
    targets = np.stack([s[-HORIZON:] for s in train])
    calibration_history = [s[:-HORIZON] for s in history]
    calibration_targets = np.stack([s[-HORIZON:] for s in history])
    n = len(ids)
    probability = min(1.0, np.ceil((n + 1) * LEVEL / 100) / n)

    def score(lo: np.ndarray, hi: np.ndarray) -> tuple[float, float]:
        msis = np.mean(
            [
                lc.msis(y, a, b, x, SEASON, 1 - LEVEL / 100)
                for y, a, b, x in zip(targets, lo, hi, history, strict=True)
            ]
        )
        return float(msis), 100 * float(np.mean((targets >= lo) & (targets <= hi)))

    for directory in args.models:
        model = lc.load(directory)
        learned = bool(model.quantile_levels)
        print(
            f"\n{directory}: "
            + ("quantile heads (CQR)" if learned else "point forecast (conformal)")
        )
        before = forecast(model, calibration_history, ids)
        now = forecast(model, history, ids)
        lo_name, hi_name = f"LSTM-lo-{LEVEL}", f"LSTM-hi-{LEVEL}"
        if learned:
            print(
                f"  {'learned bounds, no correction':<55} MSIS %.3f  coverage %.2f%%"
                % score(now[lo_name], now[hi_name])
            )
        for unit, of in UNITS.items():
            unit_before = of(model, calibration_history, ids)
            unit_now = of(model, history, ids)
            if learned:
                misses = np.maximum(
                    before[lo_name] - calibration_targets, calibration_targets - before[hi_name]
                )
                low, high = now[lo_name], now[hi_name]
            else:
                misses = np.abs(calibration_targets - before["LSTM"])
                low = high = now["LSTM"]
            correction = np.quantile(misses / unit_before[:, None], probability, axis=0)  # (48,)
            lo = np.minimum(low - correction * unit_now[:, None], now["LSTM"])
            hi = np.maximum(high + correction * unit_now[:, None], now["LSTM"])
            print(f"  {unit:<55} MSIS %.3f  coverage %.2f%%" % score(lo, hi))


if __name__ == "__main__":
    main()
