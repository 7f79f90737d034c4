"""Datasets known by name: ``digits`` (ships with scikit-learn), ``fashion-mnist`` (the Debian package
dataset-fashion-mnist) and whatever the folder named by ``$GENFORGE_DATA`` holds.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

from genforge.data import idx
from genforge.data.context import Loaded, ReadContext
from genforge.errors import DataError

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
_FASHION_SPLITS = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", 60000),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", 10000),
}
_BUILTINS = {
    "digits": "scikit-learn's 8x8 handwritten digits (1,797 images, 10 classes)",
    "fashion-mnist": "Fashion-MNIST training split: 28x28 grey clothing images, 10 classes",
    "fashion-mnist:train": "Fashion-MNIST training split (same as fashion-mnist)",
    "fashion-mnist:test": "Fashion-MNIST test split: 10,000 images, 10 classes",
}
_LISTED = ("digits", "fashion-mnist", "fashion-mnist:test")
_KINDS = {".csv": "CSV", ".tsv": "CSV", ".zip": "zip archive of images", ".npy": "NumPy array",
          ".npz": "NumPy arrays", ".parquet": "Parquet table", ".pq": "Parquet table"}


PREFIX = "builtin:"  # "builtin:digits" names the dataset even where a local path "digits" exists


def canonical(name: str) -> str | None:
    """The built-in dataset ``name`` refers to (case and ``_`` vs ``-`` do not matter; a ``builtin:``
    prefix is allowed), or None."""
    key = name.strip().lower().replace("_", "-")
    key = key[len(PREFIX):] if key.startswith(PREFIX) else key
    return key if key in _BUILTINS else None


def is_prefixed(name: str) -> bool:
    """``name`` is written ``builtin:NAME``: the dataset, whatever paths exist."""
    return name.strip().lower().startswith(PREFIX)


def builtin_names() -> list[str]:
    return list(_BUILTINS)


def files(name: str) -> list[Path]:
    """The files a built-in dataset is read from (they key the cache)."""
    if name == "digits":
        return []
    images, labels, _ = _fashion_paths(name)
    return [images, labels]


def version(name: str) -> str:
    """What else identifies a built-in's content: scikit-learn ships digits, so its version does."""
    if name == "digits":
        import sklearn

        return f"scikit-learn {sklearn.__version__}"
    return ""


def read(name: str, ctx: ReadContext) -> Loaded:
    """Load a built-in dataset by its canonical name."""
    if name == "digits":
        return _digits(ctx)
    images_path, labels_path, _ = _fashion_paths(name)
    for path in (images_path, labels_path):
        if not path.is_file():
            raise DataError(
                f"The fashion-mnist dataset is not installed: {path} is missing. It comes in the Debian "
                "package dataset-fashion-mnist: run `sudo apt-get install dataset-fashion-mnist` (or "
                "`make fashion-mnist`), or point import_file at the IDX files yourself."
            )
    images = idx.read_array(images_path, "images", ctx.options.limit, ctx.limits)[..., None]
    labels = idx.read_array(labels_path, "labels", ctx.options.limit, ctx.limits).astype(np.int64)
    if len(labels) != len(images):
        raise DataError(f"{labels_path}: holds {len(labels)} labels for {len(images)} images; "
                        "reinstall dataset-fashion-mnist.")
    return Loaded(images, labels, list(FASHION_MNIST_CLASSES), str(images_path))


def _digits(ctx: ReadContext) -> Loaded:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    count = ctx.limited(len(bunch.images))
    # Values are ink counts 0..16; 16 is full intensity.
    images = np.rint(bunch.images[:count] * (255.0 / 16.0)).astype(np.uint8)[..., None]
    labels = bunch.target[:count].astype(np.int64)
    return Loaded(images, labels, [str(i) for i in range(10)], "sklearn:digits")


def _fashion_paths(name: str) -> tuple[Path, Path, int]:
    split = name.split(":", 1)[1] if ":" in name else "train"
    images, labels, rows = _FASHION_SPLITS[split]
    return FASHION_MNIST_DIR / images, FASHION_MNIST_DIR / labels, rows


# ------------------------------------------------------------------------------------- $GENFORGE_DATA
def data_dir() -> Path | None:
    """The folder named by ``$GENFORGE_DATA``, when set."""
    value = os.environ.get("GENFORGE_DATA", "").strip()
    return Path(value).expanduser() if value else None


def find_in_data_dir(name: str) -> Path | None:
    """``$GENFORGE_DATA/name``, or the one entry there whose name without extension is ``name``."""
    root = data_dir()
    if root is None or not root.is_dir():
        return None
    # A plain name only: "../x" or "a/b" must not reach outside the data folder.
    if not name or "/" in name or "\\" in name or name.startswith(".") or "\x00" in name:
        return None
    exact = root / name
    if exact.exists():
        return exact
    matches = [root / entry for entry, _ in _entries(root) if entry != name and _stem(entry) == name]
    if len(matches) > 1:
        raise DataError(f"{root} holds several datasets named {name!r}: "
                        f"{', '.join(m.name for m in matches)}. Import one by its full name.")
    return matches[0] if matches else None


def data_dir_names() -> list[str]:
    root = data_dir()
    return [_stem(entry) for entry, _ in _entries(root)] if root and root.is_dir() else []


def _entries(root: Path) -> list[tuple[str, str]]:
    found = []
    for entry in sorted(os.listdir(root)):
        full = root / entry
        if entry.startswith("."):
            continue
        if full.is_dir():
            found.append((entry, "folder of images"))
        elif full.suffix.lower() in _KINDS:
            found.append((entry, _KINDS[full.suffix.lower()]))
        elif idx.looks_like_idx(full):
            found.append((entry, "IDX file"))
    return found


def _stem(entry: str) -> str:
    name = entry.removesuffix(".gz")
    suffix = Path(name).suffix
    return name[: -len(suffix)] if suffix.lower() in _KINDS else name


# ------------------------------------------------------------------------------------- listing
def list_datasets() -> list[dict]:
    """Every dataset ``import_file`` knows by name: ``name``, ``description``, ``available``, ``rows``.

    ``rows`` is None where it is only known after import (``$GENFORGE_DATA`` entries); a missing
    built-in also has ``install``, the command that installs it.
    """
    listed = []
    for name in _LISTED:
        if name == "digits":
            listed.append({"name": name, "description": _BUILTINS[name], "available": _has_sklearn(),
                           "rows": 1797})
            continue
        images, labels, rows = _fashion_paths(name)
        available = images.is_file() and labels.is_file()
        entry = {"name": name, "description": _BUILTINS[name], "available": available,
                 "rows": _idx_rows(images) if available else rows}
        if not available:
            entry["install"] = "sudo apt-get install dataset-fashion-mnist (Debian package)"
        listed.append(entry)
    root = data_dir()
    if root is not None and root.is_dir():
        for entry, kind in _entries(root):
            listed.append({"name": _stem(entry), "description": f"{kind} in $GENFORGE_DATA ({root / entry})",
                           "available": True, "rows": None})
    return listed


def _has_sklearn() -> bool:
    import importlib.util

    return importlib.util.find_spec("sklearn") is not None  # without importing it (a second or more)


def _idx_rows(path: Path) -> int | None:
    """The item count in an IDX header, read without decompressing the body."""
    try:
        with gzip.open(path, "rb") as f:
            head = f.read(8)
        return int.from_bytes(head[4:8], "big") if len(head) == 8 else None
    except (OSError, EOFError):
        return None
