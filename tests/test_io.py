"""Save/load: exact round trips, atomic writes, and files that are refused without running code."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import lstmcast as lc

TINY = {"recipe": "tutorial", "window": 12, "hidden_size": 8, "epochs": 1, "random_state": 0}


@pytest.fixture
def saved(tmp_path: Path, two_series: pd.DataFrame) -> tuple[lc.LSTMForecaster, Path]:
    model = lc.LSTMForecaster(**TINY, horizon=2, val_size=24).fit(two_series)
    path = tmp_path / "model"
    model.save(path)
    return model, path


def test_round_trip_reproduces_forecasts_exactly(
    saved: tuple[lc.LSTMForecaster, Path], two_series: pd.DataFrame
) -> None:
    model, path = saved
    names = ["config.json", "optimizer.safetensors", "weights.safetensors"]
    assert sorted(p.name for p in path.iterdir()) == names
    loaded = lc.load(path)
    pd.testing.assert_frame_equal(loaded.predict(30), model.predict(30))
    pd.testing.assert_frame_equal(loaded.predict(5, df=two_series), model.predict(5, df=two_series))
    pd.testing.assert_frame_equal(
        loaded.backtest(two_series, n_windows=3), model.backtest(two_series, n_windows=3)
    )
    assert loaded.get_params() == model.get_params()
    assert loaded.history_ == model.history_
    assert loaded.seed_ == model.seed_
    config = json.loads((path / "config.json").read_text())
    assert config["lstmcast_version"] == lc.__version__
    assert config["params"]["window"] == 12


def test_round_trip_with_integer_time(tmp_path: Path) -> None:
    y = np.sin(np.arange(80) / 4)
    model = lc.LSTMForecaster(**TINY).fit(y)
    model.save(tmp_path / "m")
    forecast = lc.load(tmp_path / "m").predict(3)
    assert forecast["ds"].tolist() == [80, 81, 82]
    pd.testing.assert_frame_equal(forecast, model.predict(3))


def test_saving_again_replaces_the_model(
    saved: tuple[lc.LSTMForecaster, Path], two_series: pd.DataFrame
) -> None:
    _, path = saved
    other = lc.LSTMForecaster(**(TINY | {"random_state": 7})).fit(two_series)
    other.save(path)
    pd.testing.assert_frame_equal(lc.load(path).predict(2), other.predict(2))
    # No temporary leftovers; the lock file beside the model stays (see io.writing_model).
    assert sorted(p.name for p in path.parent.iterdir()) == [".model.lock", "model"]


def test_a_crash_while_saving_leaves_the_old_model(
    saved: tuple[lc.LSTMForecaster, Path], two_series: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, path = saved
    before = {p.name: p.read_bytes() for p in path.iterdir()}

    def crash(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("safetensors.torch.save_file", crash)
    with pytest.raises(OSError, match="disk full"):
        lc.LSTMForecaster(**(TINY | {"random_state": 3})).fit(two_series).save(path)
    assert {p.name: p.read_bytes() for p in path.iterdir()} == before
    assert sorted(p.name for p in path.parent.iterdir()) == [".model.lock", "model"]


def test_refuses_to_overwrite_something_else(tmp_path: Path, two_series: pd.DataFrame) -> None:
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("keep me")
    model = lc.LSTMForecaster(**TINY).fit(two_series)
    with pytest.raises(lc.ModelFileError, match="exists and is not an lstmcast model"):
        model.save(tmp_path / "notes")
    assert (tmp_path / "notes" / "todo.txt").read_text() == "keep me"


def test_not_a_model(tmp_path: Path) -> None:
    with pytest.raises(lc.ModelFileError, match="not found"):
        lc.load(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(
        lc.ModelFileError, match=r"is not an lstmcast model: it has no config\.json"
    ):
        lc.load(tmp_path / "empty")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "config.json").write_text('{"model_type": "bert"}')
    with pytest.raises(lc.ModelFileError, match="not an lstmcast model config"):
        lc.load(tmp_path / "other")


def test_missing_or_corrupt_weights(saved: tuple[lc.LSTMForecaster, Path]) -> None:
    _, path = saved
    weights = path / "weights.safetensors"
    content = weights.read_bytes()
    weights.write_bytes(content[: len(content) // 2])
    with pytest.raises(lc.ModelFileError, match="corrupt or truncated"):
        lc.load(path)
    weights.write_bytes(b"\x00" * 64)
    with pytest.raises(lc.ModelFileError, match="corrupt or truncated"):
        lc.load(path)
    weights.unlink()
    with pytest.raises(lc.ModelFileError, match=r"incomplete: weights.safetensors is missing"):
        lc.load(path)


def test_config_from_a_newer_version(saved: tuple[lc.LSTMForecaster, Path]) -> None:
    _, path = saved
    config = json.loads((path / "config.json").read_text())
    config["format_version"] = 999
    config["lstmcast_version"] = "9.0.0"
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(
        lc.ModelFileError, match=r"saved by lstmcast 9.0.0 in model format 999.*upgrade"
    ):
        lc.load(path)


def test_inconsistent_config(saved: tuple[lc.LSTMForecaster, Path]) -> None:
    _, path = saved
    config = json.loads((path / "config.json").read_text())
    config["network"]["hidden_size"] = 9
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(lc.ModelFileError, match="does not hold a consistent lstmcast model"):
        lc.load(path)
    (path / "config.json").write_text("{not json")
    with pytest.raises(lc.ModelFileError, match="not valid JSON"):
        lc.load(path)


class Exploit:
    """Unpickling this runs code: it would create the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (
            (Path.write_text, (str(self.marker), "pwned"))
            if False
            else (open, (str(self.marker), "w"))
        )


