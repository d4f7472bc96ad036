"""The time budget: training stops between epochs when another would not fit, keeps its best
weights, shares the budget among ensemble members, says why it stopped (saved with the model),
and the command line takes durations and shows an honest time left.

Time is faked: ``lstmcast.train.clock`` reads a counter that the batches advance, so every test
is deterministic and none sleeps.
"""

from __future__ import annotations

import copy
import itertools
import json
from pathlib import Path

import numpy as np
import pytest
import torch

import lstmcast as lc
import lstmcast.train
from lstmcast import distributed
from lstmcast.cli import console
from lstmcast.cli.model_options import parse_duration
from lstmcast.fitting import another_fits, member_budget
from lstmcast.train import History, out_of_time
from tests.test_cli import assert_one_error_line, run, write_csv

# 200 points, window 10: 190 training windows, 3 batches of 64 per epoch.
SERIES = np.sin(np.arange(200) / 5)
SMALL = {"recipe": "tutorial", "window": 10, "hidden_size": 4, "batch_size": 64, "random_state": 0}
BATCH_SECONDS = 1.0  # on the faked clock: an epoch takes 3 s


class FakeClock(lc.Callback):
    """The training loop's clock, advanced ``BATCH_SECONDS`` by every batch."""

    def __init__(self) -> None:
        self.now = 0.0
        self.budgets: list[float] = []  # what on_time_budget was told, per training
        self.members: list[tuple[int, int]] = []

    def __call__(self) -> float:
        return self.now

    def on_batch_end(self, epoch: int, batch: int, loss: float) -> None:
        self.now += BATCH_SECONDS

    def on_time_budget(self, seconds: float) -> None:
        self.budgets.append(seconds)

    def on_member_begin(self, member: int, members: int) -> None:
        self.members.append((member, members))


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(lstmcast.train, "clock", fake)
    return fake


def test_the_budget_stops_training_between_epochs(clock: FakeClock) -> None:
    model = lc.LSTMForecaster(epochs=20, time_budget=10, **SMALL).fit(SERIES, callbacks=[clock])
    history = model.history_
    # After epoch 3 (9 s), a fourth epoch of 3 s would end at 12 s > 10 s.
    assert len(history.train_loss) == 3
    assert history.stopped == "budget"
    assert not history.stopped_early
    assert not history.interrupted
    assert history.seconds == 9.0 <= model.time_budget
    assert clock.budgets == [10.0]


def test_a_budget_that_is_not_reached_changes_nothing(clock: FakeClock) -> None:
    budgeted = lc.LSTMForecaster(epochs=3, time_budget=100, **SMALL).fit(SERIES, callbacks=[clock])
    free = lc.LSTMForecaster(epochs=3, **SMALL).fit(SERIES)
    assert budgeted.history_.stopped == free.history_.stopped == "epochs"
    assert budgeted.history_.train_loss == free.history_.train_loss
    for name, weights in free.network_.state_dict().items():
        assert torch.equal(budgeted.network_.state_dict()[name], weights), name


