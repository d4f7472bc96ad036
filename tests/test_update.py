"""Updating a fitted model with new data: training continued from its weights and Adam state."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

import lstmcast as lc
from lstmcast import cli
from lstmcast.model import LSTMNetwork, NetworkConfig
from lstmcast.train import Callback, History, TrainConfig, train
from lstmcast.windows import Windows

N, H, SPLIT = 240, 12, 180
FAST = {"window": 36, "horizon": H, "hidden_size": 8, "epochs": 3, "batch_size": 32,
        "val_size": H, "ensemble_size": 2, "time_budget": None, "random_state": 0}  # fmt: skip


def frame(ids: list[str], n: int = N, seed: int = 0) -> pd.DataFrame:
    """Hourly series with a 12-step cycle at different levels."""
    rng = np.random.default_rng(seed)
    times = pd.date_range("2024-01-01", periods=n, freq="h")
    parts = []
    for k, uid in enumerate(ids):
        y = 10.0 * (k + 1) + (1 + k) * np.sin(np.arange(n) * 2 * np.pi / 12)
        parts.append(pd.DataFrame({"unique_id": uid, "ds": times, "y": y + rng.normal(0, 0.1, n)}))
    return pd.concat(parts, ignore_index=True)


DATA = frame(["a", "b", "c"])
OLD = DATA.groupby("unique_id").head(SPLIT).reset_index(drop=True)
NEW = DATA.groupby("unique_id").tail(N - SPLIT).reset_index(drop=True)


def weights(model: lc.LSTMForecaster) -> list[torch.Tensor]:
    return [p.detach().clone() for network in model.networks_ for p in network.parameters()]


def same(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return len(a) == len(b) and all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


@pytest.fixture(scope="module")
def fitted() -> lc.LSTMForecaster:
    return lc.LSTMForecaster(**FAST).fit(OLD)


def fresh(fitted: lc.LSTMForecaster, tmp_path: Path) -> lc.LSTMForecaster:
    """A copy of the fitted model, through a save and a load."""
    fitted.save(tmp_path / "fitted")
    return lc.load(tmp_path / "fitted")


def test_an_update_trains_on_the_new_points_from_the_saved_window(
    fitted: lc.LSTMForecaster, tmp_path: Path
) -> None:
    model = fresh(fitted, tmp_path)
    before = weights(model)
    model.update(NEW, random_state=1)
    assert not same(before, weights(model))
    # The saved last window (36 points) is in front of the 60 new ones: the last horizon of
    # them validates, and the training targets lie in the new points only.
    history = model.history_
    assert history.val_windows == 3
    assert history.train_windows == 3 * (60 - H - H + 1)
    # Forecasts continue from the newest point, as after a fit on everything.
    forecast = model.predict()
    assert forecast["ds"].min() == DATA["ds"].max() + pd.Timedelta(hours=1)
    assert model.tail_.ds[-1] == np.datetime64(DATA["ds"].max())
    # The chain says what each step learned from, with its seed.
    fit_step, update_step = model.chain_
    assert (fit_step["step"], update_step["step"]) == ("fit", "update")
    assert fit_step["data"]["points"] == 3 * SPLIT
    assert fit_step["seed"] == 0
    assert update_step["data"]["points"] == 3 * (36 + 60)
    assert update_step["seed"] == 1
    assert update_step["data"]["last"] == str(DATA["ds"].max())


def test_a_saved_update_and_a_replayed_chain_give_the_same_weights_bit_for_bit(
    fitted: lc.LSTMForecaster, tmp_path: Path
) -> None:
    in_memory = lc.LSTMForecaster(**(FAST | {"random_state": None})).fit(OLD)
    in_memory.update(NEW)  # both seeds random: recorded in the chain
    # Through files: the weights and the Adam state are saved exactly.
    in_memory.save(tmp_path / "m")
    loaded = lc.load(tmp_path / "m")
    assert same(weights(in_memory), weights(loaded))
    for saved, read in zip(in_memory._state.optimizers, loaded._state.optimizers, strict=True):
        for index, slots in saved["state"].items():
            assert all(torch.equal(slots[k], read["state"][index][k]) for k in slots)
    # Replaying the chain with its seeds: the same networks.
    fit_step, update_step = loaded.chain_
    replay = lc.LSTMForecaster(**(FAST | {"random_state": fit_step["seed"]})).fit(OLD)
    replay.save(tmp_path / "replay")
    replay = lc.load(tmp_path / "replay")  # an update of a loaded model is the same update
    replay.update(NEW, random_state=update_step["seed"])
    assert same(weights(replay), weights(in_memory))
    assert replay.chain_ == in_memory.chain_
    pd.testing.assert_frame_equal(replay.predict(), in_memory.predict())


def test_new_series_are_learned_and_series_not_given_are_kept(
    fitted: lc.LSTMForecaster, tmp_path: Path
) -> None:
    model = fresh(fitted, tmp_path)
    new_series = frame(["a", "b", "c", "d"])
    d = new_series[new_series["unique_id"] == "d"]  # a whole history: scaled from its training part
    model.update(pd.concat([NEW[NEW["unique_id"] == "a"], d]), random_state=1)
    assert list(model.tail_.ids) == ["a", "b", "c", "d"]
    ends = model.predict().groupby("unique_id")["ds"].min()
    assert ends["a"] == ends["d"] == DATA["ds"].max() + pd.Timedelta(hours=1)
    assert ends["b"] == OLD["ds"].max() + pd.Timedelta(hours=1)  # b was not given: as before
    d_train = d["y"].to_numpy()[: N - H]
    scaler = model.scaler_
    row = list(scaler.ids).index("d")
    # The recipe's: steady levels cannot tell whether the spread grows with them (no log).
    assert model.target_transform is None
    np.testing.assert_allclose(scaler.shift[row], d_train.mean())  # from its training part
    np.testing.assert_allclose(scaler.shift[:3], fitted.scaler_.shift)  # the model's scaling


def test_given_points_older_than_the_models_last_replace_the_saved_ones(
    fitted: lc.LSTMForecaster, tmp_path: Path
) -> None:
    given = DATA.groupby("unique_id").tail(N - SPLIT + 5).copy()  # 5 points overlap
    fitted.save(tmp_path / "m")
    as_saved = lc.load(tmp_path / "m").update(given, random_state=1)
    given.loc[given.groupby("unique_id").head(5).index, "y"] += 100.0  # revised
    revised = lc.load(tmp_path / "m").update(given, random_state=1)
    # The same frame (31 saved points, then the 65 given), once with the revised values.
    for model in (as_saved, revised):
        assert model.chain_[-1]["data"]["points"] == 3 * (36 + 60)
        assert model.history_.train_windows == 3 * (96 - 36 - H - H + 1)
    assert (
        as_saved.chain_[-1]["data"]["fingerprint"]
        == fresh(fitted, tmp_path).update(NEW, random_state=1).chain_[-1]["data"]["fingerprint"]
    )
    assert revised.chain_[-1]["data"]["fingerprint"] != as_saved.chain_[-1]["data"]["fingerprint"]
    assert not same(weights(revised), weights(as_saved))


def test_the_weights_it_started_from_win_when_no_epoch_beats_them() -> None:
    torch.manual_seed(0)
    network = LSTMNetwork(NetworkConfig(input_size=1, hidden_size=4, horizon=2))
    inputs, target = torch.randn(50, 1), torch.randn(50)
    windows = Windows(inputs, target, torch.arange(40), window=8, horizon=2)
    start = [p.detach().clone() for p in network.parameters()]
    # lr 0: every epoch scores exactly what the start scores, so none beats it.
    history = train(
        network, windows, windows, TrainConfig(epochs=2, lr=0.0, keep_start=True),
        generator=torch.Generator().manual_seed(0),
    )  # fmt: skip
    assert history.best_epoch == 0
    assert all(torch.equal(a, b) for a, b in zip(start, network.parameters(), strict=True))


def test_an_epoch_must_beat_the_start_by_the_margin() -> None:
    """Epochs that lower the validation loss replace the start without a margin, and not with
    a margin larger than any epoch's gain."""

    def run(margin: float) -> tuple[History, bool]:
        torch.manual_seed(0)
        network = LSTMNetwork(NetworkConfig(input_size=1, hidden_size=4, horizon=2))
        start = [p.detach().clone() for p in network.parameters()]
        inputs = torch.sin(torch.arange(60, dtype=torch.float32) / 3)[:, None]
        windows = Windows(inputs, inputs[:, 0], torch.arange(48), window=8, horizon=2)
        config = TrainConfig(epochs=3, lr=1e-2, keep_start=True, start_margin=margin)
        history = train(
            network, windows, windows, config, generator=torch.Generator().manual_seed(0)
        )
        kept = all(torch.equal(a, b) for a, b in zip(start, network.parameters(), strict=True))
        return history, kept

    free, kept = run(0.0)
    assert free.best_epoch > 0  # an epoch did better than the start ...
    assert not kept
    strict, kept = run(0.99)  # ... but none by 99%
    assert strict.best_epoch == 0
    assert kept