def test_a_pickle_in_place_of_the_weights_is_refused_unopened(
    saved: tuple[lc.LSTMForecaster, Path], tmp_path: Path
) -> None:
    _, path = saved
    marker = tmp_path / "pwned"
    (path / "weights.safetensors").write_bytes(pickle.dumps(Exploit(marker)))
    with pytest.raises(lc.ModelFileError, match="not a readable safetensors file"):
        lc.load(path)
    assert not marker.exists()
    # Sanity check of the test itself: unpickling really would have run code.
    pickle.loads((path / "weights.safetensors").read_bytes()).close()
    assert marker.exists()


def test_config_records_the_checksum_of_every_file(saved: tuple[lc.LSTMForecaster, Path]) -> None:
    import hashlib

    _, path = saved
    checksums = json.loads((path / "config.json").read_text())["checksums"]
    assert checksums == {
        name: hashlib.sha256((path / name).read_bytes()).hexdigest()
        for name in ("optimizer.safetensors", "weights.safetensors")
    }


def test_a_changed_tensor_is_refused(saved: tuple[lc.LSTMForecaster, Path]) -> None:
    """A file still readable as safetensors, one value changed: only the checksum sees it."""
    from safetensors.torch import load_file, save_file

    _, path = saved
    tensors = load_file(path / "weights.safetensors")
    tensors["network.0.head.bias"] = tensors["network.0.head.bias"] + 1e-3
    save_file(tensors, path / "weights.safetensors", metadata={"format": "lstmcast-model"})
    with pytest.raises(lc.ModelFileError, match=r"weights.safetensors does not belong to"):
        lc.load(path)


def test_a_model_saved_before_checksums_still_loads(
    saved: tuple[lc.LSTMForecaster, Path],
) -> None:
    model, path = saved
    config = json.loads((path / "config.json").read_text())
    del config["checksums"]
    (path / "config.json").write_text(json.dumps(config))
    pd.testing.assert_frame_equal(lc.load(path).predict(3), model.predict(3))


@pytest.mark.parametrize(
    ("checksums", "message"),
    [
        ([1, 2], r"checksums in .*config.json are not file names and SHA-256 digests"),
        ({"weights.safetensors": 7}, r"checksums in .*config.json are not file names"),
        ({}, r"weights.safetensors is not described by .*config.json"),
    ],
)
def test_malformed_checksums_are_refused(
    saved: tuple[lc.LSTMForecaster, Path], checksums: object, message: str
) -> None:
    _, path = saved
    config = json.loads((path / "config.json").read_text())
    config["checksums"] = checksums
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(lc.ModelFileError, match=message):
        lc.load(path)


