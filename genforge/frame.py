"""The Frame: N images as uint8 ``(N, H, W, C)``, optional labels with class names, and their sources.

A Frame is the one currency between readers, estimators, metrics and the server. It never copies its
pixels without need: slicing keeps views, and a Frame can sit on a memory-mapped array so that a dataset
larger than RAM still trains.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from genforge.errors import DataError

Scale = tuple[float, float] | None
MAX_UNNAMED_CLASSES = 100_000  # a larger "class index" is an id column, not a class


class PixelTable:
    """H2O's table view of a set of images, for local and remote frames alike: rows are images, columns the
    H*W*C pixel values of one, as in an MNIST-style CSV (labels are not counted). Needs ``len`` and
    ``image_shape`` (H, W, C)."""

    image_shape: tuple[int, int, int]

    def __len__(self) -> int:
        raise NotImplementedError

    @property
    def nrow(self) -> int:
        """Rows: one per image (H2O's nrow)."""
        return len(self)

    @property
    def ncol(self) -> int:
        """Columns: the H*W*C pixel values of an image."""
        h, w, c = self.image_shape
        return h * w * c

    @property
    def shape(self) -> tuple[int, int]:
        """``(nrow, ncol)``, as H2O gives it; ``np.asarray(frame).shape`` is ``(N, H, W, C)``."""
        return (self.nrow, self.ncol)


class Frame(PixelTable):
    """Images with optional integer labels, class names and per-image sources.

    ``images`` is uint8 ``(N, H, W, C)`` with C of 1 or 3. ``labels`` is an int64 ``(N,)`` array of class
    indices into ``class_names``. ``sources`` is either one string per image or one string for a container
    (an IDX or .npy file), in which case image ``i`` is reported as ``"{source}[i]"``.
    """

    def __init__(
        self,
        images: np.ndarray | None = None,
        labels: np.ndarray | Sequence[int] | None = None,
        class_names: Sequence[str] | None = None,
        sources: Sequence[str] | str | None = None,
        name: str | None = None,
        *,
        source: str | Path | None = None,
        **import_options: Any,
    ) -> None:
        if source is not None or import_options:
            # Frame(source="dataset.csv"), as H2O users write H2OFrame: the same readers as import_file.
            self.__dict__.update(_imported(source, images, labels, class_names, sources, name, import_options))
            return
        if images is None:
            raise DataError("Frame needs images (an (N, H, W, C) uint8 array) or source='a path or dataset name'.")
        images = _check_images(images)
        self._images = images
        self._labels = _check_labels(labels, len(images), class_names)
        if self._labels is not None and class_names is None:
            top = int(self._labels.max()) + 1 if len(self._labels) else 0
            if top > MAX_UNNAMED_CLASSES:
                raise DataError(
                    f"label {top - 1} is too large for a class index without class names; pass class_names, "
                    f"or relabel to 0..K-1 (at most {MAX_UNNAMED_CLASSES} classes)."
                )
            class_names = [str(i) for i in range(top)]
        self._class_names = list(class_names) if class_names is not None else None
        if sources is not None and not isinstance(sources, str):
            sources = np.asarray(list(sources), dtype=object)
            if len(sources) != len(images):
                raise DataError(f"Frame got {len(sources)} sources for {len(images)} images; pass one per image.")
        self._sources = sources
        self.name = name
        # Readers with on_error="skip" record what they skipped here as (source, reason) pairs.
        self.skipped: list[tuple[str, str]] = []

    # ----------------------------------------------------------------------------------- construction
    @classmethod
    def from_numpy(
        cls,
        images: np.ndarray,
        labels: np.ndarray | Sequence[int] | None = None,
        class_names: Sequence[str] | None = None,
        image_size: int | tuple[int, int] | None = None,
        name: str | None = None,
    ) -> "Frame":
        """Build a Frame from ``(N, H, W)``, ``(N, H, W, C)`` or flat ``(N, H*W)`` arrays.

        Float arrays in [0, 1] or [-1, 1] are scaled to uint8; integer arrays must hold 0..255. A flat array
        must have square rows unless ``image_size`` gives the height and width.
        """
        array = np.asarray(images)
        if array.ndim == 2:
            array = array.reshape(len(array), *_side_of(array.shape[1], image_size), 1)
        elif array.ndim == 3:
            array = array[..., None]
        elif array.ndim == 4 and array.shape[1] in (1, 3) and array.shape[-1] not in (1, 3):
            array = array.transpose(0, 2, 3, 1)  # channels-first input, as PyTorch keeps it
        return cls(to_uint8(array, what="images"), labels, class_names, name=name)

    @staticmethod
    def concat(frames: Iterable["Frame"]) -> "Frame":
        """Stack frames of the same image shape; labels are kept when every frame has the same classes."""
        frames = list(frames)
        if not frames:
            raise DataError("Frame.concat got no frames; pass at least one.")
        shapes = {f.image_shape for f in frames}
        if len(shapes) > 1:
            raise DataError(
                f"Cannot concatenate frames of different image shapes {sorted(shapes)}; "
                "call .resize(size) on them first."
            )
        images = np.concatenate([f.images for f in frames])
        labels = class_names = None
        if all(f.labels is not None for f in frames):
            names = [tuple(f.class_names) for f in frames]
            if len(set(names)) > 1:
                raise DataError("Cannot concatenate frames with different class names; relabel them first.")
            labels = np.concatenate([f.labels for f in frames])
            class_names = list(names[0])
        sources = [s for f in frames for s in f.sources]
        return Frame(images, labels, class_names, sources, name=frames[0].name)

    def __add__(self, other: "Frame") -> "Frame":
        return Frame.concat([self, other])

    # ----------------------------------------------------------------------------------- properties
    @property
    def images(self) -> np.ndarray:
        """The uint8 ``(N, H, W, C)`` pixel array (possibly a memory map)."""
        return self._images

    @property
    def labels(self) -> np.ndarray | None:
        return self._labels

    @property
    def class_names(self) -> list[str] | None:
        return self._class_names

    @property
    def num_classes(self) -> int:
        return len(self._class_names) if self._class_names else 0

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(H, W, C)`` of every image."""
        return tuple(self._images.shape[1:])  # type: ignore[return-value]

    @property
    def channels(self) -> int:
        return self._images.shape[3]

    @property
    def sources(self) -> list[str]:
        """Where each image came from (file name, or container and index)."""
        return [self.source(i) for i in range(len(self))]

    def source(self, index: int) -> str:
        if self._sources is None:
            return f"{self.name or 'frame'}[{index}]"
        if isinstance(self._sources, str):
            return f"{self._sources}[{index}]"
        return str(self._sources[index])

    def __len__(self) -> int:
        return len(self._images)

    def __repr__(self) -> str:
        from genforge.frame_summary import SHOWN_ROWS, rows_table

        h, w, c = self.image_shape
        classes = f", {self.num_classes} classes" if self._labels is not None else ""
        name = f" {self.name!r}" if self.name else ""
        line = f"<Frame{name}: {len(self)} images of {h}x{w}x{c}{classes}>"
        # A small frame (what head() returns) shows its rows, as H2O's head() does.
        return f"{line}\n{rows_table(self)!r}" if len(self) <= SHOWN_ROWS else line

    # ----------------------------------------------------------------------------------- as a table / array
    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        """``np.asarray(frame)``: the uint8 ``(N, H, W, C)`` pixels (``dtype`` converts)."""
        images = np.asarray(self._images)
        if dtype is not None and np.dtype(dtype) != images.dtype:
            return images.astype(dtype)
        return images.copy() if copy else images

    def reshape(self, *shape: int | Sequence[int]) -> np.ndarray:
        """The pixels as a NumPy array of another shape: ``frame.reshape(28, 28)`` for one 28x28 grey image."""
        return np.asarray(self._images).reshape(*shape)

    def describe(self) -> dict:
        """Per-channel pixel statistics (mean, std, min, max) and class counts (see ``genforge.frame_summary``)."""
        from genforge.frame_summary import describe

        return describe(self)

    def as_data_frame(self):
        """A pandas DataFrame: ``label`` (when labelled) and one column per pixel value (needs pandas)."""
        from genforge.frame_summary import as_data_frame

        return as_data_frame(self)

    def _repr_html_(self) -> str:
        """Notebooks: the summary line and a grid of (at most 64 of) the images."""
        from genforge.frame_summary import html

        return html(self)

    def schema(self) -> dict:
        """What a model trained on this frame needs to know of it (saved into ``model.json``)."""
        h, w, c = self.image_shape
        return {"height": h, "width": w, "channels": c, "class_names": self._class_names}

    # ----------------------------------------------------------------------------------- selection
    def __getitem__(self, index) -> "Frame":
        """Select images by int, slice, index array or boolean mask; always returns a Frame."""
        if isinstance(index, (int, np.integer)):
            if not -len(self) <= index < len(self):
                raise IndexError(f"image index {index} is out of range for a frame of {len(self)} images")
            index = int(index) % len(self)
            index = slice(index, index + 1)
        elif not isinstance(index, slice):
            index = np.asarray(index)
            if index.dtype == bool:
                index = np.flatnonzero(index)
        images = self._images[index]
        labels = self._labels[index] if self._labels is not None else None
        if self._sources is None or isinstance(self._sources, str):
            positions = np.arange(len(self))[index]
            sources = [self.source(int(i)) for i in positions] if self._sources is not None else None
        else:
            sources = self._sources[index]
        return Frame(images, labels, self._class_names, sources, name=self.name)

    def head(self, n: int = 10) -> "Frame":
        """The first ``n`` images."""
        return self[: max(0, int(n))]

    def split_frame(self, ratios: Sequence[float] = (0.75,), seed: int | None = None) -> list["Frame"]:
        """Split into ``len(ratios) + 1`` frames of exact sizes, shuffled reproducibly by ``seed``.

        As in H2O, ``ratios`` gives the share of every part but the last, which takes the rest.
        """
        ratios = [float(r) for r in ratios]
        if any(r <= 0 for r in ratios) or sum(ratios) >= 1.0:
            raise DataError(f"split_frame ratios {ratios} must be positive and sum to less than 1, e.g. [0.8].")
        order = np.random.default_rng(seed).permutation(len(self))
        # Rounding first keeps float error from losing a row (0.57 * 100 = 56.99999...).
        bounds = np.floor(np.round(np.cumsum(ratios) * len(self), 6)).astype(int)
        parts = np.split(order, bounds)
        empty = [i for i, part in enumerate(parts) if len(part) == 0]
        if empty:
            raise DataError(
                f"split_frame({ratios}) leaves part {empty[0]} empty for a frame of {len(self)} images; "
                "use larger ratios or more images."
            )
        return [self[np.sort(part)] for part in parts]

    def shuffle(self, seed: int | None = None) -> "Frame":
        return self[np.random.default_rng(seed).permutation(len(self))]

    # ----------------------------------------------------------------------------------- transforms
    def resize(self, size: int | tuple[int, int]) -> "Frame":
        """Resize every image to ``size`` (an int for square, or ``(height, width)``), antialiased."""
        from genforge.imaging import resize_batch

        height, width = _pair(size, "size")
        if (height, width) == self.image_shape[:2]:
            return self
        return Frame(resize_batch(self._images, (height, width)), self._labels, self._class_names,
                     self._sources, name=self.name)

    def to_channels(self, channels: int) -> "Frame":
        """Convert to 1 (luma) or 3 channels."""
        from genforge.imaging import convert_channels

        return Frame(convert_channels(self._images, channels), self._labels, self._class_names,
                     self._sources, name=self.name)

    def to_numpy(self, scale: Scale | str = None, channels_first: bool = False) -> np.ndarray:
        """The pixels as uint8 (``scale=None``) or as float32 in ``(0, 1)`` or ``(-1, 1)``."""
        images = np.asarray(self._images)
        if channels_first:
            images = images.transpose(0, 3, 1, 2)
        if scale is None or scale == "uint8":
            return np.ascontiguousarray(images)
        low, high = _scale_bounds(scale)
        return images.astype(np.float32) * ((high - low) / 255.0) + low

    def to_png(self, path: str | Path, nrow: int | None = None, padding: int = 2, force: bool = False) -> Path:
        """Write the images as one grid PNG (``nrow`` images per row; default near square). An existing
        file is replaced only with ``force=True``."""
        from genforge.files import claim_path
        from genforge.imaging import make_grid, save_png

        grid = make_grid(np.asarray(self._images), nrow=nrow, padding=padding)
        return save_png(grid, claim_path(path, force, "PNG file"))

    def class_counts(self) -> dict[str, int]:
        """Images per class name, in class order (empty when the frame has no labels)."""
        if self._labels is None:
            return {}
        counts = Counter(self._labels.tolist())
        return {name: counts.get(i, 0) for i, name in enumerate(self._class_names or [])}


# --------------------------------------------------------------------------------------- helpers
def _imported(source, images, labels, class_names, sources, name, options: dict) -> dict:
    """The state of ``import_file(source, **options)``, for ``Frame(source=...)``."""
    if source is None:
        raise DataError(f"Frame got import options {sorted(options)} without source=; pass source='a path or name'.")
    if any(v is not None for v in (images, labels, class_names, sources)):
        raise DataError("Frame takes either images (and labels, ...) or source=, not both.")
    if not _SOURCE_READER:
        raise DataError("Frame(source=...) needs genforge's readers: import genforge (or genforge.data) first.")
    frame = _SOURCE_READER[0](source, **({"name": name, **options} if name else options))
    return dict(frame.__dict__)


# Frame(source=...) reads with genforge.data.import_file, a layer above this one (the readers make Frames);
# genforge.data installs it here when it is imported, as ``import genforge`` does.
_SOURCE_READER: list[Any] = []


def set_source_reader(reader: Any) -> None:
    """Install the function behind ``Frame(source=..., **options)`` (``genforge.data.import_file``)."""
    _SOURCE_READER[:] = [reader]


def to_uint8(array: np.ndarray, what: str = "images") -> np.ndarray:
    """Check pixel values and convert to uint8, naming the first bad value found."""
    array = np.asarray(array)
    if array.dtype == np.uint8:
        return array
    if array.dtype == bool or not np.issubdtype(array.dtype, np.number):
        raise DataError(f"{what} have dtype {array.dtype}; pass numbers (uint8 0..255 or floats in [0, 1]).")
    if np.issubdtype(array.dtype, np.floating):
        bad = ~np.isfinite(array)
        if bad.any():
            where = tuple(int(i) for i in np.argwhere(bad)[0])
            raise DataError(f"{what} hold a NaN or infinite value at index {where}; clean or drop that image.")
        low, high = float(array.min(initial=0)), float(array.max(initial=0))
        if low >= -1.0 and high <= 1.0:
            # Floats in [0, 1] or [-1, 1], as models and most pipelines produce them.
            unit = (array + 1.0) / 2.0 if low < 0 else array
            return np.clip(np.rint(unit * 255.0), 0, 255).astype(np.uint8)
    low, high = array.min(initial=0), array.max(initial=0)
    if low < 0 or high > 255:
        bad = np.argwhere((array < 0) | (array > 255))[0]
        value = array[tuple(bad)]
        raise DataError(
            f"{what} hold the pixel value {value} at index {tuple(int(i) for i in bad)}; "
            "pixels must lie in 0..255 (or floats in [0, 1])."
        )
    return np.rint(array).astype(np.uint8) if np.issubdtype(array.dtype, np.floating) else array.astype(np.uint8)


def _check_images(images: np.ndarray) -> np.ndarray:
    if not isinstance(images, np.ndarray):
        images = np.asarray(images)
    if images.ndim != 4 or images.shape[3] not in (1, 3):
        raise DataError(
            f"Frame images must be (N, H, W, C) with C of 1 or 3, got shape {images.shape}; "
            "use Frame.from_numpy for (N, H, W) or flat arrays."
        )
    if images.dtype != np.uint8:
        raise DataError(f"Frame images must be uint8, got {images.dtype}; use Frame.from_numpy to convert.")
    if len(images) == 0:
        raise DataError("The frame is empty: no images were given. Check the path or the filters.")
    if images.shape[1] < 1 or images.shape[2] < 1:
        raise DataError(f"Frame images have an empty side: shape {images.shape}.")
    return images


def _check_labels(labels, n: int, class_names: Sequence[str] | None) -> np.ndarray | None:
    if labels is None:
        return None
    labels = np.asarray(labels)
    if labels.shape != (n,):
        raise DataError(f"Got {labels.shape} labels for {n} images; pass one integer label per image.")
    if not np.issubdtype(labels.dtype, np.integer):
        if np.issubdtype(labels.dtype, np.floating) and np.all(np.isfinite(labels)) and np.all(labels == np.round(labels)):
            labels = labels.astype(np.int64)
        else:
            raise DataError(f"Labels have dtype {labels.dtype}; pass integer class indices 0..K-1.")
    labels = labels.astype(np.int64, copy=False)
    if n and labels.min() < 0:
        raise DataError(f"Label {int(labels.min())} at row {int(labels.argmin())} is negative; use 0..K-1.")
    if class_names is not None and n and labels.max() >= len(class_names):
        raise DataError(
            f"Label {int(labels.max())} at row {int(labels.argmax())} is outside the {len(class_names)} "
            f"class names {list(class_names)}."
        )
    return labels


def _side_of(length: int, image_size) -> tuple[int, int]:
    if image_size is not None:
        height, width = _pair(image_size, "image_size")
        if height * width != length:
            raise DataError(f"Rows of {length} pixels do not fit image_size {height}x{width}.")
        return height, width
    side = int(round(length ** 0.5))
    if side * side != length:
        raise DataError(
            f"Rows of {length} pixels are not a square image; pass image_size=(height, width).",
            suggests={"image_size": "(height, width)"})
    return side, side


def _pair(size, what: str) -> tuple[int, int]:
    if isinstance(size, (int, np.integer)):
        size = (int(size), int(size))
    try:
        height, width = (int(s) for s in size)
    except (TypeError, ValueError):
        raise DataError(f"{what} must be an int or (height, width), got {size!r}.") from None
    if height < 1 or width < 1:
        raise DataError(f"{what} must be positive, got {size!r}.")
    return height, width


def _scale_bounds(scale) -> tuple[float, float]:
    named = {"unit": (0.0, 1.0), "0-1": (0.0, 1.0), "tanh": (-1.0, 1.0), "-1-1": (-1.0, 1.0)}
    if isinstance(scale, str) and scale in named:
        return named[scale]
    try:
        low, high = (float(s) for s in scale)
    except (TypeError, ValueError):
        raise DataError(f"scale must be None, (0, 1) or (-1, 1), got {scale!r}.") from None
    return low, high
