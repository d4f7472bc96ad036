"""The ``lstmcast`` command line: thin commands over the public API (``import lstmcast as lc``).

Every command parses its options, calls the library and prints. Errors the library raises on
purpose (:class:`~lstmcast.errors.LstmcastError`) and missing files become one line
``error: <message>`` on stderr and exit code 1, handled once in :class:`_Group`.

torch, pandas, matplotlib and most of rich are imported inside the commands, so ``--help`` stays
fast (as long as ``import lstmcast`` itself is light).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import math
import re
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from typer.core import TyperGroup

import lstmcast as lc
from lstmcast import __version__
from lstmcast.errors import DataError, LstmcastError, command_line

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
# Unit numbers listed in inspect's one-line summary before "...".
_SHOWN_UNITS = 10


# The lines saying how DATA was read, printed when the command succeeds (one list per command).
_READ_NOTES: ContextVar[list[str]] = ContextVar("lstmcast_read_notes")


class _Group(TyperGroup):
    """The app's command group: turns expected errors into one line on stderr and exit code 1,
    and warnings into one line ``warning: <message>`` each.

    Catching here (not in :func:`main`) means ``CliRunner`` tests see the same behaviour as the
    installed ``lstmcast`` script.
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            notes: list[str] = []
            token = _READ_NOTES.set(notes)
            try:
                # Messages name --time-col, not time_col=; warnings are one line each.
                with command_line(), _warnings_as_lines():
                    result = super().invoke(ctx)
            finally:
                _READ_NOTES.reset(token)
            for note in notes:
                typer.echo(note, err=True)
            return result
        except LstmcastError as error:
            _fail(str(error))
        except OSError as error:
            if error.errno == errno.EPIPE:  # `lstmcast ... | head`: typer handles a closed pipe
                raise
            # A missing or unreadable file the library did not check itself (e.g. a forecast CSV).
            where = f"{str(error.filename)!r}: " if error.filename is not None else ""
            _fail(f"{where}{error.strerror or error}")


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


def _fail(message: str) -> NoReturn:
    # One line, whatever the message holds, so scripts can `grep ^error:` and show it as is.
    typer.echo(f"error: {' '.join(message.split())}", err=True)
    raise typer.Exit(1)


app = typer.Typer(
    name="lstmcast",
    cls=_Group,
    no_args_is_help=True,
    add_completion=False,
    # Markdown reflows the docstrings' wrapped paragraphs (rich mode keeps their line breaks).
    rich_markup_mode="markdown",
    # A bug (not a user error) still gets a traceback, but without dumping tensors as locals.
    pretty_exceptions_show_locals=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"lstmcast {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
    threads: Annotated[
        int | None,
        typer.Option(
            "--threads",
            min=1,
            help="CPU threads for torch. Default: torch's (one per core, or OMP_NUM_THREADS). "
            "On a machine busy with other work, 1 can be many times faster.",
        ),
    ] = None,
) -> None:
    """Forecast time series with LSTM networks (PyTorch).

    Data is a CSV file, long (time, target and optionally id columns) or wide (a time column and
    one column per series). Run `lstmcast demo` for a quick tour.
    """
    if threads is not None:
        import torch  # only when asked: `lstmcast --help` stays fast

        torch.set_num_threads(threads)


# --------------------------------------------------------------------------------------------
# Options shared by several commands

TimeCol = Annotated[
    str | None, typer.Option("--time-col", help="Name of the time column. Default: ds.")
]
TargetCol = Annotated[
    str | None,
    typer.Option(
        "--target-col",
        help="Name of the target column of a long or single-series file. Default: y, or the one "
        "column beside the time.",
    ),
]
IdCol = Annotated[
    str | None,
    typer.Option(
        "--id-col",
        help="Name of the series id column; default unique_id if present, else one series.",
    ),
]
# The same for data read with a saved model: the names it was trained with by default.
ModelTimeCol = Annotated[
    str | None,
    typer.Option("--time-col", help="Name of the time column. Default: the model's."),
]
ModelTargetCol = Annotated[
    str | None,
    typer.Option(
        "--target-col",
        help="Name of the target column (a file without it is read as wide). Default: the model's.",
    ),
]
ModelIdCol = Annotated[
    str | None,
    typer.Option(
        "--id-col",
        help="Name of the series id column. Default: the model's (unique_id if it was trained "
        "without one; a file without it holds one series).",
    ),
]
DataLayout = Annotated[
    str | None,
    typer.Option(
        "--layout",
        help="long (id, time, target columns), wide (a time column and one column per series) "
        "or single (a time and a value column). Default: inferred; an ambiguous file is refused.",
    ),
]
IgnoreCol = Annotated[
    list[str] | None,
    typer.Option(
        "--ignore-col",
        help="A column of DATA to leave out on purpose (repeat for several); any other unused "
        "column is an error.",
    ),
]
Quiet = Annotated[
    bool, typer.Option("--quiet", "-q", help="Show no progress bar (nor how DATA was read).")
]