def test_epochs_the_recipe_chose_are_chosen_again_for_the_new_windows(tmp_path: Path) -> None:
    settings = {k: v for k, v in FAST.items() if k != "epochs"}
    model = lc.LSTMForecaster(**settings).fit(OLD)
    assert model.epochs == 25  # little data: 300 steps of 12 batches (363 windows)
    model.update(NEW.groupby("unique_id").head(36), random_state=1)
    assert model.chain_[-1]["training"]["epochs"] == 100  # 2 batches (39 windows): at most 100
    model.update(NEW.groupby("unique_id").tail(24), epochs=2, lr=1e-4, random_state=2)
    assert model.chain_[-1]["training"] | {"epochs": 2, "lr": 1e-4} == model.chain_[-1]["training"]
    assert len(model.history_.train_loss) == 2


def test_a_validation_tail_the_recipe_chose_is_chosen_again_for_the_new_points() -> None:
    """As fit chose it: for 3 series, enough windows for a 95% interval (19: 7 per series,
    18 points), at most a fifth of the fewest new points; the 95% interval still works."""
    settings = {k: v for k, v in FAST.items() if k != "val_size"}
    model = lc.LSTMForecaster(**settings).fit(OLD)
    assert model.val_size == H + 7 - 1
    model.update(NEW, epochs=0)  # 60 new points per series: a fifth is 12
    assert model.chain_[-1]["training"]["val_size"] == 12
    model.update(frame(["a", "b", "c"], n=N + 100).groupby("unique_id").tail(100), epochs=0)
    assert model.chain_[-1]["training"]["val_size"] == H + 7 - 1  # a fifth of 100 is 20
    assert model.calibration_size_ == 3 * 7
    assert model.predict(level=[95])["LSTM-hi-95"].notna().all()


