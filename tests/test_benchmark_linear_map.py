"""benchmarks/linear_map.py: the least-squares window-to-horizon map beside the LSTM on ETTh1."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.linear_map import LinearMap


def windows_from(rule: np.ndarray, norm: str, n: int = 4000, seed: int = 0):
    """Random windows (n, L, 2) and targets (n, H, 2) that follow ``rule`` (L + 1, H) exactly in
    ``norm``'s normalised units, each window at its own level and scale."""
    rng = np.random.default_rng(seed)
    window = rule.shape[0] - 1
    shape = rule.shape[1]
    x = rng.normal(size=(n, window, 2)) * rng.uniform(0.5, 5, (n, 1, 2)) + rng.normal(
        0, 10, (n, 1, 2)
    )
    rows = x.transpose(0, 2, 1).reshape(-1, window)
    if norm == "last":
        level, spread = rows[:, -1:], np.ones((len(rows), 1))
    else:
        level, spread = rows.mean(1, keepdims=True), rows.std(1, keepdims=True) + 1e-5
    normal = (rows - level) / spread
    targets = (np.hstack([normal, np.ones((len(rows), 1))]) @ rule) * spread + level
    return x, targets.reshape(n, 2, shape).transpose(0, 2, 1)


@pytest.mark.parametrize("norm", ["revin", "last"])
def test_the_map_recovers_a_linear_rule_in_normalised_units(norm: str) -> None:
    rule = np.random.default_rng(1).normal(size=(7, 3))
    x, y = windows_from(rule, norm)
    fitted = LinearMap.fit(x, y, norm)
    # (Not the weights themselves: normalised windows sum to 0 ("revin") or end in 0 ("last"),
    # so some directions of the rule are not identified; the forecasts are.)
    held_x, held_y = windows_from(rule, norm, n=50, seed=2)
    forecast = fitted.predict(held_x)
    assert forecast.shape == held_y.shape
    np.testing.assert_allclose(forecast, held_y, rtol=0, atol=1e-3 * np.abs(held_y).max())


def test_channels_share_one_map_and_keep_their_order() -> None:
    rule = np.random.default_rng(3).normal(size=(5, 2))
    x, y = windows_from(rule, "revin", n=500)
    fitted = LinearMap.fit(x, y)
    swapped = fitted.predict(x[..., ::-1])
    np.testing.assert_allclose(swapped, fitted.predict(x)[..., ::-1])


def test_an_unknown_normalisation_is_refused() -> None:
    with pytest.raises(ValueError, match="norm must be one of"):
        LinearMap.fit(np.zeros((3, 4, 1)), np.zeros((3, 2, 1)), "none")
