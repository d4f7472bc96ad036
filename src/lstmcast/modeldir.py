"""Model directories on disk: locking, replacing atomically, checksums, and reading them back.

Where it sits: under ``io`` (which turns a fitted state into files and back) and ``checkpoint``.
This module knows files, not models: which names a model directory may hold, the lock beside it
while it is written, the staging directory renamed into place (and what a killed save leaves
behind), the SHA-256 of every file recorded in ``config.json``, and reading ``config.json`` and
``weights.safetensors`` safely (never unpickling).
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import __version__, distributed
from .errors import LstmcastError, ModelFileError
from .files import check_writable, dir_mode, file_mode, real_path, sha256

FORMAT = "lstmcast-model"
# Format 2: interval calibration (intervals, 1001, horizon) with its scale, and models trained
# on sharded data keeping each rank's series in files of their own. Format 3: each series'
# spread in training (``scaler.spread``, the floor of its intervals' unit). Format 4: each
# network's History records the precision its training resolved to (an older lstmcast could not
# read the new key). Formats 1 to 3 still load (without spreads before 3, without the precision
# before 4); older lstmcast versions refuse a newer format by this number rather than misread it.
FORMAT_VERSION = 4
SERIES_SHARD = "series-{:05d}"
CONFIG, WEIGHTS = "config.json", "weights.safetensors"
STATE_CONFIG, STATE_WEIGHTS = "training_state.json", "training_state.safetensors"
OPTIMIZER = "optimizer.safetensors"  # each network's Adam state (optimizer_state)
# The files lstmcast writes into a model directory; saving again replaces only these.
_OWN_FILE = re.compile(
    r"config\.json|(weights|optimizer)\.safetensors|training_state\.(json|safetensors)"
    r"|series-\d{5,}\.(json|safetensors)"
)
# config.json's record of the SHA-256 of every other file it describes, by file name. Models saved
# before it was added have none and still load (older lstmcast versions ignore the key).
CHECKSUMS = "checksums"
# Files named in a message about a directory's foreign files, at most.
_SHOWN_FILES = 5


def make_staging(target: Path) -> Path:
    """A new empty directory beside ``target`` to write a model into before renaming it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    Path(staging).chmod(dir_mode())  # mkdtemp makes it private
    return Path(staging)


def save_tensors(
    tensors: dict[str, torch.Tensor],
    directory: Path,
    name: str,
    metadata: dict[str, str] | None = None,
) -> str:
    """Write a safetensors file with the umask's permissions; return its SHA-256."""
    from safetensors.torch import save_file

    file = directory / name
    # safetensors refuses views with strides (a transposed calibration table, say): the file
    # stores plain row-major data, so every tensor is written as a contiguous copy if needed.
    contiguous = {key: tensor.contiguous() for key, tensor in tensors.items()}
    save_file(contiguous, str(file), metadata=metadata)
    file.chmod(file_mode())  # safetensors creates it private (0600)
    return sha256(file)


def write_text(text: str, directory: Path, name: str) -> str:
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
    (``config.json``, ``weights.safetensors``, ``optimizer.safetensors``, ``training_state.*``,
    ``series-*``) is named in a :class:`ModelFileError` rather than deleted.
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
    names = listed(foreign)
    if not (target / CONFIG).is_file():
        raise ModelFileError(
            f"{str(target)!r} exists and is not an lstmcast model (it holds {names}); choose "
            "another path (lstmcast only replaces its own model directories)"
        )
    raise ModelFileError(
        f"model directory {str(target)!r} holds {len(foreign)} file(s) lstmcast did not write "
        f"({names}); saving replaces the whole directory, so move them out or choose another "
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


def tensors_with_prefix(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The tensors whose names start with ``prefix``, named without it."""
    return {k.removeprefix(prefix): v for k, v in tensors.items() if k.startswith(prefix)}


def json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def _left_by_saves(target: Path) -> tuple[list[Path], list[Path]]:
    """What saves killed mid-way left beside ``target``: old models moved aside by
    :func:`replace_dir` (``.<name>.old-<pid>``) and staging directories (``.<name>.*.tmp``)."""
    name = glob.escape(target.name)
    old = sorted(p for p in target.parent.glob(f".{name}.old-*") if (p / CONFIG).is_file())
    staging = sorted(p for p in target.parent.glob(f".{name}.*.tmp") if p.is_dir())
    return old, staging


def _recover_interrupted_save(target: Path) -> None:
    """Under the directory's lock, undo what a save killed mid-way left beside ``target``.

    A save killed between the two renames of :func:`replace_dir` leaves the old model only as
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


def replace_dir(staging: Path, target: Path) -> None:
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


def checksums_of(config: dict[str, Any], directory: Path) -> dict[str, str] | None:
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


def verify(directory: Path, name: str, checksums: dict[str, str] | None) -> None:
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
    checksums = checksums_of(config, directory)
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
    verify(directory, WEIGHTS, checksums)
    return config, loaded


def listed(names: list[str]) -> str:
    return ", ".join(names[:_SHOWN_FILES]) + (", ..." if len(names) > _SHOWN_FILES else "")
