"""``lstmcast train``: fit an LSTM on DATA and save it to a model directory.

The data flow up to the model (input frame -> windows -> *model*), on the command line: read
DATA, build the estimator from the model options, fit it with checkpoints in the model
directory (under torchrun, every rank on its share) and print a summary.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

import lstmcast as lc
from lstmcast.cli.console import (
    EXIT_INTERRUPTED,
    sigterm_as_interrupt,
    stdout,
    stopped_by_budget,
    training_progress,
)
from lstmcast.cli.model_options import ModelSettings, model_options
from lstmcast.cli.options import Quiet, Reading, StaticData, reading_options
from lstmcast.cli.reading import as_in_file, read_training_data
from lstmcast.cli.tracking import Tracking, run_loggers, tracking_options

if TYPE_CHECKING:
    pass

# After a model worse than seasonal naive on its validation tail: what to try.
LOSES_TO_SEASONAL_NAIVE = (
    "the model forecasts its validation tail worse than seasonal naive (repeating the last "
    "season); try more data or a longer --window, check --season-length, or search the "
    "settings with `lstmcast tune`"
)


@model_options
@reading_options
@tracking_options
def train(
    *,
    data: Annotated[
        Path,
        typer.Argument(
            metavar="DATA",
            help="Training data: a CSV or Parquet file, or a directory of them.",
            show_default=False,
        ),
    ],
    output: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            help="Model directory to write (replaces an lstmcast model there; a directory "
            "holding other files is refused).",
        ),
    ],
    reading: Reading,
    settings: ModelSettings,
    tracking: Tracking,
    static_data: StaticData = None,
    from_model: Annotated[
        Path | None,
        typer.Option(
            "--from",
            help="Continue training this saved model on DATA (new points of its series, new "
            "series) from its weights and optimizer state, instead of a new model; only "
            "training options (--epochs, --lr, --val-size, ...) may be given. The model there "
            "is not changed unless it is --output.",
            show_default=False,
        ),
    ] = None,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume",
            help="Continue the interrupted training saved in --output (same data and settings).",
        ),
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Print the settings the recipe chooses for DATA, and why, then stop.",
        ),
    ] = False,
    quiet: Quiet = False,
) -> None:
    """Train an LSTM on every series of DATA and save it to a model directory.

    DATA is a CSV or Parquet file, or a directory of them (each file holding whole series). The
    best model so far is saved in the model directory after every epoch, with what `--resume`
    needs to continue. Ctrl-C or SIGTERM stops training; the last checkpoint stays on disk (exit
    code 130). Under `torchrun --nproc-per-node N` the processes train one model together, each
    on its share of the windows (of a directory: its share of the files); see docs/scaling.md.
    With --tensorboard DIR or --mlflow the run is logged there too (rank 0 only).
    """
    from lstmcast import distributed
    from lstmcast.files import check_output
    from lstmcast.torchrun import process_group

    check_output(output, [("the data", data)], directory=True, replaced=True)
    if from_model is not None:
        if tracking.tensorboard is not None or tracking.to_mlflow:
            raise lc.ConfigError(
                "an update (--from) is not tracked: --tensorboard and --mlflow log a training "
                "from scratch; leave them out"
            )
        _update(from_model, data, output, reading, settings, static_data, quiet, resume, dry_run)
        return
    logged = run_loggers(
        tracking,
        f"train {data.name}",
        inputs=[("the data", data), ("--static-data", static_data)],
        replaced=[("the model directory", output)],
    )
    with logged as loggers, process_group(settings["device"], planned_exits=(typer.Exit,)):
        df = read_training_data(data, reading, quiet, settings, static_data)
        model = settings.estimator()
        # Kept with the model, as its column names below: forecast and inspect read new data
        # as the training data was read without being told again.
        model.layout_ = reading.layout
        df, names = as_in_file(df, reading)  # the model keeps the file's column names
        # One progress bar and one summary, from rank 0.
        rank = distributed.rank()
        if dry_run:
            settings_used = model.plan(df, **names)
            if rank == 0:
                _print_plan(model.recipe_, settings_used, typer.echo)
            return
        # fit chooses the settings: they are said when its training begins (not planned twice).
        announce = [] if quiet or rank != 0 else [_RecipeNote(model)]
        with training_progress(quiet or rank != 0) as callbacks, sigterm_as_interrupt():
            callbacks = [*announce, *callbacks, *loggers]
            model.fit(df, callbacks=callbacks, checkpoint=output, resume=resume, **names)
        n_series = model.n_series_
        if getattr(model, "sharded_", False):
            n_series = int(distributed.sum_across([float(n_series)])[0])
        if rank != 0:
            if model.histories_[-1].interrupted:
                raise typer.Exit(EXIT_INTERRUPTED)
            return

    history = model.history_
    n_train, n_val = history.train_windows, history.val_windows
    val_note = f", {n_val} validation" if model.val_size is not None else ""
    fills = model.fills_.lines() if model.fills_ is not None else []
    lines = [
        f"series        {n_series}",
        *(f"missing       {line}" for line in fills),  # every fill is said, never silent
        f"windows       {n_train} training{val_note}",
        f"epochs run    {len(history.train_loss)} of {model.epochs}"
        + (" (stopped early)" if history.stopped_early else ""),
        f"best epoch    {history.best_epoch if history.best_epoch is not None else '-'}",
        f"train loss    {history.train_loss[-1]:.4f}" if history.train_loss else "train loss    -",
    ]
    if history.val_loss:
        lines.append(f"val loss      {history.val_loss[-1]:.4f}")
    budget_line = stopped_by_budget(model.histories_, model.epochs, model.time_budget)
    lines += [budget_line] if budget_line else []
    fewer = [reason for reason in model.recipe_ if reason.startswith("ensemble:")]
    if len(model.networks_) > 1 or fewer:
        count = len(model.networks_)
        combined = f" (forecast: their {model.ensemble_combine})" if count > 1 else ""
        lines.append(f"networks      {count}{combined}" + "".join(f"; {r}" for r in fewer))
    lines += [f"seconds       {history.seconds:.1f}", f"seed          {model.seed_}"]
    if not history.interrupted:
        lines.append(f"saved to      {output}")
    diagnostics = None if history.interrupted else model.diagnostics_
    if diagnostics is not None:  # the sanity alarms on the validation tail, one line
        lines.append(diagnostics.summary())
    stdout().print("\n".join(lines), markup=False, soft_wrap=True)
    if diagnostics is not None and diagnostics.loses_to_seasonal_naive:
        typer.echo(f"warning: {LOSES_TO_SEASONAL_NAIVE}", err=True)
    if not history.interrupted and model.calibration_caveat_:
        typer.echo(f"warning: {model.calibration_caveat_}", err=True)

    if history.interrupted:
        _say_where_to_resume(output)
        raise typer.Exit(EXIT_INTERRUPTED)


def _update(
    from_model: Path,
    data: Path,
    output: Path,
    reading: Reading,
    settings: ModelSettings,
    static_data: Path | None,
    quiet: bool,
    resume: bool,
    dry_run: bool,
) -> None:
    """``train DATA --from MODEL``: update MODEL on DATA and save it to ``output`` (only once
    the update has finished: an interrupted or failed update writes nothing)."""
    from lstmcast import distributed
    from lstmcast.cli.reading import read_columns, read_for_model
    from lstmcast.updating import check_changes

    for flag, given in (("--resume", resume), ("--dry-run", dry_run)):
        if given:
            raise lc.ConfigError(f"--from updates a finished model; {flag} does not apply")
    if distributed.launched_by_torchrun():
        raise lc.ConfigError("--from runs in one process: run it without torchrun")
    model = lc.load(from_model)
    changes = settings.changed()
    seed = changes.pop("random_state", None)
    changes = check_changes(model.get_params(), changes)
    df = read_for_model(model, data, reading, static_data)
    with training_progress(quiet) as callbacks, sigterm_as_interrupt():
        try:
            model.update(df, **changes, random_state=seed, callbacks=callbacks, **read_columns())
        except KeyboardInterrupt:
            typer.echo(f"interrupted; nothing was saved ({from_model} is unchanged)", err=True)
            raise typer.Exit(EXIT_INTERRUPTED) from None
    model.save(output)
    step = model.chain_[-1]
    history = model.history_
    best = history.best_epoch
    epochs = step["training"]["epochs"]
    lines = [
        f"updated       {from_model} on {step['data']['series']} series, "
        f"{step['data']['points']} points to {step['data']['last']} (update "
        f"{len(model.chain_) - 1} of its chain)",
    ]
    if epochs == 0:  # a refresh: the histories are the training's before it
        lines.append("epochs run    0 (a refresh: weights kept, intervals recalibrated)")
    else:
        lines += [
            f"windows       {history.train_windows} training, {history.val_windows} validation",
            f"epochs run    {len(history.train_loss)} of {epochs}",
            "best epoch    "
            + (
                "-"
                if best is None
                else f"{best}"
                if best
                else "0 (none beat the weights it began with)"
            ),
            f"seconds       {sum(h.seconds for h in model.histories_):.1f}",
        ]
    lines += [
        f"seed          {model.seed_}",
        f"saved to      {output}",
    ]
    if model.diagnostics_ is not None:
        lines.append(model.diagnostics_.summary())
    stdout().print("\n".join(lines), markup=False, soft_wrap=True)
    if model.diagnostics_ is not None and model.diagnostics_.loses_to_seasonal_naive:
        typer.echo(f"warning: {LOSES_TO_SEASONAL_NAIVE}", err=True)
    if model.calibration_caveat_:
        typer.echo(f"warning: {model.calibration_caveat_}", err=True)


def _print_plan(
    reasons: list[str], settings: dict[str, Any] | None, say: Callable[[str], Any]
) -> None:
    """The recipe's choices, one line each, and with ``settings`` every setting as used."""
    for reason in reasons:
        say(f"recipe: {reason}")
    if settings is not None:
        shown = {name: value for name, value in settings.items() if name != "device"}
        say("settings: " + ", ".join(f"{name}={value!r}" for name, value in shown.items()))


class _RecipeNote:
    """A training callback (duck-typed: no torch at import) that prints the model's recipe on
    stderr once, when training begins: fit has chosen the settings by then."""

    def __init__(self, model: Any) -> None:
        self.model, self.said = model, False

    def on_train_begin(self, epochs: int, batches_per_epoch: int) -> None:
        if not self.said and self.model.recipe_:
            _print_plan(self.model.recipe_, None, lambda line: typer.echo(line, err=True))
        self.said = True


def _say_where_to_resume(output: Path) -> None:
    """The line on stderr after Ctrl-C: which checkpoint is on disk, and how to continue."""
    from lstmcast.checkpoint import read_training_state

    saved = read_training_state(output) if (output / "config.json").is_file() else None
    if saved is None:
        note = "interrupted before the first epoch ended; nothing was saved"
    else:
        note = (
            f"interrupted; {output} holds the checkpoint after epoch {saved.state.epoch} "
            f"(best epoch {saved.state.history.best_epoch}); continue with --resume"
        )
    typer.echo(note, err=True)
