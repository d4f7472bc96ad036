"""benchmarks/etth.py in smoke mode: it runs, saves (windows, H, 7) arrays, follows the protocol."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmarks import etth
from benchmarks.etth_data import (
    CHANNELS,
    fit_scaler,
    load_etth1,
    mse_mae,
    standard_splits,
    windows,
)

HORIZON = 24


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    out = tmp_path_factory.mktemp("etth") / "smoke.npz"
    result = etth.main(["--horizon", str(HORIZON), "--smoke", "--threads", "1", "--out", str(out)])
    return result, out


def test_smoke_saves_windows_by_horizon_by_channel(smoke: tuple[dict, Path]) -> None:
    result, out = smoke
    saved = np.load(out)
    assert set(saved.files) == {"pred", "true"}
    n = min(etth.SMOKE_TEST_WINDOWS, 2880 - HORIZON + 1)
    assert saved["pred"].shape == saved["true"].shape == (n, HORIZON, len(CHANNELS))
    assert np.isfinite(saved["pred"]).all()
    np.testing.assert_array_equal(saved["pred"], result["pred"])


def test_smoke_true_is_the_protocol_test_windows(smoke: tuple[dict, Path]) -> None:
    result, out = smoke
    true = np.load(out)["true"]
    values = load_etth1()[list(CHANNELS)].to_numpy(dtype=np.float64)
    blocks = standard_splits(values, etth.LOOKBACK)
    mean, std = fit_scaler(blocks["train"])
    _, y = windows((blocks["test"] - mean) / std, etth.LOOKBACK, HORIZON)
    np.testing.assert_allclose(true, y[: len(true)], rtol=0, atol=1e-9)
    # The first test target is the first hour of the test months, row 11520.
    np.testing.assert_allclose(true[0, 0], (values[11520] - mean) / std, atol=1e-9)
    assert result["test"] == pytest.approx(mse_mae(true, np.load(out)["pred"]))


def test_smoke_reports_validation_and_baselines(smoke: tuple[dict, Path]) -> None:
    result, _ = smoke
    assert result["settings"]["epochs"] == 1
    assert result["epochs_run"] == 1
    for key in ("val", "val_repeat", "test", "test_repeat"):
        mse, mae = result[key]
        assert mse > 0
        assert mae > 0
    # Validation MAE on standardised values is the training loss on the validation windows.
    assert result["val"][1] == pytest.approx(result["val_loss"][0], rel=1e-4)
    text = etth.report(result, smoke=True)
    assert "SMOKE" in text
    assert "Repeat" in text
    # OT alone, from the same arrays: the univariate task's target.
    ot = CHANNELS.index("OT")
    ot_mse = float(np.mean((result["pred"][..., ot] - result["true"][..., ot]) ** 2))
    assert f"{'test, OT channel: lstmcast':<30}{ot_mse:>8.4f}" in text


def test_unknown_data_set_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        etth.parse_args(["--horizon", "96", "--data", "ETTm1"])
    assert "only ETTh1" in capsys.readouterr().err
    with pytest.raises(ValueError, match="unknown data set"):
        etth.run(96, data="ETTh2")
