"""benchmarks/etth.py in smoke mode: it runs, saves (windows, H, 7) arrays, follows the protocol."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmarks import etth, etth_data
from benchmarks.etth_data import (
    CHANNELS,
    Protocol,
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
    # The time is printed with each network's share, the limit and the machine.
    assert len(result["network_seconds"]) == 1
    assert "networks: 1, trained in " in text
    assert "minutes a horizon may take (set for 2 threads; this run had 1)" in text
    assert "machine: commit " in text
    assert "flags: " in text
    assert "Repeat" in text
    # OT alone, from the same arrays: the univariate task's target.
    ot = CHANNELS.index("OT")
    ot_mse = float(np.mean((result["pred"][..., ot] - result["true"][..., ot]) ** 2))
    assert f"{'test, OT channel: lstmcast':<34}{ot_mse:>8.4f}" in text


def test_unknown_data_set_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        etth.parse_args(["--horizon", "96", "--data", "ETTm1"])
    assert "neither ETTh1" in capsys.readouterr().err
    with pytest.raises(FileNotFoundError):
        etth.run(96, data="ETTh2")


def test_any_csv_in_the_ett_layout_runs_the_same_protocol(tmp_path: Path) -> None:
    """Another file's channels, in its own order, split as ETTh1 is (with the segments decoder
    reading each channel's embedding: the long frame with a static column)."""
    raw = load_etth1().iloc[:14400]
    other = raw[["date", "OT", "HUFL", "LULL"]].copy()  # other channels, OT first
    other["HUFL"] = other["HUFL"] * 10
    path = tmp_path / "ETTx.csv"
    other.to_csv(path, index=False)
    result = etth.main(
        ["--horizon", str(HORIZON), "--smoke", "--threads", "1", "--data", str(path),
         "--decoder", "segments", "--channel", "yes"]
    )  # fmt: skip
    assert result["settings"]["decoder"] == "segments"
    assert result["settings"]["channel"]
    assert result["channels"] == ("OT", "HUFL", "LULL")
    assert result["pred"].shape == (etth.SMOKE_TEST_WINDOWS, HORIZON, 3)
    values = other[["OT", "HUFL", "LULL"]].to_numpy(dtype=np.float64)
    blocks = standard_splits(values, etth.LOOKBACK)
    mean, std = fit_scaler(blocks["train"])
    _, y = windows((blocks["test"] - mean) / std, etth.LOOKBACK, HORIZON)
    np.testing.assert_allclose(result["true"], y[: etth.SMOKE_TEST_WINDOWS], atol=1e-9)
    assert "3 channels" in etth.report(result, smoke=True)


def test_fifteen_minute_files_split_the_same_months_in_rows_times_four() -> None:
    quarter_hours = pd.Series(pd.date_range("2016-07-01", periods=20, freq="15min"))
    protocol = Protocol.of(quarter_hours)
    assert protocol.rows_per_hour == 4
    assert (protocol.train_end, protocol.val_end, protocol.test_end) == (34560, 46080, 57600)
    assert Protocol.of(pd.Series(pd.date_range("2016-07-01", periods=5, freq="h"))) == Protocol()
    with pytest.raises(ValueError, match="divides an hour"):
        Protocol.of(pd.Series(pd.date_range("2016-07-01", periods=5, freq="7min")))
    blocks = standard_splits(np.zeros((57600, 2)), 96, protocol)
    assert [len(block) for block in blocks.values()] == [34560, 11520 + 96, 11520 + 96]


