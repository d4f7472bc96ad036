"""The ``lstmcast`` command line: thin commands over the public API (``import lstmcast as lc``).

Every command parses its options, calls the library and prints; each lives in a module of its
own (:mod:`~lstmcast.cli.train`, ...), over :mod:`~lstmcast.cli.options` (every shared option
declared once), :mod:`~lstmcast.cli.model_options` (one table of the model's), ``reading`` (DATA
as one frame) and :mod:`~lstmcast.cli.console` (output, progress, and errors as one line
``error: <message>`` with exit code 1). This module assembles the app.

torch, pandas, matplotlib and most of rich are imported inside the commands, so ``--help`` stays
fast (as long as ``import lstmcast`` itself is light).
"""

from __future__ import annotations

from typing import Annotated

import typer

from lstmcast import __version__
from lstmcast.cli import (
    audit,
    backtest,
    demo,
    experiment,
    export,
    forecast,
    info,
    inspect,
    plot,
    train,
    tune,
)
from lstmcast.cli.console import Group

app = typer.Typer(
    name="lstmcast",
    cls=Group,
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
            help="CPU threads for torch, whatever the load. Default: one per core that other "
            "processes leave idle when each network starts training (at most torch's count: "
            "one per core, or OMP_NUM_THREADS); the same count repeats a run bit for bit.",
        ),
    ] = None,
) -> None:
    """Forecast time series with LSTM networks (PyTorch).

    Data is a CSV file, long (time, target and optionally id columns) or wide (a time column and
    one column per series). Run `lstmcast demo` for a quick tour.
    """
    if threads is not None:
        import lstmcast as lc  # torch only when asked: `lstmcast --help` stays fast

        lc.pin_threads(threads)


# In the order `lstmcast --help` lists them.
for _command in (
    demo.demo,
    train.train,
    forecast.forecast,
    backtest.backtest,
    tune.tune,
    plot.plot,
    inspect.inspect,
    audit.audit,
    info.info,
    export.export,
):
    app.command()(_command)
experiment.experiment_app.command()(experiment.adding)
app.add_typer(experiment.experiment_app, name="experiment")


def main() -> None:
    """Entry point of the ``lstmcast`` script and of ``python -m lstmcast``."""
    app(prog_name="lstmcast")
