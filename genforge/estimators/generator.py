"""What every image generator offers, written once: GANs, VAEs, the ONNX runtime and the estimators to come.

A generator maps latent vectors ``z`` (standard normal, ``latent_size`` wide) and, when conditional, class
labels to uint8 images. ``Generator`` supplies on top of one method, ``_images(z, labels, **options)``:

- ``noise(n, seed)``: reproducible latent vectors (the same seed gives the same vectors everywhere);
- ``sample(n_or_z, seed=..., labels=..., **options)``: a Frame of images for a count or a latent array;
- ``interpolate(seed_a, seed_b, steps, label)``: images along the spherical path between two seeds' noise;
- ``traverse(z, direction, steps, scale)``: images along a straight line through ``z`` in latent space;
- ``latent_directions(k)``, ``class_direction(label)`` and ``report(frame, path)``, which need the domain
  evaluator's features: ``genforge.report`` installs them (see ``estimators.insight``);
- the checks on latent arrays, sample counts and labels, with the same errors for every generator.

``generates = True`` is what says "this model makes images" (the server, the metrics and the CLI ask it).
"""

from __future__ import annotations

from typing import Any, ClassVar, Sequence

import numpy as np
import torch

from genforge.errors import DataError
from genforge.estimators.insight import insight
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

    def traverse(self, z: Any, direction: Any, steps: int = 7, scale: float = 3.0, labels: Any = None,
                 **options: Any) -> Frame:
        """Images along ``direction`` through each latent vector of ``z``: ``z + t * d`` for ``steps`` values of
        ``t`` from ``-scale`` to ``scale``, with ``d`` the direction scaled to unit length (the latent prior is
        standard normal, so ``scale`` counts standard deviations). One row of ``steps`` images per vector of
        ``z``, in order; ``labels`` (conditional models) as for ``sample``, one per vector of ``z``."""
        z = self.check_latent(z).numpy()
        unit = self.check_direction(direction)
        if not isinstance(steps, (int, np.integer)) or isinstance(steps, bool) or not 2 <= steps <= 64:
            raise DataError(f"steps must be an integer from 2 to 64, got {steps!r}.")
        if isinstance(scale, bool) or not isinstance(scale, (int, float, np.floating, np.integer)) \
                or not np.isfinite(scale) or not 0 < float(scale) <= 100:
            raise DataError(f"scale must be a number in (0, 100] (standard deviations of the latent prior), got {scale!r}.")
        offsets = np.linspace(-float(scale), float(scale), int(steps), dtype=np.float32)
        path = (z[:, None, :] + offsets[None, :, None] * unit[None, None, :]).reshape(-1, z.shape[1])
        if labels is not None:
            labels = np.repeat(self.sample_labels(labels, len(z)), int(steps))
        elif self.num_classes:
            labels = np.repeat(np.arange(len(z)) % self.num_classes, int(steps))
        return self.sample(path, labels=labels, **options)

    def check_direction(self, direction: Any) -> np.ndarray:
        """``direction`` as a unit float32 vector ``(latent_size,)``; a clear error for any other shape."""
        self._ready()
        try:
            d = np.asarray(direction.numpy() if torch.is_tensor(direction) else direction, dtype=np.float64)
        except (TypeError, ValueError):
            raise DataError(f"a direction must be an array of {self.latent_size} numbers, got "
                            f"{type(direction).__name__}.") from None
        d = d.reshape(-1) if d.ndim == 2 and 1 in d.shape else d
        if d.shape != (self.latent_size,):
            raise DataError(f"a direction must have shape ({self.latent_size},) for this model, got {tuple(d.shape)}; "
                            "use one row of latent_directions(k) or class_direction(label).")
        norm = float(np.linalg.norm(d)) if np.all(np.isfinite(d)) else float("nan")
        if not np.isfinite(norm) or norm < 1e-12:
            raise DataError("a direction must be finite and not all zero.")
        return (d / norm).astype(np.float32)

    # ------------------------------------------------------------------------------ understanding
    def latent_directions(self, k: int = 5, samples: int = 2000, extractor: Any = None, seed: int = 0) -> np.ndarray:
        """The ``k`` main directions of the latent space, float32 ``(k, latent_size)``, each of unit length,
        in order of the share of feature variance they explain: principal components of the domain
        evaluator's features of ``samples`` generated images, regressed back onto the latent vectors (the
        method of GANSpace, Härkönen et al. 2020). ``extractor`` as for ``model_performance``."""
        return insight("latent_directions", self, k, samples=samples, extractor=extractor, seed=seed)

    def class_direction(self, label: Any, samples: int = 2000, extractor: Any = None, seed: int = 0) -> np.ndarray:
        """The unit latent direction ``(latent_size,)`` that moves samples toward class ``label`` (an index or
        a name of the evaluator's classes): the normal of a linear classifier, in latent space, of the images
        the domain evaluator assigns to that class (the method of InterFaceGAN, Shen et al. 2020)."""
        return insight("class_direction", self, label, samples=samples, extractor=extractor, seed=seed)

    def report(self, frame: Frame, path: str | Any = "report.html", samples: int = 2000,
               training_frame: Frame | None = None, extractor: Any = None, seed: int = 0, force: bool = False,
               **options: Any) -> dict[str, Any]:
        """Write one self-contained HTML page (``path``) and a JSON file beside it (same name, ``.json``) that
        say how good and diverse the samples are, whether they copy ``training_frame``, whether their classes
        or clusters are biased against ``frame`` (a held-out real split), how training went and how the latent
        space can be steered; returns what the JSON holds. See ``genforge.report.build_report``."""
        return insight("report", self, frame, path=path, samples=samples, training_frame=training_frame,
                       extractor=extractor, seed=seed, force=force, **options)


def slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Spherical interpolation between latent vectors (linear where they are parallel)."""
    cos = np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12)
    omega = np.arccos(np.clip(cos, -1.0, 1.0))
    if omega < 1e-6:
        return (1 - t) * a + t * b
    return (np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / np.sin(omega)


def truncate(z: torch.Tensor, threshold: float | None) -> torch.Tensor:
    """The truncation trick (BigGAN, Brock et al. 2019): each value of standard-normal ``z`` mapped to the
    normal truncated to ``[-threshold, threshold]`` through their quantiles, so the result has the truncated
    normal's distribution, keeps each value's rank, and the same ``z`` always gives the same vector.
    ``threshold`` None (or inf) leaves ``z`` as it is; smaller values trade diversity for fidelity."""
    if threshold is None or threshold == float("inf"):
        return z
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 < float(threshold) <= 10:
        raise DataError(f"truncation must be a number in (0, 10] (standard deviations) or None, got {threshold!r}.")
    z64 = z.double()
    low = torch.special.ndtr(torch.tensor(-float(threshold), dtype=torch.float64))
    quantile = low + torch.special.ndtr(z64) * (1 - 2 * low)
    return torch.special.ndtri(quantile).clamp(-float(threshold), float(threshold)).to(z.dtype)


def _is_array(n: Any) -> bool:
    return isinstance(n, (np.ndarray, list, tuple)) or torch.is_tensor(n)


def is_generator(model: Any) -> bool:
    """Whether ``model`` (an estimator, its class or an ONNX runtime) generates images."""
    return bool(getattr(model, "generates", False))


__all__: Sequence[str] = ["Generator", "check_sample_count", "slerp", "truncate", "is_generator", "MAX_SAMPLES"]
