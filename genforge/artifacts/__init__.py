"""Models on disk, the one public place for them: ``save_model`` / ``load_model`` (model.json +
weights.safetensors, never pickle), ``export_onnx`` and the ``OnnxGenerator`` runtime for exported files."""

from genforge.artifacts.model_io import load_model, save_model
from genforge.artifacts.onnx_export import export_onnx
from genforge.artifacts.onnx_runtime import OnnxGenerator

__all__ = ["save_model", "load_model", "export_onnx", "OnnxGenerator"]
