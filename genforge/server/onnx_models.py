"""Exported generators (``genforge export MODEL --format onnx``) as models of the server.

An uploaded ``.onnx`` file is kept as ``models/<id>/model.onnx`` and recorded with ``format = "onnx"``. It is
run by :class:`~genforge.artifacts.onnx_runtime.OnnxGenerator` behind :class:`OnnxModel`, which offers the few
estimator methods the routes use (``predict``, ``interpolate``, ``latent_size``), so that ``/generate``,
``/interpolate``, ``/samples.png`` and the v2 routes serve it like a PyTorch model, with the same pixels.
What needs the PyTorch model (``/evaluate``) answers 409.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from genforge.errors import GenforgeError, ModelFormatError
from genforge.frame import Frame

ONNX_FILE = "model.onnx"


class OnnxModel:
    """An exported GAN generator or VAE decoder with the estimator methods the server's routes call."""

    def __init__(self, path: str | Path) -> None:
        from genforge.artifacts.onnx_runtime import OnnxGenerator

        path = Path(path)
        file = path / ONNX_FILE if path.is_dir() else path
        _refuse_external_data(file)
        try:
            self.runtime = OnnxGenerator(file)
        except GenforgeError:
            raise
        except (KeyError, TypeError, ValueError) as error:  # metadata present but not what export_onnx writes
            raise ModelFormatError(f"the ONNX file's genforge metadata is incomplete or invalid ({error}).") from None
        meta = self.runtime.metadata
        self.algo = meta["estimator"]
        self.model_id = meta.get("model_id") or None
        self.latent_size = self.runtime.latent_dim
        shape = self.runtime.image_shape
        if len(shape) != 3 or not all(isinstance(d, int) and d > 0 for d in shape) or self.latent_size < 1:
            raise ModelFormatError(f"the ONNX file records an invalid image shape {list(shape)} or latent size "
                                   f"{self.latent_size}.")
        names = self.runtime.class_names
        if self.runtime.num_classes and (not isinstance(names, list) or len(names) != self.runtime.num_classes):
            raise ModelFormatError(f"the ONNX file records {self.runtime.num_classes} classes but class names "
                                   f"{names!r}.")
        self.class_names = [str(n) for n in names] if self.runtime.num_classes else None
        self.num_classes = self.runtime.num_classes
        self.generates = True
        # One trial run: a file whose graph does not give images of the recorded shape is refused now.
        try:
            images = self.runtime.generate(self.runtime.noise(1, seed=0))
        except GenforgeError:
            raise
        except Exception as error:  # noqa: BLE001 - onnxruntime's own exception types
            raise ModelFormatError(f"the ONNX graph does not run: {str(error).splitlines()[0][:300]}") from None
        c, h, w = shape
        if images.shape != (1, h, w, c):
            raise ModelFormatError(f"the ONNX graph gives images of shape {list(images.shape[1:])}, not the "
                                   f"recorded {[h, w, c]} (H, W, C).")

    @property
    def frame_schema(self) -> dict[str, Any]:
        c, h, w = self.runtime.image_shape
        return {"channels": c, "height": h, "width": w, "class_names": self.class_names}

    def predict(self, n: int | np.ndarray = 64, seed: int | None = None, labels: Any = None, **options: Any) -> Frame:
        """As the estimators' ``predict``: ``n`` images from ``seed``'s noise, or one per row of ``n`` (a
        diffusion export takes ``steps``, ``sampler`` and ``guidance_scale``)."""
        return self.runtime.predict(n, seed=seed, labels=labels, **options)

    def noise(self, n: int, seed: int | None = None) -> np.ndarray:
        """The latent vectors of ``seed``, as the estimators draw them."""
        return self.runtime.noise(n, seed)

    def interpolate(self, seed_a: int, seed_b: int, steps: int = 8, label: Any = None) -> Frame:
        """As the estimators' ``interpolate``: the spherical path between two seeds' noise."""
        return self.runtime.interpolate(seed_a, seed_b, steps=steps, label=label)

    def row_values(self, folder: Path) -> dict[str, Any]:
        """Column values of its database row (see ``store.model_row_values``)."""
        meta = self.runtime.metadata
        info = {"num_classes": self.num_classes, "latent_dim": self.latent_size, "genforge_version": meta.get("genforge_version"), "exported_from": self.model_id}
        return {"algo": self.algo, "path": str(folder), "parameters": {}, "frame_schema": self.frame_schema,
                "metrics": {}, "history": [], "info": info, "job_id": None, "source": "upload", "format": "onnx"}


def _refuse_external_data(file: Path) -> None:
    """An export is one self-contained file; tensors stored in other files (paths chosen by the uploader) are
    refused before onnxruntime would read them."""
    try:
        import onnx
        from onnx.external_data_helper import _get_all_tensors, uses_external_data
    except ImportError:  # onnxruntime alone still confines external data to the model's folder
        return
    try:
        proto = onnx.load(str(file), load_external_data=False)
    except Exception as error:  # noqa: BLE001 - protobuf's decode errors for truncated or foreign files
        reason = (str(error).splitlines() or [type(error).__name__])[0][:200]
        raise ModelFormatError(f"not a readable ONNX model ({reason}).") from None
    if any(uses_external_data(t) for t in _get_all_tensors(proto)):
        raise ModelFormatError("the ONNX model keeps tensors in external files; upload the single file that "
                               "genforge export writes.")
