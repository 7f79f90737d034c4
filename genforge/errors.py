"""genforge's exceptions.

Every error a user can cause is a ``GenforgeError``; each message names the file, row, column or
parameter at fault and says what to do. The subclasses also inherit the matching built-in type, so
``except ValueError`` keeps working for callers that do not know genforge.
"""

from __future__ import annotations


class GenforgeError(Exception):
    """Base class of every error genforge raises on purpose."""


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
