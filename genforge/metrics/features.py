"""Features of one frame under one extractor, computed once and shared by every metric."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from genforge.errors import DataError
from genforge.frame import Frame
from genforge.metrics.extractors import FeatureExtractor, get_extractor


@dataclass
class Features:
    """``features`` (N, D) and, from a classifier, ``probabilities`` (N, K), with where they came from."""

    features: np.ndarray
    probabilities: np.ndarray | None
    extractor: str
    source: str
    class_names: list[str] | None = None
    frame: Frame | None = None  # kept for the metrics that look at pixels (memorization) and for grids

    def __len__(self) -> int:
        return len(self.features)


def extract(frame: Frame | Features, extractor: Any = None, what: str = "frame") -> Features:
    """Features of ``frame`` (a Frame, or Features already extracted, returned as they are)."""
    if isinstance(frame, Features):
        return frame
    check_frame(frame, what)
    ex = extractor if isinstance(extractor, FeatureExtractor) else get_extractor(extractor, frame)
    features, probabilities = ex.extract(frame)
    if not np.all(np.isfinite(features)):
        raise DataError(f"the {ex.name} extractor gave NaN or infinite features for {what} {frame.name!r}.")
    return Features(features, probabilities, ex.name, source_name(frame, what), ex.class_names, frame)


def extract_pair(generated: Frame | Features, reference: Frame | Features,
                 extractor: Any = None) -> tuple[Features, Features]:
    """Features of both sides under one extractor (resolved from the reference frame when not given)."""
    if isinstance(generated, Frame) and isinstance(reference, Frame) and generated.image_shape != reference.image_shape:
        raise DataError(
            f"generated images are {'x'.join(map(str, generated.image_shape))}, reference images "
            f"{'x'.join(map(str, reference.image_shape))}; compare images of one shape."
        )
    if not (isinstance(generated, Features) and isinstance(reference, Features)) \
            and not isinstance(extractor, FeatureExtractor):
        base = reference if isinstance(reference, Frame) else generated
        extractor = get_extractor(extractor, check_frame(base, "reference"))
    gen = extract(generated, extractor, "generated")
    ref = extract(reference, extractor, "reference")
    check_pair(gen, ref)
    return gen, ref


def check_frame(frame: Any, what: str) -> Frame:
    if not isinstance(frame, Frame):
        raise DataError(f"{what} must be a Frame, got {type(frame).__name__}; build one with Frame.from_numpy(images).")
    if len(frame) == 0:  # a Frame cannot be built empty, but a selection of one can be made so
        raise DataError(f"{what} {frame.name!r} holds no images.")
    return frame


def source_name(frame: Frame, what: str) -> str:
    return frame.name or what


def check_pair(generated: Features, reference: Features) -> None:
    """Both sides must come from the same extractor and have the same feature width."""
    if generated.extractor != reference.extractor:
        raise DataError(
            f"generated features come from {generated.extractor!r}, reference features from {reference.extractor!r}; "
            "extract both with the same extractor."
        )
    if generated.features.shape[1] != reference.features.shape[1]:
        raise DataError(
            f"generated features are {generated.features.shape[1]}-d, reference features "
            f"{reference.features.shape[1]}-d; extract both with the same extractor."
        )
    if generated.frame is not None and reference.frame is not None and \
            generated.frame.image_shape != reference.frame.image_shape:
        raise DataError(
            f"generated images are {'x'.join(map(str, generated.frame.image_shape))}, reference images "
            f"{'x'.join(map(str, reference.frame.image_shape))}; compare images of one shape."
        )


def context(generated: Features, reference: Features) -> dict[str, Any]:
    """What every score carries next to its number."""
    return {"extractor": generated.extractor, "reference": reference.source,
            "n_generated": len(generated), "n_reference": len(reference)}
