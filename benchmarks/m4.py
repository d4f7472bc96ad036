"""M4 Hourly with lstmcast, scored exactly as the M4 organisers score it.

Usage (from the repository root, after `make test` or `make demo` has built .venv):

    .venv/bin/python -m benchmarks.m4                # the reported run: points and 95% intervals
    .venv/bin/python -m benchmarks.m4 --validate     # the same settings, scored on validation
    .venv/bin/python -m benchmarks.m4 --smoke        # seconds: a few series, one epoch
    .venv/bin/python -m benchmarks.m4 --points-only  # the point model alone (T5 had 5 networks)

One training of 3 networks gives the point forecasts and the 95% intervals (T7 in
benchmarks/RESULTS.md; T6 trained 5).

Protocol. The model is trained on the 414 training series only and forecasts the next 48 hours of
each; the test values are read for scoring and nothing else. Settings are chosen with
``--validate``: the last 48 hours of every training series are held out as validation targets and
scored the same way (the MASE scale then comes from the shortened training part), so the test set
never informs a choice. sMAPE, MASE and OWA follow the M4 definitions; OWA is relative to Naive2
(classical multiplicative decomposition when the 90% seasonality test fires).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from benchmarks.m4_data import (
    HORIZON,
    PUBLISHED,
    SEASON,
    load_m4_hourly,
    mase_scale,
    score,
    seasonal_naive,
)
from benchmarks.machine import load_average, measured_on

# Published M4 Hourly 95% interval figures (MSIS, |coverage - 95%| as a fraction where given).
PUBLISHED_MSIS = {
    "best (Doornik-Hendry-Castle)": (6.139, 0.002),
    "ES-RNN (the M4 winner)": (7.928, 0.040),
    "ARIMA benchmark": (7.538, None),
    "ETS benchmark": (17.487, None),
}

# Interval methods (all ordinary LSTMForecaster options) and what they hold out of training.
INTERVAL_METHODS = {
    "conformal": "--calibration-hours target hours of each series (its first, or its last with "
    "--val-at end) are held out of training and calibrate the point forecast's errors (val_size)",
    "learned": "quantile heads trained with the pinball loss on every training hour "
    "(quantile_levels)",
    "conformalized": "quantile heads, conformalized on the held-out --calibration-hours "
    "(quantile_levels and val_size)",
}

# Series of --smoke: with one 48-hour calibration window per series (--calibration-hours 48),
# enough for a 95% conformal interval (19 windows).
SMOKE_SERIES = 20

# Settings chosen on validation (see benchmarks/RESULTS.md for every run).
DEFAULTS = {
    "window": 168,  # a week of hours (M1: two weeks scored worse on validation, both seeds)
    "segment": 24,  # the LSTM steps over days: 7 steps
    "decoder": "linear",  # one head over the 48 hours
    "scaler": "standard",  # with --prescale other than none: "none" unless --scaler is given
    "hidden_size": 128,
    "num_layers": 1,
    "epochs": 10,
    "batch_size": 256,
    "lr": 3e-3,
    "lr_schedule": "onecycle",
    "loss": "mae",
    "window_norm": "revin",
    "ensemble_size": 3,  # 3 -> 5 in B1, back to 3 in E19 (benchmarks/RESULTS.md): 40% less time
    "ensemble_combine": "mean",  # the members' mean: E22 (median until T7)
    "season_length": 24,  # the daily cycle: the unit of conformal interval corrections
    "forget_bias": None,  # torch's initialisation (what every recorded run used)
    "quantile_training": "joint",  # with --level: every quantile on the pinball loss
    "median_weight": 1.0,  # with --level: the median's pinball term counts as each other's
    # With --level: None chooses (below) "seasonal" with the log, each window's bounds weighed as
    # MSIS weighs them (E14 in benchmarks/RESULTS.md); "none" keeps the median's unit.
    "interval_scale": None,
    # With --level: the calibration hours are each series' first target hours, not its last, so
    # training keeps the latest (chosen on validation, E7 in benchmarks/RESULTS.md).
    "val_at": "start",
    # The LSTM's products: "auto" (the library's default), "fp32" or "bf16" (native only).
    "precision": "auto",
}
OPTION_TYPES = {"forget_bias": float}  # options whose default (None) does not tell the type


def long_frame(series: list[np.ndarray], ids: list[str]) -> object:
    import pandas as pd

    return pd.DataFrame(
        {
            "unique_id": np.repeat(ids, [len(s) for s in series]),
            "ds": np.concatenate([np.arange(len(s)) for s in series]),
            "y": np.concatenate(series),
        }
    )


def epoch_printer() -> object:
    """A callback printing each epoch's training loss and elapsed time to stderr."""
    import sys

    import lstmcast as lc

    class EpochPrinter(lc.Callback):
        def on_epoch_end(self, epoch: int, history: lc.History) -> None:
            print(
                f"  epoch {epoch}: train loss {history.train_loss[-1]:.4f} "
                f"({history.seconds:.0f} s)",
                file=sys.stderr,
                flush=True,
            )

    return EpochPrinter()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--validate", action="store_true", help="score on the last 48 training hours"
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help=f"{SMOKE_SERIES} series, 1 epoch: checks the script runs",
    )
    parser.add_argument("--out", type=Path, help="write forecasts as CSV: unique_id, step, LSTM")
    parser.add_argument(
        "--level",
        type=float,
        action="append",
        help="prediction-interval level (percent, repeatable; default 95): adds "
        "LSTM-lo-<level> / LSTM-hi-<level> to --out and prints MSIS and coverage",
    )
    parser.add_argument(
        "--points-only",
        action="store_true",
        help="no intervals: the point model alone (log y, MAE; T5 in benchmarks/RESULTS.md)",
    )
    parser.add_argument(
        "--intervals",
        choices=list(INTERVAL_METHODS),
        default="conformalized",  # chosen on validation: benchmarks/RESULTS.md
        help="how --level intervals are made: "
        + "; ".join(f"{name}: {what}" for name, what in INTERVAL_METHODS.items()),
    )
    parser.add_argument(
        "--calibration-hours",
        type=int,
        default=2 * HORIZON,  # chosen on validation: benchmarks/RESULTS.md
        help="target hours of each series held out to calibrate conformal intervals "
        "(val_size; where: --val-at); every 48-hour window inside them is a calibration sample",
    )
    parser.add_argument("--save", type=Path, help="save the fitted model to this directory")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--prescale",
        choices=("none", "seasonal", "level", "log", "log-seasonal"),
        default="log",
        help="what the network is fitted on (chosen on validation, P2 and E14 in "
        "benchmarks/RESULTS.md): 'log' fits log(y) with --scaler none, or with --level "
        "standardised per series and the bounds weighed per window (--interval-scale seasonal) "
        "(target_transform='log': errors become relative ones, as sMAPE counts them, and the "
        "forecasts are exponentiated); 'seasonal' divides each series by its training part's "
        "mean absolute daily difference (the MASE scale) before fitting, 'level' by its mean "
        "absolute value (about what sMAPE divides by), both with --scaler none, and multiplies "
        "the forecasts back: the training loss then weighs series as MASE or sMAPE does; "
        "'log-seasonal' fits log(y) less its mean in units of its mean absolute daily "
        "difference (MASE's and MSIS's scale, in log units) and exponentiates back; 'none' fits "
        "y (with --scaler standard). An explicit --scaler overrides these (e.g. 'log' with "
        "'standard' scales each series' log values by their spread)",
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: torch's)"
    )
    for name, value in DEFAULTS.items():
        kind = OPTION_TYPES.get(name, type(value) if value is not None else str)
        parser.add_argument(f"--{name.replace('_', '-')}", type=kind, default=value)
    parser.set_defaults(scaler=None)  # unset: chosen below from --prescale and --level
    args = parser.parse_args(argv)

    import lstmcast as lc

    if args.threads:
        lc.pin_threads(args.threads)
    train, test, ids = load_m4_hourly()
    if args.validate:  # the last 48 training hours become the targets
        train, test = [s[:-HORIZON] for s in train], np.stack([s[-HORIZON:] for s in train])
    settings = {name: getattr(args, name) for name in DEFAULTS}
    levels = [] if args.points_only else (args.level or [95.0])
    heads = bool(levels) and args.intervals in ("learned", "conformalized")
    if heads:
        settings["quantile_levels"] = tuple(levels)
    if levels and args.intervals in ("conformal", "conformalized"):
        settings["val_size"] = args.calibration_hours
    if args.smoke:
        train, test, ids = train[:SMOKE_SERIES], test[:SMOKE_SERIES], ids[:SMOKE_SERIES]
        settings |= {"epochs": 1, "ensemble_size": 1, "hidden_size": 16}

    load_before = load_average()
    started = time.perf_counter()
    # recipe="tutorial": settings not in DEFAULTS keep the values they were chosen with.
    # The network fits (series - shift) / unit, series being log(y) with "log-seasonal".
    exp = args.prescale == "log-seasonal"
    series = [np.log(s) for s in train] if exp else train
    unit, shift = np.ones(len(ids)), np.zeros(len(ids))
    if args.prescale in ("seasonal", "log-seasonal"):  # in units of its mean daily change
        unit = np.array([mase_scale(s, SEASON) for s in series])
    if args.prescale == "level":
        unit = np.array([np.mean(np.abs(s)) for s in train])
    if exp:
        shift = np.array([np.mean(z) for z in series])
    # Quantile heads on log(y) (E14 on validation): each series' log standardised and each
    # window's bounds weighed by its daily variability, as MSIS weighs them.
    log_heads = heads and args.prescale == "log"
    if settings["scaler"] is None:  # else a prescale is the series' unit: no scaler on top of it
        standard = args.prescale == "none" or log_heads
        settings["scaler"] = DEFAULTS["scaler"] if standard else "none"
    if settings["interval_scale"] is None:
        settings["interval_scale"] = "seasonal" if log_heads else None
    elif settings["interval_scale"] == "none":
        settings["interval_scale"] = None
    if args.prescale == "log":  # the library's: the same as fitting log(y) and exp'ing back
        settings["target_transform"] = "log"  # M4 Hourly's values are all positive
    model = lc.LSTMForecaster(
        recipe="tutorial", horizon=HORIZON, random_state=args.seed, **settings
    )
    fitted = [(z - c) / u for z, c, u in zip(series, shift, unit, strict=True)]
    model.fit(long_frame(fitted, ids), callbacks=[epoch_printer()])
    fit_seconds = time.perf_counter() - started
    if args.save:
        model.save(args.save)
    forecast = model.predict(HORIZON, level=levels or None)

    def to_data(column: str) -> np.ndarray:
        """A forecast column in the data's units, (series, HORIZON)."""
        values = forecast[column].to_numpy().reshape(len(ids), HORIZON) * unit[:, None]
        return np.exp(values + shift[:, None]) if exp else values

    values = to_data("LSTM")
    bounds = {
        name: to_data(name)
        for level in levels
        for name in (f"LSTM-lo-{level:g}", f"LSTM-hi-{level:g}")
    }
    seconds = time.perf_counter() - started

    if args.out:
        import pandas as pd

        from lstmcast.files import atomic_path

        frame = pd.DataFrame(
            {
                "unique_id": np.repeat(ids, HORIZON),
                "step": np.tile(np.arange(1, HORIZON + 1), len(ids)),
                "LSTM": values.reshape(-1),
            }
            | {name: bound.reshape(-1) for name, bound in bounds.items()}
        )
        with atomic_path(args.out) as tmp:
            frame.to_csv(tmp, index=False)

    ours = score(values, train, test, SEASON)
    snaive = score(
        np.stack([seasonal_naive(s, HORIZON, SEASON) for s in train]), train, test, SEASON
    )
    part = "validation (last 48 training hours)" if args.validate else "test"
    print(f"M4 Hourly, {len(ids)} series, h={HORIZON}, scored on {part}")
    print(
        f"settings: {settings} prescale={args.prescale} seed={args.seed} "
        f"threads per network={[history.threads for history in model.histories_]}"
    )
    each = ", ".join(f"{history.seconds:.0f}" for history in model.histories_)
    print(
        f"training {fit_seconds:.0f} s (networks: {len(model.histories_)}, trained in {each} s), "
        f"total {seconds:.0f} s"
    )
    print(f"machine: {measured_on(load_before)}")
    print(f"{'model':<28}{'sMAPE':>8}{'MASE':>8}{'OWA':>8}")
    rows = [
        ("lstmcast LSTM", ours["smape"], ours["mase"], ours["owa"]),
        ("Naive2 (recomputed)", ours["naive2_smape"], ours["naive2_mase"], 1.0),
        ("SeasonalNaive (recomputed)", snaive["smape"], snaive["mase"], snaive["owa"]),
    ]
    if not args.validate and not args.smoke:
        rows += [(f"published: {name}", *figures) for name, figures in PUBLISHED.items()]
    for name, smape, mase, owa in rows:
        print(f"{name:<28}{smape:>8.3f}{mase:>8.3f}{owa:>8.3f}")
    for level in levels:
        lo, hi = bounds[f"LSTM-lo-{level:g}"], bounds[f"LSTM-hi-{level:g}"]
        alpha = 1 - level / 100
        msis = np.mean(
            [
                lc.msis(y, a, b, x, SEASON, alpha)
                for y, a, b, x in zip(test, lo, hi, train, strict=True)
            ]
        )
        coverage = np.mean((test >= lo) & (test <= hi))
        print(f"\n{level:g}% intervals: MSIS {msis:.3f}, coverage {100 * coverage:.2f}%")
        if level == 95 and not args.validate and not args.smoke:
            for name, (published_msis, deviation) in PUBLISHED_MSIS.items():
                print(
                    f"  published {name:<26} MSIS {published_msis:>7.3f}"
                    + (f", coverage deviation {deviation:.3f}" if deviation is not None else "")
                )


if __name__ == "__main__":
    main()
