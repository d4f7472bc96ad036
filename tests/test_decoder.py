"""The segments decoder (``decoder="segments"``): one LSTM step per output segment, in parallel."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import torch

import lstmcast as lc
from lstmcast.model import LSTMNetwork, NetworkConfig

TINY = {"recipe": "tutorial", "window": 12, "hidden_size": 8, "epochs": 1, "random_state": 0}


def network(**config: object) -> LSTMNetwork:
    torch.manual_seed(0)
    base = {"hidden_size": 8, "horizon": 10, "segment": 4, "decoder": "segments"}
    return LSTMNetwork(NetworkConfig(**(base | config))).eval()


@pytest.mark.parametrize("layers", [1, 2])
def test_fused_and_step_by_step_paths_agree_with_gradients(layers: int) -> None:
    net = network(num_layers=layers, window_norm="last").double()
    x = torch.randn(3, 12, 1, dtype=torch.float64)
    fused = net(x)
    traced, gates = net.trace(x)
    torch.testing.assert_close(traced, fused, atol=1e-10, rtol=0)
    assert gates.cell.shape == (layers, 3, 3, 8)  # the encoder's 12 steps / 4 per segment
    fused_grads = torch.autograd.grad(fused.square().sum(), list(net.parameters()))
    traced_grads = torch.autograd.grad(net.trace(x)[0].square().sum(), list(net.parameters()))
    for fused_grad, traced_grad in zip(fused_grads, traced_grads, strict=True):
        torch.testing.assert_close(traced_grad, fused_grad, atol=1e-10, rtol=0)


def test_each_segment_is_decoded_from_its_own_position() -> None:
    """A horizon of 10 in segments of 4 is 3 segments (the last one's 2 extra steps dropped);
    changing the second segment's position embedding changes steps 4-7 and nothing else."""
    net = network()
    assert net.positions.num_embeddings == 3
    assert net.head.out_features == 4
    x = torch.randn(5, 12, 1)
    with torch.no_grad():
        before = net(x)
        net.positions.weight[1] += 1.0
        after = net(x)
    assert before.shape == (5, 10)
    changed = (after - before).abs().amax(dim=0) > 1e-6
    assert changed.tolist() == [False] * 4 + [True] * 4 + [False] * 2


def test_the_decoder_reads_the_series_static_categories() -> None:
    """Static category embeddings (a channel id) sit beside the position embedding in the
    decoder's input, so two series with the same window but another channel differ there."""
    net = network(input_size=2, static_categories=(3,))
    assert net.positions.embedding_dim == 8 - net.config.static_width
    window = torch.randn(1, 12, 1).expand(2, -1, -1)
    codes = torch.tensor([1.0, 2.0])[:, None, None].expand(-1, 12, -1)
    x = torch.cat([window, codes], dim=-1)
    same_state = (torch.zeros(1, 2, 8), torch.zeros(1, 2, 8))
    with torch.no_grad():
        decoded = net._segment_states(x, same_state)
        forecast = net(x)
    assert decoded.shape == (2, 3, 8)
    assert not torch.allclose(decoded[0], decoded[1])
    assert not torch.allclose(forecast[0], forecast[1])


def test_quantile_heads_per_segment_never_cross() -> None:
    net = network(quantiles=(0.1, 0.9))
    assert net.quantile_gaps.out_features == 4 * 2
    with torch.no_grad():
        stacked = net.quantile_forecast(torch.randn(6, 12, 1))
        point = net(torch.randn(6, 12, 1))
    assert stacked.shape == (6, 10, 3)
    assert point.shape == (6, 10)
    assert (stacked.diff(dim=-1) > 0).all()


def test_seasonal_baseline_starts_from_seasonal_naive() -> None:
    net = network(baseline_season=4)
    x = torch.randn(2, 12, 1)
    with torch.no_grad():
        forecast = net(x)
    torch.testing.assert_close(forecast, x[:, -4:, 0].repeat(1, 3)[:, :10])


def test_the_network_refuses_a_decoder_it_cannot_build() -> None:
    with pytest.raises(ValueError, match="segment > 1"):
        network(segment=1)


def test_segments_decoder_needs_segments(two_series: pd.DataFrame) -> None:
    with pytest.raises(lc.ConfigError, match="decoder='segments' decodes the horizon in segments"):
        lc.LSTMForecaster(**TINY, decoder="segments").fit(two_series)
    with pytest.raises(lc.ConfigError, match="decoder"):
        lc.LSTMForecaster(**TINY, decoder="wide").fit(two_series)


def test_forecaster_with_segments_decoder_saves_and_loads(
    two_series: pd.DataFrame, tmp_path: Path
) -> None:
    model = lc.LSTMForecaster(
        **TINY, horizon=5, segment=3, decoder="segments", quantile_levels=(80,), val_size=8
    ).fit(two_series)
    assert model.network_.config.decoder == "segments"
    forecast = model.predict(level=(80,))
    assert len(forecast) == 10
    assert (forecast["LSTM-lo-80"] < forecast["LSTM-hi-80"]).all()
    model.save(tmp_path / "m")
    loaded = lc.load(tmp_path / "m")
    assert loaded.decoder == "segments"
    pd.testing.assert_frame_equal(loaded.predict(level=(80,)), forecast)
    assert model.explain().forget.shape == (1, 2, 4, 8)


def test_the_recipe_keeps_the_linear_head(two_series: pd.DataFrame) -> None:
    model = lc.LSTMForecaster(horizon=4, epochs=1, random_state=0).fit(two_series)
    assert model.decoder == "linear"
    assert model.network_.config.decoder == "linear"


def test_the_recipe_gives_the_segments_decoder_segments(two_series: pd.DataFrame) -> None:
    """Asked for the segments decoder, the recipe cuts even a short window into segments (the
    season if it divides the window) rather than refuse its own choice of 1."""
    model = lc.LSTMForecaster(horizon=4, epochs=1, decoder="segments", random_state=0)
    model.fit(two_series)
    assert model.segment > 1
    assert model.window % model.segment == 0
    assert model.network_.positions.num_embeddings == -(-4 // model.segment)
