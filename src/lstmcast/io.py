"""Saving and loading models: a directory with ``config.json`` and ``weights.safetensors``.

Nothing here ever unpickles: the config is JSON, every array (weights, scaler statistics, the
last window of each series) is a safetensors tensor, so loading a model cannot run code. A save
is atomic: the directory is written beside its destination and renamed into place, so a crash
leaves either the old model or the new one, never half of one.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from . import __version__
from .data import Panel
from .errors import LstmcastError, ModelFileError
from .train import History, TrainState

if TYPE_CHECKING:
    from .forecast import LSTMForecaster

FORMAT = "lstmcast-model"
FORMAT_VERSION = 2  # 2: interval calibration (intervals, 1001, horizon), one row per level
CONFIG, WEIGHTS = "config.json", "weights.safetensors"
STATE_CONFIG, STATE_WEIGHTS = "training_state.json", "training_state.safetensors"


def _step_to_json(step: Any) -> dict[str, Any]:
    return {"int": step} if isinstance(step, int) else {"freq": step.freqstr}


def _step_from_json(step: dict[str, Any]) -> Any:
    if "int" in step:
        if not isinstance(step["int"], int) or step["int"] <= 0:
            raise ValueError(f"invalid integer time step {step['int']!r}")
        return step["int"]
    import pandas as pd

    if not isinstance(step["freq"], str):
        raise ValueError(f"invalid frequency {step['freq']!r}")
    return pd.tseries.frequencies.to_offset(step["freq"])


def save_model(
    model: LSTMForecaster,
    path: str | os.PathLike[str],
    *,
    weights: list[dict[str, torch.Tensor]] | None = None,
    histories: list[History] | None = None,
    training: Resumable | None = None,
) -> None:
    """Write ``model`` to directory ``path`` atomically (replacing an lstmcast model there).

    A checkpoint taken during training passes the networks' ``weights`` and ``histories`` so far
    and the ``training`` state to resume from, saved beside the model as
    ``training_state.json`` and ``training_state.safetensors``.
    """
    from safetensors.torch import save_file

    target = Path(path)
    is_foreign = target.exists() and not (target / CONFIG).is_file()
    if is_foreign and (not target.is_dir() or any(target.iterdir())):
        raise ModelFileError(
            f"{str(target)!r} exists and is not an lstmcast model; choose another path "
            "(lstmcast only replaces its own model directories)"
        )
    tail = model.tail_
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "lstmcast_version": __version__,
        "class": type(model).__name__,
        "params": model.get_params(),
        "network": model.network_.config.to_dict(),
        "seed": model.seed_,
        "histories": [history.to_dict() for history in histories or model.histories_],
        "series": {
            "ids": [str(i) for i in tail.ids],
            "time_dtype": str(tail.ds.dtype),
            "steps": [_step_to_json(step) for step in model.steps_],
        },
    }
    if weights is None:
        weights = [network.state_dict() for network in model.networks_]
    tensors = {
        f"network.{member}.{k}": v.detach().cpu().contiguous()
        for member, state in enumerate(weights)
        for k, v in state.items()
    }
    calibration = getattr(model, "calibration_", None)
    if calibration is not None:
        tensors["calibration.quantiles"] = torch.from_numpy(calibration.astype(np.float64))
        config["calibration_size"] = model.calibration_size_
        config["calibration_scale"] = model.calibration_scale_
    tensors |= {
        "scaler.shift": torch.from_numpy(model.scaler_.shift.astype(np.float64)),
        "scaler.scale": torch.from_numpy(model.scaler_.scale.astype(np.float64)),
        "tail.y": torch.from_numpy(tail.y.astype(np.float64)),
        "tail.ds": torch.from_numpy(tail.ds.view(np.int64).copy()),
        "tail.starts": torch.from_numpy(tail.starts.astype(np.int64)),
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"))
    try:
        save_file(tensors, str(staging / WEIGHTS), metadata={"format": FORMAT})
        (staging / CONFIG).write_text(json.dumps(config, indent=2, default=_json_default) + "\n")
        if training is not None:
            _write_training_state(training, staging)
        _replace_dir(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


@dataclass(frozen=True)
class Resumable:
    """A training run that stopped after some epoch: what ``fit(..., resume=True)`` needs."""

    member: int  # the ensemble member in training; earlier members are complete
    fingerprint: str  # of the training data: resuming on other data is refused
    state: TrainState


def data_fingerprint(panel: Panel) -> str:
    """A digest of the ids, times and values of ``panel``."""
    digest = hashlib.sha256()
    for array in (np.asarray(panel.ids, dtype=str), panel.ds, panel.y, panel.starts):
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def _write_training_state(training: Resumable, directory: Path) -> None:
    from safetensors.torch import save_file

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
    save_file(tensors, str(directory / STATE_WEIGHTS))
    (directory / STATE_CONFIG).write_text(json.dumps(info, default=_json_default) + "\n")


def read_training_state(path: str | os.PathLike[str]) -> Resumable | None:
    """The training state saved with a checkpoint, or None when training had finished."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from .train import History

    directory = Path(path)
    if not (directory / STATE_CONFIG).is_file():
        return None
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
            history=History(**info["history"]),
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


