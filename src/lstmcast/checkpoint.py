"""Checkpoints of a training run: the state to resume from, written beside the saved model.

Where it sits: inside training (windows -> model). A checkpoint is a model directory (see
``modeldir``) holding the best model so far plus ``training_state.json`` and
``training_state.safetensors``: the epoch, weights, optimizer and random state of the ensemble
member in training, and a fingerprint of the training data. ``fit(..., resume=True)`` reads it
back with :func:`resumable`, which refuses other settings or other data.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .checks import spelled
from .data import Panel
from .errors import ConfigError, DataError, ModelFileError, option, setting
from .modeldir import (
    STATE_CONFIG,
    STATE_WEIGHTS,
    checksums_of,
    json_default,
    read_model,
    save_tensors,
    tensors_with_prefix,
    verify,
    write_text,
)
from .optimizer_state import read_optimizers
from .train import Callback, History, TrainState

# Settings a resumed run may change: how long it goes on, not what it learns.
RESUME_MAY_CHANGE = ("epochs", "patience", "time_budget")


@dataclass(frozen=True)
class Resumable:
    """A training run that stopped after some epoch: what ``fit(..., resume=True)`` needs."""

    member: int  # the ensemble member in training; earlier members are complete
    fingerprint: str  # of the training data: resuming on other data is refused
    state: TrainState


@dataclass(frozen=True)
class Resumed:
    """An interrupted run read back for resuming: its seed and the members done so far."""

    seed: int
    done_weights: list[dict[str, torch.Tensor]]  # of the ensemble members already trained
    done_histories: list[History]
    done_optimizers: list[dict[str, Any] | None]  # their Adam states (None: not saved)
    state: TrainState  # of the member whose training was interrupted


class Checkpointer(Callback):
    """Saves the model with the best weights so far, and the state to resume from, each epoch.

    ``save`` writes the checkpoint for the training state it is given (the estimator knows
    which members are done and where the directory is).
    """

    def __init__(self, save: Callable[[TrainState], None]) -> None:
        self.save = save

    def on_checkpoint(self, state: TrainState) -> None:
        self.save(state)


def data_fingerprint(panel: Panel) -> str:
    """A digest of the ids, times and values of ``panel``."""
    digest = hashlib.sha256()
    for array in (np.asarray(panel.ids, dtype=str), panel.ds, panel.y, panel.starts):
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def write_training_state(training: Resumable, directory: Path) -> dict[str, str]:
    """Write the training state files into ``directory``; return their SHA-256 by name."""
    state = training.state
    tensors = {f"current.{k}": v.detach().cpu().contiguous() for k, v in state.network.items()}
    tensors |= {f"best.{k}": v.detach().cpu().contiguous() for k, v in state.best_network.items()}
    tensors["generator"] = state.generator
    for index, slots in state.optimizer["state"].items():
        tensors |= {f"optimizer.{index}.{k}": v.detach().cpu() for k, v in slots.items()}
    info = {
        "member": training.member,
        "fingerprint": training.fingerprint,
        "epoch": state.epoch,
        "best_score": state.best_score if math.isfinite(state.best_score) else None,
        "history": state.history.to_dict(),
        "optimizer_groups": state.optimizer["param_groups"],
    }
    return {
        STATE_WEIGHTS: save_tensors(tensors, directory, STATE_WEIGHTS),
        STATE_CONFIG: write_text(
            json.dumps(info, default=json_default) + "\n", directory, STATE_CONFIG
        ),
    }


def read_training_state(path: str | os.PathLike[str]) -> Resumable | None:
    """The training state saved with a checkpoint, or None when training had finished."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    directory = Path(path)
    if not (directory / STATE_CONFIG).is_file():
        return None
    config, _ = read_model(directory, tensors=False)
    checksums = checksums_of(config, directory)
    verify(directory, STATE_CONFIG, checksums)
    verify(directory, STATE_WEIGHTS, checksums)
    try:
        info = json.loads((directory / STATE_CONFIG).read_text())
        tensors = load_file(str(directory / STATE_WEIGHTS))
        slots: dict[int, dict[str, torch.Tensor]] = {}
        for key, value in tensors.items():
            if key.startswith("optimizer."):
                _, index, name = key.split(".", 2)
                slots.setdefault(int(index), {})[name] = value
        state = TrainState(
            epoch=info["epoch"],
            history=History.from_dict(info["history"]),
            network=tensors_with_prefix(tensors, "current."),
            best_network=tensors_with_prefix(tensors, "best."),
            best_score=math.inf if info["best_score"] is None else info["best_score"],
            optimizer={"state": slots, "param_groups": info["optimizer_groups"]},
            generator=tensors["generator"],
        )
        return Resumable(member=info["member"], fingerprint=info["fingerprint"], state=state)
    except (
        OSError,
        SafetensorError,
        json.JSONDecodeError,
        KeyError,
        TypeError,
        ValueError,
    ) as error:
        raise ModelFileError(
            f"the training state in {str(directory)!r} is unreadable ({error}); "
            "train again without --resume"
        ) from None


def resumable(
    checkpoint: str | os.PathLike[str] | None, fingerprint: str, params: dict[str, Any]
) -> Resumed:
    """Read what an interrupted run saved at ``checkpoint``, refusing a mismatch.

    ``fingerprint`` is that of the data to train on (see :func:`data_fingerprint`); ``params``
    the settings of the model to train (``get_params()``): only ``epochs``, ``patience`` and
    ``time_budget`` may differ from the interrupted run's, and ``epochs`` not under an
    ``lr_schedule``.
    """
    if checkpoint is None:
        raise ConfigError("resume needs the checkpoint directory of the interrupted run")
    config, tensors = read_model(checkpoint)
    training = read_training_state(checkpoint)
    if training is None:
        raise ConfigError(
            f"{str(checkpoint)!r} holds a finished model, not an interrupted training; "
            f"train without {option('resume', True)} to start over"
        )
    saved = config["params"]
    for name, value in params.items():
        ours = list(value) if isinstance(value, tuple) else value
        if name not in RESUME_MAY_CHANGE and saved.get(name) != ours:
            raise ConfigError(
                f"the interrupted run used {spelled(name, saved.get(name))}, this model "
                f"has {spelled(name, ours)}; resume with the same settings (only "
                f"{setting('epochs')}, {setting('patience')} and {setting('time_budget')} may "
                "change)"
            )
    if params["lr_schedule"] is not None and saved.get("epochs") != params["epochs"]:
        raise ConfigError(
            f"the interrupted run planned its {setting('lr_schedule')} over "
            f"{saved.get('epochs')} epochs; resume it with the same {setting('epochs')}"
        )
    if training.fingerprint != fingerprint:
        raise DataError(
            "the data differs from the data the interrupted run was trained on; resume "
            f"with the same data, or train without {option('resume', True)}"
        )
    done = range(training.member)
    directory = Path(checkpoint)
    return Resumed(
        seed=config["seed"],
        done_weights=[tensors_with_prefix(tensors, f"network.{m}.") for m in done],
        done_histories=[History.from_dict(config["histories"][m]) for m in done],
        done_optimizers=read_optimizers(
            directory, checksums_of(config, directory), len(config["histories"])
        )[: training.member],
        state=training.state,
    )
