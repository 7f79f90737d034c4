"""Helpers for the data-layer tests: every file is made in tmp_path from known pixels."""

from __future__ import annotations

import gzip
import io
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image


def pixels(n: int, h: int = 4, w: int = 4, c: int = 1, seed: int = 0) -> np.ndarray:
    """Known uint8 ``(n, h, w, c)`` images."""
    return np.random.default_rng(seed).integers(0, 256, size=(n, h, w, c), dtype=np.uint8)


def write_png(path: Path, image: np.ndarray, mode: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    array = image[..., 0] if image.ndim == 3 and image.shape[2] == 1 else image
    Image.fromarray(array, mode).save(path) if mode else Image.fromarray(array).save(path)
    return path


def write_idx(path: Path, array: np.ndarray, magic: int | None = None, cut: int = 0) -> Path:
    """An IDX file of a uint8 array (gzip when the name ends in .gz); ``cut`` drops body bytes."""
    magic = magic if magic is not None else (0x0800 | array.ndim)
    body = array.astype(np.uint8).tobytes()
    data = struct.pack(">I", magic) + struct.pack(f">{array.ndim}I", *array.shape) + body[: len(body) - cut]
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def write_csv(path: Path, header: list[str] | None, rows: list[list]) -> Path:
    lines = ([",".join(header)] if header else []) + [",".join(str(v) for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def png_bytes(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    array = image[..., 0] if image.ndim == 3 and image.shape[2] == 1 else image
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A PNG of a few dozen bytes whose header claims ``width`` x ``height`` grey pixels."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


def blank_png(size: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (size, size), 0).save(buffer, "PNG")
    return buffer.getvalue()
