"""What the command line shows: stdout and stderr, tables, progress bars, errors and warnings.

The last step of the data flow (input frame -> windows -> model -> forecast -> *metrics/plots*)
as a terminal sees it. Results go to stdout (parseable); progress bars, warnings, notes on how
DATA was read and errors go to stderr. Errors the library raises on purpose
(:class:`~lstmcast.errors.LstmcastError`) and missing files become one line ``error: <message>``
and exit code 1, handled once in :class:`Group`.

rich is imported inside the functions, so ``--help`` stays fast.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import math
import time
from collections.abc import Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from typer.core import TyperGroup

import lstmcast as lc
from lstmcast.errors import LstmcastError, command_line

if TYPE_CHECKING:
    import click
    import pandas as pd
    from rich.console import Console
    from rich.table import Table

# Exit code of a process stopped by Ctrl-C (128 + SIGINT), as shells report it.
EXIT_INTERRUPTED = 130
# Forecast steps per series the demo prints; the CSV / plot has all of them.
_SHOWN_STEPS = 5
# Series whose forecast the demo prints.
_SHOWN_SERIES = 3
# Metrics where lower is better: the best model per column is highlighted.
_LOWER_IS_BETTER = ("MAE", "RMSE", "sMAPE", "MASE", "MSIS")

# Lines printed on stderr when the command succeeds (how DATA was read), one list per command.
_NOTES: ContextVar[list[str]] = ContextVar("lstmcast_read_notes")


class Group(TyperGroup):
    """The app's command group: turns expected errors into one line on stderr and exit code 1,
    and warnings into one line ``warning: <message>`` each.

    Catching here (not in ``main``) means ``CliRunner`` tests see the same behaviour as the
    installed ``lstmcast`` script.
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            notes: list[str] = []
            token = _NOTES.set(notes)
            try:
                # Messages name --time-col, not time_col=; warnings are one line each.
                with command_line(), _warnings_as_lines():
                    result = super().invoke(ctx)
            finally:
                _NOTES.reset(token)
            for note in notes:
                typer.echo(note, err=True)
            return result
        except LstmcastError as error:
            fail(str(error))
        except OSError as error:
            if error.errno == errno.EPIPE:  # `lstmcast ... | head`: typer handles a closed pipe
                raise
            # A missing or unreadable file the library did not check itself (e.g. a forecast CSV).
            where = f"{str(error.filename)!r}: " if error.filename is not None else ""
            fail(f"{where}{error.strerror or error}")


@contextlib.contextmanager
def _warnings_as_lines() -> Iterator[None]:
    """Show every lstmcast warning (each time, not once per place) as one line on stderr."""
    import warnings

    def show(message: Warning | str, *args: Any, **kwargs: Any) -> None:
        typer.echo(f"warning: {' '.join(str(message).split())}", err=True)

    with warnings.catch_warnings():
        warnings.simplefilter("always", lc.DataWarning)
        warnings.showwarning = show
        yield


def fail(message: str) -> NoReturn:
    """Exit with code 1 after one line ``error: <message>`` on stderr."""
    # One line, whatever the message holds, so scripts can `grep ^error:` and show it as is.
    typer.echo(f"error: {' '.join(message.split())}", err=True)
    raise typer.Exit(1)


def note_on_success(lines: list[str]) -> None:
    """Print ``lines`` on stderr once the command succeeds (at once outside a command)."""
    notes = _NOTES.get(None)
    if notes is None:  # called outside a command (a benchmark): say it now
        for line in lines:
            typer.echo(line, err=True)
    else:
        notes.extend(lines)


def stdout() -> Console:
    from rich.console import Console

    # Created per call so it writes to the current sys.stdout (CliRunner swaps it).
    return Console(highlight=False)


