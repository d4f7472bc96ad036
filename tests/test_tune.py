"""Tuning: the recipe is trial 0, scored on the end of the data only; runs are reproducible with
a seed, resume from the study, stay within the time budget, and prune on comparable losses.

Trials train tiny networks for one or two epochs on two short hourly series, so the whole
module takes seconds; the time budget's arithmetic is tested on a faked clock.
"""

from __future__ import annotations

import builtins
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("optuna")

import optuna

import lstmcast as lc
import lstmcast.train
from lstmcast import tuning, tuning_study
from lstmcast.data import Panel
from lstmcast.fitting import training_points
from lstmcast.recipe import choose, facts_of
from lstmcast.tuning import Budget, tune
from lstmcast.tuning_space import SearchSpace

FAST = {"epochs": 2, "hidden_size": 8, "batch_size": 64, "ensemble_size": 1}


def _data(n_points: int = 24 * 14, freq: str | None = "h") -> pd.DataFrame:
    rng = np.random.default_rng(0)
    t = np.arange(n_points)
    ds = pd.date_range("2024-01-01", periods=t.size, freq=freq) if freq else t
    return pd.concat(
        pd.DataFrame(
            {
                "unique_id": name,
                "ds": ds,
                "y": 5 + np.sin(2 * np.pi * t / 24 + shift) + 0.1 * rng.normal(size=t.size),
            }
        )
        for name, shift in (("a", 0.0), ("b", 1.0))
    )


def test_tune_writes_its_outputs_and_starts_from_the_recipe(tmp_path: Path) -> None:
    lines: list[str] = []
    result = lc.tune(
        _data(), 12, tmp_path, n_trials=3, settings=FAST, on_trial=lambda t: lines.append(t.line())
    )
    assert lc.tune is tuning.tune
    assert {p.name for p in tmp_path.iterdir()} >= {"study.db", "trials.csv", "trials.png", "model"}
    trials = pd.read_csv(tmp_path / "trials.csv")
    assert list(trials["trial"]) == [0, 1, 2]
    assert list(trials["recipe"]) == [True, False, False]
    # The recipe as LSTMForecaster chooses it for the part the trials train on (the last
    # 2 x 12 points held out to score them).
    panel = Panel.from_data(_data())
    trained = panel.head(panel.lengths - 24)
    recipe = choose(facts_of(trained, panel.steps(), 12)).settings
    assert trials.loc[0, "window"] == recipe["window"]
    assert trials.loc[0, "window_norm"] == recipe["window_norm"]
    assert trials.loc[0, "segment"] == recipe["segment"]
    assert result.recipe_score == trials.loc[0, "MASE"]
    assert result.score == trials["MASE"].min() <= result.recipe_score
    assert result.settings["epochs"] == 2  # fixed settings are kept, not searched
    assert "hidden_size" not in trials.columns
    assert result.settings["horizon"] == 12  # the horizon scored is emitted at once
    assert lines[0].startswith("trial 0 (the recipe): MASE ")
    assert len(lines) == 3
    # The model is retrained on all the data: it forecasts from the end of each series.
    forecast = lc.load(tmp_path / "model").predict(12)
    assert forecast.shape == (24, 3)
    assert forecast["ds"].min() == panel.to_frame()["ds"].max() + pd.Timedelta(hours=1)


def test_trials_never_see_the_points_they_are_scored_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fitted: list[pd.Timestamp] = []
    fit = lc.LSTMForecaster.fit

    def spy(self: lc.LSTMForecaster, df: Any, **kwargs: Any) -> lc.LSTMForecaster:
        fitted.append(pd.DataFrame(df)["ds"].max())
        return fit(self, df, **kwargs)

    monkeypatch.setattr(lc.LSTMForecaster, "fit", spy)
    tune(_data(), 12, tmp_path, n_trials=2, n_windows=3, settings=FAST)
    last = _data()["ds"].max()
    # Two trials on all but the last 3 x 12 hours, then the final model on everything.
    assert fitted == [last - pd.Timedelta(hours=36)] * 2 + [last]


def test_tune_is_reproducible_and_resumes(tmp_path: Path) -> None:
    one = tune(_data(), 12, tmp_path / "one", n_trials=2, settings=FAST)
    again = tune(_data(), 12, tmp_path / "again", n_trials=2, settings=FAST)
    pd.testing.assert_frame_equal(
        one.trials.drop(columns="seconds"), again.trials.drop(columns="seconds")
    )
    resumed = tune(_data(), 12, tmp_path / "one", n_trials=3, settings=FAST)
    assert list(resumed.trials["trial"]) == [0, 1, 2]
    pd.testing.assert_series_equal(resumed.trials["MASE"][:2], one.trials["MASE"])
    assert resumed.trials.loc[2, "MASE"] not in set(one.trials["MASE"])  # new settings tried
    # Nothing left to do: the study stays, the outputs are written again.
    done = tune(_data(), 12, tmp_path / "one", n_trials=3, settings=FAST)
    assert len(done.trials) == 3