def test_an_update_refuses_what_it_cannot_continue(fitted: lc.LSTMForecaster) -> None:
    model = fitted
    later = NEW.groupby("unique_id").tail(30)  # 30 points missing after the model's last
    with pytest.raises(lc.DataError, match=r"series 'a' continues at 2024-01-09 18:00.* ends at "
                       r"2024-01-08 11:00.*give the points in between"):  # fmt: skip
        model.update(later)
    with pytest.raises(lc.DataError, match="makes no training window"):
        model.update(NEW.groupby("unique_id").head(H))  # one horizon: validation only
    short_new = frame(["z"], n=40)
    with pytest.raises(lc.DataError, match=r"series 'z' is new to the model and has 40 points"):
        model.update(pd.concat([NEW, short_new]))
    with pytest.raises(lc.ConfigError, match="epochs"):
        model.update(NEW, epochs=-1)
    with pytest.raises(lc.ConfigError, match="epochs must be >= 1"):  # only an update refreshes
        lc.LSTMForecaster(**(FAST | {"epochs": 0})).fit(OLD)
    assert model.chain_ == lc.LSTMForecaster(**FAST).fit(OLD).chain_  # nothing changed


def test_a_refresh_moves_the_windows_and_recalibrates_without_training(
    fitted: lc.LSTMForecaster, tmp_path: Path
) -> None:
    """``epochs=0``: the weights, histories and Adam states stay; the saved windows move to
    the new points' end and the intervals are calibrated on their validation tail."""
    model, before = fresh(fitted, tmp_path), fresh(fitted, tmp_path)
    # The last horizon of each series (its validation tail) jumps by 5: errors of about 5
    # there, against the fit's noise of 0.1.
    last = NEW.groupby("unique_id").cumcount(ascending=False) < H
    jumped = NEW.assign(y=NEW["y"] + 5.0 * last)
    model.update(jumped, epochs=0, random_state=1)
    assert same(weights(before), weights(model))
    assert [h.to_dict() for h in model.histories_] == [h.to_dict() for h in before.histories_]
    model.save(tmp_path / "refreshed")
    assert (
        files_of(tmp_path / "refreshed")["optimizer.safetensors"]
        == (files_of(tmp_path / "fitted")["optimizer.safetensors"])
    )
    assert model.chain_[-1]["training"]["epochs"] == 0
    # Forecasts from the new end: the same points as the model before, given the new data;
    # the intervals are wider, calibrated on the validation tail's errors.
    whole = pd.concat([OLD, jumped], ignore_index=True)
    refreshed, given = model.predict(level=[50]), before.predict(df=whole, level=[50])
    assert refreshed["ds"].min() == DATA["ds"].max() + pd.Timedelta(hours=1)
    np.testing.assert_allclose(refreshed["LSTM"], given["LSTM"], rtol=1e-6)

    def width(forecast: pd.DataFrame) -> float:
        return float((forecast["LSTM-hi-50"] - forecast["LSTM-lo-50"]).mean())

    assert width(refreshed) > 3 * width(given)