def test_the_budget_keeps_the_best_weights(
    clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Validation losses are scripted: epoch 2 is the best, the budget stops after epoch 4."""
    scripted = iter([0.5, 0.3, 0.4, 0.6, 0.7])
    monkeypatch.setattr(lstmcast.train, "evaluate_loss", lambda *args, **kwargs: next(scripted))
    model = lc.LSTMForecaster(epochs=20, val_size=20, time_budget=13, **SMALL)
    snapshots: list[dict[str, torch.Tensor]] = []

    class Snapshot(lc.Callback):
        def on_epoch_end(self, epoch: int, history: History) -> None:
            snapshots.append(copy.deepcopy(model.networks_[-1].state_dict()))

    model.fit(SERIES, callbacks=[clock, Snapshot()])
    history = model.history_
    # 170 windows: 3 batches, 3 s an epoch; after epoch 4 (12 s) a fifth would end at 15 s.
    assert len(history.train_loss) == 4
    assert history.stopped == "budget"
    assert history.best_epoch == 2
    for name, weights in snapshots[1].items():
        assert torch.equal(model.network_.state_dict()[name], weights), name
    assert any(
        not torch.equal(snapshots[3][name], weights) for name, weights in snapshots[1].items()
    )


def test_patience_still_says_it_stopped_training(
    clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    scripted = iter([0.5, 0.6, 0.7, 0.8])
    monkeypatch.setattr(lstmcast.train, "evaluate_loss", lambda *args, **kwargs: next(scripted))
    model = lc.LSTMForecaster(epochs=20, val_size=20, patience=2, time_budget=100, **SMALL)
    history = model.fit(SERIES, callbacks=[clock]).history_
    assert len(history.train_loss) == 3
    assert history.stopped == "patience"
    assert history.stopped_early


def test_ensemble_members_share_the_budget(clock: FakeClock) -> None:
    model = lc.LSTMForecaster(epochs=20, time_budget=10, ensemble_size=2, **SMALL)
    model.fit(SERIES, callbacks=[clock])
    # Member 0 gets 10 / 2 = 5 s: one epoch of 3 s (a second would end at 6 s). Member 1 gets
    # what is left, 7 s: two epochs.
    assert clock.members == [(0, 2), (1, 2)]
    assert clock.budgets == [5.0, 7.0]
    assert [len(h.train_loss) for h in model.histories_] == [1, 2]
    assert [h.stopped for h in model.histories_] == ["budget", "budget"]
    assert sum(h.seconds for h in model.histories_) <= model.time_budget


# The recipe chooses the ensemble (the rest given): at most 3 members, as many as fit.
FLEXIBLE = {
    "window": 10, "horizon": 1, "val_size": None, "hidden_size": 4, "batch_size": 64,
    "epochs": 3, "random_state": 0,
}  # fmt: skip


def test_a_chosen_ensemble_trains_members_while_they_fit(clock: FakeClock, tmp_path: Path) -> None:
    model = lc.LSTMForecaster(time_budget=20, **FLEXIBLE).fit(SERIES, callbacks=[clock])
    # Member 0 may use all 20 s and takes 9 (3 epochs of 3 s); member 1 (9 s) fits the 11 s
    # left; a third would not fit the 2 s left.
    assert clock.budgets == [20.0, 11.0]
    assert clock.members == [(0, 3), (1, 3)]
    assert len(model.networks_) == 2
    assert model.settings_["ensemble_size"] == 2
    assert model.get_params()["ensemble_size"] == "auto"  # a refit chooses again
    assert "ensemble: 2 of up to 3 fitted the 20 s time budget" in model.recipe_
    model.save(tmp_path / "m")
    loaded = lc.load(tmp_path / "m")
    assert len(loaded.networks_) == 2
    assert loaded.recipe_ == model.recipe_
    assert loaded.predict(5).equals(model.predict(5))


def test_a_chosen_ensemble_stops_after_a_member_the_budget_cut(clock: FakeClock) -> None:
    model = lc.LSTMForecaster(time_budget=7, **FLEXIBLE).fit(SERIES, callbacks=[clock])
    assert [h.stopped for h in model.histories_] == ["budget"]  # 2 of its 3 epochs
    assert model.settings_["ensemble_size"] == 1


def test_a_chosen_ensemble_that_fits_trains_every_member(clock: FakeClock) -> None:
    model = lc.LSTMForecaster(time_budget=100, **FLEXIBLE).fit(SERIES, callbacks=[clock])
    assert len(model.networks_) == model.settings_["ensemble_size"] == 3
    assert not any(line.startswith("ensemble:") for line in model.recipe_)


def test_another_member_fits_when_one_as_long_as_the_mean_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    done = [History(seconds=40.0, stopped="epochs"), History(seconds=20.0, stopped="epochs")]
    assert another_fits(None, done)
    assert another_fits(10.0, [])
    assert another_fits(90.0, done)  # mean 30 s, 30 s left
    assert not another_fits(89.0, done)
    assert not another_fits(1000.0, [History(seconds=5.0, stopped="budget")])
    # In a process group, no on any rank is no on every rank.
    monkeypatch.setattr(distributed, "active", lambda: True)
    monkeypatch.setattr(distributed, "sum_across", lambda v: [v[0] + 1.0])
    assert not another_fits(90.0, done)


def test_member_budget_is_an_equal_share_of_what_is_left() -> None:
    done = [History(seconds=40.0), History(seconds=20.0)]
    assert member_budget(None, done, 2, 4) is None
    assert member_budget(100.0, [], 0, 4) == 25.0
    assert member_budget(100.0, done, 2, 4) == 20.0
    assert member_budget(50.0, done, 2, 4) == 0.0  # overspent: each still trains one epoch


def test_every_rank_stops_when_any_rank_is_out_of_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """In a process group the decision is summed over the ranks (tests/test_distributed.py runs
    it under torchrun); here the other rank's answer is faked."""
    parallel = distributed.DataParallel(seed=0, replicated=True)
    assert not out_of_time(5.0, 3.0, 10.0, None)
    assert out_of_time(8.0, 3.0, 10.0, None)
    other_rank_over = 1.0
    monkeypatch.setattr(distributed, "sum_across", lambda v: [v[0] + other_rank_over])
    assert out_of_time(5.0, 3.0, 10.0, parallel)
    other_rank_over = 0.0
    assert not out_of_time(5.0, 3.0, 10.0, parallel)


def test_the_stop_reason_is_saved_and_old_models_still_load(
    clock: FakeClock, tmp_path: Path
) -> None:
    model = lc.LSTMForecaster(epochs=20, time_budget=10, **SMALL).fit(SERIES, callbacks=[clock])
    model.save(tmp_path / "m")
    loaded = lc.load(tmp_path / "m")
    assert loaded.history_ == model.history_
    assert loaded.history_.stopped == "budget"
    assert loaded.time_budget == 10

    # A model saved before time_budget and History.stopped existed.
    config_path = tmp_path / "m" / "config.json"
    config = json.loads(config_path.read_text())
    del config["params"]["time_budget"]
    for history in config["histories"]:
        del history["stopped"]
    config_path.write_text(json.dumps(config))
    old = lc.load(tmp_path / "m")
    assert old.time_budget is None
    assert old.history_.stopped == "epochs"
    np.testing.assert_array_equal(old.predict(3).values, loaded.predict(3).values)


@pytest.mark.parametrize(
    ("flags", "stopped"),
    [
        ({}, "epochs"),
        ({"stopped_early": True}, "patience"),
        ({"interrupted": True}, "interrupted"),
    ],
)
def test_a_history_saved_without_its_stop_reason_gets_it_from_its_flags(
    flags: dict[str, bool], stopped: str
) -> None:
    saved = History(train_loss=[1.0]).to_dict() | flags
    del saved["stopped"]
    assert History.from_dict(saved).stopped == stopped
    assert History.from_dict(History(stopped="budget").to_dict()).stopped == "budget"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("300", 300.0),
        ("2.5", 2.5),
        ("90s", 90.0),
        ("15m", 900.0),
        ("15min", 900.0),
        ("1h", 3600.0),
        ("1h30m", 5400.0),
        ("1h30m15s", 5415.0),
        ("1.5h", 5400.0),
        (" 15 m ", 900.0),
    ],
)
def test_time_budget_flag_takes_seconds_and_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "abc", "15x", "1m1h", "h", "1.2.3s", "m15"])
def test_time_budget_flag_refuses_what_is_no_duration(text: str) -> None:
    with pytest.raises(lc.ConfigError, match=r"--time-budget must be seconds \(e.g. 300\)"):
        parse_duration(text)