def test_training_state_from_another_run_is_refused(
    tmp_path: Path, two_series: pd.DataFrame
) -> None:
    from lstmcast.train import Callback, History

    class StopAfterFirstEpoch(Callback):
        def on_epoch_end(self, epoch: int, history: History) -> None:
            if epoch == 2:
                raise KeyboardInterrupt

    settings = TINY | {"epochs": 3}
    for name, seed in (("a", 0), ("b", 1)):
        lc.LSTMForecaster(**(settings | {"random_state": seed})).fit(
            two_series, checkpoint=tmp_path / name, callbacks=[StopAfterFirstEpoch()]
        )
    assert json.loads((tmp_path / "a" / "config.json").read_text())["checksums"].keys() == {
        "weights.safetensors",
        "training_state.json",
        "training_state.safetensors",
    }
    for name in ("training_state.json", "training_state.safetensors"):
        (tmp_path / "a" / name).write_bytes((tmp_path / "b" / name).read_bytes())
    with pytest.raises(lc.ModelFileError, match=r"training_state.json does not belong to"):
        lc.LSTMForecaster(**settings).fit(two_series, checkpoint=tmp_path / "a", resume=True)


def test_files_get_the_permissions_of_the_umask(tmp_path: Path, two_series: pd.DataFrame) -> None:
    import os
    import stat

    from lstmcast.train import Callback, History

    class StopAtSecondEpoch(Callback):
        def on_epoch_end(self, epoch: int, history: History) -> None:
            if epoch == 2:
                raise KeyboardInterrupt

    previous = os.umask(0o027)
    try:
        model = lc.LSTMForecaster(**(TINY | {"epochs": 3}))
        model.fit(two_series, checkpoint=tmp_path / "ckpt", callbacks=[StopAtSecondEpoch()])
        model.save(tmp_path / "new" / "model")
        lc.plot_forecast(lc.to_long(two_series), model.predict(3), path=tmp_path / "f.png")
    finally:
        os.umask(previous)
    written = [tmp_path / "ckpt", tmp_path / "new", tmp_path / "new" / "model", tmp_path / "f.png"]
    written += [*(tmp_path / "ckpt").iterdir(), *(tmp_path / "new" / "model").iterdir()]
    written += [tmp_path / ".ckpt.lock", tmp_path / "new" / ".model.lock"]
    # Both directories hold a model; the checkpoint its training state, the model its Adam state.
    assert len(written) == 13
    for path in written:
        expected = 0o750 if path.is_dir() else 0o640
        assert stat.S_IMODE(path.stat().st_mode) == expected, path


def test_saving_through_a_symlink_keeps_the_link(tmp_path: Path, two_series: pd.DataFrame) -> None:
    (tmp_path / "models").mkdir()
    link = tmp_path / "latest"
    link.symlink_to(tmp_path / "models" / "v1")  # dangling until the first save
    first = lc.LSTMForecaster(**TINY).fit(two_series)
    first.save(link)
    second = lc.LSTMForecaster(**(TINY | {"random_state": 1})).fit(two_series, checkpoint=link)
    assert link.is_symlink()
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == [".v1.lock", "v1"]
    pd.testing.assert_frame_equal(lc.load(tmp_path / "models" / "v1").predict(2), second.predict(2))


def test_the_lock_is_reentrant_in_one_process(tmp_path: Path, two_series: pd.DataFrame) -> None:
    from lstmcast.modeldir import writing_model

    model = lc.LSTMForecaster(**TINY).fit(two_series)
    with writing_model(tmp_path / "m"), writing_model(tmp_path / "m"):
        model.save(tmp_path / "m")  # a checkpoint saved while fit holds the lock
    assert lc.load(tmp_path / "m").seed_ == model.seed_


