"""A least-squares linear map from a window to the horizon, the partner of the LSTM on ETTh1.

Each channel's window of L values is normalised on its own (``"revin"``: less its mean, over its
standard deviation, as RLinear does; ``"last"``: less its last value, as NLinear does), one
matrix (L + 1, H) shared by every channel maps it to the horizon, and the forecast is
de-normalised the same way. The matrix is the ridge solution over every training window, in
closed form: no training loop, no seed, a few seconds. ``benchmarks/etth.py`` averages it with
the LSTM networks' mean (``--linear-weight``; the ninth round in RESULTS.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NORMS = ("revin", "last")
RIDGE = 1.0  # on (L + 1)^2 normal equations of ~60k rows: only keeps them well posed
_EPS = 1e-5  # keeps a flat window's standard deviation away from zero


def _per_channel(x: np.ndarray) -> np.ndarray:
    """(n, L, C) windows as (n * C, L) rows, channel fastest."""
    return x.transpose(0, 2, 1).reshape(-1, x.shape[1])


def _normalise(rows: np.ndarray, norm: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``rows`` (k, L) normalised, and each row's level and spread (k, 1)."""
    if norm == "last":
        level = rows[:, -1:]
        return rows - level, level, np.ones_like(level)
    level = rows.mean(axis=1, keepdims=True)
    spread = rows.std(axis=1, keepdims=True) + _EPS
    return (rows - level) / spread, level, spread


def _with_bias(rows: np.ndarray) -> np.ndarray:
    return np.hstack([rows, np.ones((len(rows), 1))])


@dataclass(frozen=True)
class LinearMap:
    """The fitted map: ``weights`` (L + 1, H), the window's normalisation ``norm``."""

    weights: np.ndarray
    norm: str

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray, norm: str = "revin") -> LinearMap:
        """Fit on windows ``x`` (n, L, C) and their targets ``y`` (n, H, C)."""
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
        inputs, level, spread = _normalise(_per_channel(x), norm)
        targets = (_per_channel(y) - level) / spread
        a = _with_bias(inputs)
        gram = a.T @ a + RIDGE * np.eye(a.shape[1])
        return cls(np.linalg.solve(gram, a.T @ targets), norm)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Forecasts (n, H, C) from windows ``x`` (n, L, C)."""
        n, _, channels = x.shape
        inputs, level, spread = _normalise(_per_channel(x), self.norm)
        rows = (_with_bias(inputs) @ self.weights) * spread + level
        return rows.reshape(n, channels, -1).transpose(0, 2, 1)