def test_train_refuses_a_bad_time_budget_in_one_line(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "d.csv")
    bad = run("train", data, "-o", tmp_path / "m", "--time-budget", "soon", "--quiet")
    assert_one_error_line(
        bad, "--time-budget must be seconds (e.g. 300) or a duration such as 90s, 15m or 1h30m"
    )
    zero = run("train", data, "-o", tmp_path / "m", "--time-budget", "0s", "--quiet")
    assert_one_error_line(zero, "--time-budget must be > 0, got 0.0")


def test_train_says_when_the_budget_stopped_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every reading of the faked clock is 10 s later: epochs take 10 s and the run is 20 s in
    after epoch 1, so with 45 s the loop stops after epoch 3 (40 s + 10 s > 45 s)."""
    readings = itertools.count()
    monkeypatch.setattr(lstmcast.train, "clock", lambda: 10.0 * next(readings))
    data = write_csv(tmp_path / "d.csv")
    options = ["--window", 8, "--hidden-size", 4, "--epochs", 10, "--ensemble-size", 1, "--seed", 0]
    options.append("--quiet")
    result = run("train", data, "-o", tmp_path / "m", *options, "--time-budget", "45s")
    assert result.exit_code == 0, result.output
    assert "epochs run    3 of 10" in result.stdout
    assert "stopped by the time budget after epoch 3 of 10 (45 s)" in result.stdout
    assert lc.load(tmp_path / "m").history_.stopped == "budget"


def test_train_says_how_many_members_the_budget_allowed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Clock as above: each member of 2 epochs takes 40 s; after two, 10 s of 90 are left."""
    readings = itertools.count()
    monkeypatch.setattr(lstmcast.train, "clock", lambda: 10.0 * next(readings))
    data = write_csv(tmp_path / "d.csv")
    options = ["--window", 8, "--hidden-size", 4, "--epochs", 2, "--seed", 0, "--quiet"]
    options += ["--val-size", "none", "--time-budget", "90s"]  # the ensemble is chosen
    result = run("train", data, "-o", tmp_path / "m", *options)
    assert result.exit_code == 0, result.output
    expected = "networks      2 (forecast: their mean); ensemble: 2 of up to 3 fitted the 90 s"
    assert expected in result.stdout
    assert [h.seconds for h in lc.load(tmp_path / "m").histories_] == [40.0, 40.0]


