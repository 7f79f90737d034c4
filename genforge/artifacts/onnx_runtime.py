"""Run an exported generator with onnxruntime, without PyTorch's training code: what a server needs.

    gen = OnnxGenerator("gan.onnx")
    images = gen.generate(gen.noise(16, seed=0), labels=None)   # uint8 (16, H, W, C)

Needs ``onnxruntime`` (``pip install genforge[onnx]``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from genforge.errors import DataError, GenforgeError, ModelFormatError
from genforge.estimators.inputs import label_indices


class OnnxGenerator:
    """A GAN generator or VAE decoder exported by ``export_onnx``: noise (and labels) -> uint8 images."""

    def __init__(self, path: str | Path, providers: Sequence[str] | None = None, threads: int | None = None) -> None:
        try:
            import onnxruntime as ort
        except ImportError:
            raise GenforgeError("OnnxGenerator needs onnxruntime: pip install 'genforge[onnx]'.") from None
        self.path = Path(path)
        if not self.path.is_file():
            raise ModelFormatError(f"{self.path} is not a file; export a model with genforge export MODEL --format onnx.")
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(str(self.path), options,
                                                providers=list(providers or ["CPUExecutionProvider"]))
        except Exception as error:  # onnxruntime raises its own exception types for unreadable files
            raise ModelFormatError(f"{self.path} is not a readable ONNX model: {str(error).splitlines()[0]}") from None
        meta = self.session.get_modelmeta().custom_metadata_map
        names = [i.name for i in self.session.get_inputs()]
        if meta.get("estimator") not in ("gan", "vae") or names[:1] != ["z"]:
            raise ModelFormatError(f"{self.path} is not a generator exported by genforge (estimator "
                                   f"{meta.get('estimator')!r}, inputs {names}).")
        self.metadata = meta
        self.latent_dim = int(json.loads(meta["latent_dim"]))
        self.num_classes = int(json.loads(meta.get("num_classes", "0")))
        self.class_names: list[str] | None = json.loads(meta.get("class_names", "null"))
        self.image_shape = tuple(json.loads(meta["image_shape"]))  # (C, H, W)

    def noise(self, n: int, seed: int | None = None) -> np.ndarray:
        """``n`` standard-normal latent vectors; the same seed gives the same vectors as ``model.noise``."""
        import torch

        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        return torch.randn(int(n), self.latent_dim, generator=generator).numpy()

    def raw(self, z: Any, labels: Any = None) -> np.ndarray:
        """The file's own output: float32 images (N, C, H, W) in [-1, 1]."""
        z = np.asarray(z, dtype=np.float32)
        if z.ndim != 2 or z.shape[1] != self.latent_dim or len(z) == 0:
            raise DataError(f"noise must have shape (N, {self.latent_dim}) with N >= 1, got {z.shape}.")
        if not np.isfinite(z).all():
            raise DataError("noise holds NaN or infinite values.")
        feeds = {"z": z}
        if self.num_classes:
            feeds["label"] = self._labels(labels, len(z))
        elif labels is not None:
            raise DataError("labels were given but this generator is not conditional.")
        return self.session.run(["images"], feeds)[0]

    def generate(self, z: Any, labels: Any = None) -> np.ndarray:
        """uint8 images (N, H, W, C), the same pixels as ``GANEstimator.generate`` for the same z and labels."""
        images = self.raw(z, labels)
        pixels = np.clip(np.rint((images + 1.0) * 127.5), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(pixels.transpose(0, 2, 3, 1))

    def _labels(self, labels: Any, n: int) -> np.ndarray:
        if labels is None:
            return np.arange(n, dtype=np.int64) % self.num_classes  # every class in turn, as predict does
        names = self.class_names or [str(i) for i in range(self.num_classes)]
        return label_indices(labels, names, n)
