"""Checkpoints: an interrupted training keeps its best model on disk and resumes exactly."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import torch

import lstmcast as lc
from lstmcast.train import Callback, History

SETTINGS = {
    "window": 12,
    "hidden_size": 8,
    "epochs": 4,
    "batch_size": 32,
    "val_size": 24,
    "lr_schedule": "onecycle",
    "lr": 0.01,
    "random_state": 0,
}


class InterruptAt(Callback):
    """Acts like Ctrl-C at the end of an epoch (before that epoch's checkpoint is written)."""

    def __init__(self, epoch: int, member_calls: int = 1) -> None:
        self.epoch, self.remaining = epoch, member_calls

    def on_epoch_end(self, epoch: int, history: History) -> None:
        if epoch == self.epoch:
            self.remaining -= 1
            if self.remaining == 0:
                raise KeyboardInterrupt


def same_weights(a: lc.LSTMForecaster, b: lc.LSTMForecaster) -> bool:
    pairs = zip(a.networks_, b.networks_, strict=True)
    return all(
        torch.equal(p, q)
        for x, y in pairs
        for p, q in zip(x.state_dict().values(), y.state_dict().values(), strict=True)
    )


def test_more_epochs_than_planned(two_series: pd.DataFrame, tmp_path: Path) -> None:
    constant_lr = SETTINGS | {"lr_schedule": None}
    path = tmp_path / "run"
    lc.LSTMForecaster(**constant_lr).fit(two_series, checkpoint=path, callbacks=[InterruptAt(2)])
    longer = lc.LSTMForecaster(**(constant_lr | {"epochs": 6}))
    longer.fit(two_series, checkpoint=path, resume=True)
    assert len(longer.history_.train_loss) == 6


def test_checkpoint_holds_the_finished_model(two_series: pd.DataFrame, tmp_path: Path) -> None:
    model = lc.LSTMForecaster(**SETTINGS).fit(two_series, checkpoint=tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == [
        "config.json",
        "optimizer.safetensors",  # what an update continues from
        "weights.safetensors",
    ]
    pd.testing.assert_frame_equal(lc.load(tmp_path / "m").predict(5), model.predict(5))


@pytest.mark.parametrize("ensemble_size", [1, 2])
def test_interrupted_training_resumes_to_the_same_model(
    two_series: pd.DataFrame, tmp_path: Path, ensemble_size: int
) -> None:
    settings = SETTINGS | {"ensemble_size": ensemble_size}
    reference = lc.LSTMForecaster(**settings).fit(two_series)

    path = tmp_path / "run"
    stopped = lc.LSTMForecaster(**settings)
    # Interrupt the last member at the end of its third epoch.
    stopped.fit(two_series, checkpoint=path, callbacks=[InterruptAt(3, ensemble_size)])
    assert stopped.histories_[-1].interrupted
    assert (path / "training_state.json").is_file()
    # What is on disk is a usable model: the best weights after two epochs of that member.
    on_disk = lc.load(path)
    assert len(on_disk.histories_[-1].train_loss) == 2
    assert on_disk.predict(3)["LSTM"].notna().all()

    resumed = lc.LSTMForecaster(**settings).fit(two_series, checkpoint=path, resume=True)
    assert same_weights(resumed, reference)
    assert resumed.histories_[-1].train_loss == pytest.approx(reference.histories_[-1].train_loss)
    assert not (path / "training_state.json").exists()
    pd.testing.assert_frame_equal(lc.load(path).predict(6), reference.predict(6))


def test_resume_refuses_a_mismatch(two_series: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "run"
    lc.LSTMForecaster(**SETTINGS).fit(two_series, checkpoint=path, callbacks=[InterruptAt(2)])
    with pytest.raises(
        lc.ConfigError,
        match="the interrupted run used hidden_size=8, this model has hidden_size=16",
    ):
        lc.LSTMForecaster(**(SETTINGS | {"hidden_size": 16})).fit(
            two_series, checkpoint=path, resume=True
        )
    changed = two_series.assign(y=two_series["y"] + 1)
    with pytest.raises(lc.DataError, match="the data differs"):
        lc.LSTMForecaster(**SETTINGS).fit(changed, checkpoint=path, resume=True)
    with pytest.raises(lc.ConfigError, match="resume needs the checkpoint directory"):
        lc.LSTMForecaster(**SETTINGS).fit(two_series, resume=True)
    with pytest.raises(lc.ConfigError, match="resume it with the same epochs"):
        lc.LSTMForecaster(**(SETTINGS | {"epochs": 5})).fit(
            two_series, checkpoint=path, resume=True
        )
    lc.LSTMForecaster(**SETTINGS).fit(two_series, checkpoint=path, resume=True)
    with pytest.raises(lc.ConfigError, match="holds a finished model"):
        lc.LSTMForecaster(**SETTINGS).fit(two_series, checkpoint=path, resume=True)
