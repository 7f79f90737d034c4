"""Small image helpers on uint8 ``(N, H, W, C)`` arrays: grids, PNG files, resizing, channel conversion.

These stand in for the torchvision utilities the project cannot use (no CPU build of torchvision here).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from genforge.errors import DataError


def make_grid(images: np.ndarray, nrow: int | None = None, padding: int = 2, pad_value: int = 0) -> np.ndarray:
    """Tile ``(N, H, W, C)`` uint8 images into one ``(H', W', C)`` image, ``nrow`` images per row."""
    images = np.asarray(images)
    if images.ndim != 4 or len(images) == 0:
        raise DataError(f"make_grid needs a non-empty (N, H, W, C) array, got shape {images.shape}.")
    n, h, w, c = images.shape
    columns = int(nrow) if nrow else math.ceil(math.sqrt(n))
    if columns < 1:
        raise DataError(f"nrow must be at least 1, got {nrow}.")
    rows = math.ceil(n / columns)
    grid = np.full((rows * (h + padding) + padding, columns * (w + padding) + padding, c), pad_value, np.uint8)
    for i in range(n):
        r, col = divmod(i, columns)
        top, left = padding + r * (h + padding), padding + col * (w + padding)
        grid[top : top + h, left : left + w] = images[i]
    return grid


def save_png(image: np.ndarray, path: str | Path) -> Path:
    """Write one ``(H, W, C)`` uint8 image as PNG, creating the parent folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    to_pil(image).save(path, format="PNG")
    return path


def to_pil(image: np.ndarray) -> Image.Image:
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    return Image.fromarray(image)


def png_bytes(image: np.ndarray) -> bytes:
    """Encode one ``(H, W, C)`` uint8 image as PNG bytes."""
    import io

    buffer = io.BytesIO()
    to_pil(image).save(buffer, format="PNG")
    return buffer.getvalue()


def resize_batch(images: np.ndarray, size: tuple[int, int], chunk: int = 4096) -> np.ndarray:
    """Resize uint8 ``(N, H, W, C)`` images to ``size`` with antialiased bilinear filtering (batched)."""
    out = np.empty((len(images), size[0], size[1], images.shape[3]), np.uint8)
    for start in range(0, len(images), chunk):
        # np.array copies: frames may sit on read-only memory maps, which torch.from_numpy warns about.
        batch = torch.from_numpy(np.array(images[start : start + chunk])).permute(0, 3, 1, 2).float()
        resized = F.interpolate(batch, size=size, mode="bilinear", antialias=True, align_corners=False)
        out[start : start + chunk] = resized.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
    return out


def convert_channels(images: np.ndarray, channels: int) -> np.ndarray:
    """Convert uint8 ``(N, H, W, C)`` images to 1 channel (ITU-R 601 luma, as PIL's "L") or 3."""
    if channels not in (1, 3):
        raise DataError(f"channels must be 1 or 3, got {channels!r}.")
    have = images.shape[3]
    if have == channels:
        return images
    if channels == 3:
        return np.repeat(images, 3, axis=3)
    luma = images.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    return np.clip(np.rint(luma), 0, 255).astype(np.uint8)[..., None]
