"""The automatic recipe: each frequency gives its documented season, window and segment."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lstmcast.recipe import (
    DataFacts,
    choose,
    choose_segment,
    choose_window,
    facts_of,
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
    assert choose_window(24, 48, 200)[0] == 192  # 8 whole days fit in the shortest series
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
        "window": 336,
        "segment": 24,
        "horizon": 48,
        "season_length": 24,
    }
    assert recipe.settings["batch_size"] == 256
    assert recipe.reasons[0] == "hourly -> season 24"
    assert recipe.reasons[1] == "window 336 = 14 seasons"


def test_few_windows_get_smaller_batches() -> None:
    facts = DataFacts(
        step=pd.offsets.MonthEnd(), n_series=1, shortest=300, total_points=300, horizon=12
    )
    settings = choose(facts).settings
    assert settings["window"] == 84  # 7 seasons
    assert settings["batch_size"] == 32


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