def test_ctrl_c_leaves_the_model_as_it_was(fitted: lc.LSTMForecaster, tmp_path: Path) -> None:
    class Interrupt(Callback):
        def on_epoch_end(self, epoch: int, history: History) -> None:
            raise KeyboardInterrupt

    model = fresh(fitted, tmp_path)
    before, forecast = weights(model), model.predict()
    with pytest.raises(KeyboardInterrupt):
        model.update(NEW, callbacks=[Interrupt()])
    assert same(before, weights(model))
    pd.testing.assert_frame_equal(model.predict(), forecast)
    assert len(model.chain_) == 1


def test_a_model_saved_without_its_optimizer_state_updates_from_a_new_adam(
    fitted: lc.LSTMForecaster, tmp_path: Path
) -> None:
    model = fresh(fitted, tmp_path)
    model._state.optimizers = []  # as a model saved before they were kept
    model.save(tmp_path / "old-format")
    assert not (tmp_path / "old-format" / "optimizer.safetensors").exists()
    loaded = lc.load(tmp_path / "old-format")
    loaded.update(NEW, random_state=1)
    assert np.isfinite(loaded.predict()["LSTM"]).all()


def test_a_damaged_optimizer_state_is_refused(fitted: lc.LSTMForecaster, tmp_path: Path) -> None:
    from safetensors.torch import load_file, save_file

    fitted.save(tmp_path / "m")
    file = tmp_path / "m" / "optimizer.safetensors"
    tensors = load_file(file)
    tensors["0.0.exp_avg"] = torch.zeros(3)  # the wrong shape, checksum made to match
    save_file(tensors, file)
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    config["checksums"]["optimizer.safetensors"] = hashlib.sha256(file.read_bytes()).hexdigest()
    (tmp_path / "m" / "config.json").write_text(json.dumps(config))
    with pytest.raises(lc.ModelFileError, match="optimizer state does not fit its weights"):
        lc.load(tmp_path / "m")


# -- the command line ---------------------------------------------------------------------------


def files_of(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in directory.iterdir()}


def test_train_from_a_model_updates_it_into_another(tmp_path: Path) -> None:
    runner = CliRunner()
    OLD.to_csv(tmp_path / "old.csv", index=False)
    NEW.to_csv(tmp_path / "new.csv", index=False)
    small = ["--hidden-size", "8", "--epochs", "2", "--window", "36", "--horizon", str(H),
             "--val-size", str(H), "--ensemble-size", "1", "-q"]  # fmt: skip
    old, new = str(tmp_path / "old.csv"), str(tmp_path / "new.csv")
    first, second = str(tmp_path / "v1"), str(tmp_path / "v2")
    result = runner.invoke(cli.app, ["train", old, "-o", first, *small])
    assert result.exit_code == 0, result.output
    v1 = files_of(tmp_path / "v1")
    result = runner.invoke(cli.app, ["train", new, "--from", first, "-o", second, "--epochs", "3"])
    assert result.exit_code == 0, result.output
    assert "updated       " in result.stdout
    assert "update 1 of its chain" in result.stdout
    assert "epochs run    3 of 3" in result.stdout
    assert files_of(tmp_path / "v1") == v1  # the model it started from is untouched
    info = runner.invoke(cli.app, ["info", second])
    assert "updated on    3 series, 288 points" in info.stdout, info.stdout
    # What an update cannot change is refused in one line, and nothing is written.
    result = runner.invoke(cli.app, ["train", new, "--from", first, "-o", first,
                                     "--hidden-size", "16"])  # fmt: skip
    assert result.exit_code == 1
    assert "--hidden-size cannot become 16" in result.stderr
    assert "Traceback" not in result.output
    assert files_of(tmp_path / "v1") == v1
    refreshed = str(tmp_path / "v1-refreshed")
    result = runner.invoke(cli.app, ["train", new, "--from", first, "-o", refreshed,
                                     "--epochs", "0"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "epochs run    0 (a refresh: weights kept, intervals recalibrated)" in result.stdout
    assert same(weights(lc.load(refreshed)), weights(lc.load(first)))
    info = runner.invoke(cli.app, ["info", refreshed])
    assert "; a refresh: weights kept (the networks below trained before it)" in info.stdout
    assert "epochs at lr" not in info.stdout.split("updated on")[1].splitlines()[0]
    result = runner.invoke(cli.app, ["train", new, "--from", first, "-o", first, "--resume"])
    assert result.exit_code == 1
    assert "--resume does not apply" in result.stderr
    # Into the model itself: replaced only once the update is done.
    result = runner.invoke(cli.app, ["train", new, "--from", first, "-o", first, "-q"])
    assert result.exit_code == 0, result.output
    assert len(lc.load(first).chain_) == 2
