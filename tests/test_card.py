"""The model card: ``lstmcast info MODEL`` says what a saved model is and how it was made."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

import lstmcast as lc
from lstmcast.card import PRODUCTS
from tests.test_cli import run


def _model(tmp_path: Path) -> tuple[Path, pd.DataFrame]:
    t = np.arange(200)
    df = pd.concat(
        pd.DataFrame(
            {
                "unique_id": uid,
                "ds": pd.date_range("2024-01-01", periods=200, freq="h"),
                "y": np.sin(t / 4) + k,
            }
        )
        for k, uid in enumerate("ab")
    )
    model = lc.LSTMForecaster(horizon=6, epochs=2, hidden_size=8, ensemble_size=1, random_state=3)
    model.fit(df).save(tmp_path / "m")
    return tmp_path / "m", df


def test_info_prints_the_card(tmp_path: Path) -> None:
    path, df = _model(tmp_path)
    result = run("info", path)
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert "model         LSTMForecaster: 1 network(s) of " in text
    assert "saved by      lstmcast " in text
    assert "torch " in text
    assert "trained on    2 series, 400 points, 2024-01-01 00:00:00 to 2024-01-09 07:00:00" in text
    assert "network 0     2 epochs" in text
    # What "auto" resolved to, recorded in training (format 4): float32 for so small a step.
    assert PRODUCTS["fp32"] in text
    assert "seed          3" in text
    assert "recipe        hourly -> season 24" in text
    assert "window=" in text
    assert "window_norm='revin'*" in text
    assert "recipe='auto'," in text
    assert "validation    validation MASE" in text
    # Two series' 10 validation windows of 6 steps: 4 whole horizons, too few for 95%.
    assert "calibrated on 20 validation windows (4 whole horizons without overlap)" in text
    assert "the 95% intervals are calibrated on 20 validation windows that span 4" in text
    # --json: the same facts for programs; the fingerprint is the data's.
    card = json.loads(run("info", path, "--json").stdout)
    assert card["data"]["series"] == 2
    assert card["seed"] == 3
    assert card["chosen_by_recipe"]
    assert card["intervals"]["independent_horizons"] == 4
    assert card["training"][0]["precision"] == "fp32"
    assert card["training"][0]["threads"] >= 1
    assert card["intervals"]["caveat"].startswith("the 95% intervals are calibrated on 20 ")
    assert "horizon" not in card["chosen_by_recipe"]
    again = lc.LSTMForecaster(horizon=6, epochs=1, hidden_size=8, ensemble_size=1).fit(df)
    again.save(tmp_path / "again")
    saved = json.loads((tmp_path / "again" / "config.json").read_text())
    assert saved["data"]["fingerprint"] == card["data"]["fingerprint"]


def test_a_model_saved_before_cards_still_has_one(tmp_path: Path) -> None:
    path, _ = _model(tmp_path)
    config = json.loads((path / "config.json").read_text())
    del config["data"], config["versions"]
    (path / "config.json").write_text(json.dumps(config))
    result = run("info", path)
    assert result.exit_code == 0, result.output
    assert "trained on    (not recorded: saved before model cards)" in result.stdout


def test_a_model_saved_before_the_precision_was_recorded_loads_without_it(
    tmp_path: Path,
) -> None:
    """Format 3 histories have no ``precision``: they load, and the card leaves it out."""
    path, _ = _model(tmp_path)
    config = json.loads((path / "config.json").read_text())
    config["format_version"] = 3
    for history in config["histories"]:
        del history["precision"]
    (path / "config.json").write_text(json.dumps(config))
    loaded = lc.load(path)
    assert loaded.histories_[0].precision == ""
    result = run("info", path)
    assert result.exit_code == 0, result.output
    assert "products" not in result.stdout
