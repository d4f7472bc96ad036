"""The command line's shared options, each declared once, and how commands receive them.

Where the command line meets the first step of the data flow (input frame -> windows -> model
-> forecast -> metrics/plots). Options several commands take are declared here once; a group
of them (how DATA is read, or the model settings of :mod:`lstmcast.cli.model_options`) is
spliced into a command's signature by :func:`in_place_of`, and reaches the command as one
object: a new option of a group is one edit.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Annotated, Any

import typer

Command = Callable[..., None]

# --------------------------------------------------------------------------------------------
# How DATA is read

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
# DATA, the series a command reads (train says "training data" in its own words).
Data = Annotated[
    Path,
    typer.Argument(
        metavar="DATA",
        help="The series, a CSV or Parquet file or a directory of them.",
        show_default=False,
    ),
]
ModelDir = Annotated[
    Path,
    typer.Argument(metavar="MODEL_DIR", help="A model directory written by `lstmcast train`."),
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
# The --static-col values in their own file (commands that train).
StaticData = Annotated[
    Path | None,
    typer.Option(
        "--static-data",
        help="The --static-col values in their own CSV or Parquet file: the series id column "
        "and one row per series (instead of columns of DATA).",
    ),
]
Quiet = Annotated[
    bool, typer.Option("--quiet", "-q", help="Show no progress bar (nor how DATA was read).")
]
Level = Annotated[
    list[float] | None,
    typer.Option(
        "--level",
        help="Prediction-interval level in percent, e.g. 80 (repeatable). Needs a model trained "
        "with --val-size (conformal intervals, calibrated on its validation points) or with "
        "--quantile-level (learned quantiles; conformalized too when it had --val-size).",
    ),
]


@dataclass(frozen=True)
class Reading:
    """How a command reads DATA: column names and layout (None: found as for any file, or for
    a saved model's data: as it was trained)."""

    time_col: str | None
    target_col: str | None
    id_col: str | None
    layout: str | None
    ignore_col: list[str] | None

    def columns(self) -> dict[str, str | None]:
        """The column names as the library's keywords (``id_col=...``)."""
        return {"id_col": self.id_col, "time_col": self.time_col, "target_col": self.target_col}


def in_place_of(
    name: str, options: Sequence[inspect.Parameter], gather: Callable[[Mapping[str, Any]], Any]
) -> Callable[[Command], Command]:
    """A decorator that gives a command ``options`` where it declares parameter ``name``.

    Typer reads a command's options from its signature: the decorated command's signature has
    ``options`` in place of the (keyword-only) parameter ``name``, and it calls the command with
    ``name=gather(values)``, the values of the options by parameter name. An option the command
    declares itself keeps the command's declaration, and still reaches ``gather``.
    """

    def decorate(command: Command) -> Command:
        signature = inspect.signature(command, eval_str=True)  # typer needs the types themselves
        own = signature.parameters
        parameters: list[inspect.Parameter] = []
        for parameter in own.values():
            if parameter.name == name:
                parameters += [option for option in options if option.name not in own]
            else:  # keyword-only, as typer calls it: the order of defaults does not matter
                parameters.append(parameter.replace(kind=inspect.Parameter.KEYWORD_ONLY))

        @functools.wraps(command)
        def gathered(**given: Any) -> None:
            command(
                **{key: value for key, value in given.items() if key in own},
                **{name: gather(given)},
            )

        gathered.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
        gathered.__annotations__ = {p.name: p.annotation for p in parameters}
        del gathered.__wrapped__  # typer must see the new signature, not the command's
        return gathered

    return decorate


def _reading_options(time_col: Any, target_col: Any, id_col: Any) -> Callable[[Command], Command]:
    """The reading options with these column options, in place of ``reading: Reading``."""
    annotations = {
        "time_col": time_col,
        "target_col": target_col,
        "id_col": id_col,
        "layout": DataLayout,
        "ignore_col": IgnoreCol,
    }
    options = [
        inspect.Parameter(key, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=kind)
        for key, kind in annotations.items()
    ]
    return in_place_of(
        "reading",
        options,
        lambda given: Reading(**{f.name: given[f.name] for f in fields(Reading)}),
    )


# --time-col, --target-col, --id-col, --layout, --ignore-col in place of ``reading: Reading``:
# for new data (defaults found as for any file) and for a saved model's (defaults: the model's).
reading_options = _reading_options(TimeCol, TargetCol, IdCol)
model_reading_options = _reading_options(ModelTimeCol, ModelTargetCol, ModelIdCol)
