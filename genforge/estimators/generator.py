"""What every image generator offers, written once: GANs, VAEs, the ONNX runtime and the estimators to come.

A generator maps latent vectors ``z`` (standard normal, ``latent_size`` wide) and, when conditional, class
labels to uint8 images. ``Generator`` supplies on top of one method, ``_images(z, labels, **options)``:

- ``noise(n, seed)``: reproducible latent vectors (the same seed gives the same vectors everywhere);
- ``sample(n_or_z, seed=..., labels=..., **options)``: a Frame of images for a count or a latent array;
- ``interpolate(seed_a, seed_b, steps, label)``: images along the spherical path between two seeds' noise;
- the checks on latent arrays, sample counts and labels, with the same errors for every generator.

``generates = True`` is what says "this model makes images" (the server, the metrics and the CLI ask it).
"""

from __future__ import annotations

from typing import Any, ClassVar, Sequence

import numpy as np
import torch

from genforge.errors import DataError
from genforge.estimators.inputs import MAX_SAMPLES, check_options, check_sample_count, noise_rows, sample_labels
from genforge.frame import Frame


class Generator:
    """Mixin for image generators. Subclasses provide ``latent_size``, ``num_classes``, ``class_names``,
    ``model_id``, ``_ready`` and ``_images``."""

    generates: ClassVar[bool] = True

    latent_size: int
    num_classes: int
    class_names: list[str] | None
    model_id: str | None

    def _images(self, z: torch.Tensor, labels: np.ndarray | None, **options: Any) -> np.ndarray:
        """uint8 images ``(N, H, W, C)`` for checked latent vectors ``z`` (float32, CPU) and class indices."""
        raise NotImplementedError

    # Subclasses also define ``_ready()``, which raises when they cannot generate yet (an untrained
    # estimator); ``Estimator`` defines it for every estimator.

    # ------------------------------------------------------------------------------ latent space
    def noise(self, n: int, seed: int | None = None) -> np.ndarray:
        """``n`` standard-normal latent vectors, float32 ``(n, latent_size)``, reproducible for a ``seed``."""
        self._ready()
        n = check_sample_count(n, self._image_shape())
        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        return torch.randn(n, self.latent_size, generator=generator).numpy()

    def check_latent(self, z: Any) -> torch.Tensor:
        """``z`` as a float32 CPU tensor ``(N, latent_size)``; one vector, flat ``(latent_size,)`` or as H2O
        writes it, a column ``(latent_size, 1)``, is one sample."""
        self._ready()
        z = noise_rows(z, self.latent_size)
        if z.ndim != 2 or z.shape[1] != self.latent_size:
            raise DataError(f"latent vectors (noise) must have shape (N, {self.latent_size}) for this model, "
                            f"got {tuple(z.shape)}.")
        if len(z) == 0:
            raise DataError("the latent array has no rows; pass at least one latent vector.")
        if len(z) > MAX_SAMPLES:
            raise DataError(f"{len(z)} latent vectors is more than one call makes ({MAX_SAMPLES}); pass fewer.")
        if not torch.isfinite(z).all():
            raise DataError("the latent array holds NaN or infinite values.")
        return z

    def _image_shape(self) -> tuple[int, ...] | None:
        """The shape of one generated image (for the size check of a sample count), when known."""
        shape = getattr(self, "image_shape", None) or (getattr(self, "info", None) or {}).get("image_shape")
        return tuple(shape) if shape is not None else None

    def sample_labels(self, labels: Any, n: int) -> np.ndarray | None:
        """Class indices for ``n`` samples: as given (indices or names), or every class in turn; None for an
        unconditional generator, which refuses labels."""
        return sample_labels(labels, n, self.num_classes, self.class_names)

    # ------------------------------------------------------------------------------ images
    def sample(self, n: int | np.ndarray | torch.Tensor = 64, seed: int | None = None, labels: Any = None,
               **options: Any) -> Frame:
        """A Frame of generated images: ``n`` of them from ``seed``'s noise, or one per row of a latent array."""
        check_options(self._images, options, f"{type(self).__name__} sampling", skip=2)
        z = self.check_latent(self.noise(n, seed) if not _is_array(n) else n)
        labels = self.sample_labels(labels, len(z))
        images = self._images(z, labels, **options)
        names = self.class_names if labels is not None else None
        return Frame(images, labels, names, name=f"{self.model_id or type(self).__name__} samples")

    def interpolate(self, seed_a: int, seed_b: int, steps: int = 8, label: Any = None, **options: Any) -> Frame:
        """Images along the spherical path between the latent vectors of two seeds."""
        if not isinstance(steps, (int, np.integer)) or steps < 2 or steps > 1024:
            raise DataError(f"steps must be an integer from 2 to 1024, got {steps!r}.")
        a, b = self.noise(1, seed_a)[0], self.noise(1, seed_b)[0]
        z = np.stack([slerp(a, b, t) for t in np.linspace(0.0, 1.0, int(steps))]).astype(np.float32)
        return self.sample(z, labels=None if label is None else [label] * int(steps), **options)


def slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Spherical interpolation between latent vectors (linear where they are parallel)."""
    cos = np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12)
    omega = np.arccos(np.clip(cos, -1.0, 1.0))
    if omega < 1e-6:
        return (1 - t) * a + t * b
    return (np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / np.sin(omega)


def _is_array(n: Any) -> bool:
    return isinstance(n, (np.ndarray, list, tuple)) or torch.is_tensor(n)


def is_generator(model: Any) -> bool:
    """Whether ``model`` (an estimator, its class or an ONNX runtime) generates images."""
    return bool(getattr(model, "generates", False))


__all__: Sequence[str] = ["Generator", "check_sample_count", "slerp", "is_generator", "MAX_SAMPLES"]
