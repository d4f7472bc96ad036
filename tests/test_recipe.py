"""The automatic recipe: each frequency gives its documented season, window and segment."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lstmcast.recipe import (
    DataFacts,
    choose,
    choose_segment,
    choose_window,
    facts_of,
    guerrero_lambda,
    is_daily_season,
    period_from_autocorrelation,
    season_of_step,
)


@pytest.mark.parametrize(
    ("step", "season"),
    [
        (pd.offsets.Hour(), 24),
        (pd.Timedelta(hours=1), 24),
        (pd.offsets.Minute(15), 96),
        (pd.offsets.Minute(1), 60),
        (pd.offsets.Day(), 7),
        (pd.offsets.BusinessDay(), 5),
        (pd.offsets.Week(weekday=6), 52),
        (pd.offsets.MonthEnd(), 12),
        (pd.offsets.MonthBegin(), 12),
        (pd.DateOffset(months=1), 12),
        (pd.offsets.QuarterEnd(startingMonth=12), 4),
        (pd.offsets.YearEnd(), None),
        (1, None),
    ],
)
def test_season_of_each_step(step: object, season: int | None) -> None:
    assert season_of_step(step)[0] == season


def test_a_hidden_period_is_found_in_integer_time() -> None:
    rng = np.random.default_rng(0)
    t = np.arange(600)
    series = [np.sin(2 * np.pi * t / 17) + 0.3 * rng.normal(size=t.size) for _ in range(5)]
    assert period_from_autocorrelation(series, max_lag=100) == 17


def test_noise_has_no_period() -> None:
    rng = np.random.default_rng(1)
    assert period_from_autocorrelation([rng.normal(size=500) for _ in range(5)], 100) == 1


def test_window_is_whole_seasons_capped_by_the_data() -> None:
    assert choose_window(24, 48, 10_000)[0] == 336  # M4 Hourly's recipe: 14 days
    assert choose_window(7, 14, 10_000)[0] == 98  # daily, two weeks ahead: 14 weeks
    assert choose_window(12, 18, 10_000)[0] == 132  # monthly: 7 x 18 = 126 -> 11 years
    assert choose_window(24, 48, 200, n_series=100)[0] == 192  # 8 whole days fit
    # Little data: the window gives way to training windows (down to half the series).
    assert choose_window(24, 48, 200)[0] == 120
    assert choose_window(12, 18, 149) == (84, "7 seasons, leaving 66 training windows")
    assert choose_window(1, 10, 10_000)[0] == 70
    assert choose_window(1, 2, 10_000)[0] == 32


def test_segment_is_a_season_when_the_window_holds_several() -> None:
    assert choose_segment(336, 24) == 24
    assert choose_segment(48, 24) == 1  # two seasons: too few steps
    assert choose_segment(70, 1) == 5  # about 16 segments
    assert choose_segment(32, 1) == 1


def test_choose_on_m4_hourly_like_data() -> None:
    facts = DataFacts(
        step=pd.offsets.Hour(), n_series=414, shortest=700, total_points=373_372, horizon=48
    )
    recipe = choose(facts)
    assert {k: recipe.settings[k] for k in ("window", "segment", "horizon", "season_length")} == {
        "window": 168,
        "segment": 24,
        "horizon": 48,
        "season_length": 24,
    }
    assert recipe.settings["batch_size"] == 256
    assert recipe.reasons[0] == "hourly -> season 24"
    assert recipe.reasons[1] == "window 168 = 7 seasons, a week"


@pytest.mark.parametrize(
    ("step", "period", "horizon", "window"),
    [
        (pd.offsets.Hour(), None, 96, 168),  # ETTh1's horizon: 28 days wanted, a week taken
        (1, 24, 48, 168),  # hourly data without dates: a season of 24 steps is a day
        (pd.offsets.Minute(15), None, 96, 672),  # a week of quarter hours
        (pd.offsets.Hour(), None, 12, 96),  # short horizons: 7 horizons, under the cap
        (pd.offsets.Day(), None, 28, 98),  # other seasons keep 14 of them (V17)
        (pd.offsets.MonthEnd(), None, 18, 132),
        (1, 12, 18, 132),  # integer steps with another period: not a day
    ],
)
def test_a_daily_season_stops_at_a_week(
    step: object, period: int | None, horizon: int, window: int
) -> None:
    facts = DataFacts(
        step=step,
        n_series=400,
        shortest=2_000,
        total_points=800_000,
        horizon=horizon,
        period=period,
    )
    assert choose(facts).settings["window"] == window


def test_daily_seasons() -> None:
    assert is_daily_season(pd.offsets.Hour(), 24)
    assert is_daily_season(pd.offsets.Minute(30), 48)
    assert is_daily_season(1, 24)
    assert not is_daily_season(pd.offsets.Hour(), 12)
    assert not is_daily_season(pd.offsets.Day(), 7)  # the week, not the day
    assert not is_daily_season(pd.offsets.MonthEnd(), 12)
    assert not is_daily_season(1, 7)


def test_few_windows_get_smaller_batches() -> None:
    facts = DataFacts(
        step=pd.offsets.MonthEnd(), n_series=1, shortest=300, total_points=300, horizon=12
    )
    settings = choose(facts).settings
    assert settings["window"] == 84  # 7 seasons
    assert settings["batch_size"] == 32


@pytest.mark.parametrize(
    ("smallest", "log_lambda", "expected", "reason"),
    [
        (0.25, 0.05, "log", "log target: above 0, the spread grows with the level "
         "(Guerrero's lambda 0.05)"),
        (0.25, 0.25, "log", "(Guerrero's lambda 0.25)"),
        (0.25, 0.95, None, "target as it is: the spread does not grow with the level "
         "(Guerrero's lambda 0.95)"),
        (0.25, None, None, "target as it is: whether the spread grows with the level cannot "
         "be told"),
        (0.0, None, None, "target as it is: not all above 0 (smallest 0)"),
        (-3.5, None, None, "target as it is: not all above 0 (smallest -3.5)"),
        (math.nan, None, None, "target as it is: not all above 0 (smallest none observed)"),
    ],
)  # fmt: skip
def test_the_target_is_logged_when_the_spread_grows_with_the_level(
    smallest: float, log_lambda: float | None, expected: str | None, reason: str
) -> None:
    facts = DataFacts(
        step=pd.offsets.Hour(), n_series=4, shortest=700, total_points=2800, horizon=48,
        smallest=smallest, log_lambda=log_lambda,
    )  # fmt: skip
    recipe = choose(facts)
    assert recipe.settings["target_transform"] == expected
    assert any(reason in line for line in recipe.reasons), recipe.reasons
    # Given, it wins (and is not explained).
    given = choose(facts, {"target_transform": None})
    assert "target_transform" not in given.settings
    assert not any("target" in line for line in given.reasons)


def test_guerrero_lambda_tells_a_spread_that_grows_with_the_level() -> None:
    rng = np.random.default_rng(0)
    t = np.arange(24 * 40)
    level = np.exp(t / 300)  # a trend: the level grows 24-fold
    daily = 1 + 0.3 * np.sin(2 * np.pi * t / 24)
    multiplicative = level * daily * np.exp(0.05 * rng.normal(size=t.size))
    additive = 10 + t / 30 + daily + 0.05 * rng.normal(size=t.size)  # the same swings
    assert guerrero_lambda(multiplicative, 24) == pytest.approx(0.0, abs=0.15)
    assert guerrero_lambda(additive, 24) > 0.75
    assert guerrero_lambda(multiplicative[:30], 24) is None  # one whole season only
    assert guerrero_lambda(np.full(96, 3.0), 24) is None  # no spread
    assert guerrero_lambda(multiplicative, 1) is None
    steady = 5 + daily + 0.05 * rng.normal(size=t.size)  # the level never moves: any power fits
    assert guerrero_lambda(steady, 24) is None


def test_facts_hold_the_smallest_value_and_the_median_lambda() -> None:
    from lstmcast.data import Panel

    frame = pd.DataFrame(
        {"unique_id": ["a"] * 4 + ["b"] * 4, "ds": list(range(4)) * 2,
         "y": [3.0, np.nan, 2.0, 5.0, 0.5, 9.0, 1.0, np.nan]}
    )  # fmt: skip
    panel = Panel.from_data(frame, keep_missing=True)
    facts = facts_of(panel, panel.steps(), horizon=1)
    assert facts.smallest == 0.5
    assert facts.log_lambda is None  # integer steps, no period in 4 points
    t = np.arange(24 * 30)
    hourly = pd.DataFrame(
        {"unique_id": "h", "ds": pd.date_range("2024-01-01", periods=t.size, freq="h"),
         "y": np.exp(t / 200) * (1 + 0.3 * np.sin(2 * np.pi * t / 24))}
    )  # fmt: skip
    panel = Panel.from_data(hourly)
    facts = facts_of(panel, panel.steps(), horizon=24)
    assert facts.log_lambda == pytest.approx(guerrero_lambda(hourly["y"].to_numpy(), 24))
    assert choose(facts).settings["target_transform"] == "log"


def test_facts_of_a_panel_with_a_hidden_period() -> None:
    from lstmcast.data import Panel

    rng = np.random.default_rng(0)
    t = np.arange(400)
    frame = pd.concat(
        pd.DataFrame(
            {
                "unique_id": name,
                "ds": t,
                "y": np.sin(2 * np.pi * t / 12) + 0.2 * rng.normal(size=400),
            }
        )
        for name in "ab"
    )
    panel = Panel.from_data(frame)
    facts = facts_of(panel, panel.steps(), horizon=12)
    assert (facts.step, facts.n_series, facts.shortest, facts.period) == (1, 2, 400, 12)
    assert choose(facts).reasons[0] == "integer step 1: season 12 from the autocorrelation"


# -- the recipe as LSTMForecaster's default ------------------------------------------------------

FAST = {"epochs": 2, "hidden_size": 8, "random_state": 0}


def _hourly(days: int = 20, n: int = 3, start: str = "2024-01-01", freq: str = "h") -> pd.DataFrame:
    steps = days * (24 if freq == "h" else 1)
    t = np.arange(steps)
    period = 24 if freq == "h" else 7
    rng = np.random.default_rng(0)
    return pd.concat(
        pd.DataFrame(
            {
                "unique_id": f"s{k}",
                "ds": pd.date_range(start, periods=steps, freq=freq),
                "y": 10 + np.sin(2 * np.pi * t / period + k) + 0.1 * rng.normal(size=steps),
            }
        )
        for k in range(n)
    )


def test_settings_left_auto_are_chosen_from_the_data() -> None:
    import lstmcast as lc

    model = lc.LSTMForecaster(horizon=6, **FAST).fit(_hourly())
    used = model.settings_
    assert used["season_length"] == 24
    assert used["window"] % 24 == 0
    assert used["horizon"] == 6
    assert used["hidden_size"] == 8
    assert used["loss"] == "mae"
    assert used["window_norm"] == "revin"
    assert used["val_size"] >= 6
    assert used["patience"] is None  # the one-cycle schedule runs to its end
    assert used["time_budget"] is None  # the epochs were given: they run in full
    assert model.recipe_[0] == "hourly -> season 24"
    params = model.get_params()  # as given: a refit or a clone chooses again
    assert params["window"] == "auto"
    assert params["horizon"] == 6
    assert model.window == used["window"]
    assert lc.LSTMForecaster(**params).get_params() == params


def test_a_refit_chooses_again_for_new_data() -> None:
    import lstmcast as lc

    model = lc.LSTMForecaster(**FAST).fit(_hourly())
    assert model.settings_["season_length"] == 24
    model.fit(_hourly(days=120, freq="D"))
    assert model.settings_["season_length"] == 7
    assert model.recipe_[0] == "daily -> season 7"


def test_plan_chooses_without_training_and_tutorial_keeps_the_old_defaults() -> None:
    import lstmcast as lc
    from lstmcast.recipe import TUTORIAL

    model = lc.LSTMForecaster(horizon=6)
    settings = model.plan(_hourly())
    assert settings["window"] % 24 == 0
    assert getattr(model, "networks_", None) is None
    tutorial = lc.LSTMForecaster(recipe="tutorial", hidden_size=8).plan(_hourly())
    assert {k: tutorial[k] for k in TUTORIAL if k != "hidden_size"} == {
        k: v for k, v in TUTORIAL.items() if k != "hidden_size"
    }
    assert tutorial["hidden_size"] == 8


def test_the_recipe_is_saved_and_loaded(tmp_path: Path) -> None:
    import json

    import lstmcast as lc

    model = lc.LSTMForecaster(horizon=6, **FAST).fit(_hourly())
    model.save(tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["params"]["window"] == model.window  # the values used, for any reader
    assert "window" in config["recipe"]["chosen"]
    assert "horizon" not in config["recipe"]["chosen"]
    loaded = lc.load(tmp_path / "m")
    assert loaded.get_params() == model.get_params()
    assert loaded.settings_ == model.settings_
    assert loaded.recipe_ == model.recipe_
    pd.testing.assert_frame_equal(loaded.predict(), model.predict())
    # A recipe naming something that is not a setting is a damaged model, named as such.
    config["recipe"]["chosen"].append("")
    (tmp_path / "m" / "config.json").write_text(json.dumps(config))
    with pytest.raises(lc.ModelFileError, match="invalid recipe"):
        lc.load(tmp_path / "m")


def test_train_prints_the_recipe_and_dry_run_stops_there(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from lstmcast import cli

    data = tmp_path / "hourly.csv"
    _hourly().to_csv(data, index=False)
    runner = CliRunner()
    dry = runner.invoke(
        cli.app, ["train", str(data), "-o", str(tmp_path / "m"), "--horizon", "6", "--dry-run"]
    )
    assert dry.exit_code == 0, dry.output
    assert "recipe: hourly -> season 24" in dry.stdout
    assert "settings: window=" in dry.stdout
    assert not (tmp_path / "m").exists()
    trained = runner.invoke(
        cli.app,
        ["train", str(data), "-o", str(tmp_path / "m"), "--horizon", "6", "--epochs", "1",
         "--hidden-size", "8", "--seed", "0", "--quiet"],
    )  # fmt: skip
    assert trained.exit_code == 0, trained.output
    assert (tmp_path / "m" / "config.json").is_file()


def test_a_season_too_long_for_the_data_is_not_read_in_whole_seasons() -> None:
    # The tutorial's sine: a period of about 314 steps in 800 points.
    window, why = choose_window(311, 20, 742)
    assert (window, why) == (140, "7 horizons (season 311 is long here)")
    facts = DataFacts(step=1, n_series=1, shortest=800, total_points=800, horizon=20, period=311)
    settings = choose(facts).settings
    assert settings["window"] == 140
    assert settings["season_length"] == 1  # it must fit the window for interval calibration


def test_series_too_short_for_the_horizon_are_named() -> None:
    import lstmcast as lc

    short = pd.DataFrame({"unique_id": "a", "ds": range(10), "y": np.arange(10.0)})
    message = r"series 'a' has 10 points; a horizon of 12 with a validation tail of 12 needs"
    with pytest.raises(lc.DataError, match=message):
        lc.LSTMForecaster(horizon=12).fit(short)


def test_an_ensemble_as_the_budget_allows_or_when_an_epoch_is_cheap() -> None:
    hourly = DataFacts(
        step=pd.offsets.Hour(), n_series=414, shortest=700, total_points=373_372, horizon=48
    )
    recipe = choose(hourly)  # epochs chosen, so a time budget: members as many as fit it
    assert recipe.settings["ensemble_size"] == 3
    assert recipe.settings["time_budget"] == 300.0
    assert any(line.startswith("an ensemble of up to 3") for line in recipe.reasons)
    # Given epochs run in full, without a budget: an ensemble only when an epoch is cheap.
    assert choose(hourly, {"epochs": 10}).settings["ensemble_size"] == 1  # 2.4M LSTM steps
    month = pd.offsets.MonthEnd()
    monthly = DataFacts(step=month, n_series=1, shortest=300, total_points=300, horizon=12)
    recipe = choose(monthly, {"epochs": 10})
    assert recipe.settings["ensemble_size"] == 3
    assert any(line.startswith("an ensemble of 3") for line in recipe.reasons)
    assert "ensemble_size" not in choose(monthly, {"ensemble_size": 1}).settings


def test_little_data_gets_more_epochs() -> None:
    month = pd.offsets.MonthBegin()
    small = DataFacts(step=month, n_series=1, shortest=185, total_points=185, horizon=18)
    assert choose(small).settings["epochs"] == 100  # 3 batches an epoch: 300 steps
    hourly = DataFacts(
        step=pd.offsets.Hour(), n_series=414, shortest=700, total_points=373_372, horizon=48
    )
    assert choose(hourly).settings["epochs"] == 10  # 684 batches an epoch
    assert choose(small, {"epochs": 5}).settings.get("epochs") is None  # given: kept