def test_time_left_counts_the_epochs_the_budget_allows() -> None:
    # 10 batches in 10 s, 5 per epoch: 4 epochs are 20 batches, 10 left, 10 s.
    assert console.training_eta(10.0, 10, 5, 4, None) == (10.0, 4)
    # A budget of 12 s fits 2 epochs of 5 s: both are done.
    assert console.training_eta(10.0, 10, 5, 4, 12.0) == (0.0, 2)
    # 3 batches into epoch 1 of 4 with 100 s: epochs of 5 s all fit, 17 batches left.
    assert console.training_eta(3.0, 3, 5, 4, 100.0) == (17.0, 4)
    # One more member after this one, with an equal share of the 24 s left at this one's start:
    # this one is done at 10 s, the next gets 14 s, 2 epochs of 5 s.
    assert console.training_eta(10.0, 10, 5, 4, 12.0, later_members=1) == (10.0, 2)
    # Without a budget the next member runs all its epochs.
    assert console.training_eta(10.0, 10, 5, 4, None, later_members=1) == (30.0, 4)
    # A chosen ensemble (as_budget_allows): this member had all 50 s; it takes 20 s (4 epochs
    # of 5 s), so one more of 20 s fits the 30 s left and a third does not.
    assert console.training_eta(10.0, 10, 5, 4, 50.0, 2, 4, as_budget_allows=True) == (30.0, 4)
    assert console.training_eta(10.0, 10, 5, 4, 80.0, 2, 4, as_budget_allows=True) == (50.0, 4)
    # A member the budget cuts (2 of 4 epochs fit 12 s) is the last.
    assert console.training_eta(10.0, 10, 5, 4, 12.0, 2, 4, as_budget_allows=True) == (0.0, 2)


def test_the_progress_bar_shows_the_time_left(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [0.0]
    monkeypatch.setattr(console, "clock", lambda: now[0])
    bar = console.progress_class()()
    bar.on_member_begin(0, 1)  # type: ignore[attr-defined]
    bar.on_time_budget(12.0)  # type: ignore[attr-defined]
    bar.on_train_begin(30, 5)
    try:
        for batch in range(1, 4):
            now[0] += 1.0
            bar.on_batch_end(1, batch, 0.5)
        fields = bar.progress.tasks[0].fields  # type: ignore[attr-defined]
        # 1 s a batch, 5 s an epoch: 2 of the 30 epochs fit 12 s; 7 batches left.
        assert fields["time"] == "0:00:03, 0:00:07 left"
        assert fields["epochs"] == "30 (~2 in the time budget)"
    finally:
        bar.close()  # type: ignore[attr-defined]


def test_the_progress_bar_counts_a_chosen_ensemble_as_a_most(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [0.0]
    monkeypatch.setattr(console, "clock", lambda: now[0])
    bar = console.progress_class()()
    bar.on_ensemble_begin(3, True)  # type: ignore[attr-defined]
    bar.on_member_begin(0, 3)  # type: ignore[attr-defined]
    bar.on_time_budget(50.0)  # type: ignore[attr-defined]
    bar.on_train_begin(4, 5)
    try:
        for batch in range(1, 6):
            now[0] += 1.0
            bar.on_batch_end(1, batch, 0.5)
        fields = bar.progress.tasks[0].fields  # type: ignore[attr-defined]
        assert fields["member"] == "member 1/up to 3 "
        # 20 s for this member, 15 s of it left; one more member of 20 s fits the 30 s after.
        assert fields["time"] == "0:00:05, 0:00:35 left"
    finally:
        bar.close()  # type: ignore[attr-defined]


def test_durations_read_as_a_person_says_them() -> None:
    assert [console.duration_text(s) for s in (45, 300, 150, 5400, 7200)] == [
        "45 s",
        "5 min",
        "2.5 min",
        "90 min",
        "2 h",
    ]
    ensemble = [History(train_loss=[1.0] * 7, stopped="budget"), History(stopped="epochs")]
    assert (
        console.stopped_by_budget(ensemble, 30, 300.0)
        == "stopped by the time budget after epoch 7 of 30 (5 min, 1 of 2 networks)"
    )
    assert console.stopped_by_budget([History()], 30, None) is None
