"""ONNX export: the exported graph, run in onnxruntime, gives what ``predict`` gives (within 1e-5).

Point and learned-quantile models, with random and with trained weights; ensembles, RevIN,
segments, the seasonal baseline, both scalers, conformal and conformalized intervals, recursive
forecasts past the horizon; many series picked by index in any order; the file's metadata; the
command line; and what is refused (calendar features, covariates, intervals past the horizon,
the missing extra).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

import lstmcast as lc
from lstmcast import cli
from lstmcast.export import OPSET, OnnxContract

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

N_POINTS, WINDOW, H = 96, 24, 6
TINY = {"recipe": "tutorial", "window": WINDOW, "horizon": H, "hidden_size": 8, "epochs": 1,
        "batch_size": 64, "random_state": 0}  # fmt: skip
ATOL = 1e-5  # the bound, in series units (values here reach about 110)


def frame(n_series: int = 4, seed: int = 0) -> pd.DataFrame:
    """Series with a 12-step cycle at levels 1, 10, 100 and spreads 1, 2, 3, ...: each needs
    its own scaling."""
    rng = np.random.default_rng(seed)
    t = np.arange(N_POINTS)
    parts = []
    for k in range(n_series):
        level, spread = 10.0 ** (k % 3), 1.0 + k % 5
        y = level + spread * np.sin(2 * np.pi * t / 12) + rng.normal(0, 0.1 * spread, N_POINTS)
        parts.append(pd.DataFrame({"unique_id": f"s{k:02d}", "ds": t, "y": y}))
    return pd.concat(parts, ignore_index=True)


def randomise(model: lc.LSTMForecaster, seed: int = 0) -> lc.LSTMForecaster:
    """Replace every weight by a random one (N(0, 0.5)): no training, nothing at zero."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for network in model.networks_:
            for parameter in network.parameters():
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.5)
    return model


def last_windows(df: pd.DataFrame, ids: list[str], ends: list[int] | None = None) -> np.ndarray:
    """(k, WINDOW) raw values of series ``ids`` before time ``ends`` (default: their end)."""
    rows = []
    for k, series_id in enumerate(ids):
        y = df.loc[df["unique_id"] == series_id, "y"].to_numpy()
        end = len(y) if ends is None else ends[k]
        rows.append(y[end - WINDOW : end])
    return np.stack(rows)


def run_onnx(path: Path, series: np.ndarray, windows: np.ndarray) -> list[np.ndarray]:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"series": series.astype(np.int64), "window": windows})


def assert_matches_predict(
    model: lc.LSTMForecaster, df: pd.DataFrame, path: Path, h: int = H, level: list | None = None
) -> OnnxContract:
    """Export ``model`` and check every output against ``predict`` on each series' end."""
    contract = model.to_onnx(path, h=h, level=level)
    ids = contract.series_ids
    outputs = run_onnx(path, np.arange(len(ids)), last_windows(df, ids))
    expected = model.predict(h, level=level).set_index("unique_id").loc[ids]
    np.testing.assert_allclose(outputs[0].reshape(-1), expected["LSTM"], rtol=0, atol=ATOL)
    for k, column in enumerate(contract.interval_columns):
        np.testing.assert_allclose(
            outputs[1][..., k].reshape(-1), expected[column], rtol=0, atol=ATOL, err_msg=column
        )
    assert len(outputs) == (2 if level else 1)
    return contract


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return frame()


# --------------------------------------------------------------------------------------------
# The graph against predict


@pytest.mark.parametrize(
    "settings",
    [
        {"ensemble_size": 3, "window_norm": "revin", "segment": 4, "num_layers": 2},
        {"scaler": "none", "window_norm": "last", "baseline": "seasonal", "season_length": 12},
        {"ensemble_size": 3, "ensemble_combine": "mean", "scaler": "standard", "window_norm": None},
        {"segment": 4, "decoder": "segments", "window_norm": "last", "num_layers": 2},
    ],
    ids=["ensemble-revin-segment", "scaler-none-last-seasonal", "ensemble-mean", "segments"],
)
def test_point_model_with_random_weights(
    data: pd.DataFrame, settings: dict, tmp_path: Path
) -> None:
    model = randomise(lc.LSTMForecaster(**TINY | settings).fit(data))
    assert_matches_predict(model, data, tmp_path / "point.onnx")


def test_learned_quantiles_with_random_weights(data: pd.DataFrame, tmp_path: Path) -> None:
    settings = {"quantile_levels": (80, 95), "ensemble_size": 3, "window_norm": "revin",
                "segment": 4, "decoder": "segments"}  # fmt: skip
    model = randomise(lc.LSTMForecaster(**TINY | settings).fit(data), seed=1)
    contract = assert_matches_predict(model, data, tmp_path / "q.onnx", level=[95, 80])
    assert contract.levels == [80.0, 95.0]
    assert contract.interval_columns == ["LSTM-lo-95", "LSTM-lo-80", "LSTM-hi-80", "LSTM-hi-95"]
    assert contract.intervals == "learned quantiles"


