"""Frames of a search as the study stores them, so that any worker can load the same images.

A frame given by name or path (``"fashion-mnist"``, ``"data/faces.zip"``) is stored as that source (and
its import options): each worker imports it itself. A Frame object is written once into the search's
folder as ``frames/<role>.npz`` (images, labels, class names) and stored as that file, which workers on
other machines must see (a shared folder).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from genforge.errors import DataError
from genforge.frame import Frame


def frame_spec(frame: Frame | str | None, role: str, folder: Path, import_options: dict | None = None) -> dict | None:
    """The stored description of ``frame`` (None stays None)."""
    if frame is None:
        return None
    if isinstance(frame, (str, Path)):
        return {"source": str(frame), "options": dict(import_options or {})}
    if not isinstance(frame, Frame):
        raise DataError(f"{role} must be a Frame or a dataset name or path, got {type(frame).__name__}.")
    if len(frame) == 0:
        raise DataError(f"{role} holds no images.")
    digest = fingerprint(frame)
    path = folder / f"{role}.npz"
    if path.is_file() and _stored_fingerprint(path) == digest:
        return {"file": str(path.resolve()), "fingerprint": digest}
    folder.mkdir(parents=True, exist_ok=True)
    labels = frame.labels if frame.labels is not None else np.zeros(0, np.int64)
    names = json.dumps(frame.class_names) if frame.class_names is not None else ""
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, images=np.asarray(frame.images), labels=labels, class_names=np.array(names),
             name=np.array(frame.name or role), has_labels=np.array(frame.labels is not None),
             fingerprint=np.array(digest))
    tmp.replace(path)
    return {"file": str(path.resolve()), "fingerprint": digest}


def fingerprint(frame: Frame) -> str:
    """A digest of the images, labels and class names: the same data gives the same string."""
    digest = hashlib.sha256()
    digest.update(repr(frame.images.shape).encode())
    digest.update(np.ascontiguousarray(frame.images).tobytes())
    if frame.labels is not None:
        digest.update(np.ascontiguousarray(frame.labels).tobytes())
    digest.update(json.dumps(frame.class_names).encode())
    return digest.hexdigest()[:32]


def _stored_fingerprint(path: Path) -> str | None:
    try:
        with np.load(path, allow_pickle=False) as data:
            return str(data["fingerprint"])
    except Exception:  # noqa: BLE001 - unreadable or old: write it again
        return None


def load_frame(spec: dict | None) -> Frame | None:
    """The Frame a spec describes (imported again, or read from its .npz)."""
    if spec is None:
        return None
    if "source" in spec:
        from genforge.data import import_file

        return import_file(spec["source"], **spec.get("options", {}))
    path = Path(spec["file"])
    if not path.is_file():
        raise DataError(f"the search's frame file {path} is missing; a worker on another machine needs the search's "
                        "folder (out=) on a shared file system, or give frames by name or path.")
    with np.load(path, allow_pickle=False) as data:
        names = str(data["class_names"])
        labels = data["labels"] if bool(data["has_labels"]) else None
        return Frame(data["images"], labels, json.loads(names) if names else None, name=str(data["name"]))


def same_spec(a: dict | None, b: dict | None) -> bool:
    """Whether two specs name the same data (a re-written .npz of equal content counts as the same)."""
    return _identity(a) == _identity(b)


def _identity(spec: dict | None) -> Any:
    if spec is None or "source" in spec:
        return spec
    return ("file", spec.get("fingerprint"))
