"""lstmcast's exception types.

Every error caused by the user's input, data, settings or files is a :class:`LstmcastError`, so a
caller (and the CLI) can tell them apart from bugs. Each message says what was found, what was
expected and what to do.
"""

from __future__ import annotations


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


class DataWarning(UserWarning):
    """The input can be used but looks wrong (values far outside what the model was trained on).

    Not an error, so a deliberate use goes on; the command line prints it as one line on stderr,
    ``warning: <message>``.
    """
