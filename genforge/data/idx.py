"""IDX files, the MNIST format (``train-images-idx3-ubyte``, gzip-compressed or not).

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number of dimensions), one
big-endian uint32 per dimension, then the body. The body is read straight into one numpy buffer: no
per-image Python, so all 70,000 fashion-mnist images load in well under a second.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

from genforge.data.context import Loaded, ReadContext
from genforge.data.limits import Limits
from genforge.errors import DataError

OPTIONS = frozenset({"labels"})
IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801
_UBYTE = 0x08
_INTEGER_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4"}


def looks_like_idx(path: Path) -> bool:
    """Whether a file name is one of the usual IDX names (``*-ubyte``, ``*.idx3``, ``*.idx``, ``.gz`` too)."""
    name = path.name.lower().removesuffix(".gz")
    return name.endswith(("-ubyte", ".idx", ".idx1", ".idx3", ".idx3-ubyte", ".idx1-ubyte"))


def labels_beside(images: Path) -> Path | None:
    """The labels file next to an images file: ``train-images-idx3-ubyte.gz`` -> ``train-labels-idx1-ubyte.gz``."""
    name = images.name
    if "images" not in name and "idx3" not in name:
        return None
    stem = name.replace("images", "labels").replace("idx3", "idx1")
    bare = stem.removesuffix(".gz")
    for candidate in (stem, bare, bare + ".gz"):
        if candidate != name and (images.parent / candidate).is_file():
            return images.parent / candidate
    return None


def files(path: Path, ctx: ReadContext) -> list[Path]:
    labels = _labels_path(path, ctx)
    return [path] + ([labels] if labels else [])


def read(path: Path, ctx: ReadContext, class_names: list[str] | None = None) -> Loaded:
    """Read an IDX images file and, when given or found beside it, its labels file (option ``labels=``)."""
    count = ctx.options.limit
    images = read_array(path, "images", count, ctx.limits)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[3] not in (1, 3):
        raise DataError(
            f"{path}: IDX images must have 3 dimensions (N, height, width), got shape {images.shape}."
        )
    labels = None
    labels_path = _labels_path(path, ctx)
    if labels_path is not None:
        labels = read_array(labels_path, "labels", count, ctx.limits).astype(np.int64)
        if labels.shape != (len(images),):
            raise DataError(
                f"{labels_path}: holds {labels.shape[0] if labels.ndim else 0} labels for the {len(images)} "
                f"images of {path}; pass the labels file that belongs to it (labels=...)."
            )
        if len(labels) and labels.min() < 0:
            raise DataError(f"{labels_path}: label {labels.min()} at index {labels.argmin()} is negative.")
    return Loaded(images, labels, class_names, str(path))


def _labels_path(path: Path, ctx: ReadContext) -> Path | None:
    given = ctx.option("labels")
    if given is None:
        return labels_beside(path)
    given = Path(given)
    if not given.is_file():
        raise DataError(f"The IDX labels file {given} does not exist; check the labels= option.")
    return given


def read_array(path: Path, kind: str, count: int | None = None, limits: Limits | None = None) -> np.ndarray:
    """The array in an IDX file; ``kind`` is "images" (uint8, 3+ dims) or "labels" (integers, 1 dim).

    ``count`` reads only the first items. The magic number, the dimensions and the body length are
    checked; a short body names the bytes expected and found. ``limits`` bounds the body before it is
    allocated (a 1 KB .gz can declare gigabytes).
    """
    try:
        with _open(path) as f:
            head = _read_exact(f, 4)
            if len(head) < 4:
                raise DataError(f"{path}: the file is {len(head)} bytes long, too short for an IDX header.")
            magic = int.from_bytes(head, "big")
            zero, type_code, ndim = magic >> 16, (magic >> 8) & 0xFF, magic & 0xFF
            _check_magic(path, kind, magic, zero, type_code, ndim)
            dims_raw = _read_exact(f, 4 * ndim)
            if len(dims_raw) < 4 * ndim:
                raise DataError(f"{path}: the IDX header ends early: {ndim} dimensions declared, "
                                f"{len(dims_raw) // 4} present. The file is truncated; download it again.")
            dims = list(struct.unpack(f">{ndim}I", dims_raw))
            if count is not None:
                dims[0] = min(dims[0], count)
            dtype = np.dtype(_INTEGER_TYPES[type_code])
            expected = int(np.prod(dims, dtype=object)) * dtype.itemsize
            _check_possible(path, kind, dims, expected)
            (limits or Limits()).check_frame((expected,), np.uint8, str(path))
            body = np.empty(expected, np.uint8)
            got = _read_into(f, body)
            if got < expected:
                raise DataError(
                    f"{path}: the IDX body is truncated: its header declares {tuple(dims)} "
                    f"({expected} bytes of {kind}), but only {got} bytes follow. Download the file again."
                )
            if count is None and _read_exact(f, 1):
                raise DataError(f"{path}: the file is longer than its IDX header declares "
                                f"({tuple(dims)}, {expected} bytes); it is not a valid IDX file.")
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: cannot read the file ({exc}). Check that it is a complete IDX file.") from None
    array = body.view(dtype).reshape(dims)
    return array if dtype == np.uint8 else array.astype(dtype.newbyteorder("="))


def _check_possible(path: Path, kind: str, dims: list[int], expected: int) -> None:
    """Refuse a header declaring more bytes than the file can hold, before allocating them.

    A raw file holds its body; deflate inflates at most ~1032 times, which bounds a .gz file's body.
    """
    size = path.stat().st_size
    with open(path, "rb") as f:
        compressed = f.read(2) == b"\x1f\x8b"
    most = size * 1032 if compressed else size
    if expected > most:
        raise DataError(
            f"{path}: the IDX body is truncated: its header declares {tuple(dims)} ({expected} bytes of "
            f"{kind}), more than this {size}-byte file can hold. Download the file again."
        )


def _check_magic(path: Path, kind: str, magic: int, zero: int, type_code: int, ndim: int) -> None:
    expected = IMAGES_MAGIC if kind == "images" else LABELS_MAGIC
    if zero != 0 or type_code not in _INTEGER_TYPES:
        raise DataError(
            f"{path}: wrong magic number 0x{magic:08X}; an IDX {kind} file starts with 0x{expected:08X}. "
            "It is not an IDX file, or it is damaged."
        )
    if kind == "images" and ndim == 1:
        raise DataError(f"{path}: this is an IDX labels file (magic 0x{magic:08X}), not images; "
                        "pass the images file (e.g. train-images-idx3-ubyte.gz).")
    if kind == "images" and (type_code != _UBYTE or ndim not in (3, 4)):
        raise DataError(f"{path}: magic number 0x{magic:08X} is not an unsigned-byte images file "
                        f"(expected 0x{IMAGES_MAGIC:08X}).")
    if kind == "labels" and ndim != 1:
        raise DataError(f"{path}: magic number 0x{magic:08X} is not a labels file "
                        f"(expected 0x{LABELS_MAGIC:08X}, one dimension).")


def _open(path: Path) -> BinaryIO:
    with open(path, "rb") as probe:
        compressed = probe.read(2) == b"\x1f\x8b"  # gzip's magic, whatever the file is called
    return gzip.open(path, "rb") if compressed else open(path, "rb")  # type: ignore[return-value]


def _read_exact(f: BinaryIO, n: int) -> bytes:
    chunks, got = [], 0
    try:
        while got < n:
            chunk = f.read(n - got)
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
    except EOFError:  # a truncated gzip stream: keep what came before
        pass
    return b"".join(chunks)


def _read_into(f: BinaryIO, body: np.ndarray) -> int:
    view, got = memoryview(body), 0
    try:
        while got < len(body):
            n = f.readinto(view[got:])  # type: ignore[attr-defined]
            if not n:
                break
            got += n
    except EOFError:
        pass
    return got
