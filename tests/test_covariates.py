"""Covariates: future-known and past-only inputs, the contract that catches their misuse, their
missing values, and save/load.

The network may read a past-only covariate or the target only up to the forecast origin, and a
future-known one over the horizon too: tested by changing values after the origin and watching
which forecasts move.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import lstmcast as lc

H = 12
N = 240
# Small and quick, the recipe's choices otherwise: a fixed window keeps the tests fast.
FAST = {"window": 24, "horizon": H, "hidden_size": 16, "epochs": 15, "ensemble_size": 1,
        "time_budget": None, "random_state": 0}  # fmt: skip


def promo_frame(n: int = N, seed: int = 0) -> pd.DataFrame:
    """Three series driven by a promotion flag (+3 when on) and a daily cycle, with an unrelated
    sensor beside them."""
    rng = np.random.default_rng(seed)
    frames = []
    for uid in "abc":
        promo = (rng.random(n) < 0.2).astype(float)
        y = 10 + np.sin(np.arange(n) * 2 * np.pi / 12) + 3 * promo + rng.normal(0, 0.1, n)
        sensor = rng.normal(size=n)
        frames.append(
            pd.DataFrame(
                {"unique_id": uid, "ds": np.arange(n), "y": y, "promo": promo, "sensor": sensor}
            )
        )
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def df() -> pd.DataFrame:
    return promo_frame()


@pytest.fixture(scope="module")
def model(df: pd.DataFrame) -> lc.LSTMForecaster:
    train = df.groupby("unique_id").head(N - H)
    return lc.LSTMForecaster(futr_cols=["promo"], hist_cols=["sensor"], **FAST).fit(train)


def future_of(df: pd.DataFrame) -> pd.DataFrame:
    return df.groupby("unique_id").tail(H)[["unique_id", "ds", "promo"]]


def mae(forecast: pd.DataFrame, df: pd.DataFrame) -> float:
    actual = df.groupby("unique_id").tail(H)["y"].to_numpy()
    return float(np.abs(forecast["LSTM"].to_numpy() - actual).mean())


def test_a_future_known_driver_is_used(df: pd.DataFrame, model: lc.LSTMForecaster) -> None:
    train = df.groupby("unique_id").head(N - H)
    alone = lc.LSTMForecaster(**FAST).fit(train[["unique_id", "ds", "y"]])
    with_promo = mae(model.predict(H, futr_df=future_of(df)), df)
    without = mae(alone.predict(H), df)
    assert with_promo < 0.5 * without, (with_promo, without)


def test_nothing_after_the_origin_is_read_but_the_future_known_values(
    df: pd.DataFrame, model: lc.LSTMForecaster
) -> None:
    """A backtest's frame holds every value after each origin: only the future-known ones may
    move the forecasts."""
    base = model.backtest(df, h=H, n_windows=2)
    after = df.groupby("unique_id").cumcount() >= N - 2 * H  # after the first origin
    for column, moves in (("y", False), ("sensor", False), ("promo", True)):
        changed = df.copy()
        changed.loc[after, column] = changed.loc[after, column] + 5.0
        forecast = model.backtest(changed, h=H, n_windows=2)
        first = forecast["cutoff"] == forecast["cutoff"].min()
        moved = not np.allclose(forecast.loc[first, "LSTM"], base.loc[first, "LSTM"])
        assert moved == moves, column


def test_a_past_only_leak_of_the_target_does_not_help() -> None:
    """A past-only column that is the target one step ahead: at the origin it would give the
    first forecast away, but it is never read there."""
    df = promo_frame()
    df["leak"] = df.groupby("unique_id")["y"].shift(-1).fillna(0.0)
    train = df.groupby("unique_id").head(N - H)
    leaky = lc.LSTMForecaster(hist_cols=["leak"], **FAST)
    # The leakage check says so at fit, with its evidence.
    expected = r"1 of 1 covariate looks like leakage: 'leak' \(the target 1 step ahead"
    with pytest.warns(lc.DataWarning, match=expected):
        leaky.fit(train.drop(columns=["promo", "sensor"]))
    honest = lc.LSTMForecaster(**FAST).fit(train[["unique_id", "ds", "y"]])
    first_step = df.groupby("unique_id").cumcount() == N - H
    actual = df.loc[first_step, "y"].to_numpy()
    leaked = leaky.predict(H)
    error = np.abs(leaked.groupby("unique_id").head(1)["LSTM"].to_numpy() - actual).mean()
    honest_error = np.abs(
        honest.predict(H).groupby("unique_id").head(1)["LSTM"].to_numpy() - actual
    ).mean()
    # With the leak read at the origin, the first step would be nearly exact.
    assert error > 0.5 * honest_error, (error, honest_error)


def test_predict_needs_the_future_values(model: lc.LSTMForecaster, df: pd.DataFrame) -> None:
    with pytest.raises(lc.DataError, match=r"reads future-known covariates \['promo'\]: give"):
        model.predict(H)
    future = future_of(df)
    with pytest.raises(lc.DataError, match="futr_df has no rows for series 'b'"):
        model.predict(H, futr_df=future[future["unique_id"] != "b"])
    gap = future.drop(index=future.index[3])
    with pytest.raises(lc.DataError, match="futr_df has no row for series 'a' at 231"):
        model.predict(H, futr_df=gap)
    shifted = future.assign(ds=future["ds"] + 1)  # misaligned by one step
    with pytest.raises(lc.DataError, match="futr_df has no row for series 'a' at 228"):
        model.predict(H, futr_df=shifted)
    with pytest.raises(lc.DataError, match="futr_df has the target column 'y'"):
        model.predict(H, futr_df=future.assign(y=0.0))
    missing = future.assign(promo=future["promo"].where(future.index != future.index[5]))
    with pytest.raises(lc.DataError, match="covariate 'promo' of series 'a' is missing at 233"):
        model.predict(H, futr_df=missing)
    with pytest.raises(lc.ConfigError, match="beyond the model's horizon 12, and a model with "
                       "covariates cannot feed"):  # fmt: skip
        model.predict(H + 1, futr_df=future)
    with pytest.raises(lc.ConfigError, match="reads no future-known covariates"):
        lc.Naive().fit(df[["unique_id", "ds", "y"]]).predict(H, futr_df=future)


def test_fewer_steps_than_the_horizon(model: lc.LSTMForecaster, df: pd.DataFrame) -> None:
    full = model.predict(H, futr_df=future_of(df))
    part = model.predict(4, futr_df=future_of(df).groupby("unique_id").head(4))
    np.testing.assert_allclose(part["LSTM"], full.groupby("unique_id").head(4)["LSTM"], rtol=1e-6)


def test_the_declaration_is_checked(df: pd.DataFrame) -> None:
    cases = [
        ({"futr_cols": ["promo"], "hist_cols": ["promo"]}, lc.ConfigError,
         "covariate 'promo' is declared by both hist_cols and futr_cols"),
        ({"futr_cols": ["promo", "promo"]}, lc.ConfigError, "covariate 'promo' is declared twice"),
        ({"futr_cols": ["y"]}, lc.ConfigError, "column 'y' is the target; it cannot also be"),
        ({"hist_cols": ["ds"]}, lc.ConfigError, "column 'ds' is the time column"),
        ({"futr_cols": ["price"]}, lc.DataError, "covariate column 'price' not found"),
        ({"futr_cols": [""]}, lc.ConfigError, "futr_cols must be a list of column names"),
    ]  # fmt: skip
    for settings, error, message in cases:
        with pytest.raises(error, match=message):
            lc.LSTMForecaster(**FAST, **settings).fit(df)
    # An undeclared column is never silently ignored.
    with pytest.raises(lc.DataError, match="would be ignored"):
        lc.LSTMForecaster(**FAST, futr_cols=["promo"]).fit(df)


def test_non_numeric_and_missing_values(df: pd.DataFrame) -> None:
    text = df.assign(promo=df["promo"].astype(str).where(df.index != 7, "yes"))
    with pytest.raises(lc.DataError, match="covariate 'promo' of series 'a' has a non-numeric"):
        lc.LSTMForecaster(**FAST, futr_cols=["promo"], hist_cols=["sensor"]).fit(text)
    gaps = df.copy()
    gaps.loc[[0, 50], "sensor"] = np.nan  # the first value of 'a', and a later one
    settings = {**FAST, "futr_cols": ["promo"], "hist_cols": ["sensor"]}
    with pytest.raises(lc.DataError, match="covariate 'sensor' of series 'a' is missing at 0 in "
                       r"the training data \(2 missing values in all\)"):  # fmt: skip
        lc.LSTMForecaster(**settings).fit(gaps)
    with pytest.raises(lc.DataError, match="missing at 0 before its first value"):
        lc.LSTMForecaster(**settings, covariate_missing="ffill").fit(gaps)
    zero = lc.LSTMForecaster(**{**settings, "epochs": 1}, covariate_missing="zero").fit(gaps)
    assert zero.settings_["covariate_missing"] == "zero"
    later = df.copy()
    later.loc[50, "sensor"] = np.nan
    filled = lc.LSTMForecaster(**{**settings, "epochs": 1}, covariate_missing="ffill").fit(later)
    assert filled.tail_.covariates is not None
    with pytest.raises(lc.ConfigError, match="covariate_missing must be one of"):
        lc.LSTMForecaster(**settings, covariate_missing="drop").fit(df)


def test_save_and_load_keep_the_covariates(
    model: lc.LSTMForecaster, df: pd.DataFrame, tmp_path: Path
) -> None:
    model.save(tmp_path / "m")
    loaded = lc.load(tmp_path / "m")
    assert loaded.get_params()["futr_cols"] == ["promo"]
    future = future_of(df)
    pd.testing.assert_frame_equal(
        loaded.predict(H, futr_df=future), model.predict(H, futr_df=future)
    )
    pd.testing.assert_frame_equal(loaded.backtest(df, h=H), model.backtest(df, h=H))
    # The model refuses data without its covariates.
    with pytest.raises(lc.DataError, match="covariate column 'sensor' not found"):
        loaded.predict(H, df=df.drop(columns=["sensor"]), futr_df=future)


def test_intervals_and_ensembles_with_covariates(df: pd.DataFrame) -> None:
    train = df.groupby("unique_id").head(N - H)
    settings = {**FAST, "epochs": 3, "ensemble_size": 2, "val_size": 36}
    model = lc.LSTMForecaster(futr_cols=["promo"], quantile_levels=[80], **settings)
    model.fit(train.drop(columns=["sensor"]))
    forecast = model.predict(H, futr_df=future_of(df), level=[80])
    assert (forecast["LSTM-lo-80"] <= forecast["LSTM"]).all()
    assert (forecast["LSTM"] <= forecast["LSTM-hi-80"]).all()


# -- the command line ----------------------------------------------------------------------------
def test_train_forecast_and_backtest_with_covariates(
    tmp_path: Path, df: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.test_cli import assert_one_error_line, run

    data, future = tmp_path / "d.csv", tmp_path / "future.csv"
    train = df.groupby("unique_id").head(N - H)
    train.rename(columns={"ds": "t"}).to_csv(data, index=False)
    future_of(df).rename(columns={"ds": "t"}).to_csv(future, index=False)
    options = ["--time-col", "t", "--window", 24, "--horizon", H, "--hidden-size", 8]
    options += ["--epochs", 2, "--ensemble-size", 1, "--seed", 0, "--quiet"]
    covariates = ["--futr-col", "promo", "--hist-col", "sensor"]
    result = run("train", data, "-o", tmp_path / "m", *options, *covariates)
    assert result.exit_code == 0, result.output
    out = tmp_path / "fc.csv"
    result = run("forecast", tmp_path / "m", "--h", H, "--futr-data", future, "-o", out)
    assert result.exit_code == 0, result.output
    model = lc.load(tmp_path / "m")
    expected = model.predict(H, futr_df=future_of(df).rename(columns={"ds": "t"}))
    np.testing.assert_allclose(pd.read_csv(out)["LSTM"], expected["LSTM"], rtol=1e-6)
    # No future values: one line naming them.
    missing = run("forecast", tmp_path / "m", "--h", H, "-o", out)
    assert_one_error_line(missing, "reads future-known covariates ['promo']: give futr_df")
    # A covariate DATA does not hold.
    bad = run("train", data, "-o", tmp_path / "m2", *options, "--futr-col", "price")
    assert_one_error_line(bad, "covariate column 'price' not found")
    # Without declaring them, the covariates are columns that would be ignored.
    undeclared = run("train", data, "-o", tmp_path / "m3", *options)
    assert_one_error_line(undeclared, "would be ignored")
    everything = tmp_path / "all.csv"
    df.rename(columns={"ds": "t"}).to_csv(everything, index=False)
    drawn: dict[str, object] = {}
    plot_gates = lc.plot_gates

    def spy(*args: object, **kwargs: object) -> object:
        drawn.update(kwargs)
        return plot_gates(*args, **kwargs)

    monkeypatch.setattr(lc, "plot_gates", spy)
    inspected = run("inspect", tmp_path / "m", "--data", data, "-o", tmp_path / "gates.png")
    assert inspected.exit_code == 0, inspected.output
    assert (tmp_path / "gates.png").is_file()
    # The gates are drawn over the window's inputs: the target and each covariate, scaled.
    assert drawn["input_labels"] == ["y (scaled)", "sensor (scaled)", "promo (scaled)"]
    assert np.asarray(drawn["inputs"]).shape == (24, 3)
    backtest = run(
        "backtest", everything, "--h", H, "--n-windows", 2, *options, *covariates,
        "-o", tmp_path / "bt.csv",
    )  # fmt: skip
    assert backtest.exit_code == 0, backtest.output
    assert {"LSTM", "Naive", "SeasonalNaive"} <= set(pd.read_csv(tmp_path / "bt.csv").columns)


# -- static covariates -----------------------------------------------------------------------------
def static_frame() -> pd.DataFrame:
    """Four series whose level is set by a category (region) and a number (size)."""
    rng = np.random.default_rng(3)
    frames = []
    for k, (region, size) in enumerate(
        [("north", 1.0), ("south", 2.0), ("north", 3.0), ("east", 1.5)]
    ):
        level = {"north": 0.0, "south": 5.0, "east": -5.0}[region] + size
        y = level + np.sin(np.arange(N) * 2 * np.pi / 12) + rng.normal(0, 0.1, N)
        frames.append(
            pd.DataFrame(
                {"unique_id": f"s{k}", "ds": np.arange(N), "y": y, "region": region, "size": size}
            )
        )
    return pd.concat(frames, ignore_index=True)


def test_static_covariates_are_encoded_embedded_and_saved(tmp_path: Path) -> None:
    df = static_frame()
    settings = {**FAST, "epochs": 3, "static_cols": ["region", "size"]}
    model = lc.LSTMForecaster(**settings).fit(df)
    encoder = model.static_encoder_
    assert encoder.numeric == ("size",)
    assert dict(encoder.categories) == {"region": ("east", "north", "south")}
    assert model.network_.config.static_categories == (4,)  # three values and "unknown"
    forecast = model.predict(H)  # the saved static values
    assert len(forecast) == 4 * H
    # New history with its static columns: the same values give the same forecast.
    pd.testing.assert_frame_equal(model.predict(H, df=df), forecast)
    # An unseen region is "unknown", not an error; the forecast moves.
    other = df.assign(region=df["region"].where(df["unique_id"] != "s0", "west"))
    moved = model.predict(H, df=other)
    assert not np.allclose(moved["LSTM"][:H], forecast["LSTM"][:H])
    model.save(tmp_path / "m")
    loaded = lc.load(tmp_path / "m")
    pd.testing.assert_frame_equal(loaded.predict(H), forecast)
    pd.testing.assert_frame_equal(loaded.predict(H, df=other), moved)


def test_static_values_must_be_one_per_series() -> None:
    df = static_frame()
    df.loc[5, "region"] = "south"
    with pytest.raises(lc.DataError, match="static covariate 'region' varies within series 's0': "
                       "'north' and 'south'"):  # fmt: skip
        lc.LSTMForecaster(**FAST, static_cols=["region"]).fit(df.drop(columns=["size"]))
    missing = (
        r"the training data \(static covariates \['area'\]\) is missing column\(s\) \['area'\]"
    )
    with pytest.raises(lc.DataError, match=missing):
        lc.LSTMForecaster(**FAST, static_cols=["area"]).fit(static_frame())
    with pytest.raises(lc.ConfigError, match="covariate 'size' is declared by both hist_cols and "
                       "static_cols"):  # fmt: skip
        lc.LSTMForecaster(**FAST, hist_cols=["size"], static_cols=["size"]).fit(static_frame())


def test_static_covariates_on_the_command_line(tmp_path: Path) -> None:
    from tests.test_cli import run

    data = tmp_path / "d.csv"
    static_frame().to_csv(data, index=False)
    options = ["--window", 24, "--horizon", H, "--hidden-size", 8, "--epochs", 2]
    options += ["--ensemble-size", 1, "--seed", 0, "--quiet"]
    options += ["--static-col", "region", "--static-col", "size"]
    result = run("train", data, "-o", tmp_path / "m", *options)
    assert result.exit_code == 0, result.output
    model = lc.load(tmp_path / "m")
    assert dict(model.static_encoder_.categories) == {"region": ("east", "north", "south")}
    out = tmp_path / "fc.csv"
    result = run("forecast", tmp_path / "m", "--data", data, "-o", out)
    assert result.exit_code == 0, result.output
    np.testing.assert_allclose(pd.read_csv(out)["LSTM"], model.predict(H)["LSTM"], rtol=1e-6)
    backtest = run("backtest", data, "--h", H, "--n-windows", 2, *options)
    assert backtest.exit_code == 0, backtest.output


@pytest.mark.parametrize("window_norm", ["revin", "last"])
def test_window_normalisation_takes_each_covariates_level_out(window_norm: str) -> None:
    """As the target's: a covariate moved up by a constant over the window and the horizon
    gives the same forecast (chosen on validation: benchmarks/RESULTS.md, covariates)."""
    import torch

    from lstmcast.model import LSTMNetwork, NetworkConfig

    torch.manual_seed(0)
    config = NetworkConfig(
        input_size=3, hidden_size=8, horizon=4, window_norm=window_norm, hist_size=1, futr_size=1
    )
    network = LSTMNetwork(config).eval()
    x = torch.randn(2, 12 + 4, 3)
    moved = x.clone()
    moved[..., 1:] += 5.0  # both covariates, window and horizon
    torch.testing.assert_close(network(moved), network(x))
    plain = LSTMNetwork(NetworkConfig(**{**config.to_dict(), "window_norm": None})).eval()
    plain.load_state_dict(network.state_dict())
    assert not torch.allclose(plain(moved), plain(x))


def test_a_refitting_backtest_reads_the_future_known_values(df: pd.DataFrame) -> None:
    """Each copy trains on the past alone (the same whatever follows the origin) and then reads
    the future-known values after it: only those move its forecast."""
    model = lc.LSTMForecaster(futr_cols=["promo"], hist_cols=["sensor"], **{**FAST, "epochs": 2})
    base = model.backtest(df, h=H, n_windows=1, refit=True)
    after = df.groupby("unique_id").cumcount() >= N - H
    for column, moves in (("y", False), ("sensor", False), ("promo", True)):
        changed = df.copy()
        changed.loc[after, column] = changed.loc[after, column] + 5.0
        forecast = model.backtest(changed, h=H, n_windows=1, refit=True)
        assert (not np.allclose(forecast["LSTM"], base["LSTM"])) == moves, column


def test_a_refitting_backtest_with_static_covariates() -> None:
    """Each copy learns the static encoding from the values as given (categories stay
    categories): the same as fitting the past part directly."""
    df = static_frame()
    settings = {**FAST, "epochs": 2, "static_cols": ["region", "size"]}
    refit = lc.LSTMForecaster(**settings).backtest(df, h=H, n_windows=1, refit=True)
    past = df[df.groupby("unique_id").cumcount() < N - H]
    direct = lc.LSTMForecaster(**settings).fit(past)
    assert dict(direct.static_encoder_.categories) == {"region": ("east", "north", "south")}
    np.testing.assert_allclose(refit["LSTM"], direct.predict(H)["LSTM"], rtol=1e-5)


def test_static_values_in_their_own_frame(tmp_path: Path) -> None:
    from tests.test_cli import assert_one_error_line, run

    df = static_frame()
    table = df.groupby("unique_id", as_index=False)[["region", "size"]].first()
    settings = {**FAST, "epochs": 2, "static_cols": ["region", "size"]}
    inline = lc.LSTMForecaster(**settings).fit(df)
    separate = lc.LSTMForecaster(**settings).fit(df[["unique_id", "ds", "y"]], static_df=table)
    pd.testing.assert_frame_equal(separate.predict(H), inline.predict(H))
    targets = df[["unique_id", "ds", "y"]]
    with pytest.raises(lc.DataError, match="static_df has no row for series 's3'"):
        lc.LSTMForecaster(**settings).fit(targets, static_df=table.head(3))
    with pytest.raises(lc.DataError, match="static_df has two rows for series 's0'"):
        lc.LSTMForecaster(**settings).fit(targets, static_df=pd.concat([table, table.head(1)]))
    with pytest.raises(lc.DataError, match="'region' is both a column of df and of static_df"):
        lc.LSTMForecaster(**settings).fit(df, static_df=table)
    # The command line: --static-data.
    data, statics = tmp_path / "d.csv", tmp_path / "static.csv"
    targets.to_csv(data, index=False)
    table.to_csv(statics, index=False)
    options = ["--window", 24, "--horizon", H, "--hidden-size", 8, "--epochs", 1, "--quiet"]
    options += ["--ensemble-size", 1, "--seed", 0, "--static-col", "region", "--static-col", "size"]
    result = run("train", data, "-o", tmp_path / "m", *options, "--static-data", statics)
    assert result.exit_code == 0, result.output
    assert lc.load(tmp_path / "m").static_encoder_.numeric == ("size",)
    missing = run("train", data, "-o", tmp_path / "m2", *options)
    assert_one_error_line(missing, "d.csv (static covariates ['region', 'size']) is missing")


def test_tune_with_covariates(tmp_path: Path) -> None:
    pytest.importorskip("optuna")
    df = promo_frame().merge(
        pd.DataFrame({"unique_id": ["a", "b", "c"], "region": ["n", "s", "n"]}), on="unique_id"
    )
    fixed = {"epochs": 2, "hidden_size": 8, "ensemble_size": 1, "futr_cols": ["promo"]}
    fixed |= {"hist_cols": ["sensor"], "static_cols": ["region"]}
    result = lc.tune(df, H, tmp_path, n_trials=2, settings=fixed, time_budget=None)
    model = lc.load(tmp_path / "model")
    assert model.get_params()["futr_cols"] == ["promo"]
    assert dict(model.static_encoder_.categories) == {"region": ("n", "s")}
    assert np.isfinite(result.score)


def test_calendar_features_and_conformal_intervals_beside_covariates() -> None:
    df = promo_frame()
    df["ds"] = pd.Timestamp("2024-01-01") + pd.to_timedelta(df["ds"], unit="h")
    train = df.groupby("unique_id").head(N - H)
    settings = {**FAST, "epochs": 3, "val_size": 48, "calendar": ("hour",)}
    model = lc.LSTMForecaster(futr_cols=["promo"], hist_cols=["sensor"], **settings).fit(train)
    assert model.network_.config.input_size == 1 + 2 + 2  # target, 2 covariates, sin/cos hour
    forecast = model.predict(H, futr_df=future_of(df), level=[80])
    assert (forecast["LSTM-lo-80"] < forecast["LSTM"]).all()
    assert (forecast["LSTM"] < forecast["LSTM-hi-80"]).all()
    trace = model.explain(series="b")
    assert trace.hidden.shape[1] == 1  # one series traced, over the window's LSTM steps


def test_covariates_need_a_long_or_single_series_layout(df: pd.DataFrame) -> None:
    wide = df.pivot(index="ds", columns="unique_id", values="y").reset_index()
    wide["promo"] = 0.0
    with pytest.raises(lc.ConfigError, match="covariates need a long layout"):
        lc.Panel.from_data(wide.rename(columns={"promo": "p"}), covariate_cols=["p"])


def test_contract_breaches_on_the_command_line(tmp_path: Path, df: pd.DataFrame) -> None:
    """Each breach is one error line naming what is wrong, through the CLI as through the API."""
    from tests.test_cli import assert_one_error_line, run

    data = tmp_path / "d.csv"
    train = df.groupby("unique_id").head(N - H)
    train.to_csv(data, index=False)
    options = ["--window", 24, "--horizon", H, "--hidden-size", 8, "--epochs", 1, "--quiet"]
    options += ["--ensemble-size", 1, "--seed", 0]
    both = ["--futr-col", "promo", "--hist-col", "sensor"]

    def train_with(*extra: object, source: Path = data) -> object:
        return run("train", source, "-o", tmp_path / "m-bad", *options, *extra)

    assert_one_error_line(
        train_with("--futr-col", "promo", "--hist-col", "promo", "--hist-col", "sensor"),
        "covariate 'promo' is declared by both --hist-col and --futr-col",
    )
    assert_one_error_line(
        train_with("--futr-col", "y", *both), "column 'y' is the target; it cannot also be"
    )
    gaps = tmp_path / "gaps.csv"
    train.assign(sensor=train["sensor"].where(train.index != 30)).to_csv(gaps, index=False)
    assert_one_error_line(
        train_with(*both, source=gaps),
        "covariate 'sensor' of series 'a' is missing at 30 in the training data",
        "--covariate-missing",
    )
    varies = tmp_path / "varies.csv"
    train.assign(region=np.where(train.index == 5, "x", "y")).to_csv(varies, index=False)
    assert_one_error_line(
        train_with(*both, "--static-col", "region", source=varies),
        "static covariate 'region' varies within series 'a'",
    )
    assert run("train", data, "-o", tmp_path / "m", *options, *both).exit_code == 0
    future = tmp_path / "future.csv"
    shifted = future_of(df).assign(ds=future_of(df)["ds"] + 1)
    shifted.to_csv(future, index=False)
    forecast = ["forecast", tmp_path / "m", "--h", H, "-o", tmp_path / "f.csv"]
    assert_one_error_line(
        run(*forecast, "--futr-data", future), "futr_df has no row for series 'a' at 228"
    )
    future_of(df).assign(sensor=0.0).to_csv(future, index=False)
    assert_one_error_line(
        run(*forecast, "--futr-data", future), "futr_df holds the past-only column 'sensor'"
    )
    # --static-data on backtest, as on train.
    statics = tmp_path / "static.csv"
    pd.DataFrame({"unique_id": ["a", "b", "c"], "region": ["n", "s", "n"]}).to_csv(statics)
    backtest = run(
        "backtest", data, "--h", H, *options, *both, "--static-col", "region",
        "--static-data", statics,
    )  # fmt: skip
    assert backtest.exit_code == 0, backtest.output
