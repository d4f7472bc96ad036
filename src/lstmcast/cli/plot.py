"""``lstmcast plot``: draw the history of DATA and the forecasts of a forecast file.

The last step of the data flow (input frame -> windows -> model -> forecast -> *plots*) on the
command line: read the history, read a forecast file (CSV or Parquet, its ids and times typed
like the history's) and plot one panel per series.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

import lstmcast as lc
from lstmcast.cli.console import stdout
from lstmcast.cli.options import Reading, reading_options
from lstmcast.cli.reading import read_data

if TYPE_CHECKING:
    import pandas as pd


@reading_options
def plot(
    *,
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
    reading: Reading,
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
    # A missing value of the history is drawn as a gap: nothing is filled or forecast here.
    history = read_data(data, reading, keep_missing=True)
    forecast_frame = _read_forecast(forecast_file, like=history)
    lc.plot_forecast(history, forecast_frame, ids=ids, max_history=max_history, path=output)
    stdout().print(f"wrote {output}", markup=False)


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
