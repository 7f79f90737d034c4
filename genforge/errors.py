"""genforge's exceptions.

Every error a user can cause is a ``GenforgeError``; each message names the file, row, column or
parameter at fault and says what to do. The subclasses also inherit the matching built-in type, so
``except ValueError`` keeps working for callers that do not know genforge.
"""

from __future__ import annotations

from typing import Any


class GenforgeError(Exception):
    """Base class of every error genforge raises on purpose.

    ``suggests`` maps the options the message proposes (in the Python API's names, spelled in the
    message as ``name=value!r``, e.g. ``on_error='skip'``) to their values, so that another interface
    can say the same in its own terms: the CLI rewrites them as its flags (``--on-error skip``).
    """

    def __init__(self, *args: Any, suggests: dict[str, Any] | None = None) -> None:
        super().__init__(*args)
        self.suggests: dict[str, Any] = dict(suggests or {})


class DataError(GenforgeError, ValueError):
    """Input data that cannot be read or does not fit: a corrupt image, a ragged CSV row, ..."""


class ParameterError(GenforgeError, ValueError):
    """An unknown estimator parameter, or a value of the wrong type or outside the allowed values."""


class NotFittedError(GenforgeError, RuntimeError):
    """A model was asked to predict (or save) before ``train`` was called."""


class TrainingError(GenforgeError, RuntimeError):
    """Training cannot go on: a loss became NaN or infinite, or a checkpoint does not match the run."""


class ModelFormatError(GenforgeError, ValueError):
    """A saved model that cannot be loaded: edited or truncated weights, another estimator, newer format."""


class OverwriteError(GenforgeError, FileExistsError):
    """A write would replace an existing file, folder or run; pass ``force`` (``--force``) to allow it."""
