"""precision="fp32" | "bf16" | "auto": what each means on machines with and without native
bfloat16, and that the setting reaches the LSTM, is saved and is loaded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import lstmcast as lc
from lstmcast import fused_lstm, precision

CPU = torch.device("cpu")
SMALL = {
    "recipe": "tutorial",
    "window": 8,
    "horizon": 2,
    "hidden_size": 8,
    "epochs": 1,
    "random_state": 0,
}


@pytest.fixture
def native(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pretend this CPU has native bfloat16."""
    monkeypatch.setattr(precision, "native_bf16", lambda device: True)


@pytest.fixture
def emulated(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pretend this CPU has no native bfloat16."""
    monkeypatch.setattr(precision, "native_bf16", lambda device: False)


def test_what_each_setting_means_where_bf16_is_native(native: None) -> None:
    assert precision.resolve("fp32", CPU, training=True) == "fp32"
    assert precision.resolve("bf16", CPU, training=True) == "bf16"
    expected = "bf16" if precision.AUTO_BF16 else "fp32"
    assert precision.resolve("auto", CPU, training=True) == expected


def test_without_native_bf16_auto_is_fp32_and_bf16_is_refused_for_training(
    emulated: None,
) -> None:
    assert precision.resolve("auto", CPU, training=True) == "fp32"
    with pytest.raises(lc.ConfigError, match=r"no native bfloat16.*precision='auto'"):
        precision.resolve("bf16", CPU, training=True)
    # A model trained in bf16 elsewhere still forecasts here, in float32.
    assert precision.resolve("bf16", CPU, training=False) == "fp32"


def test_a_gpu_trains_in_float32(native: None) -> None:
    """bfloat16 products are the CPU kernel's: on a GPU "auto" is float32 and "bf16" refused."""
    gpu = torch.device("cuda")
    assert precision.resolve("auto", gpu, training=True) == "fp32"
    with pytest.raises(lc.ConfigError, match="CPU kernel"):
        precision.resolve("bf16", gpu, training=True)
    assert precision.resolve("bf16", gpu, training=False) == "fp32"


def test_native_bf16_reads_the_cpu_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX512")
    monkeypatch.setattr(precision, "_cpu_flags", lambda: frozenset({"avx512f", "avx512_bf16"}))
    assert precision.native_bf16(CPU)
    monkeypatch.setattr(precision, "_cpu_flags", lambda: frozenset({"avx2", "fma"}))
    assert not precision.native_bf16(CPU)
    # The flag is there but torch runs at the AVX2 level (ATEN_CPU_CAPABILITY=avx2).
    monkeypatch.setattr(precision, "_cpu_flags", lambda: frozenset({"avx512f", "avx512_bf16"}))
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX2")
    assert not precision.native_bf16(CPU)
    assert not precision.native_bf16(torch.device("meta"))


def test_an_unknown_precision_is_refused(two_series: pd.DataFrame) -> None:
    with pytest.raises(lc.ConfigError, match="precision"):
        lc.LSTMForecaster(**SMALL, precision="fp16").fit(two_series)


def test_training_in_bf16_without_native_support_is_refused_before_training(
    two_series: pd.DataFrame, emulated: None
) -> None:
    with pytest.raises(lc.ConfigError, match="no native bfloat16"):
        lc.LSTMForecaster(**SMALL, precision="bf16").fit(two_series)


def lstms(model: lc.LSTMForecaster) -> list[lc.LSTM]:
    return [network.lstm for network in model.networks_]


def test_the_setting_reaches_the_lstm_and_is_saved(
    two_series: pd.DataFrame, native: None, tmp_path: Path
) -> None:
    model = lc.LSTMForecaster(**SMALL, precision="bf16").fit(two_series)
    assert all(lstm.low_precision for lstm in lstms(model))
    model.save(tmp_path / "m")
    loaded = lc.load(tmp_path / "m")
    assert loaded.precision == "bf16"
    loaded.predict(2)
    assert all(lstm.low_precision for lstm in lstms(loaded))
    # Changed after fit, it holds from the next forecast on.
    loaded.set_params(precision="fp32").predict(2)
    assert not any(lstm.low_precision for lstm in lstms(loaded))


def test_each_history_records_what_auto_resolved_to(
    two_series: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = {**SMALL, "hidden_size": fused_lstm.MIN_UNITS // 32}  # batch 32: a big step
    monkeypatch.setattr(precision, "native_bf16", lambda device: False)
    model = lc.LSTMForecaster(**big, ensemble_size=2, precision="auto").fit(two_series)
    assert [history.precision for history in model.histories_] == ["fp32", "fp32"]
    monkeypatch.setattr(precision, "native_bf16", lambda device: True)
    model = lc.LSTMForecaster(**big, precision="auto").fit(two_series)
    assert model.histories_[0].precision == ("bf16" if precision.AUTO_BF16 else "fp32")
    # A small step stays float32 under "auto" (the fused kernel would be slower), in training
    # and in every forecast, whatever the forecast's batch.
    small = lc.LSTMForecaster(**SMALL, precision="auto").fit(two_series)
    assert small.histories_[0].precision == "fp32"
    small.predict(2)
    assert not any(lstm.low_precision for lstm in lstms(small))
    assert precision.resolve("auto", CPU, training=False, small_step=True) == "fp32"
    assert fused_lstm.small_step(32, 8)
    assert not fused_lstm.small_step(32, fused_lstm.MIN_UNITS)


def test_forecasts_of_a_bf16_model_elsewhere_are_float32(
    two_series: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(precision, "native_bf16", lambda device: True)
    model = lc.LSTMForecaster(**SMALL, precision="bf16").fit(two_series)
    monkeypatch.setattr(precision, "native_bf16", lambda device: False)
    forecast = model.predict(2)
    assert not any(lstm.low_precision for lstm in lstms(model))
    assert forecast["LSTM"].notna().all()


@pytest.mark.skipif(fused_lstm.compiler() is None, reason="no C++ compiler")
def test_bf16_training_runs_through_the_fused_kernel(
    two_series: pd.DataFrame, native: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """bfloat16 products only exist in the fused kernel: a bf16 model trains through it."""
    settings = {**SMALL, "hidden_size": fused_lstm.MIN_UNITS // 32}  # batch 32: big enough
    calls = []
    run = fused_lstm.run
    monkeypatch.setattr(fused_lstm, "run", lambda *args: calls.append(args[-1]) or run(*args))
    model = lc.LSTMForecaster(**settings, precision="bf16").fit(two_series)
    assert calls
    assert all(calls)
    fp32 = lc.LSTMForecaster(**settings, precision="fp32").fit(two_series)
    difference = (model.predict(2)["LSTM"] - fp32.predict(2)["LSTM"]).abs().max()
    assert 0 < difference < 0.5  # rounded products, the same model


@pytest.mark.skipif(fused_lstm.compiler() is None, reason="no C++ compiler")
def test_a_bf16_forecast_does_not_depend_on_its_batch(
    two_series: pd.DataFrame, native: None
) -> None:
    """bfloat16 products at any batch size: a series forecast alone matches its forecast among
    enough others to fill a big step (before, the small batch fell back to float32)."""
    settings = {**SMALL, "hidden_size": fused_lstm.MIN_UNITS // 32}  # 32 rows: a big step
    model = lc.LSTMForecaster(**settings, precision="bf16").fit(two_series)
    a = two_series[two_series["unique_id"] == "a"]
    many = pd.concat([a.assign(unique_id=f"a{k}") for k in range(40)], ignore_index=True)
    together = model.predict(2, df=many, cold_start=True)
    alone = model.predict(2, df=many[many["unique_id"] == "a7"], cold_start=True)
    np.testing.assert_allclose(
        alone["LSTM"].to_numpy(),
        together.loc[together["unique_id"] == "a7", "LSTM"].to_numpy(),
        rtol=1e-5,
    )