def tensors_with_prefix(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The tensors whose names start with ``prefix``, named without it."""
    return {k.removeprefix(prefix): v for k, v in tensors.items() if k.startswith(prefix)}


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def _replace_dir(staging: Path, target: Path) -> None:
    """Move ``staging`` onto ``target``; an old model there is removed only after the move."""
    if not target.exists():
        os.replace(staging, target)
        return
    old = target.with_name(f".{target.name}.old-{os.getpid()}")
    os.replace(target, old)
    try:
        os.replace(staging, target)
    except BaseException:
        os.replace(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True)


def read_model(path: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Read and check a model directory: its config and its tensors. Never runs code."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    directory = Path(path)
    if not directory.is_dir():
        raise ModelFileError(f"model directory {str(directory)!r} not found")
    config_file, weights_file = directory / CONFIG, directory / WEIGHTS
    if not config_file.is_file():
        raise ModelFileError(f"{str(directory)!r} is not an lstmcast model: it has no {CONFIG}")
    try:
        config = json.loads(config_file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as error:
        raise ModelFileError(
            f"{config_file} is not valid JSON ({type(error).__name__}); the model is corrupt"
        ) from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise ModelFileError(f"{config_file} is not an lstmcast model config")
    version = config.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelFileError(
            f"{str(directory)!r} was saved by lstmcast {config.get('lstmcast_version', '?')} in "
            f"model format {version}; this lstmcast {__version__} reads format {FORMAT_VERSION} "
            "at most: upgrade lstmcast to load it"
        )
    if not weights_file.is_file():
        raise ModelFileError(f"{str(directory)!r} is incomplete: {WEIGHTS} is missing")
    try:
        tensors = load_file(str(weights_file))
    except (SafetensorError, OSError, ValueError, RuntimeError) as error:
        raise ModelFileError(
            f"{weights_file} is not a readable safetensors file ({error}); the model is "
            "corrupt or truncated: save it again"
        ) from None
    return config, tensors


def load(path: str | os.PathLike[str]) -> LSTMForecaster:
    """Load a model saved with ``LSTMForecaster.save``; it forecasts exactly as when saved.

    Every part of the directory is checked against the others before anything is built, so a
    damaged or doctored model is refused with :class:`ModelFileError` rather than failing later.
    """
    config, tensors = read_model(path)
    try:
        return _build(config, tensors)
    except ModelFileError:
        raise
    except (
        KeyError, TypeError, ValueError, RuntimeError, AttributeError, IndexError,
        OverflowError, LstmcastError,
    ) as error:  # fmt: skip
        detail = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ModelFileError(
            f"{path} does not hold a consistent lstmcast model ({detail}); save it again"
        ) from None


def _build(config: dict[str, Any], tensors: dict[str, torch.Tensor]) -> LSTMForecaster:
    from .forecast import CALIBRATION_GRID, LSTMForecaster, _pick_device
    from .model import LSTMNetwork, NetworkConfig
    from .windows import SeriesScaler

    if config["class"] != "LSTMForecaster":
        raise ValueError(f"unknown model class {config['class']!r}")
    params = dict(config["params"])
    for name in ("calendar", "quantile_levels"):
        if isinstance(params.get(name), list):  # JSON has no tuples
            params[name] = tuple(params[name])
    model = LSTMForecaster(**params)
    model._check_params()  # settings edited by hand are refused like bad arguments
    network_config = NetworkConfig(**config["network"])
    expected = {
        "horizon": model.horizon,
        "hidden_size": model.hidden_size,
        "num_layers": model.num_layers,
        "segment": model.segment,
        "window_norm": model.window_norm,
        "input_size": 1 + 2 * len(model._calendar()),
        "quantiles": model._network_quantiles(),
    }
    for name, value in expected.items():
        if getattr(network_config, name) != value:
            raise ValueError(f"the network's {name} does not match the settings")
    histories = [History(**history) for history in config["histories"]]
    if not 1 <= len(histories) <= model.ensemble_size:
        raise ValueError(
            f"{len(histories)} trained networks for ensemble_size {model.ensemble_size}"
        )
    # Check the weights' shapes before building anything, so sizes in the config cannot make
    # this allocate more than the weights file holds.
    H = model.hidden_size
    for member in range(len(histories)):
        last = f"network.{member}.lstm.weight_hh_l{model.num_layers - 1}"
        if last not in tensors or tuple(tensors[last].shape) != (4 * H, H):
            raise ValueError(f"weights of network {member} do not match hidden_size and num_layers")
    if not all(torch.isfinite(t).all() for k, t in tensors.items() if k.startswith("network.")):
        raise ValueError("the network weights hold NaN or infinite values")
    networks = []
    for member in range(len(histories)):
        network = LSTMNetwork(network_config)
        network.load_state_dict(tensors_with_prefix(tensors, f"network.{member}."), strict=True)
        networks.append(network.to(_pick_device(model.device)).eval())

    series = config["series"]
    ids = np.array([str(i) for i in series["ids"]], dtype=object)
    time_dtype = np.dtype(series["time_dtype"])
    if time_dtype != np.int64 and time_dtype.kind != "M":
        raise ValueError(f"time_dtype {time_dtype} is neither int64 nor a datetime")
    arrays = {name: tensors[name].numpy() for name in
              ("tail.y", "tail.ds", "tail.starts", "scaler.shift", "scaler.scale")}  # fmt: skip
    if any(array.ndim != 1 for array in arrays.values()):
        raise ValueError("a saved series array is not one-dimensional")
    dtypes = {"tail.y": np.float64, "tail.ds": np.int64, "tail.starts": np.int64,
              "scaler.shift": np.float64, "scaler.scale": np.float64}  # fmt: skip
    for name, dtype in dtypes.items():
        if arrays[name].dtype != dtype:
            raise ValueError(f"{name} holds {arrays[name].dtype}, not {np.dtype(dtype)}")
    starts, y = arrays["tail.starts"], arrays["tail.y"]
    n = len(ids)
    if not (
        len(starts) == n + 1
        and starts[0] == 0
        and starts[-1] == len(y) == len(arrays["tail.ds"])
        and (np.diff(starts) >= model.window).all()
        and len(arrays["scaler.shift"]) == len(arrays["scaler.scale"]) == len(series["steps"]) == n
    ):
        raise ValueError("the saved series arrays do not agree with each other")
    scale = arrays["scaler.scale"]
    if not (
        np.isfinite(scale).all() and (scale > 0).all() and np.isfinite(arrays["scaler.shift"]).all()
    ):
        raise ValueError("the saved scaler statistics are not finite and positive")
    model.networks_ = networks
    model.scaler_ = SeriesScaler(ids, arrays["scaler.shift"], scale)
    model.tail_ = Panel(ids=ids, y=y, ds=arrays["tail.ds"].view(time_dtype), starts=starts)
    model.steps_ = [_step_from_json(step) for step in series["steps"]]
    if any(isinstance(step, int) != (time_dtype == np.int64) for step in model.steps_):
        raise ValueError("the time steps do not match the time type")
    model.calibration_ = None
    if "calibration.quantiles" in tensors:
        calibration = tensors["calibration.quantiles"].numpy()
        size = config["calibration_size"]
        if config["format_version"] == 1:  # format 1 kept its one row without the first axis
            calibration = calibration[None]
        intervals = len(model.quantile_levels) if model.quantile_levels else 1
        expected = (intervals, CALIBRATION_GRID, model.horizon)
        if calibration.shape != expected or not isinstance(size, int):
            raise ValueError("the interval calibration does not match the horizon and levels")
        if size < 1 or not np.isfinite(calibration).all():
            raise ValueError("the interval calibration is not finite")
        # Format 1 measured conformity scores in each series' standard deviations.
        scale = config.get("calibration_scale", "series")
        if scale not in ("series", "window"):
            raise ValueError(f"unknown interval calibration scale {scale!r}")
        model.calibration_, model.calibration_size_ = calibration, size
        model.calibration_scale_ = scale
    model.n_series_ = n
    model.seed_ = int(config["seed"])
    model.histories_ = histories
    return model
