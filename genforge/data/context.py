"""What every reader is given (options, where to put pixels, how to treat bad input) and what it returns.

Readers never build a Frame themselves: they return a ``Loaded`` and the importer applies the common
steps (resize, channel conversion, caching, the skip warning) in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from genforge.data.limits import Limits
from genforge.errors import DataError, ParameterError

Allocate = Callable[[tuple[int, ...]], np.ndarray]
MAX_CLASSES = 100_000


@dataclass
class Loaded:
    """A reader's result: uint8 ``(N, H, W, C)`` images and, when known, labels, class names, sources.

    ``sources`` is one string per image, or one string for a container (an IDX or .npy file).
    """

    images: np.ndarray
    labels: np.ndarray | None = None
    class_names: list[str] | None = None
    sources: list[str] | str | None = None


@dataclass
class ReadOptions:
    """Options common to all readers, already checked; ``extra`` holds the reader-specific ones."""

    image_size: tuple[int, int] | None = None
    channels: int | None = None
    on_error: str = "raise"
    limit: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)  # decompression limits (genforge.data.limits)


def _empty(shape: tuple[int, ...]) -> np.ndarray:
    return np.empty(shape, np.uint8)


class ReadContext:
    """Options plus the two services readers share: allocating the output and reporting bad input."""

    def __init__(self, options: ReadOptions, allocate: Allocate | None = None) -> None:
        self.options = options
        self.skipped: list[tuple[str, str]] = []
        # The cache swaps in a memory-mapped file here so that big datasets decode straight to disk.
        self._allocate = allocate or _empty

    @property
    def skip(self) -> bool:
        return self.options.on_error == "skip"

    def option(self, key: str, default: Any = None) -> Any:
        return self.options.extra.get(key, default)

    @property
    def limits(self) -> Limits:
        return self.options.limits

    def allocate(self, shape: tuple[int, ...], where: str = "") -> np.ndarray:
        """A uint8 array of ``shape`` for the decoded images (in memory, or a memory map when caching),
        refused with a LimitError past ``max_frame_bytes``."""
        self.options.limits.check_frame(shape, np.uint8, where)
        return self._allocate(tuple(int(s) for s in shape))

    def bad(self, source: str, reason: str, fix: str = "") -> None:
        """Report one bad image or row: raise a DataError, or record it when ``on_error="skip"``."""
        if self.skip:
            self.skipped.append((source, reason))
            return
        fix = f" {fix}" if fix else ""
        raise DataError(f"{source}: {reason}.{fix} Or pass on_error='skip' to leave it out.", suggests={"on_error": "skip"})

    def limited(self, n: int) -> int:
        """How many of ``n`` available items to read under the ``limit`` option."""
        return n if self.options.limit is None else min(n, self.options.limit)


def check_size(value: Any, what: str = "image_size") -> tuple[int, int] | None:
    """``None``, an int (square) or ``(height, width)`` as a pair of positive ints."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ParameterError(f"{what} must be an int or (height, width), got {value!r}.")
    if isinstance(value, (int, np.integer)):
        value = (int(value), int(value))
    try:
        height, width = (int(v) for v in value)
    except (TypeError, ValueError):
        raise ParameterError(f"{what} must be an int or (height, width), got {value!r}.") from None
    if height < 1 or width < 1:
        raise ParameterError(f"{what} must be positive, got {value!r}.")
    return height, width


def located(source: str, error: DataError) -> DataError:
    """The same error with ``source`` in front, unless the message already names it."""
    message = str(error)
    return error if message.startswith(source) else DataError(f"{source}: {message}")


def check_class_indices(labels: np.ndarray | None, class_names: list[str] | None, source: str) -> None:
    """Refuse integer labels that cannot be class indices before a Frame names classes 0..max.

    Frame invents the names "0" .. "max" for unnamed labels: an id column or a damaged file holding
    10**12 would make it allocate them all.
    """
    if labels is None or class_names is not None or not len(labels):
        return
    top = labels.max()
    if top >= MAX_CLASSES:
        row = int(np.argmax(labels))
        raise DataError(
            f"{source}: label {top} (item {row}) is no class index: labels must be 0..K-1 with K under "
            f"{MAX_CLASSES:,}. If they are ids or names, store them as text."
        )