def test_the_column_names_are_saved(tmp_path: Path, two_series: pd.DataFrame) -> None:
    named = two_series.rename(columns={"ds": "hour", "y": "sales"})
    model = lc.LSTMForecaster(**TINY).fit(named, time_col="hour", target_col="sales")
    model.save(tmp_path / "m")
    loaded = lc.load(tmp_path / "m")
    assert loaded.columns_ == {"id_col": None, "time_col": "hour", "target_col": "sales"}
    pd.testing.assert_frame_equal(loaded.predict(2, df=named), model.predict(2, df=named))

    # A model saved before models kept their names reads data as the reader finds it.
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    del config["columns"]
    (tmp_path / "m" / "config.json").write_text(json.dumps(config))
    old = lc.load(tmp_path / "m")
    assert old.columns_ == {"id_col": None, "time_col": None, "target_col": None}
    pd.testing.assert_frame_equal(old.predict(2, df=two_series), model.predict(2, df=named))

    config["columns"] = {"time_col": 3}
    (tmp_path / "m" / "config.json").write_text(json.dumps(config))
    with pytest.raises(lc.ModelFileError, match=r"invalid column names \{'time_col': 3\}"):
        lc.load(tmp_path / "m")


def test_round_trip_keeps_the_time_zone_and_month_steps(tmp_path: Path) -> None:
    fifteenths = pd.date_range("2020-01-01", periods=40, freq="MS") + pd.Timedelta(days=14)
    paris = fifteenths.tz_localize("Europe/Paris")
    frame = pd.concat(
        [
            pd.DataFrame({"unique_id": "m", "ds": paris, "y": 1.0}),
            pd.DataFrame(
                {
                    "unique_id": "d",
                    "ds": pd.date_range("2023-01-01", periods=40, freq="D", tz="Europe/Paris"),
                    "y": 2.0,
                }
            ),
        ]
    )
    model = lc.LSTMForecaster(**TINY).fit(frame)
    model.save(tmp_path / "model")
    series = json.loads((tmp_path / "model" / "config.json").read_text())["series"]
    assert series["time_zone"] == "Europe/Paris"
    assert series["steps"][0] == {"months": 1}
    loaded = lc.load(tmp_path / "model")
    forecast = loaded.predict(2)
    pd.testing.assert_frame_equal(forecast, model.predict(2))
    assert forecast["ds"].tolist() == [
        pd.Timestamp("2023-05-15", tz="Europe/Paris"),
        pd.Timestamp("2023-06-15", tz="Europe/Paris"),
        pd.Timestamp("2023-02-10", tz="Europe/Paris"),
        pd.Timestamp("2023-02-11", tz="Europe/Paris"),
    ]


def test_a_save_killed_between_its_renames_loses_nothing(
    saved: tuple[lc.LSTMForecaster, Path],
) -> None:
    """Killed after moving the old model aside and before moving the new one in, a save leaves
    the old model as ``.model.old-<pid>`` (and a staging directory): loading says where it is,
    and the next save into the directory puts it back before replacing it."""
    model, path = saved
    aside = path.with_name(f".{path.name}.old-4242")
    path.rename(aside)
    staging = path.with_name(f".{path.name}.abc123.tmp")
    staging.mkdir()
    (staging / "weights.safetensors").write_bytes(b"half written")
    with pytest.raises(lc.ModelFileError, match=r"a save that was stopped left the previous model"):
        lc.load(path)
    from lstmcast.modeldir import writing_model

    with writing_model(path):  # what fit(checkpoint=) and save() take first
        pd.testing.assert_frame_equal(lc.load(path).predict(2), model.predict(2))
    assert not aside.exists()
    assert not staging.exists()
    # Left beside a model that is in place, an old copy is only removed.
    shutil.copytree(path, aside)
    model.save(path)
    assert not aside.exists()
    assert lc.load(path).seed_ == model.seed_


def test_round_trip_of_a_conformalized_ensemble(tmp_path: Path, two_series: pd.DataFrame) -> None:
    """An ensemble with learned, conformalized intervals forecasts identically after loading:
    the whole fitted state (every network, scaler, calibration, steps) is saved and restored."""
    settings = TINY | {"horizon": 2, "ensemble_size": 2, "quantile_levels": (80,)}
    model = lc.LSTMForecaster(**settings, val_size=36, window_norm="revin").fit(two_series)
    model.save(tmp_path / "model")
    loaded = lc.load(tmp_path / "model")
    assert len(loaded.networks_) == 2
    assert loaded.calibration_size_ == model.calibration_size_
    pd.testing.assert_frame_equal(loaded.predict(level=[80]), model.predict(level=[80]))
    pd.testing.assert_frame_equal(
        loaded.backtest(two_series, n_windows=2, level=[80]),
        model.backtest(two_series, n_windows=2, level=[80]),
    )
