"""Reading data files: CSV and Parquet files into the validated long frame ``unique_id, ds, y``.

The entry of the data flow for files (file -> **reading** -> layout and validation in
:mod:`lstmcast.data` -> windows -> model -> forecast -> metrics/plots). What is particular to
files is handled here: the header line as written (pandas would rename duplicated or empty
names), UTF-8 faults named by line and byte, rows named by the line an editor shows, a Parquet
file's stored index, and a directory of files (:func:`data_files`, :func:`read_files`).
"""

from __future__ import annotations

import csv
import functools
import logging
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .columns import ID, TIME
from .data import panel_of
from .errors import ConfigError, DataError, count
from .layout import Layout, Where, layouts, preview, with_layouts

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger("lstmcast")

# The file types a data directory may hold.
DATA_SUFFIXES = (".csv", ".parquet")


def _naming(error: DataError, file: Path) -> DataError:
    """``error``, or the same message after the file's name if it does not name the file."""
    text = str(error)
    return error if file.name in text else DataError(f"{file.name}: {text}")


def _existing(path: str | os.PathLike[str]) -> Path:
    """``path`` as a Path; a DataError if it is no file."""
    file = Path(path)
    if not file.is_file():
        raise DataError(f"data file {str(file)!r} not found")
    return file


def _blank(fields: list[str]) -> bool:
    # pandas skips blank (or whitespace-only) lines, so they are not data rows.
    return not fields or (len(fields) == 1 and not fields[0].strip())


def _records(file: Path) -> Iterator[tuple[int, list[str]]]:
    """Each record of a CSV file that pandas reads (the header first), with the line it begins on.

    Lines count as an editor shows them: blank lines and newlines inside quoted fields included.
    """
    with file.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        end = 0
        for fields in reader:
            start, end = end + 1, reader.line_num
            if not _blank(fields):
                yield start, fields


def _line_of_row(file: Path, row: int) -> int | None:
    """The line of ``file`` (from 1) on which data row ``row`` (from 0) begins; None if unknown."""
    try:
        for number, (line, _) in enumerate(_records(file)):
            if number == row + 1:  # record 0 is the header
                return line
    except (OSError, UnicodeDecodeError, csv.Error):
        return None
    return None


def _ragged_row(file: Path, width: int) -> tuple[int, int] | None:
    """The line and field count of the first data row of ``file`` without ``width`` fields."""
    try:
        for number, (line, fields) in enumerate(_records(file)):
            if number > 0 and len(fields) != width:
                return line, len(fields)
    except (OSError, UnicodeDecodeError, csv.Error):
        return None
    return None


def _header(file: Path) -> list[str]:
    """The column names on the header line of a CSV file, as written.

    Read here because pandas renames what it reads (a second ``a`` becomes ``a.1``, an empty
    name ``Unnamed: 2``); lstmcast refuses both instead.
    """
    try:
        _, fields = next(_records(file), (0, []))
    except UnicodeDecodeError:
        raise _not_utf8(file) from None
    except csv.Error as error:
        raise DataError(f"{file.name} is not a readable CSV file: {error}") from None
    if not fields:
        raise DataError(f"{file.name} is empty; expected a header line and data rows")
    seen: set[str] = set()
    for number, name in enumerate(fields, start=1):
        if not name:
            if number == 1:
                why = (
                    " (a frame saved by pandas' to_csv keeps its index as an unnamed first "
                    "column: save with index=False)"
                )
            elif number == len(fields):
                why = " (or remove the comma that ends the header line and every row)"
            else:
                why = ""
            raise DataError(
                f"column {number} of the header line of {file.name} has no name; name it{why}"
            )
        if name in seen:
            raise DataError(
                f"{file.name} has two columns named {name!r} on its header line; rename one "
                "(lstmcast never renames columns)"
            )
        seen.add(name)
    return fields


def _not_utf8(file: Path) -> DataError:
    """The error for a file that is not UTF-8, naming the line and the first bad byte."""
    data = file.read_bytes()
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return DataError(
            f"{file.name} is UTF-16 text (it begins with a UTF-16 byte-order mark); re-save it as "
            "UTF-8 (iconv -f utf-16 -t utf-8 old.csv > new.csv)"
        )
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        before = data[: error.start]
        line_start = max(before.rfind(b"\n"), before.rfind(b"\r")) + 1
        line = len(re.findall(rb"\r\n|\r|\n", before)) + 1
        column = len(before[line_start:].decode("utf-8", errors="replace")) + 1
        return DataError(
            f"{file.name} is not UTF-8 text: line {line} has the byte "
            f"0x{data[error.start]:02x} at character {column}; re-save the file as UTF-8 "
            "(from Latin-1: iconv -f latin1 -t utf-8 old.csv > new.csv)"
        )
    return DataError(f"{file.name} is not UTF-8 text; re-save it as UTF-8")


