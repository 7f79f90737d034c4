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
