"""Tests of lstmcast.plot: figure structure, atomic PNG saving, composition and input errors."""

from __future__ import annotations

import ast
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure

from lstmcast import analysis, gate_plot, plot, training_plot
from lstmcast.errors import ConfigError, DataError
from lstmcast.gate_plot import plot_gates
from lstmcast.plot import plot_forecast
from lstmcast.training_plot import plot_history

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _assert_png(path: Path) -> None:
    """``path`` is a non-empty PNG and no temporary file was left beside it."""
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC)
    assert len(data) > 1000
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


def _frames(
    n_series: int = 5, n_hist: int = 30, h: int = 6, levels: tuple[int, ...] = (80, 95)
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """History, forecast (LSTM and Naive with intervals) and test frames, daily dates."""
    rng = np.random.default_rng(0)
    dates = pd.date_range("2024-01-01", periods=n_hist + h, freq="D")
    hist_rows, fc_rows, test_rows = [], [], []
    for k in range(n_series):
        uid = f"s{k}"
        y = 10 * k + np.sin(np.arange(n_hist + h) / 3) + rng.normal(0, 0.1, n_hist + h)
        hist_rows.append(pd.DataFrame({"unique_id": uid, "ds": dates[:n_hist], "y": y[:n_hist]}))
        test_rows.append(pd.DataFrame({"unique_id": uid, "ds": dates[n_hist:], "y": y[n_hist:]}))
        fc = pd.DataFrame({"unique_id": uid, "ds": dates[n_hist:], "LSTM": y[n_hist:] + 0.2})
        fc["Naive"] = y[n_hist - 1]
        for level in levels:
            for model in ("LSTM", "Naive"):
                fc[f"{model}-lo-{level}"] = fc[model] - level / 50
                fc[f"{model}-hi-{level}"] = fc[model] + level / 50
        fc_rows.append(fc)
    return (
        pd.concat(hist_rows, ignore_index=True),
        pd.concat(fc_rows, ignore_index=True),
        pd.concat(test_rows, ignore_index=True),
    )


def _trace(shape: tuple[int, ...] = (2, 3, 15, 8), seed: int = 0) -> SimpleNamespace:
    gen = torch.Generator().manual_seed(seed)

    def rand() -> torch.Tensor:
        return torch.randn(*shape, generator=gen)

    cell = rand().cumsum(dim=2)
    return SimpleNamespace(
        input=torch.sigmoid(rand()),
        forget=torch.sigmoid(rand() + 3),  # biased high: most units are long-memory units
        candidate=torch.tanh(rand()),
        output=torch.sigmoid(rand()),
        cell=cell.requires_grad_(),  # a live trace still carries grad
        hidden=torch.tanh(cell),
    )


def _polys(fig: Figure) -> list[PolyCollection]:
    return [c for ax in fig.axes for c in ax.collections if isinstance(c, PolyCollection)]


# ------------------------------------------------------------------------------------------
# module hygiene


@pytest.mark.parametrize("module", [plot, gate_plot, training_plot, analysis])
def test_module_imports_no_pyplot_and_torch_only_for_typing(module: object) -> None:
    tree = ast.parse(Path(module.__file__).read_text())  # type: ignore[attr-defined]
    names = [
        alias.name if isinstance(node, ast.Import) else f"{node.module}"
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in node.names
    ]
    assert not any("pyplot" in name for name in names)
    top_level = [
        alias.name if isinstance(node, ast.Import) else f"{node.module}"
        for node in tree.body
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in node.names
    ]
    assert not any(name.split(".")[0] == "torch" for name in top_level)


# ------------------------------------------------------------------------------------------
# plot_forecast


def test_forecast_default_draws_first_four_series_with_intervals() -> None:
    history, forecast, test = _frames()
    fig = plot_forecast(history, forecast, test=test, title="demo")
    assert isinstance(fig, Figure)
    assert [ax.get_title() for ax in fig.axes] == ["s0", "s1", "s2", "s3"]
    assert fig.get_suptitle() == "demo"
    # 2 models x 2 levels of bands per axes.
    assert len(_polys(fig)) == 4 * 4
    ax = fig.axes[0]
    labels = ax.get_legend_handles_labels()[1]
    assert {"history", "LSTM", "Naive", "actual", "LSTM 95%", "Naive 80%"} <= set(labels)
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("ds", "y")


def test_forecast_saves_png_and_trims_history(tmp_path: Path) -> None:
    history, forecast, test = _frames()
    out = tmp_path / "fc.png"
    # One series keeps the rendering (the slow part) short.
    fig = plot_forecast(history, forecast, test=test, ids="s1", max_history=10, path=out)
    (ax,) = fig.axes
    history_line = next(line for line in ax.lines if line.get_label() == "history")
    assert len(history_line.get_xdata()) == 10
    _assert_png(out)


def test_forecast_wider_interval_is_lighter() -> None:
    history, forecast, _ = _frames(n_series=1, levels=(50, 80, 95))
    fig = plot_forecast(history, forecast, models="LSTM")
    alphas = {c.get_label(): c.get_alpha() for c in _polys(fig)}
    assert alphas["LSTM 95%"] < alphas["LSTM 80%"] < alphas["LSTM 50%"]


def test_forecast_without_intervals_draws_no_band_and_chosen_ids() -> None:
    history, forecast, _ = _frames(levels=())
    fig = plot_forecast(history, forecast, ids=["s4", "s1"], models=["Naive"])
    assert [ax.get_title() for ax in fig.axes] == ["s4", "s1"]
    assert _polys(fig) == []
    assert "LSTM" not in fig.axes[0].get_legend_handles_labels()[1]


def test_forecast_unknown_id_names_it_and_lists_available() -> None:
    history, forecast, _ = _frames()
    with pytest.raises(DataError, match=r"'nope' is not in forecast.*s0"):
        plot_forecast(history, forecast, ids=["s0", "nope"])


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"models": "GRU"}, DataError, "GRU"),  # not in the data
        ({"max_history": -1}, ConfigError, "max_history"),  # wrong by itself
        ({"ids": []}, ConfigError, "ids is empty"),
    ],
)
def test_forecast_bad_options(kwargs: dict[str, object], error: type, match: str) -> None:
    history, forecast, _ = _frames(n_series=1)
    with pytest.raises(error, match=match):
        plot_forecast(history, forecast, **kwargs)  # type: ignore[arg-type]


