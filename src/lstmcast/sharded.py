"""Sharded forecasting: each rank of a torchrun launch forecasts its share of the series.

Sits at the forecast end of the data flow (input frame -> windows -> model -> *forecast* ->
metrics/plots), for many series at once: every rank loads the saved model (or only its share of
the series saved with it), forecasts them and writes its own ``part-<rank>.parquet`` into one
directory; rank 0 then writes :data:`MANIFEST`, which lists the parts. Used by ``lstmcast
forecast`` under torchrun and by ``benchmarks/scale.py``; without a process group it is the
single-rank case (one part file). See docs/scaling.md.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from . import distributed
from .columns import ID, TARGET, TIME, interval_column
from .errors import ConfigError
from .files import atomic_path, check_output, require_pyarrow
from .lstm_forecaster import load

if TYPE_CHECKING:
    from .lstm_forecaster import LSTMForecaster

# The file that lists the part files of a sharded forecast, named so that Parquet readers given
# the directory (pandas.read_parquet, pyarrow.dataset) skip it.
MANIFEST = "_manifest.json"
# The manifest's "format": a manifest of another kind never names parts to delete.
FORMAT = "lstmcast-forecast"
# The names of the part files this module writes (part-00000.parquet, ...), and only those.
PART_FILE = re.compile(r"part-\d{5,}\.parquet")


@dataclass(frozen=True)
class ShardedForecast:
    """What one sharded forecast wrote, the same on every rank (as rank 0's manifest says)."""

    output: Path  # the directory of the parts and the manifest
    series: int  # forecast series, over all parts
    rows: int  # forecast rows (series x steps), over all parts
    parts: list[dict[str, Any]]  # per rank, in rank order: {"file", "series", "rows"}
    # Why the intervals asked for may cover less than their level (the model's calibration
    # caveat at the highest level); None: none asked for, or calibrated on enough.
    caveat: str | None = None


def part_file(rank: int) -> str:
    """The part file rank ``rank`` writes: ``part-00003.parquet``."""
    return f"part-{rank:05d}.parquet"


def forecast_part(
    model_dir: Path,
    output: Path,
    h: int | None = None,
    level: Sequence[float] | None = None,
    *,
    read_history: Callable[[LSTMForecaster], pd.DataFrame] | None = None,
    history_is_shared: bool = False,
    inputs: Sequence[tuple[str, Path | None]] = (),
    read_future: Callable[[LSTMForecaster], pd.DataFrame] | None = None,
) -> ShardedForecast:
    """Write this rank's share of the forecast as ``part-<rank>.parquet`` in directory ``output``.

    Without ``read_history``, each rank forecasts its share of the series saved with the model.
    ``read_history(model)`` instead reads the new history to forecast past (a long frame
    ``unique_id, ds, y``): this rank's files of a data directory, or with ``history_is_shared``
    one file that every rank reads whole, of which each forecasts its share of the series.
    ``inputs`` are further (description, path) pairs the caller reads, which ``output`` must not
    be. ``read_future(model)`` reads the future-known covariates of every series (each rank
    uses its own series' rows). Every rank must call it; it ends with a barrier, after rank 0
    wrote :data:`MANIFEST`.
    """
    if output.suffix in (".csv", ".parquet") or output.is_file():
        raise ConfigError(
            f"under torchrun each process writes its part of the forecast into a directory; "
            f"--output {str(output)!r} looks like a file: pass a directory, e.g. -o forecasts"
        )
    check_output(output, [("the model directory", model_dir), *inputs], directory=True)
    require_pyarrow("writing the forecast's Parquet part files")
    rank, world = distributed.rank(), distributed.world_size()
    if read_history is None:  # the series saved with the model: this rank's share of them
        model = load(model_dir, part=(rank, world))
        df = None
    else:  # this rank's files (or series of one shared file); the model's scaling of all
        model = load(model_dir)
        df = read_history(model)
        if history_is_shared:
            df = share_of_series(df, rank, world)
    futr_df = None if read_future is None else read_future(model)
    frame = predict_share(model, h, df, level, futr_df)
    part = part_file(rank)
    with atomic_path(output / part) as tmp:
        frame.to_parquet(tmp, index=False)
    parts = distributed.gather({"file": part, "series": frame[ID].nunique(), "rows": len(frame)})
    written = ShardedForecast(
        output=output,
        series=sum(p["series"] for p in parts),
        rows=sum(p["rows"] for p in parts),
        parts=parts,
        caveat=model.caveat_at(level or []),
    )
    if rank == 0:
        # Parts of an earlier run with more processes, as its manifest lists them: other files
        # (a user's, another tool's part-*.parquet) are never deleted.
        for stale in earlier_parts(output) - {p["file"] for p in parts}:
            (output / stale).unlink(missing_ok=True)
        manifest = {
            "format": FORMAT,
            "model": str(model_dir),
            "columns": [str(c) for c in frame.columns],
            "series": written.series,
            "rows": written.rows,
            "parts": parts,
        }
        with atomic_path(output / MANIFEST) as tmp:
            tmp.write_text(json.dumps(manifest, indent=2) + "\n")
    distributed.barrier()
    return written


def earlier_parts(output: Path) -> set[str]:
    """The part files an earlier sharded forecast into ``output`` wrote, by its manifest.

    Only names of the form ``part-<number>.parquet`` count, so a doctored manifest cannot name a
    file elsewhere (``../x``) or someone else's.
    """
    try:
        manifest = json.loads((output / MANIFEST).read_text())
        listed = [part["file"] for part in manifest["parts"]]
    except (OSError, ValueError, KeyError, TypeError):
        return set()
    if manifest.get("format") != FORMAT:
        return set()
    return {name for name in listed if isinstance(name, str) and PART_FILE.fullmatch(name)}


def share_of_series(df: pd.DataFrame, rank: int, world: int) -> pd.DataFrame:
    """The rows of the series of long frame ``df`` that rank ``rank`` of ``world`` forecasts.

    For a history every rank read whole: even, contiguous blocks of its series in file order.
    """
    mine = distributed.assign_series(df[ID].unique(), world)[rank]
    return df[df[ID].isin(mine)].reset_index(drop=True)


def predict_share(
    model: LSTMForecaster,
    h: int | None,
    df: pd.DataFrame | None,
    level: Sequence[float] | None,
    futr_df: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """``model.predict`` of long frame ``df`` (None: the series saved with the model), with
    the future-known covariates of ``futr_df``, or the same columns with no rows for a rank that
    was dealt no series."""
    level = list(level) if level is not None else None
    if (model.n_series_ if df is None else len(df)) > 0:
        columns = {"id_col": ID, "time_col": TIME, "target_col": TARGET}
        return model.predict(h, df=df, level=level, futr_df=futr_df, **columns)
    levels = sorted({float(value) for value in level or []})  # as predict names them
    bounds = [interval_column("LSTM", side, value) for value in levels for side in ("lo", "hi")]
    columns = {ID: "object", TIME: model.tail_.ds.dtype}
    columns |= dict.fromkeys(["LSTM", *bounds], "float64")
    return pd.DataFrame({name: pd.Series(dtype=kind) for name, kind in columns.items()})
