"""The sampling loop of a diffusion export, over onnxruntime: what ``OnnxGenerator`` runs for a file that
``export_onnx`` wrote from a DiffusionEstimator.

The file holds the denoiser (``sample``, ``timestep``[, ``class_labels``] -> ``model_output``) and, in its
metadata, the training noise schedule (``scheduler``). Sampling builds the same diffusers scheduler from that
config and runs ``genforge.nets.diffusion.sample_loop`` with the session as the denoiser, in the same chunks
as the estimator, so a seed gives the same pixels as ``DiffusionEstimator.predict`` (within float rounding).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import torch

from genforge.errors import ModelFormatError
from genforge.nets.diffusion import check_sampling, check_scheduler, sample_loop, sampler_scheduler

# Images per sampling loop: the estimator's own chunk size (DDPM's fresh noise is seeded per chunk).
CHUNK = 256


class DiffusionSampler:
    """Runs the sampling loop of a diffusion file's denoiser (one onnxruntime session)."""

    def __init__(self, session: Any, meta: dict[str, str]) -> None:
        self.session = session
        try:
            saved = json.loads(meta["scheduler"])
            self.image_shape = tuple(int(d) for d in json.loads(meta["image_shape"]))
            self.num_classes = int(json.loads(meta.get("num_classes", "0")))
        except (KeyError, TypeError, ValueError) as error:
            raise ModelFormatError(f"the diffusion export's metadata is incomplete ({error}).") from None
        self.schedule = check_scheduler(saved)
        self.conditional = "class_labels" in [i.name for i in session.get_inputs()]

    def _denoise(self, x: torch.Tensor, t: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        feeds = {"sample": x.numpy(), "timestep": t.numpy()}
        if self.conditional:
            feeds["class_labels"] = labels.numpy() if labels is not None else np.full(len(x), self.num_classes)
        return torch.from_numpy(self.session.run(["model_output"], feeds)[0])

    def __call__(self, z: torch.Tensor, labels: np.ndarray | None, steps: int = 25, sampler: str = "dpm++",
                 guidance_scale: float = 1.0) -> np.ndarray:
        """float32 images (N, C, H, W) in [-1, 1] from the initial noise ``z`` (N, C*H*W)."""
        check_sampling(steps, sampler, guidance_scale, self.num_classes, self.schedule["num_train_timesteps"])
        chunks = []
        for start in range(0, len(z), CHUNK):
            y = torch.from_numpy(labels[start : start + CHUNK]) if labels is not None else None
            images = sample_loop(self._denoise, sampler_scheduler(sampler, self.schedule), z[start : start + CHUNK],
                                 self.image_shape, int(steps), y, self.num_classes, float(guidance_scale))
            chunks.append(images.numpy())
        return np.concatenate(chunks)
