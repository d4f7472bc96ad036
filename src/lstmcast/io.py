"""Saving and loading models: a directory with ``config.json`` and ``weights.safetensors``.

Nothing here ever unpickles: the config is JSON, every array (weights, scaler statistics, the
last window of each series) is a safetensors tensor, so loading a model cannot run code. A save
is atomic: the directory is written beside its destination and renamed into place, so a crash
leaves either the old model or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import math
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from . import __version__, distributed
from .data import LAYOUTS, Panel, concatenated_ranges
from .errors import LstmcastError, ModelFileError
from .files import check_writable, dir_mode, file_mode, real_path, sha256
from .train import History, TrainState

if TYPE_CHECKING:
    from .forecast import LSTMForecaster

FORMAT = "lstmcast-model"
# Format 2: interval calibration (intervals, 1001, horizon) with its scale, and models trained
# on sharded data keeping each rank's series in files of their own. Format 1 files still load;
# older lstmcast versions refuse format 2 by this number rather than misread it.
FORMAT_VERSION = 2
SERIES_SHARD = "series-{:05d}"
CONFIG, WEIGHTS = "config.json", "weights.safetensors"
STATE_CONFIG, STATE_WEIGHTS = "training_state.json", "training_state.safetensors"
# The files lstmcast writes into a model directory; saving again replaces only these.
_OWN_FILE = re.compile(
    r"config\.json|weights\.safetensors|training_state\.(json|safetensors)"
    r"|series-\d{5,}\.(json|safetensors)"
)
# config.json's record of the SHA-256 of every other file it describes, by file name. Models saved
# before it was added have none and still load (older lstmcast versions ignore the key).
CHECKSUMS = "checksums"
# Files named in a message about a directory's foreign files, at most.
_SHOWN_FILES = 5


def _step_to_json(step: Any) -> dict[str, Any]:
    if isinstance(step, int):
        return {"int": step}
    import pandas as pd

    # Whole months on one day of the month (monthly on the 15th) have no pandas alias.
    if type(step) is pd.DateOffset and set(step.kwds) == {"months"}:
        return {"months": step.kwds["months"]}
    return {"freq": step.freqstr}


def _step_from_json(step: dict[str, Any]) -> Any:
    if "int" in step:
        if not isinstance(step["int"], int) or step["int"] <= 0:
            raise ValueError(f"invalid integer time step {step['int']!r}")
        return step["int"]
    import pandas as pd

    if "months" in step:
        months = step["months"]
        if isinstance(months, bool) or not isinstance(months, int) or not 0 < months <= 1200:
            raise ValueError(f"invalid step of months {step['months']!r}")
        return pd.DateOffset(months=step["months"])

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

    A directory holding files lstmcast did not write is refused, and the directory is locked
    while it is written (see :func:`writing_model`); a symbolic link at ``path`` stays and the
    directory it points to is replaced. ``config.json`` records the SHA-256 of every other file,
    checked when the model is read.

    In a process group rank 0 writes the model. A model trained on sharded data (each rank its
    own series) is saved by all ranks together: each writes its series' state as
    ``series-<rank>.json`` and ``series-<rank>.safetensors`` into rank 0's staging directory,
    which rank 0 completes and renames into place.
    """
    with writing_model(path):
        _save_model(model, real_path(path), weights, histories, training)