@pytest.fixture(scope="module")
def trained_quantiles(data: pd.DataFrame) -> lc.LSTMForecaster:
    """Learned quantiles, conformalized on a validation tail: trained for a few epochs."""
    settings = {"quantile_levels": (80,), "val_size": 30, "season_length": 12, "epochs": 5,
                "window_norm": "revin", "segment": 4, "ensemble_size": 3,
                "ensemble_combine": "mean"}  # fmt: skip
    return lc.LSTMForecaster(**TINY | settings).fit(data)


def test_trained_conformalized_quantiles(
    trained_quantiles: lc.LSTMForecaster, data: pd.DataFrame, tmp_path: Path
) -> None:
    assert trained_quantiles.calibration_ is not None
    contract = assert_matches_predict(trained_quantiles, data, tmp_path / "cq.onnx", level=[80])
    assert contract.intervals == "learned quantiles, conformalized"
    # Without levels the same model exports its point forecast alone.
    assert not assert_matches_predict(trained_quantiles, data, tmp_path / "p.onnx").levels


def test_trained_point_model_with_conformal_intervals(data: pd.DataFrame, tmp_path: Path) -> None:
    settings = {"val_size": 40, "season_length": 12, "epochs": 5, "window_norm": "revin"}
    model = lc.LSTMForecaster(**TINY | settings).fit(data)
    contract = assert_matches_predict(model, data, tmp_path / "c.onnx", h=4, level=[80, 90])
    assert contract.intervals == "split conformal"
    assert contract.h == 4


def test_a_flat_window_keeps_its_series_floor_in_the_graph(
    data: pd.DataFrame, tmp_path: Path
) -> None:
    stuck = data.copy()
    first = stuck["unique_id"] == stuck["unique_id"].iloc[0]
    stuck.loc[first[first].index[-WINDOW - 5 :], "y"] = 1.0  # its last window does not move
    settings = {"val_size": 40, "season_length": 12, "epochs": 5, "window_norm": "revin"}
    model = lc.LSTMForecaster(**TINY | settings).fit(stuck)
    assert_matches_predict(model, stuck, tmp_path / "f.onnx", h=4, level=[90])
    forecast = model.predict(4, level=[90])
    width = (forecast["LSTM-hi-90"] - forecast["LSTM-lo-90"]).groupby(forecast["unique_id"])
    assert width.mean().iloc[0] > 0.05 * width.mean().iloc[1:].min()  # not a point


def test_recursive_forecast_past_the_horizon(data: pd.DataFrame, tmp_path: Path) -> None:
    model = randomise(lc.LSTMForecaster(**TINY | {"window_norm": "revin"}).fit(data))
    contract = assert_matches_predict(model, data, tmp_path / "r.onnx", h=2 * H + 3)
    assert contract.h == 2 * H + 3


def test_many_series_any_order_any_window(tmp_path: Path) -> None:
    """40 series, rows in any order, a series several times, windows from other origins: each
    row is the backtest's forecast from that origin."""
    df = frame(40, seed=3)
    settings = {"val_size": 30, "season_length": 12, "epochs": 2, "window_norm": "revin"}
    model = lc.LSTMForecaster(**TINY | settings).fit(df)
    path = tmp_path / "many.onnx"
    contract = model.to_onnx(path, level=[80])
    backtest = model.backtest(df, h=H, n_windows=3, step_size=5, level=[80])
    origins = backtest.groupby(["unique_id", "cutoff"], sort=False).head(1)
    origins = origins.sample(frac=1.0, random_state=0)  # shuffled
    ids = origins["unique_id"].tolist()
    series = np.array([contract.series_ids.index(i) for i in ids])
    windows = last_windows(df, ids, (origins["cutoff"] + 1).tolist())
    forecast, intervals = run_onnx(path, series, windows)
    expected = backtest.set_index(["unique_id", "cutoff"]).loc[
        list(zip(ids, origins["cutoff"], strict=True))
    ]
    np.testing.assert_allclose(forecast.reshape(-1), expected["LSTM"], rtol=0, atol=ATOL)
    np.testing.assert_allclose(
        intervals[..., 0].reshape(-1), expected["LSTM-lo-80"], rtol=0, atol=ATOL
    )
    np.testing.assert_allclose(
        intervals[..., 1].reshape(-1), expected["LSTM-hi-80"], rtol=0, atol=ATOL
    )
    # One row, or 1,000: the batch dimension is free.
    one = run_onnx(path, series[:1], windows[:1])[0]
    np.testing.assert_array_equal(one, forecast[:1])
    big = run_onnx(path, np.resize(series, 1000), np.resize(windows, (1000, WINDOW)))[0]
    assert big.shape == (1000, H)


