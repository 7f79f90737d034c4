"""Frames and models on disk beside the database.

A stored frame is ``frames/<id>.npz`` (uint8 ``images``, int64 ``labels``, str ``class_names``; no pickle),
which ``genforge.data.import_file`` itself can read back. A stored model is the folder
``models/<id>/`` that ``genforge.save_model`` writes (model.json + weights.safetensors), or for an uploaded
ONNX export (``format = "onnx"``) the folder holding its ``model.onnx``. Imports go through
``genforge.data.import_file``, the same validation as the Python API; server-side paths must lie inside the
configured roots.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any, Mapping

import numpy as np
from pydantic import ValidationError

from genforge.errors import DataError
from genforge.frame import Frame
from genforge.model_folder import read_meta
from genforge.server.errors import ApiError, describe_validation
from genforge.server.schemas import IMPORT_OPTIONS, ImportOptions
from genforge.server.paths import confined_path, valid_id  # noqa: F401 - one confinement for every route
from genforge.server.settings import Settings

def new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(5)}"


# ------------------------------------------------------------------------------ frames
def builtin_name(source: str) -> str | None:
    """``source`` as a built-in (or $GENFORGE_DATA) dataset name, else None."""
    from genforge.data import list_datasets

    key = source.strip().lower().replace("_", "-")
    names = {entry["name"].lower() for entry in list_datasets()}
    try:
        from genforge.data.builtin import builtin_names

        names |= set(builtin_names())
    except ImportError:  # pragma: no cover - older data package
        pass
    return key if key in names else None


def import_options(options: Mapping[str, Any], form: bool = False) -> dict[str, Any]:
    """The one check of import options (``ImportOptions``: image_size, channels, on_error), wherever they come
    from: a JSON body, multipart form fields (``form=True``: strings, "" for unset), the preload, the CLI.
    Returns the keyword arguments of ``genforge.data.import_file``; a 422 names the first bad option."""
    values = dict(options)
    if form:
        values = {k: _form_value(k, v) for k, v in values.items() if v is not None and v != ""}
    unknown = set(values) - set(IMPORT_OPTIONS)
    if unknown:
        raise ApiError(422, f"unknown import options {sorted(unknown)}; allowed: {', '.join(IMPORT_OPTIONS)}.")
    try:
        return ImportOptions.model_validate({k: v for k, v in values.items() if v is not None}).import_kwargs()
    except ValidationError as error:
        raise ApiError(422, describe_validation(error)) from None


def _form_value(key: str, value: Any) -> Any:
    """A form field as the JSON value it stands for: integers from their digits, other text as it is."""
    if not isinstance(value, str):
        raise ApiError(422, f"{key}: expected a plain form value, not a file.")
    try:
        return int(value)
    except ValueError:
        return value


def import_frame(settings: Settings, source: str, options: dict[str, Any]) -> tuple[Frame, str]:
    """Import a built-in name or a confined server-side path; returns the frame and its kind."""
    from genforge.data import import_file

    from genforge.server.limits import import_limits

    options = {**import_options(options), "limit": settings.max_images + 1,  # decode no more than we take
               **import_limits(settings)}
    name = builtin_name(source)
    if name is not None:
        from genforge.server.paths import dataset_by_name

        frame = import_file(dataset_by_name(name, source), **options)
        kind = "builtin"
    else:
        frame = import_file(str(confined_path(settings, source)), **options)
        kind = "path"
    check_size(settings, frame)
    return frame, kind


def check_size(settings: Settings, frame: Frame) -> None:
    if len(frame) > settings.max_images:
        raise ApiError(413, f"the dataset has more images than this server's limit of "
                            f"{settings.max_images}; split it or start the server with a higher limit.")


def save_frame(settings: Settings, frame: Frame, ident: str) -> Path:
    path = settings.frames_dir / f"{ident}.npz"
    tmp = path.with_name(f".{ident}.tmp.npz")
    arrays: dict[str, np.ndarray] = {"images": np.asarray(frame.images)}
    if frame.labels is not None:
        arrays["labels"] = frame.labels.astype(np.int64)
        arrays["class_names"] = np.asarray(frame.class_names or [], dtype=str)
    with open(tmp, "wb") as handle:
        np.savez(handle, **arrays)
    os.replace(tmp, path)
    return path


def read_frame(path: str | Path, name: str | None = None) -> Frame:
    """A stored frame (written by ``save_frame``)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            images = data["images"]
            labels = data["labels"] if "labels" in data.files else None
            names = [str(n) for n in data["class_names"]] if "class_names" in data.files else None
    except (OSError, ValueError, KeyError) as error:
        raise DataError(f"the stored frame {path} cannot be read ({error}); delete it and import it again.") from None
    return Frame(images, labels, names if labels is not None else None, name=name)


class _Cache:
    """A small thread-safe LRU of loaded objects."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.items: OrderedDict[str, Any] = OrderedDict()
        self.versions: dict[str, Any] = {}  # key -> the version it was loaded at (another one loads it again)
        self.lock = threading.Lock()

    def get(self, key: str, load, version: Any = None) -> Any:
        with self.lock:
            if key in self.items and self.versions.get(key) == version:
                self.items.move_to_end(key)
                return self.items[key]
        value = load()
        with self.lock:
            self.items[key], self.versions[key] = value, version
            self.items.move_to_end(key)
            while len(self.items) > self.size:
                self.versions.pop(self.items.popitem(last=False)[0], None)
        return value

    def drop(self, key: str) -> None:
        with self.lock:
            self.items.pop(key, None)
            self.versions.pop(key, None)


class Stores:
    """Loaded frames and models, cached for previews, generation and inference."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.frames = _Cache(4)
        self.models = _Cache(settings.model_cache)

    def frame(self, ident: str, path: str, name: str | None = None) -> Frame:
        return self.frames.get(ident, lambda: read_frame(path, name))

    def model(self, ident: str, path: str, format: str = "genforge"):
        """A loaded model: an estimator, or for ``format == "onnx"`` an ``OnnxModel`` (same routes, same pixels)."""
        if format == "onnx":
            from genforge.server.onnx_models import OnnxModel

            return self.models.get(ident, lambda: OnnxModel(path))
        from genforge.artifacts import load_model

        # The weights' version too: a search that resumes a candidate for longer replaces its folder.
        try:
            version = (Path(path) / "weights.safetensors").stat().st_mtime_ns
        except OSError:
            version = None
        return self.models.get(ident, lambda: load_model(path), version)


# ------------------------------------------------------------------------------ models
def model_row_values(folder: Path, job_id: str | None = None, source: str = "job") -> dict[str, Any]:
    """Column values for a model folder, read from its model.json (checked by ``read_meta``)."""
    meta = read_meta(folder)
    return {
        "algo": meta["estimator"], "path": str(folder), "parameters": meta.get("params", {}),
        "frame_schema": meta.get("frame_schema"), "metrics": meta.get("metrics") or {},
        "history": meta.get("history") or [], "info": meta.get("info") or {}, "job_id": job_id, "source": source,
    }