def test_forecast_bad_frames() -> None:
    history, forecast, _ = _frames(n_series=1)
    with pytest.raises(DataError, match="missing column"):
        plot_forecast(history.drop(columns="y"), forecast)
    with pytest.raises(DataError, match="LSTM-hi-80"):
        plot_forecast(history, forecast.drop(columns="LSTM-hi-80"))
    int_history = history.assign(ds=np.arange(len(history)))
    with pytest.raises(DataError, match="ds types differ"):
        plot_forecast(int_history, forecast)
    with pytest.raises(DataError, match="DataFrame"):
        plot_forecast(history, forecast.to_dict())  # type: ignore[arg-type]


def test_forecast_backtest_with_cutoff_and_integer_ds() -> None:
    # Rolling-origin output: every step an origin, horizon 2, so each ds appears twice.
    rows = []
    for cutoff in range(20, 30):
        for step in (1, 2):
            ds = cutoff + step
            rows.append({"unique_id": "a", "ds": ds, "cutoff": cutoff, "y": float(ds)})
            rows[-1]["LSTM"] = ds + 0.1 * step
    forecast = pd.DataFrame(rows)
    history = pd.DataFrame({"unique_id": "a", "ds": np.arange(21), "y": np.arange(21.0)})
    fig = plot_forecast(history, forecast)
    (ax,) = fig.axes
    lstm = next(line for line in ax.lines if line.get_label() == "LSTM")
    # One value per date, from the latest cutoff (the one-step-ahead forecast where it exists).
    np.testing.assert_array_equal(lstm.get_xdata(), np.arange(21, 32))
    np.testing.assert_allclose(lstm.get_ydata()[:-1], np.arange(21, 31) + 0.1)
    # forecast's own y is drawn as the actuals when no test frame is given.
    assert "actual" in ax.get_legend_handles_labels()[1]


def test_forecast_into_given_ax_draws_one_series() -> None:
    history, forecast, test = _frames()
    fig = Figure(layout="constrained")
    left, right = fig.subplots(1, 2)
    returned = plot_forecast(history, forecast, test=test, ids=["s2", "s3"], ax=right)
    assert returned is fig
    assert right.get_title() == "s2"
    assert len(left.lines) == 0
    assert len(fig.axes) == 2


# ------------------------------------------------------------------------------------------
# plot_history


def test_history_marks_best_val_epoch(tmp_path: Path) -> None:
    out = tmp_path / "sub" / "history.png"
    hist = {"train_loss": [1.0, 0.6, 0.4, 0.3, 0.25], "val_loss": [1.1, 0.7, 0.5, 0.55, 0.6]}
    fig = plot_history(hist, path=out)
    (ax,) = fig.axes
    labels = ax.get_legend_handles_labels()[1]
    assert "best val: epoch 3 (0.5)" in labels
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), [1, 2, 3, 4, 5])
    assert ax.get_yscale() == "linear"
    _assert_png(out)


