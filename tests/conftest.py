from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

# Tiny models gain nothing from a second thread, and lose much when another process holds a core.
torch.set_num_threads(1)


@pytest.fixture
def two_series() -> pd.DataFrame:
    """Two hourly series of 120 points: a noisy daily sine and a noisy trend."""
    rng = np.random.default_rng(0)
    t = np.arange(120)
    ds = pd.date_range("2024-01-01", periods=120, freq="h")
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "unique_id": "a",
                    "ds": ds,
                    "y": np.sin(2 * np.pi * t / 24) + rng.normal(0, 0.1, 120),
                }
            ),
            pd.DataFrame(
                {"unique_id": "b", "ds": ds, "y": 10 + 0.05 * t + rng.normal(0, 0.1, 120)}
            ),
        ],
        ignore_index=True,
    )
