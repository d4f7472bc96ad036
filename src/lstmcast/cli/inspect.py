"""``lstmcast inspect``: plot a saved LSTM's gates over one window and list its memory reach.

Looks inside the model step of the data flow (input frame -> windows -> *model* -> forecast ->
metrics/plots): runs the network on the last input window of one series, plots its gates and
states, and prints how far back each unit of the last layer remembers.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

import lstmcast as lc
from lstmcast.cli.console import stdout
from lstmcast.cli.options import ModelDir, Reading, model_reading_options
from lstmcast.cli.reading import read_columns, read_for_model

if TYPE_CHECKING:
    import pandas as pd
    from rich.table import Table

# Unit numbers listed in inspect's one-line summary before "...".
_SHOWN_UNITS = 10


@model_reading_options
def inspect(
    *,
    model_dir: ModelDir,
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
    reading: Reading,
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
        df = read_for_model(model, data, reading)
    import numpy as np

    from lstmcast.covariates import spec_of
    from lstmcast.target_transform import model_values

    covariates = spec_of(model.get_params()).dynamic
    panel = model.tail_ if df is None else lc.Panel.from_frame(df, covariate_names=covariates)
    ids = [str(i) for i in panel.ids]
    wanted = ids[0] if series is None else series
    # Refuses an unknown series, a short history or another time step.
    trace = model.explain(df, series=wanted, **read_columns())
    end = panel.ends[ids.index(wanted)]
    inputs = panel.y[end - model.window : end]
    labels = None
    if covariates:  # the window's inputs as the network reads them: each scaled per series
        row = model.scaler_.rows_of(np.array([wanted], dtype=object))
        # Scaled as the network reads it: in model units (log(y) with a log target transform).
        modelled = model_values(inputs, model.target_transform)
        target = (modelled - model.scaler_.shift[row]) / model.scaler_.scale[row]
        values = panel.covariates[end - model.window : end, : len(covariates)]
        scaled = model.covariate_scaler_.transform(values[None], row)[0]
        inputs = np.column_stack([target, scaled])
        labels = [f"{name} (scaled)" for name in ("y", *covariates)]
    lc.plot_gates(
        trace, sample=0, inputs=inputs, segment=model.segment, path=output, input_labels=labels
    )
    reach = lc.memory_reach(trace, sample=0, segment=model.segment)
    from lstmcast.analysis import LONG_MEMORY_FORGET

    long_units = reach.loc[reach["long_memory"], "unit"].tolist()
    listed = ", ".join(str(u) for u in long_units[:_SHOWN_UNITS])
    listed += ", ..." if len(long_units) > _SHOWN_UNITS else ""
    console = stdout()
    console.print(
        f"wrote {output}\nseries {wanted!r}: {len(long_units)} of {len(reach)} units of "
        f"layer {trace.forget.shape[0] - 1} have long memory "
        f"(mean forget gate > {LONG_MEMORY_FORGET})" + (f": {listed}" if long_units else ""),
        markup=False,
    )
    console.print(_reach_table(reach, model.segment, steps=trace.forget.shape[2]))
    if getattr(model, "diagnostics_", None) is not None:  # saved by training, when validated
        console.print(model.diagnostics_.summary(), markup=False, soft_wrap=True)


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