def test_a_study_of_other_data_or_settings_is_not_resumed(tmp_path: Path) -> None:
    tune(_data(), 12, tmp_path, n_trials=1, settings=FAST)
    with pytest.raises(lc.ConfigError, match="holds a tuning of different horizon"):
        tune(_data(), 6, tmp_path, n_trials=2, settings=FAST)
    with pytest.raises(lc.ConfigError, match="different data"):
        tune(_data().assign(y=lambda d: d["y"] + 1), 12, tmp_path, n_trials=2, settings=FAST)
    with pytest.raises(lc.ConfigError, match="different settings"):
        tune(_data(), 12, tmp_path, n_trials=2, settings=FAST | {"epochs": 1})


class TenSecondEpochs(lc.Callback):
    """The tuner's and the training loop's clock, advanced 10 s by the end of every epoch."""

    def __init__(self) -> None:
        self.now = 0.0
        self.batches = 1

    def __call__(self) -> float:
        return self.now

    def on_train_begin(self, epochs: int, batches_per_epoch: int) -> None:
        self.batches = batches_per_epoch

    def on_batch_end(self, epoch: int, batch: int, loss: float) -> None:
        if batch == self.batches:
            self.now += 10.0


def test_the_time_budget_holds_the_trials_and_the_final_training(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = TenSecondEpochs()
    monkeypatch.setattr(tuning, "clock", clock)
    monkeypatch.setattr(lstmcast.train, "clock", clock)
    fit = lc.LSTMForecaster.fit

    def timed(self: lc.LSTMForecaster, df: Any, *, callbacks: Any = (), **kw: Any) -> Any:
        return fit(self, df, callbacks=[*callbacks, clock], **kw)

    monkeypatch.setattr(lc.LSTMForecaster, "fit", timed)
    settings = FAST | {"epochs": 20, "patience": None}
    result = tune(_data(), 12, tmp_path, time_budget=100, settings=settings)
    assert clock.now <= 100  # every trial and the final training
    study = optuna.load_study(study_name="lstmcast", storage=f"sqlite:///{tmp_path / 'study.db'}")
    budgets = [trial.user_attrs["time_budget"] for trial in study.trials]
    # The first trial had a third of the time (the recipe's 20 epochs would take 200 s); each
    # later one a third of what was left; none took more than its share.
    assert budgets[0] == pytest.approx(100 / 3)
    assert len(budgets) >= 3
    for trial, budget in zip(study.trials, budgets, strict=True):
        assert trial.user_attrs["fit_seconds"] <= budget
    assert result.model.history_.seconds <= result.model.time_budget


def test_budget_shares_the_time_left(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [0.0]
    monkeypatch.setattr(tuning, "clock", lambda: now[0])
    budget = Budget(seconds=900, cap=None, final_ratio=1.1)
    assert budget.for_trial(None) == 300  # itself, the final training, one more trial
    assert budget.for_trial(1) == 450  # the last trial: itself and the final training
    assert Budget(seconds=900, cap=120, final_ratio=1.1).for_trial(None) == 120
    assert Budget(seconds=None, cap=120, final_ratio=1.1).for_trial(None) == 120
    now[0] = 300.0
    budget.record(300.0, fit_seconds=290.0)
    assert budget.for_trial(None) == 200
    # The next trial (at most 200 s of training + 10 s scoring) and the final training
    # (1.1 x the best trial's 290 s) would need 529 s of the 600 left: it starts.
    assert budget.room_for_another(None, final_fit=290.0)
    now[0] = 420.0
    assert not budget.room_for_another(None, final_fit=290.0)  # 170 + 319 > 480
    assert budget.for_final(trial_budget=300.0) == pytest.approx(330.0)  # as the best had
    now[0] = 850.0
    assert budget.for_final(trial_budget=300.0) == 50.0  # what is left
    now[0] = 1000.0
    assert budget.for_final(trial_budget=None) == tuning.MIN_TRIAL_SECONDS  # one epoch


@pytest.mark.parametrize(
    ("n_points", "freq", "fixed"),
    [
        (24 * 14, "h", {}),
        (24 * 14, "h", {"segment": 8}),
        (24 * 14, "h", {"window": 48}),
        (120, "h", {}),  # short series: fewer than two seasons to train on
        (400, None, {}),  # integer steps: the season from the autocorrelation
        (400, None, {"val_size": None, "patience": None, "season_length": 1}),
        (24 * 14, "h", {"decoder": "segments"}),
    ],
)
def test_every_point_of_the_search_space_can_train(
    n_points: int, freq: str | None, fixed: dict[str, Any]
) -> None:
    """Sampled at random, every trial's settings are valid together and fit the training part;
    the recipe is a point of the space; the distributions never change between trials (Optuna
    refuses a categorical whose choices do)."""
    panel = Panel.from_data(_data(n_points, freq))
    trained = panel.head(panel.lengths - 24)
    base = {
        **choose(facts_of(trained, panel.steps(), 12), {"horizon": 12} | fixed).settings,
        "horizon": 12,
        **fixed,
    }
    space = SearchSpace.around(base, fixed, int(trained.lengths.min()))
    assert not set(fixed) & set(space.searched)
    recipe = space.suggest(optuna.trial.FixedTrial(space.base_params()))
    assert recipe == base
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(40):
        trial = study.ask()
        settings = space.suggest(trial)
        lc.LSTMForecaster(**settings)._check_params()
        training_points(trained, settings["window"], settings["horizon"], settings["val_size"])
        study.tell(trial, 1.0)


def test_the_pruner_compares_trials_of_the_same_loss_only() -> None:
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study(pruner=tuning_study._pruner_class()())
    for value in (0.1, 0.2, 0.3):  # MSE trials: small numbers, not comparable with an MAE
        study.add_trial(
            optuna.trial.create_trial(
                value=value,
                intermediate_values={1: value},
                user_attrs={tuning_study.LOSS: "mse"},
            )
        )
    mae = study.ask()
    mae.set_user_attr(tuning_study.LOSS, "mae")
    mae.report(0.5, 1)
    assert not mae.should_prune()  # no MAE trial to compare with yet
    mse = study.ask()
    mse.set_user_attr(tuning_study.LOSS, "mse")
    mse.report(0.5, 1)
    assert mse.should_prune()  # worse than the median MSE trial at that epoch


def test_bad_arguments_and_settings_are_refused_before_any_work(tmp_path: Path) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"horizon": 0}, "horizon must be >= 1"),
        ({"n_windows": 0}, "n_windows must be >= 1"),
        ({"n_trials": 0}, "n_trials must be >= 1"),
        ({"time_budget": -1}, "time_budget must be > 0"),
        ({"time_budget": None}, "give n_trials= or time_budget="),
        ({"settings": {"windw": 3}}, "unknown setting 'windw'"),
        ({"settings": {"random_state": 3}}, "give seed= instead"),
        ({"settings": {"segment": 5, "window": 48}}, "segment 5 must divide window 48"),
    ]
    for changed, message in cases:
        arguments = {"horizon": 12, "time_budget": 60.0} | changed
        with pytest.raises(lc.ConfigError, match=message):
            tune(_data(), output=tmp_path / "out", **arguments)
    with pytest.raises(lc.DataError, match="scores each trial on the last 336"):
        tune(_data(), 168, tmp_path / "out", n_trials=1)
    with pytest.raises(lc.DataError, match="once tuning holds out its scoring windows"):
        tune(_data(), 12, tmp_path / "out", n_trials=1, settings={"window": 300})
    assert not (tmp_path / "out").exists()


