"""``lstmcast info``: the model card of a saved model (what it is and how it was made)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

import lstmcast as lc
from lstmcast.cli.console import stdout
from lstmcast.cli.options import ModelDir


def info(
    model_dir: ModelDir,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the card as JSON, for programs.")
    ] = False,
) -> None:
    """Print what a saved model is and how it was made.

    Its settings and the automatic recipe's reasons, the data it learned from (series, points,
    time range, a SHA-256 of the values), each network's training, its seed, its validation
    scores beside the naive baselines, its intervals, and the versions that saved it.
    """
    from lstmcast.card import card_lines, model_card
    from lstmcast.modeldir import CONFIG

    model = lc.load(model_dir)
    config = json.loads((model_dir / CONFIG).read_text())
    card = model_card(model, config)
    if as_json:
        typer.echo(json.dumps(card, indent=2, default=str))
        return
    stdout().print("\n".join(card_lines(card)), markup=False, soft_wrap=True)
