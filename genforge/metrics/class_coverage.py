"""Class coverage: how the classes a domain classifier predicts for generated images spread, against the
class distribution of the training data.

- ``class_coverage``: share of classes generated at least ``min_fraction`` (default 0.5) of their expected
  frequency; 1.0 means no class is missing or starved, a one-class generator scores 1/K;
- ``class_kl``: KL(generated || expected) in nats (0 for a perfect match, log K for one class only);
- ``class_tv``: total variation distance, half the L1 distance of the two distributions (0 to 1).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from genforge.errors import DataError, ParameterError
from genforge.frame import Frame
from genforge.metrics.features import Features, extract

_EPS = 1e-12


def class_coverage(generated: Frame | Features, expected: Frame | Features | None = None, extractor: Any = None,
                   min_fraction: float = 0.5) -> dict[str, Any]:
    """Class spread of ``generated`` against ``expected`` (a labelled frame: its labels; an unlabelled one:
    the classifier's predictions on it; None: uniform over the classifier's classes)."""
    if not 0 < float(min_fraction) <= 1:
        raise ParameterError(f"min_fraction must lie in (0, 1], got {min_fraction}.")
    gen = extract(generated, extractor, "generated")
    if gen.probabilities is None or not gen.class_names:
        raise ParameterError(
            f"class coverage needs a classifier of the dataset's classes; the {gen.extractor} extractor gives no "
            "class names (use the domain evaluator, a CNNEstimator)."
        )
    names = list(gen.class_names)
    k = len(names)
    predicted = gen.probabilities.argmax(axis=1)
    p = np.bincount(predicted, minlength=k).astype(np.float64) / len(predicted)
    q, expected_from = _expected(expected, names, extractor, gen)
    covered = p >= float(min_fraction) * q
    kl = float(np.sum(np.where(p > 0, p * np.log((p + _EPS) / (q + _EPS)), 0.0)))
    return {
        "class_coverage": float(covered[q > 0].mean()) if (q > 0).any() else 0.0,
        "classes_covered": int(covered[q > 0].sum()),
        "num_classes": int((q > 0).sum()),
        "classes_missing": [names[i] for i in range(k) if q[i] > 0 and not covered[i]],
        "class_kl": max(kl, 0.0),
        "class_tv": float(0.5 * np.abs(p - q).sum()),
        "class_min_fraction": float(min_fraction),
        "class_distribution": {n: round(float(v), 5) for n, v in zip(names, p)},
        "expected_distribution": {n: round(float(v), 5) for n, v in zip(names, q)},
        "expected_from": expected_from,
        "extractor": gen.extractor,
        "n_generated": len(gen),
    }


def _expected(expected, names: list[str], extractor: Any, gen: Features) -> tuple[np.ndarray, str]:
    k = len(names)
    if expected is None:
        return np.full(k, 1.0 / k), "uniform"
    frame = expected.frame if isinstance(expected, Features) else expected
    if isinstance(frame, Frame) and frame.labels is not None and frame.class_names:
        missing = [n for n in frame.class_names if n not in names]
        if not missing:
            order = np.array([names.index(n) for n in frame.class_names])
            counts = np.bincount(order[frame.labels], minlength=k).astype(np.float64)
            return counts / counts.sum(), f"labels of {frame.name or 'the expected frame'}"
    # No usable labels (or other class names): what the classifier predicts on the real images.
    feats = extract(expected, extractor if extractor is not None else None, "expected") \
        if not isinstance(expected, Features) else expected
    if feats.probabilities is None or feats.extractor != gen.extractor:
        raise DataError("the expected frame has no labels matching the classifier's classes and was not scored by "
                        "the same classifier; pass a labelled frame.")
    counts = np.bincount(feats.probabilities.argmax(axis=1), minlength=k).astype(np.float64)
    return counts / counts.sum(), f"predictions on {feats.source}"