def read_csv(
    path: str | os.PathLike[str],
    *,
    time_col: str | None = None,
    target_col: str | None = None,
    id_col: str | None = None,
    layout: str | None = None,
    ignore_cols: Sequence[str] = (),
    covariate_cols: Sequence[str] = (),
    keep_missing: bool = False,
) -> pd.DataFrame:
    """Read a CSV file into the validated long frame ``unique_id, ds, y``.

    The columns and layout are understood as in :func:`to_long` (``time_col`` defaults to
    ``ds``: a file's times are always a column); :func:`layouts` of the result says how. The
    file must be UTF-8; ids are text (``NA`` or ``None`` name a series, an empty cell is
    missing). Errors name the line of the file. ``covariate_cols`` are read beside the target
    (numbers; a missing value stays NaN) and kept as columns of the result. ``keep_missing``: a
    missing target value stays NaN too (for a model with ``missing``), instead of an error.
    """
    import pandas as pd

    file = _existing(path)
    # pandas' default missing-value markers ("", "NA", "nan", "null", ...), kept for every column
    # but the ids; pandas documents the list but exports it only here.
    from pandas._libs.parsers import STR_NA_VALUES

    header = _header(file)
    id_name = id_col if id_col is not None else ID
    # Ids are names: "01" and "1" are two series, "NA" is a series; never read them as numbers
    # or as missing. Every other column keeps pandas' missing-value markers.
    missing_markers = {name: sorted(STR_NA_VALUES) for name in header if name != id_name}
    try:
        frame = pd.read_csv(
            file,
            dtype={id_name: str},
            keep_default_na=False,
            na_values=missing_markers,
            dtype_backend="numpy_nullable",
        )
    except pd.errors.EmptyDataError:
        raise DataError(f"{file.name} is empty; expected a header line and data rows") from None
    except UnicodeDecodeError:
        raise _not_utf8(file) from None
    except pd.errors.ParserError as error:
        ragged = _ragged_row(file, len(header))
        if ragged is not None:  # pandas counts lines without blank ones and quoted newlines
            line, fields = ragged
            raise DataError(
                f"line {line} of {file.name} has {count(fields, 'field')}, but "
                "its header line names "
                f"{len(header)}; every row needs one field per column"
            ) from None
        first_line = str(error).strip().splitlines()[-1] if str(error).strip() else ""
        raise DataError(f"{file.name} is not a readable CSV file: {first_line}") from None
    if not isinstance(frame.index, pd.RangeIndex):
        # pandas takes the first columns as the index when rows have more fields than names.
        raise DataError(
            f"the data rows of {file.name} have more fields than its header line names "
            f"({preview(header)}); name every column on the header line"
        )
    if list(frame.columns) != header:  # never expected: _header reads as pandas does
        raise DataError(f"the header line of {file.name} could not be read consistently")
    if len(frame) == 0:
        raise DataError(f"{file.name} has a header but no data rows")
    if len(frame.columns) == 1 and time_col is None and TIME not in frame.columns:
        raise DataError(
            f"{file.name} has a single column {str(frame.columns[0])!r}: is the delimiter a "
            "comma? lstmcast reads comma-separated files with a header line"
        )
    where = Where(file.name, functools.partial(_line_of_row, file))
    panel, how = panel_of(
        frame, id_col, time_col, target_col, where, layout, tuple(ignore_cols),
        covariate_cols=tuple(covariate_cols), keep_missing=keep_missing,
    )  # fmt: skip
    return with_layouts(panel.to_frame(), (how,))


