"""The model card: what a saved model is and how it was made (``lstmcast info MODEL``).

Read from the model alone: its settings and the recipe's reasons, the data it learned from
(series, points, time range, a fingerprint of the values), how training went, its validation
scores beside the naive baselines, its intervals, and the versions that made it.
"""

from __future__ import annotations

import platform
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .data import Panel

# How a network's recorded training precision reads on the card.
PRODUCTS = {"fp32": "float32 products", "bf16": "bfloat16 products"}


def versions() -> dict[str, str]:
    """The versions of what trains and saves a model: lstmcast, torch, numpy, Python."""
    import torch

    from . import __version__

    return {
        "lstmcast": __version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }


def training_data(panel: Panel, fingerprint: str, sharded: bool = False) -> dict[str, Any]:
    """What a model learned from: series and points, the first and last time, and the SHA-256
    of the ids, times and values (``fingerprint``; equal data, equal fingerprint).

    ``sharded``: each rank of the process group holds its own series (every rank calls this),
    and the facts are of all ranks' series together.
    """
    from . import distributed
    from .timesteps import show_time

    ends = panel.ds[[int(panel.ds.argmin()), int(panel.ds.argmax())]]
    series, points = len(panel), int(panel.lengths.sum())
    if sharded:
        ranks = distributed.gather((series, points, ends))
        series, points = sum(rank[0] for rank in ranks), sum(rank[1] for rank in ranks)
        every = np.concatenate([rank[2] for rank in ranks])
        ends = every[[int(every.argmin()), int(every.argmax())]]
    times = panel.in_zone(ends)
    return {
        "series": series,
        "points": points,
        "first": show_time(times[0]),
        "last": show_time(times[1]),
        "fingerprint": fingerprint,
    }


def chain_step(
    step: str, data: dict[str, Any], seed: int, training: dict[str, Any]
) -> dict[str, Any]:
    """One step of a model's training chain: ``step`` ("fit" or "update") on the data whose
    facts are ``data`` (:func:`training_data`), with ``seed`` and the ``training`` settings it
    used."""
    return {
        "step": step,
        "data": data,
        "seed": seed,
        "training": {k: list(v) if isinstance(v, tuple) else v for k, v in training.items()},
    }


def model_card(model: Any, config: dict[str, Any]) -> dict[str, Any]:
    """The card of a loaded ``model`` (an LSTMForecaster: not imported here, as io, which the
    estimator imports, imports this module) and its ``config.json``, as plain data."""
    from .intervals import independent_horizons

    chosen = {n for n, v in model.get_params().items() if v == "auto" and n != "recipe"}
    settings = {
        name: (value if not isinstance(value, tuple) else list(value))
        for name, value in model.settings_.items()
    }
    histories = [
        {
            "epochs": len(history.train_loss),
            "best_epoch": history.best_epoch,
            "stopped": history.stopped,
            "seconds": round(history.seconds, 1),
            "threads": history.threads or None,  # None: not recorded (older models)
            "precision": history.precision or None,
        }
        for history in model.histories_
    ]
    diagnostics = getattr(model, "diagnostics_", None)
    fills = getattr(model, "fills_", None)
    calibration = getattr(model, "calibration_size_", 0) if model.calibration_ is not None else 0
    return {
        "model": type(model).__name__,
        "saved_by": config.get("versions") or {"lstmcast": config.get("lstmcast_version")},
        "format_version": config.get("format_version"),
        "settings": settings,
        "chosen_by_recipe": sorted(chosen),
        "recipe": model.recipe_,
        "data": config.get("data"),
        "chain": config.get("chain") or [],
        # The missing target values filled (or masked) per series, inserted times included.
        "missing": None if fills is None else fills.to_dict() | {"lines": fills.lines()},
        "series": model.n_series_,
        "networks": len(model.networks_),
        "parameters": sum(p.numel() for p in model.network_.parameters()),
        "seed": model.seed_,
        "training": histories,
        "validation": None if diagnostics is None else diagnostics.summary(),
        "intervals": {
            "learned_levels": list(model.quantile_levels or []),
            "calibration_windows": calibration,
            "independent_horizons": (
                independent_horizons(calibration, model.n_series_, model.horizon)
                if calibration
                else 0
            ),
            "caveat": model.calibration_caveat_,
        },
    }


def card_lines(card: dict[str, Any]) -> list[str]:
    """The card as lines of text, one fact each."""
    saved = card["saved_by"]
    made = ", ".join(f"{name} {version}" for name, version in saved.items() if version)
    data = card["data"]
    lines = [
        f"model         {card['model']}: {card['networks']} network(s) of "
        f"{card['parameters']:,} parameters, {card['series']} series",
        f"saved by      {made} (format {card['format_version']})",
    ]
    if data:
        lines.append(
            f"trained on    {data['series']} series, {data['points']:,} points, "
            f"{data['first']} to {data['last']}; data sha256 {data['fingerprint'][:16]}"
        )
    else:
        lines.append("trained on    (not recorded: saved before model cards)")
    for step in card["chain"][1:]:  # the first is the fit, said above
        facts, training = step["data"], step["training"]
        trained = (
            f"seed {step['seed']}, {training['epochs']} epochs at lr {training['lr']:g}"
            if training["epochs"]
            else "a refresh: weights kept (the networks below trained before it), "
            "intervals calibrated again"
        )
        lines.append(
            f"updated on    {facts['series']} series, {facts['points']:,} points, "
            f"{facts['first']} to {facts['last']}; data sha256 {facts['fingerprint'][:16]}; "
            + trained
        )
    missing = card["missing"]
    if missing:
        said = "; ".join(missing["lines"]) or f"none was missing (missing={missing['missing']!r})"
        most = sorted(missing["series"].items(), key=lambda item: -item[1][0])
        shown = ", ".join(f"{series!r} {counts[0]}" for series, counts in most[:3])
        more = ", ..." if len(most) > 3 else ""
        lines.append(f"missing       {said}" + (f"; most in {shown}{more}" if most else ""))
    for member, history in enumerate(card["training"]):
        ran_on = [
            f"{history['threads']} thread(s)" if history.get("threads") else "",
            PRODUCTS.get(history.get("precision") or "", ""),
        ]
        lines.append(
            f"network {member}     {history['epochs']} epochs (best {history['best_epoch']}), "
            f"stopped by {history['stopped']}, "
            + ", ".join([f"{history['seconds']} s", *filter(None, ran_on)])
        )
    lines.append(f"seed          {card['seed']}")
    lines += [f"recipe        {reason}" for reason in card["recipe"]]
    shown = ", ".join(
        f"{name}={value!r}{'*' if name in card['chosen_by_recipe'] else ''}"
        for name, value in card["settings"].items()
    )
    lines.append(f"settings      {shown} (*: chosen by the recipe)")
    if card["validation"]:
        lines.append(f"validation    {card['validation']}")
    intervals = card["intervals"]
    if intervals["learned_levels"] or intervals["calibration_windows"]:
        lines.append(
            f"intervals     learned levels {intervals['learned_levels'] or 'none'}; "
            f"calibrated on {intervals['calibration_windows']} validation windows "
            f"({intervals['independent_horizons']} whole horizons without overlap)"
        )
    if intervals["caveat"]:
        lines.append(f"              {intervals['caveat']}")
    return lines
