"""``lstmcast experiment adding``: the adding problem, a test of an LSTM's long memory.

Beside the forecasting data flow: trains a recurrent cell on synthetic sequences
(:mod:`lstmcast.experiment`), prints its accuracy beside the trivial answer's and plots the
learning curve (and, if asked, the trained LSTM's gates).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

import lstmcast as lc
from lstmcast.cli.console import Group, stderr, stdout
from lstmcast.cli.model_options import LearningRate
from lstmcast.cli.options import Quiet

experiment_app = typer.Typer(
    cls=Group,
    no_args_is_help=True,
    rich_markup_mode="markdown",
    help="Experiments that show what an LSTM can do: the adding problem.",
)


def adding(
    length: Annotated[
        int, typer.Option("--length", "-T", help="T, steps per sequence (at least 2).")
    ] = 100,
    cell: Annotated[
        str, typer.Option("--cell", help="Recurrent cell: lstm (lstmcast's), gru or rnn.")
    ] = "lstm",
    steps: Annotated[int, typer.Option("--steps", help="Training steps at most.")] = 20_000,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Fresh sequences per step.")] = 32,
    hidden_size: Annotated[int, typer.Option("--hidden-size", help="Units of the cell.")] = 32,
    lr: LearningRate = 1e-2,
    seed: Annotated[int, typer.Option("--seed", help="Seed of weights, test set and batches.")] = 0,
    budget: Annotated[
        float,
        typer.Option(
            "--budget", help="Wall-clock seconds of training at most (the machine's load counts)."
        ),
    ] = 600.0,
    chrono: Annotated[
        bool | None,
        typer.Option(
            "--chrono/--no-chrono",
            help="Chrono initialisation of the gate biases (memory time scales spread over "
            "1..T-1 steps). Default: on for lstm and gru; rnn has no gates.",
            show_default=False,
        ),
    ] = None,
    until_accuracy: Annotated[
        float,
        typer.Option("--until-accuracy", help="Stop once the test accuracy reaches this (0..1]."),
    ] = 0.99,
    threads: Annotated[
        int,
        typer.Option(
            "--threads", help="CPU threads for torch (the T steps are small sequential kernels)."
        ),
    ] = 1,
    output: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            help="Where to write the learning curve (PNG, PDF, SVG...: by suffix).",
        ),
    ] = Path("adding.png"),
    gates: Annotated[
        Path | None,
        typer.Option(
            "--gates",
            help="Also plot the trained LSTM's gates on a new test sequence (PNG, PDF, SVG...: "
            "by suffix).",
        ),
    ] = None,
    quiet: Quiet = False,
) -> None:
    """The adding problem (Hochreiter & Schmidhuber 1997): remember two marked values over T steps.

    Each sequence has T (value, marker) pairs, values uniform in [0, 1], two markers (one in each
    half); the target is the sum of the two marked values. Trains the cell on fresh batches, then
    prints the test MSE and the accuracy (|error| < 0.04) beside the trivial answer 1.0 (MSE about
    0.167), and plots the learning curve.
    """
    import torch

    from lstmcast.experiment import adding_batch, adding_problem
    from lstmcast.files import check_output, image_format, real_path

    if gates is not None and cell != "lstm":
        raise lc.ConfigError(f"--gates shows an LSTM's gates; a {cell} has none to trace")
    check_output(output, example="adding.png")
    image_format(output, what="--output")
    if gates is not None:
        check_output(gates, what="--gates", example="gates.png")
        image_format(gates, what="--gates")
        if real_path(gates) == real_path(output):
            raise lc.ConfigError(
                f"--gates and --output name the same file {str(gates)!r}; give each plot its own"
            )
    torch.set_num_threads(threads)
    bar, on_step = _adding_progress(steps, quiet)
    try:
        result = adding_problem(
            length, cell=cell, steps=steps, batch_size=batch_size, hidden_size=hidden_size,
            lr=lr, seed=seed, budget=budget, chrono=chrono, until_accuracy=until_accuracy,
            on_step=on_step,
        )  # fmt: skip
    finally:
        if bar is not None:
            bar.stop()
    lc.plot_adding(result, path=output)
    if gates is not None:
        # A sequence the network has not seen: from its own generator, not the test set's.
        x, _ = adding_batch(1, length, torch.Generator().manual_seed(seed + 1))
        with torch.no_grad():
            trace = result.network.rnn.trace(x)  # type: ignore[union-attr]
        lc.plot_gates(trace, inputs=x[0], input_labels=("value", "marker"), path=gates)

    from rich.table import Table

    table = Table(title=f"Adding problem, T = {length}: {cell}")
    for column in ("", "test MSE", "accuracy"):
        table.add_column(column, justify="right" if column else "left")
    table.add_row(cell, f"{result.test_mse:.5f}", f"{result.accuracy:.1%}")
    table.add_row("always 1.0", f"{result.baseline_mse:.5f}", "-")
    reason = {"solved": f"accuracy >= {until_accuracy:g}", "steps": "--steps", "budget": "--budget"}
    console = stdout()
    console.print(table)
    console.print(
        f"{result.steps} steps in {result.seconds:.1f} s (stopped by {reason[result.stopped]}), "
        f"chrono {'on' if result.settings['chrono'] else 'off'}, seed {seed}\nwrote {output}"
        + (f" and {gates}" if gates is not None else ""),
        markup=False,
    )


def _adding_progress(steps: int, quiet: bool) -> tuple[Any, Any]:
    """A rich progress bar on stderr and its ``on_step`` callback (None, None if quiet).

    The bar starts at the first step, so an error in the settings is not drawn into it.
    """
    if quiet:
        return None, None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(
        TextColumn("step"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        console=stderr(),
    )
    task = bar.add_task("adding", total=steps, status="")

    def on_step(step: int, loss: float, last: Any) -> None:
        if step == 1:
            bar.start()
        status = f"loss {loss:.4f}  test MSE {last.test_mse:.4f}  accuracy {last.accuracy:.1%}"
        bar.update(task, completed=step, status=status)

    return bar, on_step