Window = Annotated[int, typer.Option("--window", help="Input length (lookback) in time steps.")]
Horizon = Annotated[
    int,
    typer.Option(
        "--horizon", help="Steps the network emits at once (longer forecasts are recursive)."
    ),
]
HiddenSize = Annotated[int, typer.Option("--hidden-size", help="LSTM units per layer.")]
Layers = Annotated[int, typer.Option("--layers", help="Stacked LSTM layers.")]
Dropout = Annotated[
    float, typer.Option("--dropout", help="Dropout between layers and before the head, 0..1.")
]
Epochs = Annotated[int, typer.Option("--epochs", help="Training epochs (passes over the data).")]
BatchSize = Annotated[int, typer.Option("--batch-size", help="Windows per training batch.")]
LearningRate = Annotated[float, typer.Option("--lr", help="Adam learning rate.")]
ValSize = Annotated[
    str | None,
    typer.Option(
        "--val-size",
        help="Validation tail of each series, held out of training: points (e.g. 20) or a "
        "fraction (e.g. 0.2). The epoch with the lowest validation loss is kept.",
    ),
]
Patience = Annotated[
    int | None,
    typer.Option(
        "--patience",
        help="Stop after this many epochs without validation improvement (needs --val-size).",
    ),
]
Seed = Annotated[
    int | None,
    typer.Option(
        "--seed", help="Random seed; the same seed gives the same model. Default: random."
    ),
]
WindowNorm = Annotated[
    str | None,
    typer.Option(
        "--window-norm",
        help="Normalise each input window by itself: 'revin' (mean and std) or 'last' (last "
        "value); the forecast is de-normalised. For series whose level drifts.",
    ),
]
Segment = Annotated[
    int,
    typer.Option(
        "--segment",
        help="Time steps per LSTM step (segment-wise input; must divide --window).",
    ),
]
Calendar = Annotated[
    list[str] | None,
    typer.Option(
        "--calendar",
        help="Calendar feature of each input step: hour, dayofweek or dayofyear (repeatable).",
    ),
]
Loss = Annotated[str, typer.Option("--loss", help="Training loss: mse or mae.")]
LrSchedule = Annotated[
    str | None,
    typer.Option("--lr-schedule", help="Learning-rate schedule: cosine or onecycle."),
]
EnsembleSize = Annotated[
    int,
    typer.Option(
        "--ensemble-size",
        help="Networks trained with consecutive seeds; forecasts are their median.",
    ),
]
QuantileLevels = Annotated[
    list[float] | None,
    typer.Option(
        "--quantile-level",
        help="Learn a prediction interval of this level (percent) with quantile heads and the "
        "pinball loss (repeatable); with --val-size too they are conformalized on the "
        "validation tail; without it, --level intervals are conformal (needs --val-size).",
    ),
]
SeasonLength = Annotated[
    int,
    typer.Option(
        "--season-length",
        help="Seasonal period (e.g. 24 for hourly data): interval calibration measures errors "
        "in units of each window's mean absolute seasonal difference.",
    ),
]
ForgetBias = Annotated[
    float | None,
    typer.Option(
        "--forget-bias",
        help="Initial forget-gate bias, other biases starting at zero (1.0 is Keras's default); "
        "default: torch's initialisation.",
    ),
]
GradClip = Annotated[
    float | None,
    typer.Option(
        "--grad-clip", help="Clip the global gradient norm to this. Default: no clipping."
    ),
]
Scaler = Annotated[
    str,
    typer.Option(
        "--scaler",
        help="Per-series scaling fitted on the training part: standard (mean and standard "
        "deviation) or none.",
    ),
]
Device = Annotated[
    str | None,
    typer.Option("--device", help="cpu, cuda, cuda:1, mps, ... Default: CUDA when present."),
]
Level = Annotated[
    list[float] | None,
    typer.Option(
        "--level",
        help="Prediction-interval level in percent, e.g. 80 (repeatable). Needs a model trained "
        "with --val-size: intervals are calibrated on its validation tail (conformal).",
    ),
]


def _model(
    window: int,
    horizon: int,
    hidden_size: int,
    layers: int,
    dropout: float,
    epochs: int,
    batch_size: int,
    lr: float,
    val_size: str | None,
    patience: int | None,
    seed: int | None,
    window_norm: str | None = None,
    segment: int = 1,
    calendar: list[str] | None = None,
    loss: str = "mse",
    lr_schedule: str | None = None,
    ensemble_size: int = 1,
    quantile_levels: list[float] | None = None,
    season_length: int = 1,
    forget_bias: float | None = None,
    device: str | None = None,
    grad_clip: float | None = None,
    scaler: str = "standard",
) -> lc.LSTMForecaster:
    # The library checks every value in fit(); the CLI only converts --val-size's text.
    return lc.LSTMForecaster(
        window=window,
        horizon=horizon,
        hidden_size=hidden_size,
        num_layers=layers,
        dropout=dropout,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        val_size=_parse_size(val_size),
        patience=patience,
        random_state=seed,
        window_norm=window_norm,
        segment=segment,
        calendar=tuple(calendar) if calendar else None,
        loss=loss,
        lr_schedule=lr_schedule,
        ensemble_size=ensemble_size,
        quantile_levels=tuple(quantile_levels) if quantile_levels else None,
        season_length=season_length,
        forget_bias=forget_bias,
        device=device,
        grad_clip=grad_clip,
        scaler=scaler,
    )


def _parse_size(text: str | None) -> int | float | None:
    """``"20"`` -> 20 points, ``"0.2"`` -> a fraction; the library checks the range."""
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise lc.ConfigError(
            f"--val-size must be a number of points (e.g. 20) or a fraction (e.g. 0.2), "
            f"got {text!r}"
        ) from None


# --------------------------------------------------------------------------------------------
# Output helpers


def _stdout() -> Console:
    from rich.console import Console

    # Created per call so it writes to the current sys.stdout (CliRunner swaps it).
    return Console(highlight=False)


def _stderr() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def _metrics_table(metrics: pd.DataFrame, title: str) -> Table:
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


def _forecast_table(forecast: pd.DataFrame, title: str) -> Table:
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


@functools.cache
def _progress_class() -> type[lc.Callback]:
    """The progress bar callback class, built on first use.

    Defined in a function so that importing this module does not touch ``lc.Callback`` (which
    lives next to torch) and rich's progress machinery.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    class ProgressBar(lc.Callback):
        """A rich progress bar on stderr: epoch k/N, batches, train and validation loss."""

        def __init__(self) -> None:
            self.progress = Progress(
                TextColumn("epoch {task.fields[epoch]}/{task.fields[epochs]}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[losses]}"),
                TimeElapsedColumn(),
                console=_stderr(),
            )
            self.task: Any = None
            self.val = "-"
            self.loss_sum = 0.0

        def on_train_begin(self, epochs: int, batches_per_epoch: int) -> None:
            self.task = self.progress.add_task(
                "train", total=batches_per_epoch, epoch=1, epochs=epochs, losses=""
            )
            self.progress.start()

        def on_batch_end(self, epoch: int, batch: int, loss: float) -> None:
            if batch == 1:
                self.loss_sum = 0.0
            self.loss_sum += loss
            # The running mean of the epoch's batch losses; the exact epoch loss at its end.
            self.progress.update(
                self.task,
                completed=batch,
                epoch=epoch,
                losses=self._losses(self.loss_sum / batch),
            )

        def on_epoch_end(self, epoch: int, history: lc.History) -> None:
            if history.val_loss:
                self.val = f"{history.val_loss[-1]:.4f}"
            self.progress.update(self.task, losses=self._losses(history.train_loss[-1]))

        def on_train_end(self, history: lc.History) -> None:
            self.close()

        def close(self) -> None:
            self.progress.stop()

        def _losses(self, train: float) -> str:
            return f"train loss {train:.4f}  val loss {self.val}"

    return ProgressBar


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM (what `kill` and job schedulers send) like Ctrl-C while training."""
    import signal

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _training_progress(quiet: bool) -> Iterator[list[lc.Callback]]:
    """Callbacks that show training progress (none with --quiet).

    The bar is stopped on the way out even when ``fit`` raises (its ``on_train_end`` is then not
    called), so an error line is not drawn into a live display.
    """
    if quiet:
        yield []
        return
    bar = _progress_class()()
    try:
        yield [bar]
    finally:
        bar.close()  # type: ignore[attr-defined]


