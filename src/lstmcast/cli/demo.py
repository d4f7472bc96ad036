"""``lstmcast demo``: the quick tour, an LSTM against naive baselines on a synthetic series.

Runs the whole data flow (input frame -> windows -> model -> forecast -> metrics/plots) on data
it makes itself (:mod:`lstmcast.demo`) and prints what each step gave.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lstmcast.cli.console import forecast_table, metrics_table, stdout, training_progress
from lstmcast.cli.options import Quiet


def demo(
    output: Annotated[
        Path,
        typer.Option(
            "--output", "-o", help="Where to write the forecast plot (PNG, PDF, SVG...: by suffix)."
        ),
    ] = Path("demo.png"),
    seed: Annotated[int, typer.Option("--seed", help="Random seed of data and model.")] = 0,
    quiet: Quiet = False,
) -> None:
    """Run the built-in demo: an LSTM against naive baselines on a synthetic series.

    Trains an LSTM, scores it and the Naive and SeasonalNaive baselines on held-out data, prints
    the metrics and the first forecast steps, and plots the forecast.
    """
    from lstmcast.demo import run_demo
    from lstmcast.files import check_output, image_format

    check_output(output, example="demo.png")
    image_format(output, what="--output")
    with training_progress(quiet) as callbacks:
        result = run_demo(output=output, seed=seed, callbacks=callbacks)
    console = stdout()
    console.print(result.description, markup=False)
    console.print()
    console.print(metrics_table(result.metrics, "Accuracy on the held-out data"))
    console.print()
    console.print(forecast_table(result.forecast, "LSTM forecast past the end (first steps)"))
    console.print(f"wrote {result.plot_path} ({result.seconds:.1f} s)", markup=False)
