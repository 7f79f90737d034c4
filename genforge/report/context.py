"""What every section of a report shares: the checked inputs, one set of generated images and their
features under the domain evaluator, computed once.

The generated images come from ``model.noise(samples, seed)`` (kept as ``z``, which the latent directions
regress on); the reference features from up to ``samples`` images of the held-out ``frame`` (a fixed
shuffle), so that both sides of every score have the same size.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from genforge.errors import DataError, NotFittedError, ParameterError
from genforge.estimators.generator import is_generator
from genforge.estimators.inputs import MAX_SAMPLES
from genforge.frame import Frame
from genforge.imaging import make_grid, png_bytes
from genforge.metrics.extractors import FeatureExtractor, get_extractor
from genforge.metrics.features import Features, extract

MIN_SAMPLES = 50  # k-NN precision/recall, k-means and the direction fits need a few dozen images at least
MAX_REPORT_SAMPLES = 50_000


@dataclass
class ReportContext:
    """The inputs of one report and what the sections compute from them once."""

    model: Any
    frame: Frame  # the held-out real images (all of them: class shares)
    training: Frame | None
    extractor: FeatureExtractor
    samples: int
    seed: int
    z: np.ndarray = field(default=None)  # type: ignore[assignment]
    generated: Frame = field(default=None)  # type: ignore[assignment]
    gen: Features = field(default=None)  # type: ignore[assignment]
    reference: Frame = field(default=None)  # type: ignore[assignment]
    ref: Features = field(default=None)  # type: ignore[assignment]

    def prepare(self) -> None:
        """Generate the samples and extract both sides' features."""
        self.z = self.model.noise(self.samples, self.seed)
        self.generated = generate(self.model, self.z)
        self.generated.name = f"{getattr(self.model, 'model_id', None) or 'model'} samples"
        self.gen = extract(self.generated, self.extractor, "generated")
        count = min(len(self.frame), self.samples)
        self.reference = self.frame.shuffle(self.seed)[:count] if len(self.frame) > count else self.frame
        self.reference.name = self.frame.name or "reference"
        self.ref = extract(self.reference, self.extractor, "reference")

    @property
    def conditional(self) -> bool:
        return bool(getattr(self.model, "num_classes", 0))


def generate(model: Any, z: np.ndarray, **options: Any) -> Frame:
    """Images for latent rows ``z`` in chunks the generator accepts, restoring the networks' train modes."""
    modules = getattr(model, "networks", {}) or {}
    modes = {name: module.training for name, module in modules.items()}
    try:
        parts = [model.sample(z[start : start + MAX_SAMPLES], **options) for start in range(0, len(z), MAX_SAMPLES)]
    finally:
        for name, module in modules.items():
            module.train(modes[name])
    return parts[0] if len(parts) == 1 else Frame.concat(parts)


def check_model(model: Any) -> None:
    if not is_generator(model):
        raise ParameterError(f"a report describes an image generator; {type(model).__name__} does not generate images.")
    if hasattr(model, "is_fitted") and not model.is_fitted:
        raise NotFittedError("this model is not trained yet; call train() before report().")


def check_samples(samples: Any, name: str = "samples") -> int:
    if isinstance(samples, bool) or not isinstance(samples, (int, np.integer)):
        raise ParameterError(f"{name} must be an integer, got {samples!r}.")
    if not MIN_SAMPLES <= int(samples) <= MAX_REPORT_SAMPLES:
        raise ParameterError(f"{name} must be from {MIN_SAMPLES} to {MAX_REPORT_SAMPLES} generated images, got "
                             f"{samples}; 2000 is a good default.")
    return int(samples)


def check_frame_for(model: Any, frame: Any, what: str) -> Frame:
    """``frame`` must be a non-empty Frame of the images the model makes."""
    if not isinstance(frame, Frame):
        raise DataError(f"{what} must be a Frame, got {type(frame).__name__}; import one with gf.import_file(...).")
    if len(frame) == 0:
        raise DataError(f"{what} {frame.name!r} holds no images.")
    shape = model_image_shape(model)
    if shape is not None and frame.image_shape != shape:
        h, w, c = shape
        raise DataError(f"{what} images are {'x'.join(map(str, frame.image_shape))} but this model makes "
                        f"{h}x{w}x{c}; pass frame.resize(({h}, {w})).to_channels({c}).")
    return frame


def model_image_shape(model: Any) -> tuple[int, int, int] | None:
    """(H, W, C) of the model's images, from its frame schema (estimators) or its info (ONNX runtimes)."""
    schema = getattr(model, "frame_schema", None)
    if schema:
        return (schema["height"], schema["width"], schema["channels"])
    info = getattr(model, "info", None) or {}
    if info.get("image_shape"):
        c, h, w = info["image_shape"]
        return (h, w, c)
    return None


def resolve_extractor(model: Any, extractor: Any, frame: Frame) -> FeatureExtractor:
    """The extractor asked for, else the model's ``evaluator`` parameter, else the built-in one of the frame."""
    if isinstance(extractor, FeatureExtractor):
        return extractor
    spec = extractor
    if spec is None:
        try:
            spec = model.get_params().get("evaluator")
        except AttributeError:
            spec = None
    return get_extractor(spec, frame)


def make_context(model: Any, frame: Any, training_frame: Any = None, samples: Any = 2000, extractor: Any = None,
                 seed: Any = 0) -> ReportContext:
    """Checked inputs, with nothing generated yet (``prepare`` does that)."""
    check_model(model)
    frame = check_frame_for(model, frame, "frame")
    training = check_frame_for(model, training_frame, "training_frame") if training_frame is not None else None
    samples = check_samples(samples)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ParameterError(f"seed must be a non-negative integer, got {seed!r}.")
    return ReportContext(model, frame, training, resolve_extractor(model, extractor, frame), samples, int(seed))


def png_uri(images: np.ndarray, nrow: int | None = None, zoom: int | None = None) -> str:
    """A grid of uint8 images as a ``data:image/png;base64`` URI (scaled up for tiny images)."""
    grid = make_grid(np.asarray(images), nrow=nrow)
    if zoom is None:
        zoom = max(1, min(4, 96 // max(1, images.shape[1])))
    if zoom > 1:
        grid = grid.repeat(zoom, axis=0).repeat(zoom, axis=1)
    return "data:image/png;base64," + base64.b64encode(png_bytes(grid)).decode("ascii")
