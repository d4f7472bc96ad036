"""``lstmcast backtest``: score the LSTM against Naive and SeasonalNaive on the end of DATA.

The whole data flow on held-out data (input frame -> windows -> model -> forecast ->
*metrics*): train on the data before the first forecast origin, forecast from each origin with
every model, and print the metrics table (optionally write every forecast).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

import lstmcast as lc
from lstmcast.cli.console import metrics_table, stdout, training_progress
from lstmcast.cli.model_options import ModelSettings, model_options
from lstmcast.cli.options import Data, Level, Quiet, Reading, StaticData, reading_options
from lstmcast.cli.reading import read_training_data
from lstmcast.cli.tracking import Tracking, run_loggers, tracking_options

if TYPE_CHECKING:
    import pandas as pd


@model_options
@reading_options
@tracking_options
def backtest(
    *,
    data: Data,
    h: Annotated[int, typer.Option("--h", help="Steps ahead forecast from each origin.")],
    n_windows: Annotated[
        int, typer.Option("--n-windows", help="Forecast origins at the end of each series.")
    ] = 1,
    step_size: Annotated[
        int | None,
        typer.Option("--step-size", help="Steps between origins. Default: --h."),
    ] = None,
    # Declared here, not taken from the model table: it also sets the baseline and MASE.
    season_length: Annotated[
        int | None,
        typer.Option(
            "--season-length",
            help="Season of the SeasonalNaive baseline, of the MASE scale and of the LSTM's "
            "interval calibration (1: none). Default: chosen from the data.",
        ),
    ] = None,
    refit: Annotated[
        bool,
        typer.Option(
            "--refit",
            help="Train a fresh LSTM on the past of every origin (slower; no progress bar). "
            "Default: one LSTM trained before the first origin.",
        ),
    ] = False,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Also write every forecast beside the actual value, CSV or Parquet by suffix "
            "(.csv, .parquet).",
        ),
    ] = None,
    reading: Reading,
    settings: ModelSettings,
    tracking: Tracking,
    static_data: StaticData = None,
    level: Level = None,
    quiet: Quiet = False,
) -> None:
    """Score the LSTM against Naive and SeasonalNaive on the end of each series of DATA.

    The LSTM is trained on the data before the first forecast origin; then every model forecasts
    --h steps from --n-windows origins --step-size apart, and MAE, RMSE, sMAPE and MASE are
    printed (per series over all origins, then averaged over series). With --tensorboard DIR or
    --mlflow, the LSTM's training and the metrics table are logged there.
    """
    from lstmcast.checks import check_backtest, check_backtest_size
    from lstmcast.diagnostics import diagnose
    from lstmcast.errors import count
    from lstmcast.files import check_output, frame_format, write_frame

    if output is not None:
        check_output(output, [("the data", data)], example="backtest.csv")
        frame_format(output, what="--output")
    h, n_windows, step = check_backtest(h, n_windows, step_size)
    inputs = [("the data", data), ("--static-data", static_data), ("--output", output)]
    # The run is closed when the command ends (marked failed if it fails).
    with run_loggers(tracking, f"backtest {data.name}", inputs) as loggers:
        df = read_training_data(data, reading, quiet, settings, static_data)
        # Before any training: keys, three models and the bounds, per forecast point.
        levels = {float(value) for value in level or []}
        check_backtest_size(df["unique_id"].nunique(), n_windows, h, 7 + 2 * len(levels))
        # Only data before the first origin is seen in training (and scales MASE).
        span = h + step * (n_windows - 1)
        # The forecasts asked for are h steps: the network emits them at once unless told otherwise.
        horizon = settings["horizon"]
        if horizon is None and settings["recipe"] != "tutorial":  # the tutorial's is 1 step
            horizon = h
        if settings["window"] is not None:  # else the recipe fits the window to the data
            _check_long_enough(df, span, h, n_windows, step, settings["window"], horizon or 1)
        static = list(settings.static_cols())
        train_part, _ = lc.split(
            df.drop(columns=static), test_size=span, covariate_cols=settings.covariate_cols()
        )
        if static:  # one value per series: the same before and after the split
            values = df.groupby("unique_id", sort=False)[static].first()
            train_part = train_part.merge(values, left_on="unique_id", right_index=True)
        # The baselines, the metrics' scales and the alarms read the target alone.
        target_only = ["unique_id", "ds", "y"]
        lstm = settings.estimator()
        if horizon is not None:
            lstm.set_params(horizon=horizon)
        if not refit:  # with --refit, backtest trains its own copies
            with training_progress(quiet) as callbacks:
                lstm.fit(train_part, callbacks=[*callbacks, *loggers])
        else:
            lstm.plan(train_part)
            for logger in loggers:
                logger.log_settings(lstm)
        # The baseline and MASE use the season the model uses: given, or chosen from the data.
        season_length = lstm.settings_["season_length"]
        baselines = [lc.Naive(), lc.SeasonalNaive(season_length)]
        models = [lstm, *(baseline.fit(train_part[target_only]) for baseline in baselines)]
        frames = [
            model.backtest(
                df if model is lstm else df[target_only],
                h=h,
                n_windows=n_windows,
                step_size=step,
                refit=refit,
                level=level if model is lstm else None,  # the baselines have no intervals
            )
            for model in models
        ]
        # Same origins and targets for every model: one row per forecast, one column per model.
        keys = ["unique_id", "ds", "cutoff", "y"]
        merged = functools.reduce(lambda a, b: a.merge(b, on=keys, validate="1:1"), frames)
        metrics = lc.evaluate(merged, train=train_part[target_only], season_length=season_length)
        console = stdout()
        origins = f"{n_windows} origin" + ("" if n_windows == 1 else "s")
        console.print(metrics_table(metrics, f"Backtest: {origins}, h={h}, step {step}"))
        # The sanity alarms on the same windows (see lstmcast.diagnostics), one line.
        alarms = diagnose(
            df[target_only], merged, lstm.alias, season_length=season_length,
            train=train_part[target_only],
        )  # fmt: skip
        console.print(alarms.summary("backtest"), markup=False, soft_wrap=True)
        for logger in loggers:
            logger.log_backtest(metrics, alarms.summary("backtest"))
        if output is not None:
            write_frame(merged, output)
            console.print(f"wrote {count(len(merged), 'row')} to {output}", markup=False)


def _check_long_enough(
    df: pd.DataFrame, span: int, h: int, n_windows: int, step: int, window: int, horizon: int
) -> None:
    """Refuse a series too short to train on before the first origin, saying what fits."""
    from lstmcast.errors import DataError, points

    lengths = df.groupby("unique_id", sort=False).size()
    needed = window + horizon  # the fewest points one training window takes
    if (lengths - span < needed).any():
        shortest = lengths.idxmin()
        length = int(lengths.min())
        fits = (length - needed - h) // step + 1
        advice = f"use --n-windows {fits} or less" if fits >= 1 else "use a smaller --h"
        raise DataError(
            f"series {shortest!r} has {points(length)}, and a backtest of --n-windows "
            f"{n_windows} of --h {h}, --step-size {step} holds out its last {span}, leaving "
            f"{max(length - span, 0)} before the first origin, where --window {window} + "
            f"--horizon {horizon} need at least {needed} to train on; {advice}"
        )
