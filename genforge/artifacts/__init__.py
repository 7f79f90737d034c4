"""Models on disk: ``save_model`` / ``load_model`` (model.json + weights.safetensors, never pickle)."""

from genforge.artifacts.model_io import load_model, save_model

__all__ = ["save_model", "load_model"]
