"""DATA as the commands read it: one long frame, and a note on stderr of how it was read.

The first step of the data flow (*input frame* -> windows -> model -> forecast -> metrics/plots)
on the command line: a file or a directory of files (under torchrun, this rank's share of them),
read with the column options or, for a saved model, with the names it was trained with.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

import lstmcast as lc
from lstmcast.cli.console import note_on_success
from lstmcast.cli.options import Reading

if TYPE_CHECKING:
    import pandas as pd

    from lstmcast.cli.model_options import ModelSettings
    from lstmcast.lstm_forecaster import LSTMForecaster

# Files whose reading is described one per line; beyond, one summary line.
_DESCRIBED_FILES = 3


def read_columns() -> dict[str, str]:
    """The column names of the long frame :func:`read_data` returns, as the library's keywords."""
    from lstmcast.columns import ID, TARGET, TIME  # with numpy: not for `--help`

    return {"id_col": ID, "time_col": TIME, "target_col": TARGET}


def read_data(
    data: Path,
    reading: Reading,
    quiet: bool = False,
    covariate_cols: tuple[str, ...] = (),
    static_cols: tuple[str, ...] = (),
) -> pd.DataFrame:
    """DATA as one long frame: a file, or a directory's files (under torchrun, this rank's),
    with the ``covariate_cols`` beside the target and each series' ``static_cols`` values.

    How each file was read (layout, columns, time zone) is said on stderr when the command
    succeeds: stdout stays parseable, and an error is still one line.
    """
    files = lc.data_files(data)
    if data.is_dir():
        from lstmcast import distributed

        if distributed.active():
            files = distributed.assign_files(files, distributed.world_size())[distributed.rank()]
    # Static columns may hold text (categories): read from the files as they are, first, so
    # that a missing one is named as such.
    statics = _static_values(files, reading, static_cols) if static_cols else None
    frame = lc.read_files(
        files,
        **reading.columns(),
        layout=reading.layout,
        ignore_cols=(*(reading.ignore_col or ()), *static_cols),
        covariate_cols=covariate_cols,
    )
    if statics is not None:
        from lstmcast.covariates import with_static_columns

        frame = with_static_columns(frame, statics)
    if not quiet:
        how = lc.layouts(frame)
        lines = [f"read {layout_read}" for layout_read in how[:_DESCRIBED_FILES]]
        if len(how) > _DESCRIBED_FILES:
            more = how[_DESCRIBED_FILES:]
            series = sum(layout_read.n_series for layout_read in more)
            lines.append(f"read {len(more)} more files of {data}: {series} series")
        note_on_success(lines)
    return frame


def _static_values(
    files: list[Path], reading: Reading, static_cols: tuple[str, ...]
) -> pd.DataFrame:
    """Each series' static values in ``files``, indexed by series id."""
    import pandas as pd

    from lstmcast.columns import ID
    from lstmcast.covariates import static_table

    id_col = reading.columns()["id_col"] or ID
    tables = [
        static_table(lc.read_table(file, id_col=id_col), id_col, static_cols, file.name)
        for file in files
    ]
    return pd.concat(tables)


def read_training_data(
    data: Path, reading: Reading, quiet: bool, settings: ModelSettings, static_data: Path | None
) -> pd.DataFrame:
    """DATA with the covariates the model ``settings`` declare; the static ones from file
    ``static_data`` (the id column and one row per series) when given, else from DATA."""
    statics = settings.static_cols()
    static_from_data = () if static_data else statics
    df = read_data(data, reading, quiet, settings.covariate_cols(), static_from_data)
    return _with_static_file(df, static_data, reading, statics)


def _with_static_file(
    df: pd.DataFrame, static_data: Path | None, reading: Reading, statics: tuple[str, ...]
) -> pd.DataFrame:
    """``df`` with the ``statics`` columns of file ``static_data`` merged in by series (None:
    ``df`` as it is, which holds them)."""
    if static_data is None:
        return df
    from lstmcast.columns import ID
    from lstmcast.covariates import merge_static

    id_name = reading.columns()["id_col"] or ID
    table = lc.read_table(static_data, id_col=id_name).rename(columns={id_name: ID})
    return merge_static(df, table, ID, statics)


def as_in_file(df: pd.DataFrame, reading: Reading) -> tuple[pd.DataFrame, dict[str, str]]:
    """``df`` (as :func:`read_data` returns it) under the file's column names that were given,
    and those names as the library's keywords: a model trained on it keeps them, so forecast
    and inspect read data in the same layout without being told them again."""
    names = {key: name for key, name in reading.columns().items() if name is not None}
    read_as = read_columns()
    return df.rename(columns={read_as[key]: name for key, name in names.items()}), names


def read_for_model(
    model: LSTMForecaster, data: Path, reading: Reading, static_data: Path | None = None
) -> pd.DataFrame:
    """New history for a saved model: its column names and layout unless others are given
    (a model's None: found as for any file); its static columns from ``static_data`` (the id
    column and one row per series) when given, else from DATA."""
    given = reading.columns()
    columns = {key: given[key] or name for key, name in model.columns_.items()}
    layout = reading.layout or getattr(model, "layout_", None)
    from lstmcast.covariates import spec_of

    covariates = spec_of(model.get_params())
    reading = dataclasses.replace(reading, **columns, layout=layout)
    statics = () if static_data else covariates.static
    df = read_data(data, reading, False, covariates.dynamic, statics)
    return _with_static_file(df, static_data, reading, covariates.static)