def stderr() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def metrics_table(metrics: pd.DataFrame, title: str) -> Table:
    """Models as rows, 4 decimals, the best (lowest) value of each error column in bold green."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, caption="bold: best in its column")
    table.add_column("model")
    for column in metrics.columns:
        table.add_column(str(column), justify="right")
    best = {
        column: metrics[column].min()
        for column in metrics.columns
        if str(column).startswith(_LOWER_IS_BETTER)
    }
    for name, row in metrics.iterrows():
        cells = [Text(str(name))]
        for column in metrics.columns:
            value = float(row[column])
            if math.isnan(value):
                cells.append(Text("-", style="dim"))
                continue
            style = "bold green" if column in best and value == best[column] else ""
            cells.append(Text(f"{value:.4f}", style=style))
        table.add_row(*cells)
    return table


def forecast_table(forecast: pd.DataFrame, title: str) -> Table:
    """The first few steps of the first few series of a long forecast frame."""
    from rich.table import Table

    table = Table(title=title)
    for column in forecast.columns:
        table.add_column(str(column), justify="left" if column in ("unique_id", "ds") else "right")
    ids = forecast["unique_id"].unique()[:_SHOWN_SERIES]
    shown = (
        forecast[forecast["unique_id"].isin(ids)]
        .groupby("unique_id", sort=False)
        .head(_SHOWN_STEPS)
    )
    for row in shown.itertuples(index=False):
        table.add_row(*(_cell(value) for value in row))
    return table


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    text = str(value)
    # A daily timestamp reads better without its midnight time.
    return text.removesuffix(" 00:00:00")


# --------------------------------------------------------------------------------------------
# Training progress

# The progress bar's clock in seconds (tests replace it to fake the passing of time).
clock = time.monotonic


def epochs_that_fit(epochs: int, epoch_seconds: float, budget: float | None) -> int:
    """Of ``epochs`` still to run, how many the training loop will run within ``budget`` seconds
    (None: no limit): it goes on while another epoch as long as the longest so far fits, and
    always runs one."""
    if budget is None or epoch_seconds <= 0:
        return epochs
    return min(epochs, max(1, math.floor(budget / epoch_seconds)))


def training_eta(
    elapsed: float,
    done: int,
    per_epoch: int,
    epochs: int,
    budget: float | None,
    later_members: int = 0,
    member_epochs: int | None = None,
    as_budget_allows: bool = False,
) -> tuple[float, int]:
    """Seconds until the fit ends, and the epochs this training will run, from the time per
    batch measured so far.

    ``elapsed`` seconds went into ``done`` batches of this training, of ``per_epoch`` per epoch
    and ``epochs`` to run; ``budget``: the seconds it had at its start (None: no limit);
    ``later_members``: ensemble members still to train after it, each ``member_epochs`` long
    (default ``epochs``) with an equal share of the budget left (``fitting.member_budget``), or
    with ``as_budget_allows`` (the budget was all of what was left) each only if one as long as
    this member fits what is left (``fitting.another_fits``).
    """
    per_batch = elapsed / max(done, 1)
    epoch_seconds = per_batch * per_epoch
    runs = epochs_that_fit(epochs, epoch_seconds, budget)
    left = max(runs * per_epoch - done, 0) * per_batch
    later_epochs = epochs if member_epochs is None else member_epochs
    if later_members and as_budget_allows and budget is not None:
        if runs < epochs:
            return left, runs  # a member cut by the budget is the last
        member_seconds = later_epochs * epoch_seconds
        room = budget - elapsed - left
        fitting = min(later_members, math.floor(room / member_seconds)) if member_seconds else 0
        return left + max(fitting, 0) * member_seconds, runs
    if later_members:
        share = None
        if budget is not None:
            # This member's share was the fit's budget left over the members left.
            share = max(budget * (later_members + 1) - elapsed - left, 0.0) / later_members
        left += later_members * epochs_that_fit(later_epochs, epoch_seconds, share) * epoch_seconds
    return left, runs


def clock_time(seconds: float) -> str:
    """``0:04:12``: seconds as hours, minutes and seconds."""
    whole = round(seconds)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def duration_text(seconds: float) -> str:
    """A duration as a person says it: ``45 s``, ``5 min``, ``2.5 min``, ``1 h 30 min``."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60, 1)
    if minutes < 120:
        return f"{minutes:g} min"
    hours, minutes = divmod(round(seconds / 60), 60)
    return f"{hours} h" + (f" {minutes} min" if minutes else "")


def stopped_by_budget(histories: list[lc.History], epochs: int, budget: float | None) -> str | None:
    """The summary line when the time budget stopped training (None when it did not): after
    which epoch, of how many, and the budget (when known)."""
    stopped = [len(history.train_loss) for history in histories if history.stopped == "budget"]
    if not stopped:
        return None
    which = "epoch" if len(stopped) == 1 else "epochs"
    notes = [duration_text(budget)] if budget is not None else []
    if len(histories) > 1:
        notes.append(f"{len(stopped)} of {len(histories)} networks")
    return (
        f"stopped by the time budget after {which} {', '.join(map(str, stopped))} of {epochs}"
        + (f" ({', '.join(notes)})" if notes else "")
    )