def test_history_log_scale_and_no_validation() -> None:
    train = list(np.geomspace(10.0, 1e-2, 40))
    fig = plot_history(SimpleNamespace(train_loss=train, val_loss=None))
    (ax,) = fig.axes
    assert ax.get_yscale() == "log"
    assert ax.get_legend_handles_labels()[1] == ["train"]
    fig = plot_history({"train_loss": train[:5], "val_loss": []})
    assert fig.axes[0].get_yscale() == "linear"


def test_history_into_given_ax() -> None:
    fig = Figure(layout="constrained")
    axes = fig.subplots(2, 1)
    returned = plot_history({"train_loss": [0.5, 0.4], "val_loss": [0.6, 0.5]}, ax=axes[1])
    assert returned is fig
    assert len(fig.axes) == 2
    assert len(axes[0].lines) == 0
    assert axes[1].get_xlabel() == "epoch"


def test_history_errors() -> None:
    with pytest.raises(DataError, match="train_loss"):
        plot_history({"val_loss": [1.0]})
    with pytest.raises(DataError, match="train_loss"):
        plot_history({"train_loss": []})
    with pytest.raises(DataError, match="flat list"):
        plot_history({"train_loss": [[1.0, 2.0]]})


# ------------------------------------------------------------------------------------------
# plot_gates


def test_gates_panels_colorbars_and_saving(tmp_path: Path) -> None:
    out = tmp_path / "gates.png"
    trace = _trace()
    fig = plot_gates(trace, sample=1, inputs=np.linspace(0, 1, 15), path=out)
    # Input series + 6 heatmaps + 6 colorbars.
    assert len(fig.axes) == 13
    images = [ax.images[0] for ax in fig.axes if ax.images]
    assert len(images) == 6
    assert [im.get_clim() for im in images[:4]] == [(0, 1), (0, 1), (-1, 1), (0, 1)]
    cell_lo, cell_hi = images[4].get_clim()
    assert cell_lo == -cell_hi
    expected = trace.cell[-1, 1].detach().abs().max().item()
    assert cell_hi == pytest.approx(expected, rel=1e-6)
    assert images[0].get_array().shape == (8, 15)  # (units, time)
    n_long = int((trace.forget[-1, 1].mean(dim=0) > 0.9).sum())
    assert f"{n_long} of 8 long-memory units" in fig.get_suptitle()
    _assert_png(out)


def test_gates_max_units_keeps_most_varying_cells_in_order() -> None:
    trace = _trace()
    fig = plot_gates(trace, layer=0, max_units=3)
    assert len(fig.axes) == 12  # no inputs: 6 heatmaps + 6 colorbars
    variance = trace.cell[0, 0].detach().var(dim=0, unbiased=False).numpy()
    expected = np.sort(np.argsort(-variance)[:3])
    heatmap = fig.axes[0]
    assert heatmap.images[0].get_array().shape == (3, 15)
    np.testing.assert_allclose(
        heatmap.images[0].get_array(), trace.forget[0, 0, :, expected].numpy().T
    )
    assert [t.get_text() for t in heatmap.get_yticklabels()] == [str(u) for u in expected]
    assert "3 of 8 units with the largest cell-state variance" in fig.get_suptitle()


