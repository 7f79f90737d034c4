"""Decompression limits: how many pixels one image may decode to and how many bytes one frame may hold.

A few bytes of PNG header can claim 10000x10000 pixels, and a 100 KB zip of blank images can decode to
hundreds of megabytes. Every reader asks these limits before it allocates: ``check_image`` with each image's
header size (read before any pixel is decoded), ``check_frame`` with the bytes an array will take, so that
a refusal comes before the allocation, not after. The errors name the limit and how to raise it:
``import_file``'s option here, a ``genforge start`` option on the server (which catches ``LimitError`` and
says so).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from genforge.errors import DataError, ParameterError

MAX_IMAGE_PIXELS = 4096 * 4096  # 16.7 M: a 4096x4096 photo decodes, a 10000x10000 header claim does not
MAX_FRAME_BYTES = 4 * 1024**3
OPTIONS = ("max_image_pixels", "max_frame_bytes")


class LimitError(DataError):
    """Input that would decode past a limit. ``option`` names the limit, ``needed`` what would pass it."""

    def __init__(self, message: str, option: str = "", needed: int = 0, reason: str = "") -> None:
        super().__init__(message)
        # ``reason`` is the message without its advice, for callers that raise limits their own way (the server).
        self.option, self.needed, self.reason = option, needed, reason or message


@dataclass(frozen=True)
class Limits:
    """``max_image_pixels`` per decoded image and ``max_frame_bytes`` per frame; None turns one off."""

    max_image_pixels: int | None = MAX_IMAGE_PIXELS
    max_frame_bytes: int | None = MAX_FRAME_BYTES

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> "Limits":
        """The limits from ``import_file`` options (defaults for those not given)."""
        values = {}
        for key in OPTIONS:
            if key in options:
                values[key] = _check(key, options[key])
        return cls(**values)

    def check_image(self, width: int, height: int, source: str = "") -> None:
        """Refuse an image whose header claims more than ``max_image_pixels`` pixels."""
        top = self.max_image_pixels
        pixels = int(width) * int(height)
        if top is not None and pixels > top:
            where = f"{source}: " if source else ""
            reason = (f"{where}the image is {width}x{height} = {pixels:,} pixels, past the limit of {top:,} pixels "
                      "per image (a guard against decompression bombs).")
            raise LimitError(f"{reason} If you trust it, pass max_image_pixels={pixels} or more.",
                             "max_image_pixels", pixels, reason)

    def check_frame(self, shape: tuple[int, ...], dtype: Any = np.uint8, where: str = "") -> None:
        """Refuse an array of ``shape`` and ``dtype`` bigger than ``max_frame_bytes``, before allocating it."""
        top = self.max_frame_bytes
        size = int(np.prod([int(s) for s in shape], dtype=object)) * np.dtype(dtype).itemsize
        if top is not None and size > top:
            shown = "x".join(str(int(s)) for s in shape)
            at = f"{where}: " if where else ""
            reason = (f"{at}the data would decode to {format_size(size)} ({shown} {np.dtype(dtype).name}), past the limit "
                      f"of {format_size(top)} per frame.")
            raise LimitError(f"{reason} If you trust it and have the memory, pass max_frame_bytes={size} or more "
                             "(or limit=... to read fewer images).", "max_frame_bytes", size, reason)


def _check(key: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ParameterError(f"{key} must be a positive int (or None for no limit), got {value!r}.")
    return int(value)


def format_size(n: float) -> str:
    """Bytes as a short human figure: "512 bytes", "1.5 MiB"."""
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"
