"""``save_model`` and ``load_model``: a saved model is a folder of ``model.json`` + ``weights.safetensors``."""

from __future__ import annotations

from pathlib import Path

from genforge.errors import GenforgeError, ModelFormatError
from genforge.estimators.base import Estimator, read_meta
from genforge.estimators.registry import get_estimator
from genforge.serialization import existing_folder


def save_model(model: Estimator, path: str | Path = "models", force: bool = False) -> Path:
    """Save a trained model into the folder ``path/<model_id>`` and return that folder.

    An existing folder of the same name is replaced only with ``force=True``; the write is atomic, so an
    interrupted save never leaves a broken model behind.
    """
    if not isinstance(model, Estimator):
        raise GenforgeError(f"save_model needs a genforge estimator, got {type(model).__name__}.")
    model._require_fitted()
    target = Path(path) / model.model_id
    if target.exists() and not force:
        raise GenforgeError(f"{target} already exists; pass force=True to replace it.")
    return model._write_folder(target)


def load_model(path: str | Path) -> Estimator:
    """Load a model saved by ``save_model`` (or a training checkpoint folder)."""
    folder = existing_folder(Path(path))
    if folder is None:
        raise ModelFormatError(
            f"{path} is not a saved genforge model: expected a folder holding model.json and weights.safetensors."
        )
    meta = read_meta(folder)
    try:
        cls = get_estimator(meta["estimator"])
    except GenforgeError:
        raise ModelFormatError(f"{folder} holds an unknown estimator {meta['estimator']!r}.") from None
    return cls._from_meta(folder, meta)


def write_metrics(folder: Path, metrics: dict) -> None:
    """Replace the ``metrics`` entry of the saved model ``folder``'s model.json (the rest stays as it is).

    The new model.json is written beside the old one and renamed over it, so a reader sees either version,
    never half of one. The weights checksum does not cover model.json, so the model still loads.
    """
    import os

    from genforge.serialization import META_FILE, read_json, write_json

    path = Path(folder) / META_FILE
    meta = read_json(path)
    meta["metrics"] = dict(metrics)
    tmp = path.with_name(f".{META_FILE}.tmp-{os.getpid()}")
    try:
        write_json(tmp, meta)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
