"""Tuning: the recipe is trial 0, runs are reproducible with a seed and resume from the study."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("optuna")

from lstmcast.recipe import choose, facts_of
from lstmcast.tune import tune

FAST = {"epochs": 2, "hidden_size": 8, "batch_size": 64}


def _data() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    t = np.arange(24 * 14)
    ds = pd.date_range("2024-01-01", periods=t.size, freq="h")
    return pd.concat(
        pd.DataFrame(
            {
                "unique_id": name,
                "ds": ds,
                "y": 5 + np.sin(2 * np.pi * t / 24 + shift) + 0.1 * rng.normal(size=t.size),
            }
        )
        for name, shift in (("a", 0.0), ("b", 1.0))
    )


def test_tune_writes_its_outputs_and_starts_from_the_recipe(tmp_path: Path) -> None:
    result = tune(_data(), 12, tmp_path, n_trials=3, settings=FAST, time_budget=600)
    assert {p.name for p in tmp_path.iterdir()} >= {"study.db", "trials.csv", "trials.png", "model"}
    trials = pd.read_csv(tmp_path / "trials.csv")
    assert list(trials["trial"]) == [0, 1, 2]
    from lstmcast.data import Panel

    panel = Panel.from_data(_data())
    recipe = choose(facts_of(panel.head(panel.lengths - 24), panel.steps(), 12)).settings
    assert trials.loc[0, "seasons"] * 24 == recipe["window"]
    assert trials.loc[0, "window_norm"] == recipe["window_norm"]
    assert result.recipe_score == trials.loc[0, "MASE"]
    assert result.score == trials["MASE"].min()
    assert result.settings["epochs"] == 2  # fixed settings are kept
    assert result.model.predict(12).shape == (24, 3)


def test_tune_is_reproducible_and_resumes(tmp_path: Path) -> None:
    one = tune(_data(), 12, tmp_path / "one", n_trials=2, settings=FAST)
    again = tune(_data(), 12, tmp_path / "again", n_trials=2, settings=FAST)
    pd.testing.assert_frame_equal(
        one.trials.drop(columns="seconds"), again.trials.drop(columns="seconds")
    )
    resumed = tune(_data(), 12, tmp_path / "one", n_trials=3, settings=FAST)
    assert list(resumed.trials["trial"]) == [0, 1, 2]
    pd.testing.assert_series_equal(resumed.trials["MASE"][:2], one.trials["MASE"])
    assert resumed.trials.loc[2, "MASE"] not in set(one.trials["MASE"])  # new settings tried
