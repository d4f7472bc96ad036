"""``lstmcast export``: write a saved model as ONNX, for serving without lstmcast or torch.

Loads the model and calls :meth:`LSTMForecaster.to_onnx`; prints the file's contract (its
inputs, outputs and series) and its size. The ONNX packages are the optional extra
``lstmcast[onnx]``: without them the command says how to install them, in one line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

import lstmcast as lc
from lstmcast.cli.console import stdout
from lstmcast.cli.options import Level, ModelDir


def export(
    model_dir: ModelDir,
    output: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            help="The ONNX file to write (replaced if it exists; written atomically).",
            show_default=False,
        ),
    ],
    h: Annotated[
        int | None,
        typer.Option(
            "--h",
            help="Steps forecast per row. Default: the model's horizon; beyond it the forecast "
            "is recursive (point forecast only).",
        ),
    ] = None,
    level: Level = None,
) -> None:
    """Write a saved model as ONNX: raw windows in, raw forecasts out.

    The file takes `series` (int64, one index per row: the series' position in its metadata
    `series_ids`) and `window` (float64, each row's last WINDOW raw values) and gives `forecast`
    (float64, batch x h) and, with --level, `intervals` (batch x h x 2 levels, lowest bound
    first). The per-series scaling, every network of the ensemble, the quantile heads and the
    conformal calibration are inside; metadata_props hold the series order, the settings and
    this contract. Needs `pip install 'lstmcast[onnx]'`.
    """
    from lstmcast.export import require_onnx
    from lstmcast.files import check_output

    check_output(output, [("the model directory", model_dir)], example="model.onnx")
    require_onnx()  # before loading the model: a missing extra is said at once
    model = lc.load(model_dir)
    contract = model.to_onnx(output, h=h, level=level)
    size = output.stat().st_size
    lines = [*contract.lines(), f"wrote {output} ({size / 1024:.1f} KiB)"]
    stdout().print("\n".join(lines), markup=False, soft_wrap=True)
