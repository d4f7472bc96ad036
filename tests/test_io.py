"""Save/load: exact round trips, atomic writes, and files that are refused without running code."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import lstmcast as lc

TINY = {"window": 12, "hidden_size": 8, "epochs": 1, "random_state": 0}


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
    assert sorted(p.name for p in path.iterdir()) == ["config.json", "weights.safetensors"]
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
    assert [p.name for p in path.parent.iterdir()] == ["model"]  # no temporary leftovers


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
    assert [p.name for p in path.parent.iterdir()] == ["model"]


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