def read_parquet(
    path: str | os.PathLike[str],
    *,
    time_col: str | None = None,
    target_col: str | None = None,
    id_col: str | None = None,
    layout: str | None = None,
    ignore_cols: Sequence[str] = (),
    covariate_cols: Sequence[str] = (),
    keep_missing: bool = False,
) -> pd.DataFrame:
    """Read a Parquet file into the validated long frame ``unique_id, ds, y`` (as :func:`read_csv`).

    Needs pyarrow (``pip install 'lstmcast[parquet]'``).
    """
    import pandas as pd

    file = _existing(path)
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ConfigError(
            f"reading {file.name} needs pyarrow, which is not installed; install it with "
            "pip install 'lstmcast[parquet]'"
        ) from None
    try:
        frame = pq.read_table(file).to_pandas()
    except (OSError, ValueError) as error:  # pyarrow's ArrowInvalid is a ValueError
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise DataError(f"{file.name} is not a readable Parquet file: {first_line}") from None
    if len(frame) == 0:
        raise DataError(f"{file.name} has no rows")
    # pyarrow restores the pandas index a file was written with. A named one is a column of the
    # file (``ds`` or ``unique_id`` saved by set_index), unless it is the file's one unnamed-
    # column-free time index; positions 0, 1, ... (no index stored) are no times at all.
    index = frame.index
    names = [name for name in index.names if name is not None]
    index_time = not isinstance(index, pd.RangeIndex)
    if names and (
        isinstance(index, pd.MultiIndex)
        or index.name in (TIME, ID, time_col, id_col, target_col, *ignore_cols)
    ):
        clash = [name for name in names if name in frame.columns]
        if clash:
            raise DataError(
                f"{file.name} has an index and a column both named {str(clash[0])!r}; "
                "rename one (lstmcast never renames columns)"
            )
        frame = frame.reset_index(level=names)
        index_time = not isinstance(frame.index, pd.RangeIndex)
    try:
        panel, how = panel_of(
            frame,
            id_col,
            time_col,
            target_col,
            Where(),
            layout,
            tuple(ignore_cols),
            file.name,
            index_time=index_time,
            covariate_cols=tuple(covariate_cols),
            keep_missing=keep_missing,
        )
    except DataError as error:  # rows of a Parquet file are counted from 0, without a header
        raise _naming(error, file) from None
    return with_layouts(panel.to_frame(), (how,))


def read_table(path: str | os.PathLike[str], id_col: str | None = None) -> pd.DataFrame:
    """A CSV or Parquet file as it is (no layout read, nothing validated): for frames that are
    not series, such as a forecast's future covariates (``predict(futr_df=...)`` checks them).
    Ids (``id_col``, default ``unique_id``) are read as text."""
    import pandas as pd

    file = _existing(path)
    try:
        if file.suffix == ".parquet":
            import pyarrow.parquet as pq

            return pq.read_table(file).to_pandas()
        return pd.read_csv(file, dtype={id_col or ID: str})
    except ImportError:
        raise ConfigError(
            f"reading {file.name} needs pyarrow: pip install 'lstmcast[parquet]'"
        ) from None
    except UnicodeDecodeError:
        raise _not_utf8(file) from None
    except (OSError, ValueError, pd.errors.ParserError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise DataError(f"{file.name} could not be read: {first_line}") from None


def data_files(path: str | os.PathLike[str]) -> list[Path]:
    """The files of ``path``: the file itself, or a directory's CSV and Parquet files, by name."""
    where = Path(path)
    if where.is_dir():
        files = sorted(f for f in where.iterdir() if f.suffix in DATA_SUFFIXES and f.is_file())
        if not files:
            raise DataError(f"directory {str(where)!r} holds no .csv or .parquet files")
        return files
    return [_existing(where)]


def read_files(
    files: list[Path],
    *,
    time_col: str | None = None,
    target_col: str | None = None,
    id_col: str | None = None,
    layout: str | None = None,
    ignore_cols: Sequence[str] = (),
    covariate_cols: Sequence[str] = (),
    keep_missing: bool = False,
) -> pd.DataFrame:
    """Read CSV and Parquet ``files``, each holding whole series, into one long frame.

    Every file read is logged (logger ``lstmcast``, level INFO); :func:`layouts` of the result
    says how each was read. A series found in two files is an error: a series is never split
    across files; so are files whose times are in different zones. ``keep_missing``: as in
    :func:`read_csv`.
    """
    import pandas as pd

    frames = []
    first_file: dict[str, str] = {}
    how: list[Layout] = []
    for file in files:
        reader = read_parquet if file.suffix == ".parquet" else read_csv
        try:
            frame = reader(
                file,
                time_col=time_col,
                target_col=target_col,
                id_col=id_col,
                layout=layout,
                ignore_cols=ignore_cols,
                covariate_cols=covariate_cols,
                keep_missing=keep_missing,
            )
        except DataError as error:  # among several files, say which one
            if len(files) == 1:
                raise
            raise _naming(error, file) from None
        ids = frame[ID].unique()
        for series_id in ids:
            if series_id in first_file:
                raise DataError(
                    f"series {series_id!r} is in both {first_file[series_id]} and {file.name}; "
                    "keep each series whole in one file"
                )
            first_file[series_id] = file.name
        this = layouts(frame)[0]
        if how and this.tz != how[0].tz:
            zones = [f"{layout.tz or 'no zone'} ({layout.source})" for layout in (how[0], this)]
            raise DataError(
                f"the times of the files are in different zones: {' and '.join(zones)}; "
                "convert them to one zone first"
            )
        log.info("read %s: %d series, %d rows", file.name, len(ids), len(frame))
        frames.append(frame)
        how.append(this)
    combined = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    return with_layouts(combined, tuple(how))
