"""The device a model trains and forecasts on: CUDA when present, else the CPU."""

from __future__ import annotations

import torch

from . import distributed
from .errors import ConfigError, count


def available_devices() -> list[str]:
    """The devices this machine can train on: "cpu", then "cuda:0", ..., and "mps"."""
    names = ["cpu"]
    if torch.cuda.is_available():
        names += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if torch.backends.mps.is_available():
        names.append("mps")
    return names


def pick_device(device: str | None) -> torch.device:
    """The device named ``device`` (default: CUDA when present), refusing one that is absent.

    Under torchrun a bare "cuda" is the process's own GPU.
    """
    if device is None:
        return distributed.local_device(
            torch.device("cuda" if torch.cuda.is_available() else "cpu")
        )
    available = available_devices()
    have = f"this machine has {', '.join(available)}"
    try:
        chosen = distributed.local_device(torch.device(device))
    except RuntimeError:
        raise ConfigError(f"device {device!r} is not a device name; {have}") from None
    if chosen.type == "cuda":
        if not torch.cuda.is_available():
            build = "has no CUDA support" if torch.version.cuda is None else "finds no CUDA GPU"
            raise ConfigError(
                f"device {device!r} is not available: this PyTorch ({torch.__version__}) {build}; "
                f"{have}"
            )
        gpus = torch.cuda.device_count()
        if chosen.index is not None and chosen.index >= gpus:
            raise ConfigError(
                f"device {device!r} is not available: there {'is' if gpus == 1 else 'are'} "
                f"{count(gpus, 'CUDA GPU')} (cuda:0 to cuda:{gpus - 1}); {have}"
            )
    elif chosen.type == "mps":
        if not torch.backends.mps.is_available():
            raise ConfigError(f"device {device!r} is not available (no Apple MPS); {have}")
    elif chosen.type != "cpu":
        raise ConfigError(f"device {device!r} is not supported by lstmcast; {have}")
    return chosen