def test_defaults_follow_the_horizon_and_flags_override_them(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The settings chosen on validation: 3 networks and their mean everywhere, the segments
    decoder over days from H = 192 on, MSE as the loss from 336; a flag given wins, an unset
    one leaves the default."""
    short, long = etth.defaults_for(96), etth.defaults_for(720)
    assert etth.defaults_for(191)["decoder"] == "linear"
    from_192 = etth.defaults_for(192)
    assert (from_192["decoder"], from_192["segment"]) == ("segments", 24)
    assert (short["decoder"], short["segment"]) == ("linear", 12)
    assert (long["decoder"], long["segment"]) == ("segments", 24)
    assert etth.defaults_for(192)["loss"] == etth.defaults_for(335)["loss"] == short["loss"]
    assert short["loss"] == "mae"
    assert etth.defaults_for(336)["loss"] == long["loss"] == "mse"
    assert short["ensemble_size"] == long["ensemble_size"] == 3
    assert short["ensemble_combine"] == long["ensemble_combine"] == "mean"
    args = etth.parse_args(["--horizon", "720", "--segment", "12", "--ensemble-combine", "median"])
    given = {name: getattr(args, name) for name in etth.DEFAULTS if hasattr(args, name)}
    assert given == {"segment": 12, "ensemble_combine": "median"}
    with pytest.raises(SystemExit):
        etth.parse_args(["--help"])
    shown = " ".join(capsys.readouterr().out.split())
    assert "default: mae; from H = 336 on: mse" in shown
    assert "default: linear; from H = 192 on: segments" in shown


def test_a_linear_weight_averages_the_networks_with_the_linear_map() -> None:
    """``--linear-weight w``: (1 - w) x the LSTM + w x the least-squares map fitted on the
    training windows; both are scored alone beside the combination."""
    from benchmarks.linear_map import LinearMap

    result = etth.main(
        ["--horizon", str(HORIZON), "--smoke", "--threads", "1", "--linear-weight", "0.25"]
    )
    values = load_etth1()[list(CHANNELS)].to_numpy(dtype=np.float64)
    blocks = standard_splits(values, etth.LOOKBACK)
    mean, std = fit_scaler(blocks["train"])
    linear = LinearMap.fit(*windows((blocks["train"] - mean) / std, etth.LOOKBACK, HORIZON))
    x, _ = windows((blocks["test"] - mean) / std, etth.LOOKBACK, HORIZON)
    alone = linear.predict(x[: len(result["pred"])])
    lstm = (result["pred"] - 0.25 * alone) / 0.75
    assert result["test_parts"]["linear"] == pytest.approx(mse_mae(result["true"], alone))
    assert result["test_parts"]["lstm"] == pytest.approx(mse_mae(result["true"], lstm))
    assert set(result["val_parts"]) == {"lstm", "linear"}
    text = etth.report(result, smoke=True)
    assert "test: the LSTM alone" in text
    assert "validation: the linear map alone" in text
    with pytest.raises(ValueError, match=r"linear_weight must be in \[0, 1\]"):
        etth.run(HORIZON, smoke=True, linear_weight=1.5)


def test_an_earlier_fold_moves_the_whole_split_four_months_back() -> None:
    assert (Protocol(fold=1).train_end, Protocol(fold=1).val_end) == (5760, 8640)
    assert Protocol(fold=1).test_end == Protocol().val_end  # never the standard test months
    assert Protocol(rows_per_hour=4, fold=2).train_end == 2880 * 4
    with pytest.raises(ValueError, match=r"fold must be in 0\.\.2"):
        Protocol(fold=3)


def test_fold_one_validates_on_months_nine_to_twelve(capsys: pytest.CaptureFixture[str]) -> None:
    result = etth.main(
        ["--horizon", str(HORIZON), "--smoke", "--threads", "1", "--validate", "--fold", "1"]
    )
    assert result["fold"] == 1
    assert "test" not in result
    # The validation windows' targets are rows [5760, 8640), standardised with rows [0, 5760).
    values = load_etth1()[list(CHANNELS)].to_numpy(dtype=np.float64)
    mean, std = fit_scaler(values[:5760])
    x, y = windows((values[5760 - etth.LOOKBACK : 8640] - mean) / std, etth.LOOKBACK, HORIZON)
    repeat = mse_mae(y, etth_data.repeat_forecast(x, HORIZON))
    np.testing.assert_allclose(result["val_repeat"], repeat, rtol=1e-9)
    printed = capsys.readouterr().out
    assert "fold 1: trained on months 1-8, validated on months 9-12" in printed
    with pytest.raises(SystemExit):
        etth.main(["--horizon", str(HORIZON), "--fold", "1"])  # not without --validate
    assert "give --validate too" in capsys.readouterr().err
