"""Adam's state beside a saved model: what an update continues from.

Where it sits: beside ``io`` (model -> files). A model directory holds ``optimizer.safetensors``
with each network's Adam state at the end of its training (the step count and both moments of
every parameter, in ``torch.optim.Adam``'s layout), so ``update`` goes on from where training
stopped rather than from a cold optimizer. Forecasting never reads it. Like every other file it
is a safetensors file, checksummed in ``config.json``; models saved before it was added update
from a new Adam (``update`` says so).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from .modeldir import OPTIMIZER, save_tensors, verify

# Each parameter's state in torch.optim.Adam's layout, by slot name.
SLOTS = ("step", "exp_avg", "exp_avg_sq")


def write_optimizers(
    optimizers: Sequence[dict[str, Any] | None], directory: Path
) -> dict[str, str]:
    """Write the Adam states of the networks that have one into ``directory``; return the
    file's SHA-256 by name (nothing when none has a state)."""
    tensors = {
        f"{member}.{index}.{slot}": value.detach().cpu().contiguous()
        for member, optimizer in enumerate(optimizers)
        if optimizer is not None
        for index, slots in optimizer["state"].items()
        for slot, value in slots.items()
    }
    if not tensors:
        return {}
    return {OPTIMIZER: save_tensors(tensors, directory, OPTIMIZER)}


def read_optimizers(
    directory: Path,
    checksums: dict[str, str] | None,
    members: int,
    shapes: Sequence[torch.Size] | None = None,
) -> list[dict[str, Any] | None]:
    """The Adam state (``{"state": ...}``: the per-parameter slots; the learning rate and betas
    are the next training's) of each of ``members`` networks saved in ``directory``, None for
    one saved without. ``shapes``: the parameters' shapes, in ``network.parameters()`` order.

    Raises ValueError (and the like) for a file that does not fit; the caller names the model.
    """
    from safetensors.torch import load_file

    file = directory / OPTIMIZER
    if not file.is_file():
        return [None] * members
    verify(directory, OPTIMIZER, checksums)
    states: list[dict[int, dict[str, torch.Tensor]]] = [{} for _ in range(members)]
    for key, value in load_file(str(file)).items():
        member, index, slot = key.split(".")
        if slot not in SLOTS or not 0 <= int(member) < members:
            raise ValueError(f"unexpected optimizer tensor {key!r}")
        states[int(member)].setdefault(int(index), {})[slot] = value
    optimizers: list[dict[str, Any] | None] = []
    for member, state in enumerate(states):
        if not state:
            optimizers.append(None)
            continue
        for index, slots in state.items():
            if set(slots) != set(SLOTS):
                raise ValueError(f"network {member}'s optimizer state {index} is incomplete")
            if shapes is not None and (
                not 0 <= index < len(shapes)
                or slots["exp_avg"].shape != shapes[index]
                or slots["exp_avg_sq"].shape != shapes[index]
            ):
                raise ValueError(f"network {member}'s optimizer state does not fit its weights")
            if not all(torch.isfinite(value).all() for value in slots.values()):
                raise ValueError(f"network {member}'s optimizer state holds NaN or infinity")
        optimizers.append({"state": state})
    return optimizers
