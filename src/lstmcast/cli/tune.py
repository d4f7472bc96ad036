"""``lstmcast tune``: search the LSTM's settings on the end of DATA, starting from the recipe.

The model step of the data flow (input frame -> windows -> *model*), searched: read DATA, run
:func:`lstmcast.tune` (Optuna; the recipe is trial 0, each trial scored by its MASE on the last
--n-windows x --horizon points of each series), print a line per trial and a table of the recipe
beside the best, and write the best model (retrained on all of DATA), trials.csv and trials.png
into the output folder. Running it again on the same folder resumes the study.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from lstmcast.cli.console import (
    EXIT_INTERRUPTED,
    sigterm_as_interrupt,
    stdout,
    training_progress,
)
from lstmcast.cli.model_options import ModelSettings, model_options, parse_duration
from lstmcast.cli.options import Data, Quiet, Reading, reading_options
from lstmcast.cli.reading import as_in_file, read_data
from lstmcast.cli.tracking import Tracking, run_loggers, tracking_options

if TYPE_CHECKING:
    from rich.table import Table

    from lstmcast.tracking import RunLogger
    from lstmcast.tuning import TuneResult

_OUTPUT_HELP = (
    "Folder to write: study.db (run again to resume), trials.csv, trials.png and the best model "
    "in model/."
)
# Model options that are tune's own arguments here (declared below), not settings to fix.
OWN_OPTIONS = ("horizon", "time_budget", "random_state")


@model_options
@reading_options
@tracking_options
def tune(
    *,
    data: Data,
    horizon: Annotated[
        int,
        typer.Option(
            "--horizon",
            help="Steps ahead to forecast: each trial is scored on forecasts of this many steps, "
            "which the network emits at once.",
            show_default=False,
        ),
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help=_OUTPUT_HELP)],
    time_budget: Annotated[
        str,
        typer.Option(
            "--time-budget",
            help="Time for the whole tuning, the final training included: seconds (900) or a "
            "duration (90s, 15m, 1h30m); each trial's training gets a share of what is left.",
        ),
    ] = "15m",
    n_trials: Annotated[
        int | None,
        typer.Option(
            "--n-trials",
            help="Trials in the study at most, those of earlier runs in --output included. "
            "Default: as many as --time-budget allows.",
        ),
    ] = None,
    n_windows: Annotated[
        int,
        typer.Option(
            "--n-windows",
            help="Forecast origins, --horizon apart, at the end of each series that score each "
            "trial (every point from the first origin on is held out of its training).",
        ),
    ] = 2,
    seed: Annotated[
        int,
        typer.Option("--seed", help="Seed of the search and of every network trained."),
    ] = 0,
    reading: Reading,
    settings: ModelSettings,
    tracking: Tracking,
    quiet: Quiet = False,
) -> None:
    """Search the LSTM's settings for DATA on validation, starting from the recipe.

    Trial 0 is the recipe that `lstmcast train` chooses; Optuna then searches the window, hidden
    size, layers, segment, learning rate, window normalisation, loss and dropout. Each trial
    trains on every series but its last --n-windows x --horizon points and is scored by its MASE
    on them (never on data after DATA); bad trials are pruned. Model options given (--epochs 5,
    say) are fixed for every trial, not searched. The best settings are trained on all of DATA
    and saved as OUTPUT/model (`lstmcast forecast OUTPUT/model`). Run the same command again to
    resume the study in OUTPUT (a larger --n-trials adds trials). With --tensorboard DIR or
    --mlflow, the final training is logged there, with each trial's validation MASE by trial.
    """
    from lstmcast.files import check_output
    from lstmcast.tuning import MODEL_DIR, PLOT_FILE, TRIALS_FILE, require_optuna
    from lstmcast.tuning import tune as run_tune
    from lstmcast.tuning_study import STUDY_FILE

    require_optuna()
    seconds = parse_duration(time_budget)
    fixed = _fixed_settings(settings)
    check_output(output, [("the data", data)], directory=True)
    check_output(output / MODEL_DIR, [("the data", data)], directory=True, replaced=True)
    df, names = as_in_file(
        read_data(data, reading, quiet, settings.covariate_cols(), settings.static_cols()), reading
    )

    def on_trial(trial: Any) -> None:
        typer.echo(trial.line(), err=True)

    logged = run_loggers(
        tracking,
        f"tune {data.name}",
        inputs=[("the data", data)],
        replaced=[("the model directory", output / MODEL_DIR)],
    )
    try:
        with logged as loggers, training_progress(quiet) as bar, sigterm_as_interrupt():
            result = run_tune(
                df,
                horizon,
                output,
                time_budget=seconds,
                n_trials=n_trials,
                n_windows=n_windows,
                seed=seed,
                settings=fixed,
                on_trial=None if quiet else on_trial,
                callbacks=[*bar, *loggers],
                **names,
            )
            _log_trials(loggers, result)
    except KeyboardInterrupt:
        typer.echo(
            f"interrupted; {output / STUDY_FILE} keeps the finished trials: run the same command "
            "again to continue",
            err=True,
        )
        raise typer.Exit(EXIT_INTERRUPTED) from None
    if reading.layout is not None:  # kept with the model, as train keeps it
        result.model.layout_ = reading.layout
        result.model.save(output / MODEL_DIR)
    console = stdout()
    console.print(_summary_table(result, n_windows, horizon))
    lines = [
        f"model         {output / MODEL_DIR}   (lstmcast forecast {output / MODEL_DIR})",
        f"trials        {output / TRIALS_FILE}",
        f"plot          {output / PLOT_FILE}",
    ]
    console.print("\n".join(lines), markup=False)


def _log_trials(loggers: list[RunLogger], result: TuneResult) -> None:
    """Each finished trial's validation MASE by trial number, and the recipe's and the best."""
    scored = result.trials.dropna(subset=["MASE"])
    for logger in loggers:
        for trial, mase in zip(scored["trial"], scored["MASE"], strict=True):
            logger.log_metrics({"tune/mase": mase}, step=int(trial))
        final = {"tune/best_mase": result.score, "tune/trials": len(result.trials)}
        if result.recipe_score is not None:
            final["tune/recipe_mase"] = result.recipe_score
        logger.log_metrics(final)
        logger.log_notes({"tune/best_trial": str(result.best.number)})


def _fixed_settings(settings: ModelSettings) -> dict[str, Any]:
    """The model options given, as settings fixed for every trial (tune's own options and the
    recipe's "auto" aside); --recipe tutorial is refused: tuning starts from the recipe."""
    import lstmcast as lc

    keywords = settings.keywords()
    if keywords.get("recipe", "auto") != "auto":
        raise lc.ConfigError(
            "tune starts from the automatic recipe (trial 0) and searches around it; --recipe "
            f"{keywords['recipe']} is not taken: give the settings to fix as flags instead"
        )
    return {
        name: value
        for name, value in keywords.items()
        if name not in OWN_OPTIONS and name != "recipe"
    }


def _summary_table(result: TuneResult, n_windows: int, horizon: int) -> Table:
    """The recipe's trial beside the best: validation MASE, then each setting searched."""
    from rich.table import Table

    trials = result.trials
    counts = trials["state"].value_counts()
    states = ", ".join(f"{counts[state]} {state}" for state in counts.index)
    recipe, best = result.recipe, result.best
    caption = None
    if recipe is not None and best.number == recipe.number:
        caption = "no trial beat the recipe on validation: the model has the recipe's settings"
    table = Table(
        title=f"Tuning: {len(trials)} trials ({states}); validation MASE on the last "
        f"{n_windows} x {horizon} points of each series",
        caption=caption,
    )
    table.add_column("")
    columns = [("recipe", recipe)] if recipe is not None else []
    if recipe is None or best.number != recipe.number:
        columns.append(("best", best))
    for name, trial in columns:
        table.add_column(f"{name} (trial {trial.number})", justify="right")
    table.add_row("MASE", *(f"{trial.mase:.4f}" for _, trial in columns))
    for setting in best.settings:
        table.add_row(setting, *(_shown(trial.settings.get(setting)) for _, trial in columns))
    return table


def _shown(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)
