"""Run an exported generator with onnxruntime, without PyTorch's training code: what a server needs.

    gen = OnnxGenerator("gan.onnx")
    images = gen.generate(gen.noise(16, seed=0), labels=None)   # uint8 (16, H, W, C)

A diffusion export (the denoiser) is run the same way: ``OnnxGenerator("diffusion.onnx").predict(16, seed=0,
steps=25, sampler="dpm++")`` runs the sampling loop of ``genforge.nets.diffusion`` over the file (see
``onnx_diffusion.py``; needs diffusers for the schedulers).

Needs ``onnxruntime`` (``pip install genforge[onnx]``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from genforge.errors import GenforgeError, ModelFormatError, ParameterError
from genforge.estimators.generator import Generator, is_generator
from genforge.estimators.registry import ESTIMATORS
from genforge.frame import Frame


class OnnxGenerator(Generator):
    """A GAN generator or VAE decoder exported by ``export_onnx``: noise (and labels) -> uint8 images, with
    the generator methods of the estimators (``noise``, ``predict``, ``interpolate``, ...)."""

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
        self._diffusion = None
        if meta.get("estimator") == "diffusion" and names[:2] == ["sample", "timestep"]:
            from genforge.artifacts.onnx_diffusion import DiffusionSampler

            self._diffusion = DiffusionSampler(self.session, meta)
        elif not is_generator(ESTIMATORS.get(meta.get("estimator", ""))) or names[:1] != ["z"]:
            raise ModelFormatError(f"{self.path} is not a generator exported by genforge (estimator "
                                   f"{meta.get('estimator')!r}, inputs {names}).")
        self.metadata = meta
        self.latent_dim = int(json.loads(meta["latent_dim"]))
        self.num_classes = int(json.loads(meta.get("num_classes", "0")))
        self.class_names: list[str] | None = json.loads(meta.get("class_names", "null"))
        if self.num_classes and not self.class_names:
            self.class_names = [str(i) for i in range(self.num_classes)]
        self.image_shape = tuple(json.loads(meta["image_shape"]))  # (C, H, W)
        self.model_id = meta.get("model_id") or None

    @property
    def latent_size(self) -> int:
        return self.latent_dim

    def _ready(self) -> None:
        """An open session is always ready."""

    def raw(self, z: Any, labels: Any = None, **options: Any) -> np.ndarray:
        """The file's own output: float32 images (N, C, H, W) in [-1, 1] (a diffusion file's: the images its
        sampling loop ends with; ``options`` are ``steps``, ``sampler``, ``guidance_scale``)."""
        z = self.check_latent(z)
        index = self.sample_labels(labels, len(z))
        return self._raw(z, index, options)

    def _raw(self, z: torch.Tensor, labels: np.ndarray | None, options: dict) -> np.ndarray:
        if self._diffusion is not None:
            return self._diffusion(z, labels, **options)
        if options:
            raise ParameterError(f"this {self.metadata.get('estimator')} export takes no sampling options, got "
                                 f"{sorted(options)}.")
        feeds = {"z": z.numpy()}
        if labels is not None:
            feeds["label"] = labels
        return self.session.run(["images"], feeds)[0]

    def generate(self, z: Any, labels: Any = None, **options: Any) -> np.ndarray:
        """uint8 images (N, H, W, C), the same pixels as the estimator's for the same z, labels and options."""
        return _to_pixels(self.raw(z, labels, **options))

    def predict(self, n: int | np.ndarray = 64, seed: int | None = None, labels: Any = None, **options: Any) -> Frame:
        """As the estimators' ``predict``: ``n`` images from ``seed``'s noise, or one per row of ``n``
        (diffusion files: with ``steps``, ``sampler`` and ``guidance_scale``)."""
        return self.sample(n, seed=seed, labels=labels, **options)

    def _images(self, z: torch.Tensor, labels: np.ndarray | None, **options: Any) -> np.ndarray:
        return _to_pixels(self._raw(z, labels, options))


def _to_pixels(images: np.ndarray) -> np.ndarray:
    pixels = np.clip(np.rint((images + 1.0) * 127.5), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(pixels.transpose(0, 2, 3, 1))
