"""genforge: an open platform for generative image models on PyTorch."""

from genforge._version import __version__
from genforge.errors import DataError, GenforgeError, ModelFormatError, NotFittedError, ParameterError, TrainingError
from genforge.frame import Frame

__all__ = [
    "__version__",
    "Frame",
    "GenforgeError",
    "DataError",
    "ParameterError",
    "NotFittedError",
    "TrainingError",
    "ModelFormatError",
]
