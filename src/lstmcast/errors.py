"""lstmcast's exception types.

Every error caused by the user's input, data, settings or files is a :class:`LstmcastError`, so a
caller (and the CLI) can tell them apart from bugs. Each message says what was found, what was
expected and what to do.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar


class LstmcastError(Exception):
    """Base class of every error lstmcast raises on purpose."""


class DataError(LstmcastError, ValueError):
    """The input data cannot be used: missing columns, NaN, unsorted time, too short, ..."""


class ConfigError(LstmcastError, ValueError):
    """A hyper-parameter or option is invalid."""


class NotFittedError(LstmcastError, AttributeError):
    """A model was used before ``fit`` (or ``load``)."""


class ModelFileError(LstmcastError, OSError):
    """A saved model directory is missing, incomplete, corrupt or from an incompatible version."""


class TrainingError(LstmcastError, RuntimeError):
    """Training could not go on (the loss became NaN or infinite, ...)."""


class ForecastError(LstmcastError, ArithmeticError):
    """A fitted model forecast NaN or infinity (a model file edited by hand, or input values
    far beyond the training data's range); nothing is returned."""


class DataWarning(UserWarning):
    """The input can be used but looks wrong (values far outside what the model was trained on).

    Not an error, so a deliberate use goes on; the command line prints it as one line on stderr,
    ``warning: <message>``.
    """


# Whether messages are read on the command line: set by the CLI around each command, so one
# message names ``--time-col`` for a CLI user and ``time_col=`` for a Python user.
_ON_COMMAND_LINE: ContextVar[bool] = ContextVar("lstmcast_on_command_line", default=False)
# Keywords whose command-line flag is not the keyword with dashes.
_FLAGS = {
    "ignore_cols": "--ignore-col",
    "random_state": "--seed",
    "num_layers": "--layers",
    "quantile_levels": "--quantile-level",
    "futr_cols": "--futr-col",
    "hist_cols": "--hist-col",
    "static_cols": "--static-col",
}


@contextmanager
def command_line() -> Iterator[None]:
    """Within this block, :func:`option` spells settings as command-line flags."""
    token = _ON_COMMAND_LINE.set(True)
    try:
        yield
    finally:
        _ON_COMMAND_LINE.reset(token)


def setting(keyword: str) -> str:
    """How the reader of a message names setting ``keyword`` on its own: ``window`` in Python,
    ``--window`` on the command line (``h`` is ``--h``, ``num_layers`` ``--layers``)."""
    if not _ON_COMMAND_LINE.get():
        return keyword
    return _FLAGS.get(keyword, "--" + keyword.replace("_", "-"))


def option(keyword: str, value: object = None) -> str:
    """How the reader of a message names setting ``keyword`` (with ``value``, if given).

    ``option("time_col", "t")`` is ``time_col='t'`` in Python and ``--time-col t`` on the command
    line; a list value repeats the flag (``--ignore-col a --ignore-col b``), ``True`` is the flag
    alone (``--resume``).
    """
    if not _ON_COMMAND_LINE.get():
        if value is None:
            return f"{keyword}="
        return f"{keyword}={list(value) if isinstance(value, tuple) else value!r}"
    flag = setting(keyword)
    if value is None or value is True:
        return flag
    values = value if isinstance(value, list | tuple) else [value]
    return " ".join(f"{flag} {shlex.quote(str(v))}" for v in values)


def count(n: int, noun: str, plural: str | None = None) -> str:
    """``"1 step"``, ``"12 steps"``, ``"1 series"``: counts in messages."""
    return f"{n} {noun}" if n == 1 else f"{n} {plural or noun + 's'}"


# Series a message names; its count says how many in all.
NAMED_SERIES = 3


def some_of(ids: list[str]) -> str:
    """The first NAMED_SERIES of ``ids``, quoted: ``"'a', 'b', 'c' and 2 more"``."""
    shown = ", ".join(repr(i) for i in ids[:NAMED_SERIES])
    return shown + (f" and {len(ids) - NAMED_SERIES} more" if len(ids) > NAMED_SERIES else "")


def points(n: int) -> str:
    """``"1 point"``, ``"12 points"``: counts in error messages."""
    return count(n, "point")
