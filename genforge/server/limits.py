"""The server's decompression limits: what ``genforge start --max-image-pixels/--max-frame-mb`` set, passed to
every import, and the 413 a client gets when data passes them (naming the server option, not the Python one)."""

from __future__ import annotations

import math
from typing import Any

from genforge.data.limits import LimitError
from genforge.server.settings import Settings

_MIB = 1024 * 1024


def import_limits(settings: Settings) -> dict[str, Any]:
    """The ``import_file`` options every server-side import and upload gets."""
    return {"max_image_pixels": settings.max_image_pixels, "max_frame_bytes": settings.max_frame_bytes}


def server_detail(error: LimitError) -> str:
    """The error's reason plus how this server's operator raises the limit."""
    if error.option == "max_image_pixels":
        hint = f"start the server with `genforge start --max-image-pixels {error.needed}` (or more)"
    elif error.option == "max_frame_bytes":
        hint = f"start the server with `genforge start --max-frame-mb {math.ceil(error.needed / _MIB)}` (or more)"
    else:
        return str(error)
    return f"{error.reason} This server's limit is set by its operator: send smaller data, or {hint}."