def _save_model(
    model: LSTMForecaster,
    target: Path,
    weights: list[dict[str, torch.Tensor]] | None,
    histories: list[History] | None,
    training: Resumable | None,
) -> None:
    sharded = distributed.active() and getattr(model, "sharded_", False)
    if distributed.rank() != 0 and not sharded:
        distributed.barrier()  # every rank holds the same model: rank 0's copy is written
        return
    staging = None
    if distributed.rank() == 0:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        Path(staging).chmod(dir_mode())  # mkdtemp makes it private
    if sharded:
        staging = distributed.from_rank0(staging)
    staging_dir = Path(str(staging))
    checksums: dict[str, str] = {}
    try:
        series, series_tensors = _series_state(model)
        if sharded:
            shard = SERIES_SHARD.format(distributed.rank())
            tensors_name, json_name = f"{shard}.safetensors", f"{shard}.json"
            mine = {
                tensors_name: _save_tensors(series_tensors, staging_dir, tensors_name),
                json_name: _write_text(json.dumps(series) + "\n", staging_dir, json_name),
            }
            for written in distributed.gather(mine):  # also: every shard is written
                checksums |= written
            count = int(distributed.sum_across([float(len(model.tail_))])[0])
            series = {
                "shards": distributed.world_size(),
                "count": count,
                "time_dtype": series["time_dtype"],
            }
            series_tensors = {}
        if distributed.rank() == 0:
            config = {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "lstmcast_version": __version__,
                "class": type(model).__name__,
                "params": model.get_params(),
                "columns": model.columns_,
                # The layout the command line read the data in (--layout), if it was named.
                "layout": getattr(model, "layout_", None),
                "network": model.network_.config.to_dict(),
                "seed": model.seed_,
                "histories": [history.to_dict() for history in histories or model.histories_],
                "series": series,
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
            checksums[WEIGHTS] = _save_tensors(
                tensors | series_tensors, staging_dir, WEIGHTS, metadata={"format": FORMAT}
            )
            if training is not None:
                checksums |= _write_training_state(training, staging_dir)
            config[CHECKSUMS] = dict(sorted(checksums.items()))
            text = json.dumps(config, indent=2, default=_json_default) + "\n"
            _write_text(text, staging_dir, CONFIG)
            _replace_dir(staging_dir, target)
    finally:
        if distributed.rank() == 0:
            shutil.rmtree(staging_dir, ignore_errors=True)
    distributed.barrier()  # no rank reads the model before it is in place


def _save_tensors(
    tensors: dict[str, torch.Tensor],
    directory: Path,
    name: str,
    metadata: dict[str, str] | None = None,
) -> str:
    """Write a safetensors file with the umask's permissions; return its SHA-256."""
    from safetensors.torch import save_file

    file = directory / name
    save_file(tensors, str(file), metadata=metadata)
    file.chmod(file_mode())  # safetensors creates it private (0600)
    return sha256(file)


def _write_text(text: str, directory: Path, name: str) -> str:
    """Write a text file into ``directory``; return its SHA-256."""
    file = directory / name
    file.write_text(text)
    return sha256(file)


def _foreign_files(directory: Path) -> list[str]:
    """Names in ``directory`` that lstmcast did not write (a subdirectory ends in "/")."""
    return sorted(
        entry.name + ("/" if entry.is_dir() else "")
        for entry in os.scandir(directory)
        if not (_OWN_FILE.fullmatch(entry.name) and entry.is_file(follow_symlinks=False))
    )


def check_replaceable(path: str | os.PathLike[str]) -> None:
    """Refuse to save into ``path`` when that would delete something lstmcast did not write.

    Saving replaces the whole directory, so any file or folder in it other than a model's own
    (``config.json``, ``weights.safetensors``, ``training_state.*``, ``series-*``) is named in a
    :class:`ModelFileError` rather than deleted.
    """
    target = Path(path)
    if not target.exists():
        return
    if not target.is_dir():
        raise ModelFileError(
            f"{str(target)!r} exists and is not an lstmcast model directory but a file; choose "
            "another path"
        )
    foreign = _foreign_files(target)
    if not foreign:
        return
    listed = _listed(foreign)
    if not (target / CONFIG).is_file():
        raise ModelFileError(
            f"{str(target)!r} exists and is not an lstmcast model (it holds {listed}); choose "
            "another path (lstmcast only replaces its own model directories)"
        )
    raise ModelFileError(
        f"model directory {str(target)!r} holds {len(foreign)} file(s) lstmcast did not write "
        f"({listed}); saving replaces the whole directory, so move them out or choose another "
        "path"
    )


@contextlib.contextmanager
def writing_model(path: str | os.PathLike[str] | None) -> Iterator[None]:
    """Hold the lock of model directory ``path`` while the block writes it (None: no-op).

    The lock is ``.<name>.lock`` beside the directory (the directory itself is replaced by a
    rename). It is an OS lock, held by the process and released when it exits or is killed, so
    no stale lock is left; within one process it is re-entrant (a ``fit`` holds it while its
    checkpoints save). A second process gets :class:`ModelFileError` at once, as does a directory
    holding files lstmcast did not write (:func:`check_replaceable`). In a process group rank 0
    takes the lock and every rank raises its error.
    """
    if path is None:
        yield
        return
    from filelock import FileLock, Timeout

    target = real_path(path)
    lock = None
    problem: LstmcastError | None = None
    if distributed.rank() == 0:
        lock_file = target.with_name(f".{target.name}.lock")
        try:
            check_writable(path, what="model directory", directory=True)
            target.parent.mkdir(parents=True, exist_ok=True)
            # Re-entrant: the same object (and the one open file) for this path in this process.
            lock = FileLock(lock_file, timeout=0, is_singleton=True)
            lock.acquire()
        except Timeout:
            lock = None
            # filelock reports a lock file it could not even create as a lock held elsewhere.
            held = lock_file.is_file()
            problem = ModelFileError(
                f"another process is writing the model directory {str(path)!r} (it holds "
                f"{str(lock_file)!r}); wait for it to finish or choose another directory"
                if held
                else f"cannot lock the model directory {str(path)!r}: {str(lock_file)!r} "
                "cannot be created; choose another directory"
            )
        except OSError as error:
            lock = None
            problem = ModelFileError(
                f"cannot lock the model directory {str(path)!r} with {str(lock_file)!r}: "
                f"{error.strerror or error}"
            )
        except LstmcastError as error:
            problem = error
        else:
            try:
                _recover_interrupted_save(target)
                check_replaceable(path)
            except ModelFileError as error:
                problem = error
    problem = distributed.from_rank0(problem)  # every rank raises rank 0's error
    try:
        if problem is not None:
            raise problem
        yield
    finally:
        if lock is not None:
            lock.release()


def _series_state(model: LSTMForecaster) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """What forecasting each series needs: ids and steps (JSON), scaling and last points."""
    tail = model.tail_
    series = {
        "ids": [str(i) for i in tail.ids],
        "time_dtype": str(tail.ds.dtype),
        "time_zone": tail.tz,
        "steps": [_step_to_json(step) for step in model.steps_],
    }
    tensors = {
        "scaler.shift": torch.from_numpy(model.scaler_.shift.astype(np.float64)),
        "scaler.scale": torch.from_numpy(model.scaler_.scale.astype(np.float64)),
        "tail.y": torch.from_numpy(tail.y.astype(np.float64)),
        "tail.ds": torch.from_numpy(tail.ds.view(np.int64).copy()),
        "tail.starts": torch.from_numpy(tail.starts.astype(np.int64)),
    }
    return series, tensors


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


def _write_training_state(training: Resumable, directory: Path) -> dict[str, str]:
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
        STATE_WEIGHTS: _save_tensors(tensors, directory, STATE_WEIGHTS),
        STATE_CONFIG: _write_text(
            json.dumps(info, default=_json_default) + "\n", directory, STATE_CONFIG
        ),
    }


