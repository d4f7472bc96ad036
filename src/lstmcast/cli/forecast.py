"""``lstmcast forecast``: forecast every series with a saved model and write the forecasts.

The forecast step of the data flow (input frame -> windows -> model -> *forecast*): load the
model, forecast past the end of its training data or of new history, write one file; under
torchrun each rank writes its part through :mod:`lstmcast.sharded`.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

import lstmcast as lc
from lstmcast.cli.console import note_on_success, stdout
from lstmcast.cli.options import Level, ModelDir, Reading, model_reading_options
from lstmcast.cli.reading import read_columns, read_for_model

if TYPE_CHECKING:
    from collections.abc import Callable

    import pandas as pd


@model_reading_options
def forecast(
    *,
    model_dir: ModelDir,
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
    futr_data: Annotated[
        Path | None,
        typer.Option(
            "--futr-data",
            help="A model with future-known covariates: their values at each of the --h times "
            "after every series' history (CSV or Parquet: id, time and the --futr-col columns).",
        ),
    ] = None,
    cold_start: Annotated[
        bool,
        typer.Option(
            "--cold-start",
            help="Forecast --data series the model never saw, scaled from their own history "
            "(column cold_start says which). Without it such a series is an error.",
        ),
    ] = False,
    reading: Reading,
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

    # The new history of --data, read as the model's training data was (None: forecast past
    # the training data saved with the model).
    read = None if data is None else functools.partial(read_for_model, data=data, reading=reading)
    if distributed.launched_by_torchrun():
        _forecast_parts(model_dir, output, h, level, data, read, futr_data)
        return
    check_output(
        output,
        [("the model directory", model_dir), ("the data", data), ("--futr-data", futr_data)],
        example="forecast.csv",
    )
    frame_format(output, what="--output")
    model = lc.load(model_dir)
    df = None if read is None else read(model)
    futr_df = None if futr_data is None else _read_future(futr_data, model)
    frame = model.predict(
        h, df=df, level=level, futr_df=futr_df, cold_start=cold_start, **read_columns()
    )
    # Atomic: a crash or Ctrl-C never leaves a half-written forecast behind.
    write_frame(frame, output)
    if "cold_start" in frame.columns:
        note_on_success([cold_start_note(frame)])
    caveat = model.caveat_at(level or [])
    if caveat:  # said where the intervals are used, not only when the model was trained
        typer.echo(f"warning: {caveat}", err=True)
    n_series = frame["unique_id"].nunique()
    stdout().print(
        f"wrote {count(len(frame), 'row')} ({n_series} series x {len(frame) // n_series} "
        f"step{'' if len(frame) == n_series else 's'}) to {output}",
        markup=False,
    )


def _forecast_parts(
    model_dir: Path,
    output: Path,
    h: int | None,
    level: list[float] | None,
    data: Path | None,
    read: Callable[[lc.LSTMForecaster], pd.DataFrame] | None,
    futr_data: Path | None,
) -> None:
    """Under torchrun: this rank's part of the forecast in directory ``output`` (every rank
    reads ``futr_data`` whole and uses its own series' rows)."""
    from lstmcast import distributed
    from lstmcast.errors import count
    from lstmcast.sharded import forecast_part
    from lstmcast.torchrun import process_group

    # Only small objects cross between the processes here: gloo whatever the device.
    with process_group("cpu", planned_exits=(typer.Exit,)):
        written = forecast_part(
            model_dir,
            output,
            h,
            level,
            read_history=read,
            history_is_shared=data is not None and not data.is_dir(),  # every rank reads it all
            inputs=[("the data", data), ("--futr-data", futr_data)],
            read_future=None if futr_data is None else functools.partial(_read_future, futr_data),
        )
        if distributed.rank() == 0:
            if written.caveat:  # as one process says it (see forecast above)
                typer.echo(f"warning: {written.caveat}", err=True)
            stdout().print(
                f"wrote {count(written.rows, 'row')} ({written.series} series) in "
                f"{count(len(written.parts), 'part')} to {output}",
                markup=False,
            )


def _read_future(futr_data: Path, model: lc.LSTMForecaster) -> pd.DataFrame:
    """The future-known covariates of file ``futr_data``, ids read as the model's (text)."""
    return lc.read_table(futr_data, id_col=model.columns_.get("id_col"))


def cold_start_note(frame: pd.DataFrame) -> str:
    """The line that says which series of forecast ``frame`` were cold-started."""
    from lstmcast.errors import count

    cold = frame.loc[frame["cold_start"], "unique_id"].drop_duplicates().astype(str).tolist()
    shown = ", ".join(repr(i) for i in cold[:5]) + (", ..." if len(cold) > 5 else "")
    return (
        f"cold-started {count(len(cold), 'series', 'series')} the model never saw: {shown} "
        "(scaled from the history given; column cold_start)"
    )
