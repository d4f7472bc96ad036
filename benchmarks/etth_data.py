"""ETTh1 with the standard long-horizon protocol (Informer / Autoformer / LTSF-Linear).

Splits (rows): train [0, 8640) = 12 months of 30 days, validation [8640 - L, 11520), test
[11520 - L, 14400); each later split starts ``lookback`` (L) rows early so that its first target
is its first own row, and the last 3,020 rows are never used. Values are standardised with the
mean and population std of the training rows; MSE and MAE are computed on standardised values,
averaged over windows, steps and channels. Windows slide by one row.

The reference loaders drop the last partial test batch (``drop_last=True``, batch 32); this
module keeps every window unless asked (``drop_last=True``), which moves the Repeat baseline by
at most 0.007.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "CHANNELS",
    "DATA_PATH",
    "TARGET",
    "fit_scaler",
    "load_etth1",
    "mse_mae",
    "repeat_forecast",
    "standard_splits",
    "windows",
]

DATA_PATH = Path(__file__).resolve().parent / "data" / "etth1" / "ETTh1.csv.gz"
CHANNELS = ("HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT")
TARGET = "OT"  # oil temperature: the target of the univariate "S" setting

_MONTH = 30 * 24  # the protocol's "month": 30 days of hourly rows
TRAIN_END = 12 * _MONTH  # 8640
VAL_END = 16 * _MONTH  # 11520
TEST_END = 20 * _MONTH  # 14400


def load_etth1(path: Path = DATA_PATH) -> pd.DataFrame:
    """ETTh1 as a DataFrame of 17,420 hourly rows: ``date`` (datetime64) + the 7 ``CHANNELS``."""
    df = pd.read_csv(path, parse_dates=["date"])
    if tuple(df.columns) != ("date", *CHANNELS):
        raise ValueError(f"unexpected ETTh1 columns: {list(df.columns)}")
    return df


def standard_splits(values: np.ndarray, lookback: int) -> dict[str, np.ndarray]:
    """Raw (unscaled) row blocks of ``values`` (rows, C) for the standard protocol.

    Returns views ``{"train": [0, 8640), "val": [8640 - L, 11520), "test": [11520 - L, 14400)}``
    with L = ``lookback``; windowing each block gives targets that cover every row of its months.
    """
    if not 0 < lookback <= TRAIN_END:
        raise ValueError(f"lookback must be in 1..{TRAIN_END}, got {lookback}")
    if len(values) < TEST_END:
        raise ValueError(f"need at least {TEST_END} rows, got {len(values)}")
    return {
        "train": values[:TRAIN_END],
        "val": values[TRAIN_END - lookback : VAL_END],
        "test": values[VAL_END - lookback : TEST_END],
    }


def fit_scaler(train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and population std (ddof 0, like sklearn's StandardScaler), each (C,)."""
    train = np.asarray(train, dtype=np.float64)
    return train.mean(axis=0), train.std(axis=0)


def windows(
    block: np.ndarray,
    lookback: int,
    horizon: int,
    *,
    drop_last: bool = False,
    batch_size: int = 32,
) -> tuple[np.ndarray, np.ndarray]:
    """All sliding (input, target) pairs of ``block`` (rows, C), as read-only zero-copy views.

    Returns ``x`` (n, lookback, C) and ``y`` (n, horizon, C) with n = rows - lookback - horizon
    + 1: window i reads rows [i, i + lookback) and targets [i + lookback, i + lookback + horizon).
    ``drop_last`` keeps only the first n - n % ``batch_size`` windows, as a DataLoader with
    ``drop_last=True`` and no shuffling would.
    """
    n = len(block) - lookback - horizon + 1
    if n < 1:
        raise ValueError(
            f"{len(block)} rows are too few for lookback {lookback} + horizon {horizon}"
        )
    # sliding_window_view puts the window axis last: (n, C, L + H) -> (n, L + H, C), still a view.
    w = np.lib.stride_tricks.sliding_window_view(block, lookback + horizon, axis=0)
    w = w.transpose(0, 2, 1)
    if drop_last:
        w = w[: n - n % batch_size]
    return w[:, :lookback], w[:, lookback:]


def repeat_forecast(x: np.ndarray, horizon: int) -> np.ndarray:
    """The "Repeat" baseline: each window's last input row repeated, (n, L, C) -> (n, horizon, C).

    A read-only broadcast view; copy it before writing into it.
    """
    return np.broadcast_to(x[:, -1:, :], (x.shape[0], horizon, x.shape[2]))


def mse_mae(y: np.ndarray, f: np.ndarray) -> tuple[float, float]:
    """MSE and MAE of ``f`` against ``y`` (same shape), averaged over every element."""
    err = np.asarray(f, dtype=np.float64) - np.asarray(y, dtype=np.float64)
    return float(np.mean(err**2)), float(np.mean(np.abs(err)))
