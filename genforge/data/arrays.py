"""NumPy files: ``.npy`` (images only) and ``.npz`` (images, optional labels and class names).

Pickled objects are never loaded (``allow_pickle=False``). A uint8 ``.npy`` is memory-mapped rather than
read, so a file bigger than RAM still imports.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from genforge.data.context import Loaded, ReadContext, check_class_indices, located
from genforge.data.limits import Limits
from genforge.errors import DataError
from genforge.frame import Frame

OPTIONS = frozenset({"images_key", "labels_key"})
IMAGE_KEYS = ("images", "x", "X", "arrays", "x_train", "arr_0")
LABEL_KEYS = ("labels", "y", "label", "Y", "y_train", "arr_1")
CLASS_NAME_KEYS = ("class_names", "classes")
_NO_PICKLE = "it holds Python objects, which genforge never unpickles; save plain numeric arrays"


def files(path: Path, ctx: ReadContext) -> list[Path]:
    return [path]


def read(path: Path, ctx: ReadContext) -> Loaded:
    """Read ``.npy`` or ``.npz`` images: ``(N, H, W)``, ``(N, H, W, C)``, ``(N, C, H, W)`` or flat ``(N, H*W)``.

    In an ``.npz`` the images are the first of ``images, x, X, arrays, ...`` present (or ``images_key=``),
    the labels the first of ``labels, y, label, ...`` (or ``labels_key=``).
    """
    if path.suffix.lower() == ".npz":
        images, labels, class_names = _read_npz(path, ctx)
    else:
        images, labels, class_names = _load_npy(path), None, None
    count = ctx.options.limit
    if count is not None:
        images = images[:count]
        labels = labels[:count] if labels is not None else None
    if labels is not None and np.issubdtype(labels.dtype, np.number):
        check_class_indices(labels, class_names, str(path))
    try:
        # A flat array's row length gives the side; image_size only shapes it when it fits exactly,
        # otherwise it is the target of the importer's resize.
        size = ctx.options.image_size
        shape_size = size if images.ndim == 2 and size and size[0] * size[1] == images.shape[1] else None
        frame = Frame.from_numpy(images, labels, class_names, image_size=shape_size)
    except DataError as exc:
        raise located(str(path), exc) from None
    return Loaded(frame.images, frame.labels, frame.class_names, str(path))


def _load_npy(path: Path) -> np.ndarray:
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as exc:
        if "pickle" in str(exc).lower() or "object" in str(exc).lower():
            raise DataError(f"{path}: {_NO_PICKLE}.") from None
        raise DataError(f"{path}: not a readable .npy file ({exc}). Save it again with numpy.save.") from None
    except Exception as exc:  # numpy parses the header with tokenize/ast: SyntaxError, TokenError, ...
        raise DataError(f"{path}: not a readable .npy file ({exc}). Save it again with numpy.save.") from None
    if not isinstance(array, np.ndarray):
        raise DataError(f"{path}: does not hold one array; save the images with numpy.save.")
    return array


def _read_npz(path: Path, ctx: ReadContext) -> tuple[np.ndarray, np.ndarray | None, list[str] | None]:
    try:
        archive = np.load(path, allow_pickle=False)
    except Exception as exc:  # a damaged zip or header can fail in many ways; all mean the same
        raise DataError(f"{path}: not a readable .npz file ({exc}). Save it again with numpy.savez.") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DataError(f"{path}: is a .npy file with a .npz name; rename it to .npy.")
    with archive:
        keys = list(archive.files)
        image_key = _pick(ctx.option("images_key"), IMAGE_KEYS, keys, path, "images")
        if image_key is None:
            raise DataError(
                f"{path}: no images array (looked for {', '.join(IMAGE_KEYS)}; found {', '.join(keys) or 'none'}). "
                "Pass images_key='<name>' or save the images as 'images'."
            )
        label_key = _pick(ctx.option("labels_key"), LABEL_KEYS, keys, path, "labels")
        names_key = next((k for k in CLASS_NAME_KEYS if k in keys), None)
        images = _member(archive, image_key, path, ctx.limits)
        labels = _member(archive, label_key, path, ctx.limits) if label_key else None
        class_names = [str(n) for n in _member(archive, names_key, path, ctx.limits).ravel()] if names_key else None
    if labels is not None:
        labels, class_names = _label_indices(labels, path, label_key, class_names)
    return images, labels, class_names


def _pick(given: str | None, candidates: tuple[str, ...], keys: list[str], path: Path, what: str) -> str | None:
    if given is not None:
        if given not in keys:
            raise DataError(f"{path}: has no array {given!r} for the {what} (it holds {', '.join(keys)}).")
        return given
    return next((k for k in candidates if k in keys), None)


def _declared(archive: np.lib.npyio.NpzFile, key: str) -> tuple[tuple[int, ...], np.dtype] | None:
    """The shape and dtype a member's .npy header declares, read without inflating the member."""
    from numpy.lib import format as npy

    try:
        with archive.zip.open(key if key.endswith(".npy") else f"{key}.npy") as f:
            version = npy.read_magic(f)
            read = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
            shape, _, dtype = read(f)
        return tuple(int(s) for s in shape), np.dtype(dtype)
    except Exception:  # noqa: BLE001 - a damaged member: loading it below reports the damage
        return None


def _member(archive: np.lib.npyio.NpzFile, key: str, path: Path, limits: Limits | None = None) -> np.ndarray:
    declared = _declared(archive, key)
    if declared is not None:
        # np.savez_compressed deflates blank images 1000 times: check before numpy inflates the member.
        (limits or Limits()).check_frame(declared[0], declared[1], f"{path} ({key!r})")
    try:
        return archive[key]
    except ValueError as exc:
        if "pickle" in str(exc).lower() or "object" in str(exc).lower():
            raise DataError(f"{path}: the array {key!r}: {_NO_PICKLE}.") from None
        raise DataError(f"{path}: the array {key!r} is damaged ({exc}).") from None
    except Exception as exc:  # as in _load_npy: tokenize, ast, zlib and zipfile errors alike
        raise DataError(f"{path}: the array {key!r} is damaged ({exc}).") from None


def _label_indices(
    labels: np.ndarray, path: Path, key: str, class_names: list[str] | None
) -> tuple[np.ndarray, list[str] | None]:
    """Integer labels pass through; string labels become indices into their sorted names."""
    labels = labels.reshape(-1) if labels.ndim == 2 and 1 in labels.shape else labels
    if labels.dtype.kind in "US":
        names = sorted({str(v) for v in labels.tolist()})
        index = {name: i for i, name in enumerate(names)}
        return np.array([index[str(v)] for v in labels.tolist()], np.int64), names
    if labels.dtype.kind not in "iuf":
        raise DataError(f"{path}: the labels {key!r} have dtype {labels.dtype}; save integer class indices.")
    return labels, class_names