def read_training_state(path: str | os.PathLike[str]) -> Resumable | None:
    """The training state saved with a checkpoint, or None when training had finished."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from .train import History

    directory = Path(path)
    if not (directory / STATE_CONFIG).is_file():
        return None
    config, _ = read_model(directory, tensors=False)
    checksums = _checksums(config, directory)
    _verify(directory, STATE_CONFIG, checksums)
    _verify(directory, STATE_WEIGHTS, checksums)
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


def _left_by_saves(target: Path) -> tuple[list[Path], list[Path]]:
    """What saves killed mid-way left beside ``target``: old models moved aside by
    :func:`_replace_dir` (``.<name>.old-<pid>``) and staging directories (``.<name>.*.tmp``)."""
    name = glob.escape(target.name)
    old = sorted(p for p in target.parent.glob(f".{name}.old-*") if (p / CONFIG).is_file())
    staging = sorted(p for p in target.parent.glob(f".{name}.*.tmp") if p.is_dir())
    return old, staging


def _recover_interrupted_save(target: Path) -> None:
    """Under the directory's lock, undo what a save killed mid-way left beside ``target``.

    A save killed between the two renames of :func:`_replace_dir` leaves the old model only as
    ``.<name>.old-<pid>``: it is put back. Old models left beside a new one, and staging
    directories, belong to no running save (the lock is ours): they are removed.
    """
    old, staging = _left_by_saves(target)
    for directory in old:
        if not target.exists():
            os.replace(directory, target)
        else:
            shutil.rmtree(directory, ignore_errors=True)
    for directory in staging:
        shutil.rmtree(directory, ignore_errors=True)


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


def _checksums(config: dict[str, Any], directory: Path) -> dict[str, str] | None:
    """The SHA-256 of each file that ``config`` records, or None for a model saved without."""
    if CHECKSUMS not in config:
        return None
    checksums = config[CHECKSUMS]
    if not (
        isinstance(checksums, dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in checksums.items())
    ):
        raise ModelFileError(
            f"the {CHECKSUMS} in {directory / CONFIG} are not file names and SHA-256 digests; "
            "the model is corrupt: save it again"
        )
    return checksums


def _verify(directory: Path, name: str, checksums: dict[str, str] | None) -> None:
    """Refuse file ``name`` of ``directory`` unless its SHA-256 is the one config.json records."""
    if checksums is None:  # saved before lstmcast recorded checksums
        return
    file = directory / name
    if name not in checksums:
        raise ModelFileError(
            f"{file} is not described by {directory / CONFIG} (it records no checksum for it); "
            "the model directory was changed after saving: save the model again"
        )
    if sha256(file) != checksums[name]:
        raise ModelFileError(
            f"{file} does not belong to {directory / CONFIG}: its SHA-256 differs from the one "
            "recorded when the model was saved (the file was changed, or copied from another "
            "model); use the files saved together, or save the model again"
        )


def read_model(
    path: str | os.PathLike[str], *, tensors: bool = True
) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Read and check a model directory: its config and its tensors. Never runs code.

    Every file is checked against the SHA-256 that ``config.json`` records for it. With
    ``tensors=False`` only the config is read (and the returned tensors are empty).
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    directory = Path(path)
    if directory.exists() and not directory.is_dir():
        raise ModelFileError(
            f"{str(directory)!r} is a file, not a model directory; give the directory that "
            "lstmcast train (or save) wrote"
        )
    if not directory.is_dir():
        old = _left_by_saves(real_path(directory))[0]
        if old:
            raise ModelFileError(
                f"model directory {str(directory)!r} not found, but a save that was stopped "
                f"left the previous model in {str(old[-1])!r}: rename it to "
                f"{directory.name!r} to load it"
            )
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
            f"model format {version}; this lstmcast {__version__} reads format "
            f"{FORMAT_VERSION} at most: upgrade lstmcast to load it"
        )
    checksums = _checksums(config, directory)
    if not tensors:
        return config, {}
    if not weights_file.is_file():
        raise ModelFileError(f"{str(directory)!r} is incomplete: {WEIGHTS} is missing")
    try:
        loaded = load_file(str(weights_file))
    except (SafetensorError, OSError, ValueError, RuntimeError) as error:
        raise ModelFileError(
            f"{weights_file} is not a readable safetensors file ({error}); the model is "
            "corrupt or truncated: save it again"
        ) from None
    _verify(directory, WEIGHTS, checksums)
    return config, loaded


def load(path: str | os.PathLike[str], part: tuple[int, int] | None = None) -> LSTMForecaster:
    """Load a model saved with ``LSTMForecaster.save``; it forecasts exactly as when saved.

    Every part of the directory is checked against the others before anything is built, so a
    damaged or doctored model is refused with :class:`ModelFileError` rather than failing later.
    ``part=(k, n)`` keeps only the k-th of n shares of the series (sharded forecasting): series
    files k, k + n, ... of a model trained on sharded data, else the k-th of n even blocks.
    """
    config, tensors = read_model(path)
    try:
        return _build(config, tensors, Path(path), part)
    except ModelFileError:
        raise
    except (
        KeyError, TypeError, ValueError, RuntimeError, AttributeError, IndexError,
        OverflowError, LstmcastError, OSError,
    ) as error:  # fmt: skip
        if isinstance(error, KeyError):  # a str of a KeyError is just the quoted key
            detail = f"missing entry {error.args[0]!r}" if error.args else "KeyError"
        else:
            detail = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ModelFileError(
            f"{path} does not hold a consistent lstmcast model ({detail}); save it again"
        ) from None


def _build(
    config: dict[str, Any],
    tensors: dict[str, torch.Tensor],
    directory: Path,
    part: tuple[int, int] | None = None,
) -> LSTMForecaster:
    from .devices import pick_device
    from .forecast import CALIBRATION_GRID, DEFAULT_COLUMNS, LSTMForecaster
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
    _check_tensor_names(config, tensors, directory, len(histories))
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
        try:
            network.load_state_dict(tensors_with_prefix(tensors, f"network.{member}."))
        except RuntimeError:
            raise ModelFileError(
                f"{directory / WEIGHTS} does not match {directory / CONFIG}: the weights of "
                f"network {member} are not those of the network the config describes; use the "
                "files saved together, or save the model again"
            ) from None
        networks.append(network.to(pick_device(model.device)).eval())

    series = config["series"]
    if "shards" in series:
        shards = series["shards"]
        if not isinstance(shards, int) or shards < 1:
            raise ValueError(f"invalid number of series files {shards!r}")
        chosen = range(shards) if part is None else range(part[0], shards, part[1])
        state = _SeriesState.concatenate(
            [
                _read_series_shard(directory, k, model.window, _checksums(config, directory))
                for k in chosen
            ],
            np.dtype(series["time_dtype"]),
        )
        if part is None and len(state.ids) != series["count"]:
            raise ValueError(
                f"the series files hold {len(state.ids)} series, not {series['count']}"
            )
        if len(np.unique(state.ids.astype(str))) != len(state.ids):
            raise ValueError("a series is in two series files")
    else:
        state = _SeriesState.read(series, tensors, model.window)
        if part is not None:
            state = state.select(np.array_split(np.arange(len(state.ids)), part[1])[part[0]])
    model.networks_ = networks
    model.scaler_ = SeriesScaler(state.ids, state.shift, state.scale)
    model.tail_ = state.tail
    model.steps_ = state.steps
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
    # Models saved before they kept their column names were read with the defaults.
    columns = config.get("columns", DEFAULT_COLUMNS)
    if not (
        isinstance(columns, dict)
        and columns.keys() == DEFAULT_COLUMNS.keys()
        and all(isinstance(name, str | None) for name in columns.values())
    ):
        raise ValueError(f"invalid column names {columns!r}")
    model.columns_ = dict(columns)
    layout = config.get("layout")
    if layout is not None and layout not in LAYOUTS:
        raise ValueError(f"invalid layout {layout!r}")
    model.layout_ = layout
    model.n_series_ = len(state.ids)
    model.seed_ = int(config["seed"])
    model.histories_ = histories
    return model


# The per-series tensors of a model whose series are kept in weights.safetensors.
_SERIES_TENSORS = ("scaler.shift", "scaler.scale", "tail.y", "tail.ds", "tail.starts")
_CALIBRATION = "calibration.quantiles"


def _check_tensor_names(
    config: dict[str, Any], tensors: dict[str, torch.Tensor], directory: Path, members: int
) -> None:
    """Refuse weights holding other tensors than the config describes (another model's)."""
    sharded = "shards" in config["series"]
    calibrated = "calibration_size" in config
    networks = tuple(f"network.{member}." for member in range(members))
    described = set() if sharded else set(_SERIES_TENSORS)
    if calibrated:
        described.add(_CALIBRATION)
    extra = sorted(k for k in tensors if k not in described and not k.startswith(networks))
    missing = sorted(described - tensors.keys())
    missing += [f"{p}*" for p in networks if not any(k.startswith(p) for k in tensors)]
    if not extra and not missing:
        return
    problems = []
    if extra:
        problems.append(f"it holds {_listed(extra)}, which the config does not describe")
    if missing:
        problems.append(f"it lacks {_listed(missing)}, which the config describes")
    raise ModelFileError(
        f"{directory / WEIGHTS} does not match {directory / CONFIG}: {' and '.join(problems)}; "
        "the weights come from another model or were changed: use the files saved together, "
        "or save the model again"
    )


def _listed(names: list[str]) -> str:
    return ", ".join(names[:_SHOWN_FILES]) + (", ..." if len(names) > _SHOWN_FILES else "")


def _read_series_shard(
    directory: Path, shard: int, window: int, checksums: dict[str, str] | None
) -> _SeriesState:
    from safetensors.torch import load_file

    name = SERIES_SHARD.format(shard)
    _verify(directory, f"{name}.json", checksums)
    _verify(directory, f"{name}.safetensors", checksums)
    series = json.loads((directory / f"{name}.json").read_text())
    return _SeriesState.read(series, load_file(str(directory / f"{name}.safetensors")), window)


@dataclass(frozen=True)
class _SeriesState:
    """What a model keeps per series: ids, scaling (shift, scale), last points and time steps."""

    ids: np.ndarray
    shift: np.ndarray
    scale: np.ndarray
    tail: Panel
    steps: list[Any]

    @classmethod
    def read(
        cls, series: dict[str, Any], tensors: dict[str, torch.Tensor], window: int
    ) -> _SeriesState:
        """Check and build the state saved by ``_series_state``."""
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
        shift, scale = arrays["scaler.shift"], arrays["scaler.scale"]
        if not (
            len(starts) == n + 1
            and starts[0] == 0
            and starts[-1] == len(y) == len(arrays["tail.ds"])
            and (np.diff(starts) >= window).all()
            and len(shift) == len(scale) == len(series["steps"]) == n
        ):
            raise ValueError("the saved series arrays do not agree with each other")
        if not (np.isfinite(scale).all() and (scale > 0).all() and np.isfinite(shift).all()):
            raise ValueError("the saved scaler statistics are not finite and positive")
        steps = [_step_from_json(step) for step in series["steps"]]
        if any(isinstance(step, int) != (time_dtype == np.int64) for step in steps):
            raise ValueError("the time steps do not match the time type")
        zone = series.get("time_zone")
        if zone is not None:
            import pandas as pd

            if not isinstance(zone, str) or time_dtype.kind != "M":
                raise ValueError(f"invalid time zone {zone!r}")
            try:
                pd.Timestamp(0, tz=zone)
            except (KeyError, ValueError):  # zoneinfo's "not found" is a KeyError
                raise ValueError(f"unknown time zone {zone!r}") from None
        tail = Panel(ids=ids, y=y, ds=arrays["tail.ds"].view(time_dtype), starts=starts, tz=zone)
        return cls(ids, shift, scale, tail, steps)

    @classmethod
    def concatenate(cls, states: list[_SeriesState], time_dtype: np.dtype) -> _SeriesState:
        """The series of ``states`` one after the other (none: an empty state)."""
        if not states:
            empty = Panel(
                np.array([], dtype=object),
                np.zeros(0),
                np.zeros(0, dtype=time_dtype),
                np.zeros(1, np.int64),
            )
            return cls(empty.ids, np.zeros(0), np.ones(0), empty, [])
        if any(state.tail.ds.dtype != time_dtype for state in states):
            raise ValueError("the series files mix time types")
        if any(state.tail.tz != states[0].tail.tz for state in states):
            raise ValueError("the series files mix time zones")
        offsets = np.cumsum([0, *(len(state.tail.y) for state in states[:-1])])
        starts = [
            state.tail.starts[:-1] + offset for state, offset in zip(states, offsets, strict=True)
        ]
        tail = Panel(
            ids=np.concatenate([state.ids for state in states]),
            y=np.concatenate([state.tail.y for state in states]),
            ds=np.concatenate([state.tail.ds for state in states]),
            starts=np.concatenate([*starts, [offsets[-1] + len(states[-1].tail.y)]]),
            tz=states[0].tail.tz,
        )
        return cls(
            tail.ids,
            np.concatenate([state.shift for state in states]),
            np.concatenate([state.scale for state in states]),
            tail,
            [step for state in states for step in state.steps],
        )

    def select(self, series: np.ndarray) -> _SeriesState:
        """The series at positions ``series`` (ascending), (k,)."""
        tail = self.tail
        rows = concatenated_ranges(tail.starts[series], tail.starts[series + 1])
        starts = np.concatenate([[0], np.cumsum(tail.lengths[series])]).astype(np.int64)
        panel = Panel(
            ids=tail.ids[series], y=tail.y[rows], ds=tail.ds[rows], starts=starts, tz=tail.tz
        )
        steps = [self.steps[i] for i in series]
        return _SeriesState(panel.ids, self.shift[series], self.scale[series], panel, steps)
