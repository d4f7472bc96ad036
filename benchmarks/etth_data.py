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

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "CHANNELS",
    "DATA_PATH",
    "TARGET",
    "Protocol",
    "fit_scaler",
    "load_ett",
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


def load_ett(path: Path) -> pd.DataFrame:
    """Any CSV in the ETT layout (ETTh1, ETTh2, ETTm1, ETTm2): a ``date`` column, then numeric
    channels, one of them ``OT``; rows at one regular step."""
    df = pd.read_csv(path, parse_dates=["date"])
    if df.columns[0] != "date" or TARGET not in df.columns or len(df.columns) < 2:
        raise ValueError(
            f"{path}: the ETT layout is a 'date' column, then the channels, one of them "
            f"{TARGET!r}; got {list(df.columns)}"
        )
    Protocol.of(df["date"])  # a regular step the protocol's months can be counted in
    return df


@dataclass(frozen=True)
class Protocol:
    """The standard split in rows for data with ``rows_per_hour`` rows an hour: the hourly
    rows x 1 (ETTh), x 4 (the 15-minute ETTm files).

    ``fold`` moves the whole split that many validation spans (4 months) earlier: fold 1 trains
    on months 1-8 and validates on months 9-12, a second validation origin that never reaches the
    standard validation or test months (its "test" months are the standard validation ones).
    """

    rows_per_hour: int = 1
    fold: int = 0

    def __post_init__(self) -> None:
        folds = TRAIN_END // (VAL_END - TRAIN_END)  # at least one span left to train on
        if not 0 <= self.fold < folds:
            raise ValueError(f"fold must be in 0..{folds - 1}, got {self.fold}")

    @property
    def _shift(self) -> int:
        return self.fold * (VAL_END - TRAIN_END)

    @classmethod
    def of(cls, dates: pd.Series) -> Protocol:
        """The protocol for ``dates``, which must advance by one step that divides an hour."""
        steps = pd.to_datetime(dates).diff().dropna().unique()
        if len(steps) != 1 or pd.Timedelta(hours=1) % pd.Timedelta(steps[0]):
            raise ValueError(
                f"the dates must advance by one step that divides an hour; got {list(steps[:3])}"
            )
        return cls(int(pd.Timedelta(hours=1) / pd.Timedelta(steps[0])))

    @property
    def train_end(self) -> int:
        return (TRAIN_END - self._shift) * self.rows_per_hour

    @property
    def val_end(self) -> int:
        return (VAL_END - self._shift) * self.rows_per_hour

    @property
    def test_end(self) -> int:
        return (TEST_END - self._shift) * self.rows_per_hour


def standard_splits(
    values: np.ndarray, lookback: int, protocol: Protocol = Protocol()
) -> dict[str, np.ndarray]:
    """Raw (unscaled) row blocks of ``values`` (rows, C) for the standard protocol.

    Returns views ``{"train": [0, 8640), "val": [8640 - L, 11520), "test": [11520 - L, 14400)}``
    (hourly rows; x 4 for 15-minute ones) with L = ``lookback``; windowing each block gives
    targets that cover every row of its months.
    """
    train_end, val_end, test_end = protocol.train_end, protocol.val_end, protocol.test_end
    if not 0 < lookback <= train_end:
        raise ValueError(f"lookback must be in 1..{train_end}, got {lookback}")
    if len(values) < test_end:
        raise ValueError(f"need at least {test_end} rows, got {len(values)}")
    return {
        "train": values[:train_end],
        "val": values[train_end - lookback : val_end],
        "test": values[val_end - lookback : test_end],
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