def test_gates_numpy_mapping_without_hidden_and_multifeature_inputs() -> None:
    trace = {name: value.detach().numpy() for name, value in vars(_trace()).items()}
    del trace["hidden"]
    inputs = np.random.default_rng(0).normal(size=(3, 15, 2))  # (batch, time, features)
    fig = plot_gates(trace, sample=-1, inputs=inputs)
    assert len(fig.axes) == 1 + 5 + 5
    assert fig.axes[0].get_legend_handles_labels()[1] == ["feature 0", "feature 1"]
    fig = plot_gates(trace, inputs=inputs, input_labels=["value", "marker"])
    assert fig.axes[0].get_legend_handles_labels()[1] == ["value", "marker"]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"sample": 3}, DataError, "sample=3 is out of range"),  # beyond the traced batch
        ({"layer": -3}, DataError, "layer=-3 is out of range"),
        ({"max_units": 0}, ConfigError, "max_units"),  # wrong by itself
        ({"inputs": np.zeros(14)}, DataError, "time=15"),
    ],
)
def test_gates_bad_options(kwargs: dict[str, object], error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        plot_gates(_trace(), **kwargs)  # type: ignore[arg-type]


def test_gates_bad_trace() -> None:
    trace = _trace()
    with pytest.raises(DataError, match="no 'forget'"):
        plot_gates(SimpleNamespace(**{k: v for k, v in vars(trace).items() if k != "forget"}))
    trace.output = trace.output[:, :, :10]
    with pytest.raises(DataError, match="shaped"):
        plot_gates(trace)


# ------------------------------------------------------------------------------------------
# memory_reach and segment-wise traces


def _constant_forget(value: float, time: int = 50, hidden: int = 3) -> dict[str, np.ndarray]:
    """A trace whose forget gate is ``value`` everywhere; the other arrays do not matter."""
    shape = (1, 1, time, hidden)
    trace = {name: np.zeros(shape) for name in ("input", "candidate", "output", "cell")}
    trace["forget"] = np.full(shape, value)
    return trace


@pytest.mark.parametrize(
    ("f", "reach"),
    # f**k >= 1/e for k <= -1 / ln(f): 9.49, 1.44, 99.5 (cut at the window's 49 steps back).
    [(0.9, 9), (0.5, 1), (0.2, 0), (0.99, 49)],
)
def test_memory_reach_of_a_constant_forget_gate(f: float, reach: int) -> None:
    table = analysis.memory_reach(_constant_forget(f), segment=24)
    assert table["unit"].tolist() == [0, 1, 2]
    assert (table["reach_steps"] == reach).all()
    assert (table["reach_points"] == 24 * reach).all()
    assert (table["whole_window"] == (reach == 49)).all()
    np.testing.assert_allclose(table["time_constant_steps"], -1 / np.log(f))
    np.testing.assert_allclose(table["time_constant_points"], -24 / np.log(f))
    np.testing.assert_allclose(table["mean_forget"], f)
    assert (table["long_memory"] == (f > 0.9)).all()


def test_memory_reach_stops_at_the_step_whose_forget_gate_erases() -> None:
    trace = _constant_forget(1.0, time=20, hidden=2)
    trace["forget"][0, 0, 20 - 6, 0] = 0.1  # unit 0 forgets at step T-6: its reach is 5 steps
    table = analysis.memory_reach(trace)
    assert table["reach_steps"].tolist() == [5, 19]
    assert table["whole_window"].tolist() == [False, True]
    assert table["time_constant_steps"].iloc[1] == np.inf


def test_memory_reach_picks_sample_and_layer() -> None:
    trace = _trace()
    table = analysis.memory_reach(trace, sample=2, layer=0)
    forget = trace.forget[0, 2].numpy()
    retention = np.cumprod(forget[::-1][:-1], axis=0)
    np.testing.assert_array_equal(table["reach_steps"], (retention >= np.exp(-1)).sum(axis=0))
    with pytest.raises(ConfigError, match="segment"):
        analysis.memory_reach(trace, segment=0)
    with pytest.raises(DataError, match="sample=3 is out of range"):
        analysis.memory_reach(trace, sample=3)


def test_gates_marks_the_reach_on_the_forget_map() -> None:
    trace = _constant_forget(0.9, time=30)
    fig = plot_gates(trace)
    forget_ax = fig.axes[0]
    ticks = forget_ax.lines[0]
    # Reach 9 steps back from the last step (29): the memory starts at step 20, on every row.
    assert ticks.get_xdata().tolist() == [20, 20, 20]
    assert ticks.get_ydata().tolist() == [0, 1, 2]
    assert len(plot_gates(_constant_forget(0.99, time=30)).axes[0].lines) == 1  # cut ticks only


def test_gates_of_a_segmentwise_model_show_raw_points_and_steps() -> None:
    trace = _trace()  # 15 LSTM steps
    raw = np.arange(15 * 4, dtype=float)
    fig = plot_gates(trace, inputs=raw, segment=4)
    line = fig.axes[0].lines[0]
    # Raw points 0..3 belong to step 0 and are centred on it.
    np.testing.assert_allclose(line.get_xdata()[:4], [-0.375, -0.125, 0.125, 0.375])
    assert line.get_xdata()[-1] == pytest.approx(14.375)
    top = fig.axes[0].child_axes[0]
    assert "raw time point (4 per LSTM step)" in top.get_xlabel()
    assert "LSTM step (each 4 raw time points)" in fig.axes[-2].get_xlabel()
    # Per-step inputs still work; any other length names both choices.
    plot_gates(trace, inputs=np.zeros(15), segment=4)
    with pytest.raises(DataError, match="time=15 like the trace or the 60 raw points"):
        plot_gates(trace, inputs=np.zeros(59), segment=4)
