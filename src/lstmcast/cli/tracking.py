"""The run-tracking options of the commands that train (``--tensorboard``, ``--mlflow``), and the
loggers they ask for.

Declared once and spliced into ``train``, ``backtest`` and ``tune`` (as the reading options
are): each command receives one :class:`Tracking` and opens its loggers with
:func:`run_loggers`, which checks, before any work, that the extra is installed and that the
logs go nowhere a command reads or replaces. The loggers themselves are
:mod:`lstmcast.tracking`'s.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from lstmcast.cli.options import Command, in_place_of

if TYPE_CHECKING:
    from lstmcast.tracking import RunLogger

TensorBoardDir = Annotated[
    Path | None,
    typer.Option(
        "--tensorboard",
        metavar="DIR",
        help="Log the run to TensorBoard in DIR (tensorboard --logdir DIR): losses by batch and "
        "epoch, learning rate, every setting, the final metrics. Needs "
        "pip install 'lstmcast[track]'.",
    ),
]
MLflowFlag = Annotated[
    bool,
    typer.Option(
        "--mlflow",
        help="Log the run to MLflow (losses, settings as params, final metrics), in "
        "--mlflow-uri, else $MLFLOW_TRACKING_URI, else the file store ./mlruns. Needs "
        "pip install 'lstmcast[track]'.",
    ),
]
MLflowUri = Annotated[
    str | None,
    typer.Option(
        "--mlflow-uri",
        help="MLflow tracking URI or store directory (implies --mlflow): a folder (a file "
        "store), http://host:5000, sqlite:///mlflow.db, ...",
    ),
]
MLflowExperiment = Annotated[
    str | None,
    typer.Option(
        "--mlflow-experiment",
        help="MLflow experiment of the run, created when missing (implies --mlflow). "
        "Default: lstmcast.",
    ),
]


@dataclass(frozen=True)
class Tracking:
    """Where a command logs its run (None / False: not there)."""

    tensorboard: Path | None
    mlflow: bool
    mlflow_uri: str | None
    mlflow_experiment: str | None

    @property
    def to_mlflow(self) -> bool:
        return self.mlflow or self.mlflow_uri is not None or self.mlflow_experiment is not None


_ANNOTATIONS = {
    "tensorboard": (TensorBoardDir, None),
    "mlflow": (MLflowFlag, False),
    "mlflow_uri": (MLflowUri, None),
    "mlflow_experiment": (MLflowExperiment, None),
}


def tracking_options(command: Command) -> Command:
    """Give ``command`` the tracking options in place of its parameter ``tracking: Tracking``."""
    options = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=kind)
        for name, (kind, default) in _ANNOTATIONS.items()
    ]
    return in_place_of(
        "tracking",
        options,
        lambda given: Tracking(**{f.name: given[f.name] for f in fields(Tracking)}),
    )(command)


@contextlib.contextmanager
def run_loggers(
    tracking: Tracking,
    run_name: str,
    inputs: Sequence[tuple[str, Path | None]] = (),
    replaced: Sequence[tuple[str, Path | None]] = (),
) -> Iterator[list[RunLogger]]:
    """The loggers ``tracking`` asks for, closed on the way out (the run marked failed when the
    command fails).

    Refused before any work: a missing extra, and logs that would go where the command reads
    (``inputs``: description, path) or inside a directory it replaces (``replaced``: a model
    directory, which must hold only lstmcast's files).
    """
    from lstmcast.tracking import MLflowLogger, TensorBoardLogger, store_directory

    loggers: list[RunLogger] = []
    if tracking.tensorboard is not None:
        _check_log_directory(tracking.tensorboard, "--tensorboard", inputs, replaced)
        loggers.append(TensorBoardLogger(tracking.tensorboard))
    if tracking.to_mlflow:
        store = store_directory(tracking.mlflow_uri)
        if store is not None:
            _check_log_directory(store, "--mlflow-uri", inputs, replaced)
        experiment = tracking.mlflow_experiment
        loggers.append(
            MLflowLogger(tracking.mlflow_uri, run_name=run_name)
            if experiment is None
            else MLflowLogger(tracking.mlflow_uri, experiment, run_name=run_name)
        )
    with contextlib.ExitStack() as stack:
        for logger in loggers:
            stack.enter_context(logger)
        yield loggers


def _check_log_directory(
    directory: Path,
    what: str,
    inputs: Sequence[tuple[str, Path | None]],
    replaced: Sequence[tuple[str, Path | None]],
) -> None:
    """Refuse a log directory that is (or lies inside) something the command reads or
    replaces, or that cannot be written."""
    from lstmcast.errors import ConfigError
    from lstmcast.files import check_output, real_path

    for description, path in replaced:
        if path is not None and real_path(directory).is_relative_to(real_path(path)):
            raise ConfigError(
                f"{what} {str(directory)!r} lies inside {description} {str(path)!r}, which this "
                "command replaces: write the logs outside it"
            )
    check_output(directory, list(inputs), what=what, directory=True)