@contextlib.contextmanager
def _process_group(device: str | None) -> Iterator[None]:
    """Under torchrun, join the process group for the command and leave it after.

    Each process logs its rank and pid, then every data file it reads, to its own stderr. A peer
    that dies makes the collectives fail at once (torchrun then stops the others): that becomes
    one error line rather than a traceback.
    """
    from lstmcast import distributed

    if not distributed.launched_by_torchrun():
        yield
        return
    import logging
    import os

    import torch

    from lstmcast.devices import pick_device

    joined = not distributed.active()  # a program calling the CLI may have joined already
    if joined:
        distributed.start(pick_device(device))
    logger = logging.getLogger("lstmcast")
    handler = logging.StreamHandler()
    rank, world = distributed.rank(), distributed.world_size()
    handler.setFormatter(logging.Formatter(f"lstmcast rank {rank}/{world}: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.info("started, pid %d", os.getpid())
    try:
        yield
    except typer.Exit:  # a RuntimeError too, but a command ending as planned
        _leave_together(joined)
        raise
    except RuntimeError as error:
        # gloo reports a peer that went away as a plain RuntimeError naming its transport.
        if not isinstance(error, torch.distributed.DistError) and not _lost_peer(error):
            raise
        # "[.../pair.cc:537] Read error [127.0.0.1]:60100: Connection reset by peer. This ..."
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
        detail = re.sub(r"^\[[^\]]*\]\s*", "", first_line).split(". ")[0]
        raise lc.TrainingError(
            f"rank {rank} lost contact with the other processes ({detail}); one of them "
            "stopped or its machine failed. Checkpoints on disk are whole: rerun with --resume"
        ) from None
    else:
        _leave_together(joined)
    finally:
        logger.removeHandler(handler)
        if joined:
            distributed.stop()


def _leave_together(joined: bool) -> None:
    """Wait for every rank before leaving the process group this command joined.

    A rank that tears gloo down while a peer is still finishing its command (rank 0 saving or
    printing) could abort ("terminate called without an active exception"), and torchrun then
    stops the peer. A peer already gone has nothing left to wait for.
    """
    from lstmcast import distributed

    if joined:
        with contextlib.suppress(RuntimeError):
            distributed.barrier()


def _lost_peer(error: RuntimeError) -> bool:
    text = str(error)
    return "gloo" in text or "NCCL" in text or "Connection closed by peer" in text


def _rank() -> int:
    from lstmcast import distributed

    return distributed.rank()


# The column names of the long frame _read_data returns, as the library's keywords.
_READ_COLUMNS = {"id_col": "unique_id", "time_col": "ds", "target_col": "y"}


def _read_for_model(
    model: lc.LSTMForecaster,
    data: Path,
    id_col: str | None,
    time_col: str | None,
    target_col: str | None,
    layout: str | None,
    ignore_col: list[str] | None,
) -> pd.DataFrame:
    """New history for a saved model: its column names and layout unless others are given
    (a model's None: found as for any file)."""
    given = {"id_col": id_col, "time_col": time_col, "target_col": target_col}
    columns = {key: given[key] or name for key, name in model.columns_.items()}
    layout = layout or getattr(model, "layout_", None)
    return _read_data(data, **columns, layout=layout, ignore_col=ignore_col)


# Files whose reading is described one per line; beyond, one summary line.
_DESCRIBED_FILES = 3


def _read_data(
    data: Path,
    time_col: str | None,
    target_col: str | None,
    id_col: str | None,
    layout: str | None = None,
    ignore_col: list[str] | None = None,
    quiet: bool = False,
) -> pd.DataFrame:
    """DATA as one long frame: a file, or a directory's files (under torchrun, this rank's).

    How each file was read (layout, columns, time zone) is said on stderr when the command
    succeeds: stdout stays parseable, and an error is still one line.
    """
    files = lc.data_files(data)
    if data.is_dir():
        from lstmcast import distributed

        if distributed.active():
            files = distributed.assign_files(files, distributed.world_size())[distributed.rank()]
    frame = lc.read_files(
        files,
        time_col=time_col,
        target_col=target_col,
        id_col=id_col,
        layout=layout,
        ignore_cols=ignore_col or (),
    )
    if not quiet:
        how = lc.layouts(frame)
        lines = [f"read {layout_read}" for layout_read in how[:_DESCRIBED_FILES]]
        if len(how) > _DESCRIBED_FILES:
            more = how[_DESCRIBED_FILES:]
            series = sum(layout_read.n_series for layout_read in more)
            lines.append(f"read {len(more)} more files of {data}: {series} series")
        notes = _READ_NOTES.get(None)
        if notes is None:  # called outside a command (a benchmark): say it now
            for line in lines:
                typer.echo(line, err=True)
        else:
            notes.extend(lines)
    return frame


# --------------------------------------------------------------------------------------------
# Commands


@app.command()
def demo(
    output: Annotated[
        Path,
        typer.Option(
            "--output", "-o", help="Where to write the forecast plot (PNG, PDF, SVG...: by suffix)."
        ),
    ] = Path("demo.png"),
    seed: Annotated[int, typer.Option("--seed", help="Random seed of data and model.")] = 0,
    quiet: Quiet = False,
) -> None:
    """Run the built-in demo: an LSTM against naive baselines on a synthetic series.

    Trains an LSTM, scores it and the Naive and SeasonalNaive baselines on held-out data, prints
    the metrics and the first forecast steps, and plots the forecast.
    """
    from lstmcast.demo import run_demo
    from lstmcast.files import check_output, image_format

    check_output(output, example="demo.png")
    image_format(output, what="--output")
    with _training_progress(quiet) as callbacks:
        result = run_demo(output=output, seed=seed, callbacks=callbacks)
    console = _stdout()
    console.print(result.description, markup=False)
    console.print()
    console.print(_metrics_table(result.metrics, "Accuracy on the held-out data"))
    console.print()
    console.print(_forecast_table(result.forecast, "LSTM forecast past the end (first steps)"))
    console.print(f"wrote {result.plot_path} ({result.seconds:.1f} s)", markup=False)


@app.command()
def train(
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
    time_col: TimeCol = None,
    target_col: TargetCol = None,
    id_col: IdCol = None,
    layout: DataLayout = None,
    ignore_col: IgnoreCol = None,
    window: Window = 20,
    horizon: Horizon = 1,
    hidden_size: HiddenSize = 50,
    layers: Layers = 1,
    dropout: Dropout = 0.0,
    epochs: Epochs = 10,
    batch_size: BatchSize = 32,
    lr: LearningRate = 1e-3,
    val_size: ValSize = None,
    patience: Patience = None,
    window_norm: WindowNorm = None,
    segment: Segment = 1,
    calendar: Calendar = None,
    loss: Loss = "mse",
    lr_schedule: LrSchedule = None,
    ensemble_size: EnsembleSize = 1,
    quantile_levels: QuantileLevels = None,
    season_length: SeasonLength = 1,
    forget_bias: ForgetBias = None,
    grad_clip: GradClip = None,
    scaler: Scaler = "standard",
    seed: Seed = None,
    device: Device = None,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume",
            help="Continue the interrupted training saved in --output (same data and settings).",
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
    """
    from lstmcast.files import check_output

    check_output(output, [("the data", data)], directory=True, replaced=True)
    with _process_group(device):
        df = _read_data(data, time_col, target_col, id_col, layout, ignore_col, quiet)
        model = _model(
            window, horizon, hidden_size, layers, dropout, epochs, batch_size, lr, val_size,
            patience, seed, window_norm, segment, calendar, loss, lr_schedule, ensemble_size,
            quantile_levels, season_length, forget_bias, device, grad_clip, scaler,
        )  # fmt: skip
        # Kept with the model, as its column names below: forecast and inspect read new data
        # as the training data was read without being told again.
        model.layout_ = layout
        # Under the file's column names, which the model keeps: forecast and inspect read
        # data in the same layout without being told them again.
        given = {"id_col": id_col, "time_col": time_col, "target_col": target_col}
        names = {key: name for key, name in given.items() if name is not None}
        df = df.rename(columns={_READ_COLUMNS[key]: name for key, name in names.items()})
        # One progress bar and one summary, from rank 0.
        with _training_progress(quiet or _rank() != 0) as callbacks, _sigterm_as_interrupt():
            model.fit(df, callbacks=callbacks, checkpoint=output, resume=resume, **names)
        n_series = model.n_series_
        if getattr(model, "sharded_", False):
            from lstmcast import distributed

            n_series = int(distributed.sum_across([float(n_series)])[0])
        if _rank() != 0:
            if model.histories_[-1].interrupted:
                raise typer.Exit(EXIT_INTERRUPTED)
            return

    history = model.history_
    n_train, n_val = history.train_windows, history.val_windows
    val_note = f", {n_val} validation" if model.val_size is not None else ""
    lines = [
        f"series        {n_series}",
        f"windows       {n_train} training{val_note}",
        f"epochs run    {len(history.train_loss)} of {model.epochs}"
        + (" (stopped early)" if history.stopped_early else ""),
        f"best epoch    {history.best_epoch if history.best_epoch is not None else '-'}",
        f"train loss    {history.train_loss[-1]:.4f}" if history.train_loss else "train loss    -",
    ]
    if history.val_loss:
        lines.append(f"val loss      {history.val_loss[-1]:.4f}")
    lines += [f"seconds       {history.seconds:.1f}", f"seed          {model.seed_}"]
    if not history.interrupted:
        lines.append(f"saved to      {output}")
    _stdout().print("\n".join(lines), markup=False)

    if history.interrupted:
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
        raise typer.Exit(EXIT_INTERRUPTED)


@app.command()
def forecast(
    model_dir: Annotated[
        Path,
        typer.Argument(metavar="MODEL_DIR", help="A model directory written by `lstmcast train`."),
    ],
    output: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            help="Where to write the forecasts, CSV or Parquet by suffix (.csv, .parquet); "
            "under torchrun a directory of part files.",
        ),
    ] = Path("forecast.csv"),
    h: Annotated[
        int | None,
        typer.Option("--h", help="Steps ahead to forecast. Default: the model's horizon."),
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option(
            "--data",
            help="Forecast past the end of this history (CSV or Parquet file, or a directory "
            "of them; same series and time steps as in training) instead of the training data.",
        ),
    ] = None,
    time_col: ModelTimeCol = None,
    target_col: ModelTargetCol = None,
    id_col: ModelIdCol = None,
    layout: DataLayout = None,
    ignore_col: IgnoreCol = None,
    level: Level = None,
) -> None:
    """Forecast every series with a saved model and write unique_id, ds, LSTM as CSV.

    With --level, also the interval bounds LSTM-lo-<level> and LSTM-hi-<level>. Under `torchrun
    --nproc-per-node N`, --output is a directory: each process forecasts its share of the series
    (of the model, of a --data directory's files, or of a single --data file) and writes its part
    file (part-00000.parquet, ...), and rank 0 adds _manifest.json (see docs/scaling.md).
    """
    from lstmcast import distributed
    from lstmcast.errors import count
    from lstmcast.files import check_output, frame_format, write_frame

    if distributed.launched_by_torchrun():
        # Only small objects cross between the processes here: gloo whatever the device.
        with _process_group("cpu"):
            _forecast_part(
                model_dir, output, h, data, time_col, target_col, id_col, level, layout, ignore_col
            )
        return
    check_output(
        output, [("the model directory", model_dir), ("the data", data)], example="forecast.csv"
    )
    frame_format(output, what="--output")
    model = lc.load(model_dir)
    df = None
    if data is not None:
        df = _read_for_model(model, data, id_col, time_col, target_col, layout, ignore_col)
    frame = model.predict(h, df=df, level=level, **_READ_COLUMNS)
    # Atomic: a crash or Ctrl-C never leaves a half-written forecast behind.
    write_frame(frame, output)
    n_series = frame["unique_id"].nunique()
    _stdout().print(
        f"wrote {count(len(frame), 'row')} ({n_series} series x {len(frame) // n_series} "
        f"step{'' if len(frame) == n_series else 's'}) to {output}",
        markup=False,
    )


def _forecast_part(
    model_dir: Path,
    output: Path,
    h: int | None,
    data: Path | None,
    time_col: str | None,
    target_col: str | None,
    id_col: str | None,
    level: list[float] | None,
    layout: str | None = None,
    ignore_col: list[str] | None = None,
) -> None:
    """This rank's share of the forecast, as part-<rank>.parquet in directory ``output``.

    The series are dealt among the ranks: those saved with the model, the files of a --data
    directory, or the series of a single --data file.
    """
    import json

    from lstmcast import distributed
    from lstmcast.errors import count
    from lstmcast.files import atomic_path, check_output, require_pyarrow

    if output.suffix in (".csv", ".parquet") or output.is_file():
        raise lc.ConfigError(
            f"under torchrun each process writes its part of the forecast into a directory; "
            f"--output {str(output)!r} looks like a file: pass a directory, e.g. -o forecasts"
        )
    check_output(output, [("the model directory", model_dir), ("the data", data)], directory=True)
    require_pyarrow("writing the forecast's Parquet part files")
    rank, world = distributed.rank(), distributed.world_size()
    if data is None:  # the series saved with the model: this rank's share of them
        model = lc.load(model_dir, part=(rank, world))
        df = None
    else:  # this rank's files of --data (or series of one file); the model's scaling of all
        model = lc.load(model_dir)
        df = _read_for_model(model, data, id_col, time_col, target_col, layout, ignore_col)
        if not data.is_dir():  # every rank read the whole file
            df = _share_of_series(df, rank, world)
    frame = _predict_share(model, h, df, level)
    part = f"part-{rank:05d}.parquet"
    with atomic_path(output / part) as tmp:
        frame.to_parquet(tmp, index=False)
    n_series = frame["unique_id"].nunique()
    parts = distributed.gather({"file": part, "series": n_series, "rows": len(frame)})
    if rank == 0:
        # Parts of an earlier run with more processes, as its manifest lists them: other files
        # (a user's, another tool's part-*.parquet) are never deleted.
        for stale in _earlier_parts(output) - {p["file"] for p in parts}:
            (output / stale).unlink(missing_ok=True)
        manifest = {
            "format": "lstmcast-forecast",
            "model": str(model_dir),
            "columns": [str(c) for c in frame.columns],
            "series": sum(p["series"] for p in parts),
            "rows": sum(p["rows"] for p in parts),
            "parts": parts,
        }
        with atomic_path(output / MANIFEST) as tmp:
            tmp.write_text(json.dumps(manifest, indent=2) + "\n")
        _stdout().print(
            f"wrote {count(manifest['rows'], 'row')} ({manifest['series']} series) in "
            f"{count(world, 'part')} to "
            f"{output}",
            markup=False,
        )
    distributed.barrier()


def _earlier_parts(output: Path) -> set[str]:
    """The part files an earlier sharded forecast into ``output`` wrote, by its manifest."""
    import json

    try:
        manifest = json.loads((output / MANIFEST).read_text())
        listed = [part["file"] for part in manifest["parts"]]
    except (OSError, ValueError, KeyError, TypeError):
        return set()
    if manifest.get("format") != "lstmcast-forecast":
        return set()
    return {name for name in listed if isinstance(name, str) and _PART.fullmatch(name)}


_PART = re.compile(r"part-\d{5,}\.parquet")


def _share_of_series(df: pd.DataFrame, rank: int, world: int) -> pd.DataFrame:
    """The rows of the series of long frame ``df`` that rank ``rank`` of ``world`` forecasts."""
    from lstmcast import distributed

    mine = distributed.assign_series(df["unique_id"].unique(), world)[rank]
    return df[df["unique_id"].isin(mine)].reset_index(drop=True)


def _predict_share(
    model: lc.LSTMForecaster, h: int | None, df: pd.DataFrame | None, level: list[float] | None
) -> pd.DataFrame:
    """``model.predict``, or its empty frame for a rank that was dealt no series."""
    import pandas as pd

    if (model.n_series_ if df is None else len(df)) > 0:
        return model.predict(h, df=df, level=level, **_READ_COLUMNS)
    from lstmcast.columns import interval_column

    levels = sorted({float(value) for value in level or []})  # as predict names them
    bounds = [interval_column("LSTM", side, value) for value in levels for side in ("lo", "hi")]
    columns = {"unique_id": "object", "ds": model.tail_.ds.dtype}
    columns |= dict.fromkeys(["LSTM", *bounds], "float64")
    return pd.DataFrame({name: pd.Series(dtype=kind) for name, kind in columns.items()})


# The file that lists the part files of a sharded forecast, named so that Parquet readers given
# the directory (pandas.read_parquet, pyarrow.dataset) skip it.
MANIFEST = "_manifest.json"


@app.command()
def backtest(
    data: Annotated[
        Path,
        typer.Argument(
            metavar="DATA",
            help="The series, a CSV or Parquet file or a directory of them.",
            show_default=False,
        ),
    ],
    h: Annotated[int, typer.Option("--h", help="Steps ahead forecast from each origin.")],
    n_windows: Annotated[
        int, typer.Option("--n-windows", help="Forecast origins at the end of each series.")
    ] = 1,
    step_size: Annotated[
        int | None,
        typer.Option("--step-size", help="Steps between origins. Default: --h."),
    ] = None,
    season_length: Annotated[
        int,
        typer.Option(
            "--season-length",
            help="Season of the SeasonalNaive baseline, of the MASE scale and of the LSTM's "
            "interval calibration (1: none).",
        ),
    ] = 1,
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
    time_col: TimeCol = None,
    target_col: TargetCol = None,
    id_col: IdCol = None,
    layout: DataLayout = None,
    ignore_col: IgnoreCol = None,
    window: Window = 20,
    horizon: Horizon = 1,
    hidden_size: HiddenSize = 50,
    layers: Layers = 1,
    dropout: Dropout = 0.0,
    epochs: Epochs = 10,
    batch_size: BatchSize = 32,
    lr: LearningRate = 1e-3,
    val_size: ValSize = None,
    patience: Patience = None,
    window_norm: WindowNorm = None,
    segment: Segment = 1,
    calendar: Calendar = None,
    loss: Loss = "mse",
    lr_schedule: LrSchedule = None,
    ensemble_size: EnsembleSize = 1,
    quantile_levels: QuantileLevels = None,
    forget_bias: ForgetBias = None,
    grad_clip: GradClip = None,
    scaler: Scaler = "standard",
    seed: Seed = None,
    device: Device = None,
    level: Level = None,
    quiet: Quiet = False,
) -> None:
    """Score the LSTM against Naive and SeasonalNaive on the end of each series of DATA.

    The LSTM is trained on the data before the first forecast origin; then every model forecasts
    --h steps from --n-windows origins --step-size apart, and MAE, RMSE, sMAPE and MASE are
    printed (per series over all origins, then averaged over series).
    """
    from lstmcast.checks import check_backtest, check_backtest_size
    from lstmcast.errors import count, points
    from lstmcast.files import check_output, frame_format, write_frame

    if output is not None:
        check_output(output, [("the data", data)], example="backtest.csv")
        frame_format(output, what="--output")
    h, n_windows, step = check_backtest(h, n_windows, step_size)
    df = _read_data(data, time_col, target_col, id_col, layout, ignore_col, quiet)
    # Before any training: keys, three models and the bounds, per forecast point.
    levels = {float(value) for value in level or []}
    check_backtest_size(df["unique_id"].nunique(), n_windows, h, 7 + 2 * len(levels))
    # Only data before the first origin is seen in training (and scales MASE).
    span = h + step * (n_windows - 1)
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
    train_part, _ = lc.split(df, test_size=span)
    lstm = _model(
        window, horizon, hidden_size, layers, dropout, epochs, batch_size, lr, val_size,
        patience, seed, window_norm, segment, calendar, loss, lr_schedule, ensemble_size,
        quantile_levels, season_length, forget_bias, device, grad_clip, scaler,
    )  # fmt: skip
    if not refit:  # with --refit, backtest trains its own copies
        with _training_progress(quiet) as callbacks:
            lstm.fit(train_part, callbacks=callbacks)
    models = [lstm, lc.Naive().fit(train_part), lc.SeasonalNaive(season_length).fit(train_part)]
    frames = [
        model.backtest(
            df,
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
    metrics = lc.evaluate(merged, train=train_part, season_length=season_length)
    console = _stdout()
    origins = f"{n_windows} origin" + ("" if n_windows == 1 else "s")
    console.print(_metrics_table(metrics, f"Backtest: {origins}, h={h}, step {step}"))
    if output is not None:
        write_frame(merged, output)
        console.print(f"wrote {count(len(merged), 'row')} to {output}", markup=False)


@app.command()
def plot(
    data: Annotated[
        Path,
        typer.Argument(
            metavar="DATA",
            help="The history, a CSV or Parquet file or a directory of them.",
            show_default=False,
        ),
    ],
    forecast_file: Annotated[
        Path,
        typer.Argument(
            metavar="FORECAST",
            help="Forecasts (CSV or Parquet from `lstmcast forecast` or `lstmcast backtest -o`).",
            show_default=False,
        ),
    ],
    output: Annotated[
        Path,
        typer.Option(
            "--output", "-o", help="Where to write the plot (PNG, PDF, SVG...: by suffix)."
        ),
    ] = Path("forecast.png"),
    ids: Annotated[
        list[str] | None,
        typer.Option("--id", help="Series to draw (repeat for several). Default: the first 4."),
    ] = None,
    max_history: Annotated[
        int | None,
        typer.Option("--max-history", help="Draw only the last N points of each history."),
    ] = None,
    time_col: TimeCol = None,
    target_col: TargetCol = None,
    id_col: IdCol = None,
    layout: DataLayout = None,
    ignore_col: IgnoreCol = None,
) -> None:
    """Plot the history of DATA and the forecasts of FORECAST, one panel per series."""
    from lstmcast.files import check_output, image_format

    if forecast_file.is_dir():
        raise lc.DataError(
            f"FORECAST {str(forecast_file)!r} is a directory; give one forecast file (CSV or "
            "Parquet, e.g. a part-<rank>.parquet of a sharded forecast)"
        )
    check_output(
        output, [("the history", data), ("the forecasts", forecast_file)], example="forecast.png"
    )
    image_format(output, what="--output")
    history = _read_data(data, time_col, target_col, id_col, layout, ignore_col)
    forecast_frame = _read_forecast(forecast_file, like=history)
    lc.plot_forecast(history, forecast_frame, ids=ids, max_history=max_history, path=output)
    _stdout().print(f"wrote {output}", markup=False)


def _read_parquet_forecast(path: Path) -> pd.DataFrame:
    import pandas as pd

    from lstmcast.files import require_pyarrow

    if not path.is_file():
        raise lc.DataError(f"forecast file {str(path)!r} not found")
    require_pyarrow(f"reading {path.name}")
    try:
        frame = pd.read_parquet(path)
    except (OSError, ValueError) as error:  # pyarrow's ArrowInvalid is a ValueError
        detail = str(error).strip().splitlines()[0] if str(error).strip() else "unreadable"
        raise lc.DataError(f"{path.name} is not a readable Parquet forecast: {detail}") from None
    if "unique_id" in frame.columns:
        frame["unique_id"] = frame["unique_id"].astype(str)
    return frame


def _read_forecast(path: Path, like: pd.DataFrame) -> pd.DataFrame:
    """Read a forecast (CSV or Parquet), its ids as text and its times typed like the history's."""
    import pandas as pd

    if path.suffix.lower() == ".parquet":  # as `lstmcast forecast -o f.parquet` writes it
        frame = _read_parquet_forecast(path)
    else:
        try:
            from pandas._libs.parsers import STR_NA_VALUES

            # Ids are text, as in DATA: "NA" and "None" name series; other columns keep
            # pandas' missing-value markers.
            names = pd.read_csv(path, nrows=0).columns
            markers = {name: sorted(STR_NA_VALUES) for name in names if name != "unique_id"}
            frame = pd.read_csv(
                path, dtype={"unique_id": str}, keep_default_na=False, na_values=markers
            )
        except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as error:
            detail = str(error).strip().splitlines()[-1] if str(error).strip() else "empty file"
            raise lc.DataError(f"{path.name} is not a readable forecast CSV: {detail}") from None
    dates = pd.api.types.is_datetime64_any_dtype(like["ds"])
    zone = getattr(like["ds"].dt, "tz", None) if dates else None
    for column in ("ds", "cutoff"):
        if column not in frame.columns:
            continue  # plot_forecast names a missing ds itself
        try:
            if not dates:
                frame[column] = frame[column].astype("int64")
            elif not pd.api.types.is_datetime64_any_dtype(frame[column]):
                frame[column] = _read_times(frame[column])
        except (ValueError, TypeError):
            kind = "dates" if dates else "integer steps"
            raise lc.DataError(
                f"column {column!r} of {path.name} cannot be read as {kind} like the time "
                f"column of the history"
            ) from None
        if dates:
            theirs = getattr(frame[column].dt, "tz", None)
            if (theirs is None) != (zone is None):
                has = "times with UTC offsets" if zone is None else "times without an offset"
                history = "none" if zone is None else f"offsets ({zone})"
                raise lc.DataError(
                    f"column {column!r} of {path.name} has {has}, but the times of DATA have "
                    f"{history}: which instants they are cannot be known; plot a forecast with "
                    "the history it was made from (lstmcast forecast writes the offsets of "
                    "zoned data)"
                )
            if zone is not None:  # the same instants, shown on the history's clock
                frame[column] = frame[column].dt.tz_convert(zone)
    return frame


def _read_times(column: pd.Series) -> pd.Series:
    """Times as written: naive, or zone-aware (times with several UTC offsets, as at a
    daylight-saving change, in UTC)."""
    import pandas as pd

    try:
        return pd.to_datetime(column)
    except ValueError as error:
        if "Mixed timezones" not in str(error):
            raise
        return pd.to_datetime(column, utc=True)


@app.command()
def inspect(
    model_dir: Annotated[
        Path,
        typer.Argument(metavar="MODEL_DIR", help="A model directory written by `lstmcast train`."),
    ],
    output: Annotated[
        Path,
        typer.Option(
            "--output", "-o", help="Where to write the gate heatmaps (PNG, PDF, SVG...: by suffix)."
        ),
    ] = Path("gates.png"),
    data: Annotated[
        Path | None,
        typer.Option(
            "--data",
            help="Run the LSTM on the last window of this history (CSV). Default: the end of "
            "the training data, saved with the model.",
        ),
    ] = None,
    series: Annotated[
        str | None,
        typer.Option("--series", help="Id of the series to show. Default: the first."),
    ] = None,
    time_col: ModelTimeCol = None,
    target_col: ModelTargetCol = None,
    id_col: ModelIdCol = None,
    layout: DataLayout = None,
    ignore_col: IgnoreCol = None,
) -> None:
    """Plot the LSTM's gates and states over the last input window of one series.

    Also prints how far back each unit of the last layer remembers: its memory reach, the number
    of LSTM steps over which the product of its forget gates stays above 1/e (in raw time points
    too, for a segment-wise model), longest first; a long-memory unit has a mean forget gate above
    0.9 over the window.
    """
    from lstmcast.files import check_output, image_format

    check_output(
        output, [("the model directory", model_dir), ("the data", data)], example="gates.png"
    )
    image_format(output, what="--output")
    model = lc.load(model_dir)
    df = None
    if data is not None:
        df = _read_for_model(model, data, id_col, time_col, target_col, layout, ignore_col)
    panel = model.tail_ if df is None else lc.Panel.from_frame(df)
    ids = [str(i) for i in panel.ids]
    wanted = ids[0] if series is None else series
    # Refuses an unknown series, a short history or another time step.
    trace = model.explain(df, series=wanted, **_READ_COLUMNS)
    end = panel.ends[ids.index(wanted)]
    inputs = panel.y[end - model.window : end]
    lc.plot_gates(trace, sample=0, inputs=inputs, segment=model.segment, path=output)
    reach = lc.memory_reach(trace, sample=0, segment=model.segment)
    from lstmcast.analysis import LONG_MEMORY_FORGET

    long_units = reach.loc[reach["long_memory"], "unit"].tolist()
    listed = ", ".join(str(u) for u in long_units[:_SHOWN_UNITS])
    listed += ", ..." if len(long_units) > _SHOWN_UNITS else ""
    console = _stdout()
    console.print(
        f"wrote {output}\nseries {wanted!r}: {len(long_units)} of {len(reach)} units of "
        f"layer {trace.forget.shape[0] - 1} have long memory "
        f"(mean forget gate > {LONG_MEMORY_FORGET})" + (f": {listed}" if long_units else ""),
        markup=False,
    )
    console.print(_reach_table(reach, model.segment, steps=trace.forget.shape[2]))


def _reach_table(reach: pd.DataFrame, segment: int, steps: int) -> Table:
    """The units with the longest memory reach, longest first."""
    from rich.table import Table

    longest = reach.sort_values(
        ["reach_steps", "time_constant_steps"], ascending=False, kind="stable"
    ).head(_SHOWN_UNITS)
    raw = segment > 1
    table = Table(
        title=f"Memory reach (window: {steps} LSTM steps"
        + (f" of {segment} points" if raw else "")
        + ")",
        caption=f"{len(longest)} of {len(reach)} units; reach: steps back until the product of "
        "forget gates falls below 1/e (>=: the whole window); time constant: -1/mean(ln f)",
    )
    table.add_column("unit", justify="right")
    table.add_column("mean f", justify="right")
    table.add_column("reach (steps)", justify="right")
    if raw:
        table.add_column("reach (points)", justify="right")
    table.add_column("time constant (steps)", justify="right")
    if raw:
        table.add_column("time constant (points)", justify="right")
    table.add_column("long memory")
    for row in longest.itertuples(index=False):
        at_least = ">= " if row.whole_window else ""
        cells = [str(row.unit), f"{row.mean_forget:.3f}", f"{at_least}{row.reach_steps}"]
        if raw:
            cells.append(f"{at_least}{row.reach_points}")
        cells.append(f"{row.time_constant_steps:.1f}")
        if raw:
            cells.append(f"{row.time_constant_points:.1f}")
        cells.append("yes" if row.long_memory else "")
        table.add_row(*cells)
    return table


# --------------------------------------------------------------------------------------------
# Experiments

experiment_app = typer.Typer(
    cls=_Group,
    no_args_is_help=True,
    rich_markup_mode="markdown",
    help="Experiments that show what an LSTM can do: the adding problem.",
)
app.add_typer(experiment_app, name="experiment")


@experiment_app.command()
def adding(
    length: Annotated[
        int, typer.Option("--length", "-T", help="T, steps per sequence (at least 2).")
    ] = 100,
    cell: Annotated[
        str, typer.Option("--cell", help="Recurrent cell: lstm (lstmcast's), gru or rnn.")
    ] = "lstm",
    steps: Annotated[int, typer.Option("--steps", help="Training steps at most.")] = 20_000,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Fresh sequences per step.")] = 32,
    hidden_size: Annotated[int, typer.Option("--hidden-size", help="Units of the cell.")] = 32,
    lr: LearningRate = 1e-2,
    seed: Annotated[int, typer.Option("--seed", help="Seed of weights, test set and batches.")] = 0,
    budget: Annotated[
        float,
        typer.Option(
            "--budget", help="Wall-clock seconds of training at most (the machine's load counts)."
        ),
    ] = 600.0,
    chrono: Annotated[
        bool | None,
        typer.Option(
            "--chrono/--no-chrono",
            help="Chrono initialisation of the gate biases (memory time scales spread over "
            "1..T-1 steps). Default: on for lstm and gru; rnn has no gates.",
            show_default=False,
        ),
    ] = None,
    until_accuracy: Annotated[
        float,
        typer.Option("--until-accuracy", help="Stop once the test accuracy reaches this (0..1]."),
    ] = 0.99,
    threads: Annotated[
        int,
        typer.Option(
            "--threads", help="CPU threads for torch (the T steps are small sequential kernels)."
        ),
    ] = 1,
    output: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            help="Where to write the learning curve (PNG, PDF, SVG...: by suffix).",
        ),
    ] = Path("adding.png"),
    gates: Annotated[
        Path | None,
        typer.Option(
            "--gates",
            help="Also plot the trained LSTM's gates on a new test sequence (PNG, PDF, SVG...: "
            "by suffix).",
        ),
    ] = None,
    quiet: Quiet = False,
) -> None:
    """The adding problem (Hochreiter & Schmidhuber 1997): remember two marked values over T steps.

    Each sequence has T (value, marker) pairs, values uniform in [0, 1], two markers (one in each
    half); the target is the sum of the two marked values. Trains the cell on fresh batches, then
    prints the test MSE and the accuracy (|error| < 0.04) beside the trivial answer 1.0 (MSE about
    0.167), and plots the learning curve.
    """
    import torch

    from lstmcast.experiment import adding_batch, adding_problem
    from lstmcast.files import check_output, image_format, real_path

    if gates is not None and cell != "lstm":
        raise lc.ConfigError(f"--gates shows an LSTM's gates; a {cell} has none to trace")
    check_output(output, example="adding.png")
    image_format(output, what="--output")
    if gates is not None:
        check_output(gates, what="--gates", example="gates.png")
        image_format(gates, what="--gates")
        if real_path(gates) == real_path(output):
            raise lc.ConfigError(
                f"--gates and --output name the same file {str(gates)!r}; give each plot its own"
            )
    torch.set_num_threads(threads)
    bar, on_step = _adding_progress(steps, quiet)
    try:
        result = adding_problem(
            length, cell=cell, steps=steps, batch_size=batch_size, hidden_size=hidden_size,
            lr=lr, seed=seed, budget=budget, chrono=chrono, until_accuracy=until_accuracy,
            on_step=on_step,
        )  # fmt: skip
    finally:
        if bar is not None:
            bar.stop()
    lc.plot_adding(result, path=output)
    if gates is not None:
        # A sequence the network has not seen: from its own generator, not the test set's.
        x, _ = adding_batch(1, length, torch.Generator().manual_seed(seed + 1))
        with torch.no_grad():
            trace = result.network.rnn.trace(x)  # type: ignore[union-attr]
        lc.plot_gates(trace, inputs=x[0], input_labels=("value", "marker"), path=gates)

    from rich.table import Table

    table = Table(title=f"Adding problem, T = {length}: {cell}")
    for column in ("", "test MSE", "accuracy"):
        table.add_column(column, justify="right" if column else "left")
    table.add_row(cell, f"{result.test_mse:.5f}", f"{result.accuracy:.1%}")
    table.add_row("always 1.0", f"{result.baseline_mse:.5f}", "-")
    reason = {"solved": f"accuracy >= {until_accuracy:g}", "steps": "--steps", "budget": "--budget"}
    console = _stdout()
    console.print(table)
    console.print(
        f"{result.steps} steps in {result.seconds:.1f} s (stopped by {reason[result.stopped]}), "
        f"chrono {'on' if result.settings['chrono'] else 'off'}, seed {seed}\nwrote {output}"
        + (f" and {gates}" if gates is not None else ""),
        markup=False,
    )


def _adding_progress(steps: int, quiet: bool) -> tuple[Any, Any]:
    """A rich progress bar on stderr and its ``on_step`` callback (None, None if quiet).

    The bar starts at the first step, so an error in the settings is not drawn into it.
    """
    if quiet:
        return None, None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(
        TextColumn("step"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        console=_stderr(),
    )
    task = bar.add_task("adding", total=steps, status="")

    def on_step(step: int, loss: float, last: Any) -> None:
        if step == 1:
            bar.start()
        status = f"loss {loss:.4f}  test MSE {last.test_mse:.4f}  accuracy {last.accuracy:.1%}"
        bar.update(task, completed=step, status=status)

    return bar, on_step


def main() -> None:
    """Entry point of the ``lstmcast`` script and of ``python -m lstmcast``."""
    app(prog_name="lstmcast")