def with_covariates(df: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """``df`` (and H more steps of each series) with a past-only ``wind``, a future-known
    ``load`` that drives the target, a numeric static ``size`` and a categorical ``kind``."""
    rng = np.random.default_rng(seed)
    parts = []
    for k, (series_id, part) in enumerate(df.groupby("unique_id", sort=False)):
        t = np.arange(len(part) + H)
        load = 5 + 2 * np.sin(2 * np.pi * t / 12 + k) + rng.normal(0, 0.2, len(t))
        y = np.concatenate([part["y"].to_numpy(), np.full(H, np.nan)]) + 0.5 * load
        parts.append(pd.DataFrame({
            "unique_id": series_id, "ds": t, "y": y, "load": load,
            "wind": rng.gamma(2.0, 1.0, len(t)), "size": 1.0 + k, "kind": "ab"[k % 2],
        }))  # fmt: skip
    return pd.concat(parts, ignore_index=True)


@pytest.mark.parametrize(
    ("settings", "h", "level"),
    [
        ({"hist_cols": ("wind",), "futr_cols": ("load",), "ensemble_size": 2,
          "window_norm": "revin", "static_cols": ("size", "kind"), "segment": 4}, H, None),
        ({"futr_cols": ("load",), "window_norm": "last", "quantile_levels": (80,),
          "val_size": 30, "season_length": 12}, H - 2, [80]),
        ({"hist_cols": ("wind",)}, H, None),
    ],
    ids=["past-future-static", "future-quantiles-h-below-horizon", "past-only"],
)  # fmt: skip
def test_covariates(
    data: pd.DataFrame, settings: dict, h: int, level: list | None, tmp_path: Path
) -> None:
    """Past-only and future-known covariates are inputs, static ones are in the graph."""
    full = with_covariates(data)
    known, future = full.dropna(subset=["y"]), full[full["y"].isna()]
    used = ["unique_id", "ds", "y", *[c for key in ("hist_cols", "futr_cols", "static_cols")
                                       for c in settings.get(key, ())]]  # fmt: skip
    known = known[used]
    model = randomise(lc.LSTMForecaster(**TINY | settings).fit(known), seed=2)
    path = tmp_path / "cov.onnx"
    contract = model.to_onnx(path, h=h, level=level)
    ids = contract.series_ids
    feed = {"series": np.arange(len(ids)), "window": last_windows(known, ids)}
    if contract.covariate_columns:
        feed["covariates"] = np.stack(
            [known.loc[known["unique_id"] == i, contract.covariate_columns][-WINDOW:] for i in ids]
        )
    futr = list(settings.get("futr_cols", ()))
    assert contract.future_columns == futr
    if futr:
        feed["future"] = np.stack([future.loc[future["unique_id"] == i, futr][:h] for i in ids])
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == list(feed)
    outputs = session.run(None, feed)
    futr_df = future.groupby("unique_id").head(h)[["unique_id", "ds", *futr]] if futr else None
    expected = model.predict(h, level=level, futr_df=futr_df).set_index("unique_id").loc[ids]
    np.testing.assert_allclose(outputs[0].reshape(-1), expected["LSTM"], rtol=0, atol=ATOL)
    for k, column in enumerate(contract.interval_columns):
        np.testing.assert_allclose(outputs[1][..., k].reshape(-1), expected[column], atol=ATOL)


def test_metadata_holds_the_contract(data: pd.DataFrame, tmp_path: Path) -> None:
    model = lc.LSTMForecaster(**TINY).fit(data)
    path = tmp_path / "meta.onnx"
    model.to_onnx(path)
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    assert [(o.domain, o.version) for o in proto.opset_import if o.domain == ""] == [("", OPSET)]
    meta = {p.key: p.value for p in proto.metadata_props}
    assert json.loads(meta["series_ids"]) == ["s00", "s01", "s02", "s03"]
    assert json.loads(meta["window"]) == WINDOW
    assert json.loads(meta["h"]) == H
    assert json.loads(meta["levels"]) == []
    assert meta["lstmcast_version"] == lc.__version__
    assert json.loads(meta["settings"])["hidden_size"] == 8
    assert set(json.loads(meta["inputs"])) == {"series", "window"}
    assert set(json.loads(meta["outputs"])) == {"forecast"}
    assert proto.producer_name == "lstmcast"
    # Inputs and outputs as the contract says: batch free, the rest fixed.
    shapes = {
        value.name: [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]
        for value in [*proto.graph.input, *proto.graph.output]
    }
    assert shapes == {"series": ["batch"], "window": ["batch", WINDOW], "forecast": ["batch", H]}
    # No trace of this machine (the exporter's notes name source files) in the file.
    assert b"/tests/" not in path.read_bytes()
    assert str(Path(lc.__file__).parent).encode() not in path.read_bytes()


# --------------------------------------------------------------------------------------------
# What is refused


def test_refusals(data: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "no.onnx"
    with pytest.raises(lc.NotFittedError):
        lc.LSTMForecaster().to_onnx(path)
    model = lc.LSTMForecaster(**TINY).fit(data)
    with pytest.raises(lc.ConfigError, match="no calibrated intervals"):
        model.to_onnx(path, level=[80])  # trained without val_size
    with pytest.raises(lc.ConfigError, match="h must be"):
        model.to_onnx(path, h=0)
    dated = data.assign(ds=pd.Timestamp("2024-01-01") + pd.to_timedelta(data["ds"], "h"))
    calendar = lc.LSTMForecaster(**TINY | {"calendar": ("hour",)}).fit(dated)
    with pytest.raises(lc.ConfigError, match=r"calendar features \(calendar \['hour'\]\)"):
        calendar.to_onnx(path)
    assert not path.exists()


def test_covariates_are_refused_past_the_horizon(tmp_path: Path) -> None:
    df = frame(2).assign(wind=lambda d: np.cos(d["ds"] / 5.0))
    model = lc.LSTMForecaster(**TINY | {"hist_cols": ("wind",)}).fit(df)
    with pytest.raises(lc.ConfigError, match=r"covariates cannot feed its forecasts back"):
        model.to_onnx(tmp_path / "cov.onnx", h=H + 1)


def test_intervals_past_the_horizon_are_refused(
    trained_quantiles: lc.LSTMForecaster, tmp_path: Path
) -> None:
    with pytest.raises(lc.ConfigError, match=r"h=12 is beyond them: train with horizon=12"):
        trained_quantiles.to_onnx(tmp_path / "x.onnx", h=12, level=[80])
    with pytest.raises(lc.ConfigError, match=r"learned intervals for levels \[80\], not \[95\]"):
        trained_quantiles.to_onnx(tmp_path / "x.onnx", level=[95])


def test_without_the_extra_the_error_says_how_to_install_it(
    data: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = lc.LSTMForecaster(**TINY).fit(data)
    monkeypatch.setitem(sys.modules, "onnxscript", None)  # importing it raises ImportError
    with pytest.raises(lc.ConfigError, match=r"pip install 'lstmcast\[onnx\]'"):
        model.to_onnx(tmp_path / "x.onnx")
    assert not (tmp_path / "x.onnx").exists()


# --------------------------------------------------------------------------------------------
# The command line

runner = CliRunner()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory, data: pd.DataFrame) -> Path:
    folder = tmp_path_factory.mktemp("export-cli")
    settings = {"val_size": 30, "season_length": 12, "window_norm": "revin"}
    lc.LSTMForecaster(**TINY | settings).fit(data).save(folder / "m.lstm")
    return folder / "m.lstm"


def test_cli_export(model_dir: Path, data: pd.DataFrame) -> None:
    output = model_dir.parent / "m.onnx"
    result = runner.invoke(cli.app, ["export", str(model_dir), "-o", str(output), "--level", "80"])
    assert result.exit_code == 0, result.output
    assert "input  window: float64 (batch, 24)" in result.stdout
    assert "output intervals: float64 (batch, 6, 2): LSTM-lo-80, LSTM-hi-80" in result.stdout
    assert f"wrote {output}" in result.stdout
    model = lc.load(model_dir)
    forecast, _ = run_onnx(output, np.arange(4), last_windows(data, ["s00", "s01", "s02", "s03"]))
    np.testing.assert_allclose(forecast.reshape(-1), model.predict()["LSTM"], rtol=0, atol=ATOL)


def test_cli_errors_are_one_line(
    model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def one_line(args: list[str], fragment: str) -> None:
        result = runner.invoke(cli.app, ["export", str(model_dir), *args])
        assert result.exit_code == 1, result.output
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith("error: "), lines[0]
        assert fragment in lines[0], lines[0]

    one_line(["-o", str(model_dir)], "is the model directory")
    one_line(["-o", str(tmp_path / "x.onnx"), "--h", "12", "--level", "80"], "--h 12 is beyond")
    monkeypatch.setitem(sys.modules, "onnxscript", None)
    one_line(["-o", str(tmp_path / "x.onnx")], "pip install 'lstmcast[onnx]'")
    assert not (tmp_path / "x.onnx").exists()