@functools.cache
def progress_class() -> type[lc.Callback]:
    """The progress bar callback class, built on first use.

    Defined in a function so that importing this module does not touch ``lc.Callback`` (which
    lives next to torch) and rich's progress machinery.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    class ProgressBar(lc.Callback):
        """A rich progress bar on stderr: epoch k/N, batches, train and validation loss, time
        taken and the time left (measured per batch, over the epochs that will run: all of
        them, or those the time budget allows, and the ensemble members still to train)."""

        def __init__(self) -> None:
            self.progress = Progress(
                TextColumn("{task.fields[member]}epoch {task.fields[epoch]}/{task.fields[epochs]}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[losses]}"),
                # Not rich's elapsed column: it freezes once the first epoch's bar is full.
                TextColumn("{task.fields[time]}"),
                console=stderr(),
            )
            self.task: Any = None
            self.val = "-"
            self.loss_sum = 0.0
            self.member, self.members = 0, 1
            self.as_budget_allows = False  # members: at most, as many as fit the budget
            self.budget: float | None = None  # seconds the current training may take
            self.epochs = self.per_epoch = self.done = self.first_epoch = 0
            self.began = 0.0

        def on_ensemble_begin(self, members: int, as_budget_allows: bool) -> None:
            self.as_budget_allows = as_budget_allows

        def on_member_begin(self, member: int, members: int) -> None:
            self.member, self.members = member, members

        def on_time_budget(self, seconds: float) -> None:
            self.budget = seconds

        def on_train_begin(self, epochs: int, batches_per_epoch: int) -> None:
            self.epochs, self.per_epoch, self.done = epochs, batches_per_epoch, 0
            most = "up to " if self.as_budget_allows else ""
            member = f"member {self.member + 1}/{most}{self.members} " if self.members > 1 else ""
            self.task = self.progress.add_task(
                "train",
                total=batches_per_epoch,
                epoch=1,
                epochs=epochs,
                losses="",
                member=member,
                time="",
            )
            self.progress.start()
            self.began = clock()

        def on_batch_end(self, epoch: int, batch: int, loss: float) -> None:
            if batch == 1:
                self.loss_sum = 0.0
            if self.done == 0:  # a resumed run starts after the epochs done before
                self.first_epoch = epoch
            self.loss_sum += loss
            self.done += 1
            to_run = self.epochs - self.first_epoch + 1
            elapsed = clock() - self.began
            left, runs = training_eta(
                elapsed,
                self.done,
                self.per_epoch,
                to_run,
                self.budget,
                self.members - self.member - 1,
                self.epochs,
                self.as_budget_allows,
            )
            planned = str(self.epochs)
            if runs < to_run:
                planned += f" (~{self.first_epoch - 1 + runs} in the time budget)"
            # The running mean of the epoch's batch losses; the exact epoch loss at its end.
            self.progress.update(
                self.task,
                completed=batch,
                epoch=epoch,
                epochs=planned,
                losses=self._losses(self.loss_sum / batch),
                time=f"{clock_time(elapsed)}, {clock_time(left)} left",
            )

        def on_epoch_end(self, epoch: int, history: lc.History) -> None:
            if history.val_loss:
                self.val = f"{history.val_loss[-1]:.4f}"
            self.progress.update(self.task, losses=self._losses(history.train_loss[-1]))

        def on_train_end(self, history: lc.History) -> None:
            self.budget = None  # the next training says its own
            if self.member + 1 == self.members:  # the last member: the next fit says its own
                self.member, self.members = 0, 1
            self.close()

        def close(self) -> None:
            self.progress.stop()

        def _losses(self, train: float) -> str:
            return f"train loss {train:.4f}  val loss {self.val}"

    return ProgressBar


@contextlib.contextmanager
def training_progress(quiet: bool) -> Iterator[list[lc.Callback]]:
    """Callbacks that show training progress (none with --quiet).

    The bar is stopped on the way out even when ``fit`` raises (its ``on_train_end`` is then not
    called), so an error line is not drawn into a live display.
    """
    if quiet:
        yield []
        return
    bar = progress_class()()
    try:
        yield [bar]
    finally:
        bar.close()  # type: ignore[attr-defined]


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM (what `kill` and job schedulers send) like Ctrl-C while training."""
    import signal

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
