"""Writing files safely: atomic writes, permissions from the umask, outputs checked against inputs.

Every file lstmcast writes goes through :func:`atomic_path` (a reader never sees a half-written
file, a crash never leaves one). The CLI calls :func:`check_output` before any work, so an output
that would destroy an input (the data, the model being read, a forecast being plotted) is refused
before training starts, and :func:`frame_format` / :func:`image_format` so a suffix names the
format written.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

# Formats of forecast and backtest frames, by suffix.
FRAME_FORMATS = {".csv": "csv", ".parquet": "parquet"}
PARQUET_HINT = "pip install 'lstmcast[parquet]'"


def umask() -> int:
    """The process's umask (read by setting it, then restoring it)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """The permissions a plain ``open()`` gives a new file: 0666 without the umask's bits."""
    return 0o666 & ~umask()


def dir_mode() -> int:
    """The permissions a plain ``mkdir`` gives a new directory: 0777 without the umask's bits."""
    return 0o777 & ~umask()


def real_path(path: str | os.PathLike[str]) -> Path:
    """``path`` with every symbolic link resolved: writing there writes through the links."""
    return Path(os.path.realpath(path))


def sha256(path: str | os.PathLike[str]) -> str:
    """The SHA-256 of a file's bytes, hex, read in blocks (a file larger than memory is fine)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_writable(
    path: str | os.PathLike[str],
    *,
    what: str = "output",
    directory: bool = False,
    example: str | None = None,
) -> None:
    """Refuse a path lstmcast cannot write as a file (or, with ``directory``, as a directory).

    ``what`` names the path in the message (an option such as ``--output``), ``example`` is a
    file name to suggest (e.g. ``forecast.csv``).
    """
    _check_not_empty(path, what, directory, example)
    target = Path(path)
    _check_links(target, what)
    if target.is_dir() and not directory:
        suggestion = f", e.g. {str(target / example)!r}" if example else ""
        raise ConfigError(f"{what} {str(target)!r} is a directory; give a file path{suggestion}")
    if target.exists() and not target.is_dir() and directory:
        raise ConfigError(f"{what} {str(target)!r} is a file, not a directory; give a directory")
    for parent in real_path(target).parents:
        if parent.exists():
            if not parent.is_dir():
                raise ConfigError(
                    f"cannot write {what} {str(target)!r}: {str(parent)!r} is a file, not a "
                    "directory; choose another path"
                )
            _probe(parent, f"{what} {str(target)!r}")
            break


def _check_links(target: Path, what: str) -> None:
    """Refuse a path through a symbolic link that cannot be followed (a loop of links)."""
    for part in (target, *target.parents):
        if part.is_symlink():
            try:
                part.stat()
            except FileNotFoundError:  # dangling: writing through it creates what it names
                continue
            except OSError as error:
                raise ConfigError(
                    f"cannot write {what} {str(target)!r}: the symbolic link {str(part)!r} "
                    f"cannot be followed ({error.strerror or error}); choose another path"
                ) from None


def _probe(directory: Path, shown: str) -> None:
    """Refuse ``shown`` (an output) when no file can be created in ``directory``, its nearest
    existing folder: checked by creating and removing one, before any work is done (permissions,
    a read-only or pseudo file system such as /proc, which ``os.access`` does not tell)."""
    try:
        fd, name = tempfile.mkstemp(dir=directory, prefix=".lstmcast-", suffix=".probe")
    except OSError as error:
        raise ConfigError(
            f"cannot write {shown}: no file can be created in {str(directory)!r} "
            f"({error.strerror or error}); choose another path"
        ) from None
    os.close(fd)
    Path(name).unlink(missing_ok=True)


def _check_not_empty(
    path: str | os.PathLike[str], what: str, directory: bool, example: str | None
) -> None:
    # Path("") is Path("."): an empty option arrives as the current directory.
    if str(path) in ("", "."):
        kind = "directory" if directory else "file"
        suggestion = f", e.g. {example}" if example else ""
        raise ConfigError(f"{what} is empty (or '.'); give a {kind} name{suggestion}")


def check_output(
    output: str | os.PathLike[str],
    inputs: Sequence[tuple[str, str | os.PathLike[str] | None]] = (),
    *,
    what: str = "--output",
    directory: bool = False,
    replaced: bool = False,
    example: str | None = None,
) -> None:
    """Refuse an ``output`` that would destroy or mix with what a command reads.

    ``inputs`` are (description, path) pairs, e.g. ``("the data", "sales.csv")`` (a None path is
    skipped). The output is refused when it is (through symbolic or hard links) one of them, lies
    inside an input directory, or (``replaced``: an output directory replaced as a whole, such as
    a model's) holds an input; then when :func:`check_writable` refuses it (``directory``: the
    output is a directory).
    """
    _check_not_empty(output, what, directory, example)
    out = real_path(output)
    shown = f"{what} {str(output)!r}"
    for description, source in inputs:
        if source is None:
            continue
        src = real_path(source)
        same = out == src
        with contextlib.suppress(OSError):  # either may not exist yet
            same = same or out.samefile(src)
        if same:
            link = "" if Path(output) == Path(source) else " (the same file, through a link)"
            raise ConfigError(
                f"{shown} is {description} {str(source)!r}{link}, which this command reads; "
                "writing it would destroy it: choose another output path"
            )
        if src.is_dir() and _within(out, src):
            raise ConfigError(
                f"{shown} lies inside {description} {str(source)!r}, which this command reads; "
                "write the output outside it"
            )
        if replaced and _within(src, out):
            raise ConfigError(
                f"{shown} would replace the directory holding {description} {str(source)!r}, "
                "which this command reads; choose an output directory that does not contain it"
            )
    check_writable(output, what=what, directory=directory, example=example)


def _within(path: Path, directory: Path) -> bool:
    """Whether ``path`` is ``directory`` or lies inside it: by name, then by identity of each
    existing folder on its way up (another spelling of the same folder: a bind mount, a
    case-insensitive file system, which resolving links does not reveal)."""
    if path.is_relative_to(directory):
        return True
    try:
        target = directory.stat()
    except OSError:
        return False
    for folder in (path, *path.parents):
        with contextlib.suppress(OSError):
            if os.path.samestat(folder.stat(), target):
                return True
    return False


def frame_format(path: str | os.PathLike[str], *, what: str = "output") -> str:
    """The format a frame is written in, from the suffix of ``path``: "csv" or "parquet".

    A Parquet output needs pyarrow: its absence is reported here, before any work is done.
    """
    suffix = Path(path).suffix.lower()
    if suffix not in FRAME_FORMATS:
        raise ConfigError(
            f"{what} {str(path)!r} has {_suffix(suffix)}; the format is chosen by the suffix: "
            f"{', '.join(FRAME_FORMATS)}"
        )
    if FRAME_FORMATS[suffix] == "parquet":
        require_pyarrow(f"writing {Path(path).name}")
    return FRAME_FORMATS[suffix]


def require_pyarrow(task: str) -> None:
    """Refuse ``task`` (e.g. "writing f.parquet") with an install hint when pyarrow is missing."""
    if importlib.util.find_spec("pyarrow") is None:
        raise ConfigError(f"{task} needs pyarrow, which is not installed: {PARQUET_HINT}")


def write_frame(frame: pd.DataFrame, path: str | os.PathLike[str]) -> None:
    """Write a pandas frame atomically, as CSV or Parquet by the suffix of ``path``."""
    kind = frame_format(path)
    with atomic_path(path) as tmp:
        if kind == "parquet":
            frame.to_parquet(tmp, index=False)
        else:
            frame.to_csv(tmp, index=False)


def image_format(path: str | os.PathLike[str], *, what: str = "output") -> str:
    """The image format matplotlib writes for the suffix of ``path`` (png, pdf, svg, ...)."""
    from matplotlib.backend_bases import FigureCanvasBase

    supported = FigureCanvasBase.get_supported_filetypes()
    suffix = Path(path).suffix.lower()
    if suffix.removeprefix(".") not in supported:
        raise ConfigError(
            f"{what} {str(path)!r} has {_suffix(suffix)}; the image format is chosen by the "
            f"suffix: {', '.join('.' + s for s in supported)}"
        )
    return suffix.removeprefix(".")


def _suffix(suffix: str) -> str:
    return f"suffix {suffix!r}" if suffix else "no suffix"


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it onto ``path``.

    Write the file to the yielded path. If the block raises, the temporary file is removed and
    ``path`` is left as it was. A symbolic link at ``path`` stays: the file it points to is
    replaced. The file gets the permissions a plain ``open()`` would give it (the umask's).
    """
    check_writable(path)
    target = real_path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as error:  # named by the path asked for, not a temporary file's
        raise ConfigError(
            f"cannot write {str(path)!r}: {error.strerror or error}; choose another path"
        ) from None
    os.close(fd)
    tmp = Path(tmp_name)
    # mkstemp creates the file private (0600).
    tmp.chmod(file_mode())
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
