"""``save_model`` and ``load_model``: a saved model is a folder of ``model.json`` + ``weights.safetensors``.

The folder format itself (version, required entries, confined weights name, atomic writes) is
``genforge.model_folder``; the estimators give and take their state as plain data (``to_saved`` /
``from_saved``); this module puts the two together and resolves the estimator by its registered name.
"""

from __future__ import annotations

from pathlib import Path

from genforge.errors import GenforgeError, ModelFormatError
from genforge.estimators.base import Estimator
from genforge.estimators.registry import ESTIMATORS
from genforge.files import claim_path
from genforge.model_folder import find_model_folder, read_meta, read_weights, update_meta, write_model_folder


def save_model(model: Estimator, path: str | Path = "models", force: bool = False) -> Path:
    """Save a trained model into the folder ``path/<model_id>`` and return that folder.

    An existing folder of the same name is replaced only with ``force=True``; the write is atomic, so an
    interrupted save never leaves a broken model behind.
    """
    if not isinstance(model, Estimator):
        raise GenforgeError(f"save_model needs a genforge estimator, got {type(model).__name__}.")
    meta, tensors = model.to_saved()
    target = claim_path(Path(path) / model.model_id, force, "model folder")  # refused unless force=True
    return write_model_folder(target, meta, tensors)


def load_model(path: str | Path) -> Estimator:
    """Load a model saved by ``save_model`` (or a training checkpoint folder)."""
    folder = find_model_folder(Path(path))
    if folder is None:
        raise ModelFormatError(
            f"{path} is not a saved genforge model: expected a folder holding model.json and weights.safetensors."
        )
    meta = read_meta(folder)
    cls = ESTIMATORS.get(meta["estimator"])
    if cls is None:
        raise ModelFormatError(f"{folder} holds an unknown estimator {meta['estimator']!r}.")
    return cls.from_saved(meta, read_weights(folder, meta))


def write_metrics(folder: Path, metrics: dict) -> None:
    """Replace the ``metrics`` entry of the saved model ``folder``'s model.json (the rest stays as it is).

    The weights checksum does not cover model.json, so the model still loads; the replace is atomic."""
    update_meta(Path(folder), metrics=dict(metrics))