def hide_optuna(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``import optuna`` fail as it does where the extra is not installed."""
    real_import = builtins.__import__

    def no_optuna(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "optuna" or name.startswith("optuna."):
            raise ModuleNotFoundError("No module named 'optuna'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_optuna)


def test_without_optuna_the_message_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hide_optuna(monkeypatch)
    with pytest.raises(lc.ConfigError, match=r"pip install 'lstmcast\[tune\]'"):
        tune(_data(), 12, tmp_path, n_trials=1)


def test_a_failing_trial_is_recorded_and_tuning_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fit = lc.LSTMForecaster.fit
    calls = [0]

    def diverge_once(self: lc.LSTMForecaster, df: Any, **kwargs: Any) -> lc.LSTMForecaster:
        calls[0] += 1
        if calls[0] == 2:
            raise lc.TrainingError("the training loss became nan at epoch 1")
        return fit(self, df, **kwargs)

    monkeypatch.setattr(lc.LSTMForecaster, "fit", diverge_once)
    result = tune(_data(), 12, tmp_path, n_trials=3, settings=FAST)
    assert list(result.trials["state"]) == ["complete", "failed", "complete"]
    assert result.trials.loc[1, "error"] == "TrainingError: the training loss became nan at epoch 1"
    assert result.best.number in (0, 2)  # a complete trial


def test_an_interrupted_tuning_resumes_and_runs_the_recipe_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fit = lc.LSTMForecaster.fit

    def ctrl_c(self: lc.LSTMForecaster, df: Any, **kwargs: Any) -> lc.LSTMForecaster:
        raise KeyboardInterrupt

    monkeypatch.setattr(lc.LSTMForecaster, "fit", ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        tune(_data(), 12, tmp_path, n_trials=2, settings=FAST)
    assert not (tmp_path / "model").exists()
    monkeypatch.setattr(lc.LSTMForecaster, "fit", fit)
    result = tune(_data(), 12, tmp_path, n_trials=2, settings=FAST)
    # The interrupted trial does not count towards n_trials, and the recipe runs again first.
    assert list(result.trials["state"]) == ["failed", "complete", "complete"]
    assert list(result.trials["recipe"]) == [True, True, False]
    assert result.recipe is not None
    assert result.recipe.number == 1
