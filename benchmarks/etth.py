"""ETTh1 long-horizon benchmark: lstmcast's ``LSTMForecaster`` under the standard protocol.

Usage (from the repository root)::

    .venv/bin/python -m benchmarks.etth --horizon 96 --threads 1          # the reported run
    .venv/bin/python -m benchmarks.etth --horizon 720 --out etth_720.npz   # also save forecasts
    .venv/bin/python -m benchmarks.etth --horizon 96 --validate            # validation only
    .venv/bin/python -m benchmarks.etth --horizon 96 --smoke               # seconds: checks it runs
    .venv/bin/python -m benchmarks.etth --horizon 96 --hidden-size 256 --segment 48 ...

(``python -m benchmarks.etth`` works too.) Every model setting has a flag (``--help``); the
defaults are the settings chosen on validation for the horizon (:func:`defaults_for`: 3
networks and their mean; from H = 192 on the segments decoder with segments of a day),
recorded with every run in ``benchmarks/RESULTS.md``.

Protocol (Informer / Autoformer / LTSF-Linear / SegRNN, multivariate "M", lookback L = 96):
rows [0, 8640) of ETTh1 are training, [8640, 11520) validation and [11520, 14400) test; the last
3,020 rows are never used. The 7 channels form one wide frame (one column per channel) that
``LSTMForecaster`` treats as 7 series sharing one network (channel-independent). The model is
fitted on rows [0, 11520) with ``val_size=2880``: training windows have their targets in
[0, 8640), validation windows their targets in [8640, 11520) with inputs starting L rows early,
and the per-series scaler (mean, population std) is fitted on rows [0, 8640) only, exactly the
papers' StandardScaler (checked at run time against ``etth_data.fit_scaler``). Early stopping
uses the validation loss. The test forecasts are ``model.backtest`` over rows [0, 14400) with one
origin per hour: every window whose targets lie in [11520, 14400), all 2880 - H + 1 of them (no
``drop_last``). Forecasts and actual values are standardised with the training mean and std of
their channel; MSE and MAE are averaged over windows, steps and channels. The actual values are
checked at run time against ``etth_data.windows`` on the standardised test block.

Printed beside the result: SegRNN's published figure at L = 96 (the target) and the "Repeat"
(last value) baseline recomputed on the same windows. ``--out PATH.npz`` saves ``pred`` and
``true``, each (windows, H, channels) in standardised units, channels in the file's order.

``--linear-weight w`` averages the networks' forecast with a least-squares linear map of the
window (``benchmarks/linear_map.py``, fitted on the training windows; 1 - w and w) and prints
each alone beside the combination. Off by default: the ninth round in RESULTS.md measured it.

``--data PATH`` runs the same protocol on any CSV in the ETT layout (``date``, the channels, one
of them ``OT``): ETTh2 as it is, the 15-minute ETTm1 and ETTm2 with every split in rows x 4
(the same months). Only ETTh1 is shipped; published figures are printed for it alone.

Settings are chosen on validation only (``--validate`` never forecasts the test rows).
``--validate --fold 1`` moves the whole split 4 months earlier (trained on months 1-8, validated
on 9-12, the scaler fitted on months 1-8): a second validation origin, to see whether a choice
holds at another time of year before it is adopted.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if __package__ in (None, ""):  # run as a file: make the `benchmarks` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.etth_data import (
    TARGET,
    Protocol,
    fit_scaler,
    load_ett,
    load_etth1,
    mse_mae,
    repeat_forecast,
    standard_splits,
    windows,
)
from benchmarks.linear_map import LinearMap
from benchmarks.machine import load_average, measured_on

if TYPE_CHECKING:
    import pandas as pd

# Shipped data sets by name; ``--data PATH`` reads any other CSV in the ETT layout.
DATASETS: dict[str, Callable[[], pd.DataFrame]] = {"ETTh1": load_etth1}
LOOKBACK = 96  # the target's lookback (SegRNN's L = 96 table)
DROP_LAST_BATCH = 32  # the published test loaders' batch (drop_last=True): printed beside ours
TRAINING_LIMIT = 600  # seconds a horizon's training may take on 2 cores (issue 19's target)

# SegRNN, lookback 96, ETTh1 "M": (MSE, MAE) per horizon (benchmarks/data/README.md).
SEGRNN = {96: (0.368, 0.395), 192: (0.408, 0.419), 336: (0.444, 0.440), 720: (0.446, 0.457)}

# Settings chosen on validation (benchmarks/RESULTS.md lists every run); from each horizon of
# HORIZON_SETTINGS on, its settings replace some of them.
DEFAULTS: dict[str, Any] = {
    "window": LOOKBACK,
    "segment": 12,  # 8 LSTM steps of 12 hours each
    "decoder": "linear",  # one head over the horizon
    "channel": False,  # each channel's name as a static category (embedded; read by the decoder)
    "hidden_size": 256,
    "num_layers": 1,
    "dropout": 0.5,
    "window_norm": "last",  # subtract the window's last value, as SegRNN does
    "calendar": None,
    "loss": "mae",
    "lr": 1e-3,
    "lr_schedule": None,
    "grad_clip": None,
    "batch_size": 256,
    "epochs": 10,
    "patience": 3,
    "ensemble_size": 3,  # second round: -0.5% to -1.3% against one network
    "ensemble_combine": "mean",  # sixth round: below the median at all four horizons
    "forget_bias": None,  # torch's initialisation (what every recorded run used)
    # The LSTM's products: "auto" (the library's default), "fp32" or "bf16" (native only).
    "precision": "auto",
    # The forecast is (1 - w) x the networks' mean + w x a least-squares linear map of the
    # window (benchmarks/linear_map.py), its window normalised by linear_norm; 0: the LSTM alone.
    "linear_weight": 0.0,
    "linear_norm": "revin",
}
# Settings of the forecast around the LSTM, not of LSTMForecaster.
NOT_MODEL = ("channel", "linear_weight", "linear_norm")
# From each horizon on, settings that replace DEFAULTS'. From 192, the segments decoder with
# segments of a day: lower validation MSE than the linear head at H = 192, 336 and 720 with 3
# networks (second, third, sixth and eighth rounds), not at 96. From 336, MSE as the loss:
# -1.5% and -1.0% validation MSE at H = 336 and 720, -0.35% at 192 (eleventh round), +1.3% at
# 96 (third round, s03).
HORIZON_SETTINGS: tuple[tuple[int, dict[str, Any]], ...] = (
    (192, {"decoder": "segments", "segment": 24}),
    (336, {"loss": "mse"}),
)
# --smoke: seconds, not minutes; checks the pipeline, not the accuracy.
SMOKE = {"epochs": 1, "hidden_size": 16, "ensemble_size": 1}
SMOKE_TEST_WINDOWS = 48
LABEL_WIDTH = 34  # of the scores table's first column


def _optional(kind: Callable[[str], Any]) -> Callable[[str], Any]:
    """An argparse type that reads "none" as None."""

    def parse(text: str) -> Any:
        return None if text.lower() == "none" else kind(text)

    parse.__name__ = getattr(kind, "__name__", "value")
    return parse


def _yes_no(text: str) -> bool:
    if text.lower() not in ("yes", "no", "true", "false"):
        raise ValueError(f"expected yes or no, got {text!r}")
    return text.lower() in ("yes", "true")


def _names(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(",") if name.strip())


_TYPES: dict[str, Callable[[str], Any]] = {
    "window": int,
    "segment": int,
    "decoder": str,
    "channel": _yes_no,
    "hidden_size": int,
    "num_layers": int,
    "dropout": float,
    "window_norm": _optional(str),
    "calendar": _optional(_names),
    "loss": str,
    "lr": float,
    "lr_schedule": _optional(str),
    "grad_clip": _optional(float),
    "batch_size": int,
    "epochs": int,
    "patience": _optional(int),
    "ensemble_size": int,
    "ensemble_combine": str,
    "forget_bias": _optional(float),
    "precision": str,
    "linear_weight": float,
    "linear_norm": str,
}


def defaults_for(horizon: int) -> dict[str, Any]:
    """The settings chosen on validation for ``horizon``."""
    settings = dict(DEFAULTS)
    for start, changes in HORIZON_SETTINGS:
        if horizon >= start:
            settings |= changes
    return settings


def _standardise(values: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    return (values - mean) / std


def _windows_of(
    frame: pd.DataFrame, column: str, horizon: int, channels: tuple[str, ...]
) -> np.ndarray:
    """A backtest frame's ``column`` as (windows, horizon, channels), in ``channels`` order."""
    ids = frame["unique_id"].to_numpy()[:: len(frame) // len(channels)]
    if tuple(ids) != channels:
        raise RuntimeError(f"backtest series order {tuple(ids)} is not {channels}")
    values = frame[column].to_numpy(dtype=np.float64)
    return values.reshape(len(channels), -1, horizon).transpose(1, 2, 0)


def _epoch_log(started: float) -> Any:
    """A ``lstmcast.Callback`` that prints one line per epoch."""
    import lstmcast as lc

    class EpochLog(lc.Callback):
        def on_train_begin(self, epochs: int, batches_per_epoch: int) -> None:
            print(f"training: up to {epochs} epochs of {batches_per_epoch} batches", flush=True)

        def on_epoch_end(self, epoch: int, history: Any) -> None:
            val = f"  val loss {history.val_loss[-1]:.4f}" if history.val_loss else ""
            print(
                f"  epoch {epoch:>2}: train loss {history.train_loss[-1]:.4f}{val}"
                f"  ({time.perf_counter() - started:.0f} s)",
                flush=True,
            )

    return EpochLog()


def run(
    horizon: int,
    *,
    data: str = "ETTh1",
    seed: int = 0,
    threads: int | None = None,
    smoke: bool = False,
    validate: bool = False,
    fold: int = 0,
    verbose: bool = True,
    **overrides: Any,
) -> dict[str, Any]:
    """Fit on train + validation, score validation and (unless ``validate``) test.

    ``fold`` > 0 moves the split earlier (``etth_data.Protocol``): a second validation origin,
    validation only.

    ``overrides`` replace entries of ``defaults_for(horizon)``. Returns a dict with
    ``settings``, ``machine`` (commit, CPU, load before and after), ``train_seconds``,
    ``network_seconds`` (each network's training), ``total_seconds``, ``best_epoch``,
    ``epochs_run``, ``val``
    / ``val_repeat`` (MSE, MAE), and unless ``validate``: ``test`` / ``test_repeat`` (MSE, MAE),
    ``pred`` and ``true`` (windows, H, 7), standardised.
    """
    if horizon < 1:
        raise ValueError(f"horizon must be a positive integer, got {horizon}")
    if fold and not validate:
        raise ValueError("an earlier fold is a validation origin: run it with validate")
    unknown = set(overrides) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown settings {sorted(unknown)}; settings are {list(DEFAULTS)}")
    import torch

    import lstmcast as lc

    if threads:
        lc.pin_threads(threads)
    settings = defaults_for(horizon) | overrides
    if smoke:
        settings |= SMOKE
    weight = settings["linear_weight"]
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"linear_weight must be in [0, 1], got {weight}")
    L = settings["window"]
    load_before = load_average()
    started = time.perf_counter()

    df = DATASETS[data]() if data in DATASETS else load_ett(Path(data))
    protocol = replace(Protocol.of(df["date"]), fold=fold)
    train_end, val_end, test_end = protocol.train_end, protocol.val_end, protocol.test_end
    channels = tuple(str(name) for name in df.columns[1:])
    wide = df.set_index("date")[list(channels)].iloc[:test_end]
    values = wide.to_numpy(dtype=np.float64)
    blocks = standard_splits(values, L, protocol)
    mean, std = fit_scaler(blocks["train"])

    def rows(end: int) -> pd.DataFrame:
        """The first ``end`` rows: the wide frame, or with ``channel`` a long one whose static
        column ``channel`` names each series' channel."""
        if not settings["channel"]:
            return wide.iloc[:end]
        import pandas as pd

        part = wide.iloc[:end]
        return pd.concat(
            pd.DataFrame({"unique_id": name, "ds": part.index, "y": part[name], "channel": name})
            for name in channels
        )

    model_settings = {name: value for name, value in settings.items() if name not in NOT_MODEL}
    model = lc.LSTMForecaster(
        recipe="tutorial",
        horizon=horizon,
        val_size=val_end - train_end,
        random_state=seed,
        device="cpu",
        static_cols=("channel",) if settings["channel"] else None,
        **model_settings,
    )
    callbacks = [_epoch_log(started)] if verbose else []
    model.fit(rows(val_end), callbacks=callbacks)
    train_seconds = time.perf_counter() - started
    if not (
        tuple(model.scaler_.ids) == channels
        and np.allclose(model.scaler_.shift, mean, rtol=1e-12, atol=0)
        and np.allclose(model.scaler_.scale, std, rtol=1e-12, atol=0)
    ):
        raise RuntimeError("the model's scaler differs from the protocol's training scaler")

    # Fitted on the training rows' windows only, as the networks are (closed form: seconds).
    linear = None
    if weight:
        train_x, train_y = windows(_standardise(blocks["train"], mean, std), L, horizon)
        linear = LinearMap.fit(train_x, train_y, settings["linear_norm"])

    def score(frame: pd.DataFrame, block: np.ndarray, n: int) -> dict[str, Any]:
        """Standardised forecasts of the first ``n`` windows of ``block``, checked and scored;
        with a linear map, the LSTM's and the map's alone too."""
        forecast = model.backtest(frame, h=horizon, n_windows=n, step_size=1)
        pred = _standardise(_windows_of(forecast, "LSTM", horizon, channels), mean, std)
        true = _standardise(_windows_of(forecast, "y", horizon, channels), mean, std)
        x, y = windows(_standardise(block, mean, std), L, horizon)
        if not np.allclose(true, y[:n], rtol=0, atol=1e-9):
            raise RuntimeError("backtest targets differ from the protocol windows")
        parts = {}
        if linear is not None:
            alone = linear.predict(x[:n])
            parts = {"lstm": mse_mae(true, pred), "linear": mse_mae(true, alone)}
            pred = (1.0 - weight) * pred + weight * alone
        return {
            "pred": pred,
            "true": true,
            "model": mse_mae(true, pred),
            "repeat": mse_mae(y[:n], repeat_forecast(x[:n], horizon)),
            "parts": parts,
        }

    n_val = val_end - train_end - horizon + 1
    val = score(rows(val_end), blocks["val"], n_val)
    history = model.history_
    result: dict[str, Any] = {
        "data": data,
        "channels": channels,
        "horizon": horizon,
        "fold": fold,
        "seed": seed,
        "threads": torch.get_num_threads(),
        "settings": settings,
        "train_seconds": train_seconds,
        "network_seconds": [member.seconds for member in model.histories_],
        "best_epoch": history.best_epoch,
        "epochs_run": len(history.train_loss),
        "val_loss": history.val_loss,
        "val": val["model"],
        "val_repeat": val["repeat"],
        "val_parts": val["parts"],
    }
    if not validate:
        n_test = test_end - val_end - horizon + 1
        if smoke:  # the first few test windows only
            n_test = min(n_test, SMOKE_TEST_WINDOWS)
        end = val_end + horizon + n_test - 1
        test = score(rows(end), blocks["test"], n_test)
        result |= {
            "test": test["model"],
            "test_repeat": test["repeat"],
            "test_parts": test["parts"],
            "pred": test["pred"],
            "true": test["true"],
        }
    result["total_seconds"] = time.perf_counter() - started
    result["machine"] = measured_on(load_before)
    return result


