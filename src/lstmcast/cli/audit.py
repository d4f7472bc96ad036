"""``lstmcast audit``: look for covariates that leak the target into a saved model's inputs.

Runs :func:`lstmcast.audit.leakage` on DATA with the covariates the model declares (future-known
and past-only), and prints what it finds with its evidence: the lag and the correlation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

import lstmcast as lc
from lstmcast.cli.console import stdout
from lstmcast.cli.options import ModelDir, Reading, model_reading_options
from lstmcast.cli.reading import read_for_model

# Exit code when a covariate looks like leakage and --strict is given.
EXIT_LEAKAGE = 3


@model_reading_options
def audit(
    *,
    model_dir: ModelDir,
    data: Annotated[
        Path,
        typer.Option(
            "--data",
            help="The data to check: CSV or Parquet file(s) in the model's layout, with its "
            "covariate columns (the training data, or new data before forecasting).",
        ),
    ],
    strict: Annotated[
        bool,
        typer.Option(
            "--strict", help=f"Exit with code {EXIT_LEAKAGE} when a covariate looks like leakage."
        ),
    ] = False,
    reading: Reading,
) -> None:
    """Check a covariate model's data for leakage: covariates that hold the target's future.

    A past-only column that equals the target one or more steps ahead, or a future-known one
    that equals the target at the same step or later (or predicts its changes far better than
    the target's own past does), is listed with its lag and correlation; see docs/covariates.md.
    """
    from lstmcast.audit import leakage, max_lag_for
    from lstmcast.covariates import spec_of
    from lstmcast.errors import ConfigError

    model = lc.load(model_dir)
    covariates = spec_of(model.get_params())
    if not covariates.dynamic:
        raise ConfigError(
            f"{model_dir} reads no time-varying covariates (--futr-col, --hist-col): nothing to "
            "audit"
        )
    df = read_for_model(model, data, reading)
    shortest = int(df.groupby("unique_id", sort=False).size().min())
    max_lag = max_lag_for(model.season_length, shortest)
    report = leakage(df, covariates.futr, covariates.hist, max_lag=max_lag)
    console = stdout()
    console.print(report.summary(), markup=False, soft_wrap=True)
    for evidence in report.findings["evidence"]:
        console.print(f"  {evidence}", markup=False, soft_wrap=True)
    if strict and not report.ok:
        raise typer.Exit(EXIT_LEAKAGE)
