"""weight_average: an exponential moving average of the weights is what training keeps."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
import torch
from torch.optim.swa_utils import AveragedModel

import lstmcast as lc

SETTINGS: dict[str, Any] = {
    "window": 12,
    "horizon": 2,
    "hidden_size": 8,
    "epochs": 3,
    "batch_size": 32,
    "lr": 0.01,
    "random_state": 0,
    "recipe": "tutorial",  # one network, no validation unless asked: every step is the last one's
}


def weights(model: lc.LSTMForecaster) -> list[torch.Tensor]:
    return list(model.networks_[0].state_dict().values())


def test_no_decay_keeps_the_weights_as_trained(two_series: pd.DataFrame) -> None:
    plain = lc.LSTMForecaster(**SETTINGS).fit(two_series)
    averaged = lc.LSTMForecaster(**SETTINGS, weight_average=0.0).fit(two_series)
    assert all(torch.equal(p, q) for p, q in zip(weights(plain), weights(averaged), strict=True))


def test_the_kept_weights_are_the_moving_average_of_every_step(
    two_series: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    steps: list[list[torch.Tensor]] = []  # the trained weights after each optimizer step
    update = AveragedModel.update_parameters

    def recording(self: AveragedModel, model: torch.nn.Module) -> None:
        steps.append([p.detach().clone() for p in model.state_dict().values()])
        update(self, model)

    monkeypatch.setattr(AveragedModel, "update_parameters", recording)
    decay = 0.8
    model = lc.LSTMForecaster(**SETTINGS, weight_average=decay).fit(two_series)
    assert len(steps) > 3
    expected = steps[0]  # the first update copies the weights
    for trained in steps[1:]:
        expected = [decay * a + (1 - decay) * w for a, w in zip(expected, trained, strict=True)]
    kept = weights(model)
    for a, b in zip(kept, expected, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    assert not all(torch.equal(a, b) for a, b in zip(kept, steps[-1], strict=True))


def test_validation_scores_the_average(two_series: pd.DataFrame) -> None:
    settings = SETTINGS | {"val_size": 24, "patience": 2}
    plain = lc.LSTMForecaster(**settings).fit(two_series)
    averaged = lc.LSTMForecaster(**settings, weight_average=0.9).fit(two_series)
    # The same training steps (the average never feeds back into them), other weights scored.
    assert averaged.history_.train_loss[0] == pytest.approx(plain.history_.train_loss[0])
    assert averaged.history_.val_loss[0] != pytest.approx(plain.history_.val_loss[0])


@pytest.mark.parametrize("decay", [-0.1, 1.0, 1.5])
def test_a_decay_outside_zero_to_one_is_refused(two_series: pd.DataFrame, decay: float) -> None:
    with pytest.raises(lc.ConfigError, match="weight_average"):
        lc.LSTMForecaster(**SETTINGS, weight_average=decay).fit(two_series)


def test_the_setting_survives_save_and_load(two_series: pd.DataFrame, tmp_path: Any) -> None:
    model = lc.LSTMForecaster(**SETTINGS, weight_average=0.9).fit(two_series)
    model.save(tmp_path / "m")
    loaded = lc.load(tmp_path / "m")
    assert loaded.weight_average == 0.9
    pd.testing.assert_frame_equal(loaded.predict(2), model.predict(2))