def report(result: dict[str, Any], smoke: bool = False) -> str:
    """The printed summary of :func:`run`'s result."""
    H = result["horizon"]
    shown = ", ".join(f"{k}={v!r}" for k, v in result["settings"].items())
    channels = result["channels"]
    lines = [
        f"{result['data']} 'M' ({len(channels)} channels, channel-independent), lookback "
        f"{result['settings']['window']}, horizon {H}"
        + (" [SMOKE: not a result]" if smoke else ""),
        f"settings: {shown}",
        f"seed {result['seed']}, threads {result['threads']}; best epoch {result['best_epoch']} "
        f"of {result['epochs_run']} run",
        f"machine: {result['machine']}",
        f"wall time: training {result['train_seconds']:.0f} s, total "
        f"{result['total_seconds']:.0f} s",
        _training_time(result["network_seconds"], result["train_seconds"], result["threads"]),
        f"{'':<{LABEL_WIDTH}}{'MSE':>8}{'MAE':>8}",
        *_fold_line(result.get("fold", 0)),
        _row("validation: lstmcast", result["val"]),
        *_parts("validation", result["val_parts"]),
        _row("validation: Repeat", result["val_repeat"]),
    ]
    if "test" in result:
        n = result["pred"].shape[0]
        lines += [
            _row(f"test ({n} windows): lstmcast", result["test"]),
            *_parts("test", result["test_parts"]),
            _row("test: Repeat (recomputed)", result["test_repeat"]),
        ]
        # OT alone, the target of the univariate task (benchmarks/defaults.py's etth1_ot scores
        # the same windows, standardised the same way).
        # The published loaders' test set: drop_last=True with batch 32 leaves out the last
        # partial batch (benchmarks/data/README.md); our figure above keeps every window.
        kept = n // DROP_LAST_BATCH * DROP_LAST_BATCH
        dropped = mse_mae(result["true"][:kept], result["pred"][:kept])
        lines.append(_row(f"test, first {kept} (drop_last)", dropped))
        ot = channels.index(TARGET)
        ot_scores = mse_mae(result["true"][..., ot], result["pred"][..., ot])
        lines.append(_row("test, OT channel: lstmcast", ot_scores))
        published = result["data"] == "ETTh1" and result["settings"]["window"] == LOOKBACK
        if H in SEGRNN and published and not smoke:
            lines.append(_row("published: SegRNN (L=96)", SEGRNN[H], digits=3))
    return "\n".join(lines)


