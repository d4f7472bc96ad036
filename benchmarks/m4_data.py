"""M4 Hourly: loading, the official M4 benchmarks (Naive, sNaive, Naive2) and the official scoring.

Everything here follows the M4 organisers' R code (``Benchmarks and Evaluation.R`` in
Mcompetitions/M4-methods), which produced the published benchmark figures:

* sMAPE (percent) and MASE per series are averaged over the 48 steps, then over the 414 series.
* OWA = (sMAPE / sMAPE_Naive2 + MASE / MASE_Naive2) / 2, with Naive2 computed on the same data.
* Naive2 = the last value of the seasonally adjusted series, reseasonalised; the adjustment is R's
  ``decompose(type = "multiplicative")`` and is applied only if the 90% autocorrelation test at
  lag m finds seasonality.

On the files in ``data/m4_hourly`` this reproduces the official figures to the published 3
decimals (see ``tests/test_benchmark_data.py``).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "DATA_DIR",
    "HORIZON",
    "PUBLISHED",
    "SEASON",
    "acf",
    "load_m4_hourly",
    "load_official_results",
    "mase_m4",
    "mase_scale",
    "naive",
    "naive2",
    "score",
    "score_cells",
    "seasonal_indices",
    "seasonal_naive",
    "seasonality_test",
    "smape_m4",
]

DATA_DIR = Path(__file__).resolve().parent / "data"
SEASON = 24  # M4 "frequency" of the Hourly subset: the MASE lag and the Naive2 season
HORIZON = 48  # steps to forecast per series

# Published M4 Hourly figures, (sMAPE %, MASE, OWA), from the organisers' "Evaluation and
# Ranks.xlsx" (sheet "Point Forecasts-Summary"); see data/m4_official_results_named.csv. OWA is
# kept to the table's 4 decimals (the shared README rounds it to 3). The official OWA appears to
# be computed from the 3-decimal sMAPE and MASE: Naive's is 3.5930, unrounded inputs give 3.5929.
PUBLISHED: dict[str, tuple[float, float, float]] = {
    "Naive": (43.003, 11.608, 3.593),
    "Naive2": (18.383, 2.395, 1.0),
    "sNaive": (13.912, 1.193, 0.6275),
    "RNN": (14.698, 3.048, 1.0361),  # the organisers' RNN benchmark
    "ES-RNN": (9.328, 0.893, 0.4401),  # Smyl (entry 118), overall M4 winner
    "No. 238": (8.913, 0.801, 0.4096),  # Doornik, Hendry, Castle: best Hourly entry
}


# ----------------------------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------------------------


def load_m4_hourly(
    data_dir: Path = DATA_DIR / "m4_hourly",
) -> tuple[list[np.ndarray], np.ndarray, list[str]]:
    """Load M4 Hourly.

    Returns ``(train, test, ids)``: ``train`` is 414 float64 arrays of 700..960 values each (the
    wide file's trailing padding removed), ``test`` is a (414, 48) float64 array of the next 48
    values, ``ids`` are "H1".."H414" in file order (the same in both files).
    """
    data_dir = Path(data_dir)
    train_df = pd.read_csv(data_dir / "train.csv.gz", index_col=0)
    test_df = pd.read_csv(data_dir / "test.csv.gz", index_col=0)
    if not train_df.index.equals(test_df.index):
        raise ValueError("train and test files list different series")
    values = train_df.to_numpy(dtype=np.float64)
    lengths = np.sum(~np.isnan(values), axis=1)
    # Padding is trailing only: a gap inside a series would silently shift its seasonality.
    if np.isnan(values[np.arange(values.shape[1]) < lengths[:, None]]).any():
        raise ValueError("missing values inside an M4 series")
    train = [row[:n].copy() for row, n in zip(values, lengths, strict=True)]
    test = test_df.to_numpy(dtype=np.float64)
    return train, test, [str(i) for i in train_df.index]


def load_official_results(path: Path = DATA_DIR / "m4_official_results_named.csv") -> pd.DataFrame:
    """Every M4 entry and benchmark: method, team, type, sMAPE/MASE/OWA (Hourly, Weekly), rank."""
    return pd.read_csv(path)


# ----------------------------------------------------------------------------------------------
# Seasonality: the M4 test and classical multiplicative decomposition
# ----------------------------------------------------------------------------------------------


def acf(x: np.ndarray, max_lag: int) -> np.ndarray:
    """Sample autocorrelations r_1..r_max_lag of ``x`` (n,), shape (max_lag,).

    The R ``acf()`` / M4 Python estimator: r_k = sum_t (x_t - mean)(x_{t+k} - mean) / sum_t
    (x_t - mean)^2, i.e. a biased (1/n) covariance divided by the variance.
    """
    x = np.asarray(x, dtype=np.float64)
    d = x - x.mean()
    denom = d @ d
    return np.array([d[k:] @ d[: len(d) - k] for k in range(1, max_lag + 1)]) / denom


def seasonality_test(x: np.ndarray, m: int) -> bool:
    """The M4 90% seasonality test at lag ``m`` for a series ``x`` (n,).

    Seasonal iff |r_m| > 1.645 sqrt((1 + 2 sum_{k=1}^{m-1} r_k^2) / n). Series shorter than 3m are
    never seasonal. As in R, ``acf()`` is only computed up to lag floor(10 log10 n) (capped at
    n - 1); the R code then reads r_m as NA and declares the series not seasonal. This only
    matters for short series (for m = 24: n < 252; every M4 Hourly series has n >= 700).
    This is the R benchmarks' version, which made the published figures; the M4 Python code
    (``ML_benchmarks.py``) forgets to square r_1, which changes nothing on M4 Hourly.
    """
    x = np.asarray(x, dtype=np.float64)
    n = len(x)
    if m <= 1 or n < 3 * m:
        return False
    if m > min(math.floor(10 * math.log10(n)), n - 1):
        return False
    if np.all(x == x[0]):  # constant series: r_m is 0/0 (NA in R), hence not seasonal
        return False
    r = acf(x, m)
    limit = 1.645 * math.sqrt((1 + 2 * np.sum(r[: m - 1] ** 2)) / n)
    return bool(abs(r[m - 1]) > limit)


def seasonal_indices(x: np.ndarray, m: int) -> np.ndarray:
    """Multiplicative seasonal indices of ``x`` (n,), shape (m,), mean 1.

    R's ``decompose(type = "multiplicative")`` (and statsmodels' ``seasonal_decompose``): the
    trend is a centred moving average of order m (2 x m for even m, so weights 1/(2m) at both
    ends), undefined for the first and last floor(m/2) points; the ratios x / trend are averaged
    per season position, ignoring the undefined ends; the averages are divided by their mean.
    Index ``i`` is the factor of ``x[i], x[i + m], ...``: positions count from the first value
    of ``x``, not from any calendar.
    """
    x = np.asarray(x, dtype=np.float64)
    n = len(x)
    if m < 2 or n < 2 * m:
        raise ValueError(f"need at least 2 full seasons (2 x {m} values), got {n}")
    # 2 x m for even m: an m-term average of two adjacent m-term averages, centred on a point.
    weights = np.r_[0.5, np.ones(m - 1), 0.5] / m if m % 2 == 0 else np.ones(m) / m
    half = len(weights) // 2
    trend = np.full(n, np.nan)
    trend[half : n - half] = np.convolve(x, weights, mode="valid")
    ratio = x / trend
    padded = np.full(-(-n // m) * m, np.nan)
    padded[:n] = ratio
    figure = np.nanmean(padded.reshape(-1, m), axis=0)
    return figure / figure.mean()


# ----------------------------------------------------------------------------------------------
# Benchmarks
# ----------------------------------------------------------------------------------------------


def naive(x: np.ndarray, h: int) -> np.ndarray:
    """Last value of ``x`` (n,) repeated, shape (h,)."""
    return np.full(h, float(x[-1]))


def seasonal_naive(x: np.ndarray, h: int, m: int) -> np.ndarray:
    """The last ``m`` values of ``x`` (n,) repeated, shape (h,)."""
    last = np.asarray(x[-m:], dtype=np.float64)
    return np.resize(last, h)


def naive2(x: np.ndarray, h: int, m: int) -> np.ndarray:
    """M4 Naive2, shape (h,): naive on the seasonally adjusted series, reseasonalised.

    Seasonal adjustment (division by the multiplicative indices) only if ``seasonality_test``
    fires; otherwise this is plain naive.
    """
    x = np.asarray(x, dtype=np.float64)
    if not seasonality_test(x, m):
        return naive(x, h)
    si = seasonal_indices(x, m)
    n = len(x)
    # Indices continue the cycle of the training data: step k (0-based) is position (n + k) % m.
    return x[-1] / si[(n - 1) % m] * si[(n + np.arange(h)) % m]


# ----------------------------------------------------------------------------------------------
# Scoring
# ----------------------------------------------------------------------------------------------


def smape_m4(y: np.ndarray, f: np.ndarray) -> np.ndarray:
    """M4 sMAPE in percent, mean over the last axis: 200 |y - f| / (|y| + |f|).

    ``y`` and ``f`` (..., h) -> (...); a float for 1-D input. No guard for 0/0: M4 data are
    positive, and the official code would give NaN too.
    """
    y = np.asarray(y, dtype=np.float64)
    f = np.asarray(f, dtype=np.float64)
    return np.mean(200.0 * np.abs(y - f) / (np.abs(y) + np.abs(f)), axis=-1)


def mase_scale(insample: np.ndarray, m: int) -> float:
    """MASE denominator: mean |x_t - x_{t-m}| over the training series ``insample`` (n,)."""
    x = np.asarray(insample, dtype=np.float64)
    return float(np.mean(np.abs(x[m:] - x[:-m])))


def mase_m4(insample: np.ndarray, y: np.ndarray, f: np.ndarray, m: int) -> float:
    """M4 MASE of one series: mean |y - f| over the horizon / ``mase_scale(insample, m)``.

    ``insample`` (n,) is the training series; ``y``, ``f`` (h,).
    """
    y = np.asarray(y, dtype=np.float64)
    f = np.asarray(f, dtype=np.float64)
    return float(np.mean(np.abs(y - f)) / mase_scale(insample, m))


def score(
    forecasts: np.ndarray,
    train: list[np.ndarray],
    test: np.ndarray,
    m: int = SEASON,
) -> dict[str, float]:
    """Official M4 scores of ``forecasts`` (series, h) against ``test`` (series, h).

    Returns mean ``smape`` (percent), mean ``mase``, ``owa`` (relative to Naive2 computed here
    from ``train``), and Naive2's own ``naive2_smape`` and ``naive2_mase``.
    """
    forecasts = np.asarray(forecasts, dtype=np.float64)
    test = np.asarray(test, dtype=np.float64)
    if forecasts.shape != test.shape or len(train) != len(test):
        raise ValueError(
            f"forecasts {forecasts.shape}, test {test.shape} and {len(train)} training series "
            "do not match"
        )
    if not np.isfinite(forecasts).all():
        raise ValueError("forecasts contain NaN or inf")
    h = test.shape[1]
    scales = np.array([mase_scale(x, m) for x in train])
    bench = np.stack([naive2(x, h, m) for x in train])

    def _means(f: np.ndarray) -> tuple[float, float]:
        smape = float(np.mean(smape_m4(test, f)))
        mase = float(np.mean(np.mean(np.abs(test - f), axis=1) / scales))
        return smape, mase

    smape, mase = _means(forecasts)
    smape_n2, mase_n2 = _means(bench)
    return {
        "smape": smape,
        "mase": mase,
        "owa": 0.5 * (smape / smape_n2 + mase / mase_n2),
        "naive2_smape": smape_n2,
        "naive2_mase": mase_n2,
    }


def score_cells(scores: dict[str, float], seconds: float) -> str:
    """A Markdown table's cells for ``score``'s figures and a training time: OWA | sMAPE | MASE
    | seconds."""
    return f"{scores['owa']:.4f} | {scores['smape']:.3f} | {scores['mase']:.3f} | {seconds:.0f}"
