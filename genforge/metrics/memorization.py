"""Memorization: the share of generated images that are near-copies of training images.

A generated image counts as memorized when its nearest training image is closer than a threshold. The
threshold is calibrated on real data: the ``percentile``-th percentile (default 1) of the distances from
held-out reference images (which no model saw) to their nearest training image. So by construction about
``percentile`` % of fresh real images would be flagged, and a model that copies its training set scores far
above that.

Distances are Euclidean, by default in pixel space (pixels scaled to [0, 1]: copies are copies whatever
the extractor sees), or in the extractor's feature space with ``space="feature"`` (catches shifted or
re-coloured near-copies). The exact nearest-neighbour search is a blocked matrix product in torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from genforge.errors import DataError, ParameterError
from genforge.frame import Frame
from genforge.metrics.features import Features, check_frame, extract

SPACES = ("pixel", "feature")


def memorization(generated: Frame | Features, training: Frame | Features, reference: Frame | Features | None = None,
                 space: str = "pixel", extractor: Any = None, percentile: float = 1.0,
                 threshold: float | None = None, top: int = 16, distances: bool = False) -> dict[str, Any]:
    """Share of ``generated`` images whose nearest ``training`` image is closer than the calibrated threshold.

    ``reference`` is a held-out real split used to calibrate the threshold (or pass ``threshold``).
    The result lists the ``top`` closest (generated, training) pairs; ``closest_pairs_grid`` draws them.
    ``distances=True`` adds the nearest-neighbour distances themselves (arrays ``generated_nn_distances``
    and, when calibrated here, ``reference_nn_distances``), for histograms.
    """
    if space not in SPACES:
        raise ParameterError(f"space must be one of {SPACES}, got {space!r}.")
    if not 0 < float(percentile) < 100:
        raise ParameterError(f"percentile must lie in (0, 100), got {percentile}.")
    if reference is None and threshold is None:
        raise ParameterError("memorization needs a held-out reference frame to calibrate its threshold, or threshold=.")
    gen_x, gen_name, extractor_name = _vectors(generated, space, extractor, "generated")
    train_x, train_name, _ = _vectors(training, space, extractor, "training")
    if gen_x.shape[1] != train_x.shape[1]:
        raise DataError(f"generated and training images differ in size ({gen_x.shape[1]} vs {train_x.shape[1]} values).")
    gen_distances, nearest = nearest_neighbours(gen_x, train_x)
    result: dict[str, Any] = {}
    if threshold is None:
        ref_x, ref_name, _ = _vectors(reference, space, extractor, "reference")
        ref_distances = nearest_neighbours(ref_x, train_x)[0]
        threshold = float(np.percentile(ref_distances, percentile))
        if threshold <= 0:
            raise DataError(
                f"over {percentile}% of the reference images ({ref_name}) have an exact copy in the training images "
                f"({train_name}); calibrate on a held-out split that the model did not train on."
            )
        result.update({"reference": ref_name, "n_reference": len(ref_x), "memorization_percentile": float(percentile),
                       "reference_nn_distance_median": float(np.median(ref_distances))})
        if distances:
            result["reference_nn_distances"] = ref_distances
    if distances:
        result["generated_nn_distances"] = gen_distances
    flagged = gen_distances < threshold
    order = np.argsort(gen_distances, kind="stable")[: max(0, int(top))]
    result = {
        "memorization": float(flagged.mean()),
        "n_memorized": int(flagged.sum()),
        "memorization_threshold": float(threshold),
        "memorization_space": space,
        **({"extractor": extractor_name} if space == "feature" else {}),
        "training": train_name,
        "n_generated": len(gen_x),
        "n_training": len(train_x),
        **result,
        "generated_nn_distance_median": float(np.median(gen_distances)),
        "closest_pairs": [{"generated": int(i), "training": int(nearest[i]), "distance": float(gen_distances[i])}
                          for i in order],
    }
    return result


def closest_pairs_grid(result: dict, generated: Frame, training: Frame, path: str | Path | None = None) -> np.ndarray:
    """The closest pairs as one image: generated images on the top row, their nearest training images below.

    Returns the grid (uint8 ``(H, W, C)``) and writes it as a PNG when ``path`` is given.
    """
    from genforge.imaging import make_grid, save_png

    pairs = result.get("closest_pairs") or []
    if not pairs:
        raise DataError("the memorization result lists no closest pairs (top=0).")
    top = np.stack([generated.images[p["generated"]] for p in pairs])
    bottom = np.stack([training.images[p["training"]] for p in pairs])
    grid = make_grid(np.concatenate([top, bottom]), nrow=len(pairs))
    if path is not None:
        save_png(grid, path)
    return grid


def _vectors(data: Frame | Features, space: str, extractor: Any, what: str) -> tuple[np.ndarray, str, str | None]:
    if space == "feature":
        feats = extract(data, extractor, what)
        return np.ascontiguousarray(feats.features, np.float32), feats.source, feats.extractor
    frame = data.frame if isinstance(data, Features) else data
    if frame is None:
        raise DataError(f"pixel-space memorization needs the {what} images, not features alone.")
    check_frame(frame, what)
    pixels = frame.to_numpy((0, 1)).reshape(len(frame), -1)
    return pixels, frame.name or what, None


def nearest_neighbours(queries: np.ndarray, points: np.ndarray, block: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """Euclidean distance to, and index of, each query's nearest point (exact, brute force).

    |q - p|^2 = |q|^2 - 2 q.p + |p|^2 in float32 blocks through one matrix product each: 10,000 x 60,000
    pixel vectors take seconds, where scikit-learn's brute-force search (which upcasts float32 blocks to
    float64 for the same expansion) takes minutes on two cores. Exact zero distances (planted copies) stay
    exact: the squared norms cancel to 0 for identical rows, and negatives from rounding are clipped."""
    q = torch.from_numpy(np.ascontiguousarray(queries, np.float32))
    p = torch.from_numpy(np.ascontiguousarray(points, np.float32))
    p_norms = (p * p).sum(dim=1)
    best = torch.empty(len(q))
    index = torch.empty(len(q), dtype=torch.int64)
    for start in range(0, len(q), block):
        qb = q[start : start + block]
        squared = (qb * qb).sum(dim=1, keepdim=True) - 2.0 * qb @ p.T + p_norms[None, :]
        value, where = squared.min(dim=1)
        same = (qb == p[where]).all(dim=1)  # identical rows: 0 exactly, whatever the rounding said
        best[start : start + block] = torch.where(same, torch.zeros_like(value), value.clamp_min(0).sqrt())
        index[start : start + block] = where
    return best.numpy().astype(np.float64), index.numpy()
