"""Tests of the adding-problem experiment: data, chrono initialisation, training, determinism."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

import lstmcast as lc
from lstmcast.errors import ConfigError
from lstmcast.experiment import AddingNetwork, adding_batch, chrono_init

# Tiny but learnable in a few seconds: T = 5, a high learning rate, a small test set.
TINY = {"steps": 300, "hidden_size": 16, "lr": 1e-2, "test_size": 500, "eval_every": 100}


def test_batch_has_two_markers_one_per_half_and_their_sum_as_target() -> None:
    x, target = adding_batch(64, 9, torch.Generator().manual_seed(0))
    assert x.shape == (64, 9, 2)
    assert target.shape == (64,)
    values, markers = x[..., 0], x[..., 1]
    assert ((values >= 0) & (values <= 1)).all()
    assert set(markers.unique().tolist()) == {0.0, 1.0}
    assert (markers[:, :4].sum(dim=1) == 1).all()  # first half: steps 0..3
    assert (markers[:, 4:].sum(dim=1) == 1).all()
    torch.testing.assert_close(target, (values * markers).sum(dim=1))


def test_trivial_answer_scores_about_one_sixth() -> None:
    _, target = adding_batch(20_000, 50, torch.Generator().manual_seed(1))
    assert float(((target - 1) ** 2).mean()) == pytest.approx(1 / 6, abs=0.005)


def test_chrono_init_spreads_lstm_forget_biases_and_mirrors_input_biases() -> None:
    lstm = lc.LSTM(2, 64)
    chrono_init(lstm, 100, torch.Generator().manual_seed(0))
    H = 64
    total = lstm.bias_ih_l0 + lstm.bias_hh_l0
    forget, input_ = total[H : 2 * H], total[:H]
    assert (forget >= 0).all()
    assert (forget <= math.log(99) + 1e-6).all()
    assert forget.max() > math.log(50)  # spread over the range, not all at one value
    torch.testing.assert_close(input_, -forget)
    # At the start, 1 / (1 - sigmoid(b_f)) = 1 + e^b_f: memory time scales of 2..100 steps.
    scales = 1 / (1 - torch.sigmoid(forget))
    assert scales.min() >= 2 - 1e-5
    assert scales.max() <= 100 + 1e-3


def test_chrono_init_sets_the_gru_update_gate_and_rejects_a_plain_rnn() -> None:
    gru = nn.GRU(2, 8, batch_first=True)
    before = gru.bias_ih_l0[16:].clone()
    chrono_init(gru, 10, torch.Generator().manual_seed(0))
    update = gru.bias_ih_l0[8:16] + gru.bias_hh_l0[8:16]
    assert ((update >= 0) & (update <= math.log(9) + 1e-6)).all()
    torch.testing.assert_close(gru.bias_ih_l0[16:], before)  # the candidate's bias is untouched
    with pytest.raises(ConfigError, match="gated cell"):
        chrono_init(nn.RNN(2, 8), 10, torch.Generator())


def test_the_lstm_is_lstmcasts_own() -> None:
    assert type(AddingNetwork("lstm", 4).rnn) is lc.LSTM
    assert type(AddingNetwork("gru", 4).rnn) is nn.GRU


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_learns_a_short_adding_problem_well_below_the_baseline(cell: str) -> None:
    result = lc.adding_problem(5, cell=cell, seed=0, **TINY)
    assert result.baseline_mse == pytest.approx(1 / 6, abs=0.02)
    assert result.test_mse < result.baseline_mse / 4
    assert result.accuracy > 0.1
    assert result.stopped == "steps"
    assert result.steps == 300
    curve = result.curve
    assert list(curve.columns) == ["step", "seconds", "train_loss", "test_mse", "accuracy"]
    assert curve["step"].tolist() == [0, 100, 200, 300]
    assert math.isnan(curve["train_loss"].iloc[0])
    assert curve["test_mse"].iloc[-1] == result.test_mse
    assert curve["seconds"].is_monotonic_increasing


def test_same_seed_same_run_other_seed_other_run() -> None:
    settings = {"steps": 20, "hidden_size": 8, "test_size": 50, "eval_every": 10}
    first = lc.adding_problem(12, cell="lstm", seed=3, **settings)
    again = lc.adding_problem(12, cell="lstm", seed=3, **settings)
    other = lc.adding_problem(12, cell="lstm", seed=4, **settings)
    columns = ["step", "train_loss", "test_mse", "accuracy"]
    pd.testing.assert_frame_equal(first.curve[columns], again.curve[columns])
    assert first.test_mse == again.test_mse
    assert other.test_mse != first.test_mse


def test_stops_when_solved_or_over_budget() -> None:
    solved = lc.adding_problem(5, until_accuracy=0.001, **TINY)
    assert solved.stopped == "solved"
    assert solved.steps == 100  # the first evaluation already reaches 0.1 %
    assert solved.solved
    hurried = lc.adding_problem(5, budget=1e-9, **TINY)
    assert hurried.stopped == "budget"
    assert hurried.steps == 1
    assert not hurried.solved


def test_calls_on_step_after_every_step() -> None:
    seen: list[tuple[int, int]] = []
    lc.adding_problem(
        6,
        steps=7,
        hidden_size=4,
        test_size=10,
        eval_every=3,
        on_step=lambda step, loss, last: seen.append((step, last.step)),
    )
    assert seen == [(1, 0), (2, 0), (3, 3), (4, 3), (5, 3), (6, 6), (7, 7)]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"length": 1}, "length must be an integer >= 2"),
        ({"length": 10, "cell": "lstmx"}, "unknown cell 'lstmx'"),
        ({"length": 10, "cell": "rnn", "chrono": True}, "gated cell"),
        ({"length": 10, "steps": 0}, "steps must be a positive integer"),
        ({"length": 10, "lr": 0.0}, "lr must be positive"),
        ({"length": 10, "budget": -1.0}, "budget must be positive"),
        ({"length": 10, "until_accuracy": 1.5}, "until_accuracy"),
    ],
)
def test_bad_settings(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        lc.adding_problem(**kwargs)  # type: ignore[arg-type]


def test_plot_adding_draws_each_run_and_the_baseline(tmp_path: Path) -> None:
    settings = {"steps": 4, "hidden_size": 4, "test_size": 20, "eval_every": 2}
    runs = [lc.adding_problem(6, cell=cell, **settings) for cell in ("lstm", "rnn")]
    out = tmp_path / "curve.png"
    fig = lc.plot_adding(runs, path=out)
    mse_ax, acc_ax = fig.axes
    assert len(mse_ax.lines) == 3  # two runs and the baseline
    assert len(acc_ax.lines) == 2
    np.testing.assert_allclose(mse_ax.lines[0].get_ydata(), runs[0].curve["test_mse"])
    assert mse_ax.get_yscale() == "log"
    assert "RNN, T = 6" in mse_ax.get_legend_handles_labels()[1][1]
    assert out.read_bytes().startswith(b"\x89PNG")
    assert len(lc.plot_adding(runs[0]).axes[0].lines) == 2
    with pytest.raises(lc.DataError, match="empty"):
        lc.plot_adding([])
