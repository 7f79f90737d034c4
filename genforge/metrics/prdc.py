"""Precision, recall, density and coverage on k-nearest-neighbour manifolds (Naeem et al., 2020).

Each real (reference) feature gets a ball reaching its k-th nearest real neighbour; likewise each generated
feature among the generated ones (Kynkäänniemi et al., 2019):

- precision: share of generated samples inside some real ball (fidelity);
- recall: share of real samples inside some generated ball (diversity);
- density: how many real balls hold a generated sample, on average, divided by k (about 1 for matching
  distributions; robust to real outliers, unlike precision);
- coverage: share of real samples whose ball holds at least one generated sample.

Nearest neighbours and chunked distances come from scikit-learn (Euclidean, brute force).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from genforge.errors import DataError
from genforge.frame import Frame
from genforge.metrics.features import Features, context, extract_pair


def precision_recall(generated: Frame | Features, reference: Frame | Features, extractor: Any = None,
                     nearest_k: int = 5) -> dict[str, Any]:
    """All four scores (precision, recall, density, coverage) with their context."""
    from sklearn.metrics import pairwise_distances_chunked

    gen, ref = extract_pair(generated, reference, extractor)
    k = int(nearest_k)
    for side, feats in (("generated", gen), ("reference", ref)):
        if len(feats) <= k:
            raise DataError(
                f"precision/recall with nearest_k={k} needs more than {k} {side} images, got {len(feats)}; "
                "pass more images or a smaller nearest_k."
            )
    real, fake = gen_ref_arrays(ref), gen_ref_arrays(gen)
    real_radii = kth_neighbour_distance(real, k)
    fake_radii = kth_neighbour_distance(fake, k)

    inside_real = []  # per generated sample: how many real balls hold it
    for block in pairwise_distances_chunked(fake, real, metric="euclidean", n_jobs=1):
        inside_real.append((block < real_radii[None, :]).sum(axis=1))
    counts = np.concatenate(inside_real)
    covered, recalled = [], []  # per real sample: its nearest generated one is inside its ball / any generated ball holds it
    start = 0
    for block in pairwise_distances_chunked(real, fake, metric="euclidean", n_jobs=1):
        covered.append(block.min(axis=1) < real_radii[start : start + len(block)])
        recalled.append((block < fake_radii[None, :]).any(axis=1))
        start += len(block)
    return {
        "precision": float((counts > 0).mean()),
        "recall": float(np.concatenate(recalled).mean()),
        "density": float(counts.mean() / k),
        "coverage": float(np.concatenate(covered).mean()),
        "nearest_k": k,
        **context(gen, ref),
    }


def gen_ref_arrays(features: Features) -> np.ndarray:
    return np.ascontiguousarray(features.features, dtype=np.float32)


def kth_neighbour_distance(points: np.ndarray, k: int) -> np.ndarray:
    """Distance from each point to its k-th nearest other point."""
    from sklearn.neighbors import NearestNeighbors

    index = NearestNeighbors(n_neighbors=k + 1, algorithm="brute").fit(points)
    distances, _ = index.kneighbors(points)  # column 0 is the point itself
    return distances[:, k]