def _fold_line(fold: int) -> list[str]:
    """Which months an earlier fold trains and validates on (none for the standard split)."""
    if not fold:
        return []
    protocol = Protocol(fold=fold)
    span = protocol.val_end - protocol.train_end  # the 4 months' rows
    first = protocol.train_end // span * 4 + 1
    return [
        f"fold {fold}: trained on months 1-{first - 1}, validated on months {first}-{first + 3} "
        "(the standard validation is months 13-16)"
    ]


def _row(label: str, scores: Sequence[float], digits: int = 4) -> str:
    """One line of the scores table: ``label``, then MSE and MAE."""
    mse, mae = scores
    return f"{label:<{LABEL_WIDTH}}{mse:>8.{digits}f}{mae:>8.{digits}f}"


def _parts(split: str, parts: dict[str, tuple[float, float]]) -> list[str]:
    """With a linear map: the LSTM's and the map's own scores beside the combined one."""
    names = {"lstm": "the LSTM alone", "linear": "the linear map alone"}
    return [_row(f"{split}: {names[k]}", v) for k, v in parts.items()]


def _training_time(network_seconds: Sequence[float], seconds: float, threads: int) -> str:
    """Each network's training and the whole against :data:`TRAINING_LIMIT` (set for 2
    cores: with other thread counts the comparison is only indicative)."""
    each = ", ".join(f"{part:.0f}" for part in network_seconds)
    verdict = "within" if seconds <= TRAINING_LIMIT else "over"
    cores = "" if threads == 2 else f" (set for 2 threads; this run had {threads})"
    return (
        f"networks: {len(network_seconds)}, trained in {each} s; {verdict} the "
        f"{TRAINING_LIMIT // 60} minutes a horizon may take{cores}"
    )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--horizon", type=int, required=True, help="H, e.g. 96, 192, 336, 720")
    parser.add_argument(
        "--data",
        default="ETTh1",
        help=f"{', '.join(DATASETS)}, or the path of a CSV in the ETT layout (date, channels, OT; "
        "ETTh2, ETTm1, ETTm2: 15-minute files split in rows x 4)",
    )
    parser.add_argument("--out", type=Path, help="save pred and true (windows, H, 7) as .npz")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default torch's)")
    parser.add_argument("--smoke", action="store_true", help="1 epoch, tiny model, few windows")
    parser.add_argument(
        "--validate", action="store_true", help="score validation only; never forecast test"
    )
    parser.add_argument(
        "--fold",
        type=int,
        default=0,
        help="move the split this many 4-month spans earlier (a second validation origin: 1 "
        "trains on months 1-8, validates on 9-12); needs --validate",
    )
    group = parser.add_argument_group(
        "model settings ('none' turns an optional one off; unset: the horizon's default)"
    )
    for name, value in DEFAULTS.items():
        shown = f"{value}" + "".join(
            f"; from H = {start} on: {changes[name]}"
            for start, changes in HORIZON_SETTINGS
            if name in changes
        )
        group.add_argument(
            f"--{name.replace('_', '-')}",
            type=_TYPES[name],
            default=argparse.SUPPRESS,  # unset: run() takes the horizon's default
            help=f"default: {shown}",
        )
    args = parser.parse_args(argv)
    if args.data not in DATASETS and not Path(args.data).is_file():
        parser.error(
            f"--data {args.data!r} is neither {', '.join(DATASETS)} (shipped, in "
            "benchmarks/data/etth1) nor a CSV file in the ETT layout"
        )
    if args.out is not None and args.validate:
        parser.error("--out saves test forecasts; --validate makes none")
    if args.fold and not args.validate:
        parser.error("--fold moves the validation origin earlier: give --validate too")
    try:
        Protocol(fold=args.fold)
    except ValueError as error:
        parser.error(f"--fold: {error}")
    if args.horizon < 1:
        parser.error(f"--horizon must be a positive integer, got {args.horizon}")
    return args


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    settings = {name: getattr(args, name) for name in DEFAULTS if hasattr(args, name)}
    result = run(
        args.horizon,
        data=args.data,
        seed=args.seed,
        threads=args.threads,
        smoke=args.smoke,
        validate=args.validate,
        fold=args.fold,
        **settings,
    )
    if args.out is not None and "pred" in result:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(args.out, pred=result["pred"], true=result["true"])
    print(report(result, smoke=args.smoke), flush=True)
    return result


if __name__ == "__main__":
    main()
